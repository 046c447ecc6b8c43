"""What every part of the engine shares: definitions, entering and finishing steps, stopping runs."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.automation import AutomationSettings, OverduePolicy, Workflow
from campaign_core.delivery import SendPolicy, next_local
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.jobs.automation._definitions import (
    compile_definition,
    definition_of,
    field_registry,
)
from campaign_core.jobs.automation._ports import AutomationPorts
from campaign_core.jobs.automation._state import (
    OPEN,
    Outcome,
    RunState,
    T,
    execution_status,
    iso,
    read,
    zone_of,
)
from campaign_core.models import (
    Automation,
    AutomationExecution,
    AutomationStatus,
    ExecutionStatus,
    Fan,
    RunStatus,
)
from campaign_core.query import And, Cond, Eq, In, Order
from campaign_core.serialization import format_datetime

__all__ = ["EngineBase"]

_log = logging.getLogger("campaign_core.automation")


class EngineBase:
    """What the parts of the engine share (see :class:`~campaign_core.jobs.automation.Engine`)."""

    def __init__(self, rt: Runtime, ports: AutomationPorts) -> None:
        self.rt = rt
        self.ports = ports
        self.cfg: AutomationSettings = rt.settings.automation
        self.send_policy = SendPolicy(rt.settings.messaging, self.cfg.default_time_zone)
        self.registry = field_registry(rt)
        self._rt_caches = rt.caches
        # SQL stores have indexes and a bulk insert path; the in-memory store scans for every
        # query but gets and updates by id in O(1): each gets the access pattern that suits it
        # a database: read in batches, check unique keys before writing (see StoreCapabilities)
        self._sql = rt.store.capabilities().batched_queries

    def _query(self, reader: Callable[[Tx], T]) -> T:
        """A read while planning; a failure of the store aborts the batch instead of the step."""
        return read(self.rt, reader)

    # -- definitions --------------------------------------------------------------------
    def current(self, automation: Automation) -> Workflow:
        """The workflow an automation row defines now.

        Compiled workflows are the seed's "automation rules" cache (30 minutes,
        bounded): the key includes the row's versions, so an edit is never
        served stale; only the compiling is saved.
        """
        key = (automation.user_id, automation.id, automation.workflow_version, automation.version)
        cache = self._rt_caches.automation_rules
        found = cache.get(key)
        if not isinstance(found, Workflow):
            found = compile_definition(definition_of(automation), self.registry)
            cache.put(key, found)
        return found

    def pinned(
        self, tx: Tx, automations: Mapping[str, Automation], keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], Workflow | ValidationError]:
        """The workflows that runs follow: (automation id, workflow version) -> workflow.

        The current version comes from the automation row (cached), older ones from
        ``automation_versions``; a definition that no longer compiles maps to its error.
        """
        out: dict[tuple[str, int], Workflow | ValidationError] = {}
        older: dict[str, set[int]] = defaultdict(set)
        for automation_id, version in keys:
            automation = automations.get(automation_id)
            if automation is not None and automation.workflow_version == version:
                try:
                    out[(automation_id, version)] = self.current(automation)
                except ValidationError as error:
                    out[(automation_id, version)] = error
            else:
                older[automation_id].add(version)
        if older:
            rows = tx.uow.automation_versions.find(
                And(
                    In("automation_id", list(older)),
                    In("workflow_version", sorted({v for vs in older.values() for v in vs})),
                )
            )
            for row in rows:
                if row.workflow_version in older.get(row.automation_id, ()):
                    try:
                        out[(row.automation_id, row.workflow_version)] = compile_definition(
                            row.definition, self.registry
                        )
                    except ValidationError as error:
                        out[(row.automation_id, row.workflow_version)] = error
        return out

    # -- entering steps -------------------------------------------------------------------
    def _enter(
        self, st: RunState, step_id: str | None, workflow: Workflow, fan: Fan | None, now: datetime
    ) -> None:
        """Move the cursor to ``step_id`` (or finish); arm a wait at once."""
        st.attempts = 0
        st.step_entered_at = now
        step_state: dict[str, Any] = {}
        if st.state.get("skipOverdue"):
            step_state["skipOverdue"] = True
        st.state["step"] = step_state
        st.state.pop("skipOverdue", None)
        if step_id is None:
            st.cursor = None
            self._finish(st, RunStatus.COMPLETED, "completed", now)
            return
        st.cursor = step_id
        step = workflow.step(step_id)
        wake = now
        if step is not None and step.type == "wait":
            if step.duration is not None:
                until = now + step.duration
            elif step.until_time is not None:
                until = next_local(now, step.until_time, zone_of(fan, workflow, self.cfg))
            else:
                assert step.until_at is not None
                until = max(step.until_at, now)
            step_state["until"] = format_datetime(until)
            wake = until
        elif step is not None and step.type == "wait_until":
            # asleep until the timeout; an awaited event recorded meanwhile wakes the run
            # early (see ``wake_waiting``)
            assert step.duration is not None
            until = now + step.duration
            step_state["until"] = format_datetime(until)
            # a segment wait looks at the membership at once (a fan already in goes on)
            wake = now if "segment" in step.params else until
        deadline = st.run.deadline
        st.wake_at = min(wake, deadline) if deadline is not None else wake

    def _finish(self, st: RunState, status: RunStatus, outcome: str, now: datetime) -> None:
        st.status = status
        st.outcome = outcome
        st.finished_at = now
        st.wake_at = None
        if status in (RunStatus.COMPLETED, RunStatus.EXITED):
            st.cursor = None

    def _execution(self, outcome: Outcome) -> AutomationExecution:
        run = outcome.run
        completed = run.finished_at or run.updated_at
        return AutomationExecution(
            id=self.rt.ids.new_id("execution"),
            automation_id=run.automation_id,
            status=execution_status(run.status, run.errors),
            trigger_data=run.trigger_data,
            executed_actions=run.executed_actions,
            errors=run.errors
            if run.status not in (RunStatus.CANCELLED,)
            else (*run.errors, {"error": run.outcome or "cancelled", "at": iso(completed)}),
            started_at=run.entered_at,
            completed_at=completed,
            duration=max(0, int((completed - run.entered_at).total_seconds() * 1000)),
            run_id=run.id,
            fan_id=run.fan_id,
        )

    # -- cancelling, holding, resuming ----------------------------------------------------
    def stop_runs(
        self, tx: Tx, where: Cond, status: RunStatus, reason: str, *, limit: int | None = None
    ) -> int:
        """End every open run matching ``where`` (in ``tx``), writing their history rows."""
        now = self.rt.now()
        runs = tx.uow.automation_runs.find(
            And(where, In("status", OPEN)), order_by=[Order("id")], limit=limit
        )
        stopped = 0
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for run in runs:
            for _ in range(3):
                st = RunState.of(run)
                self._finish(st, status, reason, now)
                try:
                    tx.uow.automation_runs.update(st.record(now))
                except ConflictError:
                    fresh = tx.uow.automation_runs.get(run.id)
                    if fresh is None or fresh.status not in OPEN:
                        break
                    run = fresh
                    continue
                outcome = Outcome(run=st.record(now), trigger_type=run.trigger_type, finished=True)
                execution = self._execution(outcome)
                tx.uow.automation_executions.add(execution)
                if execution.status is ExecutionStatus.FAILURE:
                    counters[run.automation_id]["failure_count"] += 1
                elif execution.status is ExecutionStatus.SUCCESS:
                    counters[run.automation_id]["success_count"] += 1
                stopped += 1
                break
        for automation_id, deltas in counters.items():
            with contextlib.suppress(NotFoundError):
                tx.uow.automations.increment(automation_id, dict(deltas))
        return stopped

    def resume(self, tx: Tx, automation: Automation, policy: OverduePolicy) -> int:
        """Wake the held runs of a re-activated workflow, applying the overdue policy."""
        now = self.rt.now()
        resumed = 0
        while True:
            held = tx.uow.automation_runs.find(
                And(Eq("automation_id", automation.id), Eq("status", RunStatus.HELD)),
                order_by=[Order("id")],
                limit=1000,
            )
            if not held:
                return resumed
            for run in held:
                overdue = run.wake_at is not None and run.wake_at <= now
                if overdue and policy is OverduePolicy.CANCEL:
                    self.stop_runs(
                        tx, Eq("id", run.id), RunStatus.CANCELLED, "overdue when resumed"
                    )
                    continue
                state = dict(run.state)
                if overdue and policy is OverduePolicy.SKIP_OVERDUE:
                    state["step"] = {**state.get("step", {}), "skipOverdue": True}
                    state["skipOverdue"] = True
                tx.uow.automation_runs.update(
                    attrs.evolve(
                        run,
                        status=RunStatus.ACTIVE,
                        state=state,
                        updated_at=now,
                        version=run.version + 1,
                    )
                )
                resumed += 1

    def heal_held(self) -> int:
        """Resume held runs whose workflow is active again (a resume that raced a hold)."""
        with self.rt.transaction() as tx:
            held = tx.uow.automation_runs.find(Eq("status", RunStatus.HELD), limit=200)
            ids = sorted({r.automation_id for r in held})
            active = (
                [
                    a
                    for a in tx.uow.automations.find(In("id", ids))
                    if a.status is AutomationStatus.ACTIVE
                ]
                if ids
                else []
            )
            healed = 0
            for automation in active:
                policy = self.current(automation).settings.overdue_policy
                healed += self.resume(tx, automation, policy)
        return healed
