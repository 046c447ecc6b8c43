"""The engine's working types: a run being advanced, a batch's context, step results."""

from __future__ import annotations

import functools
import hashlib
import logging
import time as _time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.abtesting import assign_variant
from campaign_core.automation import AutomationSettings, Scope, Step, TriggerType, Workflow
from campaign_core.delivery import MessagingSettings, Send
from campaign_core.errors import ValidationError
from campaign_core.jobs.automation._ports import AutomationPorts
from campaign_core.models import (
    Automation,
    AutomationRun,
    AutomationStepRun,
    Delivery,
    ExecutionStatus,
    Fan,
    FanEvent,
    MessageTemplate,
    RunStatus,
    Segment,
)
from campaign_core.query import And, Eq, Order
from campaign_core.serialization import format_datetime

_log = logging.getLogger("campaign_core.automation")


_log = logging.getLogger("campaign_core.automation")

AUTOMATION_CHANNEL: Final = "dm"
"""The channel of a workflow message whose step names none (``send_message``'s ``channel``)."""


def message_channel(step: Step) -> str:
    """The channel a messaging step sends on: its ``channel`` param, else ``dm``."""
    channel = step.params.get("channel")
    return channel if isinstance(channel, str) and channel else AUTOMATION_CHANNEL


def message_topic(step: Step, settings: MessagingSettings) -> str | None:
    """The consent topic of a messaging step: its ``topic`` param, else the settings' default."""
    topic = step.params.get("topic")
    return topic if isinstance(topic, str) and topic else settings.default_topic


AUTOMATION_MARK: Final = "_automation"
"""Property key on fan events that automations emit (never counts as engagement)."""

T = TypeVar("T")
OPEN: Final = (RunStatus.ACTIVE, RunStatus.HELD)


# ------------------------------------------------------------------------------ helpers


def ms(value: datetime) -> int:
    """Milliseconds since the epoch (entry keys and sweep pass ids)."""
    return int(value.timestamp() * 1000)


# a batch stamps every history entry with the same instant: format it once (only
# UTC datetimes: local times differing by ``fold`` are equal keys, other instants)
_format_cached = functools.lru_cache(maxsize=64)(format_datetime)


def iso(value: datetime | None) -> str | None:
    """``value`` as the history's ISO-8601 text (None stays None)."""
    if value is None:
        return None
    return _format_cached(value) if value.tzinfo is UTC else format_datetime(value)


def stable_id(prefix: str, key: str) -> str:
    """A deterministic id for a side effect (so a retried step finds what it made)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def zone_of(fan: Fan | None, workflow: Workflow, settings: AutomationSettings) -> zoneinfo.ZoneInfo:
    """The fan's time zone, else the workflow's, else the engine's default."""
    name = (fan.time_zone if fan is not None else None) or workflow.settings.time_zone
    try:
        return zoneinfo.ZoneInfo(name or settings.default_time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.default_time_zone)


def matches_pattern(name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith(".*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def execution_status(run_status: RunStatus, errors: Sequence[Any]) -> ExecutionStatus:
    """The seed's three statuses: success, failure or partial (documented in the how-to)."""
    if run_status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
        return ExecutionStatus.FAILURE
    if run_status is RunStatus.CANCELLED:
        return ExecutionStatus.PARTIAL
    return ExecutionStatus.PARTIAL if errors else ExecutionStatus.SUCCESS


# ------------------------------------------------------------------------------ results


@attrs.define
class RunState:
    """A run being advanced: a mutable working copy of its fields."""

    run: AutomationRun
    status: RunStatus
    cursor: str | None
    wake_at: datetime | None
    attempts: int
    step_entered_at: datetime | None
    step_count: int
    variables: dict[str, Any]
    state: dict[str, Any]
    executed: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    finished_at: datetime | None
    outcome: str | None
    started: float = attrs.field(factory=_time.perf_counter)

    @classmethod
    def of(cls, run: AutomationRun) -> RunState:
        return cls(
            run=run,
            status=run.status,
            cursor=run.cursor,
            wake_at=run.wake_at,
            attempts=run.attempts,
            step_entered_at=run.step_entered_at,
            step_count=run.step_count,
            # the run is this worker's own fresh copy: copy only what the steps change
            variables=dict(run.variables),
            state={
                **run.state,
                "visits": dict(run.state.get("visits") or {}),
                "step": dict(run.state.get("step") or {}),
            },
            executed=list(run.executed_actions),
            errors=list(run.errors),
            finished_at=run.finished_at,
            outcome=run.outcome,
        )

    @property
    def visits(self) -> dict[str, int]:
        visits: dict[str, int] = self.state.setdefault("visits", {})
        return visits

    def record(self, now: datetime) -> AutomationRun:
        # every field set here must be in ROUND_FIELDS (the batch write's columns)
        # processing time across all the run's rounds (waits excluded), for the metrics
        spent = float(self.state.get("processingMs", 0.0))
        self.state["processingMs"] = round(spent + (_time.perf_counter() - self.started) * 1000, 3)
        return attrs.evolve(
            self.run,
            status=self.status,
            cursor=self.cursor,
            wake_at=self.wake_at,
            attempts=self.attempts,
            step_entered_at=self.step_entered_at,
            step_count=self.step_count,
            variables=self.variables,
            state=self.state,
            executed_actions=tuple(self.executed),
            errors=tuple(self.errors),
            finished_at=self.finished_at,
            outcome=self.outcome,
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            version=self.run.version + 1,
        )


# the fields of a run that advancing it changes (what RunState.record sets): the
# batch write of a round's runs writes only these columns
ROUND_FIELDS = (
    "status",
    "cursor",
    "wake_at",
    "attempts",
    "step_entered_at",
    "step_count",
    "variables",
    "state",
    "executed_actions",
    "errors",
    "finished_at",
    "outcome",
    "updated_at",
    "lease_owner",
    "lease_until",
    "version",
)


@attrs.define
class Outcome:
    """What planning one run produced, to be recorded in one transaction."""

    run: AutomationRun
    trigger_type: str
    steps: list[AutomationStepRun] = attrs.field(factory=list)
    ops: list[Callable[[Tx], None]] = attrs.field(factory=list)
    finished: bool = False
    failures: list[str] = attrs.field(factory=list)
    timed_out: bool = False
    processing_ms: float = 0.0
    failed_attempts: list[str] = attrs.field(factory=list)
    sends: list[Delivery] = attrs.field(factory=list)


@attrs.frozen
class EngineReport:
    """What the automation part of one ``tick()`` did."""

    runs_advanced: int = 0
    steps_executed: int = 0
    runs_finished: int = 0
    runs_enrolled: int = 0
    triggers_processed: int = 0
    errors: tuple[tuple[str, str, str], ...] = ()


@attrs.define
class Round:
    """What a batch of runs needs, loaded once per batch."""

    now: datetime
    automations: dict[str, Automation]
    workflows: dict[tuple[str, int], Workflow | ValidationError]
    fans: dict[tuple[str, str], Fan]
    sends: dict[tuple[str, str], int] = attrs.field(factory=dict)
    runs: Sequence[AutomationRun] = ()
    events: dict[tuple[str, str], list[FanEvent]] | None = None
    templates: dict[tuple[str, str], MessageTemplate | None] = attrs.field(factory=dict)
    consents: dict[str, Any] = attrs.field(factory=dict)  # owner -> the batch's ConsentSnapshot
    experiments: dict[str, Any] = attrs.field(factory=dict)  # test id -> ABTest | None
    awaited: dict[str, dict[tuple[str, str], list[FanEvent]]] = attrs.field(factory=dict)
    """event name -> (owner, fan) -> the batch's events of that name (``wait_until``)."""


class Stale(Exception):
    """A bulk write found a run changed since the claim (the transaction is rolled back)."""


class StoreFailure(Exception):
    """The engine's own store read failed while planning (not the action's fault)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Sleep(Exception):
    """Raised by an action that cannot run yet (a wait, quiet hours, a frequency cap)."""

    def __init__(self, until: datetime, reason: str) -> None:
        self.until = until
        self.reason = reason


@attrs.frozen
class StepResult:
    """What a step did: its output, where the run goes next, its store effect.

    Attributes:
        output: recorded in the run's history (a custom action's becomes variables).
        next / jump: with ``jump``, the step to go to instead of the step's own next.
        exit: ends the run (status exited) with this reason.
        op: a write done in the transaction that records the batch.
        sends: the message log rows of what the step sent (written with the batch).
    """

    output: Mapping[str, Any] = attrs.field(factory=dict)
    next: str | None = None
    jump: bool = False  # ``next`` overrides the step's own next
    exit: str | None = None
    op: Callable[[Tx], None] | None = None
    sends: tuple[Delivery, ...] = ()


# ------------------------------------------------------------------------------ planning


def resolve_segment(tx: Tx, owner_id: str, ref: str) -> Segment | None:
    """The owner's segment with id or name ``ref``, or None."""
    segment = tx.uow.segments.get(ref)
    if segment is not None and segment.user_id == owner_id:
        return segment
    found = tx.uow.segments.find(
        And(Eq("user_id", owner_id), Eq("name", ref)), order_by=[Order("id")], limit=1
    )
    return found[0] if found else None


def metric_trigger(trigger_type: str) -> str:
    """The trigger dimension of the executed-runs metric (manual runs count as events)."""
    return trigger_type if trigger_type in {t.value for t in TriggerType} else "event"


def read(rt: Runtime, reader: Callable[[Tx], T]) -> T:
    """A store read while planning; a failure of the store aborts the batch instead of the step.

    Raises:
        StoreFailure: the read failed (the engine re-raises the store's error).
    """
    try:
        with rt.transaction() as tx:
            return reader(tx)
    except Exception as error:
        raise StoreFailure(error) from error


@attrs.frozen
class StepCall:
    """What a built-in action gets: one step of one run, planned outside any transaction.

    Attributes:
        rt: the core's runtime (ports, clock, settings).
        ports: what the services do for the engine (campaigns, fans, segments).
        sql: whether the store is a SQL store (batch reads pay off there).
        state: the run's working copy (an action may set its variables).
        step / workflow / automation / fan: where the step is.
        round: what the claimed batch shares (its instant, loaded fans, sends).
        key: the idempotency key of this step visit (``<run>:<step>:<visit>``).
        send: for a messaging step, the policy's answer: the channel (the step's,
            or a fallback) and the fan's address on it.
    """

    rt: Runtime
    ports: AutomationPorts
    sql: bool
    state: RunState
    step: Step
    workflow: Workflow
    automation: Automation
    fan: Fan
    round: Round
    key: str
    send: Send | None = None

    @property
    def now(self) -> datetime:
        """The batch's instant."""
        return self.round.now

    @property
    def settings(self) -> AutomationSettings:
        """The engine's settings."""
        return self.rt.settings.automation

    def read(self, reader: Callable[[Tx], T]) -> T:
        """A store read (see :func:`read`)."""
        return read(self.rt, reader)

    def scope(self, fan: Fan | None = None) -> Scope:
        """What value expressions read for this step (``fan``: a fresher copy of the fan)."""
        return expression_scope(
            self.now, fan or self.fan, self.state, self.automation, self.step.id
        )


_FAN_FIELDS: Final = (
    "fan_id",
    "platform",
    "spending_level",
    "engagement",
    "lifetime_value",
    "subscription_status",
    "subscribed_at",
    "last_activity_at",
    "time_zone",
    "opted_out",
)


def expression_scope(
    now: datetime, fan: Fan, st: RunState, automation: Automation, step_id: str
) -> Scope:
    """The context value expressions read: the fan (no addresses), the trigger, the run."""
    fields: dict[str, Any] = {name: getattr(fan, name) for name in _FAN_FIELDS}
    fields["traits"] = dict(fan.traits)
    return Scope(
        now=now,
        fan=fields,
        trigger=st.run.trigger_data,
        variables=st.variables,
        workflow={"id": automation.id, "name": automation.name},
        run={"id": st.run.id},
        step={"id": step_id},
    )


def held_out(automation_id: str, fan_id: str, percent: float | None) -> bool:
    """Whether a fan is in a workflow's holdout: sticky, by the A/B assignment hashing.

    Args:
        automation_id: the workflow.
        fan_id: the fan.
        percent: the workflow's ``settings.holdout`` (None or 0: nobody).

    Returns:
        True for about ``percent`` % of fans, always the same ones for a workflow.
    """
    if not percent:
        return False
    split = {"holdout": percent, "treated": 100.0 - percent}
    return assign_variant(f"{automation_id}/holdout", fan_id, split) == "holdout"
