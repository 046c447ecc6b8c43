"""The conversion funnel and the ROI view of a campaign's totals."""

from __future__ import annotations

import math

import attrs

from campaign_core.analytics._definitions import (
    DataQualityFlag,
    MetricTotals,
    cpa,
    ratio,
    roi,
)
from campaign_core.errors import ValidationError

__all__ = ["Funnel", "FunnelStep", "RoiMetrics", "campaign_roi", "conversion_funnel"]


@attrs.frozen(kw_only=True)
class FunnelStep:
    """One step of the funnel.

    Attributes:
        name: ``impressions``, ``clicks`` or ``conversions``.
        count: how many.
        rate_from_previous: ``count / previous step's count`` (CTR for clicks,
            the conversion rate for conversions); ``None`` for the first step
            or when the previous step is 0.
        rate_from_start: ``count / impressions``; ``None`` without impressions.
        drop_off: ``previous count - count``: how many did not go on (negative
            when raw tracking has more at this step; see the flags); ``None``
            for the first step.
        drop_off_rate: ``1 - rate_from_previous``; ``None`` when that rate is.
    """

    name: str
    count: int
    rate_from_previous: float | None
    rate_from_start: float | None
    drop_off: int | None
    drop_off_rate: float | None


@attrs.frozen(kw_only=True)
class Funnel:
    """Impressions -> clicks -> conversions (the seed's ``getConversionFunnel``).

    Attributes:
        steps: the three steps in order.
        reach: distinct fans reached (``None`` when unknown); not a funnel step
            because a fan can make several impressions.
        overall_rate: ``conversions / impressions`` (``None`` without impressions).
        flags: the totals' data-quality flags (a step above the one before).
    """

    steps: tuple[FunnelStep, ...]
    reach: int | None
    overall_rate: float | None
    flags: tuple[DataQualityFlag, ...] = ()


def conversion_funnel(metrics: MetricTotals) -> Funnel:
    """The funnel of a campaign's (or a platform's, a variant's) totals.

    Args:
        metrics: the totals, e.g. ``compute_metrics(batch).totals``.

    Returns:
        The funnel. Zero denominators give ``None`` rates.

    Raises:
        ValidationError: ``metrics`` is not a :class:`MetricTotals`.
    """
    if not isinstance(metrics, MetricTotals):
        raise ValidationError.single("metrics", "must be a MetricTotals", "invalid_type")
    counts = (
        ("impressions", metrics.impressions),
        ("clicks", metrics.clicks),
        ("conversions", metrics.conversions),
    )
    steps: list[FunnelStep] = []
    previous: int | None = None
    for name, count in counts:
        step_rate = None if previous is None else ratio(count, previous)
        steps.append(
            FunnelStep(
                name=name,
                count=count,
                rate_from_previous=step_rate,
                rate_from_start=ratio(count, metrics.impressions),
                drop_off=None if previous is None else previous - count,
                drop_off_rate=None if step_rate is None else 1.0 - step_rate,
            )
        )
        previous = count
    return Funnel(
        steps=tuple(steps),
        reach=metrics.reach,
        overall_rate=ratio(metrics.conversions, metrics.impressions),
        flags=metrics.flags,
    )


@attrs.frozen(kw_only=True)
class RoiMetrics:
    """The money view of a campaign (the seed's ``getCampaignROI``).

    Attributes:
        revenue: the conversions' value.
        spent: the spend.
        profit: ``revenue - spent``.
        roi: ``(revenue - spent) / spent`` (``None`` without spend).
        roas: return on ad spend, ``revenue / spent`` (``None`` without spend).
        cpa: ``spent / conversions`` (``None`` without conversions).
        conversions: the conversions.
        average_order_value: ``revenue / conversions`` (``None`` without conversions).
        break_even_conversions: conversions needed for revenue to cover the
            spend at the average order value, ``ceil(spent / aov)``; ``None``
            without conversions (no order value known) or with no revenue.
        conversions_to_break_even: how many more conversions that takes
            (0 once profitable); ``None`` when the above is.
        revenue_to_break_even: ``max(0, spent - revenue)``.
        profitable: ``revenue > spent``.
        budget: the campaign's budget, when given.
        budget_remaining: ``max(0, budget - spent)``, when a budget is given.
    """

    revenue: float
    spent: float
    profit: float
    roi: float | None
    roas: float | None
    cpa: float | None
    conversions: int
    average_order_value: float | None
    break_even_conversions: int | None
    conversions_to_break_even: int | None
    revenue_to_break_even: float
    profitable: bool
    budget: float | None = None
    budget_remaining: float | None = None


def campaign_roi(metrics: MetricTotals, *, budget: float | None = None) -> RoiMetrics:
    """ROI, ROAS, CPA and break-even from a campaign's totals.

    Args:
        metrics: the totals.
        budget: the campaign's budget (finite, >= 0), or ``None``.

    Returns:
        The :class:`RoiMetrics`; undefined ratios are ``None``.

    Raises:
        ValidationError: ``metrics`` is not a :class:`MetricTotals`, or a bad budget.
    """
    if not isinstance(metrics, MetricTotals):
        raise ValidationError.single("metrics", "must be a MetricTotals", "invalid_type")
    if budget is not None and (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not math.isfinite(budget)
        or budget < 0
    ):
        raise ValidationError.single(
            "budget", "must be a finite amount >= 0 or None", "invalid_value"
        )
    revenue, spent, n = metrics.revenue, metrics.spent, metrics.conversions
    aov = ratio(revenue, n)
    orders = None if aov is None or aov <= 0 else ratio(spent, aov)
    # a tiny relative epsilon so 100.0 / 33.333... does not round up to 4
    needed = None if orders is None or orders > 2**53 else math.ceil(orders * (1.0 - 1e-12))
    return RoiMetrics(
        revenue=revenue,
        spent=spent,
        profit=revenue - spent,
        roi=roi(revenue, spent),
        roas=ratio(revenue, spent),
        cpa=cpa(spent, n),
        conversions=n,
        average_order_value=aov,
        break_even_conversions=needed,
        conversions_to_break_even=None if needed is None else max(0, needed - n),
        revenue_to_break_even=max(0.0, spent - revenue),
        profitable=revenue > spent,
        budget=None if budget is None else float(budget),
        budget_remaining=None if budget is None else max(0.0, float(budget) - spent),
    )
