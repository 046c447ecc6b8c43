"""Two-proportion z-tests and the Wilson, Newcombe and lift intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from stats_strategies import binomial_sample, two_samples
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as wald_test_2indep,
)

from campaign_core.errors import ValidationError
from campaign_core.stats import (
    difference_interval,
    relative_lift_interval,
    two_proportion_ztest,
    wilson_interval,
)

RTOL = 1e-9
SETTINGS = settings(max_examples=300, deadline=None)
ALTERNATIVES = ["two-sided", "larger", "smaller"]


def close(actual: float, expected: float, rtol: float = RTOL, atol: float = 1e-12) -> bool:
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol)


# --------------------------------------------------------------------------- oracles


@SETTINGS
@given(two_samples(), st.sampled_from(ALTERNATIVES))
def test_pooled_ztest_matches_statsmodels(
    sample: tuple[int, int, int, int], alternative: str
) -> None:
    """The pooled z-test equals statsmodels' proportions_ztest with B listed first."""
    ka, na, kb, nb = sample
    assume(0 < ka + kb < na + nb)  # statsmodels divides 0 by 0 otherwise
    ours = two_proportion_ztest(ka, na, kb, nb, alternative=alternative)  # type: ignore[arg-type]
    z, p = proportions_ztest([kb, ka], [nb, na], alternative=alternative)
    assert close(ours.z, float(z))
    assert close(ours.p_value, float(p), atol=1e-300)


@pytest.mark.filterwarnings("ignore::RuntimeWarning:statsmodels.*")
@SETTINGS
@given(two_samples(), st.sampled_from(ALTERNATIVES))
def test_unpooled_ztest_matches_statsmodels_wald(
    sample: tuple[int, int, int, int], alternative: str
) -> None:
    """The unpooled z-test equals statsmodels' Wald test of two independent proportions."""
    ka, na, kb, nb = sample
    assume(0 < ka < na or 0 < kb < nb)  # some spread, or statsmodels gives NaN
    ours = two_proportion_ztest(ka, na, kb, nb, variance="unpooled", alternative=alternative)  # type: ignore[arg-type]
    ref = wald_test_2indep(kb, nb, ka, na, method="wald", compare="diff", alternative=alternative)
    assert close(ours.z, float(ref.statistic))
    assert close(ours.p_value, float(ref.pvalue), atol=1e-300)


@SETTINGS
@given(binomial_sample(min_n=1), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels(sample: tuple[int, int], confidence: float) -> None:
    """Wilson limits equal statsmodels' proportion_confint(method='wilson')."""
    k, n = sample
    ours = wilson_interval(k, n, confidence)
    lo, hi = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert close(ours.lower, float(lo), atol=1e-14)
    assert close(ours.upper, float(hi), atol=1e-14)
    assert ours.lower <= ours.estimate <= ours.upper


@SETTINGS
@given(two_samples(), st.sampled_from([0.9, 0.95, 0.99]))
def test_newcombe_matches_statsmodels(sample: tuple[int, int, int, int], confidence: float) -> None:
    """Newcombe's interval equals statsmodels' confint_proportions_2indep(method='newcomb')."""
    ka, na, kb, nb = sample
    ours = difference_interval(ka, na, kb, nb, confidence=confidence)
    lo, hi = confint_proportions_2indep(kb, nb, ka, na, method="newcomb", alpha=1 - confidence)
    assert close(ours.lower, float(lo), atol=1e-13)
    assert close(ours.upper, float(hi), atol=1e-13)
    assert -1.0 <= ours.lower <= ours.estimate <= ours.upper <= 1.0


@SETTINGS
@given(two_samples(min_n=2), st.sampled_from([0.9, 0.95]))
def test_log_ratio_lift_matches_statsmodels_katz(
    sample: tuple[int, int, int, int], confidence: float
) -> None:
    """The log-ratio lift interval is statsmodels' ratio interval (method='log') minus 1."""
    ka, na, kb, nb = sample
    assume(ka > 0 and kb > 0)
    ours = relative_lift_interval(ka, na, kb, nb, confidence=confidence, method="log_ratio")
    lo, hi = confint_proportions_2indep(
        kb, nb, ka, na, compare="ratio", method="log", alpha=1 - confidence
    )
    assert ours.bounded
    assert close(ours.lower, float(lo) - 1.0, atol=1e-12)
    assert close(ours.upper, float(hi) - 1.0, atol=1e-12)


@SETTINGS
@given(two_samples(min_n=2))
def test_delta_lift_matches_textbook_formula(sample: tuple[int, int, int, int]) -> None:
    """The delta-method lift interval equals R - 1 ± z R sqrt(v_b/p_b² + v_a/p_a²)."""
    ka, na, kb, nb = sample
    assume(ka > 0 and kb > 0)
    pa, pb = ka / na, kb / nb
    ratio = pb / pa
    se = ratio * math.sqrt((1 - pb) / (pb * nb) + (1 - pa) / (pa * na))
    z = sps.norm.ppf(0.975)
    ours = relative_lift_interval(ka, na, kb, nb, method="delta")
    assert close(ours.estimate, ratio - 1)
    assert close(ours.lower, ratio - 1 - z * se, atol=1e-12)
    assert close(ours.upper, ratio - 1 + z * se, atol=1e-12)


@SETTINGS
@given(two_samples(min_n=2))
def test_fieller_limits_solve_the_defining_equation(sample: tuple[int, int, int, int]) -> None:
    """Bounded Fieller limits are ratios where (p_b - θ p_a)² = z² (v_b + θ² v_a)."""
    ka, na, kb, nb = sample
    pa, pb = ka / na, kb / nb
    va, vb = pa * (1 - pa) / na, pb * (1 - pb) / nb
    z = sps.norm.ppf(0.975)
    ours = relative_lift_interval(ka, na, kb, nb, method="fieller")
    significant_denominator = pa * pa - z * z * va > 0
    assert ours.bounded == significant_denominator
    if not ours.bounded:
        assert (ours.lower, ours.upper) == (-1.0, math.inf)
        return
    for limit in (ours.lower, ours.upper):
        theta = limit + 1.0
        lhs = (pb - theta * pa) ** 2
        rhs = z * z * (vb + theta * theta * va)
        assert math.isclose(lhs, rhs, rel_tol=1e-7, abs_tol=1e-15)
    assert ours.lower <= ours.estimate <= ours.upper


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(two_samples(), st.sampled_from(["pooled", "unpooled"]))
def test_swapping_groups_flips_the_sign(sample: tuple[int, int, int, int], variance: str) -> None:
    """Swapping A and B negates z and the difference and keeps the two-sided p-value."""
    ka, na, kb, nb = sample
    ab = two_proportion_ztest(ka, na, kb, nb, variance=variance)  # type: ignore[arg-type]
    ba = two_proportion_ztest(kb, nb, ka, na, variance=variance)  # type: ignore[arg-type]
    assert ab.z == -ba.z
    assert ab.difference == -ba.difference
    assert ab.p_value == ba.p_value
    larger = two_proportion_ztest(ka, na, kb, nb, variance=variance, alternative="larger")  # type: ignore[arg-type]
    smaller = two_proportion_ztest(kb, nb, ka, na, variance=variance, alternative="smaller")  # type: ignore[arg-type]
    assert larger.p_value == smaller.p_value


@SETTINGS
@given(two_samples())
def test_newcombe_is_antisymmetric(sample: tuple[int, int, int, int]) -> None:
    """Swapping A and B mirrors Newcombe's interval around 0."""
    ka, na, kb, nb = sample
    ab = difference_interval(ka, na, kb, nb)
    ba = difference_interval(kb, nb, ka, na)
    assert close(ab.lower, -ba.upper, atol=1e-15)
    assert close(ab.upper, -ba.lower, atol=1e-15)


@SETTINGS
@given(st.integers(2, 100_000), st.data())
def test_pvalue_decreases_as_the_effect_grows(n: int, data: st.DataObject) -> None:
    """With equal sizes, moving B's successes further above A's never raises the pooled p-value."""
    ka = data.draw(st.integers(0, n - 1))
    kb1 = data.draw(st.integers(ka, n - 1))
    kb2 = data.draw(st.integers(kb1 + 1, n))
    p1 = two_proportion_ztest(ka, n, kb1, n).p_value
    p2 = two_proportion_ztest(ka, n, kb2, n).p_value
    assert p2 <= p1 * (1 + 1e-12)
    one_sided = [
        two_proportion_ztest(ka, n, kb, n, alternative="larger").p_value for kb in (kb1, kb2)
    ]
    assert one_sided[1] <= one_sided[0] * (1 + 1e-12)


@SETTINGS
@given(st.lists(two_samples(max_n=50_000), min_size=1, max_size=20))
def test_vectorized_equals_scalar(samples: list[tuple[int, int, int, int]]) -> None:
    """Array inputs give, element by element, the scalar results."""
    ka, na, kb, nb = (np.array(column) for column in zip(*samples))
    for variance in ("pooled", "unpooled"):
        vec = two_proportion_ztest(ka, na, kb, nb, variance=variance)  # type: ignore[call-overload]
        for i, sample in enumerate(samples):
            one = two_proportion_ztest(*sample, variance=variance)  # type: ignore[call-overload]
            assert vec.z[i] == pytest.approx(one.z, rel=1e-12, abs=1e-15)
            assert vec.p_value[i] == pytest.approx(one.p_value, rel=1e-12, abs=1e-300)
            assert vec.difference[i] == one.difference
    wil = wilson_interval(ka, na)
    new = difference_interval(ka, na, kb, nb)
    for method in ("delta", "fieller", "log_ratio"):
        lift = relative_lift_interval(ka, na, kb, nb, method=method)  # type: ignore[arg-type]
        for i, sample in enumerate(samples):
            one_lift = relative_lift_interval(*sample, method=method)  # type: ignore[arg-type]
            assert lift.lower[i] == pytest.approx(one_lift.lower, rel=1e-12, abs=1e-15)
            assert lift.upper[i] == pytest.approx(one_lift.upper, rel=1e-12, abs=1e-15)
            assert bool(lift.bounded[i]) == one_lift.bounded  # type: ignore[index]
    for i, (k_a, n_a, k_b, n_b) in enumerate(samples):
        one_w = wilson_interval(k_a, n_a)
        assert wil.lower[i] == pytest.approx(one_w.lower, rel=1e-12, abs=1e-15)
        assert wil.upper[i] == pytest.approx(one_w.upper, rel=1e-12, abs=1e-15)
        one_d = difference_interval(k_a, n_a, k_b, n_b)
        assert new.lower[i] == pytest.approx(one_d.lower, rel=1e-12, abs=1e-15)
        assert new.upper[i] == pytest.approx(one_d.upper, rel=1e-12, abs=1e-15)


def test_arrays_broadcast_against_scalars() -> None:
    """A scalar control broadcasts against an array of treatments."""
    result = two_proportion_ztest(100, 1000, np.array([[90, 100], [110, 130]]), 1000)
    assert result.z.shape == (2, 2)
    assert result.rate_a.shape == (2, 2)
    assert result.z[0, 1] == 0.0


# --------------------------------------------------------------------------- coverage


@pytest.mark.parametrize(("p", "n"), [(0.3, 200), (0.03, 2000), (0.5, 50)])
def test_wilson_coverage_is_near_nominal(p: float, n: int) -> None:
    """Wilson intervals cover the true rate about 95 % of the time (seeded simulation)."""
    rng = np.random.default_rng(20240601)
    k = rng.binomial(n, p, size=20_000)
    interval = wilson_interval(k, n)
    coverage = np.mean((interval.lower <= p) & (p <= interval.upper))
    assert 0.93 <= coverage <= 0.97


@pytest.mark.parametrize(
    ("pa", "pb", "n"), [(0.1, 0.12, 1000), (0.02, 0.03, 5000), (0.5, 0.5, 100)]
)
def test_newcombe_coverage_is_near_nominal(pa: float, pb: float, n: int) -> None:
    """Newcombe intervals cover the true difference about 95 % of the time."""
    rng = np.random.default_rng(7)
    ka = rng.binomial(n, pa, size=20_000)
    kb = rng.binomial(n, pb, size=20_000)
    interval = difference_interval(ka, n, kb, n)
    coverage = np.mean((interval.lower <= pb - pa) & (pb - pa <= interval.upper))
    assert 0.93 <= coverage <= 0.97


@pytest.mark.parametrize("method", ["delta", "fieller", "log_ratio"])
def test_lift_coverage_is_near_nominal(method: str) -> None:
    """Each lift method covers the true lift about 95 % of the time at moderate sizes."""
    rng = np.random.default_rng(11)
    pa, pb, n = 0.1, 0.12, 3000
    ka = rng.binomial(n, pa, size=20_000)
    kb = rng.binomial(n, pb, size=20_000)
    interval = relative_lift_interval(ka, n, kb, n, method=method)  # type: ignore[arg-type]
    lift = pb / pa - 1
    coverage = np.mean((interval.lower <= lift) & (lift <= interval.upper))
    assert 0.93 <= coverage <= 0.97


def test_pooled_ztest_size_is_alpha_under_the_null() -> None:
    """Under equal rates the pooled test rejects about 5 % of the time."""
    rng = np.random.default_rng(3)
    ka = rng.binomial(5000, 0.05, size=40_000)
    kb = rng.binomial(5000, 0.05, size=40_000)
    rejections = np.mean(two_proportion_ztest(ka, 5000, kb, 5000).p_value < 0.05)
    assert 0.04 <= rejections <= 0.06


# --------------------------------------------------------------------------- edge cases


def test_no_successes_anywhere_gives_z_zero_and_p_one() -> None:
    """0/n against 0/n has no spread: z = 0 and p = 1, never NaN."""
    for variance in ("pooled", "unpooled"):
        result = two_proportion_ztest(0, 100, 0, 50, variance=variance)  # type: ignore[call-overload]
        assert (result.z, result.p_value, result.difference, result.std_error) == (
            0.0,
            1.0,
            0.0,
            0.0,
        )
    full = two_proportion_ztest(100, 100, 50, 50)
    assert (full.z, full.p_value) == (0.0, 1.0)


def test_unpooled_zero_spread_with_different_rates_is_infinite() -> None:
    """0/10 against 10/10 with unpooled variance gives z = inf and p = 0."""
    result = two_proportion_ztest(0, 10, 10, 10, variance="unpooled")
    assert result.z == math.inf
    assert result.p_value == 0.0
    assert (
        two_proportion_ztest(0, 10, 10, 10, variance="unpooled", alternative="smaller").p_value
        == 1.0
    )
    vec = two_proportion_ztest([0, 10, 3], 10, [10, 0, 3], 10, variance="unpooled")
    assert vec.z[0] == math.inf
    assert vec.z[1] == -math.inf
    assert vec.z[2] == 0.0
    assert not np.isnan(vec.p_value).any()


def test_wilson_extremes_are_exact() -> None:
    """Wilson's lower limit is exactly 0 at k = 0, the upper exactly 1 at k = n, and n = 0 gives [0, 1]."""
    assert wilson_interval(0, 10).lower == 0.0
    assert wilson_interval(10, 10).upper == 1.0
    empty = wilson_interval(0, 0)
    assert (empty.estimate, empty.lower, empty.upper) == (0.0, 0.0, 1.0)
    arr = wilson_interval([0, 0, 5], [0, 10, 5])
    assert arr.lower.tolist()[:2] == [0.0, 0.0]
    assert arr.upper.tolist()[0] == 1.0
    assert arr.upper.tolist()[2] == 1.0


def test_wilson_is_accurate_for_rare_events_in_huge_samples() -> None:
    """k = 1 in n = 10**9 keeps full relative precision (no cancellation)."""
    interval = wilson_interval(1, 10**9)
    lo, hi = proportion_confint(1, 10**9, method="wilson")
    assert interval.lower > 0
    assert interval.lower == pytest.approx(float(lo), rel=1e-6)
    assert interval.upper == pytest.approx(float(hi), rel=1e-9)


def test_lift_with_zero_control_is_unbounded_not_nan() -> None:
    """A control with no successes gives an infinite lift estimate and an unbounded interval."""
    for method in ("delta", "fieller", "log_ratio"):
        result = relative_lift_interval(0, 100, 5, 100, method=method)  # type: ignore[call-overload]
        assert result.estimate == math.inf
        assert (result.lower, result.upper, result.bounded) == (-1.0, math.inf, False)
        both_zero = relative_lift_interval(0, 100, 0, 100, method=method)  # type: ignore[call-overload]
        assert both_zero.estimate == 0.0
        assert not both_zero.bounded


def test_log_ratio_with_zero_treatment_is_unbounded_above() -> None:
    """The log-ratio interval cannot use a zero treatment count: [-1, inf), unbounded."""
    result = relative_lift_interval(10, 100, 0, 100, method="log_ratio")
    assert result.estimate == -1.0
    assert (result.lower, result.upper, result.bounded) == (-1.0, math.inf, False)


def test_fieller_reports_unbounded_when_control_is_noisy() -> None:
    """1/10 in the control is not significantly above 0, so Fieller is unbounded."""
    result = relative_lift_interval(1, 10, 3, 10, method="fieller")
    assert not result.bounded
    assert result.upper == math.inf
    vec = relative_lift_interval([1, 100], 10**3, [3, 130], 10**3, method="fieller")
    assert vec.bounded.tolist() == [False, True]  # type: ignore[union-attr]


@given(two_samples(max_n=30, min_n=1))
@settings(max_examples=300, deadline=None)
def test_small_and_degenerate_samples_never_give_nan(sample: tuple[int, int, int, int]) -> None:
    """Every function on tiny samples (zeros, all successes) returns numbers, never NaN."""
    ka, na, kb, nb = sample
    values: list[float] = []
    for variance in ("pooled", "unpooled"):
        r = two_proportion_ztest(ka, na, kb, nb, variance=variance)  # type: ignore[call-overload]
        values += [r.z, r.p_value, r.difference, r.std_error]
    d = difference_interval(ka, na, kb, nb)
    values += [d.lower, d.upper, d.estimate]
    for method in ("delta", "fieller", "log_ratio"):
        lift = relative_lift_interval(ka, na, kb, nb, method=method)  # type: ignore[call-overload]
        values += [lift.lower, lift.upper, lift.estimate]
    assert not any(math.isnan(v) for v in values)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ((-1, 10, 1, 10), "successes_a"),
        ((1, 10, 11, 10), "successes_b"),
        ((1, 0, 1, 10), "n_a"),
        ((1.5, 10, 1, 10), "successes_a"),
        ((1, float("nan"), 1, 10), "n_a"),
        ((1, 10, 1, float("inf")), "n_b"),
        ((True, 10, 1, 10), "successes_a"),
        (("3", 10, 1, 10), "successes_a"),
        ((1, 10, 1, 2**60), "n_b"),
    ],
)
def test_bad_scalar_counts_name_the_argument(args: tuple[object, ...], path: str) -> None:
    """Bad counts raise ValidationError whose problem path names the argument."""
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest(*args)  # type: ignore[call-overload]
    assert path in [p.path for p in info.value.problems]


def test_bad_array_element_is_located_by_index() -> None:
    """A bad element of an array is reported with its index."""
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest([1, 2, -3], 10, 1, 10)
    assert info.value.problems[0].path == "successes_a[2]"
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest([1, 2, 30], [10, 10, 10], 1, 10)
    assert info.value.problems[0].path == "successes_a[2]"
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest([1.0, np.nan], 10, 1, 10)
    assert info.value.problems[0].code == "not_finite"


def test_several_problems_are_reported_together() -> None:
    """All bad arguments appear in one error."""
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest(-1, 1.5, "x", 10)
    assert {p.path for p in info.value.problems} == {"successes_a", "n_a", "successes_b"}


def test_shapes_that_do_not_broadcast_are_rejected() -> None:
    """Mismatched array shapes give a ValidationError, not a numpy error."""
    with pytest.raises(ValidationError, match="broadcast"):
        two_proportion_ztest([1, 2], 10, [1, 2, 3], 10)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [({"variance": "pool"}, "variance"), ({"alternative": "less"}, "alternative")],
)
def test_unknown_options_are_rejected(kwargs: dict[str, str], path: str) -> None:
    """Unknown option strings raise ValidationError naming the option."""
    with pytest.raises(ValidationError) as info:
        two_proportion_ztest(1, 10, 1, 10, **kwargs)  # type: ignore[call-overload]
    assert info.value.problems[0].path == path


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan")])
def test_confidence_outside_the_unit_interval_is_rejected(confidence: float) -> None:
    """A confidence level outside (0, 1) raises ValidationError naming 'confidence'."""
    with pytest.raises(ValidationError) as info:
        wilson_interval(1, 10, confidence)
    assert info.value.problems[0].path == "confidence"
    with pytest.raises(ValidationError):
        relative_lift_interval(1, 10, 2, 10, confidence=confidence, method="fieller")
