"""Lan-DeMets alpha spending for planned looks (issue 20).

Oracles: the published boundaries (Lan-DeMets O'Brien-Fleming and Pocock type,
two-sided alpha 0.05, as gsDesign and ldbounds give them), scipy's normal
quantile for a single look, and Monte Carlo on Brownian motion (numpy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from campaign_core.errors import ValidationError
from campaign_core.stats import alpha_spending_bounds, two_proportion_ztest

PUBLISHED = [
    # (looks, spending, boundaries)
    ([0.2, 0.4, 0.6, 0.8, 1.0], "obrien_fleming", [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
    ([0.25, 0.5, 0.75, 1.0], "obrien_fleming", [4.3326, 2.9631, 2.3590, 2.0141]),
    ([0.2, 0.4, 0.6, 0.8, 1.0], "pocock", [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]),
]


@pytest.mark.parametrize(("looks", "spending", "published"), PUBLISHED)
def test_published_boundaries(looks: list[float], spending: str, published: list[float]) -> None:
    """The tabulated two-sided boundaries at alpha 0.05, to their 4 decimals."""
    bounds = alpha_spending_bounds(looks, spending=spending)  # type: ignore[arg-type]
    assert bounds.z_bounds == pytest.approx(published, abs=2e-4)
    assert bounds.cumulative_alpha[-1] == pytest.approx(0.05, abs=1e-12)
    assert bounds.nominal_p == pytest.approx([2 * sps.norm.sf(c) for c in bounds.z_bounds])


def test_one_look_is_the_fixed_sample_test() -> None:
    """A single look at t = 1 spends all of alpha: the usual 1.96."""
    assert alpha_spending_bounds([1.0]).z_bounds[0] == pytest.approx(sps.norm.ppf(0.975), abs=1e-9)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_crossing_probabilities_are_the_spent_alpha(spending: str) -> None:
    """Brownian motion under the null crosses each look's boundary first with the alpha spent
    there (unequal looks; 200,000 paths, 4 Monte Carlo standard errors)."""
    looks = [0.1, 0.3, 0.65, 1.0]
    bounds = alpha_spending_bounds(looks, spending=spending)  # type: ignore[arg-type]
    rng = np.random.default_rng(17)
    paths = 200_000
    steps = rng.normal(size=(paths, len(looks))) * np.sqrt(np.diff([0.0, *looks]))
    z = np.cumsum(steps, axis=1) / np.sqrt(looks)
    crossed = np.abs(z) >= np.array(bounds.z_bounds)
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    spent = np.diff([0.0, *bounds.cumulative_alpha])
    for k, expected in enumerate(spent):
        observed = float(np.mean(first == k))
        assert abs(observed - expected) <= 4.0 * math.sqrt(expected * (1 - expected) / paths)


def test_a_a_tests_with_planned_looks_stay_within_alpha() -> None:
    """Two-proportion A/A tests read at 5 planned looks with the O'Brien-Fleming bounds."""
    bounds = alpha_spending_bounds([0.2, 0.4, 0.6, 0.8, 1.0])
    rng = np.random.default_rng(23)
    reps, per_look, rate = 4000, 2000, 0.05
    ka = rng.binomial(per_look, rate, (reps, 5)).cumsum(axis=1)
    kb = rng.binomial(per_look, rate, (reps, 5)).cumsum(axis=1)
    n = per_look * np.arange(1, 6)
    z = two_proportion_ztest(ka, n, kb, n).z
    false = float((np.abs(z) >= np.array(bounds.z_bounds)).any(axis=1).mean())
    naive = float((np.abs(z) >= 1.959964).any(axis=1).mean())
    bound = 4.0 * math.sqrt(0.05 * 0.95 / reps)
    assert abs(false - 0.05) <= bound
    assert naive > 0.05 + bound  # peeking at 1.96 five times


def test_partial_information_and_bad_input() -> None:
    """A last look before t = 1 spends less than alpha; bad looks name their index."""
    partial = alpha_spending_bounds([0.5, 0.8], spending="pocock")
    assert partial.cumulative_alpha[-1] < 0.05
    for looks, path in [
        ([], "information"),
        ([0.5, 0.4], "information[1]"),
        ([0.0, 1.0], "information[0]"),
        ([0.5, 1.5], "information[1]"),
        ([0.5, float("nan")], "information[1]"),
    ]:
        with pytest.raises(ValidationError) as info:
            alpha_spending_bounds(looks)
        assert info.value.problems[0].path == path
    with pytest.raises(ValidationError) as bad:
        alpha_spending_bounds([1.0], spending="haybittle")  # type: ignore[arg-type]
    assert bad.value.problems[0].path == "spending"
