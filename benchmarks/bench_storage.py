"""Bulk import through the store vs the raw driver, on SQLite and PostgreSQL.

The workload imports ``fan_events`` rows (the event-ingestion path) in batches of
10,000, one transaction per batch, into a freshly migrated table with its two
indexes. Every contender starts from the same ``FanEvent`` records and writes
the same columns in the same batch and transaction shape:

- ours: ``uow.fan_events.add_many(batch); uow.commit()``;
- raw: a hand-written loop turning each record into a tuple (UTC text or naive
  UTC datetimes, ``json.dumps``) and the driver's ``executemany`` (or COPY);
- "driver only": the raw driver fed tuples built before the clock starts, to
  show what the conversion itself costs;
- SQLAlchemy Core: ``conn.execute(table.insert(), [dicts])``, the generic path
  (``insertmanyvalues`` on PostgreSQL), to show why the store bypasses it.

Run: ``python benchmarks/run_all.py --only storage [--scale 0.1]``. PostgreSQL
needs ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` (a database ``<db>_cc_bench`` is created).
"""

from __future__ import annotations

import gc
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, Scale, server_database_url

from campaign_core.models import FanEvent

FULL_ROWS = 1_000_000
BATCH = 10_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ("purchase", "tip", "message", "subscribed", "renewed")
COLUMNS = ("id", "ownerId", "fanId", "name", "occurredAt", "properties", "value", "createdAt")


def make_events(n: int) -> list[FanEvent]:
    """``n`` realistic events: 50 owners, 20,000 fans, small JSON properties."""
    return [
        FanEvent(
            id=f"ev-{i:09d}",
            owner_id=f"owner-{i % 50}",
            fan_id=f"fan-{i % 20_000}",
            name=NAMES[i % len(NAMES)],
            occurred_at=T0 + timedelta(seconds=i, milliseconds=i % 1000),
            properties={"amount": i % 100, "currency": "USD", "source": "import"},
            value=float(i % 50) if i % 3 else None,
            created_at=T0,
        )
        for i in range(n)
    ]


def batches(records: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes, GC off (as the harness's best_of does)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _utc_text(at: datetime) -> str:
    # what the store writes on SQLite: naive UTC, to the millisecond, microsecond digits
    naive = at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000, tzinfo=None)
    return naive.isoformat(" ", "microseconds")


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000, tzinfo=None)


# -- SQLite ------------------------------------------------------------------------------
def _sqlite_store(path: Path) -> Any:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    return SqlAlchemyStore(f"sqlite:///{path}", create=True)


def _insert_sql(mark: str) -> str:
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    return f"INSERT INTO fan_events ({cols}) VALUES ({', '.join([mark] * len(COLUMNS))})"


def _sqlite_raw_rows(batch: Sequence[FanEvent]) -> list[tuple[Any, ...]]:
    return [
        (
            r.id,
            r.owner_id,
            r.fan_id,
            r.name,
            _utc_text(r.occurred_at),
            json.dumps(r.properties),
            r.value,
            _utc_text(r.created_at),
        )
        for r in batch
    ]


def bench_sqlite_import(scale: Scale) -> list[Result]:
    """1M fan_events into SQLite: store bulk path vs raw sqlite3.executemany."""
    n = scale.n(FULL_ROWS, minimum=BATCH)
    events = make_events(n)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        def ours() -> None:
            store = _sqlite_store(root / "ours.sqlite3")
            seconds = timed(lambda: _store_import(store, events))
            assert _count(store) == n
            store.close()
            results["ours"] = seconds

        def raw(prebuilt: bool) -> float:
            path = root / f"raw-{prebuilt}.sqlite3"
            _sqlite_store(path).close()  # same migrated table and indexes
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")  # as the store sets it
            sql = _insert_sql("?")
            ready = [_sqlite_raw_rows(b) for b in batches(events)] if prebuilt else None

            def run() -> None:
                for i, batch in enumerate(batches(events)):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(sql, ready[i] if ready else _sqlite_raw_rows(batch))
                    conn.execute("COMMIT")

            seconds = timed(run)
            assert conn.execute("SELECT count(*) FROM fan_events").fetchone()[0] == n
            conn.close()
            return seconds

        def core() -> float:
            store = _sqlite_store(root / "core.sqlite3")
            seconds = timed(lambda: _core_import(store, events))
            store.close()
            return seconds

        results: dict[str, float] = {}
        ours()
        raw_s = raw(prebuilt=False)
        driver_s = raw(prebuilt=True)
        core_s = core()
    size = f"{n:,} rows, batches of {BATCH:,}"
    return [
        Result(
            "storage: SQLite import, store add_many vs raw sqlite3.executemany",
            results["ours"],
            raw_s,
            goal="<= 2.0",
            note=f"{size}; raw converts records to tuples by hand",
        ),
        Result(
            "storage: SQLite import, store vs executemany of pre-built tuples",
            results["ours"],
            driver_s,
            note="driver only: conversion done before timing",
        ),
        Result(
            "storage: SQLite import, store vs SQLAlchemy Core insert(dicts)",
            results["ours"],
            core_s,
            note="the generic path the store bypasses",
        ),
    ]


def _store_import(store: Any, events: Sequence[FanEvent]) -> None:
    for batch in batches(events):
        with store.unit_of_work() as uow:
            uow.fan_events.add_many(batch)
            uow.commit()


def _core_import(store: Any, events: Sequence[FanEvent]) -> None:
    from campaign_core_sqlalchemy import TABLES

    table = TABLES["fan_events"]
    for batch in batches(events):
        with store.engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {
                        "id": r.id,
                        "ownerId": r.owner_id,
                        "fanId": r.fan_id,
                        "name": r.name,
                        "occurredAt": r.occurred_at,
                        "properties": r.properties,
                        "value": r.value,
                        "createdAt": r.created_at,
                    }
                    for r in batch
                ],
            )


def _count(store: Any) -> int:
    with store.unit_of_work() as uow:
        return int(uow.fan_events.count())


# -- PostgreSQL ----------------------------------------------------------------------------
def _pg_raw_rows(batch: Sequence[FanEvent]) -> list[tuple[Any, ...]]:
    from psycopg.types.json import Jsonb

    return [
        (
            r.id,
            r.owner_id,
            r.fan_id,
            r.name,
            _naive_utc(r.occurred_at),
            Jsonb(r.properties),
            r.value,
            _naive_utc(r.created_at),
        )
        for r in batch
    ]


def bench_postgres_import(scale: Scale) -> list[Result]:
    """1M fan_events into PostgreSQL: store bulk path (COPY) vs raw psycopg executemany and COPY."""
    import psycopg

    from campaign_core_sqlalchemy import SqlAlchemyStore

    url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL import")
    n = scale.n(FULL_ROWS, minimum=BATCH)
    events = make_events(n)
    store = SqlAlchemyStore(url)
    store.drop_tables()
    store.upgrade()

    def truncate() -> None:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE fan_events")
            conn.exec_driver_sql("CHECKPOINT")  # every contender starts with a clean WAL

    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    cols = ", ".join(f'"{c}"' for c in COLUMNS)

    def raw_executemany() -> None:
        with psycopg.connect(libpq_url) as conn:
            for batch in batches(events):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(_insert_sql("%s"), _pg_raw_rows(batch))

    def raw_copy() -> None:
        with psycopg.connect(libpq_url) as conn:
            for batch in batches(events):
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy(f"COPY fan_events ({cols}) FROM STDIN") as copy,
                ):
                    for row in _pg_raw_rows(batch):
                        copy.write_row(row)

    timings: dict[str, float] = {}
    for label, fn in (
        ("ours", lambda: _store_import(store, events)),
        ("executemany", raw_executemany),
        ("copy", raw_copy),
        ("core", lambda: _core_import(store, events)),
    ):
        truncate()
        timings[label] = timed(fn)
        assert _count(store) == n, label
    truncate()
    store.close()
    size = f"{n:,} rows, batches of {BATCH:,}"
    return [
        Result(
            "storage: PostgreSQL import, store add_many vs raw psycopg executemany",
            timings["ours"],
            timings["executemany"],
            note=f"{size}; the store uses COPY",
        ),
        Result(
            "storage: PostgreSQL import, store add_many vs raw psycopg COPY",
            timings["ours"],
            timings["copy"],
            note="raw COPY with hand-built tuples",
        ),
        Result(
            "storage: PostgreSQL import, store vs SQLAlchemy Core insertmanyvalues",
            timings["ours"],
            timings["core"],
            note="the generic path the store bypasses",
        ),
    ]


BENCHMARKS = [bench_sqlite_import, bench_postgres_import]
