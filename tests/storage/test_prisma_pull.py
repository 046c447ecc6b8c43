"""``prisma db pull`` of a database the library migrated agrees with ``campaign-core prisma schema``.

Prisma 7's ``db pull`` needs the Rust schema engine, which cannot be downloaded here;
Prisma 6.19 runs its JavaScript schema engine through @prisma/adapter-pg
(``clients/prisma6``: ``engine: "js"``, the experimental adapter, and catalog types
``name``/``"char"`` read as text, see ``pull.config.ts``). What the database holds is
compared model by model, keyed by table: every column's Prisma type, ``@id``,
``@default`` and native type, every index and unique key with its database name, and the
implicit many-to-many. What only Prisma knows is left out: ``@updatedAt`` (set by the
client), the relation fields ``relationMode = "prisma"`` resolves without foreign keys,
the app's ``users`` table (``User``), and the migration record table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaign_core_sqlalchemy import SqlAlchemyStore, prisma_schema
from tests.conftest import REQUIRE_SERVERS, fresh_database_url

pytestmark = pytest.mark.postgres

PULL_DIR = Path(__file__).resolve().parents[2] / "clients" / "prisma6"
MODEL = re.compile(r"^model (\w+) \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
SCALARS = frozenset(
    {"String", "Int", "BigInt", "Float", "Decimal", "Boolean", "DateTime", "Json", "Bytes"}
)
ATTRIBUTE = re.compile(r"@[\w.]+(?:\((?:[^()]|\([^()]*\))*\))?")
BLOCK = re.compile(r"@@(index|unique)\(\[([^\]]*)\](?:, map: \"([^\"]+)\")?\)")
FIELD_UNIQUE = re.compile(r"@unique(?:\(map: \"([^\"]+)\"\))?")
# what the database cannot tell: the client's @updatedAt, and the app's own table
CLIENT_ONLY = ("@updatedAt",)
NOT_IN_THE_DATABASE = frozenset({"users", "campaign_core_alembic_version"})


def _parse(text: str) -> dict[str, dict[str, Any]]:
    """table -> {"fields": name -> (type, attributes), "indexes": {...}, "lists": {...}}."""
    bodies = dict(MODEL.findall(text))
    tables = {}
    for name, body in bodies.items():
        mapped = re.search(r'@@map\("([^"]+)"\)', body)
        tables[name] = mapped.group(1) if mapped else name
    out: dict[str, dict[str, Any]] = {}
    for name, body in bodies.items():
        table = tables[name]
        fields: dict[str, tuple[str, frozenset[str]]] = {}
        indexes: set[tuple[str, tuple[str, ...], str]] = set()
        lists: set[tuple[str, str]] = set()
        for line in body.splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            block = BLOCK.match(line)
            if block:
                kind, columns, given = block.groups()
                cols = tuple(c.strip() for c in columns.split(","))
                suffix = "idx" if kind == "index" else "key"
                indexes.add((kind, cols, given or f"{table}_{'_'.join(cols)}_{suffix}"))
                continue
            if line.startswith("@@"):
                continue
            field, kind = line.split()[:2]
            base = kind.rstrip("?[]")
            if base not in SCALARS:
                if kind.endswith("[]") and base in tables:
                    lists.add((field, tables[base]))
                continue
            unique = FIELD_UNIQUE.search(line)
            if unique:
                indexes.add(("unique", (field,), unique.group(1) or f"{table}_{field}_key"))
            attributes = frozenset(
                a
                for a in ATTRIBUTE.findall(line[len(field) :].replace(kind, "", 1))
                if not a.startswith(("@unique", "@relation", *CLIENT_ONLY))
            )
            fields[field] = (kind, attributes)
        out[table] = {"fields": fields, "indexes": indexes, "lists": lists}
    return out


def _many_to_many(models: dict[str, dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """table -> its list relations whose other side is a list too (an implicit many-to-many)."""
    return {
        table: {
            (field, other)
            for field, other in model["lists"]
            if any(target == table for _, target in models[other]["lists"])
        }
        for table, model in models.items()
    }


def _pull(database_url: str) -> str:
    prisma = PULL_DIR / "node_modules" / ".bin" / "prisma"
    if shutil.which("node") is None or not prisma.exists():
        message = "prisma db pull needs node and `npm ci --prefix clients/prisma6`"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
    schema = PULL_DIR / "pull.prisma"
    result = subprocess.run(
        [
            str(prisma),
            "db",
            "pull",
            "--print",
            "--config",
            "pull.config.ts",
            "--schema",
            "pull.prisma",
        ],
        cwd=PULL_DIR,
        env={
            **os.environ,
            # no engine download (the site is unreachable): any existing file will do
            "PRISMA_SCHEMA_ENGINE_BINARY": str(schema),
            "PRISMA_QUERY_ENGINE_LIBRARY": str(schema),
            "CHECKPOINT_DISABLE": "1",
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_prisma_db_pull_of_a_migrated_database_agrees_with_the_generated_schema() -> None:
    """Every table, column, type, default, index name and the many-to-many, both ways."""
    url = fresh_database_url("postgres", "prisma_pull")
    store = SqlAlchemyStore(url)
    store.upgrade()
    store.close()
    node_url = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pulled = _parse(_pull(node_url))
    generated = _parse(prisma_schema())
    assert "_AutomationToCampaign" not in pulled  # an implicit many-to-many, not a model
    assert set(pulled) - NOT_IN_THE_DATABASE == set(generated) - NOT_IN_THE_DATABASE
    pulled_links, generated_links = _many_to_many(pulled), _many_to_many(generated)
    assert pulled_links["campaigns"] == {("automations", "automations")}
    for table in sorted(set(generated) - NOT_IN_THE_DATABASE):
        want, got = generated[table], pulled[table]
        assert got["fields"] == want["fields"], table
        assert got["indexes"] == want["indexes"], table
        assert pulled_links[table] == generated_links[table], table
