"""``send_message``: one message to the fan through the core's ``Messenger``.

Consent, suppression, quiet hours and frequency caps apply (the engine asks the
:class:`~campaign_core.delivery.SendPolicy` before any messaging action: a fan who
may not be messaged is skipped with the reason). The message goes on the step's
``channel`` (default ``dm``; the settings' fallback channels when the fan has no
address there) to the fan's address for it, under the step's consent ``topic``
(default: the settings' ``default_topic``), and carries the step visit's
idempotency key. The engine logs it in the message log every send path counts.
The message carries its own unsubscribe token (``{{ unsubscribe_url }}`` in the
template with ``MessagingSettings.unsubscribe_url``, and the messenger's
``unsubscribe`` argument), like a broadcast's.

The template is rendered through the one rendering path every send shares
(``campaign_core.jobs.messages.render_for_send``): the account's message
template of that name, else the built-in one, personalized for the fan; the
messenger receives the rendered ``parts`` beside the template name and
variables. A name that is neither (a host rendering its own templates) goes out
as the name and variables, as before. A template that cannot be rendered for this
fan (an undefined variable, a part over its channel's limit, a resource bound) fails
the step without a retry: sending again would render the same way.
"""

from __future__ import annotations

from typing import Any, Final

from campaign_core.automation import ActionFailed
from campaign_core.jobs.automation._state import (
    StepCall,
    StepResult,
    message_channel,
    message_topic,
    read,
)
from campaign_core.jobs.consent import message_unsubscribe, wants_unsubscribe
from campaign_core.jobs.messages import render_for_send, resolve_template
from campaign_core.models import MessageTemplate
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
    name = str(params["template"])
    verdict = call.send  # the policy's channel and address (the engine asked it)
    channel = verdict.channel if verdict is not None else message_channel(step)
    address = verdict.address if verdict is not None else fan.addresses.get(channel) or None
    rt = call.rt
    template = _template(call, name)
    unsub = None
    if wants_unsubscribe(rt, template is not None):
        # this message's own token (fan, account, channel, topic), keyed by the step visit
        topic = message_topic(step, rt.settings.messaging)
        unsub = message_unsubscribe(rt, automation.user_id, fan.fan_id, channel, topic, call.key)
    rendered = _render(call, name, variables, None if unsub is None else unsub.get("url"))
    message_id = send_through(
        call.rt.messenger,
        owner_id=automation.user_id,
        fan_id=fan.fan_id,
        template=name,
        variables=variables,
        idempotency_key=call.key,
        channel=channel,
        address=address,
        parts=None if rendered is None else rendered[0],
        unsubscribe=unsub,
    )
    st.variables["lastMessageId"] = str(message_id)
    output: dict[str, Any] = {"messageId": str(message_id), "template": params["template"]}
    if channel != message_channel(step) or "channel" in params:
        output["channel"] = channel
    if rendered is not None:
        output["locale"] = rendered[1]
    return StepResult(output)


def _template(call: StepCall, name: str) -> MessageTemplate | None:
    """The account's template ``name`` (else the built-in), looked up once per batch."""
    owner = call.automation.user_id
    cache = call.round.templates
    if (owner, name) not in cache:
        cache[owner, name] = read(call.rt, lambda tx: resolve_template(tx.uow, owner, name))
    return cache[owner, name]


def _render(
    call: StepCall, name: str, variables: dict[str, Any], link: str | None
) -> tuple[dict[str, str], str | None] | None:
    """The rendered parts for this fan and their locale; None when the host renders.

    Raises:
        ActionFailed: the template cannot be rendered for this fan (not retried).
    """
    found = _template(call, name)
    if found is None:
        return None
    rendered = render_for_send(  # the template is loaded: no store read, no transaction
        call.rt,
        None,
        owner_id=call.automation.user_id,
        fan=call.fan,
        template=found,
        variables=variables,
        unsubscribe_url=link,
    )
    if rendered is None:  # no templates extra: the messenger renders
        return None
    if not rendered.ok:
        raise ActionFailed(
            f"message template {name!r} cannot be rendered for this fan: "
            f"{rendered.reason} ({rendered.detail or 'no detail'})"
            + (f" in part {rendered.part}" if rendered.part else ""),
            retryable=False,
        )
    return dict(rendered.parts), rendered.locale
