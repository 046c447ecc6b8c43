"""Enrolment: fan events, segment entries and manual starts turn into runs."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from campaign_core._runtime import Tx
from campaign_core.automation import Reentry, Step, TriggerType, Workflow, match_properties
from campaign_core.criteria import (
    AllOf,
    AnyOf,
    CompiledCriteria,
    EventCondition,
    InSegment,
    Node,
    Not,
    compile_criteria,
)
from campaign_core.errors import CampaignCoreError, ConflictError, ValidationError
from campaign_core.jobs.automation._base import EngineBase
from campaign_core.jobs.automation._state import AUTOMATION_MARK, RunState, ms
from campaign_core.models import (
    Automation,
    AutomationRun,
    AutomationStatus,
    Fan,
    FanEvent,
    RunStatus,
)
from campaign_core.query import And, Eq, Gte, In, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = ["Enrolment"]

_log = logging.getLogger("campaign_core.automation")


class Enrolment(EngineBase):
    """Starts runs for fans that may enter a workflow."""

    # -- enrolment ----------------------------------------------------------------------
    def enrol(
        self,
        tx: Tx,
        automation: Automation,
        workflow: Workflow,
        fans: Sequence[Fan],
        *,
        entry: str,
        trigger_data: Callable[[Fan], dict[str, Any]],
        depth: int = 0,
        check_conditions: bool = True,
        trigger_type: str | None = None,
    ) -> list[AutomationRun]:
        """Start runs for the fans that may enter (conditions, opt-out, re-entry policy).

        Returns the runs created (in ``tx``; nothing runs until ``tick()``).
        """
        now = self.rt.now()
        if depth > self.cfg.max_chain_depth:
            _log.warning(
                "not enrolling %d fan(s) in %s: automation-emitted event chain deeper than %d",
                len(fans),
                automation.id,
                self.cfg.max_chain_depth,
            )
            return []
        candidates = [f for f in fans if not f.opted_out]
        if check_conditions and workflow.criteria is not None and candidates:
            candidates = self.passing(tx, workflow.criteria.root, candidates, now, automation.id)
        if not candidates:
            return []
        settings = workflow.settings
        existing: list[AutomationRun] = []
        if self._sql or settings.reentry is Reentry.ONCE_PER_WINDOW:
            # (elsewhere the unique entry key alone keeps a fan from entering twice)
            existing = tx.uow.automation_runs.find(
                And(
                    Eq("automation_id", automation.id),
                    In("fan_id", [f.fan_id for f in candidates]),
                )
            )
        by_fan: dict[str, list[AutomationRun]] = defaultdict(list)
        for run in existing:
            by_fan[run.fan_id].append(run)
        window = settings.reentry_window or timedelta(days=1)
        if settings.reentry is Reentry.NEVER:
            key = "once"
        elif settings.reentry is Reentry.ONCE_PER_WINDOW:
            # a bucket per window makes two racing enrolments collide on the unique key
            key = f"window:{ms(now) // max(1, int(window.total_seconds() * 1000))}"
        else:
            key = entry
        timeout = settings.timeout or self.cfg.default_timeout
        runs: list[AutomationRun] = []
        for fan in candidates:
            previous = by_fan.get(fan.fan_id, [])
            if any(r.entry_key == key for r in previous):
                continue
            if settings.reentry is Reentry.NEVER and previous:
                continue
            if settings.reentry is Reentry.ONCE_PER_WINDOW and any(
                r.entered_at > now - window for r in previous
            ):
                continue
            run = AutomationRun(
                id=self.rt.ids.new_id("run"),
                automation_id=automation.id,
                owner_id=automation.user_id,
                fan_id=fan.fan_id,
                fan_ref=fan.id,
                workflow_version=automation.workflow_version,
                entry_key=key,
                trigger_type=trigger_type or workflow.trigger.type.value,
                trigger_data=trigger_data(fan),
                entered_at=now,
                updated_at=now,
                deadline=now + timeout,
                chain_depth=depth,
                state={"visits": {}},
            )
            state = RunState.of(run)
            self._enter(state, workflow.first, workflow, fan, now)
            runs.append(state.record(now))
        if not runs:
            return []
        fresh = [attrs.evolve(r, version=1) for r in runs]
        try:
            tx.uow.automation_runs.add_many(fresh)
        except ConflictError:
            # a racing enrolment took some keys: add the others one by one
            kept = []
            for run in fresh:
                try:
                    tx.uow.automation_runs.add(run)
                    kept.append(run)
                except ConflictError:
                    continue
            fresh = kept
        if fresh:
            tx.uow.automations.increment(automation.id, {"execution_count": len(fresh)})
            self._touch(tx, automation, now)
        return fresh

    def _touch(self, tx: Tx, automation: Automation, now: datetime) -> None:
        """Keep ``lastExecutedAt`` roughly current without fighting over the row."""
        last = automation.last_executed_at
        if last is not None and now - last < timedelta(minutes=1):
            return
        current = tx.uow.automations.get(automation.id)
        if current is None or (
            current.last_executed_at is not None
            and now - current.last_executed_at < timedelta(minutes=1)
        ):
            return
        # someone else may just have written the row: the timestamp is informational
        with contextlib.suppress(ConflictError):
            tx.uow.automations.update(
                attrs.evolve(current, last_executed_at=now, version=current.version + 1)
            )

    def passing(
        self, tx: Tx, root: Node, fans: Sequence[Fan], now: datetime, automation_id: str
    ) -> list[Fan]:
        """The fans that meet a workflow's entry conditions ``root`` now."""
        from campaign_core.criteria import Criteria

        compiled = compile_criteria(Criteria(root=root), registry=self.registry)
        return self.evaluate(tx, compiled, fans, now, automation_id)

    def evaluate(
        self,
        tx: Tx,
        compiled: CompiledCriteria,
        fans: Sequence[Fan],
        now: datetime,
        automation_id: str,
    ) -> list[Fan]:
        """The fans matching ``compiled``; a fan whose evaluation fails is logged and skipped."""
        wants_events, wants_segments = _needs(compiled.criteria.root)
        events: dict[str, list[FanEvent]] = defaultdict(list)
        memberships: dict[str, set[str]] = defaultdict(set)
        if fans and wants_events:
            owner = fans[0].owner_id
            for event in tx.uow.fan_events.find(
                And(Eq("owner_id", owner), In("fan_id", [f.fan_id for f in fans]))
            ):
                events[event.fan_id].append(event)
        if fans and wants_segments:
            owner_segments = [s.id for s in tx.uow.segments.find(Eq("user_id", fans[0].owner_id))]
            for member in tx.uow.segment_members.find(
                And(In("fan_id", [f.fan_id for f in fans]), In("segment_id", owner_segments))
            ):
                memberships[member.fan_id].add(member.segment_id)
        out = []
        match = compiled.matcher(now=now)  # now resolved once for the batch
        for fan in fans:
            try:
                matched = match(
                    fan,
                    events.get(fan.fan_id, ()),
                    memberships.get(fan.fan_id, set()) if wants_segments else None,
                )
            except CampaignCoreError as error:
                _log.warning(
                    "trigger evaluation failed for a fan of automation %s (skipped): %s",
                    automation_id,
                    error,
                )
                continue
            if matched:
                out.append(fan)
        return out

    # -- hooks ----------------------------------------------------------------------------
    def active_workflows(self, tx: Tx, owner_id: str) -> list[tuple[Automation, Workflow]]:
        """The owner's active workflows, oldest first (an unreadable one is logged and skipped)."""
        out = []
        for automation in tx.uow.automations.find(
            And(Eq("user_id", owner_id), Eq("status", AutomationStatus.ACTIVE)),
            order_by=[Order("created_at"), Order("id")],
        ):
            try:
                out.append((automation, self.current(automation)))
            except ValidationError as error:
                _log.warning("automation %s is unreadable (skipped): %s", automation.id, error)
        return out

    def on_fan_event(self, tx: Tx, event: Any) -> None:
        """Fan event hook: exit runs whose goal it is, enrol fans in event-triggered workflows."""
        mark = (
            event.properties.get(AUTOMATION_MARK) if isinstance(event.properties, Mapping) else None
        )
        depth = int(mark.get("depth", 0)) if isinstance(mark, Mapping) else 0
        workflows = self.active_workflows(tx, event.owner_id)
        if not workflows:
            return
        if any(
            s.type == "wait_until" and s.events[:1] == (event.name,)
            for _, w in workflows
            for s in w.steps
        ):
            self.wake_waiting(tx, event, {a.id: a for a, _ in workflows})
        fan: Fan | None = None
        for automation, workflow in workflows:
            try:
                if event.name in workflow.settings.exit_on:
                    self.stop_runs(
                        tx,
                        And(Eq("automation_id", automation.id), Eq("fan_id", event.fan_id)),
                        RunStatus.EXITED,
                        f"goal reached: {event.name}",
                    )
                goal = workflow.settings.goal
                if (
                    goal is not None
                    and goal.event == event.name
                    and match_properties(goal.filter, event.properties, event.value)
                ):
                    # the fan converted: their runs that entered within the window exit
                    self.stop_runs(
                        tx,
                        And(
                            Eq("automation_id", automation.id),
                            Eq("fan_id", event.fan_id),
                            Gte("entered_at", event.occurred_at - goal.within),
                            Lte("entered_at", event.occurred_at),
                        ),
                        RunStatus.EXITED,
                        f"converted: goal {event.name!r} reached",
                    )
                trigger = workflow.trigger
                if trigger.type is not TriggerType.EVENT or trigger.event != event.name:
                    continue
                if not match_properties(trigger.filter, event.properties, event.value):
                    continue
                if fan is None:
                    found = tx.uow.fans.find(
                        And(Eq("owner_id", event.owner_id), Eq("fan_id", event.fan_id)), limit=1
                    )
                    if not found:
                        return
                    fan = found[0]
                data = {
                    "type": "event",
                    "event": {
                        "id": event.id,
                        "name": event.name,
                        "occurredAt": format_datetime(event.occurred_at),
                        "properties": {
                            k: v for k, v in event.properties.items() if k != AUTOMATION_MARK
                        },
                        "value": event.value,
                    },
                }
                self.enrol(
                    tx,
                    automation,
                    workflow,
                    [fan],
                    entry=f"event:{event.id}",
                    trigger_data=_constant(data),
                    depth=depth,
                )
            except CampaignCoreError as error:
                _log.warning(
                    "trigger evaluation of automation %s failed (skipped): %s", automation.id, error
                )

    def wake_waiting(
        self, tx: Tx, event: Any, automations: Mapping[str, Automation] | None = None
    ) -> int:
        """Make the fan's runs that wait for this event due now (in the event's transaction).

        One indexed read of the fan's active runs (owner, fan, status), never a sweep
        over every waiting run. A run whose step is a ``wait_until`` for this event
        (its filter passing) wakes now; a run being advanced by a worker meanwhile (leased)
        gets a new version, so that worker's plan, made before the event, is discarded
        and the run is planned again once its lease ends. The step itself reads the
        fan's events to choose its branch: this is only a wake-up.

        Args:
            tx: the event's transaction.
            event: the fan event just recorded.
            automations: the owner's active workflows by id, when the caller has read
                them (runs of other workflows are not woken: a paused one holds its runs).

        Returns:
            How many runs were woken or invalidated.
        """
        now = self.rt.now()
        runs = tx.uow.automation_runs.find(
            And(
                Eq("owner_id", event.owner_id),
                Eq("fan_id", event.fan_id),
                Eq("status", RunStatus.ACTIVE),
            )
        )
        if not runs:
            return 0
        if automations is None:
            automations = {
                a.id: a
                for a in tx.uow.automations.find(In("id", sorted({r.automation_id for r in runs})))
            }
        runs = [r for r in runs if r.automation_id in automations]
        workflows = self.pinned(
            tx, automations, {(r.automation_id, r.workflow_version) for r in runs}
        )
        woken = 0
        for run in runs:
            workflow = workflows.get((run.automation_id, run.workflow_version))
            if not isinstance(workflow, Workflow):
                continue
            step = workflow.step(run.cursor)
            waiting = (
                step is not None
                and step.type == "wait_until"
                and step.events[:1] == (event.name,)
                and match_properties(step.filter, event.properties, event.value)
            )
            leased = run.lease_until is not None and run.lease_until > now
            awaits = any(
                s.type == "wait_until" and s.events[:1] == (event.name,) for s in workflow.steps
            )
            if waiting and (run.wake_at is None or run.wake_at > now):
                changed = attrs.evolve(run, wake_at=now, updated_at=now, version=run.version + 1)
            elif leased and awaits:
                changed = attrs.evolve(run, updated_at=now, version=run.version + 1)
            else:
                continue
            try:
                tx.uow.automation_runs.update(changed)
            except ConflictError:
                continue  # changed under us: whoever wrote it plans it again
            woken += 1
        return woken

    def wake_segment_waiting(
        self,
        tx: Tx,
        segment: Any,
        fan_ids: Sequence[str],
        state: str,
        workflows: Sequence[tuple[Automation, Workflow]],
    ) -> int:
        """Wake the runs of ``fan_ids`` waiting for them to enter (or exit) ``segment``.

        In the transaction that changed the membership: the changed fans' active runs
        are read by owner and fan (500 fans per read; never every waiting run), and a run
        whose step is a ``wait_until`` for this segment and ``state`` gets the mark
        ``segmentAt`` (what came first, for the step to read) and is made due now. A run
        being advanced meanwhile (leased) gets a new version, so it is planned again.

        Args:
            tx: the membership change's transaction.
            segment: the segment.
            fan_ids: the fans that entered or exited.
            state: ``entered`` or ``exited``.
            workflows: the owner's active workflows (only their runs are woken).

        Returns:
            How many runs were woken or invalidated.
        """
        refs = (segment.id, segment.name)

        def waits(step: Step | None) -> bool:
            return (
                step is not None
                and step.type == "wait_until"
                and step.params.get("segment") in refs
                and step.params.get("state", "entered") == state
            )

        if not fan_ids or not any(waits(s) for _, w in workflows for s in w.steps):
            return 0
        automations = {a.id: a for a, _ in workflows}
        now = self.rt.now()
        woken = 0
        ids = sorted(set(fan_ids))
        for start in range(0, len(ids), 500):
            runs = [
                r
                for r in tx.uow.automation_runs.find(
                    And(
                        Eq("owner_id", segment.user_id),
                        In("fan_id", ids[start : start + 500]),
                        Eq("status", RunStatus.ACTIVE),
                    )
                )
                if r.automation_id in automations
            ]
            pinned = self.pinned(
                tx, automations, {(r.automation_id, r.workflow_version) for r in runs}
            )
            for run in runs:
                workflow = pinned.get((run.automation_id, run.workflow_version))
                if not isinstance(workflow, Workflow):
                    continue
                leased = run.lease_until is not None and run.lease_until > now
                if waits(workflow.step(run.cursor)):
                    step_state = dict(run.state.get("step") or {})
                    step_state.setdefault("segmentAt", format_datetime(now))
                    changed = attrs.evolve(
                        run,
                        state={**run.state, "step": step_state},
                        wake_at=now,
                        updated_at=now,
                        version=run.version + 1,
                    )
                elif leased and any(waits(s) for s in workflow.steps):
                    changed = attrs.evolve(run, updated_at=now, version=run.version + 1)
                else:
                    continue
                try:
                    tx.uow.automation_runs.update(changed)
                except ConflictError:
                    continue  # changed under us: whoever wrote it plans it again
                woken += 1
        return woken

    def on_segment_exited(self, tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        """Segment hook: wake the runs waiting for these fans to exit this segment."""
        if fan_ids:
            workflows = self.active_workflows(tx, segment.user_id)
            self.wake_segment_waiting(tx, segment, fan_ids, "exited", workflows)

    def on_segment_entered(self, tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        """Segment hook: wake the runs waiting for these fans to enter this segment, and
        enrol the fans in workflows triggered by entering it."""
        if not fan_ids:
            return
        active = self.active_workflows(tx, segment.user_id)
        self.wake_segment_waiting(tx, segment, fan_ids, "entered", active)
        workflows = [
            (a, w)
            for a, w in active
            if w.trigger.type is TriggerType.SEGMENT_ENTERED
            and w.trigger.segment in (segment.id, segment.name)
        ]
        if not workflows:
            return
        fans = tx.uow.fans.find(And(Eq("owner_id", segment.user_id), In("fan_id", list(fan_ids))))
        now = self.rt.now()
        for automation, workflow in workflows:
            try:
                self.enrol(
                    tx,
                    automation,
                    workflow,
                    fans,
                    entry=f"segment:{segment.id}:{ms(now)}",
                    trigger_data=lambda fan: {
                        "type": "segment_entered",
                        "segmentId": segment.id,
                        "segment": segment.name,
                        "enteredAt": format_datetime(now),
                    },
                )
            except CampaignCoreError as error:
                _log.warning(
                    "segment trigger of automation %s failed (skipped): %s", automation.id, error
                )


def _walk(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, AllOf | AnyOf):
        for child in node.children:
            yield from _walk(child)
    elif isinstance(node, Not):
        yield from _walk(node.child)


def _needs(criteria_root: Node) -> tuple[bool, bool]:
    """(uses fan events, uses segment membership)."""
    events = segments = False
    for node in _walk(criteria_root):
        events = events or isinstance(node, EventCondition)
        segments = segments or isinstance(node, InSegment)
    return events, segments


def _constant(data: dict[str, Any]) -> Callable[[Fan], dict[str, Any]]:
    def value(fan: Fan) -> dict[str, Any]:
        return data

    return value
