"""Bayesian probability to beat control and to be best (deterministic, no Monte Carlo)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_strategies import two_samples

from campaign_core.errors import ValidationError
from campaign_core.stats import prob_beat_control, prob_best
from campaign_core.stats._bayes import lbeta

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(two_samples(max_n=5000, min_n=0))
def test_exact_sum_and_quadrature_agree(sample: tuple[int, int, int, int]) -> None:
    """Evan Miller's exact sum and the adaptive quadrature agree to 1e-9."""
    exact = prob_beat_control(*sample, method="exact")
    quad = prob_beat_control(*sample, method="quadrature")
    assert exact == pytest.approx(quad, abs=1e-9)
    assert 0.0 <= exact <= 1.0


@SETTINGS
@given(two_samples(max_n=10**6, min_n=0))
def test_swapping_groups_gives_the_complement(sample: tuple[int, int, int, int]) -> None:
    """P(B > A) + P(A > B) = 1."""
    ka, na, kb, nb = sample
    assert prob_beat_control(ka, na, kb, nb) + prob_beat_control(kb, nb, ka, na) == pytest.approx(
        1.0, abs=1e-9
    )


@pytest.mark.parametrize("a", [1, 2, 3, 7, 50])
def test_closed_form_against_a_uniform_control(a: int) -> None:
    """With A ~ Beta(1, 1) and B ~ Beta(a, 1), P(B > A) = a / (a + 1)."""
    # B has a - 1 successes out of a - 1 trials; A has no data.
    assert prob_beat_control(0, 0, a - 1, a - 1) == pytest.approx(a / (a + 1), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**7), st.data(), st.integers(1, 6))
def test_closed_form_at_large_counts(n: int, data: st.DataObject, m: int) -> None:
    """Against B ~ Beta(m, 1), P(B > A) = 1 - E[A^m] = 1 - prod_j (a+j)/(a+b+j), to the documented 1e-10."""
    k = data.draw(st.integers(0, n))
    a, b = k + 1, n - k + 1
    expected = 1.0 - math.prod((a + j) / (a + b + j) for j in range(m))
    assert prob_beat_control(k, n, m - 1, m - 1) == pytest.approx(expected, abs=1e-10)
    assert prob_beat_control(m - 1, m - 1, k, n) == pytest.approx(1.0 - expected, abs=1e-10)


def test_log_beta_is_accurate_for_huge_arguments() -> None:
    """lbeta keeps ~1e-15 relative accuracy where scipy's betaln loses digits (mpmath oracle)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = np.exp(rng.uniform(np.log(0.3), np.log(1e7), size=2))
        expected = float(mpmath.log(mpmath.beta(a, b)))
        assert float(lbeta(a, b)) == pytest.approx(expected, rel=1e-14, abs=1e-13)


def test_identical_groups_are_a_coin_flip() -> None:
    """Equal data gives exactly one half."""
    assert prob_beat_control(30, 1000, 30, 1000) == pytest.approx(0.5, abs=1e-12)
    assert prob_beat_control(3_000, 10**6, 3_000, 10**6, method="quadrature") == pytest.approx(
        0.5, abs=1e-9
    )


@pytest.mark.parametrize(
    "sample",
    [(30, 1000, 45, 1000), (3, 50, 1, 20), (120_000, 10**6, 121_000, 10**6), (0, 10, 2, 10)],
)
def test_matches_a_large_monte_carlo(sample: tuple[int, int, int, int]) -> None:
    """The deterministic answer lies within 4 standard errors of a seeded 400k-draw simulation."""
    ka, na, kb, nb = sample
    rng = np.random.default_rng(2024)
    draws = 400_000
    a = rng.beta(1 + ka, 1 + na - ka, draws)
    b = rng.beta(1 + kb, 1 + nb - kb, draws)
    mc = float(np.mean(b > a))
    se = max(np.sqrt(mc * (1 - mc) / draws), 1e-6)
    assert abs(prob_beat_control(ka, na, kb, nb) - mc) < 4 * se


def test_huge_counts_are_stable() -> None:
    """Counts in the millions: the exact sum and the quadrature agree to 1e-9."""
    sample = (100_000, 2_000_000, 100_900, 2_000_000)
    exact = prob_beat_control(*sample, method="exact")
    quad = prob_beat_control(*sample, method="quadrature")
    auto = prob_beat_control(*sample)
    assert exact == pytest.approx(quad, abs=1e-9)
    assert auto == pytest.approx(exact, abs=1e-9)
    assert 0.9 < exact < 1.0


def test_very_different_widths_are_resolved() -> None:
    """A tiny sample against a huge one (a near-step CDF) still matches the exact sum."""
    sample = (5, 40, 300_000, 10**7)
    assert prob_beat_control(*sample, method="quadrature") == pytest.approx(
        prob_beat_control(*sample, method="exact"), abs=1e-9
    )


def test_non_integer_prior_uses_quadrature() -> None:
    """Jeffreys' prior Beta(0.5, 0.5) has no exact sum; auto integrates, exact refuses."""
    sample = (0, 30, 2, 30)
    value = prob_beat_control(*sample, prior=(0.5, 0.5))
    rng = np.random.default_rng(9)
    a = rng.beta(0.5, 30.5, 400_000)
    b = rng.beta(2.5, 28.5, 400_000)
    assert value == pytest.approx(float(np.mean(b > a)), abs=0.003)
    with pytest.raises(ValidationError):
        prob_beat_control(*sample, prior=(0.5, 0.5), method="exact")


def test_vectorized_equals_scalar() -> None:
    """Array inputs are evaluated element by element."""
    out = prob_beat_control([10, 20], 100, [15, 20], 100)
    assert out.shape == (2,)
    assert out[0] == prob_beat_control(10, 100, 15, 100)
    assert out[1] == pytest.approx(0.5, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 3000)), min_size=2, max_size=5))
def test_prob_best_sums_to_one(raw: list[tuple[int, int]]) -> None:
    """Probabilities to be best are in [0, 1] and sum to 1."""
    variants = [(min(k, n), n) for k, n in raw]
    probs = prob_best(variants)
    assert len(probs) == len(variants)
    assert sum(probs) == pytest.approx(1.0, abs=1e-12)
    assert all(0.0 <= p <= 1.0 for p in probs)


@settings(max_examples=40, deadline=None)
@given(two_samples(max_n=20_000, min_n=0))
def test_prob_best_of_two_is_prob_beat_control(sample: tuple[int, int, int, int]) -> None:
    """With two variants, P(B best) = P(B beats A)."""
    ka, na, kb, nb = sample
    assert prob_best([(ka, na), (kb, nb)])[1] == pytest.approx(
        prob_beat_control(ka, na, kb, nb), abs=1e-9
    )


def test_prob_best_matches_monte_carlo_and_symmetry() -> None:
    """Three variants agree with a seeded simulation; identical variants split evenly."""
    variants = [(100, 1000), (115, 1000), (108, 1000)]
    probs = prob_best(variants)
    rng = np.random.default_rng(1)
    draws = np.column_stack([rng.beta(1 + k, 1 + n - k, 400_000) for k, n in variants])
    mc = np.bincount(draws.argmax(axis=1), minlength=3) / 400_000
    np.testing.assert_allclose(probs, mc, atol=0.004)
    even = prob_best([(50, 500)] * 3)
    np.testing.assert_allclose(even, [1 / 3] * 3, atol=1e-9)


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda: prob_beat_control(1, 10, 11, 10), "successes_b"),
        (lambda: prob_beat_control(1, 10, 1, 10, prior=(0, 1)), "prior[0]"),
        (lambda: prob_beat_control(1, 10, 1, 10, prior=(1,)), "prior"),  # type: ignore[arg-type]
        (lambda: prob_beat_control(1, 10, 1, 10, method="mc"), "method"),  # type: ignore[call-overload]
        (lambda: prob_best([(1, 10)]), "variants"),
        (lambda: prob_best([(1, 10), (5, 3)]), "variants[1][0]"),
        (lambda: prob_best([(1, 10), "ab"]), "variants[1]"),
    ],
)
def test_bad_input_is_rejected(call: object, path: str) -> None:
    """Bad counts, priors, methods or variant lists raise ValidationError naming where."""
    with pytest.raises(ValidationError) as info:
        call()  # type: ignore[operator]
    assert path in [p.path for p in info.value.problems]
