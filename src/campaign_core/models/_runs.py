"""Automation engine records: durable runs, per-step history, pinned versions, trigger state.

These are our additions (not seed tables). A *run* is one fan going through one
workflow once (one per workflow, fan and entry); everything the interpreter
needs to resume it after a crash lives on the run row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum, to_tuple

__all__ = [
    "AutomationRun",
    "AutomationStepRun",
    "AutomationTrigger",
    "AutomationTriggerMatch",
    "AutomationVersion",
    "RunStatus",
    "StepStatus",
]


class RunStatus(StrEnum):
    """Where a run is.

    ``active`` runs are due at ``wake_at``; ``held`` runs belong to a paused
    workflow and wait for it to be activated again. The rest are final.
    """

    ACTIVE = "active"
    HELD = "held"
    COMPLETED = "completed"
    EXITED = "exited"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.ACTIVE, RunStatus.HELD)


class StepStatus(StrEnum):
    """The outcome of one attempt of one step."""

    COMPLETED = "completed"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen(kw_only=True)
class AutomationRun:
    """One fan going through one workflow (table ``automation_runs``).

    Attributes:
        automation_id / owner_id / fan_id: the workflow, its owner, the fan
            (the host's fan id).
        fan_ref: the id of the fan's record (``Fan.id``) when the run started;
            a fan erased and created again is another record, and the run ends.
        workflow_version: the definition this run follows to the end.
        entry_key: what made the fan enter (unique per workflow and fan), so a
            trigger delivered twice never starts two runs.
        trigger_type / trigger_data: the seed's ``triggerData``.
        status: see :class:`RunStatus`.
        cursor: the id of the step to run (or being waited on); None when finished.
        wake_at: when the run is due; None when finished.
        attempts: failed attempts of the current step so far.
        step_entered_at: when the cursor moved to the current step.
        step_count: steps executed (the runaway budget counts them).
        variables: values steps produced (``campaignId``, ``messageId``...).
        state: the interpreter's bookkeeping (visits per step, the current
            step's wait target or deferral).
        executed_actions / errors: the seed's history fields, copied to the
            ``AutomationExecution`` row when the run ends.
        deadline: the run is cancelled (timed out) if not finished by then.
        chain_depth: how many automation-emitted events led to this run.
        lease_owner / lease_until: the worker advancing it right now.
    """

    id: str
    automation_id: str
    owner_id: str
    fan_id: str
    workflow_version: int
    entry_key: str
    fan_ref: str | None = None
    trigger_type: str
    trigger_data: dict[str, Any] = attrs.field(factory=dict)
    status: RunStatus = attrs.field(default=RunStatus.ACTIVE, converter=RunStatus)
    cursor: str | None = None
    wake_at: datetime | None = None
    attempts: int = 0
    step_entered_at: datetime | None = None
    step_count: int = 0
    variables: dict[str, Any] = attrs.field(factory=dict)
    state: dict[str, Any] = attrs.field(factory=dict)
    executed_actions: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    errors: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    entered_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    deadline: datetime | None = None
    chain_depth: int = 0
    outcome: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    version: int = 1


@attrs.frozen(kw_only=True)
class AutomationStepRun:
    """One attempt of one step of a run (table ``automation_step_runs``).

    ``visit`` counts how many times the run reached this step before (the
    ``iteration`` of the idempotency key ``<run>:<step>:<visit>``).
    """

    id: str
    run_id: str
    automation_id: str
    owner_id: str
    fan_id: str
    step_id: str
    action_type: str
    visit: int = 0
    attempt: int = 1
    status: StepStatus = attrs.field(converter=StepStatus)
    started_at: datetime
    finished_at: datetime
    duration_ms: int = 0
    output: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    idempotency_key: str | None = None


@attrs.frozen(kw_only=True)
class AutomationVersion:
    """A definition a workflow had (table ``automation_versions``); runs pin one.

    ``definition`` holds the canonical ``trigger``, ``conditions``, ``actions``
    and ``settings`` as they were at ``workflow_version``.
    """

    id: str
    automation_id: str
    workflow_version: int
    definition: dict[str, Any] = attrs.field(factory=dict)
    created_at: datetime


@attrs.frozen(kw_only=True)
class AutomationTrigger:
    """The schedule of a sweeping trigger (table ``automation_triggers``).

    Behaviour triggers sweep the owner's fans page by page; time triggers
    enrol a segment page by page when their cron or date comes. ``cursor`` is
    the last fan id handled in the current pass (None between passes);
    ``pass_started_at`` is when the pass began (for time triggers: the fire
    instant); ``baseline`` marks a first behaviour pass that only records who
    matches without enrolling them.
    """

    id: str
    automation_id: str
    owner_id: str
    kind: str
    next_run_at: datetime | None = None
    cursor: str | None = None
    pass_started_at: datetime | None = None
    baseline: bool = False
    updated_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    version: int = 1


@attrs.frozen(kw_only=True)
class AutomationTriggerMatch:
    """A fan who matched a behaviour trigger at the last sweep (``automation_trigger_matches``).

    Only fans who match are stored: a fan is enrolled when they start to match
    (no row yet) and their row goes when they stop matching.
    """

    id: str
    automation_id: str
    fan_id: str
    matched_at: datetime
