"""The abandoned-purchase journey for 100,000 fans, half of them buying: steps/s, vs raw writes.

The journey (``docs/howto/journeys.md``): a ``wait_until`` for ``purchase`` with a 24-hour
timeout, then a reminder for those who did not buy. Every fan is enrolled (not timed);
then, over the 24 hours (a ``FakeClock``), half of the fans, drawn at random, buy at a
random instant: each purchase is one ``fans.record_event`` (which wakes that fan's
waiting run), and ``tick()`` runs every simulated hour until nothing is due. At the
24-hour mark the other half time out and get the reminder. Steps: one per buyer (the
wait, event branch), two per other fan (the wait, timeout branch; the reminder).

- SQLite (a file, WAL) and PostgreSQL (``CAMPAIGN_CORE_TEST_POSTGRES_URL``, in a database
  ``<db>_cc_journey``): steps per second, and the ratio to a **raw script doing the
  minimum writes** on the same prepared database (SQLAlchemy Core statements, no
  repository, no engine): per purchase, one transaction inserting the event, moving the
  fan's last activity, reading the fan's active runs and making the waiting one due; per
  batch of 1,000 due runs, one transaction that selects them and writes their leases,
  one read of the batch's purchase events, and one transaction updating each run,
  inserting its history rows and execution row and the workflow's counters. Goal: at
  most 3x. Ours and the raw script are timed interleaved, ``repeat`` rounds, each on a
  freshly prepared database; min and median are reported.
- The statements of waking waiting runs on an event: one ``record_event("purchase")``
  with 1,000 and with 100,000 runs waiting, on SQLite: the same count, and each read of
  ``automation_runs`` filtered by owner and fan (an index), never a scan of the waiting runs.

Run: ``python benchmarks/run_all.py --only journey [--scale 0.01]``.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Result, Scale, SkipBenchmark

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.ports import Store

FULL_FANS = 100_000
BATCH = 1000
REPEAT = int(os.environ.get("JOURNEY_REPEAT", "3"))  # rounds of each contender
T0 = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = "creator-1"

ABANDONED_PURCHASE: dict[str, Any] = {
    "name": "Abandoned purchase",
    "trigger": {"type": "event", "event": "checkout.started"},
    "actions": [
        {
            "type": "wait_until",
            "id": "purchased",
            "event": "purchase",
            "timeout": "24 hours",
            "onTimeout": [{"type": "send_message", "template": "complete_your_purchase"}],
        },
    ],
}


class NullMessenger:
    """Accepts every message (the provider's cost is not what is measured)."""

    def send(self, **message: Any) -> str:
        return str(message["idempotency_key"])


def _purchases(n: int) -> list[tuple[timedelta, str]]:
    """Half of the fans, each buying at a random instant within the 24 hours (sorted)."""
    rng = random.Random(19)
    buyers = rng.sample(range(n), n // 2)
    times = [timedelta(milliseconds=rng.randrange(1, 24 * 3600 * 1000)) for _ in buyers]
    return sorted((t, f"fan-{i:06d}") for t, i in zip(times, buyers))


def _core(store: Store, clock: FakeClock) -> CampaignCore:
    return CampaignCore(
        store, clock=clock, messenger=NullMessenger(), settings=Settings(tick_batch_size=BATCH)
    )


def _prepare(store: Store, n: int) -> str:
    """Fans imported, the journey active, every fan enrolled at T0 (waiting). Not timed."""
    core = _core(store, FakeClock(T0))
    ws = core.for_actor(Actor(OWNER))
    workflow = ws.automations.create_workflow(ABANDONED_PURCHASE, activate=True)
    fan_ids = [f"fan-{i:06d}" for i in range(n)]
    ws.fans.import_fans({"fan_id": fan_id} for fan_id in fan_ids)
    for start in range(0, n, 50_000):
        ws.automations.enroll_fans(workflow.id, fan_ids[start : start + 50_000])
    return workflow.id


def _hours(
    purchases: list[tuple[timedelta, str]],
) -> list[tuple[datetime, list[tuple[datetime, str]]]]:
    """(end of the hour, the purchases in it) for the 24 hours."""
    out: list[tuple[datetime, list[tuple[datetime, str]]]] = []
    i = 0
    for hour in range(1, 25):
        end = T0 + timedelta(hours=hour)
        chunk = []
        while i < len(purchases) and T0 + purchases[i][0] < end:
            chunk.append((T0 + purchases[i][0], purchases[i][1]))
            i += 1
        out.append((end, chunk))
    return out


def _ours(store: Store, n: int) -> int:
    """The journey through the public API: purchases recorded, ``tick()`` every hour."""
    clock = FakeClock(T0)
    core = _core(store, clock)
    ws = core.for_actor(Actor(OWNER))
    steps = 0

    def drain() -> None:
        nonlocal steps
        while True:
            report = core.tick()
            steps += report.automation_steps
            if not report.automation_runs_advanced:
                return

    for end, chunk in _hours(_purchases(n)):
        for at, fan_id in chunk:
            clock.set(at)
            ws.fans.record_event(fan_id, "purchase", value=20.0)
        clock.set(end)
        drain()
    return steps


# -- the raw script: the minimum writes, with SQLAlchemy Core --------------------------------


def _raw(store: Store, n: int, workflow_id: str) -> int:
    import sqlalchemy as sa

    from campaign_core_sqlalchemy._schema import (
        automation_executions as executions_t,
    )
    from campaign_core_sqlalchemy._schema import (
        automation_runs as runs_t,
    )
    from campaign_core_sqlalchemy._schema import (
        automation_step_runs as steps_t,
    )
    from campaign_core_sqlalchemy._schema import (
        automations as automations_t,
    )
    from campaign_core_sqlalchemy._schema import (
        fan_events as events_t,
    )
    from campaign_core_sqlalchemy._schema import (
        fans as fans_t,
    )

    engine: sa.Engine = store.engine  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    messenger = NullMessenger()
    counter = 0
    steps = 0
    r = runs_t.c
    wake_run = (
        sa.update(runs_t)
        .where(r.id == sa.bindparam("b_id"), r.version == sa.bindparam("b_version"))
        .values(wakeAt=sa.bindparam("b_at"), updatedAt=sa.bindparam("b_at"), version=r.version + 1)
    )
    lease = (
        sa.update(runs_t)
        .where(r.id == sa.bindparam("b_id"))
        .values(leaseOwner="raw", leaseUntil=sa.bindparam("b_until"), version=r.version + 1)
    )
    finish = (
        sa.update(runs_t)
        .where(r.id == sa.bindparam("b_id"), r.version == sa.bindparam("b_version"))
        .values(
            status="completed",
            cursor=None,
            wakeAt=None,
            stepCount=sa.bindparam("b_count"),
            state=sa.bindparam("b_state"),
            executedActions=sa.bindparam("b_done"),
            finishedAt=sa.bindparam("b_at"),
            updatedAt=sa.bindparam("b_at"),
            leaseOwner=None,
            leaseUntil=None,
            outcome="completed",
            version=r.version + 1,
        )
    )

    def purchase(at: datetime, fan_id: str) -> None:
        nonlocal counter
        counter += 1
        with engine.begin() as conn:
            conn.execute(
                sa.insert(events_t),
                {
                    "id": f"ev-{counter}",
                    "ownerId": OWNER,
                    "fanId": fan_id,
                    "name": "purchase",
                    "occurredAt": at,
                    "properties": {},
                    "value": 20.0,
                    "createdAt": at,
                },
            )
            conn.execute(
                sa.update(fans_t)
                .where(fans_t.c.ownerId == OWNER, fans_t.c.fanId == fan_id)
                .values(lastActivityAt=at, updatedAt=at, version=fans_t.c.version + 1)
            )
            rows = conn.execute(
                sa.select(r.id, r.version, r.wakeAt).where(
                    r.ownerId == OWNER, r.fanId == fan_id, r.status == "active"
                )
            ).all()
            for run_id, version, _ in rows:
                conn.execute(wake_run, {"b_id": run_id, "b_version": version, "b_at": at})

    def tick(now: datetime) -> None:
        nonlocal steps, counter
        while True:
            with engine.begin() as conn:
                query = (
                    sa.select(
                        r.id,
                        r.fanId,
                        r.version,
                        r.state,
                        r.executedActions,
                        r.stepCount,
                        r.stepEnteredAt,
                        r.enteredAt,
                        r.triggerData,
                    )
                    .where(
                        r.status == "active",
                        r.wakeAt <= now,
                        sa.or_(r.leaseUntil.is_(None), r.leaseUntil <= now),
                    )
                    .order_by(r.wakeAt, r.id)
                    .limit(BATCH)
                )
                if postgres:
                    query = query.with_for_update(skip_locked=True)
                due = conn.execute(query).all()
                if due:
                    conn.execute(
                        lease,
                        [{"b_id": row[0], "b_until": now + timedelta(minutes=5)} for row in due],
                    )
            if not due:
                return
            with engine.begin() as conn:
                bought = {
                    fan_id
                    for (fan_id,) in conn.execute(
                        sa.select(events_t.c.fanId).where(
                            events_t.c.ownerId == OWNER,
                            events_t.c.fanId.in_([row[1] for row in due]),
                            events_t.c.name == "purchase",
                            events_t.c.occurredAt >= T0,
                            events_t.c.occurredAt <= now,
                        )
                    )
                }
            updates, history, done_rows = [], [], []
            for run_id, fan_id, version, state, executed, count, _, entered, data in due:
                taken = ["purchased"] if fan_id in bought else ["purchased", "purchased.timeout-1"]
                executed = list(executed)
                for step_id in taken:
                    output: dict[str, Any] = {}
                    if step_id == "purchased.timeout-1":
                        output = {
                            "messageId": messenger.send(idempotency_key=f"{run_id}:{step_id}:0")
                        }
                    executed.append({"stepId": step_id, "status": "completed", "output": output})
                    counter += 1
                    history.append(
                        {
                            "id": f"sr-{counter}",
                            "runId": run_id,
                            "automationId": workflow_id,
                            "ownerId": OWNER,
                            "fanId": fan_id,
                            "stepId": step_id,
                            "actionType": "x",
                            "visit": 0,
                            "attempt": 1,
                            "status": "completed",
                            "startedAt": now,
                            "finishedAt": now,
                            "durationMs": 0,
                            "output": output,
                        }
                    )
                steps += len(taken)
                updates.append(
                    {
                        "b_id": run_id,
                        "b_version": version + 1,
                        "b_count": count + len(taken),
                        "b_state": {**state, "step": {}},
                        "b_done": executed,
                        "b_at": now,
                    }
                )
                done_rows.append(
                    {
                        "id": f"ex-{run_id}",
                        "automationId": workflow_id,
                        "status": "success",
                        "triggerData": data,
                        "executedActions": executed,
                        "errors": [],
                        "startedAt": entered,
                        "completedAt": now,
                        "duration": 0,
                        "runId": run_id,
                        "fanId": fan_id,
                    }
                )
            with engine.begin() as conn:
                conn.execute(finish, updates)
                conn.execute(sa.insert(steps_t), history)
                conn.execute(sa.insert(executions_t), done_rows)
                conn.execute(
                    sa.update(automations_t)
                    .where(automations_t.c.id == workflow_id)
                    .values(successCount=automations_t.c.successCount + len(done_rows))
                )

    for end, chunk in _hours(_purchases(n)):
        for at, fan_id in chunk:
            purchase(at, fan_id)
        tick(end)
    return steps


# -- driving ---------------------------------------------------------------------------------


def _open(kind: str, target: str) -> Store:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if kind == "sqlite":
        path = Path(target)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return SqlAlchemyStore(f"sqlite:///{path}", create=True)
    store = SqlAlchemyStore(target)
    store.drop_tables()
    store.upgrade()
    return store


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _compare(kind: str, target: str, n: int, label: str) -> list[Result]:
    expected = (n // 2) + 2 * (n - n // 2)
    times: dict[str, list[float]] = {"ours": [], "raw": []}

    def one(name: str) -> float:
        store = _open(kind, target)
        try:
            workflow_id = _prepare(store, n)
            if name == "ours":
                steps, seconds = _timed(lambda: _ours(store, n))
            else:
                steps, seconds = _timed(lambda: _raw(store, n, workflow_id))
        finally:
            store.close()
        if steps != expected:
            raise AssertionError(f"{label} {name}: {steps} steps, expected {expected}")
        return seconds

    for round_ in range(REPEAT):
        order = ["ours", "raw"] if round_ % 2 == 0 else ["raw", "ours"]
        for name in order:
            times[name].append(one(name))
            print(f"  {label} round {round_ + 1}: {name} {times[name][-1]:.1f}s", file=sys.stderr)
    ours_min, raw_min = min(times["ours"]), min(times["raw"])
    return [
        Result(
            name=f"journey: abandoned purchase, {label}, steps/s",
            measured=expected / ours_min,
            unit="st/s",
            note=(
                f"{n:,} fans, {n // 2:,} purchases, {expected:,} steps in {ours_min:.1f}s (min of"
                f" {REPEAT}; median {statistics.median(times['ours']):.1f}s)"
            ),
        ),
        Result(
            name=f"journey: abandoned purchase, {label} vs raw writes",
            measured=ours_min,
            baseline=raw_min,
            goal="<= 3.0",
            measured_median=statistics.median(times["ours"]),
            baseline_median=statistics.median(times["raw"]),
            note=f"raw: Core statements, the minimum writes; {REPEAT} interleaved rounds",
        ),
    ]


def bench_sqlite(scale: Scale) -> list[Result]:
    """100,000 fans on SQLite (file, WAL): steps/s and the ratio to the raw writes."""
    n = scale.n(FULL_FANS, minimum=200)
    with tempfile.TemporaryDirectory() as folder:
        return _compare("sqlite", str(Path(folder) / "journey.sqlite3"), n, "SQLite")


def _postgres_url() -> str:
    base = os.environ.get("CAMPAIGN_CORE_TEST_POSTGRES_URL")
    if not base:
        raise SkipBenchmark("set CAMPAIGN_CORE_TEST_POSTGRES_URL to run the PostgreSQL workload")
    import sqlalchemy as sa

    url = sa.make_url(base)
    name = f"{url.database}_cc_journey"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def bench_postgres(scale: Scale) -> list[Result]:
    """100,000 fans on PostgreSQL: steps/s and the ratio to the raw writes."""
    n = scale.n(FULL_FANS, minimum=200)
    return _compare("postgres", _postgres_url(), n, "PostgreSQL")


def _wake_statements(n: int) -> tuple[int, list[str]]:
    """The statements of one purchase with ``n`` runs waiting (SQLite)."""
    from sqlalchemy import event as sa_event

    with tempfile.TemporaryDirectory() as folder:
        store = _open("sqlite", str(Path(folder) / "wake.sqlite3"))
        _prepare(store, n)
        core = _core(store, FakeClock(T0 + timedelta(hours=1)))
        ws = core.for_actor(Actor(OWNER))
        statements: list[str] = []

        def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()))

        engine = store.engine  # type: ignore[attr-defined]
        sa_event.listen(engine, "before_cursor_execute", capture)
        try:
            ws.fans.record_event(f"fan-{n // 2:06d}", "purchase", value=20.0)
        finally:
            sa_event.remove(engine, "before_cursor_execute", capture)
        store.close()
    runs = [s for s in statements if "automation_runs" in s]
    for statement in runs:
        if statement.upper().startswith("SELECT") and '"fanId" =' not in statement:
            raise AssertionError(f"a read of automation_runs not by fan: {statement}")
    return len(statements), runs


def bench_wake_statements(scale: Scale) -> list[Result]:
    """Statements of one purchase waking its fan's run, with 1,000 and 100,000 runs waiting."""
    out = []
    for n in (1000, scale.n(FULL_FANS, minimum=2000)):
        count, runs = _wake_statements(n)
        kinds = ", ".join(s.split(" ")[0] for s in runs)
        out.append(
            Result(
                name=f"journey: statements of one purchase, {n:,} runs waiting",
                measured=count,
                unit="stmts",
                note=f"on automation_runs: {kinds} (by owner, fan and status; SQLite)",
            )
        )
    return out


BENCHMARKS = [bench_wake_statements, bench_sqlite, bench_postgres]
