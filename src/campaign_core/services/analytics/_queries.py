"""The analytics service's questions: metrics, ROI, funnels, pacing, comparisons, trends, insights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from campaign_core._runtime import Tx
from campaign_core._tracking_fallback import chunked
from campaign_core._validate import v_id
from campaign_core.analytics import (
    BudgetPacing,
    CampaignMetrics,
    Funnel,
    GroupComparison,
    MetricTotals,
    PatternAnalysis,
    RankedCampaign,
    Recommendation,
    RecommendationInputs,
    RecommendationSettings,
    RoiMetrics,
    SegmentStats,
    Trend,
    budget_pacing,
    campaign_roi,
    conversion_funnel,
    get_recommendations,
    performance_trend,
    performance_trend_from_snapshots,
    resolve_timeframe,
    top_campaigns,
)
from campaign_core.analytics import compare_campaigns as _compare_campaigns
from campaign_core.analytics import compare_platforms as _compare_platforms
from campaign_core.analytics import identify_patterns as _identify_patterns
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.models import CampaignMetric
from campaign_core.permissions import Permission
from campaign_core.query import And, Eq, Gte, In, IsNull, Lt, Order
from campaign_core.services.analytics._base import AnalyticsBase

__all__ = ["INACTIVE_AFTER", "MAX_SEGMENTS", "QueryMethods"]

#: A segment member without activity for this long counts as inactive (recommendations).
INACTIVE_AFTER: Final = timedelta(days=30)
#: The most segments the recommendations look at (the largest first).
MAX_SEGMENTS: Final = 50


class QueryMethods(AnalyticsBase):
    """The read side of ``ws.analytics``: everything needs the ``read`` permission."""

    def get_campaign_metrics(self, campaign_id: str) -> CampaignMetrics:
        """A campaign's numbers (the seed's ``getCampaignMetrics``): totals, per platform, per variant.

        Impressions, reach (distinct fans), clicks, conversions, revenue, spent,
        CTR, conversion rate, ROI and CPA (``docs/reference/metrics-definitions.md``).
        Spend recorded with ``campaigns.record_spend`` rather than tracked
        appears in the unattributed group (platform and variant ``None``), so
        ``totals.spent`` is the campaign's ``spent``.

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.CampaignMetrics`.

        Raises:
            NotFoundError: no such campaign in the account.
            PermissionDeniedError: the actor may not read.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            return self._metrics_of(tx, self._campaign(tx, campaign_id))

    def get_campaign_roi(self, campaign_id: str) -> RoiMetrics:
        """The money view (the seed's ``getCampaignROI``): revenue, spent, profit, ROI, ROAS, CPA,
        average order value, break-even and the budget left.

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.RoiMetrics`.

        Raises:
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
            metrics = self._metrics_of(tx, campaign)
        return campaign_roi(metrics.totals, budget=campaign.budget)

    def get_conversion_funnel(
        self, campaign_id: str, *, platform: Any = None, variant_id: Any = None
    ) -> Funnel:
        """Impressions -> clicks -> conversions with step rates and drop-offs (``getConversionFunnel``).

        Args:
            campaign_id: the campaign.
            platform: one platform's funnel instead of the campaign's.
            variant_id: one A/B variant's funnel (not with ``platform``).

        Returns:
            The :class:`~campaign_core.analytics.Funnel` (zero counts for a
            platform or variant without events).

        Raises:
            ValidationError: a bad platform, or both options.
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        if platform is not None:
            self._rt.settings.platforms.check(platform, "platform", problems)
        if variant_id is not None:
            v_id(variant_id, "variant_id", problems)
        if platform is not None and variant_id is not None:
            problems.add("variant_id", "give a platform or a variant, not both", "invalid_value")
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            metrics = self._metrics_of(tx, self._campaign(tx, campaign_id))
        totals = metrics.totals
        if platform is not None:
            totals = metrics.platform(str(platform)) or _zero_totals(totals)
        elif variant_id is not None:
            totals = metrics.variant(variant_id) or _zero_totals(totals)
        return conversion_funnel(totals)

    def get_budget_pacing(self, campaign_id: str) -> BudgetPacing:
        """The campaign's spend against its budget, now and projected (pause at 100 %,
        alarm above 110 %).

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.BudgetPacing` at the core's now.

        Raises:
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
        now = self._rt.now()
        return budget_pacing(
            budget=campaign.budget,
            spent=campaign.spent,
            started_at=campaign.started_at or now,
            now=now,
        )

    # ------------------------------------------------------------------ comparisons
    def compare_campaigns(self, campaign_ids: Any, *, alpha: float = 0.05) -> GroupComparison:
        """Campaigns side by side with pairwise tests (the seed's ``compareCampaigns``).

        CTR and conversion rate are compared with two-proportion z-tests,
        revenue per click and ROAS with Welch's t-tests; p-values are
        Holm-adjusted per metric and a side is called better only when
        significant with the minimum samples.

        Args:
            campaign_ids: 2 to 200 distinct campaign ids of the account.
            alpha: the family-wise error rate per metric, in (0, 1).

        Returns:
            The :class:`~campaign_core.analytics.GroupComparison`, campaigns in the given order.

        Raises:
            ValidationError: not a list of 2-200 distinct ids, or a bad alpha.
            NotFoundError: a campaign not in the account.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        ids = _id_list(campaign_ids, "campaign_ids", problems, minimum=2, maximum=200)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaigns = [self._campaign(tx, cid, f"campaign_ids[{i}]") for i, cid in enumerate(ids)]
            summaries = self._summaries(tx, campaigns)
        return _compare_campaigns(summaries, alpha=alpha)

    def compare_platforms(self, campaign_id: str, *, alpha: float = 0.05) -> GroupComparison:
        """A campaign's platforms side by side with pairwise tests (the seed's ``comparePlatforms``).

        Args:
            campaign_id: a campaign of the account.
            alpha: the family-wise error rate per metric, in (0, 1).

        Returns:
            The :class:`~campaign_core.analytics.GroupComparison` of its
            platforms (events without a platform are left out).

        Raises:
            ValidationError: a bad alpha.
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            metrics = self._metrics_of(tx, self._campaign(tx, campaign_id))
        return _compare_platforms(metrics, alpha=alpha)

    # ------------------------------------------------------------------ time
    def get_performance_trends(
        self,
        timeframe: Any = None,
        *,
        campaign_id: Any = None,
        start: Any = None,
        end: Any = None,
        bucket: Any = None,
        timezone: str = "UTC",
        source: str = "events",
    ) -> Trend:
        """Performance over a timeframe, in buckets, with the change against the previous period.

        The seed's ``getPerformanceTrends``: the account's campaigns together,
        or one campaign.

        Args:
            timeframe: ``"24h"``, ``"7d"``, ``"30d"``, ``"90d"`` or any duration,
                ending now (by the core's clock); default ``"7d"`` unless
                ``start`` and ``end`` are given.
            campaign_id: one campaign (default: every launched campaign of the account).
            start: an explicit start (aware), with ``end`` and ``timeframe=None``.
            end: an explicit end, exclusive.
            bucket: ``hour``, ``day`` or ``week`` (default: from the span).
            timezone: the IANA zone whose midnights bound day and week buckets.
            source: ``events`` (exact, reach per bucket) or ``snapshots`` (the
                hourly roll-ups: cheaper over many campaigns, no reach, up to
                the last hour rolled up).

        Returns:
            The :class:`~campaign_core.analytics.Trend`.

        Raises:
            ValidationError: a bad timeframe, bucket, zone or source.
            NotFoundError: ``campaign_id`` is not in the account.
        """
        self._svc._require(Permission.READ)
        if source not in ("events", "snapshots"):
            raise ValidationError.single("source", "must be 'events' or 'snapshots'")
        now = self._rt.now()
        if timeframe is None and start is None and end is None:
            timeframe = "7d"
        begin, stop = resolve_timeframe(timeframe=timeframe, start=start, end=end, now=now)
        previous = begin - (stop - begin)
        with self._rt.transaction() as tx:
            if campaign_id is not None:
                campaigns = [self._campaign(tx, campaign_id)]
            else:
                campaigns = self._started(tx)
            ids = [c.id for c in campaigns]
            if source == "snapshots":
                snapshots = _snapshots(tx, ids, previous, stop)
                return performance_trend_from_snapshots(
                    snapshots, start=begin, end=stop, bucket=bucket, timezone=timezone
                )
            events = self._events(tx, ids, since=previous, before=stop)
        return performance_trend(events, start=begin, end=stop, bucket=bucket, timezone=timezone)

    # ------------------------------------------------------------------ insights
    def get_top_performing_campaigns(
        self, limit: Any = 10, *, by: Any = "roi", min_spent: Any = 0.0
    ) -> tuple[RankedCampaign, ...]:
        """The account's best campaigns (the seed's ``getTopPerformingCampaigns``).

        Args:
            limit: how many (1-1000).
            by: roi, revenue, profit, conversions, ctr or conversion_rate (rates
                rank by the lower Wilson bound, so tiny samples do not top the list).
            min_spent: for ``roi``, the spend a campaign needs to be ranked.

        Returns:
            Up to ``limit`` :class:`~campaign_core.analytics.RankedCampaign`, best first.

        Raises:
            ValidationError: bad options.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
        return top_campaigns(summaries, by=by, limit=limit, min_spent=min_spent)

    def identify_patterns(
        self, *, metric: Any = "conversion_rate", alpha: Any = 0.05, timezone: str = "UTC"
    ) -> PatternAnalysis:
        """What performs better across the account's campaigns (the seed's ``identifyPatterns``).

        Type, platform, niche, launch weekday and time of day, price band: each
        value against the rest, with its effect size, support and an
        over-dispersion-corrected test, Holm-adjusted; values with too little
        data are listed as skipped, never claimed.

        Args:
            metric: conversion_rate, ctr or conversions_per_impression.
            alpha: the family-wise error rate.
            timezone: the zone launch weekdays and hours are read in.

        Returns:
            The :class:`~campaign_core.analytics.PatternAnalysis`.

        Raises:
            ValidationError: bad options.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
        return _identify_patterns(summaries, metric=metric, alpha=alpha, timezone=timezone)

    def get_recommendations(self) -> tuple[Recommendation, ...]:
        """Suggestions for the account, each with its evidence (the seed's ``getRecommendations``).

        Looks at the launched campaigns (pause a money-loser, shift budget
        between platforms or campaigns, raise a budget about to run out), the
        running A/B tests (apply a winner, check a traffic split, extend an
        underpowered test) and the segments (re-engage one with many inactive
        members).

        Returns:
            The recommendations, highest priority first, each with its evidence.

        Raises:
            PermissionDeniedError: the actor may not read.
        """
        self._svc._require(Permission.READ)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
            tests = self._test_summaries(tx)
            segments = self._segment_stats(tx, now)
        return get_recommendations(
            RecommendationInputs(now=now, campaigns=summaries, ab_tests=tests, segments=segments)
        )

    def _segment_stats(self, tx: Tx, now: datetime) -> list[SegmentStats]:
        """Activity counts of the account's largest segments, read from the tables directly."""
        floor = RecommendationSettings().min_segment_members
        cutoff = now - INACTIVE_AFTER
        out: list[SegmentStats] = []
        segments = tx.uow.segments.find(
            Eq("user_id", self._account),
            order_by=[Order("member_count", True), Order("id")],
            limit=MAX_SEGMENTS,
        )
        for segment in segments:
            if segment.member_count < floor:
                continue  # below the rule's floor: not worth reading the members
            fans = [m.fan_id for m in tx.uow.segment_members.find(Eq("segment_id", segment.id))]
            active = 0
            for chunk in chunked(list(dict.fromkeys(fans))):
                for fan in tx.uow.fans.find(
                    And(Eq("owner_id", self._account), In("fan_id", chunk))
                ):
                    if fan.last_activity_at is not None and fan.last_activity_at >= cutoff:
                        active += 1
            members = len(fans)
            out.append(
                SegmentStats(
                    segment_id=segment.id,
                    members=members,
                    inactive_members=max(0, members - active),
                    name=segment.name,
                    avg_revenue=segment.avg_revenue,
                )
            )
        return out


def _zero_totals(like: Any) -> Any:
    return MetricTotals.from_counts(reach=None if like.reach is None else 0)


def _id_list(
    value: Any, path: str, problems: ProblemCollector, *, minimum: int, maximum: int
) -> list[str]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        problems.add(path, "expected a list of ids", "invalid_type")
        return []
    if not minimum <= len(value) <= maximum:
        problems.add(path, f"give {minimum} to {maximum} ids", "out_of_range")
        return []
    out: list[str] = []
    for index, item in enumerate(value):
        clean = v_id(item, f"{path}[{index}]", problems)
        if clean is None:
            continue
        if clean in out:
            problems.add(f"{path}[{index}]", f"{clean!r} is given twice", "duplicate")
            continue
        out.append(clean)
    return out


def _snapshots(
    tx: Tx, campaign_ids: Sequence[str], since: datetime, before: datetime
) -> list[CampaignMetric]:
    """Aggregate snapshots in [since, before), plus each campaign's last one before (the baseline)."""
    out: list[CampaignMetric] = []
    repo = tx.uow.campaign_metrics
    for chunk in chunked(list(campaign_ids)):
        out.extend(
            repo.find(
                And(
                    In("campaign_id", chunk),
                    IsNull("platform"),
                    Gte("period_start", since),
                    Lt("period_start", before),
                )
            )
        )
    for cid in campaign_ids:
        out.extend(
            repo.find(
                And(Eq("campaign_id", cid), IsNull("platform"), Lt("period_start", since)),
                order_by=[Order("period_start", True)],
                limit=1,
            )
        )
    return out
