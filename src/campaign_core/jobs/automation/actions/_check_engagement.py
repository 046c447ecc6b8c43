"""``check_engagement``: count the fan's engagement events and branch on the condition."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Final

from campaign_core._runtime import Tx
from campaign_core.automation import Workflow
from campaign_core.jobs.automation._state import (
    AUTOMATION_MARK,
    StepCall,
    StepResult,
    matches_pattern,
)
from campaign_core.models import FanEvent
from campaign_core.query import And, Eq, Gte, In, Lte

__all__ = ["NAME", "run"]

NAME: Final = "check_engagement"


def _fan_events(call: StepCall, since: datetime) -> list[FanEvent]:
    """The fan's events in [since, now]; on SQL stores loaded once for the whole batch."""
    ctx = call.round
    now = ctx.now
    owner, fan_id = call.state.run.owner_id, call.state.run.fan_id
    if not call.sql or not ctx.runs:
        return call.read(
            lambda tx: tx.uow.fan_events.find(
                And(
                    Eq("owner_id", owner),
                    Eq("fan_id", fan_id),
                    Gte("occurred_at", since),
                    Lte("occurred_at", now),
                ),
                limit=100_000,
            )
        )
    if ctx.events is None:
        floor = min(r.entered_at for r in ctx.runs)
        windows = [
            s.window
            for w in ctx.workflows.values()
            if isinstance(w, Workflow)
            for s in w.steps
            if s.window is not None
        ]
        if windows:
            floor = min(floor, now - max(windows))
        by_owner: dict[str, list[str]] = defaultdict(list)
        for run in ctx.runs:
            by_owner[run.owner_id].append(run.fan_id)

        def load(tx: Tx) -> dict[tuple[str, str], list[FanEvent]]:
            found: dict[tuple[str, str], list[FanEvent]] = defaultdict(list)
            for account, fans in by_owner.items():
                for event in tx.uow.fan_events.find(
                    And(
                        Eq("owner_id", account),
                        In("fan_id", sorted(set(fans))),
                        Gte("occurred_at", floor),
                        Lte("occurred_at", now),
                    )
                ):
                    found[(account, event.fan_id)].append(event)
            return found

        ctx.events = call.read(load)
    return [e for e in ctx.events.get((owner, fan_id), ()) if since <= e.occurred_at <= now]


def run(call: StepCall) -> StepResult:
    """Count the engagement events in the step's window and pick a branch.

    Args:
        call: the step being run.

    Returns:
        The count, the condition and its result; the run jumps to ``ifTrue`` or
        ``ifFalse`` (an empty branch goes on with the step's next).
    """
    step = call.step
    since = call.now - step.window if step.window is not None else call.state.run.entered_at
    patterns = step.events or call.settings.engagement_events
    events = _fan_events(call, since)
    count = sum(
        1
        for e in events
        if AUTOMATION_MARK not in e.properties and matches_pattern(e.name, patterns)
    )
    assert step.engagement is not None
    result = step.engagement.holds(count)
    target = step.if_true if result else step.if_false
    return StepResult(
        {"engagement": count, "condition": str(step.engagement), "result": result},
        next=target or step.next,
        jump=True,
    )
