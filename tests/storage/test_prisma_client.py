"""A real Prisma client shares the PostgreSQL database with the library (issue 21).

The library creates the database (``store.upgrade()``) and fills it through its services
(the demo's four flows and a workflow that creates a campaign); the app's ``users`` table
and its foreign key from ``campaigns`` are there as Prisma Migrate makes them. Then
``clients/prisma/roundtrip.ts`` runs on a client that ``prisma generate`` made from
``campaign-core prisma schema`` (the ``prisma-client`` generator, @prisma/adapter-pg, no
engine download): it reads every row the library wrote and compares every field with the
library's ``to_json``, writes what a Next.js app writes, and checks that the database
refuses what the library could not read. The library then reads the app's rows back
through its services and runs the app's scheduled campaign through its lifecycle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaign_core import Actor
from campaign_core.cli._demo import DEMO_OWNER, build_context, run_flows
from campaign_core.query import Eq
from campaign_core.serialization import format_datetime, to_json
from campaign_core_sqlalchemy import TABLES, SqlAlchemyStore, prisma_schema
from tests.conftest import REQUIRE_SERVERS, fresh_database_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PRISMA_DIR = ROOT / "clients" / "prisma"
MODEL = re.compile(r"^model (\w+) \{\n.*?@@map\(\"(\w+)\"\)", re.MULTILINE | re.DOTALL)
APP_USER = "app-user-1"


def _tools() -> tuple[Path, Path]:
    """The pinned Prisma CLI and tsx (``npm ci --prefix clients/prisma``), or skip."""
    bins = PRISMA_DIR / "node_modules" / ".bin"
    prisma, tsx = bins / "prisma", bins / "tsx"
    adapter = PRISMA_DIR / "node_modules" / "@prisma" / "adapter-pg"
    if shutil.which("node") is None or not (prisma.exists() and tsx.exists() and adapter.exists()):
        message = "the Prisma round trip needs node and `npm ci --prefix clients/prisma`"
        if REQUIRE_SERVERS:
            pytest.fail(message + "; CAMPAIGN_CORE_REQUIRE_SERVERS=1 forbids skipping")
        pytest.skip(message)
    return prisma, tsx


@pytest.fixture
def database() -> Iterator[tuple[SqlAlchemyStore, str]]:
    """A new database, upgraded by the library, with the app's ``users`` table and its FK."""
    url = fresh_database_url("postgres", "prisma_client")
    store = SqlAlchemyStore(url)
    store.upgrade()
    with store.engine.begin() as conn:
        # what the app's own Prisma migration creates: its users, referenced by campaigns
        conn.exec_driver_sql('CREATE TABLE users (id text PRIMARY KEY, "createdAt" timestamp(3))')
        conn.exec_driver_sql(
            'ALTER TABLE campaigns ADD CONSTRAINT "campaigns_userId_fkey" FOREIGN KEY ("userId")'
            " REFERENCES users(id) ON DELETE RESTRICT ON UPDATE CASCADE"
        )
        conn.execute(sa.text("INSERT INTO users (id) VALUES (:id)"), {"id": DEMO_OWNER})
    yield store, url
    store.close()


def _node_url(url: str) -> str:
    """The libpq URL node-postgres takes for a SQLAlchemy URL."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _delegates() -> dict[str, str]:
    """table -> the Prisma client's delegate for its model (``ABTest`` -> ``aBTest``)."""
    return {table: model[0].lower() + model[1:] for model, table in MODEL.findall(prisma_schema())}


def _generate(prisma: Path, work: Path, database_url: str) -> Path:
    """``prisma generate`` offline into ``work``; the generated client's entry point."""
    (work / "schema.prisma").write_text(prisma_schema(), encoding="utf-8")
    (work / "prisma.config.ts").write_text(
        'export default { schema: "schema.prisma", datasource: { url: process.env.DATABASE_URL } };\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        # the engine download site is unreachable: any existing file stops the download
        "PRISMA_SCHEMA_ENGINE_BINARY": str(work / "schema.prisma"),
        "CHECKPOINT_DISABLE": "1",
        "DATABASE_URL": database_url,
    }
    result = subprocess.run(
        [str(prisma), "generate", "--schema", "schema.prisma"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return work / "generated" / "prisma" / "client.ts"


def _populate(store: SqlAlchemyStore, url: str) -> tuple[Any, str]:
    """The demo's flows and a workflow whose step creates a campaign; (context, workflow id)."""
    ctx = build_context(store, url)
    outcomes = run_flows(ctx)
    assert [o.status for o in outcomes] == ["ok"] * len(outcomes), [o.message for o in outcomes]
    flow = ctx.ws.automations.create_workflow(
        {
            "name": "Win back with an offer",
            "trigger": {"type": "event", "event": "fan.lapsed"},
            "actions": [{"type": "create_campaign", "template": "win_back_offer", "discount": 0.2}],
        },
        activate=True,
    )
    ctx.ws.fans.upsert_fan("fan-lapsed")
    ctx.ws.fans.record_event("fan-lapsed", "fan.lapsed")
    assert ctx.core.tick().automation_runs_finished == 1
    return ctx, flow.id


def _expected(store: SqlAlchemyStore) -> dict[str, Any]:
    """Every row of every table as the library's to_json, keyed by id; and the links."""
    delegates = _delegates()
    tables: dict[str, Any] = {}
    with store.unit_of_work() as uow:
        for name, table in TABLES.items():
            rows = {r.id: to_json(r) for r in uow.repository(name).iter_all()}
            tables[table.name] = {"delegate": delegates[table.name], "rows": rows}
        links = [list(pair) for pair in uow.automation_campaigns.find()]
    return {"tables": tables, "links": links}


def test_a_prisma_client_reads_writes_and_is_refused_like_a_nextjs_app(
    database: tuple[SqlAlchemyStore, str],
) -> None:
    """Prisma reads every field the library wrote; the library reads what Prisma wrote."""
    prisma, tsx = _tools()
    store, url = database
    ctx, workflow = _populate(store, url)
    expected = _expected(store)
    assert expected["links"], "the create_campaign step linked its campaign"
    assert sum(len(t["rows"]) for t in expected["tables"].values()) > 1000
    app_campaign = f"app-{uuid.uuid4().hex[:8]}"
    scheduled_for = ctx.clock.now() + timedelta(days=1)
    expected["app"] = {
        "user": APP_USER,
        "campaign": app_campaign,
        "workflow": workflow,
        "scheduledFor": format_datetime(scheduled_for),
    }
    work = PRISMA_DIR / ".generated" / uuid.uuid4().hex
    work.mkdir(parents=True)
    try:
        node_url = _node_url(url)
        client = _generate(prisma, work, node_url)
        (work / "expected.json").write_text(json.dumps(expected), encoding="utf-8")
        result = subprocess.run(
            [str(tsx), str(PRISMA_DIR / "roundtrip.ts")],
            cwd=PRISMA_DIR,
            env={
                **os.environ,
                "DATABASE_URL": node_url,
                "CLIENT": str(client),
                "EXPECTED": str(work / "expected.json"),
                "OUT": str(work / "out.json"),
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = json.loads((work / "out.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert out["read"] == {t: len(v["rows"]) for t, v in expected["tables"].items()}
    assert len(out["refusals"]) == 9, out["refusals"]

    # the library reads the app's rows back through its services
    app = ctx.core.for_actor(Actor(APP_USER))
    campaign = app.campaigns.get_campaign(app_campaign)
    assert (campaign.name, campaign.status, campaign.version) == (
        "Renamed by the app",
        "scheduled",
        out["version"],
    )
    assert campaign.content == {"title": "Hello from Next.js", "description": "20% off"}
    assert campaign.scheduled_for == scheduled_for
    page = app.campaigns.list_campaigns()
    assert ([c.id for c in page.items], page.problems) == ([app_campaign], ())
    with store.unit_of_work() as uow:
        assert uow.automation_campaigns.find(b=app_campaign) == [(workflow, app_campaign)]
    # and its lifecycle runs the campaign the app scheduled: started, with its publish job
    ctx.clock.advance("1 day")
    ctx.core.tick()
    launched = app.campaigns.get_campaign(app_campaign)
    assert launched.status == "active"
    assert launched.started_at == ctx.clock.now()
    with store.unit_of_work() as uow:
        assert uow.publish_jobs.count(Eq("campaign_id", app_campaign)) == 1
