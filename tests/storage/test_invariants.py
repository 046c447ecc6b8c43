"""The database defends its invariants whichever client writes (migrations cc0011, cc0015).

CHECK constraints refuse enum values and JSON shapes the core cannot read, and a status
without the columns the lifecycle sets with it (PostgreSQL, MariaDB); a trigger bumps ``version`` on an UPDATE from another client, so the library's
optimistic concurrency sees it (every SQL backend), without bumping the library's own
updates twice or its counters at all. The migration downgrades cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from campaign_core import Actor, CampaignCore, ConflictError, FakeClock, SequentialIds
from campaign_core_sqlalchemy import SqlAlchemyStore, migrations
from campaign_core_sqlalchemy._schema import automation_to_campaign
from tests.conftest import T0, backend_params, fresh_database_url
from tests.storage.invariants import BEFORE_INVARIANTS

SQL_BACKENDS = ["sqlite", "postgres", "mariadb"]
SERVERS = ["postgres", "mariadb"]


def _store(backend: str, tmp_path: Path) -> SqlAlchemyStore:
    url = (
        f"sqlite:///{tmp_path / 'inv.sqlite3'}"
        if backend == "sqlite"
        else fresh_database_url(backend, "invariants")
    )
    store = SqlAlchemyStore(url)
    store.upgrade()
    return store


@pytest.fixture(params=backend_params(SQL_BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAlchemyStore]:
    sql_store = _store(request.param, tmp_path)
    yield sql_store
    sql_store.close()


@pytest.fixture(params=backend_params(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAlchemyStore]:
    sql_store = _store(request.param, tmp_path)
    yield sql_store
    sql_store.close()


def _ws(store: SqlAlchemyStore) -> Any:
    return CampaignCore(store, clock=FakeClock(T0), ids=SequentialIds()).for_actor(Actor("u1"))


def _campaign(ws: Any) -> str:
    return str(
        ws.campaigns.create_campaign(
            name="C", type="promotion", platforms=["instagram"], content={"title": "Hi"}
        ).id
    )


def _json(store: SqlAlchemyStore, text: str) -> str:
    return f"CAST('{text}' AS jsonb)" if store.dialect == "postgresql" else f"'{text}'"


def _raw(store: SqlAlchemyStore, sql: str, **params: Any) -> None:
    """A write from another client: its own connection and transaction."""
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _version(store: SqlAlchemyStore, cid: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT version FROM campaigns WHERE id = :id"), {"id": cid}
            ).scalar_one()
        )


@pytest.mark.parametrize(
    "assignment",
    [
        "status = 'DRAFT'",
        "type = 'banner'",
        "content = {json:[1]}",
        "goals = {json:null}",
        'content = {json:"text"}',
        # cc0015: what the lifecycle keeps between columns
        "status = 'active'",  # without startedAt
        "status = 'completed'",  # without startedAt or completedAt
        "status = 'scheduled'",  # without scheduledFor
        "status = 'cancelled'",  # without completedAt
    ],
)
def test_the_database_refuses_what_the_core_cannot_read(
    server: SqlAlchemyStore, assignment: str
) -> None:
    cid = _campaign(_ws(server))
    if "{json:" in assignment:
        head, value = assignment.split("{json:")
        assignment = head + _json(server, value.rstrip("}"))
    with pytest.raises(sa.exc.DBAPIError):
        _raw(server, f"UPDATE campaigns SET {assignment} WHERE id = :id", id=cid)
    assert _ws(server).campaigns.get_campaign(cid).status.value == "draft"


def test_a_write_from_another_client_bumps_version_and_a_stale_library_write_conflicts(
    store: SqlAlchemyStore,
) -> None:
    cid = _campaign(_ws(store))
    with store.unit_of_work() as uow:
        read = uow.campaigns.get(cid)
    assert read.version == 1
    _raw(store, "UPDATE campaigns SET name = 'Renamed by the app' WHERE id = :id", id=cid)
    assert _version(store, cid) == 2
    with pytest.raises(ConflictError), store.unit_of_work() as uow:
        uow.campaigns.update(attrs.evolve(read, name="Ours", version=read.version + 1))
    with store.unit_of_work() as uow:
        assert uow.campaigns.get(cid).name == "Renamed by the app"


def test_a_write_that_sets_version_itself_is_not_bumped_again(store: SqlAlchemyStore) -> None:
    cid = _campaign(_ws(store))
    _raw(store, "UPDATE campaigns SET name = 'x', version = version + 1 WHERE id = :id", id=cid)
    assert _version(store, cid) == 2


def test_the_librarys_own_updates_and_counters_are_not_bumped(store: SqlAlchemyStore) -> None:
    ws = _ws(store)
    cid = _campaign(ws)
    updated = ws.campaigns.update_campaign(cid, name="Renamed")
    assert updated.version == 2
    assert _version(store, cid) == 2
    with store.unit_of_work() as uow:
        uow.campaigns.increment(cid, {"spent": 2.5})
    assert _version(store, cid) == 2
    assert ws.campaigns.update_campaign(cid, name="Again").version == 3


def test_the_migration_downgrades_cleanly(store: SqlAlchemyStore) -> None:
    cid = _campaign(_ws(store))
    with store.engine.connect() as conn:
        migrations.downgrade(conn, BEFORE_INVARIANTS)
        conn.commit()
    _raw(store, "UPDATE campaigns SET name = 'n' WHERE id = :id", id=cid)
    assert _version(store, cid) == 1  # no trigger
    if store.dialect != "sqlite":
        _raw(store, "UPDATE campaigns SET status = 'DRAFT' WHERE id = :id", id=cid)  # no CHECK
        _raw(store, "UPDATE campaigns SET status = 'draft' WHERE id = :id", id=cid)
    store.upgrade()
    _raw(store, "UPDATE campaigns SET name = 'm' WHERE id = :id", id=cid)
    assert _version(store, cid) == 2


def _links(store: SqlAlchemyStore) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(automation_to_campaign.c.A, automation_to_campaign.c.B)).all()
    return sorted((a, b) for a, b in rows)


def test_the_seeds_many_to_many_exists_refuses_dangling_links_and_follows_deletes(
    store: SqlAlchemyStore,
) -> None:
    """_AutomationToCampaign as Prisma names it; deleting either side removes the link."""
    ws = _ws(store)
    flows = [
        ws.automations.create_workflow(
            {
                "name": f"W{i}",
                "trigger": {"type": "event", "event": "fan.subscribed"},
                "actions": [{"type": "send_message", "template": "welcome_message"}],
            }
        ).id
        for i in range(2)
    ]
    campaigns = [_campaign(ws), _campaign(ws)]
    q = "`" if store.dialect in ("mysql", "mariadb") else '"'
    insert = f"INSERT INTO {q}_AutomationToCampaign{q} ({q}A{q}, {q}B{q}) VALUES (:a, :b)"
    for a in flows:
        for b in campaigns:
            _raw(store, insert, a=a, b=b)
    with pytest.raises(sa.exc.IntegrityError):
        _raw(store, insert, a=flows[0], b=campaigns[0])  # the unique index
    with pytest.raises(sa.exc.IntegrityError):
        _raw(store, insert, a=flows[0], b="no-such-campaign")
    ws.campaigns.delete_campaign(campaigns[0])
    ws.automations.delete_workflow(flows[0])
    assert _links(store) == [(flows[1], campaigns[1])]
    inspector = sa.inspect(store.engine)
    indexes = {i["name"] for i in inspector.get_indexes("_AutomationToCampaign")}
    assert "_AutomationToCampaign_B_index" in indexes
    # keyed as Prisma 6 and later key it (migration cc0018)
    assert inspector.get_pk_constraint("_AutomationToCampaign")["constrained_columns"] == ["A", "B"]
