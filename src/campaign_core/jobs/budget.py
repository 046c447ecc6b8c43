"""Spend against a campaign's budget: the one place the budget rule is applied.

A service call (``record_spend``) and tracking ingestion (spend carried by
tracked events) both add spend here, so reaching the budget pauses the
campaign and alerts the owner the same way whichever way the spend came in.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.errors import InvalidTransitionError, NotFoundError
from campaign_core.models import Campaign, CampaignStatus

__all__: list[str] = []

S = CampaignStatus


def budget_alert(campaign: Campaign, at: datetime) -> Alert:
    """The owner's alert for a campaign paused because its spend reached its budget."""
    return Alert(
        kind=AlertKind.BUDGET_EXHAUSTED,
        owner_id=campaign.user_id,
        message=f"'{campaign.name}' reached its budget "
        f"({campaign.spent:.2f} of {campaign.budget or 0:.2f}) and was paused",
        entity="campaign",
        entity_id=campaign.id,
        at=at,
        data={"budget": campaign.budget, "spent": campaign.spent},
    )


def record_spend(rt: Runtime, account_id: str, campaign_id: str, amount: float) -> Campaign:
    """Add ``amount`` to a campaign's spend and apply the budget rule."""
    with rt.transaction() as tx:
        campaign = tx.uow.campaigns.get(campaign_id)
        if campaign is None or campaign.user_id != account_id:
            raise NotFoundError("campaign", campaign_id)
        if campaign.status is S.DRAFT:
            raise InvalidTransitionError(campaign.status.value, "record spend on")
        return apply_spend(tx, rt, campaign, amount)


def apply_spend(tx: Tx, rt: Runtime, campaign: Campaign, amount: float) -> Campaign:
    """Add ``amount`` to ``campaign``'s spend inside ``tx``; at its budget it pauses and alerts.

    The one budget path: ``record_spend`` and the cost of broadcast messages.
    """
    tx.uow.campaigns.increment(campaign.id, {"spent": amount})
    current = tx.uow.campaigns.get(campaign.id)
    assert current is not None
    if (
        current.status is S.ACTIVE
        and current.budget is not None
        and current.spent >= current.budget
    ):
        now = rt.now()
        current = attrs.evolve(
            current,
            status=S.PAUSED,
            paused_reason="budget_exhausted",
            updated_at=now,
            version=current.version + 1,
        )
        tx.uow.campaigns.update(current)
        rt.alert(tx, budget_alert(current, now))
    if current.budget:
        tx.after_commit.append(
            lambda: rt.emitter.budget_utilization(
                spent=current.spent,
                budget=current.budget,
                campaign_type=current.type.value,
                owner_id=current.user_id,
            )
        )
    return current
