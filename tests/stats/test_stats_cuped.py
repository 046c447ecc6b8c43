"""CUPED (issue 20): variance reduction with a pre-period covariate per fan.

Oracles: scipy's Welch t-test on the explicitly adjusted per-fan values with
numpy's covariance, and the theoretical reduction rho² on bivariate normals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from campaign_core.errors import ValidationError
from campaign_core.stats import cuped_ttest


def _sample(rng: np.random.Generator, n: int, rho: float, effect: float = 0.0) -> tuple:
    x = rng.normal(10.0, 2.0, n)
    y = 5.0 + rho * (x - 10.0) + math.sqrt(1 - rho * rho) * 2.0 * rng.normal(size=n) + effect
    return y, x


@settings(max_examples=100, deadline=None)
@given(st.integers(3, 300), st.integers(3, 300), st.floats(-0.95, 0.95), st.integers(0, 2**32 - 1))
def test_matches_scipy_welch_on_adjusted_values(na: int, nb: int, rho: float, seed: int) -> None:
    """The CUPED test is Welch's test on y - theta (x - mean x), theta pooled by numpy."""
    rng = np.random.default_rng(seed)
    ya, xa = _sample(rng, na, rho)
    yb, xb = _sample(rng, nb, rho, effect=0.3)
    ours = cuped_ttest(ya, xa, yb, xb)
    x, y = np.r_[xa, xb], np.r_[ya, yb]
    theta = np.cov(x, y)[0, 1] / np.var(x, ddof=1)
    adj_a, adj_b = ya - theta * (xa - x.mean()), yb - theta * (xb - x.mean())
    reference = sps.ttest_ind(adj_b, adj_a, equal_var=False)
    raw = sps.ttest_ind(yb, ya, equal_var=False)
    assert ours.theta == pytest.approx(theta, rel=1e-9, abs=1e-12)
    assert ours.difference == pytest.approx(adj_b.mean() - adj_a.mean(), rel=1e-9, abs=1e-12)
    assert ours.t == pytest.approx(float(reference.statistic), rel=1e-8)
    assert ours.p_value == pytest.approx(float(reference.pvalue), rel=1e-7, abs=1e-300)
    assert ours.df == pytest.approx(float(reference.df), rel=1e-8)
    assert ours.unadjusted_difference / ours.unadjusted_std_error == pytest.approx(
        float(raw.statistic), rel=1e-8
    )


def test_the_variance_reduction_is_rho_squared() -> None:
    """With correlation 0.6 the adjustment removes 36 % of the variance (Monte Carlo bound)."""
    rng = np.random.default_rng(5)
    ya, xa = _sample(rng, 200_000, 0.6)
    yb, xb = _sample(rng, 200_000, 0.6)
    result = cuped_ttest(ya, xa, yb, xb)
    assert result.variance_reduction == pytest.approx(0.36, abs=0.01)
    assert result.std_error < result.unadjusted_std_error


def test_a_a_false_positives_stay_at_alpha() -> None:
    """A/A tests with a strongly correlated covariate: 5 % false winners, within 4 MC errors."""
    rng = np.random.default_rng(9)
    reps, n = 2000, 200
    hits = 0
    for _ in range(reps):
        ya, xa = _sample(rng, n, 0.8)
        yb, xb = _sample(rng, n, 0.8)
        hits += cuped_ttest(ya, xa, yb, xb).p_value < 0.05
    assert abs(hits / reps - 0.05) <= 4.0 * math.sqrt(0.05 * 0.95 / reps)


def test_edges_and_bad_input() -> None:
    """A constant covariate changes nothing (theta 0); bad shapes and values name the argument."""
    y = np.array([1.0, 2.0, 3.0, 4.0])
    same = cuped_ttest(y, np.ones(4), y + 1, np.ones(4))
    assert (same.theta, same.variance_reduction) == (0.0, 0.0)
    zero = cuped_ttest(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3))
    assert (zero.t, zero.p_value) == (0.0, 1.0)
    for args, path in [
        ((y, y[:3], y, y), "covariate_a"),
        ((y[:1], y[:1], y, y), "metric_a"),
        ((y, y, y, np.array([1.0, np.nan, 1.0, 1.0])), "covariate_b[1]"),
        ((y, y, np.ones((2, 2)), np.ones((2, 2))), "metric_b"),
    ]:
        with pytest.raises(ValidationError) as info:
            cuped_ttest(*args)
        assert info.value.problems[0].path == path
