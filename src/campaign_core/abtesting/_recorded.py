"""The decision for a test as the store keeps it (an ``ABTest`` and its ``ABTestVariant`` rows)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from campaign_core.abtesting._counts import (
    _PROPORTION_METRICS,
    SEED_MIN_SAMPLE,
    MinimumSample,
    VariantCounts,
)
from campaign_core.abtesting._decide import (
    DEFAULT_PROB_THRESHOLD,
    DEFAULT_RISK_THRESHOLD,
    decide,
)
from campaign_core.abtesting._results import DecisionReason, WinnerDecision
from campaign_core.models import ABTest, ABTestVariant

__all__ = ["decide_and_record", "decide_recorded"]

#: Looks whose p-values enter the running minimum: past the floors, counts that add up and
#: a sample ratio that matches the split (below them the normal approximation, or the
#: comparison itself, cannot be trusted, and a minimum would keep a spurious p for good).
_RECORDED_REASONS = (
    DecisionReason.SIGNIFICANT,
    DecisionReason.NOT_SIGNIFICANT,
    DecisionReason.UNDERPOWERED,
)


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


def _first_look_tau(test: ABTest, control: ABTestVariant, metric: str) -> float | None:
    """A test created without a baseline fixes ``tau`` at its first recorded look, from the
    control: the planned relative effect (10 % without one) of the control's value."""
    if metric == "revenue_per_impression":
        value = control.revenue / control.impressions if control.impressions else 0.0
    else:
        successes, trials = _PROPORTION_METRICS[metric]
        n = getattr(control, trials)
        value = getattr(control, successes) / n if n else 0.0
    tau = abs((test.planned_mde or 0.1) * value)
    return tau if tau > 0.0 else None


def _with_look(test: ABTest, decision: WinnerDecision) -> ABTest | None:
    """The group-sequential test with this look recorded, or None when it is not a new look.

    A look counts once it compared (past the floors, counts that add up, the
    split respected) at more information than the last recorded one.
    """
    fraction = decision.information
    if fraction is None or decision.reason not in _RECORDED_REASONS:
        return None
    looks = list(test.looks or [])
    if looks and fraction <= looks[-1]:
        return None
    return attrs.evolve(test, looks=[*looks, fraction])


def decide_and_record(
    test: ABTest,
    variants: Sequence[ABTestVariant],
    *,
    policy: str | None = None,
    metric: str | None = None,
    bayesian: bool = True,
    secondary_metrics: Sequence[str] | None = None,
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
) -> tuple[WinnerDecision, ABTest | None]:
    """:func:`decide_recorded`, and the test as it should be stored after this look.

    An ``always_valid`` test (deciding on its own policy and metric) carries
    its state from look to look: the running minimum p-value per treatment
    (``min_p_values``), and ``mixing_tau`` when it was not fixed at creation
    (fixed here, at the first look past the floors, then never again). Only
    looks past the floors, with counts that add up and the split respected,
    are recorded. A ``group_sequential`` test records each look's information
    fraction (``looks``), which fixes the alpha it has spent. ``min_samples`` are the per-variant floors (default the seed's;
    a workflow experiment, whose trials are runs and successes goal conversions,
    has no clicks and passes its own).

    Returns:
        ``(decision, updated)``: ``updated`` is the test with its new state
        (same ``version``: the caller writes it with its optimistic check),
        or ``None`` when nothing changed.
    """
    effective_policy = policy or test.policy
    effective_metric = metric or test.metric
    own = effective_policy == test.policy == "always_valid" and effective_metric == test.metric
    sequential = (
        effective_policy == test.policy == "group_sequential" and effective_metric == test.metric
    )
    tau = test.mixing_tau if effective_metric == test.metric else None
    control = next((v for v in variants if v.is_control), None)
    if own and tau is None and control is not None:
        tau = _first_look_tau(test, control, effective_metric)
    treatment_ids = {v.id for v in variants if not v.is_control}
    previous = (
        {k: float(p) for k, p in (test.min_p_values or {}).items() if k in treatment_ids}
        if own
        else {}
    )
    decision = decide(
        [_counts(v) for v in variants],
        confidence_level=test.confidence_level,
        policy=effective_policy,  # type: ignore[arg-type]
        min_samples=min_samples,
        min_sample_size=test.min_sample_size,
        planned_mde=test.planned_mde,
        planned_horizon=test.planned_horizon if effective_metric == test.metric else None,
        expected_split=test.traffic_split,  # always the test's own split (names or ids)
        metric=effective_metric,  # type: ignore[arg-type]
        tau=tau if effective_policy == "always_valid" else None,
        previous_p_values=previous or None,
        inconsistent="no_winner",  # tracked counts may not add up yet: a decision, not an error
        bayesian=bayesian,
        guardrails=test.guardrails,
        secondary_metrics=secondary_metrics,
        risk_threshold=test.risk_threshold or DEFAULT_RISK_THRESHOLD,
        prob_threshold=test.prob_threshold or DEFAULT_PROB_THRESHOLD,
        spending=(test.spending or "obrien_fleming"),  # type: ignore[arg-type]
        previous_looks=(test.looks or None) if sequential else None,
    )
    if sequential:
        return decision, _with_look(test, decision)
    if not own or decision.reason not in _RECORDED_REASONS or not decision.comparisons:
        return decision, None
    minima = dict(previous)
    for comparison in decision.comparisons:
        minima[comparison.variant_id] = min(
            minima.get(comparison.variant_id, 1.0), comparison.p_value
        )
    if minima == (test.min_p_values or {}) and tau == test.mixing_tau:
        return decision, None
    return decision, attrs.evolve(test, min_p_values=minima, mixing_tau=tau)


def decide_recorded(
    test: ABTest,
    variants: Sequence[ABTestVariant],
    *,
    policy: str | None = None,
    metric: str | None = None,
    bayesian: bool = True,
    secondary_metrics: Sequence[str] | None = None,
) -> WinnerDecision:
    """:func:`decide` with a stored test's settings and its variants' counters.

    The test's confidence level, ``minSampleSize``, planned effect, planned
    horizon, metric, traffic split (always checked: a sample-ratio mismatch
    blocks a winner), mixing ``tau`` and running minimum p-values (for
    ``always_valid``), its guardrails and bayesian thresholds, the seed's
    per-variant minimums, and counts that do not add up yet giving no winner
    rather than an error (tracking may be mid-way).
    Nothing is recorded: :func:`decide_and_record` also returns the test's new
    state.

    Args:
        test: the stored test.
        variants: its variants (control included).
        policy: ``fixed_horizon``, ``always_valid`` or ``bayesian`` (default: the test's).
        metric: conversion_rate, click_through_rate, click_conversion_rate or
            revenue_per_impression (default: the test's). Another metric than
            the test's is a side look: no planned horizon, no stored state.
        bayesian: whether to compute the posterior probabilities.
        secondary_metrics: metrics reported beside the decision (never decided on).

    Returns:
        The decision.

    Raises:
        ValidationError: a policy or metric :func:`decide` does not know, or a
            stored split that does not cover the variants.
    """
    return decide_and_record(
        test,
        variants,
        policy=policy,
        metric=metric,
        bayesian=bayesian,
        secondary_metrics=secondary_metrics,
    )[0]
