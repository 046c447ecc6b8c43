"""Host-defined actions: the handler gets a copy of the run's data and returns JSON or None."""

from __future__ import annotations

import json
from collections.abc import Mapping

from campaign_core.automation import ActionContext, ActionFailed, CustomAction
from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.serialization import check_json_value

__all__ = ["run_custom"]


def run_custom(action: CustomAction, call: StepCall) -> StepResult:
    """Call a host's handler with an :class:`ActionContext` (copies: it cannot change the run).

    Args:
        action: the registered action.
        call: the step being run.

    Returns:
        The handler's output, which also becomes the run's variable named after the step.

    Raises:
        ActionFailed: the handler raised it, or returned something that is not a JSON object.
    """
    st, step, fan = call.state, call.step, call.fan
    context = ActionContext(
        owner_id=call.automation.user_id,
        fan_id=fan.fan_id,
        fan=fan,
        automation_id=call.automation.id,
        run_id=st.run.id,
        step_id=step.id,
        params=json.loads(json.dumps(dict(step.params))),
        variables=json.loads(json.dumps(st.variables)),
        trigger_data=json.loads(json.dumps(st.run.trigger_data)),
        idempotency_key=call.key,
        attempt=st.attempts + 1,
        now=call.now,
    )
    result = action.handler(context)
    if result is None:
        return StepResult()
    if not isinstance(result, Mapping) or check_json_value(result, "output"):
        raise ActionFailed(
            f"custom action {step.type!r} returned something that is not a JSON object",
            retryable=False,
        )
    if action.messaging:
        sends = call.round.sends
        fan_key = (st.run.owner_id, st.run.fan_id)
        sends[fan_key] = sends.get(fan_key, 0) + 1
    output = dict(result)
    if output:
        st.variables[step.id] = dict(output)
    return StepResult(output)
