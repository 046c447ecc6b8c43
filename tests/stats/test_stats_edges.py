"""Numerical edges (issue 20): zero, all, n = 1 and n = 1e9, against high-precision oracles.

The defects these caught: the Fieller lift interval at ``999,999,999`` of ``1e9``
came out as ``[0, 0]`` (``1 - rate`` and ``b² - ac`` cancelled), the lift
estimate there lost 8 digits (``ratio - 1``), and ``prob_beat_control`` for
equal counts gave ``0.4999999989`` (a quadrature where a two-term exact sum exists).
Oracles: mpmath at 50 digits on the defining formulas, statsmodels and scipy.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from campaign_core.stats import (
    prob_beat_control,
    relative_lift_interval,
    two_proportion_ztest,
    wilson_interval,
)

mpmath = pytest.importorskip("mpmath")

SETTINGS = settings(max_examples=200, deadline=None)
SIZES = [1, 2, 3, 1000, 10**6, 10**9]


@st.composite
def edge_sample(draw: st.DrawFn) -> tuple[int, int]:
    """(successes, trials) at the edges: 0, 1, half, all but one, all; n from 1 to 1e9."""
    n = draw(st.sampled_from(SIZES))
    k = draw(
        st.one_of(
            st.sampled_from([0, 1, n // 2, n - 1, n]).filter(lambda k: 0 <= k <= n),
            st.integers(0, n),
        )
    )
    return k, n


def _mp(k: int, n: int) -> tuple[object, object]:
    rate = mpmath.mpf(k) / n
    return rate, rate * (1 - rate) / n


def _lift_oracle(ka: int, na: int, kb: int, nb: int, method: str) -> tuple[float, float, float]:
    """The lift interval's limits by its defining formula, at 50 digits."""
    mpmath.mp.dps = 50
    z = mpmath.mpf(float(sps.norm.ppf(0.975)))
    pa, va = _mp(ka, na)
    pb, vb = _mp(kb, nb)
    estimate = pb / pa - 1
    if method == "fieller":
        a, b, c = pa * pa - z * z * va, pa * pb, pb * pb - z * z * vb
        root = mpmath.sqrt(max(b * b - a * c, 0))
        return float(estimate), float((b - root) / a - 1), float((b + root) / a - 1)
    if method == "delta":
        se = mpmath.sqrt(vb / pa**2 + pb**2 * va / pa**4)
        return float(estimate), float(estimate - z * se), float(estimate + z * se)
    sd = mpmath.sqrt(
        mpmath.mpf(1) / kb - mpmath.mpf(1) / nb + mpmath.mpf(1) / ka - mpmath.mpf(1) / na
    )
    log_ratio = mpmath.log(pb / pa)
    return (
        float(estimate),
        float(mpmath.exp(log_ratio - z * sd) - 1),
        float(mpmath.exp(log_ratio + z * sd) - 1),
    )


def test_the_issues_fieller_interval_at_a_billion() -> None:
    """999,999,999 of 1e9 in both groups: a real interval, not [0, 0]."""
    n = 10**9
    ours = relative_lift_interval(n - 1, n, n - 1, n, method="fieller")
    _, lower, upper = _lift_oracle(n - 1, n, n - 1, n, "fieller")
    assert ours.lower == pytest.approx(lower, rel=1e-9)
    assert ours.upper == pytest.approx(upper, rel=1e-9)
    assert ours.lower < 0.0 < ours.upper
    one_more = relative_lift_interval(n - 2, n, n - 1, n)
    assert one_more.estimate == pytest.approx(1 / (n - 2), rel=1e-12)


@SETTINGS
@given(edge_sample(), edge_sample(), st.sampled_from(["delta", "fieller", "log_ratio"]))
def test_lift_intervals_at_the_edges_match_the_formula_to_many_digits(
    a: tuple[int, int], b: tuple[int, int], method: str
) -> None:
    """Each bounded lift interval's limits agree with the 50-digit formula to 1e-8 relative."""
    ka, na = a
    kb, nb = b
    assume(ka > 0)
    ours = relative_lift_interval(ka, na, kb, nb, method=method)  # type: ignore[arg-type]
    for value in (ours.estimate, ours.lower, ours.upper):
        assert not math.isnan(value)
    if not ours.bounded:
        return
    estimate, lower, upper = _lift_oracle(ka, na, kb, nb, method)
    # exact for equal sizes; otherwise within the rounding of the two rates themselves
    rounding = 0.0 if na == nb else 1e-15 * (1.0 + (kb / nb) / (ka / na))
    assert ours.estimate == pytest.approx(estimate, rel=1e-12, abs=rounding)
    # limits: 1e-8 relative, or the rates' rounding where the limit itself is ~0
    scale = max(rounding, 1e-15 * (abs(estimate) + 1.0))
    assert ours.lower == pytest.approx(lower, rel=1e-8, abs=scale)
    assert ours.upper == pytest.approx(upper, rel=1e-8, abs=scale)


def _beat_oracle(ka: int, na: int, kb: int, nb: int) -> float:
    """Evan Miller's sum at 50 digits over whichever posterior parameter is smallest."""
    mpmath.mp.dps = 50
    a1, b1, a2, b2 = ka + 1, na - ka + 1, kb + 1, nb - kb + 1

    def h(aa: int, ba: int, ab: int, bb: int) -> object:
        return mpmath.fsum(
            mpmath.beta(aa + i, ba + bb) / ((bb + i) * mpmath.beta(1 + i, bb) * mpmath.beta(aa, ba))
            for i in range(ab)
        )

    plans = [
        (a2, lambda: h(a1, b1, a2, b2)),
        (b1, lambda: h(b2, a2, b1, a1)),
        (a1, lambda: 1 - h(a2, b2, a1, b1)),
        (b2, lambda: 1 - h(b1, a1, b2, a2)),
    ]
    return float(min(plans, key=lambda p: p[0])[1]())


@SETTINGS
@given(edge_sample(), st.integers(0, 3), st.integers(0, 3))
def test_prob_beat_control_at_the_edges_matches_the_exact_sum(
    a: tuple[int, int], more_successes: int, fewer_failures: int
) -> None:
    """Near 0 or all successes (a short exact sum exists), to 1e-10 against 50 digits."""
    ka, na = a
    assume(min(ka, na - ka) <= 40)
    kb = min(na, ka + more_successes)
    nb = na - fewer_failures if na - fewer_failures >= kb else na
    ours = prob_beat_control(ka, na, kb, nb)
    assert ours == pytest.approx(_beat_oracle(ka, na, kb, nb), abs=1e-10)
    assert ours + prob_beat_control(kb, nb, ka, na) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("where", ["zero", "one", "half", "all_but_one", "all"])
def test_equal_counts_are_a_coin_flip_at_every_size(n: int, where: str) -> None:
    """The issue's 0.4999999989 at 1e9: equal posteriors give one half, to 1e-12."""
    k = {"zero": 0, "one": min(1, n), "half": n // 2, "all_but_one": n - 1, "all": n}[where]
    assert prob_beat_control(k, n, k, n) == pytest.approx(0.5, abs=1e-12 if n < 10**9 else 1e-9)


@SETTINGS
@given(edge_sample(), edge_sample())
def test_pooled_ztest_at_the_edges_matches_statsmodels(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    """Where statsmodels' pooled z is defined (0 < pooled rate < 1), the same z and p."""
    ka, na = a
    kb, nb = b
    assume(0 < ka + kb < na + nb)
    ours = two_proportion_ztest(ka, na, kb, nb)
    z, p = proportions_ztest([kb, ka], [nb, na])
    assert ours.z == pytest.approx(float(z), rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(float(p), rel=1e-8, abs=1e-300)


@SETTINGS
@given(edge_sample())
def test_wilson_at_the_edges_matches_statsmodels(sample: tuple[int, int]) -> None:
    """Wilson limits at 0, all, n = 1 and n = 1e9 are statsmodels' to 1e-9 relative."""
    k, n = sample
    ours = wilson_interval(k, n)
    lower, upper = proportion_confint(k, n, method="wilson")
    assert ours.lower == pytest.approx(float(lower), rel=1e-9, abs=1e-15)
    assert ours.upper == pytest.approx(float(upper), rel=1e-9, abs=1e-15)
