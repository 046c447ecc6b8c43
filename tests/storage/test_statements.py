"""What a unit of work sends to the database: statement counts (deterministic), never times."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from campaign_core import CampaignCore, FakeClock
from campaign_core.jobs.launches import launch_due_campaigns
from campaign_core.jobs.publishing import process_due_publish_jobs
from campaign_core.models import CampaignStatus
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.query import Eq
from campaign_core.testing.helpers import make_campaign
from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.conftest import backend_params, make_store


@contextmanager
def statements(store: SqlAlchemyStore) -> Iterator[list[str]]:
    """The SQL statements the store's engine sends inside the block (first word upper-cased)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.strip())

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def _file_store(tmp_path: Path) -> SqlAlchemyStore:
    return SqlAlchemyStore(f"sqlite:///{tmp_path / 'cc.sqlite3'}", create=True)


def test_an_unused_unit_of_work_sends_nothing(tmp_path: Path) -> None:
    """Opening and committing a unit of work that does nothing sends no statement (no BEGIN)."""
    store = _file_store(tmp_path)
    with statements(store) as seen, store.unit_of_work() as uow:
        uow.commit()
    assert seen == []
    store.close()


def test_commit_does_not_begin_the_next_transaction(tmp_path: Path) -> None:
    """After commit, the next transaction begins only with the next statement."""
    store = _file_store(tmp_path)
    with statements(store) as seen, store.unit_of_work() as uow:
        uow.campaigns.add(make_campaign(id="c1"))
        uow.commit()
    assert [s.split()[0] for s in seen] == ["BEGIN", "INSERT"]
    assert seen[0] == "BEGIN IMMEDIATE"
    store.close()


def test_a_read_only_unit_of_work_takes_no_write_lock(tmp_path: Path) -> None:
    """A read-only unit of work on SQLite begins with a plain BEGIN, not BEGIN IMMEDIATE."""
    store = _file_store(tmp_path)
    with statements(store) as seen, store.read_only_unit_of_work() as uow:
        assert uow.campaigns.get("missing") is None
    assert "BEGIN IMMEDIATE" not in seen
    assert seen[0] == "BEGIN"
    store.close()


def test_get_campaign_takes_no_write_lock(tmp_path: Path) -> None:
    """`ws.campaigns.get_campaign` on SQLite issues no BEGIN IMMEDIATE and only its one SELECT."""
    store = _file_store(tmp_path)
    ws = CampaignCore(store, clock=FakeClock()).for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring sale", type="promotion")
    with statements(store) as seen:
        assert ws.campaigns.get_campaign(campaign.id).id == campaign.id
    assert seen[0] == "BEGIN"
    assert [s.split()[0] for s in seen[1:]] == ["SELECT"]
    store.close()


def test_create_campaign_statement_count(tmp_path: Path) -> None:
    """`ws.campaigns.create_campaign` without segments: one write transaction, the campaign and its audit row."""
    store = _file_store(tmp_path)
    ws = CampaignCore(store, clock=FakeClock()).for_actor(Actor("creator-1"))
    ws.campaigns.create_campaign(name="warm-up", type="promotion")
    with statements(store) as seen:
        ws.campaigns.create_campaign(name="Spring sale", type="promotion")
    kinds = [s.split()[0] for s in seen]
    assert kinds.count("BEGIN") == 1
    assert seen[0] == "BEGIN IMMEDIATE"
    inserts = [s for s in seen if s.startswith("INSERT")]
    assert len(inserts) == 2, seen
    assert len(seen) == CREATE_CAMPAIGN_STATEMENTS, seen
    store.close()


#: BEGIN IMMEDIATE, the campaign's INSERT and its audit INSERT (no segment lookup without segments).
CREATE_CAMPAIGN_STATEMENTS = 3


@pytest.mark.parametrize("backend", backend_params(["memory", "sqlite"]))
def test_a_read_only_unit_of_work_refuses_writes(backend: str) -> None:
    """Every store's read-only unit of work raises on a write and leaves the data unchanged."""
    store: Store = make_store(backend)
    with store.read_only_unit_of_work() as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.campaigns.add(make_campaign(id="c1"))
    with store.unit_of_work() as uow:
        assert uow.campaigns.get("c1") is None
    store.close()


@pytest.mark.parametrize("backend", backend_params(["memory", "sqlite"]))
def test_repositories_are_built_on_first_use(backend: str) -> None:
    """A unit of work builds a repository only when it is first used."""
    store = make_store(backend)
    with store.unit_of_work() as uow:
        assert "campaigns" not in vars(uow)
        repository = uow.campaigns
        assert vars(uow)["campaigns"] is repository
        assert uow.repository("fans") is uow.fans
    store.close()


@pytest.mark.postgres
def test_postgres_single_insert_needs_no_savepoint() -> None:
    """On PostgreSQL one add sends one INSERT (no SAVEPOINT); a duplicate is a ConflictError and the unit of work goes on."""
    from campaign_core.errors import ConflictError

    store = make_store("postgres")
    assert isinstance(store, SqlAlchemyStore)
    with statements(store) as seen, store.unit_of_work() as uow:
        uow.campaigns.add(make_campaign(id="c1"))
        with pytest.raises(ConflictError) as error:
            uow.campaigns.add(make_campaign(id="c1"))
        assert error.value.details["reason"] == "exists"
        uow.campaigns.add(make_campaign(id="c2"))
        uow.commit()
    assert not [s for s in seen if "SAVEPOINT" in s.upper()]
    with store.unit_of_work() as uow:
        assert sorted(c.id for c in uow.campaigns.find()) == ["c1", "c2"]
    store.close()


@pytest.mark.postgres
def test_postgres_update_keeping_unique_keys_needs_no_savepoint() -> None:
    """On PostgreSQL an update of a fan read in the unit of work, its unique key unchanged, sends no SAVEPOINT; a changed key still gets one and a clash is a ConflictError."""
    from campaign_core.errors import ConflictError
    from campaign_core.models import Fan

    store = make_store("postgres")
    assert isinstance(store, SqlAlchemyStore)
    now = FakeClock().now()
    with store.unit_of_work() as uow:
        for key in ("f1", "f2"):
            uow.fans.add(Fan(id=key, owner_id="o", fan_id=key, created_at=now, updated_at=now))
        uow.commit()
    with statements(store) as seen, store.unit_of_work() as uow:
        fan = uow.fans.get("f1")
        assert fan is not None
        uow.fans.update(attrs.evolve(fan, engagement=5.0, version=fan.version + 1))
        uow.commit()
    assert not [s for s in seen if "SAVEPOINT" in s.upper()]
    with statements(store) as seen, store.unit_of_work() as uow:
        fan = uow.fans.get("f1")
        assert fan is not None
        with pytest.raises(ConflictError):
            uow.fans.update(attrs.evolve(fan, fan_id="f2", version=fan.version + 1))
        assert uow.fans.get("f2") is not None  # the unit of work goes on
    assert [s for s in seen if "SAVEPOINT" in s.upper()]
    store.close()


# -- tick(): launching due campaigns and their first publish --------------------------------------
#: launch_due_campaigns, for 2 or more due campaigns (one platform each), on SQLite: BEGIN IMMEDIATE,
#: the due campaigns, which of them have a broadcast (one query), the jobs already queued under
#: their keys, then three batches (the campaigns, their publish jobs, their audit records), each an
#: executemany inside SAVEPOINT/RELEASE.
LAUNCH_STATEMENTS = 13
#: process_due_publish_jobs for those jobs: BEGIN IMMEDIATE, the claim (SELECT, one UPDATE), the
#: jobs' campaigns and credentials (one SELECT each); the publisher is called; then BEGIN IMMEDIATE
#: and the outcomes in one batch (SAVEPOINT, one executemany UPDATE, RELEASE).
PUBLISH_STATEMENTS = 9


def _due_campaigns(tmp_path: Path, count: int) -> tuple[SqlAlchemyStore, CampaignCore]:
    store = _file_store(tmp_path)
    clock = FakeClock()
    core = CampaignCore(store, clock=clock)
    ws = core.for_actor(Actor("creator-1"))
    at = clock.now() + timedelta(hours=1)
    for n in range(count):
        ws.campaigns.create_campaign(
            name=f"Sale {n}",
            type="promotion",
            platforms=["reddit"],
            content={"title": "Spring", "description": "20% off"},
            scheduled_for=at,
        )
    clock.set(at + timedelta(minutes=1))
    return store, core


@pytest.mark.parametrize("count", [2, 25])
def test_launching_due_campaigns_and_their_first_publish_is_a_bounded_number_of_statements(
    tmp_path: Path, count: int
) -> None:
    """The launches and first publish of N due campaigns send the same statements for any N >= 2.

    One transaction for the launches, one for the claim and one for the outcomes:
    no statement, and no BEGIN, per campaign (see docs/explanation/architecture.md).
    """
    store, core = _due_campaigns(tmp_path, count)
    rt = core.runtime
    with statements(store) as launching:
        run = launch_due_campaigns(rt, 100)
    assert len(run.launched) == count
    assert run.errors == ()
    with statements(store) as publishing:
        published = process_due_publish_jobs(rt, 100)
    assert [job.status.value for job in published.jobs] == ["published"] * count
    assert len(launching) == LAUNCH_STATEMENTS, launching
    assert len(publishing) == PUBLISH_STATEMENTS, publishing
    assert launching.count("BEGIN IMMEDIATE") == 1
    assert publishing.count("BEGIN IMMEDIATE") == 2
    with store.unit_of_work() as uow:  # every launch audited, every job recorded
        assert uow.audit_records.count(Eq("action", "tick.scheduled_launch")) == count
        assert uow.publish_jobs.count(Eq("status", "published")) == count
    store.close()


def test_a_tick_sends_as_many_statements_for_25_launches_as_for_2(tmp_path: Path) -> None:
    """The whole tick(): no statement grows with the number of campaigns it launches."""
    counts = []
    for count in (2, 25):
        (tmp_path / str(count)).mkdir()
        store, core = _due_campaigns(tmp_path / str(count), count)
        with statements(store) as seen:
            report = core.tick()
        assert len(report.campaigns_launched) == count
        assert report.publish_attempts == count
        counts.append(len(seen))
        store.close()
    assert counts[0] == counts[1], counts


#: what one call of each per-request path sends on SQLite, once warm: the first word and table
#: of each statement (bench_requests.py times them against the raw driver)
REQUEST_STATEMENTS: dict[str, list[str]] = {
    "create_campaign": ["BEGIN IMMEDIATE", "INSERT campaigns", "INSERT audit_records"],
    "get_campaign": ["BEGIN", "SELECT campaigns"],
    "update_campaign": [
        "BEGIN IMMEDIATE",
        "SELECT campaigns",
        "UPDATE campaigns",
        "INSERT audit_records",
    ],
    "track_impression": [
        "BEGIN IMMEDIATE",
        "SELECT campaigns",
        "INSERT tracking_events",
        "SELECT campaign_analytics_state",
    ],
    "track_click": [
        "BEGIN IMMEDIATE",
        "SELECT campaigns",
        "INSERT tracking_events",
        "SELECT campaign_analytics_state",
    ],
    "track_conversion": [
        "BEGIN IMMEDIATE",
        "SELECT campaigns",
        "SELECT tracking_events",  # the fan's last click, for attribution
        "INSERT tracking_events",
        "INSERT campaign_conversions",
        "SELECT campaign_analytics_state",
    ],
    "record_event": [
        "BEGIN IMMEDIATE",
        "SELECT fans",
        "INSERT fan_events",
        "UPDATE fans",  # last_activity_at moves (the fan read once, not again)
        "SELECT automations",  # event triggers of active workflows
    ],
    "upsert_fan": ["BEGIN IMMEDIATE", "SELECT fans", "UPDATE fans", "INSERT audit_records"],
}


def _kind(statement: str) -> str:
    if statement.startswith("BEGIN"):
        return statement
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)', statement)
    return f"{statement.split()[0]} {table.group(1) if table else '?'}"


@pytest.mark.parametrize("path", sorted(REQUEST_STATEMENTS))
def test_per_request_path_statements(tmp_path: Path, path: str) -> None:
    """Each per-request service call sends exactly its listed statements, in one transaction."""
    store = _file_store(tmp_path)
    clock = FakeClock()
    core = CampaignCore(store, clock=clock)
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(
        name="Spring", type="promotion", platforms=["instagram"]
    )
    live = ws.campaigns.create_campaign(name="Live", type="promotion", platforms=["instagram"])
    with store.unit_of_work() as uow:  # launched (tracking needs it), without publishing
        started = attrs.evolve(
            live, status=CampaignStatus.ACTIVE, started_at=clock.now(), version=live.version + 1
        )
        uow.campaigns.update(started)
        uow.commit()
    ws.fans.upsert_fan("fan-1")
    names = itertools.count()
    calls: dict[str, Callable[[], object]] = {
        "create_campaign": lambda: ws.campaigns.create_campaign(name="Sale", type="promotion"),
        "get_campaign": lambda: ws.campaigns.get_campaign(campaign.id),
        "update_campaign": lambda: ws.campaigns.update_campaign(
            campaign.id, name=f"n{next(names)}"
        ),
        "track_impression": lambda: ws.analytics.track_impression(live.id, "fan-1"),
        "track_click": lambda: ws.analytics.track_click(live.id, "fan-1"),
        "track_conversion": lambda: ws.analytics.track_conversion(live.id, "fan-1", 9.5),
        "record_event": lambda: ws.fans.record_event("fan-1", "purchase"),
        "upsert_fan": lambda: ws.fans.upsert_fan("fan-1", engagement=next(names)),
    }
    calls[path]()  # warm: the first tracking call also creates the campaign's analytics row
    clock.advance(timedelta(seconds=1))
    with statements(store) as seen:
        calls[path]()
    assert [_kind(s) for s in seen] == REQUEST_STATEMENTS[path]
    store.close()
