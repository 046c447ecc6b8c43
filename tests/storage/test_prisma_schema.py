"""``campaign-core prisma schema``: a schema.prisma for every table, checked against the metadata.

Every table is a model mapped to it (the implicit many-to-many is a relation), every
column a field whose Prisma type is the one Prisma maps the column's PostgreSQL type to;
the seed's models keep the seed's names, fields and relations. With node and the pinned
Prisma CLI installed (``clients/prisma``), ``prisma validate`` accepts it offline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql

from campaign_core_sqlalchemy import metadata, prisma_schema
from tests.conftest import REQUIRE_SERVERS
from tests.storage.test_prisma_compat import SEED, SEED_PRISMA

ROOT = Path(__file__).resolve().parents[2]
PRISMA_DIR = ROOT / "clients" / "prisma"

# Prisma's PostgreSQL type for each native type (Prisma's documented default mapping)
PG_TO_PRISMA = {
    "TEXT": "String",
    "VARCHAR": "String",  # Prisma: String @db.VarChar
    "JSONB": "Json",
    "JSONB[]": "Json[]",
    "TEXT[]": "String[]",
    "TIMESTAMP(3) WITHOUT TIME ZONE": "DateTime",
    "DOUBLE PRECISION": "Float",
    "FLOAT": "Float",  # float8 on PostgreSQL
    "INTEGER": "Int",
    "BIGINT": "BigInt",
    "BOOLEAN": "Boolean",
}

MODEL = re.compile(r"^model (\w+) \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)


def _models(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """model -> (its @@map table, field -> type as written)."""
    out = {}
    for name, body in MODEL.findall(text):
        fields: dict[str, str] = {}
        table = name
        for line in body.splitlines():
            line = line.strip()
            if line.startswith('@@map("'):
                table = line[len('@@map("') : -2]
            elif line and not line.startswith(("@@", "//")):
                field, kind = line.split()[:2]
                fields[field] = kind
        out[name] = (table, fields)
    return out


def test_every_table_and_column_is_in_the_schema_with_a_compatible_type() -> None:
    models = dict(_models(prisma_schema()).values())
    pg = postgresql.dialect()
    for table in metadata.sorted_tables:
        if table.name == "_AutomationToCampaign":
            continue
        assert table.name in models, table.name
        fields = models[table.name]
        for column in table.columns:
            assert column.name in fields, f"{table.name}.{column.name}"
            native = column.type.dialect_impl(pg).compile(dialect=pg).upper()
            expected = PG_TO_PRISMA[native]
            optional = column.nullable and not expected.endswith("[]") and not column.primary_key
            assert fields[column.name] == expected + ("?" if optional else ""), (
                f"{table.name}.{column.name}: {native}"
            )
        extra = {f for f, kind in fields.items() if kind.rstrip("?[]") not in PG_TO_PRISMA.values()}
        assert set(fields) - extra == {c.name for c in table.columns}


def test_the_seeds_models_keep_their_names_fields_and_relations() -> None:
    models = _models(prisma_schema())
    seed = _models(SEED_PRISMA)
    assert len(SEED) == 10
    for name, (table, fields) in seed.items():
        got_table, got = models[name]
        assert got_table == table
        for field, kind in fields.items():
            assert got.get(field) == kind, f"{name}.{field}"
    # the implicit many-to-many, both sides, and the User model every relation needs
    assert models["Campaign"][1]["automations"] == "Automation[]"
    assert models["Automation"][1]["campaigns"] == "Campaign[]"
    assert models["User"][0] == "users"
    assert 'relationMode = "prisma"' in prisma_schema()


def test_the_cli_prints_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from campaign_core.cli import app

    result = CliRunner().invoke(app, ["prisma", "schema"])
    assert result.exit_code == 0, result.output
    assert result.stdout == prisma_schema()
    out = tmp_path / "schema.prisma"
    assert CliRunner().invoke(app, ["prisma", "schema", "-o", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == prisma_schema()


def test_prisma_validate_accepts_it(tmp_path: Path) -> None:
    """The real Prisma CLI (clients/prisma, npm ci) validates and formats it, offline."""
    prisma = PRISMA_DIR / "node_modules" / ".bin" / "prisma"
    if shutil.which("node") is None or not prisma.exists():
        message = "prisma validate needs node and `npm ci` in clients/prisma"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
    schema = tmp_path / "schema.prisma"
    schema.write_text(prisma_schema(), encoding="utf-8")
    env = {
        **os.environ,
        # the engine download site is unreachable: any existing file stops the download
        "PRISMA_SCHEMA_ENGINE_BINARY": str(schema),
        "CHECKPOINT_DISABLE": "1",
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
    }
    config = tmp_path / "prisma.config.ts"
    config.write_text(
        'export default { schema: "schema.prisma",'
        ' datasource: { url: "postgresql://u@127.0.0.1:5432/db" } };\n',
        encoding="utf-8",
    )
    for command in ("validate", "format"):
        result = subprocess.run(
            [str(prisma), command, "--schema", str(schema)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
