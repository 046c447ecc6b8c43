"""PostgreSQL's monthly partitions of tracking_events: migrated, created ahead by tick, pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from campaign_core import CampaignCore, FakeClock
from campaign_core_sqlalchemy import SqlAlchemyStore, migrations
from campaign_core_sqlalchemy._partitions import month_name
from tests.conftest import fresh_database_url

pytestmark = pytest.mark.postgres


def _store(label: str) -> SqlAlchemyStore:
    return SqlAlchemyStore(fresh_database_url("postgres", label))


def _partitions(store: SqlAlchemyStore) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tracking_events'"
            )
        )
        return {str(r[0]) for r in rows}


def _naive(year: int, month: int) -> datetime:
    """The first instant of a month as the naive UTC value occurredAt holds."""
    return datetime(year, month, 1, tzinfo=UTC).replace(tzinfo=None)


def _event(conn: sa.Connection, event_id: str, at: datetime) -> None:
    conn.execute(
        sa.text(
            'INSERT INTO tracking_events (id, "ownerId", "campaignId", kind, value,'
            ' "occurredAt", "createdAt") VALUES (:id, :owner, :campaign, :kind, 0, :at, :at)'
        ),
        {
            "id": event_id,
            "owner": "u1",
            "campaign": "c1",
            "kind": "impression",
            "at": at.replace(tzinfo=None),
        },
    )


def test_the_migration_partitions_existing_rows_by_month() -> None:
    """Rows written before the migration keep their place: each month's rows in its partition."""
    store = _store("partition_migrate")
    try:
        with store.engine.begin() as conn:
            migrations.upgrade(conn, "cc0015")
            _event(conn, "old", datetime(2025, 3, 14, 12, tzinfo=UTC))
            _event(conn, "older", datetime(2024, 11, 2, tzinfo=UTC))
        store.upgrade()
        parts = _partitions(store)
        assert {month_name(2025, 3), month_name(2024, 11), "tracking_events_default"} <= parts
        with store.engine.connect() as conn:
            where = conn.execute(
                sa.text("SELECT tableoid::regclass::text, id FROM tracking_events ORDER BY id")
            ).all()
        assert where == [("tracking_events_p2025_03", "old"), ("tracking_events_p2024_11", "older")]
        with store.engine.connect() as conn:
            migrations.downgrade(conn, "cc0015")
            conn.commit()
            assert conn.execute(sa.text("SELECT count(*) FROM tracking_events")).scalar() == 2
    finally:
        store.close()


def test_tick_creates_the_coming_months_once() -> None:
    """tick() creates this month's partition and three ahead, and nothing on the next tick."""
    store = _store("partition_tick")
    try:
        store.upgrade()
        clock = FakeClock(datetime(2031, 5, 20, tzinfo=UTC))
        core = CampaignCore(store, clock=clock)
        report = core.tick()
        assert report.partitions_created == tuple(month_name(2031, m) for m in (5, 6, 7, 8))
        assert core.tick().partitions_created == ()
        clock.advance(timedelta(days=15))  # June: one more month ahead
        assert core.tick().partitions_created == (month_name(2031, 9),)
    finally:
        store.close()


def test_a_month_already_in_the_default_partition_is_left_there() -> None:
    """Rows of a month without its partition stay in the default one; tick does not fail."""
    store = _store("partition_default")
    try:
        store.upgrade()
        with store.engine.begin() as conn:
            _event(conn, "early", datetime(2032, 2, 3, tzinfo=UTC))
        core = CampaignCore(store, clock=FakeClock(datetime(2032, 2, 10, tzinfo=UTC)))
        report = core.tick()
        assert report.errors == ()
        assert month_name(2032, 2) not in report.partitions_created
        assert month_name(2032, 3) in report.partitions_created
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM tracking_events")).scalar() == 1
    finally:
        store.close()


def test_time_bounded_queries_read_only_their_months() -> None:
    """A campaign's time window scans only the partitions it covers (EXPLAIN shows the pruning)."""
    store = _store("partition_prune")
    try:
        store.upgrade()
        CampaignCore(store, clock=FakeClock(datetime(2033, 1, 15, tzinfo=UTC))).tick()
        with store.engine.begin() as conn:
            _event(conn, "jan", datetime(2033, 1, 15, tzinfo=UTC))
            _event(conn, "feb", datetime(2033, 2, 15, tzinfo=UTC))
        with store.engine.connect() as conn:
            plan = "\n".join(
                str(r[0])
                for r in conn.execute(
                    sa.text(
                        'EXPLAIN SELECT count(*) FROM tracking_events WHERE "campaignId" = :c'
                        ' AND "occurredAt" >= :low AND "occurredAt" < :high'
                    ),
                    {"c": "c1", "low": _naive(2033, 1), "high": _naive(2033, 2)},
                )
            )
            located = dict(
                conn.execute(sa.text("SELECT id, tableoid::regclass::text FROM tracking_events"))
                .tuples()
                .all()
            )
        assert located == {"jan": month_name(2033, 1), "feb": month_name(2033, 2)}
        assert month_name(2033, 1) in plan
        assert month_name(2033, 2) not in plan
        assert "tracking_events_default" not in plan
    finally:
        store.close()
