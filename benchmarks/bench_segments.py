"""Segment sizes in SQL vs hand-written SQL and vs Python; memory of the in-memory store.

The rule (5 leaves, as in ``bench_criteria``)::

    spending_level >= high and engagement > 50
    and (lifetime_value >= 100 or subscription_status = active)
    and last_activity_at within_last 14 days

- **SQLite, 1,000,000 fans**: the store's compiled criteria (``count_matching``, what
  ``calculate_segment_size`` runs) vs the same rule as a hand-written ``COUNT`` (goal: at
  most 1.5x), and vs loading every fan through the repository and evaluating them one by
  one with the compiled per-fan evaluator (the speed-up is reported). All three counts must
  agree.
- **Service, 10,000 fans** (SQLite file in WAL mode, and PostgreSQL when
  ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` is set): ``ws.segments.calculate_segment_size`` per call
  (its 5-minute cache dropped before each) and the store's ``count_matching`` in a read-only
  unit of work, against the same ``COUNT`` by hand on a raw driver connection (goal: at most
  1.3x).
- **Memory**: 1,000,000 fans in the in-memory store, measured in a fresh subprocess
  (``VmRSS`` and the high-water mark ``VmHWM`` from ``/proc``), with the time the Python fallback
  takes to size a segment there.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Result, Scale, interleaved, server_database_url

from campaign_core.audience import fan_record
from campaign_core.criteria import FieldRegistry, compile_criteria, normalize
from campaign_core.query import Eq

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
OWNER = "creator-1"
RULE = (
    "spending_level >= high and engagement > 50"
    " and (lifetime_value >= 100 or subscription_status = active)"
    " and last_activity_at within_last 14 days"
)
HAND_SQL = (
    'SELECT count(*) FROM fans WHERE "ownerId" = ?'
    " AND \"spendingLevel\" IN ('high', 'vip') AND engagement > 50"
    ' AND ("lifetimeValue" >= 100 OR "subscriptionStatus" = \'active\')'
    ' AND "lastActivityAt" >= ?'
)
LEVELS = np.array(["none", "low", "medium", "high", "vip"])
STATUSES = np.array(["active", "expired", "cancelled", "none"])
SRC = Path(__file__).resolve().parent.parent / "src"


def _sqlite_text(moment: datetime) -> str:
    """How the store keeps an instant on SQLite (naive UTC, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _rows(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = np.random.default_rng(seed)
    engagement = rng.uniform(0, 100, n).round(2)
    no_score = rng.random(n) < 0.05
    ltv = rng.uniform(0, 200, n).round(2)
    levels = LEVELS[rng.integers(0, 5, n)]
    statuses = STATUSES[rng.integers(0, 4, n)]
    ago_ms = rng.integers(0, 30 * 86_400_000, n)
    never = rng.random(n) < 0.05
    created = _sqlite_text(NOW - timedelta(days=60))
    rows = []
    for i in range(n):
        last = None if never[i] else _sqlite_text(NOW - timedelta(milliseconds=int(ago_ms[i])))
        rows.append(
            (
                f"f{i}",
                OWNER,
                f"fan-{i:07d}",
                "onlyfans",
                str(levels[i]),
                None if no_score[i] else float(engagement[i]),
                float(ltv[i]),
                str(statuses[i]),
                None,
                last,
                "Europe/Paris",
                0,
                "{}",
                created,
                created,
                1,
            )
        )
    return rows


def _sqlite_store(n: int, directory: str) -> Any:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    path = os.path.join(directory, "segments.sqlite3")
    store = SqlAlchemyStore(f"sqlite:///{path}", create=True)
    raw = sqlite3.connect(path)
    raw.executemany(
        'INSERT INTO fans (id, "ownerId", "fanId", platform, "spendingLevel", engagement,'
        ' "lifetimeValue", "subscriptionStatus", "subscribedAt", "lastActivityAt",'
        ' "timeZone", "optedOut", traits, "createdAt", "updatedAt", version)'
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _rows(n),
    )
    raw.commit()
    raw.execute("ANALYZE")
    raw.close()
    return store


def sqlite_size_vs_hand_sql_and_python(scale: Scale) -> list[Result]:
    """Segment size on SQLite: compiled criteria vs hand-written COUNT vs Python one by one."""
    n = scale.n(1_000_000, minimum=2000)
    registry = FieldRegistry.default()
    criteria = normalize(RULE)
    cutoff = _sqlite_text(NOW - timedelta(days=14))
    with tempfile.TemporaryDirectory() as directory:
        store = _sqlite_store(n, directory)
        try:

            def ours() -> int:
                with store.unit_of_work() as uow:
                    return int(uow.audience.count_matching(OWNER, criteria, now=NOW))

            def hand() -> int:
                with store.engine.connect() as conn:
                    return int(conn.exec_driver_sql(HAND_SQL, (OWNER, cutoff)).scalar_one())

            def one_by_one() -> int:
                compiled = compile_criteria(criteria, registry=registry)
                with store.unit_of_work() as uow:
                    everyone = uow.fans.find(Eq("owner_id", OWNER))
                return sum(
                    compiled.evaluate(fan_record(fan, registry), now=NOW) for fan in everyone
                )

            counts = {"ours": ours(), "hand": hand()}
            start = time.perf_counter()
            counts["python"] = one_by_one()
            python_seconds = time.perf_counter() - start
            if len(set(counts.values())) != 1:
                raise AssertionError(f"the counts disagree: {counts}")
            timing = interleaved({"ours": ours, "hand": hand}, repeat=5)
            measured, reference = timing["ours"].min, timing["hand"].min
        finally:
            store.close()
    members = counts["ours"]
    return [
        Result(
            name=f"segments: size in SQLite, {n:,} fans, 5 leaves",
            measured=measured,
            baseline=reference,
            measured_median=timing["ours"].median,
            baseline_median=timing["hand"].median,
            goal="<= 1.5",
            note=f"baseline: hand-written COUNT; {members:,} members; ratio = ours/hand",
        ),
        Result(
            name=f"segments: size in SQLite vs Python one by one, {n:,} fans",
            measured=measured,
            baseline=python_seconds,
            note=(
                f"baseline: load every fan through the repository and evaluate each;"
                f" SQL is {python_seconds / measured:.0f}x faster"
            ),
        ),
    ]


_INSERT = (
    'INSERT INTO fans (id, "ownerId", "fanId", platform, "spendingLevel", engagement,'
    ' "lifetimeValue", "subscriptionStatus", "subscribedAt", "lastActivityAt",'
    ' "timeZone", "optedOut", traits, "createdAt", "updatedAt", version)'
    " VALUES (" + ", ".join(["%s"] * 16) + ")"
)


def _service_vs_hand(store: Any, owner: str, n: int, label: str, goal: str) -> list[Result]:
    """``ws.segments.calculate_segment_size`` against the same COUNT by hand on a raw connection."""
    from campaign_core import CampaignCore, FakeClock
    from campaign_core.permissions import Actor

    sqlite = store.dialect == "sqlite"
    core = CampaignCore(store, clock=FakeClock(NOW))
    ws = core.for_actor(Actor(owner))
    sizes = core.runtime.caches.segment_size
    cutoff: Any = NOW - timedelta(days=14)
    hand_sql = HAND_SQL
    if sqlite:
        cutoff = _sqlite_text(cutoff)
    else:
        hand_sql = HAND_SQL.replace("?", "%s")
    raw = store.engine.raw_connection()
    driver = raw.driver_connection
    calls = 20

    def ours() -> int:
        sizes.invalidate()  # the 5-minute cache would answer otherwise
        return int(ws.segments.calculate_segment_size(RULE))

    def audience() -> int:
        with store.read_only_unit_of_work() as uow:
            return int(uow.audience.count_matching(owner, criteria, now=NOW))

    def hand() -> int:
        cursor = driver.cursor()
        cursor.execute(hand_sql, (owner, cutoff))
        count = int(cursor.fetchone()[0])
        cursor.close()
        if not sqlite:
            driver.commit()
        return count

    criteria = normalize(RULE)
    try:
        counts = {ours(), audience(), hand()}
        if len(counts) != 1:
            raise AssertionError(f"the counts disagree: {counts}")
        contenders = {
            name: (lambda fn=fn: [fn() for _ in range(calls)])
            for name, fn in (("ours", ours), ("audience", audience), ("hand", hand))
        }
        t = interleaved(contenders, repeat=7)
        # SQLite works in this process: its CPU time is the work, whatever the machine's load
        cpu = interleaved(contenders, repeat=7, clock=time.process_time) if sqlite else None
    finally:
        raw.close()
    note = f"{counts.pop():,} members; per call; baseline: the COUNT by hand, raw driver"
    extra = []
    if cpu is not None:
        extra.append(
            Result(
                name=f"segments: calculate_segment_size, {label}, {n:,} fans, CPU time",
                measured=cpu["ours"].min / calls,
                baseline=cpu["hand"].min / calls,
                measured_median=cpu["ours"].median / calls,
                baseline_median=cpu["hand"].median / calls,
                goal=goal,
                note="the same, timed with time.process_time (not inflated by waiting for a core)",
            )
        )
    return [
        *extra,
        Result(
            name=f"segments: calculate_segment_size, {label}, {n:,} fans",
            measured=t["ours"].min / calls,
            baseline=t["hand"].min / calls,
            measured_median=t["ours"].median / calls,
            baseline_median=t["hand"].median / calls,
            goal=goal,
            note=note + " (the size cache dropped before each call)",
        ),
        Result(
            name=f"segments: audience count_matching, {label}, {n:,} fans",
            measured=t["audience"].min / calls,
            baseline=t["hand"].min / calls,
            measured_median=t["audience"].median / calls,
            baseline_median=t["hand"].median / calls,
            note=note + "; the store call under the service (read-only unit of work)",
        ),
    ]


def service_size_sqlite(scale: Scale) -> list[Result]:
    """Segment size through the service at 10,000 fans on a SQLite file (WAL)."""
    n = scale.n(10_000, minimum=1000)
    with tempfile.TemporaryDirectory() as directory:
        store = _sqlite_store(n, directory)
        try:
            return _service_vs_hand(store, OWNER, n, "SQLite", "<= 1.3")
        finally:
            store.close()


def _server_row(row: tuple[Any, ...], owner: str) -> tuple[Any, ...]:
    """A SQLite row for PostgreSQL: this owner, booleans, datetimes in milliseconds."""

    def instant(text: str | None) -> datetime | None:
        if text is None:
            return None
        moment = datetime.fromisoformat(text)
        return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)

    out = list(row)
    out[0], out[1], out[11] = f"{owner}-{row[0]}", owner, bool(row[11])
    for index in (8, 9, 13, 14):
        out[index] = instant(row[index])
    return tuple(out)


def service_size_postgres(scale: Scale) -> list[Result]:
    """Segment size through the service at 10,000 fans on PostgreSQL (its own owner id)."""
    import uuid

    from campaign_core_sqlalchemy import SqlAlchemyStore

    n = scale.n(10_000, minimum=1000)
    url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL segment sizes")
    store = SqlAlchemyStore(url)
    store.upgrade()
    owner = f"bench-size-{uuid.uuid4().hex[:12]}"
    rows = [_server_row(row, owner) for row in _rows(n)]
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany(_INSERT, rows)
        cursor.execute("ANALYZE fans")
        raw.commit()
        return _service_vs_hand(store, owner, n, "PostgreSQL", "<= 1.3")
    finally:
        raw.rollback()
        cursor = raw.cursor()
        cursor.execute('DELETE FROM fans WHERE "ownerId" = %s', (owner,))
        raw.commit()
        raw.close()
        store.close()


_MEMORY_SCRIPT = r"""
import json, resource, sys, time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, sys.argv[2])
import numpy as np

from campaign_core.criteria import normalize
from campaign_core.models import Fan
from campaign_core_memory import InMemoryStore

n = int(sys.argv[1])
now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
levels = ["none", "low", "medium", "high", "vip"]
statuses = ["active", "expired", "cancelled", "none"]

def proc_mib(field):
    # /proc, not getrusage: Linux carries ru_maxrss over fork and exec, so a child
    # would report its parent's high-water mark
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def rss_mib():
    return proc_mib("VmRSS")

def peak_mib():
    return proc_mib("VmHWM")

rng = np.random.default_rng(7)
engagement = rng.uniform(0, 100, n).round(2).tolist()
ltv = rng.uniform(0, 200, n).round(2).tolist()
level = rng.integers(0, 5, n).tolist()
status = rng.integers(0, 4, n).tolist()
ago = rng.integers(0, 30 * 86_400_000, n).tolist()
store = InMemoryStore()
before = rss_mib()
start = time.perf_counter()
batch = 10_000
for begin in range(0, n, batch):
    fans = [
        Fan(
            id=f"f{i}",
            owner_id="creator-1",
            fan_id=f"fan-{i:07d}",
            platform="onlyfans",
            spending_level=levels[level[i]],
            engagement=engagement[i],
            lifetime_value=ltv[i],
            subscription_status=statuses[status[i]],
            last_activity_at=now - timedelta(milliseconds=ago[i]),
            time_zone="Europe/Paris",
            created_at=now,
            updated_at=now,
        )
        for i in range(begin, min(n, begin + batch))
    ]
    with store.unit_of_work() as uow:
        uow.fans.add_many(fans)
        uow.commit()
    del fans
load_seconds = time.perf_counter() - start
loaded = rss_mib()
loaded_peak = peak_mib()
criteria = normalize(sys.argv[3])
start = time.perf_counter()
with store.unit_of_work() as uow:
    size = uow.audience.count_matching("creator-1", criteria, now=now)
size_seconds = time.perf_counter() - start
print(json.dumps({
    "before": before, "loaded": loaded, "loaded_peak": loaded_peak, "peak": peak_mib(),
    "load_seconds": load_seconds,
    "size": size, "size_seconds": size_seconds,
}))
"""


def memory_store_footprint(scale: Scale) -> list[Result]:
    """Peak resident memory of 1,000,000 fans in the in-memory store (fresh subprocess)."""
    n = scale.n(1_000_000, minimum=1000)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(n), str(SRC), RULE],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    stored = report["loaded"] - report["before"]
    return [
        Result(
            name=f"segments: in-memory store holding {n:,} fans (peak RSS)",
            measured=report["loaded_peak"],
            unit="MiB",
            note=(
                f"resident after loading {report['loaded']:,.0f} MiB, of which the fans"
                f" {stored:,.0f} MiB ({stored * 2**20 / n:,.0f} bytes each); loaded in"
                f" {report['load_seconds']:.1f} s; interpreter + libraries"
                f" {report['before']:,.0f} MiB"
            ),
        ),
        Result(
            name=f"segments: size on the in-memory store, {n:,} fans (Python)",
            measured=report["size_seconds"],
            note=(
                f"report only: the store's Python audience (vectorized evaluator);"
                f" {report['size']:,} members; peak RSS {report['peak']:,.0f} MiB"
            ),
        ),
    ]


BENCHMARKS = [
    sqlite_size_vs_hand_sql_and_python,
    service_size_sqlite,
    service_size_postgres,
    memory_store_footprint,
]
