"""Welch's t-test from sufficient statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from campaign_core.errors import ValidationError
from campaign_core.stats import welch_ttest_from_stats

SETTINGS = settings(max_examples=200, deadline=None)

# Integer cents keep the sums exact, so only the test's own arithmetic differs.
samples = st.lists(st.integers(0, 50_000), min_size=2, max_size=60)


def sums(values: list[int]) -> tuple[int, float, float]:
    arr = np.array(values, dtype=np.float64)
    return len(values), float(arr.sum()), float((arr * arr).sum())


@SETTINGS
@given(samples, samples, st.sampled_from(["two-sided", "larger", "smaller"]))
def test_welch_matches_scipy(a: list[int], b: list[int], alternative: str) -> None:
    """The test equals scipy's ttest_ind_from_stats(equal_var=False) with B first."""
    assume(np.var(a) > 0 or np.var(b) > 0)
    ours = welch_ttest_from_stats(*sums(a), *sums(b), alternative=alternative)  # type: ignore[arg-type]
    ref = sps.ttest_ind_from_stats(
        np.mean(b),
        np.std(b, ddof=1),
        len(b),
        np.mean(a),
        np.std(a, ddof=1),
        len(a),
        equal_var=False,
        alternative={"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative],
    )
    assert ours.t == pytest.approx(float(ref.statistic), rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-8, abs=1e-300)
    assert ours.difference == pytest.approx(np.mean(b) - np.mean(a), rel=1e-12, abs=1e-12)


@SETTINGS
@given(samples, samples)
def test_welch_swap_flips_the_sign(a: list[int], b: list[int]) -> None:
    """Swapping the groups negates t and keeps the two-sided p-value."""
    ab = welch_ttest_from_stats(*sums(a), *sums(b))
    ba = welch_ttest_from_stats(*sums(b), *sums(a))
    assert ab.t == -ba.t
    assert ab.p_value == pytest.approx(ba.p_value, rel=1e-14)


def test_revenue_per_impression_with_many_zeros() -> None:
    """Sparse revenue (most impressions earn 0) works from the three running sums."""
    rng = np.random.default_rng(5)
    a = np.where(rng.random(20_000) < 0.03, rng.gamma(2.0, 10.0, 20_000), 0.0)
    b = np.where(rng.random(20_000) < 0.036, rng.gamma(2.0, 10.0, 20_000), 0.0)
    ours = welch_ttest_from_stats(a.size, a.sum(), (a * a).sum(), b.size, b.sum(), (b * b).sum())
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert ours.t == pytest.approx(float(ref.statistic), rel=1e-9)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-7)


def test_zero_variance_edge_cases() -> None:
    """Constant equal groups give t = 0, p = 1; constant different groups give t = inf, p = 0."""
    same = welch_ttest_from_stats(10, 50.0, 250.0, 10, 50.0, 250.0)
    assert (same.t, same.p_value, same.df) == (0.0, 1.0, 18.0)
    apart = welch_ttest_from_stats(10, 50.0, 250.0, 10, 60.0, 360.0)
    assert apart.t == math.inf
    assert apart.p_value == 0.0


def test_vectorized_equals_scalar() -> None:
    """Arrays of sums give the scalar results element by element."""
    n = np.array([100, 200, 50])
    s = np.array([30.0, 80.0, 10.0])
    q = np.array([50.0, 120.0, 9.0])
    vec = welch_ttest_from_stats(n, s, q, 150, 60.0, 100.0)
    for i in range(3):
        one = welch_ttest_from_stats(int(n[i]), float(s[i]), float(q[i]), 150, 60.0, 100.0)
        assert vec.t[i] == pytest.approx(one.t, rel=1e-14)
        assert vec.p_value[i] == pytest.approx(one.p_value, rel=1e-14)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ((1, 5.0, 25.0, 10, 5.0, 25.0), "n_a"),
        ((10, 5.0, -1.0, 10, 5.0, 25.0), "sum_sq_a"),
        ((10, 50.0, 10.0, 10, 5.0, 25.0), "sum_sq_a"),
        ((10, float("inf"), 10.0, 10, 5.0, 25.0), "sum_a"),
        ((10, 5.0, 25.0, 10.5, 5.0, 25.0), "n_b"),
    ],
)
def test_impossible_sums_are_rejected(args: tuple[float, ...], path: str) -> None:
    """Too few observations, negative or impossible sums of squares raise ValidationError."""
    with pytest.raises(ValidationError) as info:
        welch_ttest_from_stats(*args)  # type: ignore[call-overload]
    assert path in [p.path for p in info.value.problems]
