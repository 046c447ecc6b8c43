"""Planning two-proportion tests: sample size, power and minimum detectable effect.

All three functions share one normal-approximation model of the z-test
statistic, so they are exact inverses of each other:

* ``method="pooled"`` (default, matches the seed's pooled z-test): the
  statistic's spread is ``sigma0`` under the null (pooled rate) and ``sigma1``
  under the alternative, and ``n_a = ((z_alpha sigma0 + z_beta sigma1) / delta)²``
  (Fleiss, without continuity correction; statsmodels'
  ``samplesize_proportions_2indep_onetail``).
* ``method="unpooled"``: ``sigma0 = sigma1`` (the Wald test).
* ``method="arcsine"``: Cohen's ``h = 2 asin sqrt(p2) - 2 asin sqrt(p1)`` and
  ``n_a = ((z_alpha + z_beta) / h)² (1 + 1/ratio)`` (statsmodels'
  ``NormalIndPower`` with ``proportion_effectsize``).

``z_alpha`` is the ``1 - alpha/2`` quantile for a two-sided test (``1 - alpha``
one-sided); power counts only the tail in the effect's direction (the far tail
of a two-sided test adds less than ``alpha/2`` and is ignored, as is usual, so
that the sample size has a closed form).

``n_a`` is the control group's size and ``ratio = n_b / n_a``.
"""

from __future__ import annotations

import math
from typing import Any, Generic, Literal, TypeAlias, TypeVar, overload

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import (
    FloatArray,
    Scalar,
    all_scalars,
    array_real,
    check_choice,
    first_index_path,
    open_unit,
    scalar_real,
)
from campaign_core._numerics import norm_cdf_array, norm_ppf
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.stats._common import ALTERNATIVES, Alternative, F, broadcast_or_raise

__all__ = [
    "SampleSize",
    "minimum_detectable_effect",
    "power_two_proportions",
    "sample_size_two_proportions",
]

PowerMethod: TypeAlias = Literal["pooled", "unpooled", "arcsine"]
_METHODS = ("pooled", "unpooled", "arcsine")
IntArray: TypeAlias = npt.NDArray[np.int64]
I = TypeVar("I", int, IntArray)  # noqa: E741 - the conventional name beside F


@attrs.frozen
class SampleSize(Generic[F, I]):
    """The result of :func:`sample_size_two_proportions`.

    Attributes:
        n_a: control observations needed (rounded up).
        n_b: treatment observations needed, ``ceil(ratio * n_a_exact)``.
        total: ``n_a + n_b``.
        n_a_exact: the unrounded control size from the formula.
        baseline: the control rate assumed.
        treatment_rate: ``baseline + effect``.
        effect: the absolute difference to detect (``treatment_rate - baseline``).
        alpha: the significance level.
        power: the target power.
        ratio: ``n_b / n_a``.
        alternative: the test's alternative.
        method: ``"pooled"``, ``"unpooled"`` or ``"arcsine"``.
    """

    n_a: I
    n_b: I
    total: I
    n_a_exact: F
    baseline: F
    treatment_rate: F
    effect: F
    alpha: float
    power: float
    ratio: float
    alternative: str
    method: str


def _z_alpha(alpha: float, alternative: str) -> float:
    return norm_ppf(1.0 - alpha / 2.0) if alternative == "two-sided" else norm_ppf(1.0 - alpha)


def _sigmas(p1: Any, p2: Any, ratio: float, method: str) -> tuple[Any, Any]:
    """Per-unit-of-n_a spreads of the difference under the null and the alternative."""
    sigma1 = np.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2) / ratio)
    if method == "unpooled":
        return sigma1, sigma1
    pooled = (p1 + ratio * p2) / (1.0 + ratio)
    sigma0 = np.sqrt(pooled * (1.0 - pooled) * (1.0 + 1.0 / ratio))
    return sigma0, sigma1


def _parse_rates(
    baseline: object,
    mde: object,
    relative: bool,
    alternative: str,
    problems: ProblemCollector,
    *,
    mde_needed: bool = True,
) -> tuple[bool, FloatArray, FloatArray]:
    """Validate baseline and effect; returns (scalar, p1, delta) as arrays."""
    scalar = all_scalars(baseline, mde)
    if scalar:
        p1 = np.asarray(
            scalar_real(
                "baseline", baseline, problems, low=0.0, high=1.0, low_open=True, high_open=True
            )
        )
        effect = np.asarray(scalar_real("mde", mde, problems))
    else:
        p1 = array_real(
            "baseline", baseline, problems, low=0.0, high=1.0, low_open=True, high_open=True
        )
        effect = array_real("mde", mde, problems)
    problems.raise_if_any()
    broadcast_or_raise({"baseline": p1, "mde": effect})
    delta = effect * p1 if relative else effect
    delta, p1 = np.broadcast_arrays(delta, p1)
    p2 = p1 + delta
    if mde_needed:
        bad = delta == 0.0
        if bad.any():
            problems.add(
                first_index_path("mde", bad) if not scalar else "mde",
                "must not be 0",
                "out_of_range",
            )
        bad = (p2 <= 0.0) | (p2 >= 1.0)
        if bad.any():
            problems.add(
                first_index_path("mde", bad) if not scalar else "mde",
                "baseline + effect must be in (0, 1)",
                "out_of_range",
            )
        wrong = (delta < 0.0) if alternative == "larger" else (delta > 0.0)
        if alternative != "two-sided" and wrong.any():
            problems.add(
                first_index_path("mde", wrong) if not scalar else "mde",
                f"must point the way of alternative={alternative!r}",
                "out_of_range",
            )
    problems.raise_if_any()
    return scalar, np.asarray(p1, dtype=np.float64), np.asarray(delta, dtype=np.float64)


def _parse_common(
    alpha: object, power: object | None, ratio: object, alternative: object, method: object
) -> tuple[float, float, float]:
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("method", method, _METHODS)
    a = open_unit("alpha", alpha)
    pw = open_unit("power", power) if power is not None else 0.5
    problems = ProblemCollector()
    r = scalar_real("ratio", ratio, problems, low=0.0, low_open=True)
    problems.raise_if_any()
    if power is not None and pw <= (a / 2.0 if alternative == "two-sided" else a):
        raise ValidationError.single("power", "must exceed the test's size alpha", "out_of_range")
    return a, pw, r


@overload
def sample_size_two_proportions(
    baseline: Scalar,
    mde: Scalar,
    *,
    relative: bool = ...,
    alpha: float = ...,
    power: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> SampleSize[float, int]: ...
@overload
def sample_size_two_proportions(
    baseline: npt.ArrayLike,
    mde: npt.ArrayLike,
    *,
    relative: bool = ...,
    alpha: float = ...,
    power: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> SampleSize[FloatArray, IntArray]: ...
def sample_size_two_proportions(
    baseline: Any,
    mde: Any,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    method: str = "pooled",
) -> SampleSize[Any, Any]:
    """Observations per group needed to detect an effect with a two-proportion z-test.

    Args:
        baseline: the control's expected rate, in (0, 1).
        mde: the minimum detectable effect: relative to the baseline (``0.1`` =
            +10 %) when ``relative``, else absolute (``0.01`` = +1 point).
            Negative values plan for a decrease.
        relative: whether ``mde`` is relative (default) or absolute.
        alpha: the significance level in (0, 1).
        power: the target power in (0, 1), above the test's size.
        ratio: ``n_b / n_a``, the treatment's size relative to the control's.
        alternative: ``"two-sided"`` (default), ``"larger"`` or ``"smaller"``.
        method: ``"pooled"`` (default), ``"unpooled"`` or ``"arcsine"``.

    Returns:
        A :class:`SampleSize` with both groups' sizes rounded up.

    Raises:
        ValidationError: a rate outside (0, 1) (including ``baseline + effect``),
            a zero effect, an effect pointing against a one-sided alternative,
            or a bad level, ratio or option; each naming its argument.
    """
    a, pw, r = _parse_common(alpha, power, ratio, alternative, method)
    problems = ProblemCollector()
    scalar, p1, delta = _parse_rates(baseline, mde, relative, alternative, problems)
    p2 = p1 + delta
    z_a = _z_alpha(a, alternative)
    z_b = norm_ppf(pw)
    if method == "arcsine":
        h = 2.0 * np.arcsin(np.sqrt(p2)) - 2.0 * np.arcsin(np.sqrt(p1))
        exact = ((z_a + z_b) / h) ** 2 * (1.0 + 1.0 / r)
    else:
        sigma0, sigma1 = _sigmas(p1, p2, r, method)
        exact = (np.maximum(z_a * sigma0 + z_b * sigma1, 0.0) / delta) ** 2
    # Round up, forgiving the last few ulps of floating noise (3840.0000000001 -> 3840).
    n_a = np.ceil(exact * (1.0 - 1e-12)).astype(np.int64)
    n_b = np.ceil(exact * r * (1.0 - 1e-12)).astype(np.int64)
    if scalar:
        return SampleSize(
            int(n_a),
            int(n_b),
            int(n_a + n_b),
            float(exact),
            float(p1),
            float(p2),
            float(delta),
            a,
            pw,
            r,
            alternative,
            method,
        )
    return SampleSize(n_a, n_b, n_a + n_b, exact, p1, p2, delta, a, pw, r, alternative, method)


@overload
def power_two_proportions(
    baseline: Scalar,
    mde: Scalar,
    n_a: Scalar,
    *,
    relative: bool = ...,
    alpha: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> float: ...
@overload
def power_two_proportions(
    baseline: npt.ArrayLike,
    mde: npt.ArrayLike,
    n_a: npt.ArrayLike,
    *,
    relative: bool = ...,
    alpha: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> FloatArray: ...
def power_two_proportions(
    baseline: Any,
    mde: Any,
    n_a: Any,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    method: str = "pooled",
) -> Any:
    """The power of a two-proportion z-test with ``n_a`` control observations.

    The inverse of :func:`sample_size_two_proportions` (same model, one tail).

    Args:
        baseline: the control's rate, in (0, 1).
        mde: the effect, relative (default) or absolute; see ``relative``.
        n_a: control observations (positive; need not be whole).
        relative: whether ``mde`` is relative to the baseline.
        alpha: the significance level in (0, 1).
        ratio: ``n_b / n_a``.
        alternative: ``"two-sided"``, ``"larger"`` or ``"smaller"``.
        method: ``"pooled"``, ``"unpooled"`` or ``"arcsine"``.

    Returns:
        The power, between 0 and 1 - a float for scalar inputs, an array otherwise.

    Raises:
        ValidationError: as :func:`sample_size_two_proportions`, or ``n_a <= 0``.
    """
    a, _, r = _parse_common(alpha, None, ratio, alternative, method)
    problems = ProblemCollector()
    scalar = all_scalars(baseline, mde, n_a)
    if scalar:
        n = np.asarray(scalar_real("n_a", n_a, problems, low=0.0, low_open=True))
    else:
        n = array_real("n_a", n_a, problems, low=0.0, low_open=True)
    problems.raise_if_any()
    _, p1, delta = _parse_rates(baseline, mde, relative, "two-sided", problems)
    broadcast_or_raise({"baseline": p1, "n_a": n})
    p2 = p1 + delta
    z_a = _z_alpha(a, alternative)
    signed = (
        np.abs(delta)
        if alternative == "two-sided"
        else (delta if alternative == "larger" else -delta)
    )
    if method == "arcsine":
        h = 2.0 * np.arcsin(np.sqrt(p2)) - 2.0 * np.arcsin(np.sqrt(p1))
        h = np.abs(h) if alternative == "two-sided" else (h if alternative == "larger" else -h)
        out = norm_cdf_array(h * np.sqrt(n / (1.0 + 1.0 / r)) - z_a)
    else:
        sigma0, sigma1 = _sigmas(p1, p2, r, method)
        out = norm_cdf_array((signed * np.sqrt(n) - z_a * sigma0) / sigma1)
    return float(out) if scalar else out


@overload
def minimum_detectable_effect(
    baseline: Scalar,
    n_a: Scalar,
    *,
    relative: bool = ...,
    alpha: float = ...,
    power: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> float: ...
@overload
def minimum_detectable_effect(
    baseline: npt.ArrayLike,
    n_a: npt.ArrayLike,
    *,
    relative: bool = ...,
    alpha: float = ...,
    power: float = ...,
    ratio: float = ...,
    alternative: Alternative = ...,
    method: PowerMethod = ...,
) -> FloatArray: ...
def minimum_detectable_effect(
    baseline: Any,
    n_a: Any,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    method: str = "pooled",
) -> Any:
    """The smallest effect a test of ``n_a`` control observations detects with ``power``.

    The inverse of :func:`sample_size_two_proportions` in the effect: closed
    form for ``arcsine``; for ``pooled`` and ``unpooled`` the spreads depend on
    the effect, so it is found by bisection (vectorized, 100 halvings, far below
    float resolution). The effect is upward (positive) for ``"two-sided"`` and
    ``"larger"``, downward (negative) for ``"smaller"``. When even the largest
    possible effect (a treatment rate of 1, or 0 for ``"smaller"``) is not
    detectable with that power, the result is ``inf`` (or ``-inf``), never NaN.

    Args:
        baseline: the control's rate, in (0, 1).
        n_a: control observations (positive).
        relative: return the effect relative to the baseline (default) or absolute.
        alpha: the significance level in (0, 1).
        power: the target power in (0, 1).
        ratio: ``n_b / n_a``.
        alternative: ``"two-sided"``, ``"larger"`` or ``"smaller"``.
        method: ``"pooled"``, ``"unpooled"`` or ``"arcsine"``.

    Returns:
        The minimum detectable effect: a float for scalar inputs, an array otherwise.

    Raises:
        ValidationError: a baseline outside (0, 1), ``n_a <= 0``, or a bad level,
            ratio or option.
    """
    a, pw, r = _parse_common(alpha, power, ratio, alternative, method)
    problems = ProblemCollector()
    scalar = all_scalars(baseline, n_a)
    if scalar:
        p1 = np.asarray(
            scalar_real(
                "baseline", baseline, problems, low=0.0, high=1.0, low_open=True, high_open=True
            )
        )
        n = np.asarray(scalar_real("n_a", n_a, problems, low=0.0, low_open=True))
    else:
        p1 = array_real(
            "baseline", baseline, problems, low=0.0, high=1.0, low_open=True, high_open=True
        )
        n = array_real("n_a", n_a, problems, low=0.0, low_open=True)
    problems.raise_if_any()
    shape = broadcast_or_raise({"baseline": p1, "n_a": n})
    p1, n = (np.broadcast_to(x, shape).astype(np.float64) for x in (p1, n))
    z_a = _z_alpha(a, alternative)
    z_b = norm_ppf(pw)
    sign = -1.0 if alternative == "smaller" else 1.0
    if method == "arcsine":
        half_h = (z_a + z_b) * np.sqrt((1.0 + 1.0 / r) / n) / 2.0
        angle = np.arcsin(np.sqrt(p1)) + sign * half_h
        reachable = (angle <= math.pi / 2.0) & (angle >= 0.0)
        p2 = np.sin(np.clip(angle, 0.0, math.pi / 2.0)) ** 2
        delta = p2 - p1
    else:
        # Search the effect in (0, room]: g(effect) = effect sqrt(n) - z_a s0 - z_b s1.
        room = 1.0 - p1 if sign > 0 else p1

        def g(step: FloatArray) -> FloatArray:
            s0, s1 = _sigmas(p1, p1 + sign * step, r, method)
            return np.asarray(step * np.sqrt(n) - z_a * s0 - z_b * s1, dtype=np.float64)

        reachable = g(room) >= 0.0
        lo = np.zeros(shape)
        hi = np.array(room, dtype=np.float64)
        for _ in range(100):
            mid = (lo + hi) / 2.0
            above = g(mid) >= 0.0
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        delta = sign * hi
    out = delta / p1 if relative else delta
    out = np.where(reachable, out, sign * np.inf)
    return float(out) if scalar else np.asarray(out, dtype=np.float64)
