"""``create_campaign``: a draft campaign from a template, through the campaigns port.

The campaign's id is derived from the step visit's idempotency key, so a retried or
recovered step finds the campaign it made instead of making another. The run's
``campaignId`` and ``offer`` variables are set (``send_message`` may include the offer).
The campaign is linked to the workflow (``_AutomationToCampaign``) in the unit of work
that creates it.
"""

from __future__ import annotations

from typing import Any, Final

from campaign_core.automation import ActionFailed
from campaign_core.catalog import builtin_template
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.jobs.automation._state import StepCall, StepResult, stable_id

__all__ = ["NAME", "run"]

NAME: Final = "create_campaign"


def run(call: StepCall) -> StepResult:
    """Create the campaign (once per step visit) and describe the offer.

    Args:
        call: the step being run.

    Returns:
        The offer: campaign id, template, discount and price when known.

    Raises:
        ActionFailed: the template is missing or the campaign would not be valid.
    """
    st, params = call.state, call.step.params
    campaign_id = stable_id("cmp", call.key)
    ref = str(params["template"])
    existing = call.read(lambda tx: tx.uow.campaigns.get(campaign_id))
    template = None
    if existing is None:
        template = call.read(lambda tx: tx.uow.templates.get(ref)) or builtin_template(ref)
    discount = params.get("discount")
    offer: dict[str, Any] = {"campaignId": campaign_id, "template": params["template"]}
    if discount is not None:
        offer["discount"] = discount
    if existing is not None:
        price = existing.content.get("price")
        if isinstance(price, int | float):
            offer["price"] = price
        st.variables["campaignId"] = campaign_id
        st.variables["offer"] = offer
        return StepResult(offer)
    customization: dict[str, Any] = dict(params.get("customization") or {})
    content_changes: dict[str, Any] = {}
    if discount is not None:
        content_changes["discount"] = discount
        base_price = None if template is None else template.content.get("price")
        if isinstance(base_price, int | float) and not isinstance(base_price, bool):
            new_price = round(float(base_price) * (1 - float(discount)), 2)
            content_changes["price"] = new_price
            content_changes["originalPrice"] = base_price
            offer["price"] = new_price
    if "name" in params:
        customization["name"] = params["name"]
    try:
        call.ports.campaigns.create_from_template(
            owner_id=call.automation.user_id,
            campaign_id=campaign_id,
            template=ref,
            customization=customization,
            content=content_changes,
            # execute_action runs a step outside any workflow: nothing to link to
            workflow_id=None if call.state.run.trigger_type == "manual" else call.automation.id,
        )
    except (ValidationError, NotFoundError) as error:
        raise ActionFailed(str(error), retryable=False) from error
    except ConflictError:
        if call.read(lambda tx: tx.uow.campaigns.get(campaign_id)) is None:
            raise
    st.variables["campaignId"] = campaign_id
    st.variables["offer"] = offer
    return StepResult(offer)
