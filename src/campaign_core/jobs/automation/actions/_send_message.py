"""``send_message``: one message to the fan through the core's ``Messenger``.

Consent, suppression, quiet hours and frequency caps apply (the engine asks the
:class:`~campaign_core.delivery.SendPolicy` before any messaging action: a fan who
may not be messaged is skipped with the reason); the message goes on the ``dm``
channel and carries the step visit's idempotency key.
"""

from __future__ import annotations

from typing import Any, Final

from campaign_core.jobs.automation._state import AUTOMATION_CHANNEL, StepCall, StepResult
from campaign_core.ports import send_through

__all__ = ["NAME", "run"]

NAME: Final = "send_message"


def run(call: StepCall) -> StepResult:
    """Send the step's template to the fan.

    Args:
        call: the step being run.

    Returns:
        The message id and template (the run's ``lastMessageId`` variable is set).
    """
    st, step, fan, automation = call.state, call.step, call.fan, call.automation
    params = step.params
    variables: dict[str, Any] = dict(params.get("variables") or {})
    variables.update(
        {
            "fanId": fan.fan_id,
            "workflowId": automation.id,
            "workflowName": automation.name,
            "runId": st.run.id,
            "stepId": step.id,
        }
    )
    for flag in ("personalize", "includeMedia", "includeOffer"):
        if params.get(flag):
            variables[flag] = True
    if params.get("personalize"):
        variables["fan"] = {
            "fanId": fan.fan_id,
            "platform": fan.platform,
            "spendingLevel": fan.spending_level,
            "subscriptionStatus": fan.subscription_status,
            "timeZone": fan.time_zone,
            "traits": dict(fan.traits),
        }
    if params.get("includeOffer") and "offer" in st.variables:
        variables["offer"] = st.variables["offer"]
    message_id = send_through(
        call.rt.messenger,
        owner_id=automation.user_id,
        fan_id=fan.fan_id,
        template=str(params["template"]),
        variables=variables,
        idempotency_key=call.key,
        channel=AUTOMATION_CHANNEL,
        address=fan.addresses.get(AUTOMATION_CHANNEL) or None,
    )
    sends = call.round.sends
    fan_key = (st.run.owner_id, st.run.fan_id)
    sends[fan_key] = sends.get(fan_key, 0) + 1
    st.variables["lastMessageId"] = str(message_id)
    return StepResult({"messageId": str(message_id), "template": params["template"]})
