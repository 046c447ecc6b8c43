"""``wait_until``: wait for a fan event (with property filters) or a timeout, whichever is first."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from campaign_core.automation import match_properties
from campaign_core.jobs.automation._state import Sleep, StepCall, StepResult
from campaign_core.query import And, Eq, Gte, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = ["NAME", "run"]

NAME: Final = "wait_until"


def run(call: StepCall) -> StepResult:
    """Take the ``event`` branch if the awaited event was recorded since the step was entered,
    the ``timeout`` branch once the timeout has come, else sleep until it.

    The fan's events are the record (read by fan, name and time): a wake-up by the event
    hook only makes the run due sooner, so a run woken late or re-planned after a crash
    still takes the branch of whatever came first.

    Args:
        call: the step being run.

    Returns:
        ``{"outcome": "event", "eventId", "at"}`` or ``{"outcome": "timeout", "at"}``.

    Raises:
        Sleep: neither has come yet.
    """
    step = call.step
    now = call.now
    until_text = call.state.state.get("step", {}).get("until")
    entered = call.state.step_entered_at or call.state.run.entered_at
    until = datetime.fromisoformat(until_text) if until_text else now
    owner, fan_id = call.state.run.owner_id, call.state.run.fan_id
    horizon = min(now, until)
    events = call.read(
        lambda tx: tx.uow.fan_events.find(
            And(
                Eq("owner_id", owner),
                Eq("fan_id", fan_id),
                Eq("name", step.events[0]),
                Gte("occurred_at", entered),
                Lte("occurred_at", horizon),
            ),
            order_by=[Order("occurred_at"), Order("id")],
            limit=1000,
        )
    )
    event_branch, timeout_branch = step.split
    for event in events:
        if match_properties(step.filter, event.properties, event.value):
            return StepResult(
                {
                    "outcome": "event",
                    "eventId": event.id,
                    "at": format_datetime(event.occurred_at),
                },
                next=event_branch.next,
                jump=True,
            )
    if until > now:
        raise Sleep(until, "waiting for event")
    return StepResult(
        {"outcome": "timeout", "at": format_datetime(until)}, next=timeout_branch.next, jump=True
    )
