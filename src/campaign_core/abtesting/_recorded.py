"""The decision for a test as the store keeps it (an ``ABTest`` and its ``ABTestVariant`` rows)."""

from __future__ import annotations

from collections.abc import Sequence

from campaign_core.abtesting._counts import SEED_MIN_SAMPLE, VariantCounts
from campaign_core.abtesting._decide import decide
from campaign_core.abtesting._results import WinnerDecision
from campaign_core.models import ABTest, ABTestVariant

__all__ = ["decide_recorded"]


def _counts(variant: ABTestVariant) -> VariantCounts:
    return VariantCounts(
        id=variant.id,
        name=variant.name,
        is_control=variant.is_control,
        impressions=variant.impressions,
        clicks=variant.clicks,
        conversions=variant.conversions,
        revenue=variant.revenue,
        revenue_sum_squares=variant.revenue_sum_squares,
    )


def decide_recorded(
    test: ABTest,
    variants: Sequence[ABTestVariant],
    *,
    policy: str | None = None,
    metric: str = "conversion_rate",
) -> WinnerDecision:
    """:func:`decide` with a stored test's settings and its variants' counters.

    The test's confidence level, ``minSampleSize``, planned effect and traffic
    split (a sample-ratio mismatch blocks a winner), the seed's per-variant
    minimums, and counts that do not add up yet giving no winner rather than an
    error (tracking may be mid-way).

    Args:
        test: the stored test.
        variants: its variants (control included).
        policy: ``fixed_horizon`` or ``always_valid`` (default: the test's).
        metric: conversion_rate (the seed's), click_through_rate,
            click_conversion_rate or revenue_per_impression.

    Returns:
        The decision.

    Raises:
        ValidationError: a policy or metric :func:`decide` does not know.
    """
    return decide(
        [_counts(v) for v in variants],
        confidence_level=test.confidence_level,
        policy=policy or test.policy,  # type: ignore[arg-type]
        min_samples=SEED_MIN_SAMPLE,
        min_sample_size=test.min_sample_size,
        planned_mde=test.planned_mde,
        expected_split=test.traffic_split,  # always the test's own split (names or ids)
        metric=metric,  # type: ignore[arg-type]
        inconsistent="no_winner",  # tracked counts may not add up yet: a decision, not an error
    )
