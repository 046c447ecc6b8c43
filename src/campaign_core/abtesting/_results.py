"""What a decision reports: the reason, each variant's numbers, each comparison."""

from __future__ import annotations

import enum
import math
from typing import Any

import attrs

from campaign_core.abtesting._guardrails import GuardrailResult, SecondaryResult

__all__ = ["Comparison", "DecisionReason", "SampleShortfall", "VariantStats", "WinnerDecision"]


class DecisionReason(enum.StrEnum):
    """Why :func:`decide` did or did not name a winner."""

    SIGNIFICANT = "significant"
    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch"
    BELOW_MINIMUM_SAMPLE = "below_minimum_sample"
    UNDERPOWERED = "underpowered"
    BEFORE_HORIZON = "before_horizon"
    NOT_SIGNIFICANT = "not_significant"
    INCONSISTENT_COUNTS = "inconsistent_counts"
    #: the ``bayesian`` policy's winner: probable enough and its expected loss below the threshold
    LOW_RISK = "low_risk"
    #: the ``bayesian`` policy found no choice whose expected loss is below the threshold
    RISK_ABOVE_THRESHOLD = "risk_above_threshold"
    #: a treatment won on the metric but degrades a guardrail beyond its margin
    GUARDRAIL_FAILED = "guardrail_failed"


def _json_float(value: float | None) -> float | None:
    """JSON has no infinity or NaN: those become ``null`` (``bounded`` flags say why)."""
    if value is None or not math.isfinite(value):
        return None
    return value


@attrs.frozen
class SampleShortfall:
    """A variant below a floor.

    Attributes:
        variant_id: the variant.
        counter: ``"impressions"``, ``"clicks"`` or ``"conversions"``.
        observed: its count.
        required: the floor.
    """

    variant_id: str
    counter: str
    observed: int
    required: int

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form."""
        return {
            "variantId": self.variant_id,
            "counter": self.counter,
            "observed": self.observed,
            "required": self.required,
        }


@attrs.frozen
class VariantStats:
    """One variant's numbers in a decision.

    Attributes:
        id: the variant id.
        name: its name.
        is_control: whether it is the control.
        impressions: its impressions.
        clicks: its clicks.
        conversions: its conversions.
        revenue: its revenue.
        value: the metric: a rate for proportion metrics (0 with no trials), the
            mean revenue per impression for ``revenue_per_impression``.
        lower: the lower limit of the metric's interval at the decision's
            confidence level (Wilson for rates, Student's t for means).
        upper: the upper limit.
        prob_best: the posterior probability this variant has the highest rate
            (uniform Beta priors); ``None`` for the revenue metric.
    """

    id: str
    name: str
    is_control: bool
    impressions: int
    clicks: int
    conversions: int
    revenue: float
    value: float
    lower: float
    upper: float
    prob_best: float | None

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form (infinite limits become ``null``)."""
        return {
            "id": self.id,
            "name": self.name,
            "isControl": self.is_control,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "revenue": self.revenue,
            "value": self.value,
            "lower": _json_float(self.lower),
            "upper": _json_float(self.upper),
            "probBest": self.prob_best,
        }


@attrs.frozen
class Comparison:
    """One treatment against the control.

    Attributes:
        variant_id: the treatment.
        control_id: the control.
        difference: treatment minus control on the metric.
        difference_lower: the interval's lower limit for the difference.
        difference_upper: its upper limit.
        interval_kind: ``"confidence_interval"`` (Newcombe, or Welch for means)
            under ``fixed_horizon``; ``"confidence_sequence"`` (mSPRT, valid
            at every look) under ``always_valid``.
        relative_lift: ``treatment / control - 1`` (``inf`` if the control is 0).
        lift_lower: the lift interval's lower limit (fixed-horizon method,
            ``lift_method``, under both policies).
        lift_upper: its upper limit (``inf`` when unbounded).
        lift_bounded: whether the lift interval is finite.
        statistic: z (pooled) or Welch's t under ``fixed_horizon``; the mSPRT
            log likelihood ratio under ``always_valid``.
        p_value: the raw two-sided p-value (always-valid under that policy: the
            running minimum over the looks when ``previous_p_values`` are given).
        adjusted_p_value: Holm-adjusted over all comparisons with the control.
        prob_beat_control: posterior ``P(treatment > control)``; ``None`` for revenue.
        power: the power this comparison had for the planned effect, when planned.
        expected_loss_treatment: the risk of choosing the treatment,
            ``E[max(control - treatment, 0)]`` over the Beta posteriors, on the
            metric's scale; ``None`` when the posteriors were not computed
            (``bayesian=False`` under a frequentist policy) or for revenue.
        expected_loss_control: the risk of keeping the control,
            ``E[max(treatment - control, 0)]``; ``None`` likewise.
    """

    variant_id: str
    control_id: str
    difference: float
    difference_lower: float
    difference_upper: float
    interval_kind: str
    relative_lift: float
    lift_lower: float
    lift_upper: float
    lift_bounded: bool
    statistic: float
    p_value: float
    adjusted_p_value: float
    prob_beat_control: float | None
    power: float | None
    expected_loss_treatment: float | None = None
    expected_loss_control: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON form (infinities become ``null``)."""
        return {
            "variantId": self.variant_id,
            "controlId": self.control_id,
            "difference": self.difference,
            "differenceLower": _json_float(self.difference_lower),
            "differenceUpper": _json_float(self.difference_upper),
            "intervalKind": self.interval_kind,
            "relativeLift": _json_float(self.relative_lift),
            "liftLower": _json_float(self.lift_lower),
            "liftUpper": _json_float(self.lift_upper),
            "liftBounded": self.lift_bounded,
            "statistic": _json_float(self.statistic),
            "pValue": self.p_value,
            "adjustedPValue": self.adjusted_p_value,
            "probBeatControl": self.prob_beat_control,
            "power": self.power,
            "expectedLossTreatment": self.expected_loss_treatment,
            "expectedLossControl": self.expected_loss_control,
        }


@attrs.frozen
class WinnerDecision:
    """The outcome of :func:`decide`.

    Attributes:
        winner_id: the winning variant's id, or ``None``.
        reason: why (``significant`` when there is a winner).
        policy: ``"fixed_horizon"``, ``"always_valid"`` or ``"bayesian"``.
        metric: the metric compared.
        confidence_level: the level used (alpha = 1 - confidence_level).
        p_value: the Holm-adjusted p-value behind the decision: the winner's
            comparison (the largest over all comparisons when the control wins),
            else the smallest; ``None`` when nothing could be compared.
        significance: ``1 - p_value`` (what the seed's ``ABTest.significance`` stores).
        variants: per-variant statistics, in the given order.
        comparisons: each treatment against the control, in the given order.
        srm_p_value: the sample-ratio test's p-value, when a split was given.
        power: the smallest power over the comparisons for the planned effect,
            when ``planned_mde`` was given and it could be computed.
        shortfalls: every variant counter below its floor.
        message: a one-line human summary.
        guardrails: each treatment's non-inferiority test on each guardrail
            (empty without guardrails, or when nothing could be compared).
        secondary: each treatment on each secondary metric, Holm-adjusted
            over all of them (reported, never decided on).
        information: under ``group_sequential``, this look's information
            fraction (trials so far over the planned horizon, at most 1).
        look_p_bound: under ``group_sequential``, the nominal p-value a
            comparison had to beat at this look (the Lan-DeMets boundary,
            Bonferroni-split over the treatments).
    """

    winner_id: str | None
    reason: DecisionReason
    policy: str
    metric: str
    confidence_level: float
    p_value: float | None
    significance: float | None
    variants: tuple[VariantStats, ...]
    comparisons: tuple[Comparison, ...]
    srm_p_value: float | None
    power: float | None
    shortfalls: tuple[SampleShortfall, ...]
    message: str
    guardrails: tuple[GuardrailResult, ...] = ()
    secondary: tuple[SecondaryResult, ...] = ()
    information: float | None = None
    look_p_bound: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with camelCase keys, for hosts such as a Next.js route."""
        return {
            "winnerId": self.winner_id,
            "reason": self.reason.value,
            "policy": self.policy,
            "metric": self.metric,
            "confidenceLevel": self.confidence_level,
            "pValue": self.p_value,
            "significance": self.significance,
            "variants": [v.to_dict() for v in self.variants],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "srmPValue": self.srm_p_value,
            "power": self.power,
            "shortfalls": [s.to_dict() for s in self.shortfalls],
            "message": self.message,
            "guardrails": [g.to_dict() for g in self.guardrails],
            "secondary": [s.to_dict() for s in self.secondary],
            "information": self.information,
            "lookPBound": self.look_p_bound,
        }
