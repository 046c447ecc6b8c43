"""Sample size, power and minimum detectable effect for two proportions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    proportion_effectsize,
    samplesize_proportions_2indep_onetail,
)

from campaign_core.errors import ValidationError
from campaign_core.stats import (
    minimum_detectable_effect,
    power_two_proportions,
    sample_size_two_proportions,
)

SETTINGS = settings(max_examples=200, deadline=None)

baselines = st.floats(0.005, 0.9)
relative_effects = st.floats(0.02, 0.8)
alphas = st.sampled_from([0.01, 0.05, 0.1])
powers = st.sampled_from([0.8, 0.9, 0.95])
ratios = st.sampled_from([0.5, 1.0, 2.0, 3.0])
alternatives = st.sampled_from(["two-sided", "larger"])


@SETTINGS
@given(baselines, relative_effects, alphas, powers, ratios, alternatives)
def test_pooled_sample_size_matches_statsmodels(
    p1: float, mde: float, alpha: float, power: float, ratio: float, alternative: str
) -> None:
    """The pooled sample size equals statsmodels' samplesize_proportions_2indep_onetail.

    statsmodels' group 1 is the treatment and its ratio is control/treatment, so
    its nobs1 is our n_b = ratio * n_a.
    """
    assume(p1 * (1 + mde) < 0.99)
    ours = sample_size_two_proportions(
        p1,
        mde,
        alpha=alpha,
        power=power,
        ratio=ratio,
        alternative=alternative,  # type: ignore[arg-type]
    )
    ref = samplesize_proportions_2indep_onetail(
        p1 * mde, p1, power, ratio=1 / ratio, alpha=alpha, alternative=alternative
    )
    assert ours.n_a_exact * ratio == pytest.approx(float(ref), rel=1e-9)
    assert ours.n_a == math.ceil(ours.n_a_exact - 1e-9)
    assert ours.n_b >= ours.n_a_exact * ratio - 1e-6
    assert ours.total == ours.n_a + ours.n_b


@SETTINGS
@given(baselines, relative_effects, alphas, st.integers(50, 10**6), ratios)
def test_pooled_power_matches_statsmodels_one_tail(
    p1: float, mde: float, alpha: float, n_a: int, ratio: float
) -> None:
    """Our two-sided power is statsmodels' one-sided power at alpha/2 (the tail in the effect's direction)."""
    assume(p1 * (1 + mde) < 0.99)
    ours = power_two_proportions(p1, mde, n_a, alpha=alpha, ratio=ratio)
    ref = power_proportions_2indep(
        p1 * mde, p1, n_a * ratio, ratio=1 / ratio, alpha=alpha / 2, alternative="larger"
    ).power
    assert ours == pytest.approx(float(ref), rel=1e-9, abs=1e-15)


@SETTINGS
@given(baselines, relative_effects, alphas, st.integers(50, 10**6), ratios)
def test_arcsine_power_matches_normal_ind_power(
    p1: float, mde: float, alpha: float, n_a: int, ratio: float
) -> None:
    """The arcsine power equals NormalIndPower with Cohen's h (proportion_effectsize), one tail."""
    p2 = p1 * (1 + mde)
    assume(p2 < 0.99)
    ours = power_two_proportions(p1, mde, n_a, alpha=alpha, ratio=ratio, method="arcsine")
    h = proportion_effectsize(p2, p1)
    ref = NormalIndPower().power(h, nobs1=n_a, alpha=alpha / 2, ratio=ratio, alternative="larger")
    assert ours == pytest.approx(float(ref), rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(baselines, relative_effects, powers, ratios)
def test_arcsine_sample_size_matches_normal_ind_power_solver(
    p1: float, mde: float, power: float, ratio: float
) -> None:
    """The arcsine sample size agrees with NormalIndPower.solve_power (a root finder)."""
    p2 = p1 * (1 + mde)
    assume(p2 < 0.99)
    ours = sample_size_two_proportions(p1, mde, power=power, ratio=ratio, method="arcsine")
    h = proportion_effectsize(p2, p1)
    ref = NormalIndPower().solve_power(
        h, nobs1=None, alpha=0.025, power=power, ratio=ratio, alternative="larger"
    )
    assert ours.n_a_exact == pytest.approx(float(ref), rel=1e-6)


@SETTINGS
@given(
    baselines,
    st.integers(100, 10**7),
    alphas,
    powers,
    ratios,
    st.sampled_from(["pooled", "unpooled", "arcsine"]),
    st.sampled_from(["two-sided", "larger", "smaller"]),
)
def test_mde_inverts_power_and_sample_size(
    p1: float, n_a: int, alpha: float, power: float, ratio: float, method: str, alternative: str
) -> None:
    """At the MDE the power is the target, and the sample size for it is n_a."""
    mde = minimum_detectable_effect(
        p1,
        n_a,
        alpha=alpha,
        power=power,
        ratio=ratio,
        method=method,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assume(math.isfinite(mde))
    achieved = power_two_proportions(
        p1,
        mde,
        n_a,
        alpha=alpha,
        ratio=ratio,
        method=method,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert achieved == pytest.approx(power, rel=1e-8)
    plan = sample_size_two_proportions(
        p1,
        mde,
        alpha=alpha,
        power=power,
        ratio=ratio,
        method=method,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert plan.n_a_exact == pytest.approx(n_a, rel=1e-7)
    assert (mde < 0) == (alternative == "smaller")


def test_a_classic_plan() -> None:
    """10 % baseline, +10 % relative, 5 % two-sided, 80 % power: about 14,751 per group."""
    plan = sample_size_two_proportions(0.1, 0.1)
    assert plan.n_a == plan.n_b == 14751
    assert plan.effect == pytest.approx(0.01)
    assert plan.treatment_rate == pytest.approx(0.11)
    absolute = sample_size_two_proportions(0.1, 0.01, relative=False)
    assert absolute.n_a == plan.n_a


def test_sample_size_grows_as_the_effect_shrinks() -> None:
    """Halving the effect roughly quadruples the sample size."""
    sizes = sample_size_two_proportions(0.05, np.array([0.2, 0.1, 0.05]))
    assert sizes.n_a.tolist() == sorted(sizes.n_a.tolist())
    assert 3.5 < sizes.n_a[1] / sizes.n_a[0] < 4.5
    assert sizes.n_a.dtype == np.int64


def test_vectorized_plans_equal_scalar_plans() -> None:
    """Array baselines and effects give the scalar answers element by element."""
    base = np.array([0.02, 0.1, 0.3])
    effects = np.array([0.1, 0.05, 0.2])
    vec = sample_size_two_proportions(base, effects)
    mdes = minimum_detectable_effect(base, np.array([1e3, 1e4, 1e5]))
    for i in range(3):
        assert vec.n_a[i] == sample_size_two_proportions(float(base[i]), float(effects[i])).n_a
        assert mdes[i] == pytest.approx(
            minimum_detectable_effect(float(base[i]), [1e3, 1e4, 1e5][i]), rel=1e-12
        )


def test_unreachable_mde_is_infinite() -> None:
    """When no effect within (0, 1) reaches the power, the MDE is inf, not NaN."""
    assert minimum_detectable_effect(0.9, 3, power=0.99) == math.inf
    assert minimum_detectable_effect(0.1, 3, power=0.99, alternative="smaller") == -math.inf
    assert minimum_detectable_effect(0.9, 3, power=0.99, method="arcsine") == math.inf


def test_smaller_alternative_plans_for_a_decrease() -> None:
    """A one-sided 'smaller' plan takes a negative effect and needs fewer than two-sided."""
    one = sample_size_two_proportions(0.1, -0.1, alternative="smaller")
    two = sample_size_two_proportions(0.1, -0.1)
    assert one.n_a < two.n_a


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"baseline": 0.0, "mde": 0.1}, "baseline"),
        ({"baseline": 1.0, "mde": 0.1}, "baseline"),
        ({"baseline": 0.5, "mde": 0.0}, "mde"),
        ({"baseline": 0.5, "mde": 1.5}, "mde"),
        ({"baseline": 0.5, "mde": 0.1, "alpha": 0.0}, "alpha"),
        ({"baseline": 0.5, "mde": 0.1, "alpha": 1.0}, "alpha"),
        ({"baseline": 0.5, "mde": 0.1, "power": 1.0}, "power"),
        ({"baseline": 0.5, "mde": 0.1, "power": 0.01}, "power"),
        ({"baseline": 0.5, "mde": 0.1, "ratio": 0.0}, "ratio"),
        ({"baseline": 0.5, "mde": -0.1, "alternative": "larger"}, "mde"),
        ({"baseline": 0.5, "mde": 0.1, "method": "exact"}, "method"),
        ({"baseline": float("nan"), "mde": 0.1}, "baseline"),
    ],
)
def test_bad_plans_name_the_argument(kwargs: dict[str, object], path: str) -> None:
    """Invalid planning inputs raise ValidationError naming the argument."""
    with pytest.raises(ValidationError) as info:
        sample_size_two_proportions(**kwargs)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path


def test_bad_array_plans_are_located() -> None:
    """An out-of-range element of an array baseline is reported by index."""
    with pytest.raises(ValidationError) as info:
        sample_size_two_proportions([0.1, 0.2, 1.2], 0.1)
    assert info.value.problems[0].path == "baseline[2]"
    with pytest.raises(ValidationError) as info:
        minimum_detectable_effect(0.1, [100, 0])
    assert info.value.problems[0].path == "n_a[1]"
