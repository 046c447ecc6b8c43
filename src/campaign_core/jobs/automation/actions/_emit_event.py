"""``emit_event``: record a fan event (marked as the automation's) in the run's transaction.

The event goes to the fan event hooks like any other, so it may start other workflows;
the chain depth it carries stops loops that validation cannot see.
"""

from __future__ import annotations

from typing import Final

from campaign_core._runtime import Tx
from campaign_core.jobs.automation._state import AUTOMATION_MARK, StepCall, StepResult, stable_id
from campaign_core.models import FanEvent

__all__ = ["NAME", "run"]

NAME: Final = "emit_event"


def run(call: StepCall) -> StepResult:
    """Plan the event (written when the batch is recorded).

    Args:
        call: the step being run.

    Returns:
        The event's name and id (stable per step visit), with the write to do.
    """
    rt, st, step, automation = call.rt, call.state, call.step, call.automation
    fan_id = call.fan.fan_id
    name = str(step.params["event"])
    props = dict(step.params.get("properties") or {})
    props[AUTOMATION_MARK] = {
        "workflowId": automation.id,
        "runId": st.run.id,
        "stepId": step.id,
        "depth": st.run.chain_depth + 1,
    }
    event_id = stable_id("evt", f"{st.run.id}:{step.id}:{st.visits.get(step.id, 0)}")

    def apply(tx: Tx) -> None:
        event = FanEvent(
            id=event_id,
            owner_id=automation.user_id,
            fan_id=fan_id,
            name=name,
            occurred_at=rt.now(),
            properties=props,
            created_at=rt.now(),
        )
        tx.uow.fan_events.add(event)
        for hook in rt.fan_event_hooks:
            hook(tx, event)

    return StepResult({"event": name, "eventId": event_id}, op=apply)
