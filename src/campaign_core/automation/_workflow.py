"""The workflow language: the seed's workflow JSON, validated into an immutable :class:`Workflow`.

A workflow is a trigger, optional entry conditions, a list of actions and
settings. The seed's two workflows are accepted verbatim; the canonical form
adds what the seed leaves implicit:

- every action gets a step ``id`` (``step-1``, ``step-2``...; branch steps
  ``step-6.true-1``), unless it has its own;
- ``ifTrue`` / ``ifFalse`` of ``check_engagement`` may be one action or a list;
  they are stored as lists, and both continue with the step after the check;
- ``next`` jumps to a step by id; ``onError`` (``continue``, ``exit`` or
  ``{"goto": "<step id>"}``) says what happens once an action has failed and
  used up its retries;
- durations are words (``"5 minutes"``) or ISO-8601 (``"PT5M"``), see
  :mod:`campaign_core.durations`; ``{"type": "wait", "until": "09:00"}``
  waits for the next 09:00 in the fan's time zone, ``"until"`` with an
  ISO-8601 instant waits for that instant.

Keys may be camelCase (the seed) or snake_case; the canonical form is camelCase.
Validation reports every problem with its path (``actions[2].duration``) and
rejects unknown action types and keys, bad durations, jumps to unknown steps,
unreachable steps and cycles between steps. What needs the store (templates,
segments exist; cycles *across* workflows) is checked by the service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, time, timedelta
from typing import Any

import attrs

from campaign_core.automation._conditions import EngagementCondition, PropertyCondition
from campaign_core.automation._cron import CronSchedule
from campaign_core.automation._steps import BUILTIN_STEPS
from campaign_core.criteria import Criteria
from campaign_core.delivery import FrequencyCap, QuietHours
from campaign_core.durations import format_duration
from campaign_core.errors import join_path
from campaign_core.models import StrEnum

__all__ = [
    "Branch",
    "Experiment",
    "FrequencyCap",
    "Goal",
    "OnError",
    "OverduePolicy",
    "QuietHours",
    "Reentry",
    "Reference",
    "Step",
    "Trigger",
    "TriggerType",
    "Workflow",
    "WorkflowSettings",
]


class TriggerType(StrEnum):
    EVENT = "event"
    BEHAVIOR = "behavior"
    TIME = "time"
    SEGMENT_ENTERED = "segment_entered"


class Reentry(StrEnum):
    """May a fan enter a workflow again? ``never`` (default), ``once_per_window``, ``always``."""

    NEVER = "never"
    ONCE_PER_WINDOW = "once_per_window"
    ALWAYS = "always"


class OverduePolicy(StrEnum):
    """What resuming a paused workflow does with steps that fell due while it was paused.

    ``run_late`` runs them at once; ``skip_overdue`` skips each overdue step
    (recorded as skipped) and goes on from the next one; ``cancel`` cancels
    the runs that have an overdue step.
    """

    RUN_LATE = "run_late"
    SKIP_OVERDUE = "skip_overdue"
    CANCEL = "cancel"


@attrs.frozen
class OnError:
    """What to do once a step has failed for good: ``continue``, ``exit`` or ``goto`` a step."""

    kind: str = "exit"
    target: str | None = None

    def to_json(self) -> Any:
        return {"goto": self.target} if self.kind == "goto" else self.kind


@attrs.frozen
class Trigger:
    """When fans enter a workflow.

    Attributes:
        type: event, behavior, time or segment_entered.
        event / filter: (event) the fan event name and conditions on its properties.
        condition / criteria: (behavior) the criteria as written, and canonical.
        enrol_existing: (behavior) fans who already match when the workflow is
            activated enter at the first sweep; False only records them.
        cron / at / time_zone: (time) a cron schedule read in ``time_zone``, or one instant.
        segment: (time, segment_entered) a segment id or name; for time
            triggers None means every fan of the account.
    """

    type: TriggerType
    event: str | None = None
    filter: tuple[PropertyCondition, ...] = ()
    condition: Any = None
    criteria: Criteria | None = None
    enrol_existing: bool = True
    cron: CronSchedule | None = None
    at: datetime | None = None
    time_zone: str | None = None
    segment: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The canonical trigger JSON."""
        out: dict[str, Any] = {"type": self.type.value}
        if self.type is TriggerType.EVENT:
            out["event"] = self.event
            if self.filter:
                out["filter"] = [c.to_json() for c in self.filter]
        elif self.type is TriggerType.BEHAVIOR:
            out["condition"] = self.condition
            if not self.enrol_existing:
                out["enrolExisting"] = False
        elif self.type is TriggerType.TIME:
            if self.cron is not None:
                out["cron"] = self.cron.expression
            if self.at is not None:
                out["at"] = self.at.isoformat().replace("+00:00", "Z")
            if self.time_zone is not None:
                out["timeZone"] = self.time_zone
            if self.segment is not None:
                out["segment"] = self.segment
        else:
            out["segment"] = self.segment
        return out


@attrs.frozen
class Goal:
    """What a workflow is for: a fan event within a conversion window after entering.

    Attributes:
        event: the fan event that counts (``purchase``).
        filter: conditions on its properties (as an event trigger's).
        within: the conversion window, from the run's entry.
    """

    event: str
    within: timedelta
    filter: tuple[PropertyCondition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "within": format_duration(self.within)}
        if self.filter:
            out["filter"] = [c.to_json() for c in self.filter]
        return out


@attrs.frozen
class WorkflowSettings:
    """A workflow's policies (the ``settings`` object; all optional).

    Attributes:
        reentry / reentry_window: see :class:`Reentry`; ``once_per_window``
            needs ``reentryWindow``: a fan may enter again once their last
            entry is that old.
        timeout: runs not finished this long after entering are cancelled
            (None: the engine's default).
        quiet_hours: ``{"start": "22:00", "end": "08:00"}`` in the fan's zone.
        frequency_cap: ``{"max": 2, "per": "day"}`` (``day``, ``week`` or a duration).
        time_zone: for fans without one (default: the engine's default zone).
        overdue_policy: see :class:`OverduePolicy`.
        exit_on: fan event names that end a fan's run at once (a goal reached,
            a purchase...).
        goal: the workflow's :class:`Goal`: a run whose fan reaches it within
            the window exits and counts as converted in the workflow's stats.
        holdout: the percentage of fans (0 to below 100) held out: their runs
            go through the workflow but skip every messaging step, so the goal
            conversion of treated fans can be compared with theirs (the lift).
    """

    reentry: Reentry = Reentry.NEVER
    reentry_window: timedelta | None = None
    timeout: timedelta | None = None
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    time_zone: str | None = None
    overdue_policy: OverduePolicy = OverduePolicy.RUN_LATE
    exit_on: tuple[str, ...] = ()
    goal: Goal | None = None
    holdout: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reentry": self.reentry.value}
        if self.reentry_window is not None:
            out["reentryWindow"] = format_duration(self.reentry_window)
        if self.timeout is not None:
            out["timeout"] = format_duration(self.timeout)
        if self.quiet_hours is not None:
            out["quietHours"] = self.quiet_hours.to_json()
        if self.frequency_cap is not None:
            out["frequencyCap"] = self.frequency_cap.to_json()
        if self.time_zone is not None:
            out["timeZone"] = self.time_zone
        out["overduePolicy"] = self.overdue_policy.value
        if self.exit_on:
            out["exitOn"] = list(self.exit_on)
        if self.goal is not None:
            out["goal"] = self.goal.to_json()
        if self.holdout is not None:
            out["holdout"] = self.holdout
        return out


@attrs.frozen
class Experiment:
    """A ``random_split`` in experiment mode: its paths' goal conversion decides a winner.

    The plan is fixed when the workflow is saved, never from the data: a
    ``fixed_horizon`` experiment is read once, when the runs whose conversion window
    has ended reach ``planned_horizon`` (given, or computed by the service from
    ``baseline_rate`` and ``mde``); an ``always_valid`` one (the mSPRT, whose p-values
    stay valid at every look) may be read at every look, with its mixing ``tau``
    (given, or ``mde * baseline_rate``). Once a winner is decided, new entrants all
    take the winning path.

    Attributes:
        policy: ``fixed_horizon`` or ``always_valid``.
        confidence_level: in (0.5, 1).
        min_per_path: runs per path (whose window has ended) before any decision.
        baseline_rate: the first path's expected goal conversion, in (0, 1).
        mde: the relative effect to detect (0.2: +20 %).
        planned_horizon: (fixed_horizon) the planned size, runs over all paths.
        tau: (always_valid) the mSPRT mixing standard deviation.
    """

    policy: str = "fixed_horizon"
    confidence_level: float = 0.95
    min_per_path: int = 100
    baseline_rate: float | None = None
    mde: float | None = None
    planned_horizon: int | None = None
    tau: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy,
            "confidenceLevel": self.confidence_level,
            "minPerPath": self.min_per_path,
        }
        for key, value in (
            ("baselineRate", self.baseline_rate),
            ("mde", self.mde),
            ("plannedHorizon", self.planned_horizon),
            ("tau", self.tau),
        ):
            if value is not None:
                out[key] = value
        return out


@attrs.frozen
class Branch:
    """One way out of a ``condition_split``, ``random_split`` or ``wait_until`` step.

    Attributes:
        name: the branch's name (``default`` for the default), recorded in the
            run's history when the branch is taken.
        criteria: who takes it (the criteria language: fan fields, event
            history, segment membership); None for the default.
        next: the step the run goes on with (the branch's first action, else
            its ``next``, else the step after the split; None: the run ends).
        weight: (random_split) the percentage of fans sent this way.
    """

    name: str
    criteria: Criteria | None
    next: str | None
    weight: float | None = None


@attrs.frozen
class Step:
    """One action of a workflow, with its place in the step graph.

    Attributes:
        id: the step id.
        type: the action type (built-in or custom).
        path: where it was written (``actions[5].ifTrue[0]``).
        params: the action's parameters (canonical camelCase keys).
        next: the step that follows (None: the run ends).
        on_error: what happens after the last failed retry.
        if_true / if_false: (check_engagement) the first step of each branch;
            None means the branch is empty and the run goes on with ``next``.
        effect: ``none`` (bookkeeping), ``external`` (a port or service call
            outside the store) or ``store`` (a write in the run's transaction).
        duration / until_time / until_at: (wait) how long, or until when;
            (wait_until) the timeout.
        engagement / window / events: (check_engagement) the condition, the
            optional look-back window and event-name override.
        split: (condition_split) the branches in order, the default last;
            (wait_until) the ``event`` (or ``segment``) and ``timeout`` branches.
        filter: (wait_until) conditions on the awaited event's properties; its
            name is ``events[0]`` and its timeout ``duration``. A segment wait has no
            events: ``params["segment"]`` (id or name) and ``params["state"]``
            (``entered`` or ``exited``).
        experiment: (random_split) the experiment plan, or None.
    """

    id: str
    type: str
    path: str
    params: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    next: str | None = None
    on_error: OnError = OnError()
    if_true: str | None = None
    if_false: str | None = None
    effect: str = "none"
    messaging: bool = False
    duration: timedelta | None = None
    until_time: time | None = None
    until_at: datetime | None = None
    engagement: EngagementCondition | None = None
    window: timedelta | None = None
    events: tuple[str, ...] = ()
    split: tuple[Branch, ...] = ()
    filter: tuple[PropertyCondition, ...] = ()
    experiment: Experiment | None = None


@attrs.frozen
class Reference:
    """Something a workflow names that must exist in the owner's account."""

    kind: str  # "template" (campaign template) | "segment"
    ref: str
    path: str
    writes: bool = False  # a step adds or removes members (not allowed on dynamic segments)


@attrs.frozen
class Workflow:
    """A validated, immutable workflow definition.

    Attributes:
        name / description: as given.
        trigger: the :class:`Trigger`.
        conditions: the entry conditions as given (the seed's list), and
        criteria: the same, canonical (None when there are none).
        actions: the canonical actions JSON (with step ids).
        settings: the :class:`WorkflowSettings`.
        steps: every step, in the order written (depth first).
        first: the first step's id (None for an empty workflow).
    """

    name: str
    description: str | None
    trigger: Trigger
    conditions: tuple[Any, ...]
    criteria: Criteria | None
    actions: tuple[dict[str, Any], ...]
    settings: WorkflowSettings
    steps: tuple[Step, ...]
    first: str | None
    _index: Mapping[str, Step] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.id: s for s in self.steps})

    def step(self, step_id: str | None) -> Step | None:
        """The step with this id, or None."""
        return None if step_id is None else self._index.get(step_id)

    def definition(self) -> dict[str, Any]:
        """The canonical definition (what a version pins): trigger, conditions, actions, settings."""
        return {
            "trigger": self.trigger.to_json(),
            "conditions": list(self.conditions),
            "actions": list(self.actions),
            "settings": self.settings.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        """The whole canonical workflow (name and description too)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        out.update(self.definition())
        return out

    def references(self) -> Iterator[Reference]:
        """Campaign templates and segments this workflow names."""
        if self.trigger.segment is not None:
            yield Reference("segment", self.trigger.segment, "trigger.segment")
        for step in self.steps:
            spec = BUILTIN_STEPS.get(step.type)
            if spec is not None and spec.refers_to is not None:
                key = spec.refers_to
                yield Reference(
                    key, step.params[key], join_path(step.path, key), writes=spec.writes
                )
            elif step.type == "wait_until" and "segment" in step.params:
                yield Reference("segment", step.params["segment"], join_path(step.path, "segment"))

    def emitted_events(self) -> Iterator[tuple[str, str]]:
        """(event name, path) of every ``emit_event`` step."""
        for step in self.steps:
            if step.type == "emit_event":
                yield step.params["event"], join_path(step.path, "event")

    def segments_added(self) -> Iterator[tuple[str, str]]:
        """(segment reference, path) of every ``add_to_segment`` step."""
        for step in self.steps:
            if step.type == "add_to_segment":
                yield step.params["segment"], join_path(step.path, "segment")

    def longest_wait(self) -> timedelta:
        """The longest total of waits along any path of the step graph (acyclic)."""
        memo: dict[str, timedelta] = {}

        def longest(step_id: str | None) -> timedelta:
            if step_id is None:
                return timedelta(0)
            if step_id in memo:
                return memo[step_id]
            step = self._index[step_id]
            own = step.duration or (
                timedelta(days=1) if step.until_time is not None else timedelta(0)
            )
            spec = BUILTIN_STEPS.get(step.type)
            follow = [step.next]
            if spec is not None and spec.branches:
                follow = [step.if_true or step.next, step.if_false or step.next]
            elif step.split:
                follow = [b.next for b in step.split]
            if step.on_error.kind == "goto":
                follow.append(step.on_error.target)
            if spec is not None and spec.terminal:
                follow = []
            best = own + max((longest(n) for n in follow), default=timedelta(0))
            memo[step_id] = best
            return best

        return longest(self.first)
