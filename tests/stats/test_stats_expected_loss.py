"""Expected loss (risk) of each choice under beta-binomial posteriors, against scipy quadrature."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from scipy import integrate, stats
from stats_strategies import two_samples

from campaign_core.errors import ValidationError
from campaign_core.stats import expected_loss, prob_beat_control


def _oracle(ka: int, na: int, kb: int, nb: int) -> float:
    """E[max(p_B - p_A, 0)] as a one-dimensional integral over A's posterior (scipy.quad)."""
    a1, b1, a2, b2 = 1 + ka, 1 + na - ka, 1 + kb, 1 + nb - kb
    post_a, post_b, biased_b = stats.beta(a1, b1), stats.beta(a2, b2), stats.beta(a2 + 1, b2)
    mean_b = a2 / (a2 + b2)

    # E[max(B - x, 0)] = E[B] P(B' > x) - x P(B > x), B' the size-biased Beta(a2 + 1, b2).
    def integrand(x: float) -> float:
        return float(post_a.pdf(x) * (mean_b * biased_b.sf(x) - x * post_b.sf(x)))

    low, high = post_a.ppf(1e-14), post_a.isf(1e-14)
    value, _ = integrate.quad(
        integrand, low, high, epsabs=1e-14, epsrel=1e-10, limit=500, points=[post_a.mean()]
    )
    return float(value)


@pytest.mark.parametrize(
    "sample",
    [
        (0, 0, 0, 0),
        (1, 1, 0, 1),
        (10, 100, 15, 100),
        (0, 100, 0, 100),
        (100, 100, 100, 100),
        (30, 1000, 20, 1000),
        (500, 10_000, 560, 10_000),
        (1560, 53_211, 1872, 53_211),
    ],
)
def test_both_risks_match_the_integral(sample: tuple[int, int, int, int]) -> None:
    """Each risk equals scipy's quadrature of its definition to 1e-12."""
    ka, na, kb, nb = sample
    loss = expected_loss(ka, na, kb, nb)
    assert loss.loss_control == pytest.approx(_oracle(ka, na, kb, nb), abs=1e-12)
    assert loss.loss_treatment == pytest.approx(_oracle(kb, nb, ka, na), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(two_samples(max_n=10**9, min_n=0))
def test_risks_are_consistent_at_every_size(sample: tuple[int, int, int, int]) -> None:
    """Risks are non-negative, differ by the difference of means, and swap with the groups."""
    ka, na, kb, nb = sample
    loss = expected_loss(ka, na, kb, nb)
    swapped = expected_loss(kb, nb, ka, na)
    scale = max(loss.mean_control, loss.mean_treatment)
    assert loss.loss_control >= 0.0
    assert loss.loss_treatment >= 0.0
    assert loss.loss_control - loss.loss_treatment == pytest.approx(
        loss.mean_treatment - loss.mean_control, abs=1e-9 * scale + 1e-15
    )
    assert swapped.loss_control == pytest.approx(loss.loss_treatment, abs=1e-9 * scale + 1e-15)
    assert loss.prob_beat_control == prob_beat_control(ka, na, kb, nb)


def test_at_a_billion_trials_the_risk_is_the_normal_one() -> None:
    """At n = 1e9 the posteriors are normal: E[max(D, 0)] = s phi(m/s) + m Phi(m/s)."""
    ka, na, kb, nb = 10_000_000, 10**9, 10_001_000, 10**9
    loss = expected_loss(ka, na, kb, nb)
    pa, pb = (ka + 1) / (na + 2), (kb + 1) / (nb + 2)
    m = pb - pa
    s = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    normal = s * stats.norm.pdf(m / s) + m * stats.norm.cdf(m / s)
    assert loss.loss_control == pytest.approx(normal, rel=1e-3)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ((5, 4, 1, 10), "successes_a"),
        ((1, 10, -1, 10), "successes_b"),
        ((1, 10.5, 1, 10), "n_a"),
        ((1, 10, float("nan"), 10), "successes_b"),
        ((1, 10, 1, "10"), "n_b"),
    ],
)
def test_bad_counts_name_the_argument(args: tuple[object, ...], path: str) -> None:
    """Counts that cannot be raise a ValidationError at the argument's name."""
    with pytest.raises(ValidationError) as info:
        expected_loss(*args)
    assert path in [problem.path for problem in info.value.problems]


def test_json_form() -> None:
    """to_dict gives camelCase keys."""
    assert set(expected_loss(1, 10, 2, 10).to_dict()) == {
        "lossControl",
        "lossTreatment",
        "probBeatControl",
        "meanControl",
        "meanTreatment",
    }
