"""One treatment against the control: the test of each policy, intervals, posteriors."""

from __future__ import annotations

import math
from typing import Literal

import attrs

from campaign_core._numerics import mean_and_variance, norm_cdf, norm_ppf
from campaign_core.abtesting._counts import _PROPORTION_METRICS, VariantCounts
from campaign_core.abtesting._results import Comparison
from campaign_core.stats import (
    difference_interval,
    expected_loss,
    msprt_from_moments,
    power_two_proportions,
    prob_beat_control,
    relative_lift_interval,
    two_proportion_ztest,
    welch_ttest_from_stats,
)

__all__: list[str] = []


def tau_for(control_value: float, pooled_value: float, planned_abs: float | None) -> float:
    if planned_abs is not None and planned_abs > 0.0:
        return planned_abs
    # The seed plans for a 10 % relative effect; scale tau to the data's level.
    base = control_value if control_value > 0.0 else pooled_value
    return 0.1 * base if base > 0.0 else 0.01


def posterior(ka: int, na: int, kb: int, nb: int, with_loss: bool) -> Posterior:
    """P(treatment > control), and the expected losses when the decision needs them (two
    more exact sums: about 1 ms for two arms instead of 0.3 ms, so only under ``bayesian``)."""
    if with_loss:
        loss = expected_loss(ka, na, kb, nb)
        return Posterior(loss.prob_beat_control, loss.loss_treatment, loss.loss_control)
    return Posterior(float(prob_beat_control(ka, na, kb, nb)), None, None)


@attrs.frozen
class Posterior:
    prob_beat_control: float
    loss_treatment: float | None
    loss_control: float | None


def posterior_mean(variant: VariantCounts, metric: str) -> float:
    """A variant's posterior mean rate under the uniform prior (never 0, unlike the rate)."""
    successes, trials = _PROPORTION_METRICS[metric]
    return float(getattr(variant, successes) + 1.0) / float(getattr(variant, trials) + 2.0)


def compare(
    control: VariantCounts,
    treatment: VariantCounts,
    metric: str,
    policy: str,
    level: float,
    power_alpha: float,
    lift_method: Literal["delta", "fieller", "log_ratio"],
    tau: float | None,
    planned_mde: float | None,
    mde_relative: bool,
    planned_abs: float | None,
    bayesian: bool,
    known_loss: Posterior | None,
) -> Comparison:
    if metric == "revenue_per_impression":
        return _compare_means(control, treatment, policy, level, power_alpha, tau, planned_abs)
    succ, trials = _PROPORTION_METRICS[metric]
    ka, na = getattr(control, succ), getattr(control, trials)
    kb, nb = getattr(treatment, succ), getattr(treatment, trials)
    lift = relative_lift_interval(ka, na, kb, nb, confidence=level, method=lift_method)
    loss = known_loss
    if loss is None and bayesian:
        loss = posterior(ka, na, kb, nb, policy == "bayesian")
    if policy != "always_valid":
        test = two_proportion_ztest(ka, na, kb, nb)
        interval = difference_interval(ka, na, kb, nb, confidence=level)
        statistic, p, diff = test.z, test.p_value, test.difference
        lower, upper, kind = interval.lower, interval.upper, "confidence_interval"
    else:
        pa, pb = ka / na, kb / nb
        pooled = (ka + kb) / (na + nb)
        t = tau if tau is not None else tau_for(pa, pooled, planned_abs)
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
        prob_beat_control=None if loss is None else loss.prob_beat_control,
        power=power,
        expected_loss_treatment=None if loss is None else loss.loss_treatment,
        expected_loss_control=None if loss is None else loss.loss_control,
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
    if policy != "always_valid":
        half = float(special.stdtrit(welch.df, 0.5 + level / 2.0)) * se
        lower, upper, kind = diff - half, diff + half, "confidence_interval"
        statistic, p = welch.t, welch.p_value
    else:
        t = tau if tau is not None else tau_for(mean_a, (sa + sb) / (na + nb), planned_abs)
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
