"""Statistics benchmarks: the vectorized and scalar z-tests against their baselines.

* ``ztest_vectorized``: ``two_proportion_ztest`` over 1,000,000 pairs (with its
  input validation) against the bare numpy/scipy formula on the same arrays.
  Goal: ours / bare <= 1.5.
* ``ztest_scalar``: one scalar ``two_proportion_ztest`` call against one
  statsmodels ``proportions_ztest`` call. The ratio is reported as
  statsmodels / ours (a speed-up), so ``measured`` is statsmodels' time and
  ``baseline`` ours. Goal: >= 5.
* ``bayes_and_decide``: plain reports (no baseline): one deterministic
  ``prob_beat_control`` at a million impressions per arm, and one A/B/n ``decide``.
"""

from __future__ import annotations

import timeit

import numpy as np
from _harness import Result, Scale, SkipBenchmark, best_of, compare
from scipy import special

from campaign_core.abtesting import VariantCounts, decide
from campaign_core.stats import prob_beat_control, two_proportion_ztest


def _pairs(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    n_a = rng.integers(1_000, 100_000, count)
    n_b = rng.integers(1_000, 100_000, count)
    return rng.binomial(n_a, 0.05), n_a, rng.binomial(n_b, 0.055), n_b


def ztest_vectorized(scale: Scale) -> Result:
    count = scale.n(1_000_000, minimum=1000)
    ka, na, kb, nb = _pairs(count)

    def bare() -> np.ndarray:
        pa = ka / na
        pb = kb / nb
        pooled = (ka + kb) / (na + nb)
        se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = (pb - pa) / se
        return 2 * special.ndtr(-np.abs(z))

    def ours() -> object:
        return two_proportion_ztest(ka, na, kb, nb)

    np.testing.assert_allclose(two_proportion_ztest(ka, na, kb, nb).p_value, bare(), rtol=1e-12)
    return compare(
        f"two_proportion_ztest vectorized, {count:,} pairs (vs bare numpy)",
        ours,
        bare,
        goal="<= 1.5",
        repeat=7,
        note="ours validates counts; the baseline does not",
    )


def ztest_scalar(scale: Scale) -> Result:
    try:
        from statsmodels.stats.proportion import proportions_ztest
    except ImportError as exc:  # pragma: no cover - statsmodels is a test dependency
        raise SkipBenchmark("statsmodels is not installed") from exc
    number = scale.n(20_000, minimum=500)
    count = np.array([130, 100])
    nobs = np.array([1000, 1000])

    def theirs() -> object:
        return proportions_ztest(count, nobs)

    def ours() -> object:
        return two_proportion_ztest(100, 1000, 130, 1000)

    ref_z, ref_p = proportions_ztest(count, nobs)
    result = two_proportion_ztest(100, 1000, 130, 1000)
    assert abs(result.z - float(ref_z)) < 1e-12
    assert abs(result.p_value - float(ref_p)) < 1e-12
    their_time = min(timeit.repeat(theirs, number=number, repeat=5)) / number
    our_time = min(timeit.repeat(ours, number=number, repeat=5)) / number
    return Result(
        name="scalar z-test speed-up: statsmodels time / ours",
        measured=their_time,
        baseline=our_time,
        goal=">= 5",
        note=f"per call: statsmodels {their_time * 1e6:.1f} us, ours {our_time * 1e6:.2f} us",
    )


def bayes_and_decide(scale: Scale) -> list[Result]:
    def beat() -> object:
        return prob_beat_control(50_000, 1_000_000, 50_600, 1_000_000)

    variants = [
        VariantCounts("ctl", is_control=True, impressions=20_000, clicks=2000, conversions=600),
        VariantCounts("b", impressions=20_000, clicks=2100, conversions=700),
        VariantCounts("c", impressions=20_000, clicks=2050, conversions=640),
    ]

    def decision() -> object:
        return decide(variants, expected_split={"ctl": 34, "b": 33, "c": 33}, planned_mde=0.1)

    return [
        Result(
            name="prob_beat_control, 1M per arm (deterministic quadrature)",
            measured=best_of(beat, repeat=5),
            note="plain report",
        ),
        Result(
            name="decide, A/B/C with SRM, power, Bayesian probabilities",
            measured=best_of(decision, repeat=5),
            note="plain report",
        ),
    ]


BENCHMARKS = [ztest_vectorized, ztest_scalar, bayes_and_decide]
