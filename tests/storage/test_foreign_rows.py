"""Rows written by another client (a Prisma app, raw SQL) that the library cannot decode.

Reading one record raises CorruptRecordError naming the table, the id and the
field; a listing skips such rows, reports them on the page and hides none of the
others. The rows are written with raw SQL on a database whose constraints were
taken away, as a database migrated before the constraints existed would hold them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds
from campaign_core.errors import CorruptRecordError
from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.conftest import T0, backend_params, fresh_database_url
from tests.storage.invariants import without_invariants

SQL_BACKENDS = ["sqlite", "postgres", "mariadb"]


@pytest.fixture(params=backend_params(SQL_BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAlchemyStore]:
    backend = request.param
    url = (
        f"sqlite:///{tmp_path / 'foreign.sqlite3'}"
        if backend == "sqlite"
        else fresh_database_url(backend, "foreign")
    )
    sql_store = SqlAlchemyStore(url)
    without_invariants(sql_store)
    yield sql_store
    sql_store.close()


def _json(store: SqlAlchemyStore, text: str) -> str:
    return f"CAST('{text}' AS jsonb)" if store.dialect == "postgresql" else f"'{text}'"


def _set(store: SqlAlchemyStore, table: str, record_id: str, assignment: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {assignment} WHERE id = :id"), {"id": record_id})


def _ws(store: SqlAlchemyStore) -> Any:
    core = CampaignCore(store, clock=FakeClock(T0), ids=SequentialIds())
    return core.for_actor(Actor("owner-1"))


def _campaigns(ws: Any, n: int) -> list[str]:
    return [
        ws.campaigns.create_campaign(
            name=f"C{i}", type="promotion", platforms=["instagram"], content={"title": "Hi"}
        ).id
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("field", "column", "value"),
    [
        ("status", "status", "'DRAFT'"),
        ("type", "type", "'banner'"),
        ("content", "content", "json:[1, 2]"),
        ("goals", "goals", "json:null"),
    ],
)
def test_a_row_the_library_cannot_decode_raises_a_typed_error_naming_it(
    store: SqlAlchemyStore, field: str, column: str, value: str
) -> None:
    """get_campaign answers CorruptRecordError (500) with the table, the id and the field."""
    ws = _ws(store)
    (cid,) = _campaigns(ws, 1)
    literal = _json(store, value[5:]) if value.startswith("json:") else value
    quoted = f'"{column}"' if store.dialect != "mysql" and store.dialect != "mariadb" else column
    _set(store, "campaigns", cid, f"{quoted} = {literal}")
    with pytest.raises(CorruptRecordError) as caught:
        ws.campaigns.get_campaign(cid)
    error = caught.value
    assert (error.table, error.record_id, error.field) == ("campaigns", cid, field)
    assert error.code == "corrupt_record"
    assert error.http_status == 500
    assert error.to_json()["error"]["details"]["field"] == field


def test_a_listing_reports_bad_rows_and_hides_none_of_the_others(
    store: SqlAlchemyStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Paging two at a time over five campaigns, two of them unreadable: every row once."""
    ws = _ws(store)
    ids = _campaigns(ws, 5)
    _set(store, "campaigns", ids[1], "status = 'DRAFT'")
    _set(store, "campaigns", ids[2], f"content = {_json(store, '[]')}")
    seen: list[str] = []
    reported: list[tuple[str, str]] = []
    cursor = None
    with caplog.at_level(logging.WARNING, logger="campaign_core.store"):
        for _ in range(10):
            page = ws.campaigns.list_campaigns(limit=2, cursor=cursor, order_by="name")
            assert page.total == 5
            seen += [c.id for c in page.items]
            reported += [(p.record_id, p.field) for p in page.problems]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert sorted(seen) == sorted([ids[0], ids[3], ids[4]])
    assert sorted(reported) == sorted([(ids[1], "status"), (ids[2], "content")])
    assert any("corrupt_record" in r.__dict__ for r in caplog.records)


def test_a_page_made_only_of_bad_rows_still_leads_to_the_next(store: SqlAlchemyStore) -> None:
    ws = _ws(store)
    ids = _campaigns(ws, 3)
    _set(store, "campaigns", ids[0], "type = 'banner'")
    _set(store, "campaigns", ids[1], "type = 'banner'")
    first = ws.campaigns.list_campaigns(limit=2, order_by="name", descending=False)
    assert first.items == ()
    assert len(first.problems) == 2
    assert first.next_cursor is not None
    second = ws.campaigns.list_campaigns(
        limit=2, order_by="name", descending=False, cursor=first.next_cursor
    )
    assert [c.id for c in second.items] == [ids[2]]
    assert second.next_cursor is None


def test_segments_and_workflows_listings_skip_and_report(store: SqlAlchemyStore) -> None:
    ws = _ws(store)
    good = ws.segments.create_segment(name="Good", criteria={"engagement": {">": 1}})
    bad = ws.segments.create_segment(name="Bad", criteria={"engagement": {">": 2}})
    _set(store, "segments", bad.id, "type = 'mystery'")
    page = ws.segments.list_segments()
    assert [s.id for s in page.items] == [good.id]
    assert [(p.table, p.record_id, p.field) for p in page.problems] == [
        ("segments", bad.id, "type")
    ]
