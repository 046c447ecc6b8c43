"""The always-valid mSPRT: p-values and confidence sequences that survive peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stats_strategies import two_samples

from campaign_core.errors import ValidationError
from campaign_core.stats import msprt_from_moments, msprt_sequence, msprt_test, two_proportion_ztest

SETTINGS = settings(max_examples=200, deadline=None)


def simulate_looks(
    rng: np.random.Generator, experiments: int, looks: int, batch: int, pa: float, pb: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative successes per arm at each look, shape (experiments, looks), and the trials."""
    ka = rng.binomial(batch, pa, size=(experiments, looks)).cumsum(axis=1)
    kb = rng.binomial(batch, pb, size=(experiments, looks)).cumsum(axis=1)
    n = np.arange(1, looks + 1) * batch
    return ka, kb, n


def test_peeking_keeps_the_msprt_below_alpha_but_not_the_z_test() -> None:
    """Under H0 with 50 looks, the mSPRT's ever-reject rate stays <= 5 %; the naive z-test's does not."""
    rng = np.random.default_rng(12345)
    ka, kb, n = simulate_looks(rng, experiments=3000, looks=50, batch=200, pa=0.1, pb=0.1)
    naive = two_proportion_ztest(ka, n, kb, n).p_value
    always = msprt_test(ka, n, kb, n, tau=0.01).p_value
    naive_rate = np.mean((naive < 0.05).any(axis=1))
    always_rate = np.mean((always <= 0.05).any(axis=1))
    assert naive_rate > 0.15  # peeking inflates the fixed-horizon test's 5 % severalfold
    assert always_rate <= 0.05


def test_confidence_sequence_covers_the_truth_at_every_look() -> None:
    """The sequence contains the true difference at all 50 looks in at least 95 % of runs."""
    rng = np.random.default_rng(99)
    ka, kb, n = simulate_looks(rng, experiments=3000, looks=50, batch=200, pa=0.10, pb=0.12)
    result = msprt_sequence(ka, n, kb, n, tau=0.02)
    covered = (result.lower <= 0.02) & (result.upper >= 0.02)
    assert np.mean(covered.all(axis=1)) >= 0.95


def test_a_real_effect_is_detected() -> None:
    """A +3 point difference at 20,000 per arm gives a tiny always-valid p-value."""
    result = msprt_test(2000, 20_000, 2600, 20_000, tau=0.02)
    assert result.p_value < 1e-6
    assert result.lower > 0


@SETTINGS
@given(
    two_samples(max_n=100_000, min_n=2),
    st.sampled_from([0.005, 0.02, 0.1]),
    st.sampled_from([0.9, 0.95]),
)
def test_p_value_and_sequence_agree(
    sample: tuple[int, int, int, int], tau: float, confidence: float
) -> None:
    """p <= alpha exactly when 0 lies outside the confidence sequence."""
    result = msprt_test(*sample, tau=tau, confidence=confidence)
    alpha = 1 - confidence
    assume(abs(result.p_value - alpha) > 1e-9 and result.std_error > 0)
    assume(abs(result.lower) > 1e-12 and abs(result.upper) > 1e-12)
    outside = result.lower > 0 or result.upper < 0
    assert (result.p_value <= alpha) == outside
    assert -1.0 <= result.lower <= result.difference <= result.upper <= 1.0


@SETTINGS
@given(two_samples(max_n=100_000))
def test_swap_mirrors_the_sequence(sample: tuple[int, int, int, int]) -> None:
    """Swapping A and B keeps the p-value and mirrors the interval."""
    ka, na, kb, nb = sample
    ab = msprt_test(ka, na, kb, nb, tau=0.01)
    ba = msprt_test(kb, nb, ka, na, tau=0.01)
    assert ab.p_value == pytest.approx(ba.p_value, rel=1e-12, abs=1e-300)
    assert ab.lower == pytest.approx(-ba.upper, abs=1e-12)


def test_sequence_is_monotone_and_matches_running_extremes() -> None:
    """msprt_sequence gives the running minimum p and the running intersection of intervals."""
    rng = np.random.default_rng(4)
    ka, kb, n = simulate_looks(rng, experiments=1, looks=30, batch=500, pa=0.1, pb=0.115)
    looks = msprt_test(ka[0], n, kb[0], n, tau=0.015)
    seq = msprt_sequence(ka[0], n, kb[0], n, tau=0.015)
    assert (np.diff(seq.p_value) <= 0).all()
    assert (np.diff(seq.lower) >= 0).all()
    assert (np.diff(seq.upper) <= 0).all()
    np.testing.assert_array_equal(seq.p_value, np.minimum.accumulate(looks.p_value))


def test_vectorized_equals_scalar() -> None:
    """Array inputs give the scalar results element by element."""
    vec = msprt_test([100, 120, 0], 1000, [130, 120, 0], 1000, tau=0.01)
    for i, (ka, kb) in enumerate([(100, 130), (120, 120), (0, 0)]):
        one = msprt_test(ka, 1000, kb, 1000, tau=0.01)
        assert vec.p_value[i] == pytest.approx(one.p_value, rel=1e-14)
        assert vec.lower[i] == pytest.approx(one.lower, rel=1e-14)


def test_zero_variance_carries_no_information() -> None:
    """All-zero (or all-one) data give p = 1 and the trivial sequence [-1, 1], never NaN."""
    for ka, kb in ((0, 0), (50, 50)):
        result = msprt_test(ka, 50, kb, 50, tau=0.01)
        assert (result.p_value, result.lower, result.upper, result.log_likelihood_ratio) == (
            1.0,
            -1.0,
            1.0,
            0.0,
        )
    assert not math.isnan(msprt_test(0, 10, 10, 10, tau=0.1).p_value)


@pytest.mark.parametrize("tau", [0, -0.1, float("nan"), float("inf"), "0.1"])
def test_bad_tau_is_rejected(tau: object) -> None:
    """tau must be a positive finite number."""
    with pytest.raises(ValidationError) as info:
        msprt_test(1, 10, 2, 10, tau=tau)  # type: ignore[arg-type]
    assert info.value.problems[0].path == "tau"


def test_sequence_rejects_decreasing_trials_and_scalars() -> None:
    """Cumulative trials must not decrease; a single look is not a sequence."""
    with pytest.raises(ValidationError) as info:
        msprt_sequence([1, 2, 3], [10, 20, 15], [1, 2, 3], [10, 20, 30], tau=0.1)
    assert info.value.problems[0].path == "n_a[2]"
    with pytest.raises(ValidationError):
        msprt_sequence(1, 10, 2, 10, tau=0.1)


def test_moments_form_matches_the_proportion_form() -> None:
    """msprt_from_moments with the proportions' difference and variance gives msprt_test's answer."""
    pa, pb = 100 / 1000, 130 / 1000
    var = pa * (1 - pa) / 1000 + pb * (1 - pb) / 1000
    p, llr, lower, upper = msprt_from_moments(pb - pa, var, tau=0.02, bounds=(-1.0, 1.0))
    ref = msprt_test(100, 1000, 130, 1000, tau=0.02)
    assert float(p) == pytest.approx(ref.p_value, rel=1e-14)
    assert float(llr) == pytest.approx(ref.log_likelihood_ratio, rel=1e-14)
    assert (float(lower), float(upper)) == pytest.approx((ref.lower, ref.upper), rel=1e-14)
    with pytest.raises(ValidationError) as info:
        msprt_from_moments(0.1, -1.0, tau=0.1)
    assert info.value.problems[0].path == "variance"
    with pytest.raises(ValidationError) as info:
        msprt_from_moments([0.1, float("nan")], 1.0, tau=0.1)
    assert info.value.problems[0].path == "difference[1]"
