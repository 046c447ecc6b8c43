"""Broadcast to a segment's fans vs a raw script writing one delivery row per fan.

- **Ours**: a campaign with a message to a 100,000-fan segment (1,000,000 with
  ``--full`` or ``CAMPAIGN_CORE_BENCH_BROADCAST_FULL=1``), launched, then ``core.tick()``
  until the broadcast is done: the audience snapshot (delivery rows and cursor in one
  transaction per batch, the rows due now written already leased to the worker, with the
  batch's fans, consent and suppressions, one query each), then the send policy, the
  messenger (a no-op that returns an id), and the outcomes written back (one UPDATE). Batches of 1,000 (``snapshot_batch_size`` and
  ``tick_batch_size``).
- **Raw**: a script with the driver that reads the members in the same batches of 1,000
  and inserts one delivery row per fan (``executemany``), one commit per batch: the
  minimum writes a broadcast needs. Goal: ours at most 3x.
- **Memory**: peak ``tracemalloc`` memory of one broadcast, at the size and at a tenth of
  it: flat in the audience (the snapshot streams, nothing holds every fan).

SQLite always; PostgreSQL with ``CAMPAIGN_CORE_TEST_POSTGRES_URL`` (a ``*_cc_bench``
database). Interleaved and repeated (min and median), as the other benchmarks.
"""

from __future__ import annotations

import os
import sys
import tempfile
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from _harness import Result, Scale, interleaved, server_database_url

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER = "creator-1"
SEGMENT = "seg-bench"
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
        ):
            conn.execute(sa.text(f"DELETE FROM {table}"))


def _broadcast(store: Any, n: int) -> None:
    from campaign_core import Actor

    _reset(store)
    core = _core(store)
    ws = core.for_actor(Actor(OWNER))
    campaign = ws.campaigns.create_campaign(
        name="Bench",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "Bench"},
        segment_ids=[SEGMENT],
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

    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM message_deliveries WHERE \"campaignId\" = 'raw'"))
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


def _peak_mib(store: Any, n: int) -> float:
    tracemalloc.start()
    try:
        _broadcast(store, n)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _workload(label: str, url: str | None, scale: Scale) -> list[Result]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    full = 1_000_000 if _full() else 100_000
    n = scale.n(full, minimum=2000)
    with tempfile.TemporaryDirectory() as directory:
        store = SqlAlchemyStore(url or f"sqlite:///{directory}/broadcast.sqlite3", create=True)
        try:
            _reset(store)
            with store.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM message_deliveries")
                conn.exec_driver_sql("DELETE FROM segment_members")
                conn.exec_driver_sql("DELETE FROM segments")
                conn.exec_driver_sql("DELETE FROM fans")
            _seed(store, n)
            timing = interleaved(
                {"ours": lambda: _broadcast(store, n), "raw": lambda: _raw(store, n)}, repeat=3
            )
            peak = _peak_mib(store, n)
            small = max(1000, n // 10)
            # a tenth of the audience in the same tables: peak memory must not grow with n
            with store.engine.begin() as conn:
                conn.exec_driver_sql(
                    f"DELETE FROM segment_members WHERE \"userId\" >= 'fan-{small:07d}'"
                )
            peak_small = _peak_mib(store, small)
        finally:
            store.close()
    ours, raw = timing["ours"], timing["raw"]
    return [
        Result(
            name=f"broadcast: {label}, {n:,} fans, batches of {BATCH:,}",
            measured=ours.min,
            baseline=raw.min,
            measured_median=ours.median,
            baseline_median=raw.median,
            goal="<= 3.0",
            note=(
                f"baseline: raw executemany of one delivery row per fan; "
                f"{n / ours.min:,.0f} messages/s (min); ratio = ours/raw"
            ),
        ),
        Result(
            name=f"broadcast: {label}, peak memory, {n:,} vs {small:,} fans",
            measured=peak,
            baseline=peak_small,
            unit="MiB",
            goal="<= 1.5",
            note="tracemalloc peak of one broadcast; flat in the audience size",
        ),
    ]


def sqlite_broadcast(scale: Scale) -> list[Result]:
    """A broadcast on SQLite vs the raw script."""
    return _workload("SQLite", None, scale)


def postgres_broadcast(scale: Scale) -> list[Result]:
    """A broadcast on PostgreSQL vs the raw script."""
    url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL broadcast")
    return _workload("PostgreSQL", url, scale)


BENCHMARKS = [sqlite_broadcast, postgres_broadcast]


if __name__ == "__main__":
    from _harness import format_table

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
