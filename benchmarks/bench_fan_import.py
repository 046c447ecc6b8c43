"""``ws.fans.import_fans`` on SQLite against raw ``sqlite3.executemany``, and its memory at 1M.

Ours is the API users call: every row validated, each new fan audited (one
audit record each), in one transaction, the rows read from a generator. The
baseline inserts the same fans as tuples with ``executemany`` in batches of
5,000, in one transaction, into the same migrated table: no validation, no
audit. Both run interleaved and repeated (min and median).

Memory: a child interpreter per contender imports 1M fans from a generator and
reports how far its peak resident set grew past what it held before the import
(the issue's goal: at most +60 MiB; raw ``executemany`` grows ~10 MiB).

Run: ``python benchmarks/run_all.py --only fan_import``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import Result, Scale, SkipBenchmark, compare, server_database_url

SRC = Path(__file__).resolve().parents[1] / "src"
HERE = Path(__file__).resolve().parent
BATCH = 5000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rows(count: int) -> Iterator[dict[str, Any]]:
    """What a host hands ``import_fans``: one dict a fan, from a generator."""
    for n in range(count):
        yield {
            "fanId": f"fan-{n}",
            "engagement": n % 100,
            "spendingLevel": "high",
            "lifetimeValue": float(n % 500),
            "traits": {},
        }


def _store(path: Path) -> Any:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    return SqlAlchemyStore(f"sqlite:///{path}", create=True)


def ours(path: Path, count: int) -> None:
    from campaign_core import CampaignCore, FakeClock
    from campaign_core.permissions import Actor

    store = _store(path)
    core = CampaignCore(store, clock=FakeClock(T0))
    report = core.for_actor(Actor("bench-owner")).fans.import_fans(rows(count))
    assert report.created == count
    store.close()


def raw(path: Path, count: int) -> None:
    """The same fans as tuples, ``executemany`` in batches, one transaction."""
    _store(path).close()  # the migrated table and its indexes
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    columns = [c[1] for c in conn.execute("PRAGMA table_info(fans)")]
    sql = (
        f"INSERT INTO fans ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    at = T0.replace(tzinfo=None).isoformat(" ", "microseconds")

    def tuple_of(n: int, row: dict[str, Any]) -> tuple[Any, ...]:
        values = {
            "id": f"raw-{n}",
            "ownerId": "bench-owner",
            "fanId": row["fanId"],
            "engagement": float(row["engagement"]),
            "spendingLevel": row["spendingLevel"],
            "lifetimeValue": row["lifetimeValue"],
            "traits": json.dumps(row["traits"]),
            "addresses": "{}",
            "optedOut": 0,
            "createdAt": at,
            "updatedAt": at,
            "version": 1,
        }
        return tuple(values.get(c) for c in columns)

    conn.execute("BEGIN IMMEDIATE")
    batch: list[tuple[Any, ...]] = []
    for n, row in enumerate(rows(count)):
        batch.append(tuple_of(n, row))
        if len(batch) == BATCH:
            conn.executemany(sql, batch)
            batch = []
    conn.executemany(sql, batch)
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM fans").fetchone()[0] == count
    conn.close()


def _fresh(folder: Path, fn: Any, count: int) -> Any:
    def run() -> None:
        path = folder / f"{fn.__name__}-{next(_names)}.sqlite3"
        fn(path, count)
        path.unlink()

    return run


_names = iter(range(10**9))


def _peak_growth(which: str, count: int) -> float:
    """MiB the peak RSS of a child grows during one import of ``count`` fans."""
    code = (
        "import resource, sys, tempfile, pathlib\n"
        f"sys.path[:0] = [{str(HERE)!r}, {str(SRC)!r}]\n"
        "import bench_fan_import as b\n"
        "import campaign_core, campaign_core_sqlalchemy, sqlalchemy\n"
        "from campaign_core import CampaignCore\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        f"b.{which}(folder / 'warm.sqlite3', 200)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"b.{which}(folder / 'big.sqlite3', {count})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=os.environ
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench_fan_import_sqlite(scale: Scale) -> list[Result]:
    """import_fans against raw executemany (interleaved), and the peak memory of each at 1M."""
    count = scale.n(100_000, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed = compare(
            f"import_fans {count:,} fans (SQLite) vs raw executemany",
            _fresh(folder, ours, count),
            _fresh(folder, raw, count),
            goal="<= 2.5",
            repeat=3,
            note="ours validates and audits every fan; one transaction each",
        )
    big = scale.n(1_000_000, 10_000)
    grown, grown_raw = _peak_growth("ours", big), _peak_growth("raw", big)
    return [
        timed,
        Result(
            f"import_fans {big:,} fans (SQLite): peak RSS growth",
            grown,
            60.0,
            goal="<= 1.0",
            unit="MiB",
            note=f"baseline: the +60 MiB goal; raw executemany grows {grown_raw:.0f} MiB",
        ),
    ]


def bench_fan_import_postgres(scale: Scale) -> list[Result]:
    """import_fans on PostgreSQL against psycopg's executemany of the same rows (interleaved).

    Each run imports for a new account into the same tables (``<db>_cc_bench``), so
    nothing collides and nothing is deleted between runs.
    """
    try:
        url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL fan import")
    except SkipBenchmark:
        raise
    import itertools

    from campaign_core import CampaignCore, FakeClock
    from campaign_core.permissions import Actor
    from campaign_core_sqlalchemy import SqlAlchemyStore

    count = scale.n(100_000, 5000)
    store = SqlAlchemyStore(url)
    store.upgrade()
    runs = itertools.count()
    raw_conn: Any = store.engine.raw_connection().driver_connection
    with raw_conn.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'fans' ORDER BY ordinal_position"
        )
        columns = [row[0] for row in cursor.fetchall()]
    raw_conn.commit()
    sql = (
        f"INSERT INTO fans ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )

    def ours_pg() -> None:
        owner = f"bench-import-{next(runs)}-{os.getpid()}"
        ws = CampaignCore(store, clock=FakeClock(T0)).for_actor(Actor(owner))
        assert ws.fans.import_fans(rows(count)).created == count

    def raw_pg() -> None:
        owner = f"bench-raw-{next(runs)}-{os.getpid()}"
        batch: list[tuple[Any, ...]] = []
        with raw_conn.cursor() as cursor:
            for n, row in enumerate(rows(count)):
                values = {
                    "id": f"{owner}-{n}",
                    "ownerId": owner,
                    "fanId": row["fanId"],
                    "engagement": float(row["engagement"]),
                    "spendingLevel": row["spendingLevel"],
                    "lifetimeValue": row["lifetimeValue"],
                    "traits": json.dumps(row["traits"]),
                    "addresses": "{}",
                    "optedOut": False,
                    "createdAt": T0,
                    "updatedAt": T0,
                    "version": 1,
                }
                batch.append(tuple(values.get(c) for c in columns))
                if len(batch) == BATCH:
                    cursor.executemany(sql, batch)
                    batch = []
            cursor.executemany(sql, batch)
        raw_conn.commit()

    try:
        return [
            compare(
                f"import_fans {count:,} fans (PostgreSQL) vs raw executemany",
                ours_pg,
                raw_pg,
                goal="<= 2.5",
                repeat=3,
                note="ours validates and audits every fan (COPY); raw: psycopg executemany",
            )
        ]
    finally:
        raw_conn.close()
        store.close()


BENCHMARKS = [bench_fan_import_sqlite, bench_fan_import_postgres]
