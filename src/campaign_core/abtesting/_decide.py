"""The winner decision of an A/B/n test (:func:`decide`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from campaign_core._numeric_checks import open_unit
from campaign_core._numerics import mean_and_variance
from campaign_core.abtesting._assign import validate_traffic_split
from campaign_core.abtesting._compare import Posterior, compare, posterior, posterior_mean
from campaign_core.abtesting._counts import (
    _PROPORTION_METRICS,
    METRICS,
    POLICIES,
    SEED_MIN_SAMPLE,
    Metric,
    MinimumSample,
    Policy,
    VariantCounts,
    _check_count,
    _check_finite,
)
from campaign_core.abtesting._guardrails import (
    Guardrail,
    check_guardrails,
    parse_guardrails,
    parse_secondary,
    secondary_results,
)
from campaign_core.abtesting._looks import look_bound as look_bound_for
from campaign_core.abtesting._looks import trials_so_far
from campaign_core.abtesting._results import (
    Comparison,
    DecisionReason,
    SampleShortfall,
    VariantStats,
    WinnerDecision,
)
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.stats import (
    SPENDING_FUNCTIONS,
    SRM_ALPHA,
    adjust_pvalues,
    prob_best,
    srm_test,
    wilson_interval,
)

__all__ = ["decide"]

_LIFT_METHODS = ("delta", "fieller", "log_ratio")

#: The ``bayesian`` policy's default threshold of caring: a choice may risk losing at most
#: 0.25 % of the control's rate (relative), GrowthBook's default risk threshold.
DEFAULT_RISK_THRESHOLD = 0.0025
#: ... and must be this probable to beat the control (to be beaten, for the control).
DEFAULT_PROB_THRESHOLD = 0.95


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


def decide(
    variants: Sequence[VariantCounts | Mapping[str, Any]],
    *,
    confidence_level: float = 0.95,
    policy: Policy = "fixed_horizon",
    min_samples: MinimumSample = SEED_MIN_SAMPLE,
    min_sample_size: int = 100,
    planned_mde: float | None = None,
    planned_horizon: int | None = None,
    mde_relative: bool = True,
    target_power: float = 0.8,
    expected_split: Mapping[str, float] | Literal["equal"] | None = "equal",
    metric: Metric = "conversion_rate",
    tau: float | None = None,
    previous_p_values: Mapping[str, float] | None = None,
    lift_method: Literal["delta", "fieller", "log_ratio"] = "delta",
    inconsistent: Literal["raise", "no_winner"] = "raise",
    bayesian: bool = True,
    risk_threshold: float = DEFAULT_RISK_THRESHOLD,
    prob_threshold: float = DEFAULT_PROB_THRESHOLD,
    guardrails: Sequence[Guardrail | Mapping[str, Any]] | None = None,
    secondary_metrics: Sequence[str] | None = None,
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming",
    previous_looks: Sequence[float] | None = None,
) -> WinnerDecision:
    """Decide an A/B/n test: a winner or none, with the reason and the evidence.

    Order of checks:

    1. **Sample-ratio mismatch**, always (unless ``expected_split=None``):
       impressions per variant against the test's split (equal shares unless
       given); ``p < 0.001`` blocks any winner, since the assignment or the
       tracking is broken and the comparison is biased.
    2. **Floors**: every variant needs ``min_samples`` (the seed's 1000
       impressions, 100 clicks, 30 conversions) and ``min_sample_size``
       impressions (the test's ``minSampleSize``), plus at least 1 trial of
       the metric (2 for means).
    3. **Tests** of each treatment against the control (two-sided):
       ``fixed_horizon``: the pooled z-test (Welch's t-test for revenue), as
       the seed; ``always_valid``: the mSPRT, whose p-values stay valid however
       often the test is re-checked; ``bayesian``: the z-test is reported but
       the decision is the posterior's (below). p-values are Holm-adjusted over the
       comparisons. A treatment wins if its adjusted p is below
       ``1 - confidence_level`` and it beats the control (the best such
       treatment by observed value when several do); the control wins if every
       treatment is significantly worse; otherwise there is no winner.
    4. **Horizon** (``fixed_horizon`` with ``planned_horizon``): until the
       metric's trials summed over the variants reach the planned size, no
       winner (``before_horizon``): stopping early on a significant
       fixed-horizon test is peeking. The horizon is computed once, when the
       test is created (:func:`planned_horizon`), never from the data.
    5. **Power** (when ``planned_mde`` is given): the power of the observed
       sample to detect the planned effect at level ``alpha / m``, reported,
       and the reason ``underpowered`` for a non-significant result below
       ``target_power``. It never blocks a significant result: a power
       recomputed from the observed control rate at each look is itself a
       data-dependent rule (it blocked most significant tests at exactly the
       planned size).
    6. **Guardrails**: a treatment that would win must pass a one-sided
       non-inferiority test at ``alpha`` on each guardrail metric (not worse
       than the control by the guardrail's margin); otherwise it does not win
       (``guardrail_failed`` when no other treatment can). Secondary metrics
       are reported with Holm-adjusted p-values and never decide.
    7. **Group-sequential** (``policy="group_sequential"``, with a
       ``planned_horizon``): every look spends part of ``alpha`` by the
       Lan-DeMets spending function (``spending``: O'Brien-Fleming or Pocock)
       at its information fraction ``t = trials / planned_horizon``; the
       earlier looks' fractions (``previous_looks``, stored with the test)
       fix what was already spent. A treatment wins when its fixed-sample
       p-value is below this look's nominal boundary (computed at
       ``alpha / m`` for ``m`` treatments). Looks may be taken at any time,
       as often as wanted; only their information fractions matter.
    8. **Bayesian decision** (``policy="bayesian"``, proportion metrics only):
       with uniform Beta priors, a treatment wins when it beats the control
       with probability at least ``prob_threshold`` *and* choosing it risks at
       most ``risk_threshold`` (relative to the control's posterior mean) of
       expected loss, ``E[max(control - treatment, 0)]``; the best such
       treatment by observed difference when several do. The control wins when
       every treatment is that improbable and keeping the control is that
       safe. Otherwise no winner (``risk_above_threshold``). Floors and the
       sample-ratio check apply as above; there is no horizon: the rule bounds
       what a wrong choice costs, not how often one is made, and it is not a
       frequentist test (its false-positive rate under repeated looks is not
       controlled; use ``always_valid`` for that).

    Args:
        variants: :class:`VariantCounts` or their JSON objects; 2..n, one control.
        confidence_level: in (0, 1); the seed's default 0.95.
        policy: ``"fixed_horizon"`` (default, the seed), ``"always_valid"`` or
            ``"bayesian"`` (proportion metrics).
        min_samples: per-variant floors (default ``SEED_MIN_SAMPLE``).
        min_sample_size: the test's ``minSampleSize``, in impressions per variant.
        planned_mde: the effect the test was planned to detect, or ``None``.
        planned_horizon: the fixed horizon, total trials of the metric over all
            variants (:func:`planned_horizon`), or ``None``; ignored under
            ``always_valid``.
        mde_relative: whether ``planned_mde`` is relative to the control (default).
        target_power: the power the plan asked for, default 0.8.
        expected_split: the test's traffic split (keyed by variant id or
            name) for the sample-ratio check; ``"equal"`` (default) is equal
            shares, the seed's default split; ``None`` skips the check (only
            for groups that were not randomized by a split).
        metric: ``"conversion_rate"`` (conversions / impressions, the seed's
            A/B test), ``"click_through_rate"`` (clicks / impressions),
            ``"click_conversion_rate"`` (conversions / clicks) or
            ``"revenue_per_impression"`` (needs ``revenue_sum_squares``).
        tau: the mSPRT mixing standard deviation for ``always_valid``. It must
            be fixed before the first look: pass the one stored with the test
            (the service computes it at creation). Without it: the planned
            absolute effect, else 10 % of the control's value at this look,
            which moves with the data (acceptable for a one-off read only).
        previous_p_values: under ``always_valid``, the smallest p-value each
            treatment (by id) had at the earlier looks. Each comparison's
            p-value is the running minimum ``min(previous, this look's)``: the
            mSPRT's p-value is defined as that minimum (it stays valid at
            every look), so a winner does not disappear at a later look. The
            service stores it with the test after each decision.
        lift_method: the relative-lift interval method.
        inconsistent: what counts that cannot be mean, whatever the metric:
            clicks above impressions or conversions above clicks (above
            impressions when no variant has clicks and the metric does not use
            them: clicks not tracked), or revenue sums of squares below
            ``revenue² / impressions``: ``"raise"`` (default) treats them as bad
            input; ``"no_winner"`` returns a decision with the reason
            ``inconsistent_counts`` and no statistics, as the A/B service does
            for tracked counts (conversions can arrive before their impressions).
        bayesian: whether to report the posterior probabilities and risks
            (``prob_best``, ``prob_beat_control``, the expected losses under ``bayesian``; under
            the frequentist policies they never change the decision; the
            ``bayesian`` policy computes what it decides on whatever this
            says). Two variants cost one exact sum (three under ``bayesian``); from three
            on, ``prob_best`` integrates numerically (about 30 ms per
            variant): pass ``False`` when only the decision is needed.
        risk_threshold: the ``bayesian`` policy's threshold of caring: the
            largest expected loss a choice may carry, relative to the control's
            posterior mean (default 0.0025).
        prob_threshold: the ``bayesian`` policy's probability to beat the
            control a winner needs (default 0.95); in [0.5, 1).
        guardrails: :class:`Guardrail` or JSON ``{"metric", "margin",
            "relative"?}``: metrics a winner must not degrade by the margin
            (relative to the control's value by default); at most 10.
        secondary_metrics: metric names reported for every treatment
            (Holm-adjusted together), never decided on.
        spending: the ``group_sequential`` spending function,
            ``"obrien_fleming"`` (default: nearly nothing spent early) or
            ``"pocock"`` (evenly).
        previous_looks: under ``group_sequential``, the information fractions
            of the earlier recorded looks, increasing.

    Returns:
        A :class:`WinnerDecision`.

    Raises:
        ValidationError: bad variants (fewer than 2, duplicate ids, not exactly
            one control, counts outside the funnel (see ``inconsistent``), missing
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
    if planned_horizon is not None:
        _check_count("planned_horizon", planned_horizon, problems)
    if planned_mde is not None:
        _check_finite("planned_mde", planned_mde, problems)
        if not problems and planned_mde == 0:
            problems.add("planned_mde", "must not be 0", "out_of_range")
    if tau is not None:
        _check_finite("tau", tau, problems)
        if not problems and tau <= 0:
            problems.add("tau", "must be positive", "out_of_range")
    bayesian_given: object = bayesian
    if not isinstance(bayesian_given, bool):
        problems.add("bayesian", "must be a boolean", "invalid_type")
    previous: object = previous_p_values
    if previous is not None:
        if policy != "always_valid":
            problems.add("previous_p_values", "is only for the always_valid policy")
        elif not isinstance(previous, Mapping):
            problems.add("previous_p_values", "must be an object of id -> p", "invalid_type")
        else:
            for key, value in previous.items():
                item = join_path("previous_p_values", str(key))
                _check_finite(item, value, problems, minimum=0.0)
                if not problems and value > 1.0:
                    problems.add(item, "must be at most 1", "out_of_range")
    _check_finite("risk_threshold", risk_threshold, problems)
    if not problems and not 0.0 < risk_threshold < 1.0:
        problems.add("risk_threshold", "must be in (0, 1)", "out_of_range")
    _check_finite("prob_threshold", prob_threshold, problems)
    if not problems and not 0.5 <= prob_threshold < 1.0:
        problems.add("prob_threshold", "must be in [0.5, 1)", "out_of_range")
    if policy == "bayesian" and metric == "revenue_per_impression":
        problems.add(
            "metric",
            "the bayesian policy decides on rates (Beta posteriors), not on revenue",
            "invalid_value",
        )
    guard: tuple[Guardrail, ...] = ()
    secondary: tuple[str, ...] = ()
    try:
        guard = parse_guardrails(guardrails)
    except ValidationError as error:
        problems.extend(error)
    try:
        secondary = parse_secondary(secondary_metrics, str(metric))
    except ValidationError as error:
        problems.extend(error)
    looks_before: list[float] = []
    if policy == "group_sequential":
        if planned_horizon is None:
            problems.add(
                "planned_horizon", "is required for the group_sequential policy", "required"
            )
        if spending not in SPENDING_FUNCTIONS:
            problems.add("spending", f"must be one of {', '.join(SPENDING_FUNCTIONS)}")
        given_looks: object = previous_looks or []
        if isinstance(given_looks, str | bytes) or not isinstance(given_looks, Sequence):
            problems.add("previous_looks", "must be a list of fractions", "invalid_type")
        else:
            for i, value in enumerate(given_looks):
                path = join_path("previous_looks", i)
                _check_finite(path, value, problems)
                if problems.problems and problems.problems[-1].path == path:
                    continue
                if not 0.0 < float(value) <= 1.0 or (looks_before and value <= looks_before[-1]):
                    problems.add(
                        path, "must be in (0, 1] and above the look before", "out_of_range"
                    )
                else:
                    looks_before.append(float(value))
    elif previous_looks:
        problems.add("previous_looks", "is only for the group_sequential policy")
    if inconsistent not in ("raise", "no_winner"):
        problems.add("inconsistent", f"must be 'raise' or 'no_winner', got {inconsistent!r}")
    problems.raise_if_any()
    items = _coerce_variants(variants)
    if previous_p_values:
        treatment_ids = {v.id for v in items if not v.is_control}
        for key in previous_p_values:
            if key not in treatment_ids:
                problems.add(
                    join_path("previous_p_values", str(key)),
                    "is not one of the test's treatments",
                    "unknown_field",
                )
        problems.raise_if_any()
    if isinstance(expected_split, str) and expected_split == "equal":
        split: dict[str, float] | None = {v.id: 100.0 / len(items) for v in items}
    elif expected_split is None:
        split = None
    else:
        split = _split_by_id(expected_split, items)
    is_revenue = metric == "revenue_per_impression"
    needs_squares = is_revenue or "revenue_per_impression" in (
        *secondary,
        *(g.metric for g in guard),
    )
    bad: list[str] = []  # what cannot be compared, per variant (see ``inconsistent``)
    clicks_tracked = metric != "conversion_rate" or any(v.clicks > 0 for v in items)
    for i, v in enumerate(items):
        path = join_path("variants", i)
        # The funnel: impressions >= clicks >= conversions (clicks only when tracked at all).
        funnel = [("clicks", "impressions")] if clicks_tracked else []
        funnel.append(("conversions", "clicks" if clicks_tracked else "impressions"))
        for upper_field, lower_field in funnel:
            if getattr(v, upper_field) > getattr(v, lower_field):
                problems.add(
                    join_path(path, upper_field),
                    f"must not exceed {lower_field}",
                    "out_of_range",
                )
                bad.append(
                    f"{v.name} has {getattr(v, upper_field)} {upper_field}"
                    f" for {getattr(v, lower_field)} {lower_field}"
                )
        if needs_squares:
            if v.revenue_sum_squares is None:
                problems.add(
                    join_path(path, "revenue_sum_squares"),
                    "is required for metric 'revenue_per_impression'",
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
    if inconsistent == "no_winner" and bad and len(bad) == len(problems.problems):
        return _inconsistent_decision(bad, policy, metric, level)
    problems.raise_if_any()

    alpha = 1.0 - level
    control_index = next(i for i, v in enumerate(items) if v.is_control)
    control = items[control_index]
    treatments = [v for v in items if not v.is_control]

    # -- per-variant statistics
    posteriors = bayesian or policy == "bayesian"
    losses: dict[str, Posterior] = {}  # per treatment, when computed up front
    if is_revenue:
        counts = [(v.impressions, v.revenue, v.revenue_sum_squares or 0.0) for v in items]
        variant_stats = tuple(
            _mean_stats(v, n, s, q, level, None) for v, (n, s, q) in zip(items, counts)
        )
    else:
        succ_field, trial_field = _PROPORTION_METRICS[metric]
        pairs = [(getattr(v, succ_field), getattr(v, trial_field)) for v in items]
        bests: Sequence[float | None] = [None] * len(items)
        if posteriors and len(items) == 2:
            # P(B best) = P(B > A): the comparison's exact sum serves both numbers.
            (ka, na), (kb, nb) = pairs[control_index], pairs[1 - control_index]
            loss = posterior(ka, na, kb, nb, policy == "bayesian")
            losses[items[1 - control_index].id] = loss
            beat = loss.prob_beat_control
            bests = [beat if i != control_index else 1.0 - beat for i in range(2)]
        elif posteriors:
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
            compare(
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
                posteriors,
                losses.get(t.id),
            )
            for t in treatments
        ]
        if previous_p_values:
            raw = [
                attrs.evolve(c, p_value=min(c.p_value, float(previous_p_values[c.variant_id])))
                if c.variant_id in previous_p_values
                else c
                for c in raw
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
    information: float | None = None
    look_bound: float | None = None
    if policy == "group_sequential" and comparisons and planned_horizon:
        information, look_bound = look_bound_for(
            trials_so_far(items, metric),
            planned_horizon,
            looks_before,
            alpha,
            comparisons,
            spending,
        )
    if look_bound is not None:
        better = [c for c in comparisons if c.p_value < look_bound and c.difference > 0]
        worse = [c for c in comparisons if c.p_value < look_bound and c.difference < 0]
    elif policy == "bayesian":
        caring = risk_threshold * posterior_mean(control, metric)
        better = [
            c
            for c in comparisons
            if (c.prob_beat_control or 0.0) >= prob_threshold
            and (c.expected_loss_treatment or 0.0) <= caring
        ]
        worse = [
            c
            for c in comparisons
            if (c.prob_beat_control or 0.0) <= 1.0 - prob_threshold
            and (c.expected_loss_control or 0.0) <= caring
        ]
    else:
        better = [c for c in comparisons if c.adjusted_p_value < alpha and c.difference > 0]
        worse = [c for c in comparisons if c.adjusted_p_value < alpha and c.difference < 0]
    guard_results = check_guardrails(guard, control, treatments, alpha) if comparisons else ()
    blocked = {g.variant_id for g in guard_results if not g.passed}
    held_back = [c for c in better if c.variant_id in blocked]
    better = [c for c in better if c.variant_id not in blocked]
    if better:
        best = max(better, key=lambda c: (c.difference, -c.adjusted_p_value))
        candidate, candidate_p = best.variant_id, best.adjusted_p_value
    elif comparisons and len(worse) == len(comparisons):
        candidate, candidate_p = control.id, max(c.adjusted_p_value for c in comparisons)
    else:
        candidate, candidate_p = None, None
    short_of_power = power is not None and power < power_goal
    trials = trials_so_far(items, metric)
    before_horizon = (
        policy == "fixed_horizon" and planned_horizon is not None and trials < planned_horizon
    )

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
    elif before_horizon:
        reason = DecisionReason.BEFORE_HORIZON
        message = (
            f"before the planned horizon: {trials} of {planned_horizon} trials;"
            " keep the test running (a fixed-horizon test is read once, at its planned size)"
        )
    elif candidate is not None and policy == "bayesian":
        reason = DecisionReason.LOW_RISK
        winner, decision_p = candidate, candidate_p
        message = (
            f"{candidate} wins (probable at >= {prob_threshold:g} and its expected loss within"
            f" {risk_threshold:g} of the control's rate, bayesian)"
        )
    elif candidate is not None and look_bound is not None:
        reason = DecisionReason.SIGNIFICANT
        winner, decision_p = candidate, candidate_p
        message = (
            f"{candidate} wins at the look at {information:.0%} of the planned size"
            f" (p below the look's boundary {look_bound:.3g}, {spending} spending)"
        )
    elif candidate is not None:
        reason = DecisionReason.SIGNIFICANT
        winner, decision_p = candidate, candidate_p
        message = f"{candidate} wins (adjusted p = {candidate_p:.3g} < {alpha:.3g}, {policy})"
    elif held_back:
        reason = DecisionReason.GUARDRAIL_FAILED
        failed = sorted(
            {g.metric for g in guard_results if g.variant_id == held_back[0].variant_id}
            - {
                g.metric
                for g in guard_results
                if g.passed and g.variant_id == held_back[0].variant_id
            }
        )
        message = (
            f"{held_back[0].variant_id} would win but is not shown non-inferior on"
            f" {', '.join(failed)} (guardrail margin)"
        )
    elif look_bound is not None:
        reason = DecisionReason.NOT_SIGNIFICANT
        message = (
            f"not significant at the look at {information:.0%} of the planned size"
            f" (boundary p < {look_bound:.3g}); keep the test running"
            if (information or 0.0) < 1.0
            else f"not significant at the final look (boundary p < {look_bound:.3g})"
        )
    elif policy == "bayesian" and comparisons:
        reason = DecisionReason.RISK_ABOVE_THRESHOLD
        message = (
            f"no choice is safe enough: each carries more than {risk_threshold:g} of the"
            f" control's rate in expected loss or is below P = {prob_threshold:g}"
        )
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
        guardrails=guard_results,
        secondary=secondary_results(secondary, control, treatments) if comparable else (),
        information=information,
        look_p_bound=look_bound,
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


def _rate_stats(v: VariantCounts, k: int, n: int, level: float, pb: float | None) -> VariantStats:
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
