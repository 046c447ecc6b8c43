"""Welch's t-test from sufficient statistics (for revenue per impression and other means)."""

from __future__ import annotations

from typing import Any, Generic, overload

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import (
    FloatArray,
    Scalar,
    all_scalars,
    array_count,
    array_real,
    check_choice,
    first_index_path,
)
from campaign_core._numerics import mean_and_variance
from campaign_core.errors import ProblemCollector
from campaign_core.stats._common import ALTERNATIVES, Alternative, F, broadcast_or_raise

__all__ = ["CappedWelchResult", "WelchResult", "welch_ttest_from_stats", "welch_ttest_per_fan"]


@attrs.frozen
class WelchResult(Generic[F]):
    """The result of :func:`welch_ttest_from_stats`.

    Attributes:
        t: ``difference / std_error``; 0 when both are 0, ``±inf`` when the
            standard error is 0 but the means differ.
        p_value: for the chosen alternative, from Student's t with ``df``.
        df: the Welch-Satterthwaite degrees of freedom (``n_a + n_b - 2`` when
            both sample variances are 0).
        difference: ``mean_b - mean_a``.
        std_error: ``sqrt(var_a / n_a + var_b / n_b)``.
        mean_a: the control mean.
        mean_b: the treatment mean.
        alternative: the alternative tested.
    """

    t: F
    p_value: F
    df: F
    difference: F
    std_error: F
    mean_a: F
    mean_b: F
    alternative: str


@overload
def welch_ttest_from_stats(
    n_a: Scalar,
    sum_a: Scalar,
    sum_sq_a: Scalar,
    n_b: Scalar,
    sum_b: Scalar,
    sum_sq_b: Scalar,
    *,
    alternative: Alternative = ...,
) -> WelchResult[float]: ...
@overload
def welch_ttest_from_stats(
    n_a: npt.ArrayLike,
    sum_a: npt.ArrayLike,
    sum_sq_a: npt.ArrayLike,
    n_b: npt.ArrayLike,
    sum_b: npt.ArrayLike,
    sum_sq_b: npt.ArrayLike,
    *,
    alternative: Alternative = ...,
) -> WelchResult[FloatArray]: ...
def welch_ttest_from_stats(
    n_a: Any,
    sum_a: Any,
    sum_sq_a: Any,
    n_b: Any,
    sum_b: Any,
    sum_sq_b: Any,
    *,
    alternative: str = "two-sided",
) -> WelchResult[Any]:
    """Welch's unequal-variance t-test of mean B against mean A, from running sums.

    A variant only has to keep three numbers per metric (count, sum, sum of
    squares), which is what storage tracks for revenue. For revenue per
    impression, ``n`` is impressions, ``sum`` the revenue and ``sum_sq`` the sum
    of squared revenue per impression (impressions without revenue add 0 to
    both sums).

    Args:
        n_a: control observations (a whole number, at least 2).
        sum_a: the sum of the control's values.
        sum_sq_a: the sum of their squares (at least ``sum_a² / n_a``).
        n_b: treatment observations (at least 2).
        sum_b: the sum of the treatment's values.
        sum_sq_b: the sum of their squares.
        alternative: ``"two-sided"`` (default), ``"larger"`` (B > A) or ``"smaller"``.

    Returns:
        A :class:`WelchResult`: floats for scalar inputs, arrays otherwise.

    Raises:
        ValidationError: bad counts (fewer than 2), sums that are not finite, a
            negative sum of squares or one below ``sum² / n`` (impossible data),
            shapes that do not broadcast, or an unknown alternative.
    """
    from scipy import special

    check_choice("alternative", alternative, ALTERNATIVES)
    scalar = all_scalars(n_a, sum_a, sum_sq_a, n_b, sum_b, sum_sq_b)
    problems = ProblemCollector()
    na = array_count("n_a", n_a, problems)
    sa = array_real("sum_a", sum_a, problems)
    qa = array_real("sum_sq_a", sum_sq_a, problems, low=0.0)
    nb = array_count("n_b", n_b, problems)
    sb = array_real("sum_b", sum_b, problems)
    qb = array_real("sum_sq_b", sum_sq_b, problems, low=0.0)
    problems.raise_if_any()
    shape = broadcast_or_raise(
        {"n_a": na, "sum_a": sa, "sum_sq_a": qa, "n_b": nb, "sum_b": sb, "sum_sq_b": qb}
    )
    na, sa, qa, nb, sb, qb = (
        np.broadcast_to(np.asarray(x, dtype=np.float64), shape) for x in (na, sa, qa, nb, sb, qb)
    )
    for name, n, s, q in (("a", na, sa, qa), ("b", nb, sb, qb)):
        small = n < 2
        if small.any():
            problems.add(
                first_index_path(f"n_{name}", small) if shape else f"n_{name}",
                "must be at least 2",
                "out_of_range",
            )
            continue
        # Cauchy-Schwarz: sum² <= n sum_sq; allow rounding slack.
        with np.errstate(over="ignore"):
            impossible = s * s > n * q * (1.0 + 1e-9) + 1e-300
        if impossible.any():
            problems.add(
                first_index_path(f"sum_sq_{name}", impossible) if shape else f"sum_sq_{name}",
                f"must be at least sum_{name}² / n_{name} (a sum of squares cannot be smaller)",
                "out_of_range",
            )
    problems.raise_if_any()
    mean_a, var_a = mean_and_variance(na, sa, qa)
    mean_b, var_b = mean_and_variance(nb, sb, qb)
    ua = var_a / na
    ub = var_b / nb
    diff = mean_b - mean_a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = np.sqrt(ua + ub)
        df = (ua + ub) ** 2 / (ua * ua / (na - 1.0) + ub * ub / (nb - 1.0))
        t = diff / se
    zero = se == 0.0
    df = np.where(zero, na + nb - 2.0, df)
    t = np.where(zero, np.where(diff == 0.0, 0.0, np.copysign(np.inf, diff)), t)
    if alternative == "two-sided":
        p = 2.0 * special.stdtr(df, -np.abs(t))
    elif alternative == "larger":
        p = special.stdtr(df, -t)
    else:
        p = special.stdtr(df, t)
    p = np.minimum(p, 1.0)
    if scalar:
        return WelchResult(
            float(t),
            float(p),
            float(df),
            float(diff),
            float(se),
            float(mean_a),
            float(mean_b),
            alternative,
        )
    return WelchResult(
        np.asarray(t, dtype=np.float64),
        np.asarray(p, dtype=np.float64),
        np.asarray(df, dtype=np.float64),
        np.asarray(diff, dtype=np.float64),
        np.asarray(se, dtype=np.float64),
        np.asarray(mean_a, dtype=np.float64),
        np.asarray(mean_b, dtype=np.float64),
        alternative,
    )


@attrs.frozen
class CappedWelchResult:
    """The result of :func:`welch_ttest_per_fan`.

    Attributes:
        test: Welch's test on the (capped) per-fan values.
        cap: the value values were capped at, or ``None`` without capping.
        capped_a: control fans whose value was above the cap.
        capped_b: treatment fans whose value was above the cap.
    """

    test: WelchResult[float]
    cap: float | None
    capped_a: int
    capped_b: int


def welch_ttest_per_fan(
    values_a: npt.ArrayLike,
    values_b: npt.ArrayLike,
    *,
    cap_quantile: float | None = None,
    alternative: Alternative = "two-sided",
) -> CappedWelchResult:
    """Welch's t-test on one value per fan (revenue per fan), optionally winsorized.

    The unit of analysis is the fan, the unit of randomization: a fan who
    buys three times contributes one value (the sum), not three independent
    ones. Revenue is heavy-tailed: one whale can decide a test. With
    ``cap_quantile`` (for example 0.99), values above that quantile of the
    *pooled* values of both groups are set to it (winsorizing; GrowthBook's
    percentile capping): one cap for both groups, so capping cannot favour
    either. The estimate is then of the capped mean: report it as such.

    Args:
        values_a: the control's per-fan values (1-d, finite, at least 2 fans).
        values_b: the treatment's per-fan values.
        cap_quantile: ``None`` (no capping) or a quantile in (0.5, 1).
        alternative: ``"two-sided"`` (default), ``"larger"`` (B > A) or ``"smaller"``.

    Returns:
        A :class:`CappedWelchResult`.

    Raises:
        ValidationError: values that are not finite or not 1-d, fewer than 2
            fans in a group, a quantile outside (0.5, 1), or an unknown
            alternative; each naming its argument.
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    problems = ProblemCollector()
    a = array_real("values_a", values_a, problems)
    b = array_real("values_b", values_b, problems)
    if cap_quantile is not None:
        if isinstance(cap_quantile, bool) or not isinstance(cap_quantile, int | float):
            problems.add("cap_quantile", "must be a number", "invalid_type")
        elif not 0.5 < cap_quantile < 1.0:
            problems.add("cap_quantile", f"must be in (0.5, 1), got {cap_quantile}", "out_of_range")
    problems.raise_if_any()
    for name, arr in (("values_a", a), ("values_b", b)):
        if arr.ndim != 1:
            problems.add(name, "must be a 1-d array (one value per fan)", "invalid_type")
        elif arr.shape[0] < 2:
            problems.add(name, "needs at least 2 fans", "out_of_range")
    problems.raise_if_any()
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cap: float | None = None
    capped_a = capped_b = 0
    if cap_quantile is not None:
        cap = float(np.quantile(np.concatenate([a, b]), cap_quantile))
        capped_a, capped_b = int((a > cap).sum()), int((b > cap).sum())
        a, b = np.minimum(a, cap), np.minimum(b, cap)
    test = welch_ttest_from_stats(
        a.size,
        float(a.sum()),
        float(np.dot(a, a)),
        b.size,
        float(b.sum()),
        float(np.dot(b, b)),
        alternative=alternative,
    )
    return CappedWelchResult(test, cap, capped_a, capped_b)
