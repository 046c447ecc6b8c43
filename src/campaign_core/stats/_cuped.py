"""CUPED: variance reduction with a pre-period covariate per fan (Deng et al., 2013).

A fan's metric during the test (``y``: spend, clicks, conversions) is
correlated with the same fan's behaviour before it (``x``: spend or
engagement in the 30 days before exposure). Randomization makes ``x``
independent of the variant, so subtracting ``theta (x - mean x)`` from ``y``
keeps the difference of means unbiased and removes the part of its variance
``x`` explains: a fraction ``rho²`` (the correlation squared) for the
variance-minimizing ``theta = cov(x, y) / var(x)``, estimated on both groups
pooled. The adjusted means are compared by Welch's t-test.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import array_real, check_choice
from campaign_core.errors import ProblemCollector
from campaign_core.stats._common import ALTERNATIVES

__all__ = ["CupedResult", "cuped_ttest"]


@attrs.frozen
class CupedResult:
    """The result of :func:`cuped_ttest`.

    Attributes:
        difference: the adjusted ``mean_b - mean_a`` (unbiased for the effect).
        std_error: its standard error after the adjustment.
        t: ``difference / std_error`` (0 when both are 0).
        df: the Welch-Satterthwaite degrees of freedom of the adjusted values.
        p_value: for the chosen alternative, from Student's t.
        theta: the pooled ``cov(x, y) / var(x)`` (0 when ``x`` does not vary).
        unadjusted_difference: ``mean_b - mean_a`` of ``y`` alone.
        unadjusted_std_error: Welch's standard error of ``y`` alone.
        variance_reduction: ``1 - std_error² / unadjusted_std_error²``, the
            share of the difference's variance the covariate removed.
        alternative: the alternative tested.
    """

    difference: float
    std_error: float
    t: float
    df: float
    p_value: float
    theta: float
    unadjusted_difference: float
    unadjusted_std_error: float
    variance_reduction: float
    alternative: str


def _moments(y: Any, x: Any) -> tuple[int, float, float, float, float, float]:
    """n, means, and centered sums of squares and cross-products (two passes, no cancellation)."""
    n = y.shape[0]
    mean_y = float(y.mean())
    mean_x = float(x.mean())
    yc = y - mean_y
    xc = x - mean_x
    # einsum reduces without a temporary and without BLAS threads (which contend on a busy host)
    return (
        n,
        mean_y,
        mean_x,
        float(np.einsum("i,i->", yc, yc)),
        float(np.einsum("i,i->", xc, xc)),
        float(np.einsum("i,i->", xc, yc)),
    )


def cuped_ttest(
    metric_a: npt.ArrayLike,
    covariate_a: npt.ArrayLike,
    metric_b: npt.ArrayLike,
    covariate_b: npt.ArrayLike,
    *,
    alternative: str = "two-sided",
) -> CupedResult:
    """Compare a per-fan metric between two variants with CUPED (see the module notes).

    Args:
        metric_a: the control's per-fan metric during the test (1-d, at least 2 fans).
        covariate_a: the same fans' pre-period covariate, same length.
        metric_b: the treatment's per-fan metric.
        covariate_b: its fans' covariate.
        alternative: ``"two-sided"`` (default), ``"larger"`` (B above A) or ``"smaller"``.

    Returns:
        A :class:`CupedResult` with the variance reduction achieved.

    Raises:
        ValidationError: values that are not finite, arrays that are not 1-d,
            lengths that differ within a group, fewer than 2 fans in a group,
            or an unknown alternative; each naming its argument.
    """
    from scipy import special

    check_choice("alternative", alternative, ALTERNATIVES)
    problems = ProblemCollector()
    ya = array_real("metric_a", metric_a, problems)
    xa = array_real("covariate_a", covariate_a, problems)
    yb = array_real("metric_b", metric_b, problems)
    xb = array_real("covariate_b", covariate_b, problems)
    problems.raise_if_any()
    for name, arr in (("metric_a", ya), ("covariate_a", xa), ("metric_b", yb), ("covariate_b", xb)):
        if arr.ndim != 1:
            problems.add(name, "must be a 1-d array (one value per fan)", "invalid_type")
        elif arr.shape[0] < 2:
            problems.add(name, "needs at least 2 fans", "out_of_range")
    if not problems and xa.shape != ya.shape:
        problems.add("covariate_a", "must have one value per fan of metric_a", "invalid_value")
    if not problems and xb.shape != yb.shape:
        problems.add("covariate_b", "must have one value per fan of metric_b", "invalid_value")
    problems.raise_if_any()
    na, mya, mxa, syy_a, sxx_a, sxy_a = _moments(ya, xa)
    nb, myb, mxb, syy_b, sxx_b, sxy_b = _moments(yb, xb)
    # theta on both groups pooled: within-group sums plus the between-group term
    between = na * nb / (na + nb)
    sxx = sxx_a + sxx_b + between * (mxb - mxa) ** 2
    sxy = sxy_a + sxy_b + between * (mxb - mxa) * (myb - mya)
    theta = sxy / sxx if sxx > 0.0 else 0.0

    def adjusted_var(syy: float, sxx_g: float, sxy_g: float, n: int) -> float:
        return max(syy - 2.0 * theta * sxy_g + theta * theta * sxx_g, 0.0) / (n - 1)

    va = adjusted_var(syy_a, sxx_a, sxy_a, na) / na
    vb = adjusted_var(syy_b, sxx_b, sxy_b, nb) / nb
    raw_va = syy_a / (na - 1) / na
    raw_vb = syy_b / (nb - 1) / nb
    diff = (myb - mya) - theta * (mxb - mxa)
    se = math.sqrt(va + vb)
    raw_se = math.sqrt(raw_va + raw_vb)
    if va + vb > 0.0:
        df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
        t = diff / se
    else:
        df = float(na + nb - 2)
        t = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    if alternative == "two-sided":
        p = 2.0 * float(special.stdtr(df, -abs(t)))
    elif alternative == "larger":
        p = float(special.stdtr(df, -t))
    else:
        p = float(special.stdtr(df, t))
    reduction = 1.0 - (se * se) / (raw_se * raw_se) if raw_se > 0.0 else 0.0
    return CupedResult(
        difference=diff,
        std_error=se,
        t=t,
        df=df,
        p_value=min(p, 1.0),
        theta=theta,
        unadjusted_difference=myb - mya,
        unadjusted_std_error=raw_se,
        variance_reduction=reduction,
        alternative=alternative,
    )
