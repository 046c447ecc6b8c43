"""The seed's welcome series for 100,000 fans, to completion: steps per second, and vs raw sqlite3.

Every fan is enrolled (not timed), then the clock moves 5 minutes, 24 hours and 3
days, with ``tick()`` called until nothing is due after each move. No fan engages,
so each goes through all 7 steps (3 waits, 3 messages, 1 check) in 3 *rounds*
(claim a batch, run the due steps, record the batch). Messages go to a no-op
messenger, so what is measured is the engine and the store.

- memory, SQLite (a file, WAL), PostgreSQL (``CAMPAIGN_CORE_TEST_POSTGRES_URL``) and
  MariaDB (``CAMPAIGN_CORE_TEST_MARIADB_URL``; on the servers a database
  ``<db>_cc_bench`` is used): steps per second;
- SQLite: the ratio to a raw ``sqlite3`` script doing the same minimum writes
  in the same batches: per batch, one transaction that selects due runs and
  writes their leases, then one that updates each run (cursor, wake time, state,
  history so far, lease released), inserts one history row per step, the
  execution row of each finished run and the workflow's counters (goal: at most 3x);
- the peak resident memory of each run (``ru_maxrss`` of a fresh process that
  prepares the fans, enrols them and runs the series; the memory store holds
  everything in that process).

Run: ``python benchmarks/run_all.py --only automation [--scale 0.1]``.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, Scale, server_database_url

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.ports import Store

FULL_FANS = 100_000
BATCH = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PHASES = ("5 minutes", "24 hours", "3 days")
STEPS_PER_FAN = 7

WELCOME: dict[str, Any] = {
    "name": "New Fan Welcome Series",
    "trigger": {"type": "event", "event": "fan.subscribed"},
    "actions": [
        {"type": "wait", "duration": "5 minutes"},
        {"type": "send_message", "template": "welcome_message", "personalize": True},
        {"type": "wait", "duration": "24 hours"},
        {"type": "send_message", "template": "content_showcase", "includeMedia": True},
        {"type": "wait", "duration": "3 days"},
        {
            "type": "check_engagement",
            "condition": "engagement < 1",
            "ifTrue": {"type": "send_message", "template": "re_engagement"},
        },
    ],
}


class NullMessenger:
    """Accepts every message (the provider's cost is not what is measured)."""

    def send(self, **message: Any) -> str:
        return str(message["idempotency_key"])


def _peak_mib() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / scale / 1024


def _prepare(store: Store, n: int) -> tuple[CampaignCore, FakeClock]:
    clock = FakeClock(T0)
    core = CampaignCore(
        store, clock=clock, messenger=NullMessenger(), settings=Settings(tick_batch_size=BATCH)
    )
    ws = core.for_actor(Actor("creator-1"))
    workflow = ws.automations.create_workflow(WELCOME, activate=True)
    fan_ids = [f"fan-{i:06d}" for i in range(n)]
    ws.fans.import_fans({"fan_id": fan_id} for fan_id in fan_ids)
    for start in range(0, n, 50_000):
        ws.automations.enroll_fans(workflow.id, fan_ids[start : start + 50_000])
    return core, clock


def _drive(core: CampaignCore, clock: FakeClock) -> int:
    steps = 0
    for span in PHASES:
        clock.advance(span)
        while True:
            report = core.tick()
            steps += report.automation_steps
            if not report.automation_runs_advanced:
                break
    return steps


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _store(kind: str, target: str) -> Store:
    if kind == "memory":
        from campaign_core_memory import InMemoryStore

        return InMemoryStore()
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if kind == "sqlite":
        return SqlAlchemyStore(f"sqlite:///{target}", create=True)
    store = SqlAlchemyStore(target)
    store.drop_tables()
    store.upgrade()
    return store


def _child(kind: str, target: str, n: int) -> tuple[int, float, float]:
    """Runs in a fresh process: (steps, seconds, peak RSS in MiB)."""
    store = _store(kind, target)
    core, clock = _prepare(store, n)
    steps, seconds = _timed(lambda: _drive(core, clock))
    store.close()
    return steps, seconds, _peak_mib()


def _ours(kind: str, target: str, n: int, label: str) -> tuple[list[Result], float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        steps, seconds, peak = pool.apply(_child, (kind, target, n))
    if steps != n * STEPS_PER_FAN:
        raise AssertionError(f"{label}: {steps} steps, expected {n * STEPS_PER_FAN}")
    results = [
        Result(
            name=f"automation: welcome series, {label}, steps/s",
            measured=steps / seconds,
            unit="st/s",
            note=f"{n:,} fans, {steps:,} steps in {seconds:.1f}s, batches of {BATCH}",
        ),
        Result(
            name=f"automation: welcome series, {label}, peak RSS",
            measured=peak,
            unit="Mi",
            note="peak resident memory (MiB) of the process that ran it",
        ),
    ]
    return results, seconds


def bench_memory(scale: Scale) -> list[Result]:
    """100,000 fans through the welcome series on the in-memory store."""
    n = scale.n(FULL_FANS, minimum=500)
    results, _ = _ours("memory", "", n, "memory")
    return results


# -- the raw sqlite3 baseline ---------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _raw_sqlite(path: Path, n: int) -> float:
    """The same claims and writes as the engine, batch for batch, with sqlite3 and hand-written SQL."""
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path}", create=True)  # the same migrated tables
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    messenger = NullMessenger()
    now = T0
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        'INSERT INTO automations (id, "userId", name, status, "trigger", conditions, actions,'
        ' "executionCount", "createdAt", "updatedAt", settings, "workflowVersion", version)'
        " VALUES ('wf', 'creator-1', 'Welcome', 'active', '{}', '[]', '[]', ?, ?, ?, '{}', 1, 1)",
        (n, _iso(now), _iso(now)),
    )
    wake = now + timedelta(minutes=5)
    conn.executemany(
        'INSERT INTO automation_runs (id, "automationId", "ownerId", "fanId", "workflowVersion",'
        ' "entryKey", "triggerType", "triggerData", status, cursor, "wakeAt", attempts,'
        ' "stepEnteredAt", "stepCount", variables, state, "executedActions", errors, "enteredAt",'
        ' "updatedAt", deadline, "chainDepth", version)'
        " VALUES (?, 'wf', 'creator-1', ?, 1, 'once', 'manual', ?, 'active', 'step-1', ?, 0, ?, 0,"
        " '{}', ?, '[]', '[]', ?, ?, ?, 0, 1)",
        [
            (
                f"run-{i:06d}",
                f"fan-{i:06d}",
                json.dumps({"type": "manual", "context": {}}),
                _iso(wake),
                _iso(now),
                json.dumps({"visits": {}, "step": {"until": wake.isoformat()}}),
                _iso(now),
                _iso(now),
                _iso(now + timedelta(days=90)),
            )
            for i in range(n)
        ],
    )
    conn.execute("COMMIT")
    # what each round does to a run, by the step it is woken at
    rounds = {
        "step-1": (["step-1", "step-2"], "step-3", timedelta(hours=24)),
        "step-3": (["step-3", "step-4"], "step-5", timedelta(days=3)),
        "step-5": (["step-5", "step-6", "step-6.true-1"], None, None),
    }
    counter = 0

    def run() -> int:
        nonlocal now, counter
        steps = 0
        for span in (timedelta(minutes=5), timedelta(hours=24), timedelta(days=3)):
            now = now + span
            while True:
                conn.execute("BEGIN IMMEDIATE")
                rows = conn.execute(
                    'SELECT id, "fanId", cursor, state, "executedActions", "stepCount", version,'
                    ' "enteredAt", "triggerData" FROM automation_runs WHERE status = ? AND'
                    ' "wakeAt" <= ? AND ("leaseUntil" IS NULL OR "leaseUntil" <= ?)'
                    ' ORDER BY "wakeAt", id LIMIT ?',
                    ("active", _iso(now), _iso(now), BATCH),
                ).fetchall()
                lease = _iso(now + timedelta(minutes=5))
                conn.executemany(
                    'UPDATE automation_runs SET "leaseOwner" = ?, "leaseUntil" = ?,'
                    " version = version + 1 WHERE id = ?",
                    [("worker", lease, row[0]) for row in rows],
                )
                conn.execute("COMMIT")
                if not rows:
                    break
                updates, history, executions = [], [], []
                for (
                    run_id,
                    fan_id,
                    cursor,
                    state_text,
                    done_text,
                    count,
                    version,
                    entered,
                    data,
                ) in rows:
                    step_ids, next_cursor, wait = rounds[cursor]
                    state = json.loads(state_text)
                    executed = json.loads(done_text)
                    for step_id in step_ids:
                        output: dict[str, Any] = {}
                        if step_id in ("step-2", "step-4", "step-6.true-1"):
                            key = f"{run_id}:{step_id}:0"
                            output = {"messageId": messenger.send(idempotency_key=key)}
                        state["visits"][step_id] = 1
                        executed.append(
                            {
                                "stepId": step_id,
                                "status": "completed",
                                "at": _iso(now),
                                "output": output,
                            }
                        )
                        counter += 1
                        history.append(
                            (
                                f"step-{counter}",
                                run_id,
                                "wf",
                                "creator-1",
                                fan_id,
                                step_id,
                                "x",
                                "completed",
                                _iso(now),
                                _iso(now),
                                json.dumps(output),
                            )
                        )
                    steps += len(step_ids)
                    if next_cursor is None:
                        updates.append(
                            (
                                "completed",
                                None,
                                None,
                                count + len(step_ids),
                                json.dumps(state),
                                json.dumps(executed),
                                _iso(now),
                                _iso(now),
                                run_id,
                                version + 1,
                            )
                        )
                        executions.append(
                            (
                                f"exec-{run_id}",
                                run_id,
                                fan_id,
                                data,
                                json.dumps(executed),
                                entered,
                                _iso(now),
                            )
                        )
                    else:
                        until = now + wait
                        state["step"] = {"until": until.isoformat()}
                        updates.append(
                            (
                                "active",
                                next_cursor,
                                _iso(until),
                                count + len(step_ids),
                                json.dumps(state),
                                json.dumps(executed),
                                None,
                                _iso(now),
                                run_id,
                                version + 1,
                            )
                        )
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    'UPDATE automation_runs SET status = ?, cursor = ?, "wakeAt" = ?, "stepCount" = ?,'
                    ' state = ?, "executedActions" = ?, "finishedAt" = ?, "updatedAt" = ?,'
                    ' "leaseOwner" = NULL, "leaseUntil" = NULL, version = version + 1'
                    " WHERE id = ? AND version = ?",
                    updates,
                )
                conn.executemany(
                    'INSERT INTO automation_step_runs (id, "runId", "automationId", "ownerId", "fanId",'
                    ' "stepId", "actionType", visit, attempt, status, "startedAt", "finishedAt",'
                    ' "durationMs", output) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, 0, ?)',
                    history,
                )
                if executions:
                    conn.executemany(
                        'INSERT INTO automation_executions (id, "automationId", status, "triggerData",'
                        ' "executedActions", errors, "startedAt", "completedAt", duration, "runId",'
                        " \"fanId\") VALUES (?, 'wf', 'success', ?, ?, '[]', ?, ?, 0, ?, ?)",
                        [(e[0], e[3], e[4], e[5], e[6], e[1], e[2]) for e in executions],
                    )
                    conn.execute(
                        'UPDATE automations SET "successCount" = "successCount" + ? WHERE id = ?',
                        (len(executions), "wf"),
                    )
                conn.execute("COMMIT")
        return steps

    steps, seconds = _timed(run)
    if steps != n * STEPS_PER_FAN:
        raise AssertionError(f"raw sqlite3: {steps} steps")
    conn.close()
    return seconds


def bench_sqlite(scale: Scale) -> list[Result]:
    """100,000 fans on SQLite (file, WAL): steps/s and the ratio to raw sqlite3."""
    n = scale.n(FULL_FANS, minimum=500)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        results, ours_s = _ours("sqlite", str(root / "ours.sqlite3"), n, "SQLite")
        raw_s = _raw_sqlite(root / "raw.sqlite3", n)
    return [
        *results,
        Result(
            name="automation: welcome series, SQLite vs raw sqlite3",
            measured=ours_s,
            baseline=raw_s,
            goal="<= 3.0",
            note=f"{n:,} fans; raw: same claims, updates and inserts per batch of {BATCH}",
        ),
    ]


def bench_postgres(scale: Scale) -> list[Result]:
    """100,000 fans on PostgreSQL: steps/s."""
    n = scale.n(FULL_FANS, minimum=500)
    url = server_database_url("CAMPAIGN_CORE_TEST_POSTGRES_URL", "PostgreSQL")
    results, _ = _ours("postgres", url, n, "PostgreSQL")
    return results


def bench_mariadb(scale: Scale) -> list[Result]:
    """100,000 fans on MariaDB: steps/s."""
    n = scale.n(FULL_FANS, minimum=500)
    url = server_database_url("CAMPAIGN_CORE_TEST_MARIADB_URL", "MariaDB")
    results, _ = _ours("mariadb", url, n, "MariaDB")
    return results


BENCHMARKS = [bench_memory, bench_sqlite, bench_postgres, bench_mariadb]
