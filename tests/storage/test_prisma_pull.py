"""Prisma Migrate and ``prisma db pull`` on the library's PostgreSQL database, both orders.

``prisma db pull`` of a database the library migrated agrees with ``campaign-core prisma
schema``; a database Prisma Migrate created first from the seed's models is adopted by
``store.upgrade()``.

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

from campaign_core import Actor, CampaignCore, ConflictError, FakeClock, SequentialIds
from campaign_core_sqlalchemy import SqlAlchemyStore, migrations, prisma_schema
from tests.conftest import REQUIRE_SERVERS, T0, fresh_database_url
from tests.storage.test_prisma_compat import SEED_PRISMA

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


def _prisma6(*args: str, database_url: str) -> str:
    """Run Prisma 6.19's CLI with the JavaScript schema engine (clients/prisma6); its stdout."""
    prisma = PULL_DIR / "node_modules" / ".bin" / "prisma"
    if shutil.which("node") is None or not prisma.exists():
        message = "prisma db pull needs node and `npm ci --prefix clients/prisma6`"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
    schema = PULL_DIR / "pull.prisma"
    result = subprocess.run(
        [str(prisma), *args, "--config", "pull.config.ts"],
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


def _node_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_prisma_db_pull_of_a_migrated_database_agrees_with_the_generated_schema() -> None:
    """Every table, column, type, default, index name and the many-to-many, both ways."""
    url = fresh_database_url("postgres", "prisma_pull")
    store = SqlAlchemyStore(url)
    store.upgrade()
    store.close()
    pulled = _parse(
        _prisma6("db", "pull", "--print", "--schema", "pull.prisma", database_url=_node_url(url))
    )
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


# The seed's models as a Next.js app's schema.prisma has them, with its User model.
APP_SCHEMA = (
    """
generator client {
  provider = "prisma-client-js"
}

datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model User {
  id          String       @id @default(cuid())
  email       String       @unique
  campaigns   Campaign[]
  abTests     ABTest[]
  automations Automation[]
  segments    Segment[]

  @@map("users")
}
"""
    + SEED_PRISMA
)


def test_a_database_prisma_migrate_made_first_is_adopted(tmp_path: Path) -> None:
    """Prisma Migrate's DDL for the seed (users, its foreign keys, the join table): upgrade() adopts it."""
    url = fresh_database_url("postgres", "prisma_migrate_first")
    schema = tmp_path / "schema.prisma"
    schema.write_text(APP_SCHEMA, encoding="utf-8")
    # what `prisma migrate dev` applies to an empty database, from `prisma migrate diff`
    ddl = _prisma6(
        "migrate",
        "diff",
        "--from-empty",
        "--to-schema-datamodel",
        str(schema),
        "--script",
        database_url=_node_url(url),
    )
    assert 'CREATE TABLE "_AutomationToCampaign"' in ddl
    assert 'ADD CONSTRAINT "campaigns_userId_fkey"' in ddl
    store = SqlAlchemyStore(url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(ddl)
            conn.exec_driver_sql("INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')")
        store.upgrade()
        with store.engine.connect() as conn:
            # what differs: only Prisma's foreign keys (kept); the join table is keyed alike
            kinds = {d[0] for d in migrations.drift(conn)}
        assert kinds == {"remove_fk"}
        core = CampaignCore(store, clock=FakeClock(T0), ids=SequentialIds())
        ws = core.for_actor(Actor("u1"))
        flow = ws.automations.create_workflow(
            {
                "name": "Offer",
                "trigger": {"type": "event", "event": "go"},
                "actions": [{"type": "create_campaign", "template": "win_back_offer"}],
            },
            activate=True,
        )
        ws.fans.upsert_fan("fan-1")
        ws.fans.record_event("fan-1", "go")
        assert core.tick().automation_runs_finished == 1
        [made] = ws.campaigns.list_campaigns().items
        with store.unit_of_work() as uow:
            assert uow.automation_campaigns.find() == [(flow.id, made.id)]
        # Prisma's foreign key to the app's users: an owner the app does not know is refused
        with pytest.raises(ConflictError) as refused:
            core.for_actor(Actor("not-a-user")).campaigns.create_campaign(
                name="C", type="promotion", platforms=["instagram"], content={"title": "Hi"}
            )
        assert refused.value.details["reason"] == "constraint"
    finally:
        store.close()
