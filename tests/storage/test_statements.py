"""What a unit of work sends to the database: statement counts (deterministic), never times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaign_core import CampaignCore, FakeClock
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.testing import make_campaign
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
