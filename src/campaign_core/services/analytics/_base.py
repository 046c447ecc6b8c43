"""What every part of the analytics service shares: the actor, the account, reading a campaign's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._tracking_fallback import chunked, tracking_aggregates
from campaign_core.abtesting import WinnerDecision, decide_recorded
from campaign_core.analytics import ABTestSummary, CampaignMetrics, CampaignSummary, EventBatch
from campaign_core.catalog import builtin_template
from campaign_core.errors import ValidationError
from campaign_core.jobs.rollup import campaign_metrics
from campaign_core.models import ABTestStatus, Campaign, CampaignStatus
from campaign_core.permissions import Actor
from campaign_core.ports import TrackingCounts
from campaign_core.query import And, Cond, Eq, In, Order

__all__ = ["STARTED", "AnalyticsBase", "forget_cached"]

#: The statuses of a campaign that was launched (the others have nothing to track or measure).
STARTED: Final = (
    CampaignStatus.ACTIVE,
    CampaignStatus.PAUSED,
    CampaignStatus.COMPLETED,
    CampaignStatus.CANCELLED,
)


class AnalyticsBase:
    """The state and the reading helpers the tracking, query and report methods share."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def actor(self) -> Actor:
        return self._svc.actor

    @property
    def _account(self) -> str:
        return self._svc.account_id

    def _campaign(self, tx: Tx, campaign_id: Any, path: str = "campaign_id") -> Campaign:
        if not isinstance(campaign_id, str) or not campaign_id:
            raise ValidationError.single(path, "expected an id string", "invalid_type")
        campaign: Campaign = self._svc._owned(
            tx.uow.campaigns.get(campaign_id), "campaign", campaign_id
        )
        return campaign

    def _cache_key(self, campaign_id: str, *parts: Any) -> tuple[Any, ...]:
        return ("analytics", self._account, campaign_id, *parts)

    def _counts(self, tx: Tx, campaigns: Sequence[Campaign]) -> dict[str, TrackingCounts]:
        """All-time counters per campaign, cached for a minute (dropped by this core's writes)."""
        cache = self._rt.caches.campaign_metrics
        out: dict[str, TrackingCounts] = {}
        missing: list[str] = []
        for campaign in campaigns:
            hit = cache.get(self._cache_key(campaign.id, "counts"))
            if isinstance(hit, TrackingCounts):
                out[campaign.id] = hit
            else:
                missing.append(campaign.id)
        if missing:
            for cid, counts in tracking_aggregates(tx.uow).counts(missing).items():
                cache.put(self._cache_key(cid, "counts"), counts)
                out[cid] = counts
        return out

    def _metrics_of(self, tx: Tx, campaign: Campaign) -> CampaignMetrics:
        return campaign_metrics(campaign, self._counts(tx, [campaign])[campaign.id])

    def _started(self, tx: Tx) -> list[Campaign]:
        """The account's campaigns that were launched (the others have nothing to measure)."""
        found: list[Campaign] = tx.uow.campaigns.find(
            And(Eq("user_id", self._account), In("status", list(STARTED))),
            order_by=[Order("created_at"), Order("id")],
        )
        return [c for c in found if c.started_at is not None]

    def _summaries(self, tx: Tx, campaigns: Sequence[Campaign]) -> list[CampaignSummary]:
        counts = self._counts(tx, campaigns)
        niches = self._niches(tx, campaigns)
        return [
            CampaignSummary.from_campaign(
                c, campaign_metrics(c, counts[c.id]), niche=niches.get(c.template_id or "")
            )
            for c in campaigns
        ]

    def _niches(self, tx: Tx, campaigns: Sequence[Campaign]) -> dict[str, str]:
        ids = list(dict.fromkeys(c.template_id for c in campaigns if c.template_id))
        out: dict[str, str] = {}
        for chunk in chunked(ids):
            for template in tx.uow.templates.find(In("id", chunk)):
                if template.owner_id in (None, self._account):
                    out[template.id] = template.niche.value
        for template_id in ids:
            builtin = builtin_template(template_id)
            if template_id not in out and builtin is not None:
                out[template_id] = builtin.niche.value
        return out

    def _events(
        self,
        tx: Tx,
        campaign_ids: Sequence[str],
        since: datetime | None = None,
        before: datetime | None = None,
    ) -> EventBatch:
        cols = tracking_aggregates(tx.uow).columns(campaign_ids, since=since, before=before)
        return EventBatch.from_columns(
            kind=cols["kind"],
            occurred_at=cols["occurred_at"],
            value=cols["value"],
            fan_id=cols["fan_id"],
            platform=cols["platform"],
            variant_id=cols["variant_id"],
            campaign_id=cols["campaign_id"],
        )

    def _test_summaries(self, tx: Tx, campaign_id: str | None = None) -> list[ABTestSummary]:
        conds: list[Cond] = [Eq("user_id", self._account), Eq("status", ABTestStatus.RUNNING)]
        if campaign_id is not None:
            conds.append(Eq("campaign_id", campaign_id))
        out: list[ABTestSummary] = []
        for test in tx.uow.ab_tests.find(And(*conds), order_by=[Order("created_at"), Order("id")]):
            variants = tx.uow.ab_test_variants.find(
                Eq("test_id", test.id),
                order_by=[Order("is_control", True), Order("created_at"), Order("id")],
            )
            if len(variants) < 2:
                continue
            decision: WinnerDecision = decide_recorded(test, variants)
            out.append(
                ABTestSummary(
                    test_id=test.id, decision=decision, campaign_id=test.campaign_id, name=test.name
                )
            )
        return out


def forget_cached(rt: Runtime, account: str, campaign_ids: Sequence[str]) -> None:
    """Drop the cached counters of these campaigns and the account-wide views."""
    touched = set(campaign_ids)
    rt.caches.campaign_metrics.invalidate(
        lambda key: (
            isinstance(key, tuple)
            and len(key) >= 3
            and key[0] == "analytics"
            and key[1] == account
            and (key[2] == "*" or key[2] in touched)
        )
    )
