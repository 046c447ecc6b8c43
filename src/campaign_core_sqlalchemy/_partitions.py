"""Monthly range partitions of ``tracking_events`` on PostgreSQL.

On PostgreSQL the migrations make ``tracking_events`` a table partitioned by
range of ``occurredAt``, one partition a calendar month (UTC) named
``tracking_events_pYYYY_MM``, plus a ``tracking_events_default`` partition
that catches any row outside them (an event backfilled from long ago), so an
insert never fails for want of a partition. ``core.tick()`` creates the
partitions of the current month and the next ones ahead of time
(:meth:`SqlAlchemyStore.maintain`), so rows land in their month, and queries
bounded in time (a campaign's window, the roll-up's hours) read only the
partitions they need (partition pruning; the tests check it with EXPLAIN).
SQLite and MariaDB keep one plain table.

A month's partition is created only while the default partition holds no row
of that month (PostgreSQL refuses it otherwise): created ahead, it is always
empty then. Dropping old months is a partition drop, not a DELETE; the
library does not drop any yet (raw events feed the roll-ups: see the
retention how-to).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = [
    "PARTITIONED_TABLE",
    "PARTITIONS_AHEAD",
    "ensure_month_partitions",
    "is_partitioned",
    "month_name",
    "months_ahead",
]

PARTITIONED_TABLE = "tracking_events"

#: months created ahead of the current one by ``SqlAlchemyStore.maintain``
PARTITIONS_AHEAD = 3

#: taken for the duration of a maintenance transaction: one process creates partitions at a time
_LOCK_KEY = 7_406_420_231


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def month_name(year: int, month: int) -> str:
    """The partition of a month: ``tracking_events_p2026_12``."""
    return f"{PARTITIONED_TABLE}_p{year:04d}_{month:02d}"


def is_partitioned(conn: Connection) -> bool:
    """Whether ``tracking_events`` is a partitioned table here (PostgreSQL after the migration)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        sa.text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE c.relname = :name AND pg_table_is_visible(c.oid)"
        ),
        {"name": PARTITIONED_TABLE},
    ).first()
    return found is not None


def _existing(conn: Connection) -> set[str]:
    rows = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = :name AND pg_table_is_visible(p.oid)"
        ),
        {"name": PARTITIONED_TABLE},
    )
    return {str(r[0]) for r in rows}


def _literal(moment: datetime) -> str:
    # occurredAt is timestamp(3) without time zone holding UTC: bounds are naive UTC literals
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _default_holds(conn: Connection, low: datetime, high: datetime) -> bool:
    """Whether the default partition has rows in ``[low, high)`` (the month cannot be created:
    they stay there, still read by every query; only months created ahead are empty)."""
    found = conn.execute(
        sa.text(
            f'SELECT 1 FROM "{PARTITIONED_TABLE}_default"'
            ' WHERE "occurredAt" >= :low AND "occurredAt" < :high LIMIT 1'
        ),
        {"low": low.replace(tzinfo=None), "high": high.replace(tzinfo=None)},
    ).first()
    return found is not None


def ensure_month_partitions(
    conn: Connection, first: datetime, last: datetime, *, default: bool = True
) -> tuple[str, ...]:
    """Create the monthly partitions from ``first``'s month to ``last``'s, where missing.

    Args:
        conn: a PostgreSQL connection inside a transaction.
        first: an instant in the first month.
        last: an instant in the last month (not before ``first``).
        default: also create the default partition when it is missing.

    Returns:
        The names of the partitions created, in order. A month whose rows already
        sit in the default partition is skipped (PostgreSQL would refuse it).
    """
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    existing = _existing(conn)
    quote = conn.dialect.identifier_preparer.quote
    created: list[str] = []
    if default and f"{PARTITIONED_TABLE}_default" not in existing:
        name = f"{PARTITIONED_TABLE}_default"
        conn.execute(
            sa.text(f"CREATE TABLE {quote(name)} PARTITION OF {PARTITIONED_TABLE} DEFAULT")
        )
        created.append(name)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        name = month_name(year, month)
        low = _month_start(year, month)
        high = _month_start(*_add_months(year, month, 1))
        if name not in existing and not _default_holds(conn, low, high):
            conn.execute(
                sa.text(
                    f"CREATE TABLE {quote(name)} PARTITION OF {PARTITIONED_TABLE}"
                    f" FOR VALUES FROM ('{_literal(low)}') TO ('{_literal(high)}')"
                )
            )
            created.append(name)
        year, month = _add_months(year, month, 1)
    return tuple(created)


def months_ahead(now: datetime, count: int) -> datetime:
    """An instant ``count`` months after ``now``'s month (its first day)."""
    return _month_start(*_add_months(now.year, now.month, count))
