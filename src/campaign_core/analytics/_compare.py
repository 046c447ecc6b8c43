"""Comparing campaigns and platforms, with a test behind every "better".

Every pair of entities is compared on four metrics:

* ``ctr``: pooled two-proportion z-test of clicks / impressions;
* ``conversion_rate``: the same on conversions / clicks;
* ``revenue_per_click``: Welch's t-test from (clicks, revenue, sum of squared
  conversion values): each conversion's value is one click's revenue, the
  other clicks contribute 0;
* ``roas`` (revenue / spent, i.e. ROI + 1): Welch's t-test on revenue per
  impression divided by each side's cost per impression (spend is taken as
  known, the revenue as the random part), so its mean is the ROAS.

The p-values of one metric are Holm-adjusted over all the pairs tested on it.
One entity is called better only when the adjusted p-value is below ``alpha``
**and** both sides pass the minimum samples (the same floors as the A/B
decision: 1000 impressions for CTR and ROAS, 100 clicks for the conversion
rate and revenue per click, and 30 conversions between the two sides for the
metrics that depend on conversions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import open_unit
from campaign_core.abtesting import SEED_MIN_SAMPLE, MinimumSample
from campaign_core.analytics._aggregate import CampaignMetrics, PlatformMetrics
from campaign_core.analytics._definitions import MetricTotals, ratio
from campaign_core.analytics._goals import GoalProgress
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import Campaign
from campaign_core.stats import (
    adjust_pvalues,
    two_proportion_ztest,
    welch_ttest_from_stats,
    wilson_interval,
)

__all__ = [
    "COMPARED_METRICS",
    "CampaignSummary",
    "GroupComparison",
    "MetricLeader",
    "PairwiseTest",
    "RankedCampaign",
    "compare_campaigns",
    "compare_platforms",
    "top_campaigns",
]

ComparedMetric: TypeAlias = Literal["ctr", "conversion_rate", "revenue_per_click", "roas"]
COMPARED_METRICS: tuple[str, ...] = ("ctr", "conversion_rate", "revenue_per_click", "roas")
MAX_COMPARED = 200

SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not_significant"
BELOW_MINIMUM = "below_minimum_sample"
INVALID_DATA = "invalid_data"
NOT_AVAILABLE = "not_available"


@attrs.frozen(kw_only=True)
class CampaignSummary:
    """What the insight functions need to know about one campaign.

    Build it with :meth:`from_campaign` from the stored campaign and its
    metrics, or by hand.

    Attributes:
        campaign_id: the campaign.
        metrics: its totals.
        name: its name.
        type: its type (``ppv``, ``subscription``...).
        status: its status (``active``...).
        niche: the niche of the template it came from, if any.
        launched_at: when it started (its ``started_at``).
        ends_at: when it is planned to end, if it has an end.
        price: the offer's price (``content.price``), if any.
        budget: its budget, if any.
        budget_spent: the spend counted against the budget (the campaign's
            ``spent``); ``None`` means ``metrics.spent``.
        by_platform: per-platform metrics (for the platform patterns and
            budget shifts between platforms).
        goals: progress toward the campaign's ``goals`` (for the goal
            recommendations).
    """

    campaign_id: str
    metrics: MetricTotals
    name: str | None = None
    type: str | None = None
    status: str | None = None
    niche: str | None = None
    launched_at: datetime | None = None
    ends_at: datetime | None = None
    price: float | None = None
    budget: float | None = None
    budget_spent: float | None = None
    by_platform: tuple[PlatformMetrics, ...] = ()
    goals: tuple[GoalProgress, ...] = ()

    @property
    def spent_against_budget(self) -> float:
        """``budget_spent`` when given, else the tracked spend."""
        return self.metrics.spent if self.budget_spent is None else self.budget_spent

    @classmethod
    def from_campaign(
        cls,
        campaign: Campaign,
        metrics: CampaignMetrics,
        *,
        niche: str | None = None,
        ends_at: datetime | None = None,
    ) -> CampaignSummary:
        """A summary of a stored campaign and its metrics.

        Args:
            campaign: the campaign record.
            metrics: its metrics (from :func:`compute_metrics` or
                :func:`metrics_from_counts`).
            niche: the niche of its template, when known.
            ends_at: its planned end, when it has one.

        Returns:
            The summary (``price`` read from ``content["price"]`` when it is a
            finite number).

        Raises:
            ValidationError: wrong argument types.
        """
        if not isinstance(campaign, Campaign):
            raise ValidationError.single("campaign", "must be a Campaign", "invalid_type")
        if not isinstance(metrics, CampaignMetrics):
            raise ValidationError.single("metrics", "must be a CampaignMetrics", "invalid_type")
        price = campaign.content.get("price") if isinstance(campaign.content, Mapping) else None
        if (
            isinstance(price, bool)
            or not isinstance(price, int | float)
            or not math.isfinite(price)
        ):
            price = None
        return cls(
            campaign_id=campaign.id,
            metrics=metrics.totals,
            name=campaign.name,
            type=str(campaign.type),
            status=str(campaign.status),
            niche=niche,
            launched_at=campaign.started_at,
            ends_at=ends_at,
            price=None if price is None else float(price),
            budget=campaign.budget,
            budget_spent=campaign.spent,
            by_platform=tuple(p for p in metrics.by_platform if p.platform is not None),
            goals=metrics.goals,
        )


@attrs.frozen(kw_only=True)
class PairwiseTest:
    """One metric compared between two entities (B against A).

    Attributes:
        metric: ``ctr``, ``conversion_rate``, ``revenue_per_click`` or ``roas``.
        a: the first entity's key (campaign id or platform).
        b: the second entity's key.
        value_a: A's value of the metric (``None`` when undefined).
        value_b: B's value.
        difference: ``value_b - value_a``.
        relative_difference: ``value_b / value_a - 1`` (``None`` when A's is 0).
        statistic: z or Welch's t (``None`` when not tested or infinite).
        p_value: the raw two-sided p-value (``None`` when not tested).
        adjusted_p_value: Holm-adjusted over the metric's tested pairs.
        outcome: ``significant``, ``not_significant``, ``below_minimum_sample``
            (too little data to claim anything), ``invalid_data`` (more
            successes than trials) or ``not_available`` (no spend, or no sums
            of squares for the revenue tests).
        better: the key of the better entity, only when ``significant``.
    """

    metric: str
    a: str
    b: str
    value_a: float | None
    value_b: float | None
    difference: float | None
    relative_difference: float | None
    statistic: float | None
    p_value: float | None
    adjusted_p_value: float | None
    outcome: str
    better: str | None


@attrs.frozen(kw_only=True)
class MetricLeader:
    """The entity with the best value of a metric, and whether that is a claim.

    Attributes:
        metric: the metric.
        key: the entity with the highest value among those with a value.
        value: its value.
        claimed: whether it is significantly better than every other entity
            (so "X has the best CTR" may be said).
    """

    metric: str
    key: str | None
    value: float | None
    claimed: bool


@attrs.frozen(kw_only=True)
class ComparedEntry:
    """One entity in a comparison."""

    key: str
    metrics: MetricTotals


@attrs.frozen(kw_only=True)
class GroupComparison:
    """Campaigns or platforms side by side, with pairwise tests.

    Attributes:
        kind: ``campaign`` or ``platform``.
        alpha: the family-wise error rate per metric.
        entries: the entities and their metrics.
        tests: every pair, for every metric (pairs in entry order).
        leaders: per metric, the best entity and whether it is a claim.
    """

    kind: str
    alpha: float
    entries: tuple[ComparedEntry, ...]
    tests: tuple[PairwiseTest, ...]
    leaders: tuple[MetricLeader, ...]

    def test(self, metric: str, a: str, b: str) -> PairwiseTest | None:
        """The test of ``metric`` between ``a`` and ``b`` (in either order)."""
        for t in self.tests:
            if t.metric == metric and {t.a, t.b} == {a, b}:
                return t
        return None


# ---------------------------------------------------------------------- core


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _metric_value(m: MetricTotals, metric: str) -> float | None:
    if metric == "ctr":
        return m.ctr
    if metric == "conversion_rate":
        return m.conversion_rate
    if metric == "revenue_per_click":
        return ratio(m.revenue, m.clicks)
    return ratio(m.revenue, m.spent)


def _arr(values: Sequence[float]) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def compare_entries(
    kind: str,
    entries: Sequence[ComparedEntry],
    *,
    alpha: float = 0.05,
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
) -> GroupComparison:
    """Compare entities pairwise on every metric (the engine of both comparisons)."""
    alpha = open_unit("alpha", alpha)
    if not isinstance(min_samples, MinimumSample):
        raise ValidationError.single("min_samples", "must be a MinimumSample", "invalid_type")
    if len(entries) > MAX_COMPARED:
        raise ValidationError.single(
            "",
            f"can compare at most {MAX_COMPARED} entities at once, got {len(entries)}",
            "too_long",
        )
    pairs = [(i, j) for i in range(len(entries)) for j in range(i + 1, len(entries))]
    tests: list[PairwiseTest] = []
    leaders: list[MetricLeader] = []
    for metric in COMPARED_METRICS:
        metric_tests = _test_metric(metric, entries, pairs, alpha, min_samples)
        tests.extend(metric_tests)
        leaders.append(_leader(metric, entries, metric_tests))
    return GroupComparison(
        kind=kind, alpha=alpha, entries=tuple(entries), tests=tuple(tests), leaders=tuple(leaders)
    )


def _eligibility(
    metric: str, a: MetricTotals, b: MetricTotals, floors: MinimumSample
) -> str | None:
    """Why the pair cannot be tested or claimed (``None``: it can)."""
    # the tests themselves need 1 trial (z-test) or 2 observations (Welch) per side
    trials = {"ctr": "impressions", "roas": "impressions"}.get(metric, "clicks")
    if min(getattr(a, trials), getattr(b, trials)) < (
        1 if metric in ("ctr", "conversion_rate") else 2
    ):
        return BELOW_MINIMUM
    if metric == "ctr":
        if a.clicks > a.impressions or b.clicks > b.impressions:
            return INVALID_DATA
        if (
            min(a.impressions, b.impressions) < floors.impressions
            or a.clicks + b.clicks < floors.clicks
        ):
            return BELOW_MINIMUM
        return None
    if metric == "roas" and (a.spent <= 0 or b.spent <= 0):
        return NOT_AVAILABLE
    if metric in ("revenue_per_click", "roas") and (
        a.revenue_sum_squares is None or b.revenue_sum_squares is None
    ):
        return NOT_AVAILABLE
    if metric in ("conversion_rate", "revenue_per_click"):
        if a.conversions > a.clicks or b.conversions > b.clicks:
            return INVALID_DATA
        if (
            min(a.clicks, b.clicks) < floors.clicks
            or a.conversions + b.conversions < floors.conversions
        ):
            return BELOW_MINIMUM
        return None
    # roas
    if a.conversions > a.impressions or b.conversions > b.impressions:
        return INVALID_DATA
    if (
        min(a.impressions, b.impressions) < floors.impressions
        or a.conversions + b.conversions < floors.conversions
    ):
        return BELOW_MINIMUM
    return None


def _test_metric(
    metric: str,
    entries: Sequence[ComparedEntry],
    pairs: Sequence[tuple[int, int]],
    alpha: float,
    floors: MinimumSample,
) -> list[PairwiseTest]:
    reasons = [
        _eligibility(metric, entries[i].metrics, entries[j].metrics, floors) for i, j in pairs
    ]
    tested = [k for k, reason in enumerate(reasons) if reason is None]
    stat = np.full(len(pairs), np.nan)
    pval = np.full(len(pairs), np.nan)
    if tested:
        ma = [entries[pairs[k][0]].metrics for k in tested]
        mb = [entries[pairs[k][1]].metrics for k in tested]
        s, p = _run_tests(metric, ma, mb)
        stat[tested] = s
        pval[tested] = p
        # a test the data make impossible (rounding at the Cauchy-Schwarz edge) is invalid data
    adjusted = np.full(len(pairs), np.nan)
    ok = [k for k in tested if math.isfinite(pval[k])]
    if ok:
        adjusted[ok] = adjust_pvalues(pval[ok], "holm")
    out: list[PairwiseTest] = []
    for k, (i, j) in enumerate(pairs):
        a, b = entries[i], entries[j]
        va, vb = _metric_value(a.metrics, metric), _metric_value(b.metrics, metric)
        diff = None if va is None or vb is None else vb - va
        quotient = None if va is None or vb is None else ratio(vb, va)
        rel = None if quotient is None else quotient - 1.0
        reason = reasons[k]
        if reason is None and not math.isfinite(pval[k]):
            reason = INVALID_DATA
        better = None
        if reason is None:
            if adjusted[k] < alpha and diff:
                reason = SIGNIFICANT
                better = b.key if diff > 0 else a.key
            else:
                reason = NOT_SIGNIFICANT
        tested_here = reason in (SIGNIFICANT, NOT_SIGNIFICANT)
        out.append(
            PairwiseTest(
                metric=metric,
                a=a.key,
                b=b.key,
                value_a=va,
                value_b=vb,
                difference=diff,
                relative_difference=rel,
                statistic=_finite(float(stat[k])) if tested_here else None,
                p_value=float(pval[k]) if tested_here else None,
                adjusted_p_value=float(adjusted[k]) if tested_here else None,
                outcome=reason,
                better=better,
            )
        )
    return out


def _run_tests(
    metric: str, ma: Sequence[MetricTotals], mb: Sequence[MetricTotals]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if metric in ("ctr", "conversion_rate"):
        k_attr, n_attr = ("clicks", "impressions") if metric == "ctr" else ("conversions", "clicks")
        z = two_proportion_ztest(
            _arr([getattr(m, k_attr) for m in ma]),
            _arr([getattr(m, n_attr) for m in ma]),
            _arr([getattr(m, k_attr) for m in mb]),
            _arr([getattr(m, n_attr) for m in mb]),
        )
        return np.asarray(z.z, dtype=np.float64), np.asarray(z.p_value, dtype=np.float64)
    if metric == "revenue_per_click":
        scale_a = np.ones(len(ma))
        scale_b = np.ones(len(mb))
        n_a = _arr([m.clicks for m in ma])
        n_b = _arr([m.clicks for m in mb])
    else:  # roas: divide each impression's revenue by that side's cost per impression
        scale_a = _arr([m.spent / m.impressions for m in ma])
        scale_b = _arr([m.spent / m.impressions for m in mb])
        n_a = _arr([m.impressions for m in ma])
        n_b = _arr([m.impressions for m in mb])
    with np.errstate(all="ignore"):  # extreme amounts overflow; those pairs are dropped below
        sum_a = _arr([m.revenue for m in ma]) / scale_a
        sum_b = _arr([m.revenue for m in mb]) / scale_b
        sq_a = _arr([m.revenue_sum_squares or 0.0 for m in ma]) / (scale_a * scale_a)
        sq_b = _arr([m.revenue_sum_squares or 0.0 for m in mb]) / (scale_b * scale_b)
        # rounding can put a sum of squares a hair under sum²/n; nudge it to the bound
        sq_a = np.maximum(sq_a, sum_a * sum_a / n_a)
        sq_b = np.maximum(sq_b, sum_b * sum_b / n_b)
    ok = np.isfinite(sum_a) & np.isfinite(sum_b) & np.isfinite(sq_a) & np.isfinite(sq_b)
    t = np.full(len(ma), np.nan)
    p = np.full(len(ma), np.nan)
    if ok.any():
        try:
            w = welch_ttest_from_stats(n_a[ok], sum_a[ok], sq_a[ok], n_b[ok], sum_b[ok], sq_b[ok])
        except ValidationError:  # pragma: no cover - the inputs were made valid above
            return t, p
        t[ok] = w.t
        p[ok] = w.p_value
    return t, p


def _leader(
    metric: str, entries: Sequence[ComparedEntry], tests: Sequence[PairwiseTest]
) -> MetricLeader:
    valued = [(e.key, _metric_value(e.metrics, metric)) for e in entries]
    candidates = [(k, v) for k, v in valued if v is not None]
    if not candidates:
        return MetricLeader(metric=metric, key=None, value=None, claimed=False)
    # highest value; ties broken by key so the answer never depends on input order
    key, value = min(candidates, key=lambda kv: (-kv[1], kv[0]))
    others = [e.key for e in entries if e.key != key]
    claimed = bool(others) and all(
        any(t.better == key and {t.a, t.b} == {key, other} for t in tests) for other in others
    )
    return MetricLeader(metric=metric, key=key, value=value, claimed=claimed)


# ---------------------------------------------------------------------- public


def _coerce_summaries(summaries: object, path: str = "summaries") -> list[CampaignSummary]:
    if isinstance(summaries, str | bytes | Mapping) or not isinstance(summaries, Sequence):
        raise ValidationError.single(path, "must be a list of CampaignSummary", "invalid_type")
    problems = ProblemCollector()
    seen: set[str] = set()
    out: list[CampaignSummary] = []
    for index, item in enumerate(summaries):
        item_path = join_path(path, index)
        if not isinstance(item, CampaignSummary):
            problems.add(item_path, "must be a CampaignSummary", "invalid_type")
            continue
        if not isinstance(item.campaign_id, str) or not item.campaign_id:
            problems.add(
                join_path(item_path, "campaign_id"), "must be a non-empty string", "invalid_type"
            )
            continue
        metrics: object = item.metrics
        if not isinstance(metrics, MetricTotals):
            problems.add(join_path(item_path, "metrics"), "must be a MetricTotals", "invalid_type")
            continue
        if item.campaign_id in seen:
            problems.add(
                join_path(item_path, "campaign_id"), f"duplicate {item.campaign_id!r}", "duplicate"
            )
            continue
        seen.add(item.campaign_id)
        out.append(item)
    problems.raise_if_any()
    return out


def compare_campaigns(
    summaries: Sequence[CampaignSummary],
    *,
    alpha: float = 0.05,
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
) -> GroupComparison:
    """Compare campaigns pairwise (the seed's ``compareCampaigns``).

    Args:
        summaries: the campaigns (at most 200), each with its totals.
        alpha: the family-wise error rate per metric (Holm), in (0, 1).
        min_samples: the floors below which nothing is claimed.

    Returns:
        A :class:`GroupComparison` of kind ``campaign``, entries in the given order.

    Raises:
        ValidationError: not summaries, duplicate ids, too many, or a bad alpha.
    """
    clean = _coerce_summaries(summaries)
    entries = [ComparedEntry(key=s.campaign_id, metrics=s.metrics) for s in clean]
    return compare_entries("campaign", entries, alpha=alpha, min_samples=min_samples)


def compare_platforms(
    metrics: CampaignMetrics,
    *,
    alpha: float = 0.05,
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
) -> GroupComparison:
    """Compare a campaign's platforms pairwise (the seed's ``comparePlatforms``).

    Events without a platform are left out of the comparison.

    Args:
        metrics: the campaign's metrics.
        alpha: the family-wise error rate per metric (Holm).
        min_samples: the floors below which nothing is claimed.

    Returns:
        A :class:`GroupComparison` of kind ``platform``, platforms sorted by name.

    Raises:
        ValidationError: ``metrics`` is not a :class:`CampaignMetrics`, or a bad alpha.
    """
    if not isinstance(metrics, CampaignMetrics):
        raise ValidationError.single("metrics", "must be a CampaignMetrics", "invalid_type")
    entries = [
        ComparedEntry(key=p.platform, metrics=p.metrics)
        for p in metrics.by_platform
        if p.platform is not None
    ]
    return compare_entries("platform", entries, alpha=alpha, min_samples=min_samples)


# ---------------------------------------------------------------------- ranking

RankBy: TypeAlias = Literal["roi", "revenue", "profit", "conversions", "ctr", "conversion_rate"]
RANK_BY: tuple[str, ...] = ("roi", "revenue", "profit", "conversions", "ctr", "conversion_rate")


@attrs.frozen(kw_only=True)
class RankedCampaign:
    """A campaign's place in :func:`top_campaigns`.

    Attributes:
        rank: 1 for the best.
        campaign_id: the campaign.
        name: its name.
        value: the metric ranked by.
        score: what the order uses: the value itself, except for rates, where
            it is the lower limit of the 95 % Wilson interval (so 1 conversion
            out of 1 click does not top 300 out of 1000).
        metrics: its totals.
    """

    rank: int
    campaign_id: str
    name: str | None
    value: float
    score: float
    metrics: MetricTotals


def top_campaigns(
    summaries: Sequence[CampaignSummary],
    *,
    by: RankBy = "roi",
    limit: int = 10,
    min_spent: float = 0.0,
) -> tuple[RankedCampaign, ...]:
    """The best campaigns by a metric (the seed's ``getTopPerformingCampaigns``).

    Campaigns whose metric is undefined (no spend for ROI, no impressions for
    CTR...) or whose rates are flagged above 1 are left out; ties are broken by
    campaign id.

    Args:
        summaries: the campaigns.
        by: ``roi``, ``revenue``, ``profit``, ``conversions``, ``ctr`` or
            ``conversion_rate``.
        limit: how many to return (1-1000).
        min_spent: for ``roi``, the spend a campaign needs to be ranked.

    Returns:
        Up to ``limit`` campaigns, best first.

    Raises:
        ValidationError: bad summaries or options.
    """
    clean = _coerce_summaries(summaries)
    problems = ProblemCollector()
    if by not in RANK_BY:
        problems.add("by", f"must be one of {', '.join(RANK_BY)}", "invalid_value")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        problems.add("limit", "must be an integer in [1, 1000]", "out_of_range")
    if (
        isinstance(min_spent, bool)
        or not isinstance(min_spent, int | float)
        or not math.isfinite(min_spent)
        or min_spent < 0
    ):
        problems.add("min_spent", "must be a finite amount >= 0", "out_of_range")
    problems.raise_if_any()
    scored: list[tuple[float, str, float, CampaignSummary]] = []
    for s in clean:
        m = s.metrics
        value: float | None
        score: float | None
        if by in ("ctr", "conversion_rate"):
            k, n = (m.clicks, m.impressions) if by == "ctr" else (m.conversions, m.clicks)
            if n == 0 or k > n:
                continue
            value = k / n
            score = float(wilson_interval(k, n).lower)
        elif by == "roi":
            if m.roi is None or m.spent < min_spent:
                continue
            value = score = m.roi
        elif by == "revenue":
            value = score = m.revenue
        elif by == "profit":
            value = score = m.profit
        else:
            value = score = float(m.conversions)
        scored.append((score, s.campaign_id, value, s))
    scored.sort(key=lambda row: (-row[0], row[1]))
    return tuple(
        RankedCampaign(
            rank=index + 1,
            campaign_id=cid,
            name=s.name,
            value=value,
            score=score,
            metrics=s.metrics,
        )
        for index, (score, cid, value, s) in enumerate(scored[:limit])
    )


def coerce_summaries(summaries: object, path: str = "summaries") -> list[CampaignSummary]:
    """Validate a list of summaries (shared with patterns and recommendations)."""
    return _coerce_summaries(summaries, path)
