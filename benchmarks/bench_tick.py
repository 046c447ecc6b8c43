"""``tick()`` launching due campaigns and their first publish, per launched campaign, on SQLite.

Each round makes a fresh SQLite file (WAL) with ``N`` campaigns due (one platform
each), then times, interleaved with the other contenders (min and median of the
rounds):

- ``tick``: the whole ``core.tick()``, divided by the campaigns it launched (the
  issue's target: at most 3 ms a launched campaign; the ratio is against 3 ms);
- ``launch + first publish``: ``launch_due_campaigns`` and ``process_due_publish_jobs``,
  against the same work done the way it was before it was batched: each campaign
  launched in its own transaction (``launch_scheduled``), each job's campaign and
  credential read and its outcome written in transactions of its own.

Run: ``python benchmarks/run_all.py --only tick``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from _harness import Result, Scale

from campaign_core import CampaignCore, FakeClock
from campaign_core.jobs import launches, publishing
from campaign_core.permissions import Actor
from campaign_core.query import Eq, Order
from campaign_core_sqlalchemy import SqlAlchemyStore

#: the issue's target for one launched campaign, in seconds
TARGET = 0.003


def _due(directory: Path, count: int) -> tuple[SqlAlchemyStore, CampaignCore]:
    store = SqlAlchemyStore(f"sqlite:///{directory / 'tick.sqlite3'}", create=True)
    clock = FakeClock()
    core = CampaignCore(store, clock=clock)
    ws = core.for_actor(Actor("bench-owner"))
    at = clock.now() + timedelta(hours=1)
    for n in range(count):
        ws.campaigns.create_campaign(
            name=f"Sale {n}",
            type="promotion",
            platforms=["reddit"],
            content={"title": "Spring", "description": "20% off"},
            scheduled_for=at,
        )
    clock.set(at + timedelta(minutes=1))
    return store, core


def _tick(core: CampaignCore) -> None:
    core.tick()


def _batched(core: CampaignCore) -> None:
    rt = core.runtime
    launches.launch_due_campaigns(rt, rt.settings.tick_batch_size)
    publishing.process_due_publish_jobs(rt, rt.settings.tick_batch_size)


def _one_by_one(core: CampaignCore) -> None:
    """The same work in the shape it had before: a transaction per campaign and per job step."""
    rt = core.runtime
    launches._launch_one_by_one(rt, rt.settings.tick_batch_size, set())
    now = rt.now()
    with rt.transaction() as tx:
        claimed = tx.uow.publish_jobs.claim(
            Eq("status", "pending"),
            order_by=[Order("id")],
            limit=rt.settings.tick_batch_size,
            owner=rt.worker_id,
            until=now + rt.settings.lease_duration,
            now=now,
        )
    for job in claimed:
        publishing._attempt_isolated(rt, job)  # no prefetch, each outcome written at once


def _timed(
    contenders: dict[str, Callable[[CampaignCore], None]], count: int, repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds per launched campaign, wall and CPU (this process), each round on a fresh store.

    The contenders are rotated each round. The CPU time leaves out the other
    processes of a loaded machine and the waits for the disk.
    """
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            with tempfile.TemporaryDirectory() as tmp:
                store, core = _due(Path(tmp), count)
                try:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    contenders[name](core)
                    samples[name].append((time.perf_counter() - start) / count)
                    cpu[name].append((time.process_time() - start_cpu) / count)
                    with store.unit_of_work() as uow:
                        launched = uow.publish_jobs.count(Eq("status", "published"))
                    assert launched == count, (name, launched)
                finally:
                    store.close()
    return samples, cpu


def bench_tick_sqlite(scale: Scale) -> list[Result]:
    """ms per launched campaign: the whole tick against 3 ms; the launch path against its old shape."""
    count = scale.n(100, 10)
    samples, cpu = _timed(
        {"tick": _tick, "batched": _batched, "one_by_one": _one_by_one}, count, repeat=7
    )
    tick, batched, before = samples["tick"], samples["batched"], samples["one_by_one"]
    return [
        Result(
            f"tick(): {count} due campaigns launched and published (SQLite), per campaign",
            min(tick),
            TARGET,
            goal="<= 1.0",
            note=f"baseline: the 3 ms target; CPU {min(cpu['tick']) * 1000:.2f} ms min, "
            f"{statistics.median(cpu['tick']) * 1000:.2f} ms median",
            measured_median=statistics.median(tick),
            baseline_median=TARGET,
        ),
        Result(
            f"launch + first publish, {count} campaigns (SQLite), per campaign",
            min(batched),
            min(before),
            note="baseline: a transaction per campaign and per job step, as before batching; "
            f"CPU ratio {min(cpu['batched']) / min(cpu['one_by_one']):.2f}x",
            measured_median=statistics.median(batched),
            baseline_median=statistics.median(before),
        ),
    ]


BENCHMARKS = [bench_tick_sqlite]
