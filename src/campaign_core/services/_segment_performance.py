"""The segment service's performance and comparison: how members do, and segments side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import numpy as np

from campaign_core._runtime import Tx
from campaign_core._validate import v_str_list
from campaign_core.audience import audience_for
from campaign_core.criteria import AllOf as CriteriaAll
from campaign_core.criteria import Criteria, InSegment
from campaign_core.errors import ProblemCollector
from campaign_core.jobs.segments import segment_summary
from campaign_core.models import Segment
from campaign_core.permissions import Permission
from campaign_core.ports import AudienceSummary
from campaign_core.services._segment_scope import SegmentScope
from campaign_core.stats import adjust_pvalues, two_proportion_ztest, welch_ttest_from_stats

__all__ = [
    "MAX_COMPARED",
    "SIGNIFICANCE_LEVEL",
    "MeanDifference",
    "RateDifference",
    "SegmentComparison",
    "SegmentPairComparison",
    "SegmentPerformance",
    "SegmentPerformanceService",
]

MAX_COMPARED: Final = 10
SIGNIFICANCE_LEVEL: Final = 0.05


@attrs.frozen
class SegmentPerformance:
    """How a segment's members do (the members as of the last refresh).

    Attributes:
        segment_id / name: the segment.
        members: members with a fan record.
        avg_engagement: mean engagement of the members that have a score.
        total_lifetime_value: sum of the members' lifetime value (the seed's revenue).
        avg_lifetime_value: mean lifetime value of the members that have one.
        conversions: conversions of members in the account's campaigns.
        converters: members with at least one conversion.
        conversion_revenue: the value of those conversions.
        conversion_rate: ``converters / members`` (``None`` without members).
        revenue_per_member: ``conversion_revenue / members`` (``None`` without members).
        summary: the sufficient statistics behind these numbers.
        computed_at: when.
    """

    segment_id: str
    name: str
    members: int
    avg_engagement: float | None
    total_lifetime_value: float
    avg_lifetime_value: float | None
    conversions: int
    converters: int
    conversion_revenue: float
    conversion_rate: float | None
    revenue_per_member: float | None
    summary: AudienceSummary
    computed_at: datetime


@attrs.frozen
class MeanDifference:
    """Welch's t-test of ``mean_b - mean_a`` (from sums; ``None`` under 2 values a side).

    ``p_value_adjusted`` is Holm-adjusted over every pair compared on this metric;
    ``significant`` compares it with the level (0.05).
    """

    metric: str
    mean_a: float
    mean_b: float
    difference: float
    t: float
    df: float
    p_value: float
    p_value_adjusted: float
    significant: bool


@attrs.frozen
class RateDifference:
    """The pooled two-proportion z-test of ``rate_b - rate_a`` (Holm-adjusted like means)."""

    metric: str
    rate_a: float
    rate_b: float
    difference: float
    z: float
    p_value: float
    p_value_adjusted: float
    significant: bool


@attrs.frozen
class SegmentPairComparison:
    """Two segments side by side (B minus A).

    Attributes:
        segment_a / segment_b: the ids.
        overlap: fans in both; ``only_a`` / ``only_b`` in one only.
        jaccard: ``overlap / union`` (``None`` when both are empty).
        engagement / lifetime_value / revenue_per_member: mean differences.
        conversion_rate: the difference in the share of members who converted.
    """

    segment_a: str
    segment_b: str
    overlap: int
    only_a: int
    only_b: int
    jaccard: float | None
    engagement: MeanDifference | None
    lifetime_value: MeanDifference | None
    revenue_per_member: MeanDifference | None
    conversion_rate: RateDifference | None


@attrs.frozen
class SegmentComparison:
    """Segments compared pairwise.

    The tests treat the two member sets as independent samples; when segments
    overlap the shared fans count on both sides, so read p-values as approximate
    (``overlap`` says how much).
    """

    segments: tuple[SegmentPerformance, ...]
    pairs: tuple[SegmentPairComparison, ...]
    alpha: float = SIGNIFICANCE_LEVEL


class SegmentPerformanceService(SegmentScope):
    """Members' performance and segment comparison (``ws.segments`` delegates here)."""

    def _performance(self, tx: Tx, segment: Segment, now: datetime) -> SegmentPerformance:
        s = segment_summary(self._rt, tx, segment, now)
        n = s.fans
        return SegmentPerformance(
            segment_id=segment.id,
            name=segment.name,
            members=n,
            avg_engagement=_mean(s.engagement_sum, s.engagement_count),
            total_lifetime_value=s.lifetime_value_sum,
            avg_lifetime_value=_mean(s.lifetime_value_sum, s.lifetime_value_count),
            conversions=s.conversions,
            converters=s.converters,
            conversion_revenue=s.conversion_value_sum,
            conversion_rate=s.converters / n if n else None,
            revenue_per_member=s.conversion_value_sum / n if n else None,
            summary=s,
            computed_at=now,
        )

    def get_segment_performance(self, segment_id: str) -> SegmentPerformance:
        """See :meth:`SegmentService.get_segment_performance` (the public face of this method)."""
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            return self._performance(tx, segment, self._rt.now())

    def compare_segments(self, segment_ids: Any) -> SegmentComparison:
        """See :meth:`SegmentService.compare_segments` (the public face of this method)."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        ids = v_str_list(segment_ids, "segment_ids", problems, max_items=MAX_COMPARED)
        if ids is not None and len(ids) < 2:
            problems.add("segment_ids", "compare at least 2 segments", "invalid_value")
        problems.raise_if_any()
        assert ids is not None
        now = self._rt.now()
        with self._rt.transaction() as tx:
            found = [self._load(tx, sid, f"segment_ids[{i}]") for i, sid in enumerate(ids)]
            performances = [self._performance(tx, s, now) for s in found]
            audience = audience_for(tx.uow)
            overlaps = {}
            for i in range(len(found)):
                for j in range(i + 1, len(found)):
                    both = Criteria(CriteriaAll((InSegment(found[i].id), InSegment(found[j].id))))
                    overlaps[i, j] = audience.count_matching(
                        self._account, both, now=now, registry=self.registry
                    )
        return _compare(performances, overlaps)


def _compare(
    performances: Sequence[SegmentPerformance], overlaps: Mapping[tuple[int, int], int]
) -> SegmentComparison:
    pairs = sorted(overlaps)
    metrics: dict[str, list[Any]] = {
        "engagement": [],
        "lifetime_value": [],
        "revenue_per_member": [],
        "conversion_rate": [],
    }
    for i, j in pairs:
        a, b = performances[i].summary, performances[j].summary
        metrics["engagement"].append(
            _welch(
                a.engagement_count,
                a.engagement_sum,
                a.engagement_sum_sq,
                b.engagement_count,
                b.engagement_sum,
                b.engagement_sum_sq,
            )
        )
        metrics["lifetime_value"].append(
            _welch(
                a.lifetime_value_count,
                a.lifetime_value_sum,
                a.lifetime_value_sum_sq,
                b.lifetime_value_count,
                b.lifetime_value_sum,
                b.lifetime_value_sum_sq,
            )
        )
        metrics["revenue_per_member"].append(
            _welch(
                a.fans,
                a.conversion_value_sum,
                a.conversion_value_sum_sq,
                b.fans,
                b.conversion_value_sum,
                b.conversion_value_sum_sq,
            )
        )
        metrics["conversion_rate"].append(
            two_proportion_ztest(a.converters, a.fans, b.converters, b.fans)
            if a.fans and b.fans
            else None
        )
    adjusted: dict[str, list[float | None]] = {}
    for metric, results in metrics.items():
        raw = [r.p_value for r in results if r is not None]
        fixed = iter(adjust_pvalues(np.array(raw), "holm").tolist() if raw else [])
        adjusted[metric] = [None if r is None else next(fixed) for r in results]
    out = []
    for k, (i, j) in enumerate(pairs):
        n_a, n_b = performances[i].members, performances[j].members
        both = overlaps[i, j]
        union = n_a + n_b - both

        rate_result = metrics["conversion_rate"][k]
        rate_adj = adjusted["conversion_rate"][k]
        rate: RateDifference | None = None
        if rate_result is not None and rate_adj is not None:
            rate = RateDifference(
                metric="conversion_rate",
                rate_a=float(rate_result.rate_a),
                rate_b=float(rate_result.rate_b),
                difference=float(rate_result.difference),
                z=float(rate_result.z),
                p_value=float(rate_result.p_value),
                p_value_adjusted=float(rate_adj),
                significant=bool(rate_adj < SIGNIFICANCE_LEVEL),
            )
        out.append(
            SegmentPairComparison(
                segment_a=performances[i].segment_id,
                segment_b=performances[j].segment_id,
                overlap=both,
                only_a=n_a - both,
                only_b=n_b - both,
                jaccard=both / union if union else None,
                engagement=_mean_difference("engagement", metrics, adjusted, k),
                lifetime_value=_mean_difference("lifetime_value", metrics, adjusted, k),
                revenue_per_member=_mean_difference("revenue_per_member", metrics, adjusted, k),
                conversion_rate=rate,
            )
        )
    return SegmentComparison(segments=tuple(performances), pairs=tuple(out))


def _mean_difference(
    metric: str,
    metrics: Mapping[str, list[Any]],
    adjusted: Mapping[str, list[float | None]],
    k: int,
) -> MeanDifference | None:
    result = metrics[metric][k]
    p_adj = adjusted[metric][k]
    if result is None or p_adj is None:
        return None
    return MeanDifference(
        metric=metric,
        mean_a=float(result.mean_a),
        mean_b=float(result.mean_b),
        difference=float(result.difference),
        t=float(result.t),
        df=float(result.df),
        p_value=float(result.p_value),
        p_value_adjusted=float(p_adj),
        significant=bool(p_adj < SIGNIFICANCE_LEVEL),
    )


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def _welch(n_a: int, s_a: float, q_a: float, n_b: int, s_b: float, q_b: float) -> Any:
    if n_a < 2 or n_b < 2:
        return None
    # sums of squares computed in floating point can fall a hair below sum²/n
    q_a = max(q_a, s_a * s_a / n_a)
    q_b = max(q_b, s_b * s_b / n_b)
    return welch_ttest_from_stats(n_a, s_a, q_a, n_b, s_b, q_b)
