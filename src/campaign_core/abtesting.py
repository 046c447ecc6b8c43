"""A/B test domain logic without storage: variants, sticky assignment, the winner decision.

The campaigns service stores tests and counts; everything that decides lives
here as pure functions so a notebook, a CLI or a Next.js route can reuse it:

* :class:`VariantCounts`: one variant's counters (the seed's ``ABTestVariant``).
* :func:`assign_variant`: deterministic, sticky assignment of a fan to a
  variant by the traffic split (sha256 of the test and fan ids).
* :func:`validate_traffic_split`: the split's rules, with paths.
* :func:`decide`: a :class:`WinnerDecision`: the winner or none and why,
  per-variant rates and intervals, raw and Holm-adjusted p-values against the
  control, difference and lift intervals, Bayesian probabilities, the
  sample-ratio check and the policy used.

The seed's minimum samples (1000 impressions, 100 clicks, 30 conversions per
variant) are validity floors (below them the normal approximation and the
rates themselves are not trustworthy), not a power calculation: a test can
pass them and still be far too small to detect the effect it was planned for.
That is what ``planned_mde`` and the ``underpowered`` reason are for.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.stats import (
    SRM_ALPHA,
    adjust_pvalues,
    difference_interval,
    msprt_from_moments,
    power_two_proportions,
    prob_beat_control,
    prob_best,
    relative_lift_interval,
    srm_test,
    two_proportion_ztest,
    welch_ttest_from_stats,
    wilson_interval,
)
from campaign_core.stats._means import mean_and_variance
from campaign_core.stats._normal import norm_cdf, norm_ppf
from campaign_core.stats._proportions import LiftMethod
from campaign_core.stats._validation import open_unit

__all__ = [
    "METRICS",
    "POLICIES",
    "SEED_MIN_SAMPLE",
    "Comparison",
    "DecisionReason",
    "MinimumSample",
    "SampleShortfall",
    "VariantCounts",
    "VariantStats",
    "WinnerDecision",
    "assign_variant",
    "decide",
    "validate_traffic_split",
]

Metric: TypeAlias = Literal[
    "conversion_rate", "click_through_rate", "click_conversion_rate", "revenue_per_impression"
]
Policy: TypeAlias = Literal["fixed_horizon", "always_valid"]

#: metric -> (successes field, trials field); revenue uses means, not proportions.
_PROPORTION_METRICS: dict[str, tuple[str, str]] = {
    "conversion_rate": ("conversions", "impressions"),
    "click_through_rate": ("clicks", "impressions"),
    "click_conversion_rate": ("conversions", "clicks"),
}
METRICS: tuple[str, ...] = (*_PROPORTION_METRICS, "revenue_per_impression")
POLICIES: tuple[str, ...] = ("fixed_horizon", "always_valid")
_LIFT_METHODS = ("delta", "fieller", "log_ratio")

_SPLIT_TOLERANCE = 1e-9


# --------------------------------------------------------------------------- variants


def _check_count(path: str, value: object, problems: ProblemCollector) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer count, got {type(value).__name__}", "invalid_type")
    elif value < 0:
        problems.add(path, f"must be non-negative, got {value}", "out_of_range")
    elif value > 2**53:
        problems.add(path, "must be at most 2**53", "out_of_range")


def _check_finite(
    path: str, value: object, problems: ProblemCollector, *, minimum: float | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"must be a number, got {type(value).__name__}", "invalid_type")
    elif not math.isfinite(value):
        problems.add(path, f"must be finite, got {value}", "not_finite")
    elif minimum is not None and value < minimum:
        problems.add(path, f"must be at least {minimum:g}, got {value}", "out_of_range")


_JSON_FIELDS = {
    "id": "id",
    "name": "name",
    "isControl": "is_control",
    "is_control": "is_control",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversions",
    "revenue": "revenue",
    "revenueSumSquares": "revenue_sum_squares",
    "revenue_sum_squares": "revenue_sum_squares",
}


@attrs.frozen
class VariantCounts:
    """One variant's counters, as the seed's ``ABTestVariant`` stores them.

    Attributes:
        id: the variant's id (the ``winnerId`` when it wins).
        name: its display name (defaults to the id).
        is_control: whether this is the control (exactly one per test).
        impressions: times the variant was shown.
        clicks: clicks on it.
        conversions: conversions attributed to it.
        revenue: revenue attributed to it (finite; refunds may make it negative).
        revenue_sum_squares: the sum over impressions of squared revenue, needed
            only for the ``revenue_per_impression`` metric (Welch's t-test).

    Raises:
        ValidationError: on construction, for every bad field (path = field name).
    """

    id: str
    name: str = attrs.field(default=attrs.Factory(lambda self: self.id, takes_self=True))
    is_control: bool = False
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    revenue_sum_squares: float | None = None

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        # Typed fields, but hosts pass JSON: check what actually arrived.
        fields: dict[str, object] = attrs.asdict(self, recurse=False)
        if not isinstance(fields["id"], str) or not fields["id"]:
            problems.add("id", "must be a non-empty string", "invalid_type")
        if not isinstance(fields["name"], str):
            problems.add("name", "must be a string", "invalid_type")
        if not isinstance(fields["is_control"], bool):
            problems.add("is_control", "must be a boolean", "invalid_type")
        for field in ("impressions", "clicks", "conversions"):
            _check_count(field, getattr(self, field), problems)
        _check_finite("revenue", self.revenue, problems)
        if self.revenue_sum_squares is not None:
            _check_finite("revenue_sum_squares", self.revenue_sum_squares, problems, minimum=0.0)
        problems.raise_if_any()

    @classmethod
    def from_json(cls, data: object, *, path: str = "") -> VariantCounts:
        """Build from a JSON object with camelCase (the seed's) or snake_case keys.

        Args:
            data: ``{"id", "name"?, "isControl"?, "impressions"?, "clicks"?,
                "conversions"?, "revenue"?, "revenueSumSquares"?}``.
            path: where ``data`` sits in the caller's input.

        Returns:
            The variant.

        Raises:
            ValidationError: not an object, unknown keys, or bad values, with paths
                under ``path``.
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single(path, "must be an object", "invalid_type")
        problems = ProblemCollector()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            field = _JSON_FIELDS.get(key) if isinstance(key, str) else None
            if field is None:
                problems.add(join_path(path, str(key)), "is not a variant field", "unknown_field")
            else:
                kwargs[field] = value
        if "id" not in kwargs:
            problems.add(join_path(path, "id"), "is required", "required")
        problems.raise_if_any()
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise exc.prefixed(path) from None

    def to_json(self) -> dict[str, Any]:
        """The seed's camelCase JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "isControl": self.is_control,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "revenue": self.revenue,
            "revenueSumSquares": self.revenue_sum_squares,
        }


@attrs.frozen
class MinimumSample:
    """Per-variant floors below which no winner is declared.

    Attributes:
        impressions: minimum impressions per variant.
        clicks: minimum clicks per variant.
        conversions: minimum conversions per variant.
    """

    impressions: int = 1000
    clicks: int = 100
    conversions: int = 30


#: The seed's ``MIN_SAMPLE_SIZE``: 1000 impressions, 100 clicks, 30 conversions per variant.
SEED_MIN_SAMPLE = MinimumSample()


# --------------------------------------------------------------------------- assignment


def _split_items(split: Mapping[Any, Any], path: str) -> list[tuple[str, float]]:
    if not isinstance(split, Mapping) or not split:
        raise ValidationError.single(path, "must be a non-empty object of weights", "invalid_type")
    problems = ProblemCollector()
    items: list[tuple[str, float]] = []
    for key, value in split.items():
        item_path = join_path(path, str(key))
        if not isinstance(key, str):
            problems.add(item_path, "keys must be strings", "invalid_type")
            continue
        _check_finite(item_path, value, problems, minimum=0.0)
        if not problems:
            items.append((key, float(value)))
    problems.raise_if_any()
    return items


def assign_variant(test_id: str, fan_id: str, split: Mapping[str, float]) -> str:
    """The variant a fan sees in a test: deterministic, sticky, proportional to the split.

    The fan's point ``u`` in ``[0, 1)`` is the first 8 bytes of
    ``sha256(len(test_id) ":" test_id ":" fan_id)`` (UTF-8) as an integer over
    2**64: the same in every process, machine and Python version, independent
    across tests (a fan in B of one test is not more likely in B of the next).
    The split's keys are taken in sorted order (JSON object order is not
    reliable: PostgreSQL's ``jsonb`` reorders keys), and the fan gets the first
    key whose cumulative weight exceeds ``u * total``. Variants with weight 0
    get nobody. Changing the split moves only the fans whose point falls in the
    changed ranges.

    Args:
        test_id: the test's id.
        fan_id: the fan's id.
        split: variant key -> non-negative weight (percentages summing to 100,
            or any positive total).

    Returns:
        The chosen key of ``split``.

    Raises:
        ValidationError: ids that are not non-empty strings, or a split that is
            empty, has a negative or non-finite weight, or sums to 0.
    """
    problems = ProblemCollector()
    for name, value in (("test_id", test_id), ("fan_id", fan_id)):
        if not isinstance(value, str) or not value:
            problems.add(name, "must be a non-empty string", "invalid_type")
    problems.raise_if_any()
    items = sorted(_split_items(split, "split"))
    total = math.fsum(weight for _, weight in items)
    if total <= 0.0:
        raise ValidationError.single("split", "weights must have a positive sum", "out_of_range")
    digest = hashlib.sha256(f"{len(test_id)}:{test_id}:{fan_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    cumulative = 0.0
    chosen = None
    for key, weight in items:
        if weight <= 0.0:
            continue
        chosen = key
        cumulative += weight
        if point < cumulative:
            return key
    # Rounding can leave the last cumulative weight a hair under the total.
    assert chosen is not None
    return chosen


def validate_traffic_split(
    split: object, variant_names: Sequence[str], *, path: str = "traffic_split"
) -> dict[str, float]:
    """Check a traffic split against a test's variants.

    Rules: an object whose keys are exactly the variants' names (or ids),
    every value a finite number ``>= 0``, summing to 100 within 1e-9.

    Args:
        split: the split as given (``{"variantA": 50, "variantB": 50}``).
        variant_names: the test's variant keys the split must cover.
        path: where the split sits in the caller's input.

    Returns:
        The split as ``{key: float}`` in the variants' order.

    Raises:
        ValidationError: every problem, with paths like ``traffic_split.variantA``.
    """
    if not isinstance(split, Mapping):
        raise ValidationError.single(
            path, "must be an object of variant -> percentage", "invalid_type"
        )
    problems = ProblemCollector()
    values: dict[str, float] = {}
    names = list(variant_names)
    for key, value in split.items():
        item_path = join_path(path, str(key))
        if key not in names:
            problems.add(item_path, "is not one of the test's variants", "unknown_field")
            continue
        before = len(problems.problems)
        _check_finite(item_path, value, problems, minimum=0.0)
        if len(problems.problems) == before:
            values[key] = float(value)
    for name in names:
        if name not in split:
            problems.add(
                join_path(path, name), "is missing (every variant needs a share)", "required"
            )
    if not problems:
        total = math.fsum(values.values())
        if abs(total - 100.0) > _SPLIT_TOLERANCE:
            problems.add(path, f"must sum to 100, got {total:.12g}", "out_of_range")
    problems.raise_if_any()
    return {name: values[name] for name in names}


# --------------------------------------------------------------------------- decision


class DecisionReason(enum.StrEnum):
    """Why :func:`decide` did or did not name a winner."""

    SIGNIFICANT = "significant"
    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch"
    BELOW_MINIMUM_SAMPLE = "below_minimum_sample"
    UNDERPOWERED = "underpowered"
    NOT_SIGNIFICANT = "not_significant"
    INCONSISTENT_COUNTS = "inconsistent_counts"


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
        p_value: the raw two-sided p-value (always-valid under that policy).
        adjusted_p_value: Holm-adjusted over all comparisons with the control.
        prob_beat_control: posterior ``P(treatment > control)``; ``None`` for revenue.
        power: the power this comparison had for the planned effect, when planned.
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
        }


@attrs.frozen
class WinnerDecision:
    """The outcome of :func:`decide`.

    Attributes:
        winner_id: the winning variant's id, or ``None``.
        reason: why (``significant`` when there is a winner).
        policy: ``"fixed_horizon"`` or ``"always_valid"``.
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
        }


def _coerce_variants(variants: object) -> list[VariantCounts]:
    if isinstance(variants, str | bytes | Mapping) or not isinstance(variants, Sequence):
        raise ValidationError.single("variants", "must be a list of variants", "invalid_type")
    problems = ProblemCollector()
    out: list[VariantCounts] = []
    for i, item in enumerate(variants):
        path = join_path("variants", i)
        if isinstance(item, VariantCounts):
            out.append(item)
            continue
        try:
            out.append(VariantCounts.from_json(item, path=path))
        except ValidationError as exc:
            problems.extend(exc)
    problems.raise_if_any()
    if len(out) < 2:
        raise ValidationError.single(
            "variants", f"needs at least 2 variants, got {len(out)}", "invalid_value"
        )
    seen: set[str] = set()
    for i, variant in enumerate(out):
        if variant.id in seen:
            problems.add(
                join_path(join_path("variants", i), "id"),
                f"duplicate id {variant.id!r}",
                "invalid_value",
            )
        seen.add(variant.id)
    controls = [i for i, v in enumerate(out) if v.is_control]
    if len(controls) != 1:
        problems.add("variants", f"needs exactly one control, got {len(controls)}", "invalid_value")
    problems.raise_if_any()
    return out


def _split_by_id(split: object, variants: list[VariantCounts]) -> dict[str, float]:
    """Validate a split keyed by variant ids or by names; return it keyed by id.

    The key kind is the one the split's keys overlap most (ids on a tie), so a
    typo in a name-keyed split is reported against the names.
    """
    ids = [v.id for v in variants]
    names = [v.name for v in variants]
    if isinstance(split, Mapping):
        by_names = len(set(split) & set(names))
        by_ids = len(set(split) & set(ids))
        if by_names > by_ids and len(set(names)) == len(names):
            checked = validate_traffic_split(split, names, path="expected_split")
            return {v.id: checked[v.name] for v in variants}
    return validate_traffic_split(split, ids, path="expected_split")


def _tau_for(control_value: float, pooled_value: float, planned_abs: float | None) -> float:
    if planned_abs is not None and planned_abs > 0.0:
        return planned_abs
    # The seed plans for a 10 % relative effect; scale tau to the data's level.
    base = control_value if control_value > 0.0 else pooled_value
    return 0.1 * base if base > 0.0 else 0.01


def decide(
    variants: Sequence[VariantCounts | Mapping[str, Any]],
    *,
    confidence_level: float = 0.95,
    policy: Policy = "fixed_horizon",
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
    min_sample_size: int = 100,
    planned_mde: float | None = None,
    mde_relative: bool = True,
    target_power: float = 0.8,
    expected_split: Mapping[str, float] | None = None,
    metric: Metric = "conversion_rate",
    tau: float | None = None,
    lift_method: Literal["delta", "fieller", "log_ratio"] = "delta",
    inconsistent: Literal["raise", "no_winner"] = "raise",
) -> WinnerDecision:
    """Decide an A/B/n test: a winner or none, with the reason and the evidence.

    Order of checks:

    1. **Sample-ratio mismatch** (when ``expected_split`` is given): impressions
       per variant against the split; ``p < 0.001`` blocks any winner, since
       the assignment or the tracking is broken and the comparison is biased.
    2. **Floors**: every variant needs ``min_samples`` (the seed's 1000
       impressions, 100 clicks, 30 conversions) and ``min_sample_size``
       impressions (the test's ``minSampleSize``), plus at least 1 trial of
       the metric (2 for means).
    3. **Tests** of each treatment against the control (two-sided):
       ``fixed_horizon``: the pooled z-test (Welch's t-test for revenue), as
       the seed; ``always_valid``: the mSPRT, whose p-values stay valid however
       often the test is re-checked. p-values are Holm-adjusted over the
       comparisons. A treatment wins if its adjusted p is below
       ``1 - confidence_level`` and it beats the control (the best such
       treatment by observed value when several do); the control wins if every
       treatment is significantly worse; otherwise there is no winner.
    4. **Power** (when ``planned_mde`` is given): the power of the observed
       sample to detect the planned effect at level ``alpha / m``. Under
       ``fixed_horizon`` a power below ``target_power`` means the planned
       horizon is not reached and blocks a winner (stopping early on a
       significant fixed-horizon test is peeking); under ``always_valid`` it
       only explains a non-significant result.

    Args:
        variants: :class:`VariantCounts` or their JSON objects; 2..n, one control.
        confidence_level: in (0, 1); the seed's default 0.95.
        policy: ``"fixed_horizon"`` (default, the seed) or ``"always_valid"``.
        min_samples: per-variant floors (default :data:`SEED_MIN_SAMPLE`).
        min_sample_size: the test's ``minSampleSize``, in impressions per variant.
        planned_mde: the effect the test was planned to detect, or ``None``.
        mde_relative: whether ``planned_mde`` is relative to the control (default).
        target_power: the power the plan asked for, default 0.8.
        expected_split: the configured traffic split (keyed by variant id or
            name), for the sample-ratio check; ``None`` skips it.
        metric: ``"conversion_rate"`` (conversions / impressions, the seed's
            A/B test), ``"click_through_rate"`` (clicks / impressions),
            ``"click_conversion_rate"`` (conversions / clicks) or
            ``"revenue_per_impression"`` (needs ``revenue_sum_squares``).
        tau: the mSPRT mixing standard deviation for ``always_valid``; by
            default the planned absolute effect, else 10 % of the control's value.
        lift_method: the relative-lift interval method.
        inconsistent: what counts that cannot be compared mean (successes above
            trials for the metric, or revenue sums of squares below
            ``revenue² / impressions``): ``"raise"`` (default) treats them as bad
            input; ``"no_winner"`` returns a decision with the reason
            ``inconsistent_counts`` and no statistics, as the A/B service does
            for tracked counts (conversions can arrive before their impressions).

    Returns:
        A :class:`WinnerDecision`.

    Raises:
        ValidationError: bad variants (fewer than 2, duplicate ids, not exactly
            one control, successes above trials for the metric, missing
            revenue sums of squares), a bad split or option.
    """
    level = open_unit("confidence_level", confidence_level)
    power_goal = open_unit("target_power", target_power)
    problems = ProblemCollector()
    if policy not in POLICIES:
        problems.add("policy", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
    if metric not in METRICS:
        problems.add("metric", f"must be one of {', '.join(METRICS)}, got {metric!r}")
    if lift_method not in _LIFT_METHODS:
        problems.add(
            "lift_method", f"must be one of {', '.join(_LIFT_METHODS)}, got {lift_method!r}"
        )
    floors_given: object = min_samples
    if not isinstance(floors_given, MinimumSample):
        problems.add("min_samples", "must be a MinimumSample", "invalid_type")
    _check_count("min_sample_size", min_sample_size, problems)
    if planned_mde is not None:
        _check_finite("planned_mde", planned_mde, problems)
        if not problems and planned_mde == 0:
            problems.add("planned_mde", "must not be 0", "out_of_range")
    if tau is not None:
        _check_finite("tau", tau, problems)
        if not problems and tau <= 0:
            problems.add("tau", "must be positive", "out_of_range")
    if inconsistent not in ("raise", "no_winner"):
        problems.add("inconsistent", f"must be 'raise' or 'no_winner', got {inconsistent!r}")
    problems.raise_if_any()
    items = _coerce_variants(variants)
    split = _split_by_id(expected_split, items) if expected_split is not None else None
    is_revenue = metric == "revenue_per_impression"
    bad: list[str] = []  # what cannot be compared, per variant (see ``inconsistent``)
    for i, v in enumerate(items):
        path = join_path("variants", i)
        if is_revenue:
            if v.revenue_sum_squares is None:
                problems.add(
                    join_path(path, "revenue_sum_squares"),
                    f"is required for metric {metric!r}",
                    "required",
                )
            elif v.impressions and v.revenue**2 > v.impressions * v.revenue_sum_squares * (
                1 + 1e-9
            ):
                problems.add(
                    join_path(path, "revenue_sum_squares"),
                    "must be at least revenue² / impressions",
                    "out_of_range",
                )
                bad.append(f"{v.name}: revenue sum of squares below revenue² / impressions")
        else:
            succ_field, trial_field = _PROPORTION_METRICS[metric]
            if getattr(v, succ_field) > getattr(v, trial_field):
                problems.add(
                    join_path(path, succ_field),
                    f"must not exceed {trial_field} for metric {metric!r}",
                    "out_of_range",
                )
                bad.append(
                    f"{v.name} has {getattr(v, succ_field)} {succ_field}"
                    f" for {getattr(v, trial_field)} {trial_field}"
                )
    if inconsistent == "no_winner" and bad and len(bad) == len(problems.problems):
        return _inconsistent_decision(bad, policy, metric, level)
    problems.raise_if_any()

    alpha = 1.0 - level
    control_index = next(i for i, v in enumerate(items) if v.is_control)
    control = items[control_index]
    treatments = [v for v in items if not v.is_control]

    # -- per-variant statistics
    if is_revenue:
        counts = [(v.impressions, v.revenue, v.revenue_sum_squares or 0.0) for v in items]
        variant_stats = tuple(
            _mean_stats(v, n, s, q, level, None) for v, (n, s, q) in zip(items, counts)
        )
    else:
        succ_field, trial_field = _PROPORTION_METRICS[metric]
        pairs = [(getattr(v, succ_field), getattr(v, trial_field)) for v in items]
        bests = prob_best(pairs)
        variant_stats = tuple(
            _rate_stats(v, k, n, level, pb) for v, (k, n), pb in zip(items, pairs, bests)
        )

    # -- sample-ratio mismatch
    srm_p = None
    if split is not None:
        srm_p = srm_test({v.id: v.impressions for v in items}, split).p_value

    # -- floors
    shortfalls: list[SampleShortfall] = []
    for v in items:
        floors = (
            ("impressions", max(min_samples.impressions, min_sample_size)),
            ("clicks", min_samples.clicks),
            ("conversions", min_samples.conversions),
        )
        for counter, required in floors:
            if getattr(v, counter) < required:
                shortfalls.append(SampleShortfall(v.id, counter, getattr(v, counter), required))
        trial_field = "impressions" if is_revenue else _PROPORTION_METRICS[metric][1]
        need = 2 if is_revenue else 1
        if getattr(v, trial_field) < need and not any(
            s.variant_id == v.id and s.counter == trial_field for s in shortfalls
        ):
            shortfalls.append(SampleShortfall(v.id, trial_field, getattr(v, trial_field), need))
    comparable = all(
        getattr(v, "impressions" if is_revenue else _PROPORTION_METRICS[metric][1])
        >= (2 if is_revenue else 1)
        for v in items
    )

    # -- comparisons
    comparisons: tuple[Comparison, ...] = ()
    if comparable:
        m = len(treatments)
        planned_abs = _planned_absolute(
            planned_mde, mde_relative, variant_stats[control_index].value
        )
        raw = [
            _compare(
                control,
                t,
                metric,
                policy,
                level,
                alpha / m,
                lift_method,
                tau,
                planned_mde,
                mde_relative,
                planned_abs,
            )
            for t in treatments
        ]
        adjusted = adjust_pvalues([c.p_value for c in raw], "holm")
        comparisons = tuple(
            attrs.evolve(c, adjusted_p_value=float(p)) for c, p in zip(raw, adjusted)
        )

    powers = [c.power for c in comparisons if c.power is not None]
    power = min(powers) if powers else None

    # -- the decision
    winner: str | None = None
    decision_p: float | None = min((c.adjusted_p_value for c in comparisons), default=None)
    better = [c for c in comparisons if c.adjusted_p_value < alpha and c.difference > 0]
    worse = [c for c in comparisons if c.adjusted_p_value < alpha and c.difference < 0]
    if better:
        best = max(better, key=lambda c: (c.difference, -c.adjusted_p_value))
        candidate, candidate_p = best.variant_id, best.adjusted_p_value
    elif comparisons and len(worse) == len(comparisons):
        candidate, candidate_p = control.id, max(c.adjusted_p_value for c in comparisons)
    else:
        candidate, candidate_p = None, None
    short_of_power = power is not None and power < power_goal

    if srm_p is not None and srm_p < SRM_ALPHA:
        reason = DecisionReason.SAMPLE_RATIO_MISMATCH
        message = (
            f"sample-ratio mismatch (p = {srm_p:.3g} < {SRM_ALPHA}): check assignment and tracking"
        )
    elif shortfalls:
        reason = DecisionReason.BELOW_MINIMUM_SAMPLE
        first = shortfalls[0]
        message = (
            f"below the minimum sample: {first.variant_id} has {first.observed} {first.counter}, "
            f"needs {first.required}"
            + (f" ({len(shortfalls) - 1} more shortfalls)" if len(shortfalls) > 1 else "")
        )
    elif policy == "fixed_horizon" and short_of_power:
        reason = DecisionReason.UNDERPOWERED
        message = f"underpowered: power {power:.2f} < {power_goal:g} for the planned effect; keep the test running"
    elif candidate is not None:
        reason = DecisionReason.SIGNIFICANT
        winner, decision_p = candidate, candidate_p
        message = f"{candidate} wins (adjusted p = {candidate_p:.3g} < {alpha:.3g}, {policy})"
    elif short_of_power:
        reason = DecisionReason.UNDERPOWERED
        message = f"not significant and underpowered: power {power:.2f} < {power_goal:g} for the planned effect"
    else:
        reason = DecisionReason.NOT_SIGNIFICANT
        message = f"no significant difference at the {level:g} level"
    return WinnerDecision(
        winner_id=winner,
        reason=reason,
        policy=policy,
        metric=metric,
        confidence_level=level,
        p_value=decision_p,
        significance=None if decision_p is None else 1.0 - decision_p,
        variants=variant_stats,
        comparisons=comparisons,
        srm_p_value=srm_p,
        power=power,
        shortfalls=tuple(shortfalls),
        message=message,
    )


def _inconsistent_decision(
    bad: Sequence[str], policy: str, metric: str, level: float
) -> WinnerDecision:
    """No winner: some variant's counts cannot be compared (see ``inconsistent``)."""
    return WinnerDecision(
        winner_id=None,
        reason=DecisionReason.INCONSISTENT_COUNTS,
        policy=policy,
        metric=metric,
        confidence_level=level,
        p_value=None,
        significance=None,
        variants=(),
        comparisons=(),
        srm_p_value=None,
        power=None,
        shortfalls=(),
        message=(
            f"inconsistent counts for {metric}: {'; '.join(bad)} (are some events still"
            " being tracked?); no winner until the counts add up"
        ),
    )


def _planned_absolute(
    planned_mde: float | None, relative: bool, control_value: float
) -> float | None:
    if planned_mde is None:
        return None
    return abs(planned_mde * control_value) if relative else abs(planned_mde)


def _rate_stats(v: VariantCounts, k: int, n: int, level: float, pb: float) -> VariantStats:
    interval = wilson_interval(k, n, level)
    return VariantStats(
        v.id,
        v.name,
        v.is_control,
        v.impressions,
        v.clicks,
        v.conversions,
        v.revenue,
        interval.estimate,
        interval.lower,
        interval.upper,
        pb,
    )


def _mean_stats(
    v: VariantCounts, n: int, s: float, q: float, level: float, pb: float | None
) -> VariantStats:
    from scipy import special

    if n == 0:
        value, lower, upper = 0.0, -math.inf, math.inf
    else:
        mean, var = mean_and_variance(n, s, q)
        value = float(mean)
        if n < 2:
            lower, upper = -math.inf, math.inf
        else:
            half = float(special.stdtrit(n - 1, 0.5 + level / 2.0)) * math.sqrt(float(var) / n)
            lower, upper = value - half, value + half
    return VariantStats(
        v.id,
        v.name,
        v.is_control,
        v.impressions,
        v.clicks,
        v.conversions,
        v.revenue,
        value,
        lower,
        upper,
        pb,
    )


def _compare(
    control: VariantCounts,
    treatment: VariantCounts,
    metric: str,
    policy: str,
    level: float,
    power_alpha: float,
    lift_method: LiftMethod,
    tau: float | None,
    planned_mde: float | None,
    mde_relative: bool,
    planned_abs: float | None,
) -> Comparison:
    if metric == "revenue_per_impression":
        return _compare_means(control, treatment, policy, level, power_alpha, tau, planned_abs)
    succ, trials = _PROPORTION_METRICS[metric]
    ka, na = getattr(control, succ), getattr(control, trials)
    kb, nb = getattr(treatment, succ), getattr(treatment, trials)
    lift = relative_lift_interval(ka, na, kb, nb, confidence=level, method=lift_method)
    beat = prob_beat_control(ka, na, kb, nb)
    if policy == "fixed_horizon":
        test = two_proportion_ztest(ka, na, kb, nb)
        interval = difference_interval(ka, na, kb, nb, confidence=level)
        statistic, p, diff = test.z, test.p_value, test.difference
        lower, upper, kind = interval.lower, interval.upper, "confidence_interval"
    else:
        pa, pb = ka / na, kb / nb
        pooled = (ka + kb) / (na + nb)
        t = tau if tau is not None else _tau_for(pa, pooled, planned_abs)
        var = pa * (1 - pa) / na + pb * (1 - pb) / nb
        p_arr, llr, lo, hi = msprt_from_moments(
            pb - pa, var, tau=t, confidence=level, bounds=(-1.0, 1.0)
        )
        statistic, p, diff = float(llr), float(p_arr), pb - pa
        lower, upper, kind = float(lo), float(hi), "confidence_sequence"
    power = None
    baseline = ka / na
    if planned_mde is not None and 0.0 < baseline < 1.0:
        effect = planned_mde * baseline if mde_relative else planned_mde
        if 0.0 < baseline + abs(effect) < 1.0:
            power = power_two_proportions(
                baseline, abs(effect), na, relative=False, alpha=power_alpha, ratio=nb / na
            )
    return Comparison(
        variant_id=treatment.id,
        control_id=control.id,
        difference=diff,
        difference_lower=lower,
        difference_upper=upper,
        interval_kind=kind,
        relative_lift=lift.estimate,
        lift_lower=lift.lower,
        lift_upper=lift.upper,
        lift_bounded=bool(lift.bounded),
        statistic=statistic,
        p_value=p,
        adjusted_p_value=p,
        prob_beat_control=beat,
        power=power,
    )


def _compare_means(
    control: VariantCounts,
    treatment: VariantCounts,
    policy: str,
    level: float,
    power_alpha: float,
    tau: float | None,
    planned_abs: float | None,
) -> Comparison:
    from scipy import special

    na, sa, qa = control.impressions, control.revenue, control.revenue_sum_squares or 0.0
    nb, sb, qb = treatment.impressions, treatment.revenue, treatment.revenue_sum_squares or 0.0
    welch = welch_ttest_from_stats(na, sa, qa, nb, sb, qb)
    mean_a, var_a = (float(x) for x in mean_and_variance(na, sa, qa))
    mean_b, var_b = (float(x) for x in mean_and_variance(nb, sb, qb))
    se = welch.std_error
    diff = welch.difference
    if policy == "fixed_horizon":
        half = float(special.stdtrit(welch.df, 0.5 + level / 2.0)) * se
        lower, upper, kind = diff - half, diff + half, "confidence_interval"
        statistic, p = welch.t, welch.p_value
    else:
        t = tau if tau is not None else _tau_for(mean_a, (sa + sb) / (na + nb), planned_abs)
        p_arr, llr, lo, hi = msprt_from_moments(diff, se * se, tau=t, confidence=level)
        statistic, p = float(llr), float(p_arr)
        lower, upper, kind = float(lo), float(hi), "confidence_sequence"
    z = norm_ppf(0.5 + level / 2.0)
    if mean_a != 0.0:
        lift = mean_b / mean_a - 1.0
        lift_se = math.sqrt(var_b / nb / mean_a**2 + mean_b**2 * var_a / na / mean_a**4)
        lift_lower, lift_upper, bounded = lift - z * lift_se, lift + z * lift_se, True
    else:
        lift = 0.0 if mean_b == 0.0 else math.copysign(math.inf, mean_b)
        lift_lower, lift_upper, bounded = -math.inf, math.inf, False
    power = None
    if planned_abs and se > 0.0:
        power = norm_cdf(planned_abs / se - norm_ppf(1.0 - power_alpha / 2.0))
    return Comparison(
        variant_id=treatment.id,
        control_id=control.id,
        difference=diff,
        difference_lower=lower,
        difference_upper=upper,
        interval_kind=kind,
        relative_lift=lift,
        lift_lower=lift_lower,
        lift_upper=lift_upper,
        lift_bounded=bounded,
        statistic=statistic,
        p_value=p,
        adjusted_p_value=p,
        prob_beat_control=None,
        power=power,
    )
