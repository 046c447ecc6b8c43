"""Two-proportion z-tests and intervals for one proportion, a difference and a relative lift.

Conventions (see ``docs/explanation/statistics.md``):

* Group A is the control, group B the treatment; every difference is
  **B minus A** and every lift is ``rate_b / rate_a - 1``.
* Scalars in give Python floats out; arrays in (any argument) give float64
  arrays of the broadcast shape out.
* Nothing returns NaN: degenerate inputs have documented values, impossible
  ones raise :class:`~campaign_core.errors.ValidationError`.
"""

from __future__ import annotations

import math
from typing import Any, Generic, Literal, TypeAlias, overload

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import (
    FloatArray,
    Scalar,
    all_scalars,
    array_count,
    check_choice,
    check_not_above,
    open_unit,
    scalar_count,
)
from campaign_core._numerics import (
    norm_ppf,
    p_value,
    p_value_array,
)
from campaign_core.errors import ProblemCollector
from campaign_core.stats._common import (
    ALTERNATIVES,
    Alternative,
    F,
    broadcast_or_raise,
    parse_two_samples,
    to_output,
)

__all__ = [
    "DifferenceInterval",
    "LiftInterval",
    "ProportionInterval",
    "ZTestResult",
    "difference_interval",
    "relative_lift_interval",
    "two_proportion_ztest",
    "wilson_interval",
    "z_critical",
]

Variance: TypeAlias = Literal["pooled", "unpooled"]
LiftMethod: TypeAlias = Literal["delta", "fieller", "log_ratio"]
_VARIANCES = ("pooled", "unpooled")
_LIFT_METHODS = ("delta", "fieller", "log_ratio")


def z_critical(confidence: float) -> float:
    """The two-sided normal critical value for a confidence level (1.96 for 0.95)."""
    return norm_ppf(0.5 + confidence / 2.0)


# --------------------------------------------------------------------------- z-test


@attrs.frozen
class ZTestResult(Generic[F]):
    """The result of :func:`two_proportion_ztest`.

    Attributes:
        z: the statistic ``difference / std_error``; ``0`` when both are 0, and
            ``±inf`` when the unpooled standard error is 0 but the rates differ.
        p_value: for the chosen alternative, in ``[0, 1]``.
        difference: ``rate_b - rate_a`` (treatment minus control).
        std_error: the standard error used (pooled or unpooled).
        rate_a: ``successes_a / n_a``.
        rate_b: ``successes_b / n_b``.
        variance: ``"pooled"`` or ``"unpooled"``.
        alternative: ``"two-sided"``, ``"larger"`` (B > A) or ``"smaller"`` (B < A).
    """

    z: F
    p_value: F
    difference: F
    std_error: F
    rate_a: F
    rate_b: F
    variance: str
    alternative: str


@overload
def two_proportion_ztest(
    successes_a: Scalar,
    n_a: Scalar,
    successes_b: Scalar,
    n_b: Scalar,
    *,
    variance: Variance = ...,
    alternative: Alternative = ...,
) -> ZTestResult[float]: ...
@overload
def two_proportion_ztest(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    variance: Variance = ...,
    alternative: Alternative = ...,
) -> ZTestResult[FloatArray]: ...
def two_proportion_ztest(
    successes_a: Any,
    n_a: Any,
    successes_b: Any,
    n_b: Any,
    *,
    variance: str = "pooled",
    alternative: str = "two-sided",
) -> ZTestResult[Any]:
    """The two-proportion z-test of treatment B against control A.

    The statistic is ``(rate_b - rate_a) / se`` where, with ``pooled`` variance
    (the seed's choice and the classic test of equal proportions),
    ``se = sqrt(p (1 - p) (1/n_a + 1/n_b))`` for the pooled rate ``p``, and with
    ``unpooled`` variance ``se = sqrt(rate_a (1 - rate_a)/n_a + rate_b (1 - rate_b)/n_b)``
    (the Wald test).

    Degenerate cases: when ``se`` is 0 and the rates are equal (for example no
    successes at all), ``z = 0`` and ``p = 1``; when the unpooled ``se`` is 0 but
    the rates differ (0/10 against 10/10), ``z = ±inf`` and ``p`` is 0 or 1.

    Args:
        successes_a: control successes (conversions); a count or an array of counts.
        n_a: control trials (impressions), at least 1.
        successes_b: treatment successes.
        n_b: treatment trials, at least 1.
        variance: ``"pooled"`` (default) or ``"unpooled"``.
        alternative: ``"two-sided"`` (default), ``"larger"`` (H1: B > A) or
            ``"smaller"`` (H1: B < A).

    Returns:
        A :class:`ZTestResult` of floats for scalar inputs, of arrays otherwise.

    Raises:
        ValidationError: a count is negative, fractional, not finite or above
            2**53, a sample size is 0, successes exceed trials, the shapes do not
            broadcast, or an option is unknown. Each problem names its argument.
    """
    if variance not in _VARIANCES:
        check_choice("variance", variance, _VARIANCES)
    if alternative not in ALTERNATIVES:
        check_choice("alternative", alternative, ALTERNATIVES)
    scalar, ka, na, kb, nb = parse_two_samples(successes_a, n_a, successes_b, n_b)
    if scalar:
        return _ztest_scalar(ka, na, kb, nb, variance, alternative)
    return _ztest_array(ka, na, kb, nb, variance, alternative)


def _ztest_scalar(
    ka: float, na: float, kb: float, nb: float, variance: str, alternative: str
) -> ZTestResult[float]:
    rate_a = ka / na
    rate_b = kb / nb
    diff = rate_b - rate_a
    if variance == "pooled":
        pooled = (ka + kb) / (na + nb)
        se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb))
    else:
        se = math.sqrt(rate_a * (1.0 - rate_a) / na + rate_b * (1.0 - rate_b) / nb)
    if se > 0.0:
        z = diff / se
    elif diff == 0.0:
        z = 0.0
    else:
        z = math.copysign(math.inf, diff)
    return ZTestResult(z, p_value(z, alternative), diff, se, rate_a, rate_b, variance, alternative)


def _ztest_array(
    ka: Any, na: Any, kb: Any, nb: Any, variance: str, alternative: str
) -> ZTestResult[FloatArray]:
    rate_a = np.true_divide(ka, na)
    rate_b = np.true_divide(kb, nb)
    diff = np.subtract(rate_b, rate_a)
    if variance == "pooled":
        pooled = np.true_divide(np.add(ka, kb), np.add(na, nb))
        var = pooled * (1.0 - pooled)
        var *= np.true_divide(1.0, na) + np.true_divide(1.0, nb)
    else:
        var = rate_a * (1.0 - rate_a) / na + rate_b * (1.0 - rate_b) / nb
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    zero_se = se == 0.0
    if zero_se.any():
        # 0/0 means equal rates with no spread: no evidence, z = 0 (never NaN).
        z = np.where(zero_se, np.where(diff == 0.0, 0.0, np.copysign(np.inf, diff)), z)
    shape = z.shape
    return ZTestResult(
        z=np.asarray(z, dtype=np.float64),
        p_value=p_value_array(z, alternative),
        difference=_full(diff, shape),
        std_error=_full(se, shape),
        rate_a=_full(rate_a, shape),
        rate_b=_full(rate_b, shape),
        variance=variance,
        alternative=alternative,
    )


def _full(values: Any, shape: tuple[int, ...]) -> FloatArray:
    """A writable float64 array of ``shape``; no copy when it already is one."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape == shape:
        return arr
    return np.broadcast_to(arr, shape).copy()


# --------------------------------------------------------------------------- Wilson


@attrs.frozen
class ProportionInterval(Generic[F]):
    """A confidence interval for one proportion.

    Attributes:
        estimate: ``k / n`` (0 when ``n`` is 0).
        lower: the lower limit, in ``[0, estimate]``.
        upper: the upper limit, in ``[estimate, 1]``.
        confidence: the confidence level, e.g. 0.95.
    """

    estimate: F
    lower: F
    upper: F
    confidence: float


def _wilson_lower_scalar(k: float, n: float, z2: float) -> float:
    # The Wilson limits are the roots of (n + z²) p² - (2k + z²) p + k²/n = 0.
    # The upper root has no cancellation; the lower one is product / upper,
    # which stays accurate down to k = 0 (where it is exactly 0).
    a = n + z2
    upper_root = (2.0 * k + z2 + math.sqrt(z2 * (z2 + 4.0 * k * (n - k) / n))) / (2.0 * a)
    return k * k / (n * a * upper_root)


def _wilson_scalar(k: float, n: float, z: float) -> tuple[float, float, float]:
    if n == 0.0:
        return 0.0, 0.0, 1.0
    z2 = z * z
    lower = _wilson_lower_scalar(k, n, z2)
    # By symmetry the upper limit for k is 1 - the lower limit for n - k.
    upper = 1.0 - _wilson_lower_scalar(n - k, n, z2)
    return k / n, lower, upper


def _wilson_lower_array(k: Any, n: Any, z2: float) -> FloatArray:
    a = n + z2
    with np.errstate(divide="ignore", invalid="ignore"):
        upper_root = (2.0 * k + z2 + np.sqrt(z2 * (z2 + 4.0 * k * (n - k) / n))) / (2.0 * a)
        out = k * k / (n * a * upper_root)
    return np.asarray(out, dtype=np.float64)


def _wilson_array(k: Any, n: Any, z: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z2 = z * z
    empty = n == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(empty, 0.0, k / n)
    lower = np.where(empty, 0.0, _wilson_lower_array(k, n, z2))
    upper = np.where(empty, 1.0, 1.0 - _wilson_lower_array(n - k, n, z2))
    return estimate, lower, upper


@overload
def wilson_interval(k: Scalar, n: Scalar, confidence: float = ...) -> ProportionInterval[float]: ...
@overload
def wilson_interval(
    k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = ...
) -> ProportionInterval[FloatArray]: ...
def wilson_interval(k: Any, n: Any, confidence: float = 0.95) -> ProportionInterval[Any]:
    """The Wilson score interval for a binomial proportion.

    Computed from the quadratic's roots in a form without cancellation, so the
    lower limit is exactly 0 when ``k = 0`` and the upper exactly 1 when
    ``k = n``. With ``n = 0`` (no data) the interval is the whole ``[0, 1]``
    (the limit of the formula) and the estimate is reported as 0.

    Args:
        k: successes; a count or an array of counts.
        n: trials (``n >= k``; 0 is allowed).
        confidence: the two-sided confidence level in (0, 1), default 0.95.

    Returns:
        A :class:`ProportionInterval` of floats or of arrays.

    Raises:
        ValidationError: bad counts, ``k > n`` or a confidence outside (0, 1).
    """
    level = open_unit("confidence", confidence)
    z = z_critical(level)
    problems = ProblemCollector()
    if all_scalars(k, n):
        kf = scalar_count("k", k, problems)
        nf = scalar_count("n", n, problems)
        if not problems:
            check_not_above("k", kf, "n", nf, problems)
        problems.raise_if_any()
        estimate, lower, upper = _wilson_scalar(kf, nf, z)
        return ProportionInterval(estimate, lower, upper, level)
    ka = array_count("k", k, problems)
    n_arr = array_count("n", n, problems)
    problems.raise_if_any()
    broadcast_or_raise({"k": ka, "n": n_arr})
    check_not_above("k", ka, "n", n_arr, problems)
    problems.raise_if_any()
    est, lo, hi = _wilson_array(ka, n_arr, z)
    return ProportionInterval(est, lo, hi, level)


# --------------------------------------------------------------------------- Newcombe


@attrs.frozen
class DifferenceInterval(Generic[F]):
    """A confidence interval for ``rate_b - rate_a``.

    Attributes:
        estimate: ``rate_b - rate_a``.
        lower: the lower limit (at least -1).
        upper: the upper limit (at most 1).
        confidence: the confidence level.
        method: ``"newcombe"`` (hybrid score interval from two Wilson intervals).
    """

    estimate: F
    lower: F
    upper: F
    confidence: float
    method: str = "newcombe"


@overload
def difference_interval(
    successes_a: Scalar,
    n_a: Scalar,
    successes_b: Scalar,
    n_b: Scalar,
    *,
    confidence: float = ...,
) -> DifferenceInterval[float]: ...
@overload
def difference_interval(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    confidence: float = ...,
) -> DifferenceInterval[FloatArray]: ...
def difference_interval(
    successes_a: Any,
    n_a: Any,
    successes_b: Any,
    n_b: Any,
    *,
    confidence: float = 0.95,
) -> DifferenceInterval[Any]:
    """Newcombe's hybrid score interval for the difference of two proportions (B - A).

    With ``(l_a, u_a)`` and ``(l_b, u_b)`` the Wilson intervals of each rate,
    the limits are ``d - sqrt((p_b - l_b)² + (u_a - p_a)²)`` and
    ``d + sqrt((u_b - p_b)² + (p_a - l_a)²)`` (Newcombe 1998, method 10). Unlike
    the Wald interval it behaves at 0 and 1 and never leaves ``[-1, 1]``.

    Args:
        successes_a: control successes.
        n_a: control trials (at least 1).
        successes_b: treatment successes.
        n_b: treatment trials (at least 1).
        confidence: the confidence level in (0, 1).

    Returns:
        A :class:`DifferenceInterval` of floats or of arrays.

    Raises:
        ValidationError: as :func:`two_proportion_ztest`, or a bad confidence.
    """
    level = open_unit("confidence", confidence)
    z = z_critical(level)
    scalar, ka, na, kb, nb = parse_two_samples(successes_a, n_a, successes_b, n_b)
    if scalar:
        pa, la, ua = _wilson_scalar(ka, na, z)
        pb, lb, ub = _wilson_scalar(kb, nb, z)
        d = pb - pa
        lower = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
        upper = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
        return DifferenceInterval(d, lower, upper, level)
    pa_, la_, ua_ = _wilson_array(ka, na, z)
    pb_, lb_, ub_ = _wilson_array(kb, nb, z)
    d_ = pb_ - pa_
    lower_ = d_ - np.sqrt((pb_ - lb_) ** 2 + (ua_ - pa_) ** 2)
    upper_ = d_ + np.sqrt((ub_ - pb_) ** 2 + (pa_ - la_) ** 2)
    shape = np.broadcast_shapes(d_.shape, lower_.shape)
    return DifferenceInterval(
        np.broadcast_to(d_, shape).astype(np.float64),
        np.asarray(lower_, dtype=np.float64),
        np.asarray(upper_, dtype=np.float64),
        level,
    )


# --------------------------------------------------------------------------- lift


@attrs.frozen
class LiftInterval(Generic[F]):
    """A confidence interval for the relative lift ``rate_b / rate_a - 1``.

    Attributes:
        estimate: ``rate_b / rate_a - 1``; ``inf`` when the control rate is 0
            and the treatment's is not, and 0 when both are 0 (no difference seen).
        lower: the lower limit; ``-1`` (the lift's natural floor) when unbounded.
        upper: the upper limit; ``inf`` when unbounded.
        confidence: the confidence level.
        method: ``"delta"``, ``"fieller"`` or ``"log_ratio"``.
        bounded: ``False`` when the method gives no finite interval: the control
            rate is 0 (every method), Fieller's denominator is not significantly
            different from 0 (``rate_a² <= z² var_a``; the true Fieller set is then
            the whole line or two rays, reported as ``[-1, inf)``), or, for
            ``log_ratio``, the treatment has no successes (its log is ``-inf``).
    """

    estimate: F
    lower: F
    upper: F
    confidence: float
    method: str
    bounded: bool | npt.NDArray[np.bool_]


@overload
def relative_lift_interval(
    successes_a: Scalar,
    n_a: Scalar,
    successes_b: Scalar,
    n_b: Scalar,
    *,
    confidence: float = ...,
    method: LiftMethod = ...,
) -> LiftInterval[float]: ...
@overload
def relative_lift_interval(
    successes_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    successes_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    *,
    confidence: float = ...,
    method: LiftMethod = ...,
) -> LiftInterval[FloatArray]: ...
def relative_lift_interval(
    successes_a: Any,
    n_a: Any,
    successes_b: Any,
    n_b: Any,
    *,
    confidence: float = 0.95,
    method: str = "delta",
) -> LiftInterval[Any]:
    """A confidence interval for the relative lift of B over A, ``rate_b / rate_a - 1``.

    Methods, with ``v = rate (1 - rate) / n`` per group and ``R = rate_b / rate_a``:

    * ``"delta"``: ``R - 1 ± z sqrt(v_b / rate_a² + rate_b² v_a / rate_a⁴)``
      (first-order Taylor; symmetric, may dip below -1 on tiny samples).
    * ``"fieller"``: the set of ratios ``θ`` with
      ``(rate_b - θ rate_a)² <= z² (v_b + θ² v_a)``; exact for normal
      estimates, asymmetric, and unbounded when ``rate_a`` is not significantly
      above 0.
    * ``"log_ratio"``: Katz's interval ``exp(log R ± z sqrt(1/k_b - 1/n_b + 1/k_a - 1/n_a)) - 1``;
      always above -1, needs successes in both groups.

    Args:
        successes_a: control successes.
        n_a: control trials (at least 1).
        successes_b: treatment successes.
        n_b: treatment trials (at least 1).
        confidence: the confidence level in (0, 1).
        method: ``"delta"`` (default), ``"fieller"`` or ``"log_ratio"``.

    Returns:
        A :class:`LiftInterval`; ``bounded`` tells whether the limits are finite.

    Raises:
        ValidationError: as :func:`two_proportion_ztest`, a bad confidence or method.
    """
    level = open_unit("confidence", confidence)
    check_choice("method", method, _LIFT_METHODS)
    z = z_critical(level)
    scalar, ka, na, kb, nb = parse_two_samples(successes_a, n_a, successes_b, n_b)
    ka = np.asarray(ka, dtype=np.float64)
    na = np.asarray(na, dtype=np.float64)
    kb = np.asarray(kb, dtype=np.float64)
    nb = np.asarray(nb, dtype=np.float64)
    shape = np.broadcast_shapes(ka.shape, na.shape, kb.shape, nb.shape)
    ka, na, kb, nb = (np.broadcast_to(x, shape) for x in (ka, na, kb, nb))
    pa = ka / na
    pb = kb / nb
    # Failure rates from the counts, not 1 - rate: at 999,999,999 of 1e9, 1 - rate keeps one
    # digit and the variance (hence Fieller's limits) came out as [0, 0].
    va = pa * ((na - ka) / na) / na
    vb = pb * ((nb - kb) / nb) / nb
    # rate_b - rate_a: (kb - ka) / n for equal sizes, exact where the difference of the rounded
    # rates keeps only the digits they do not share (1 in 1e9 at 999,999,999 of 1e9).
    diff = np.where(na == nb, (kb - ka) / na, pb - pa)
    control_zero = ka == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # the lift is (rate_b - rate_a) / rate_a, never ratio - 1 (cancellation near 1)
        lift_raw = diff / pa
        if method == "delta":
            se = np.sqrt(vb / pa**2 + pb**2 * va / pa**4)
            lower_lift = lift_raw - z * se
            upper_lift = lift_raw + z * se
            bounded = ~control_zero
        elif method == "fieller":
            # Limits theta of (rate_b - theta rate_a)² = z² (v_b + theta² v_a), a theta² - 2 b
            # theta + c = 0 with a = pa² - z² va, b = pa pb, c = pb² - z² vb. b² - ac has the
            # closed form z² (pa² vb + pb² va - z² va vb) (no cancellation), and the lifts
            # theta - 1 come without subtracting 1 from a number near 1:
            # upper: (b + root) / a - 1 = (pa diff + z² va + root) / a,
            # lower: c / (b + root) - 1 = (pb diff - z² vb - root) / (b + root).
            z2 = z * z
            quad_a = pa * pa - z2 * va
            root = z * np.sqrt(np.maximum(pa * pa * vb + pb * pb * va - z2 * va * vb, 0.0))
            big = pa * pb + root
            upper_lift = (pa * diff + z2 * va + root) / quad_a
            lower_lift = np.where(
                big > 0.0, (pb * diff - z2 * vb - root) / np.where(big > 0.0, big, 1.0), -1.0
            )
            bounded = quad_a > 0.0
        else:
            both = (ka > 0.0) & (kb > 0.0)
            log_ratio = np.log1p(lift_raw)
            # 1/k - 1/n = (n - k) / (k n): no cancellation when k is close to n
            sd = np.sqrt((nb - kb) / (kb * nb) + (na - ka) / (ka * na))
            # exp(x) - 1 loses digits near 0; expm1 does not.
            lower_lift = np.expm1(log_ratio - z * sd)
            upper_lift = np.expm1(log_ratio + z * sd)
            bounded = both
    lift = np.where(control_zero, np.where(kb > 0.0, np.inf, 0.0), lift_raw)
    lower_lift = np.where(bounded, lower_lift, -1.0)
    upper_lift = np.where(bounded, upper_lift, np.inf)
    if scalar:
        return LiftInterval(
            float(lift), float(lower_lift), float(upper_lift), level, method, bool(bounded)
        )
    return LiftInterval(
        to_output(lift, False),
        to_output(lower_lift, False),
        to_output(upper_lift, False),
        level,
        method,
        np.asarray(bounded, dtype=bool),
    )
