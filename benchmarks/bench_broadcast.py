"""Broadcast to a segment's fans vs a raw script writing one delivery row per fan.

- **Ours**: a campaign with a message to a 100,000-fan segment (1,000,000 with
  ``--full`` or ``CAMPAIGN_CORE_BENCH_BROADCAST_FULL=1``), launched, then ``core.tick()``
  until the broadcast is done: per batch, one transaction reads the members after the
  cursor, their fans, consent and suppressions (one query each) and leases the
  broadcast; the send policy and the messenger (a no-op that returns an id); one
  transaction inserts each fan's delivery row in its final state and moves the cursor.
  Batches of 1,000 (``snapshot_batch_size`` and ``tick_batch_size``). Each tick also
  runs ``tick()``'s other jobs.
- **Raw**: a script with the driver that reads the members in the same batches of 1,000
  (keyset pages) and inserts one delivery row per fan (``executemany``), one commit per
  batch: the minimum writes a broadcast needs. Goal: ours at most 3x.
- Both start from an empty ``message_deliveries`` table: emptying it (and the campaign
  tables) is done before each run, outside the timing.
- **Memory**: each of our runs is a child process (``--child``) that reports its time and
  its peak resident memory above what it had before the broadcast (``ru_maxrss``; the
  garbage collector stays on in both contenders, as in production); one
  more child broadcasts to a tenth of the audience: the peak is flat in the audience
  size (the snapshot streams, nothing holds every fan).

SQLite always; PostgreSQL with ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` (a
``*_cc_bench_broadcast`` database). Interleaved ours/raw and repeated (``--repeat=N``,
default 3; 1 with ``--full``), reporting min and median.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import Result, Scale, server_database_url

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER = "creator-1"
SEGMENT = "seg-bench"
WARM = "seg-warm"  # a small segment the child process broadcasts to first, untimed
BATCH = 1000


class NullMessenger:
    """A provider that accepts everything at once (the send itself is not measured)."""

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Any,
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Any = None,
    ) -> str:
        return idempotency_key


def _full() -> bool:
    return "--full" in sys.argv or os.environ.get("CAMPAIGN_CORE_BENCH_BROADCAST_FULL") == "1"


def _repeat() -> int:
    for arg in sys.argv:
        if arg.startswith("--repeat="):
            return max(1, int(arg.split("=", 1)[1]))
    return 1 if _full() else 3


def _seed(store: Any, n: int) -> None:
    from campaign_core.models import Fan, Segment, SegmentMember

    with store.unit_of_work() as uow:
        uow.segments.add(
            Segment(
                id=SEGMENT,
                user_id=OWNER,
                name="bench",
                type="static",
                member_count=n,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        uow.commit()
    with store.unit_of_work() as uow:
        uow.segments.add(
            Segment(
                id=WARM,
                user_id=OWNER,
                name="warm-up",
                type="static",
                member_count=100,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        warm = [f"warm-{i:03d}" for i in range(100)]
        uow.fans.add_many(
            [
                Fan(id=f"f-{fid}", owner_id=OWNER, fan_id=fid, created_at=NOW, updated_at=NOW)
                for fid in warm
            ]
        )
        uow.segment_members.add_many(
            [
                SegmentMember(id=f"m-{fid}", segment_id=WARM, fan_id=fid, added_at=NOW)
                for fid in warm
            ]
        )
        uow.commit()
    step = 10_000
    for start in range(0, n, step):
        ids = [f"fan-{i:07d}" for i in range(start, min(n, start + step))]
        with store.unit_of_work() as uow:
            uow.fans.add_many(
                [
                    Fan(id=f"f-{fid}", owner_id=OWNER, fan_id=fid, created_at=NOW, updated_at=NOW)
                    for fid in ids
                ]
            )
            uow.segment_members.add_many(
                [
                    SegmentMember(id=f"m-{fid}", segment_id=SEGMENT, fan_id=fid, added_at=NOW)
                    for fid in ids
                ]
            )
            uow.commit()


def _core(store: Any) -> Any:
    from campaign_core import CampaignCore, FakeClock, Settings
    from campaign_core.delivery import MessagingSettings

    return CampaignCore(
        store,
        clock=FakeClock(NOW),
        messenger=NullMessenger(),
        settings=Settings(
            tick_batch_size=BATCH, messaging=MessagingSettings(snapshot_batch_size=BATCH)
        ),
    )


def _reset(store: Any) -> None:
    import sqlalchemy as sa

    with store.engine.begin() as conn:
        for table in (
            "message_deliveries",
            "broadcasts",
            "publish_jobs",
            "campaigns",
            "audit_records",
            "rate_limits",
        ):
            conn.execute(sa.text(f"DELETE FROM {table}"))


def _broadcast(store: Any, n: int, segment: str = SEGMENT) -> None:
    from campaign_core import Actor

    core = _core(store)
    ws = core.for_actor(Actor(OWNER))
    campaign = ws.campaigns.create_campaign(
        name="Bench",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "Bench"},
        segment_ids=[segment],
        message={"channel": "dm", "content": {"text": "New set"}, "topic": "promotions"},
    )
    ws.campaigns.launch_campaign(campaign.id)
    for _ in range(10 * (n // BATCH + 10)):
        if not core.tick().did_work:
            break
    status = ws.campaigns.get_delivery_status(campaign.id)
    if (status.status, status.sent) != ("done", n):
        raise AssertionError(f"broadcast incomplete: {status}")


def _raw(store: Any, n: int) -> None:
    """One delivery row per fan, the members read in the same batches, one commit each."""
    import sqlalchemy as sa

    insert = sa.text(
        'INSERT INTO message_deliveries (id, "campaignId", "ownerId", "fanId", channel, topic,'
        ' status, "sendAt", attempts, "nextAttemptAt", "idempotencyKey", "createdAt",'
        ' "updatedAt", version) VALUES (:id, :c, :o, :f, :ch, :t, :s, :at, 0, :at, :k, :at,'
        " :at, 1)"
    )
    select = sa.text(
        'SELECT "userId" FROM segment_members WHERE "segmentId" = :s AND "userId" > :after'
        ' ORDER BY "userId" LIMIT :n'
    )
    # the instant as the store binds it (SQLite keeps naive UTC text)
    at: Any = NOW
    if store.engine.dialect.name == "sqlite":
        at = NOW.replace(tzinfo=None).isoformat(" ", "microseconds")
    after = ""
    written = 0
    while True:
        with store.engine.begin() as conn:
            ids = conn.execute(select, {"s": SEGMENT, "after": after, "n": BATCH}).scalars().all()
            if not ids:
                break
            conn.execute(
                insert,
                [
                    {
                        "id": f"raw-{fid}",
                        "c": "raw",
                        "o": OWNER,
                        "f": fid,
                        "ch": "dm",
                        "t": "promotions",
                        "s": "queued",
                        "at": at,
                        "k": f"raw:{fid}:dm",
                    }
                    for fid in ids
                ],
            )
            after = ids[-1]
            written += len(ids)
    if written != n:
        raise AssertionError(f"raw wrote {written} of {n}")


def _rss_kib() -> int:
    """This process's resident memory now, in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _child(url: str, n: int) -> None:
    """One broadcast in this fresh process: prints its seconds and peak memory growth."""
    import gc

    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(url)
    _broadcast(store, 100, WARM)  # the code paths warmed up (imports, compiled SQL), untimed
    gc.collect()
    before = _rss_kib()
    # the collector stays on: with it off, the garbage of every batch (reference cycles)
    # would pile up and the peak would grow with the audience
    start = time.perf_counter()
    _broadcast(store, n)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    store.close()
    print(json.dumps({"seconds": seconds, "peak_mib": max(0, peak - before) / 1024}))


def _ours(url: str, n: int) -> dict[str, float]:
    """Our broadcast of ``n`` fans in a child process: its seconds and peak memory growth."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(n)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    answer: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def _timed(fn: Any) -> float:
    """The seconds of ``fn``, the collector on (as in our child process)."""
    import gc

    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _workload(label: str, url: str | None, scale: Scale) -> list[Result]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    full = 1_000_000 if _full() else 100_000
    n = scale.n(full, minimum=2000)
    repeat = _repeat()
    with tempfile.TemporaryDirectory() as directory:
        url = url or f"sqlite:///{directory}/broadcast.sqlite3"
        store = SqlAlchemyStore(url, create=True)
        try:
            _reset(store)
            with store.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM segment_members")
                conn.exec_driver_sql("DELETE FROM segments")
                conn.exec_driver_sql("DELETE FROM fans")
            _seed(store, n)
            ours: list[float] = []
            raw: list[float] = []
            peaks: list[float] = []
            for round_ in range(repeat):  # interleaved, each round in the other order
                for which in ("ours", "raw") if round_ % 2 == 0 else ("raw", "ours"):
                    _reset(store)
                    if which == "raw":
                        raw.append(_timed(lambda: _raw(store, n)))
                    else:
                        run = _ours(url, n)
                        ours.append(run["seconds"])
                        peaks.append(run["peak_mib"])
            small = max(1000, n // 10)
            # a tenth of the audience in the same tables: peak memory must not grow with n
            with store.engine.begin() as conn:
                conn.exec_driver_sql(
                    f"DELETE FROM segment_members WHERE \"segmentId\" = '{SEGMENT}'"
                    f" AND \"userId\" >= 'fan-{small:07d}'"
                )
            _reset(store)
            peak_small = _ours(url, small)["peak_mib"]
        finally:
            store.close()
    return [
        Result(
            name=f"broadcast: {label}, {n:,} fans, batches of {BATCH:,}",
            measured=min(ours),
            baseline=min(raw),
            measured_median=statistics.median(ours),
            baseline_median=statistics.median(raw),
            goal="<= 3.0",
            note=(
                f"baseline: raw executemany of one delivery row per fan; {repeat} round(s); "
                f"{n / min(ours):,.0f} messages/s (min), raw {n / min(raw):,.0f} rows/s"
            ),
        ),
        Result(
            name=f"broadcast: {label}, peak memory growth, {n:,} vs {small:,} fans",
            measured=max(peaks),
            baseline=peak_small,
            unit="MiB",
            goal="<= 1.5",
            note="ru_maxrss above the child's memory before the broadcast; flat in the size",
        ),
    ]


def sqlite_broadcast(scale: Scale) -> list[Result]:
    """A broadcast on SQLite vs the raw script."""
    return _workload("SQLite", None, scale)


def postgres_broadcast(scale: Scale) -> list[Result]:
    """A broadcast on PostgreSQL vs the raw script."""
    url = server_database_url(
        "CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL broadcast", suffix="bench_broadcast"
    )
    return _workload("PostgreSQL", url, scale)


BENCHMARKS = [sqlite_broadcast, postgres_broadcast]


if __name__ == "__main__":
    from _harness import format_table

    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)

    scale = Scale(float(os.environ.get("CAMPAIGN_CORE_BENCH_SCALE", "1.0")))
    only = [
        b
        for b in BENCHMARKS
        if not any(a.startswith("--only=") for a in sys.argv)
        or any(b.__name__.startswith(a[7:]) for a in sys.argv if a.startswith("--only="))
    ]
    results: list[Result] = []
    for bench in only:
        try:
            results.extend(bench(scale))
        except Exception as error:  # a missing server: say so and go on
            print(f"skipped {bench.__name__}: {error}", file=sys.stderr)
    print(format_table(results))
