"""Several `campaign-core worker` processes on one PostgreSQL database: each item done once."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_core import Actor, CampaignCore, FakeClock
from tests.cli.conftest import module_command, subprocess_env
from tests.conftest import make_store, server_url

pytestmark = pytest.mark.postgres

WORKERS = 3
CAMPAIGNS = 24

FACTORY = """
import os
import pathlib
import time

from campaign_core import CampaignCore, Settings
from campaign_core_sqlalchemy import SqlAlchemyStore

def build_core():
    # Start together (the test says "go" once every worker is up), with a small
    # batch so that the work is spread over many ticks and workers.
    pathlib.Path(f"ready-{{os.getpid()}}").touch()
    deadline = time.monotonic() + 60
    while not pathlib.Path("go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return CampaignCore(SqlAlchemyStore({url!r}), settings=Settings(tick_batch_size=3))
"""


def test_concurrent_workers_launch_and_publish_each_item_once(tmp_path: Path) -> None:
    """Three worker processes share the due work: every campaign launched once, every job tried once."""
    store = make_store("postgres")
    url = server_url("postgres")
    past = datetime.now(UTC) - timedelta(days=1)
    core = CampaignCore(store, clock=FakeClock(past))
    ws = core.for_actor(Actor("creator-pg"))
    expected_jobs = 0
    ids = set()
    for n in range(CAMPAIGNS):
        campaign = ws.campaigns.create_from_template(
            "tpl_general_flash_sale",
            {"name": f"Sale {n}", "mediaUrls": ["https://cdn.example.com/s.jpg"]},
        )
        ws.campaigns.schedule_campaign(campaign.id, past + timedelta(minutes=5 + n))
        ids.add(campaign.id)
        expected_jobs += len(campaign.platforms)
    core.close()

    (tmp_path / "pg_host_factory.py").write_text(textwrap.dedent(FACTORY.format(url=url)))
    args = ("--core", "pg_host_factory:build_core", "--json", "worker", "--interval", "0.02")
    processes = [
        subprocess.Popen(
            module_command(*args, "--max-ticks", "40"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
            cwd=tmp_path,
        )
        for _ in range(WORKERS)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.02)
    (tmp_path / "go").touch()
    launched: list[str] = []
    busy_workers = 0
    attempts = 0
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        mine = 0
        for line in out.splitlines():
            body = json.loads(line)
            if body.get("report"):
                launched.extend(body["report"]["campaignsLaunched"])
                mine += len(body["report"]["campaignsLaunched"]) + body["report"]["publishAttempts"]
                attempts += body["report"]["publishAttempts"]
                assert body["report"]["errors"] == []
        busy_workers += mine > 0
    assert sorted(launched) == sorted(ids), "each campaign launched by exactly one worker"
    assert attempts == expected_jobs, "each publish job attempted exactly once"
    assert busy_workers >= 2, "the work was shared"

    check = CampaignCore(make_store_for(url))
    ws = check.for_actor(Actor("creator-pg"))
    for campaign_id in ids:
        statuses = ws.campaigns.get_publish_status(campaign_id)
        assert {(s.status, s.attempts) for s in statuses} == {("published", 1)}
    check.close()


def make_store_for(url: str):
    from campaign_core_sqlalchemy import SqlAlchemyStore

    return SqlAlchemyStore(url)
