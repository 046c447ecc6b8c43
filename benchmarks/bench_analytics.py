"""Analytics at volume on SQLite: batch tracking ingestion and campaign metrics over 1M events.

1. **Ingestion.** 1,000,000 tracking events (one launched campaign with an A/B
   test, four platforms, 100,000 fans; 80 % impressions, 15 % clicks, 4.9 %
   conversions, 0.1 % spend) go through ``ws.analytics.track_events`` in
   batches of 100,000 (the service's limit), one transaction each: every row
   validated, conversions attributed to their last click (in the batch or
   stored), ``campaign_conversions`` rows and A/B counters written, spend
   through the budget rule. The baseline is raw ``sqlite3.executemany`` of the
   same tracking rows into the same migrated table (same indexes, WAL, same
   batches and transactions), with the rows turned into tuples by hand; a
   second line shows the driver alone, fed tuples built before the clock starts.
2. **Metrics.** ``ws.analytics.get_campaign_metrics`` over that campaign's
   1,000,000 events (the cache cleared before every run, so the store's
   ``GROUP BY`` runs each time) vs the hand-written SQL a person would write
   for the same numbers: counters per platform, variant and kind (with the
   first and last event), and ``COUNT(DISTINCT fanId)`` in total, per platform
   and per variant.

Run: ``python benchmarks/run_all.py --only analytics [--scale 0.1]``.
"""

from __future__ import annotations

import gc
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, Scale, interleaved

FULL_EVENTS = 1_000_000
BATCH = 100_000
FANS = 100_000
T0 = datetime(2026, 5, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
PLATFORMS = ("onlyfans", "instagram", "tiktok", "reddit")
COLUMNS = (
    "id",
    "ownerId",
    "campaignId",
    "kind",
    "fanId",
    "platform",
    "variantId",
    "value",
    "occurredAt",
    "createdAt",
)


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes, GC off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _setup(path: Path) -> tuple[Any, Any, str, list[str]]:
    """A migrated SQLite store with one launched campaign and a running A/B test."""
    from campaign_core import Actor, CampaignCore, FakeClock
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path}", create=True)
    core = CampaignCore(store, clock=FakeClock(T0))
    ws = core.for_actor(Actor("bench-owner"))
    campaign = ws.campaigns.create_campaign(
        name="Bench",
        type="ppv",
        platforms=list(PLATFORMS),
        content={"title": "Bench", "price": 25},
        media_urls=["https://cdn.example/bench.jpg"],
    )
    ws.campaigns.launch_campaign(campaign.id)
    test = ws.campaigns.create_ab_test(
        campaign.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    core.clock.set(NOW)  # type: ignore[attr-defined]
    return core, ws, campaign.id, [v.id for v in test.variants]


def make_events(n: int, campaign_id: str, variants: Sequence[str]) -> list[dict[str, Any]]:
    """``n`` tracking events as a host would send them (dicts, aware datetimes), in time order."""
    rng = random.Random(42)
    step = (NOW - T0 - timedelta(minutes=1)) / n
    choices = [*variants, None]
    events: list[dict[str, Any]] = []
    for i in range(n):
        roll = rng.random()
        fan = f"fan-{rng.randrange(FANS)}"
        event: dict[str, Any] = {
            "campaignId": campaign_id,
            "platform": PLATFORMS[i % 4],
            "variantId": choices[i % 3],
            "occurredAt": T0 + step * i,
        }
        if roll < 0.80:
            event["kind"] = "impression"
            event["fanId"] = fan if roll < 0.72 else None
        elif roll < 0.95:
            event["kind"] = "click"
            event["fanId"] = fan
        elif roll < 0.999:
            event["kind"] = "conversion"
            event["fanId"] = fan
            event["value"] = round(rng.uniform(5, 60), 2)
        else:
            event["kind"] = "spend"
            event["value"] = round(rng.uniform(1, 5), 2)
        events.append(event)
    return events


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _utc_text(at: datetime) -> str:
    # what the store writes on SQLite: naive UTC, to the millisecond, microsecond digits
    naive = at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000, tzinfo=None)
    return naive.isoformat(" ", "microseconds")


def _raw_rows(batch: Sequence[dict[str, Any]], offset: int, created: str) -> list[tuple[Any, ...]]:
    return [
        (
            f"raw_{offset + i}",
            "bench-owner",
            e["campaignId"],
            e["kind"],
            e.get("fanId"),
            e.get("platform"),
            e.get("variantId"),
            float(e.get("value", 0.0)),
            _utc_text(e["occurredAt"]),
            created,
        )
        for i, e in enumerate(batch)
    ]


def _insert_sql() -> str:
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    return f"INSERT INTO tracking_events ({cols}) VALUES ({', '.join(['?'] * len(COLUMNS))})"


def bench_sqlite_ingest_and_metrics(scale: Scale) -> list[Result]:
    """1M events through track_events vs raw executemany; metrics vs the hand-written SQL."""
    n = scale.n(FULL_EVENTS, minimum=10_000)
    size = min(BATCH, n)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        core, ws, campaign_id, variants = _setup(root / "ours.sqlite3")
        events = make_events(n, campaign_id, variants)

        def ingest() -> None:
            for batch in batches(events, size):
                ws.analytics.track_events(batch)

        ours_ingest = timed(ingest)
        metrics = ws.analytics.get_campaign_metrics(campaign_id)
        assert metrics.totals.impressions + metrics.totals.clicks > 0.9 * n

        def raw(prebuilt: bool) -> float:
            path = root / f"raw-{prebuilt}.sqlite3"
            _setup(path)[0].close()  # the same migrated table and indexes
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")  # as the store sets it
            sql = _insert_sql()
            created = _utc_text(NOW)
            ready = (
                [_raw_rows(b, i * size, created) for i, b in enumerate(batches(events, size))]
                if prebuilt
                else None
            )

            def run() -> None:
                for i, batch in enumerate(batches(events, size)):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(
                        sql, ready[i] if ready else _raw_rows(batch, i * size, created)
                    )
                    conn.execute("COMMIT")

            seconds = timed(run)
            conn.close()
            return seconds

        raw_ingest = raw(prebuilt=False)
        driver_ingest = raw(prebuilt=True)

        caches = core.runtime.caches.campaign_metrics

        def ours_metrics() -> None:
            caches.invalidate()
            ws.analytics.get_campaign_metrics(campaign_id)

        conn = sqlite3.connect(root / "ours.sqlite3")
        hand = _hand_written(conn, campaign_id)
        check = hand()
        assert check["reach"] == metrics.totals.reach
        reads = interleaved({"ours": ours_metrics, "hand": hand}, repeat=5)
        ours_read, hand_read = reads["ours"].min, reads["hand"].min
        conn.close()
        core.close()
    shape = f"{n:,} events, batches of {size:,}"
    return [
        Result(
            "analytics: SQLite ingest, track_events vs raw sqlite3.executemany",
            ours_ingest,
            raw_ingest,
            goal="<= 2.0",
            note=f"{shape}; ours also attributes conversions, writes campaign_conversions, "
            "A/B counters, budget",
        ),
        Result(
            "analytics: SQLite ingest, track_events vs executemany of pre-built tuples",
            ours_ingest,
            driver_ingest,
            note="driver only: the rows' conversion done before timing",
        ),
        Result(
            "analytics: get_campaign_metrics vs hand-written SQL aggregate",
            ours_read,
            hand_read,
            goal="<= 1.5",
            measured_median=reads["ours"].median,
            baseline_median=reads["hand"].median,
            note=f"one campaign, {n:,} events, 4 platforms, 2 variants; cache cleared each run",
        ),
    ]


def _hand_written(conn: sqlite3.Connection, campaign_id: str) -> Callable[[], dict[str, Any]]:
    """The SQL a person writes for the same numbers (counters, first/last, reach three ways)."""
    counters = (
        'SELECT platform, "variantId", kind, count(*), sum(value), sum(value * value), '
        '"min"("occurredAt"), "max"("occurredAt") FROM tracking_events WHERE "campaignId" = ? '
        'GROUP BY platform, "variantId", kind'
    )
    seen = '"campaignId" = ? AND kind = \'impression\' AND "fanId" IS NOT NULL'
    total = f'SELECT count(DISTINCT "fanId") FROM tracking_events WHERE {seen}'
    per_platform = (
        f'SELECT platform, count(DISTINCT "fanId") FROM tracking_events WHERE {seen} '
        "GROUP BY platform"
    )
    per_variant = (
        f'SELECT "variantId", count(DISTINCT "fanId") FROM tracking_events WHERE {seen} '
        'GROUP BY "variantId"'
    )

    def run() -> dict[str, Any]:
        args = (campaign_id,)
        return {
            "cells": conn.execute(counters, args).fetchall(),
            "reach": conn.execute(total, args).fetchone()[0],
            "platforms": conn.execute(per_platform, args).fetchall(),
            "variants": conn.execute(per_variant, args).fetchall(),
        }

    return run


BENCHMARKS = [bench_sqlite_ingest_and_metrics]
