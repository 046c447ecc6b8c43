"""Numeric kernels shared by the statistics, the A/B decision and analytics.

The standard normal distribution, fast on scalars and vectorized on arrays, and means
and variances from sufficient statistics with exact products.

The scalar functions use :func:`math.erfc` and :class:`statistics.NormalDist`
(Wichura's AS241, accurate to about 1e-16) so that a scalar test costs a few
microseconds instead of the tens a numpy/scipy round trip takes. ``erfc`` keeps
full relative precision in the tails, where ``1 - cdf`` would round to zero.
The array functions are scipy's ``ndtr``/``ndtri`` ufuncs.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "mean_and_variance",
    "norm_cdf",
    "norm_cdf_array",
    "norm_ppf",
    "norm_ppf_array",
    "norm_sf",
    "norm_sf_array",
    "p_value",
    "p_value_array",
]

_SQRT2 = math.sqrt(2.0)
_STANDARD = NormalDist()


def norm_sf(x: float) -> float:
    """P(Z > x)."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_cdf(x: float) -> float:
    """P(Z <= x)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_ppf(q: float) -> float:
    """The quantile: x with P(Z <= x) = q, for q in (0, 1)."""
    return _STANDARD.inv_cdf(q)


def p_value(z: float, alternative: str) -> float:
    """The p-value of a z statistic: two-sided, or one-sided upper/lower."""
    if alternative == "two-sided":
        return math.erfc(abs(z) / _SQRT2)
    if alternative == "larger":
        return norm_sf(z)
    return norm_cdf(z)


def norm_sf_array(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorized P(Z > x)."""
    from scipy import special

    return np.asarray(special.ndtr(np.negative(x)), dtype=np.float64)


def norm_cdf_array(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorized P(Z <= x)."""
    from scipy import special

    return np.asarray(special.ndtr(x), dtype=np.float64)


def norm_ppf_array(q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorized quantile."""
    from scipy import special

    return np.asarray(special.ndtri(q), dtype=np.float64)


def p_value_array(z: npt.NDArray[Any], alternative: str) -> npt.NDArray[np.float64]:
    """Vectorized :func:`p_value`."""
    from scipy import special

    if alternative == "two-sided":
        out = special.ndtr(-np.abs(z))
        out *= 2.0
        return np.asarray(out, dtype=np.float64)
    if alternative == "larger":
        return np.asarray(special.ndtr(-z), dtype=np.float64)
    return np.asarray(special.ndtr(z), dtype=np.float64)


def _two_product(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``a * b`` as ``p + e`` exactly (Dekker's product with Veltkamp's split)."""
    p = a * b

    def split(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = 134217729.0 * x  # 2**27 + 1
        hi = c - (c - x)
        return hi, x - hi

    ah, al = split(a)
    bh, bl = split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def mean_and_variance(n: Any, total: Any, total_sq: Any) -> tuple[FloatArray, FloatArray]:
    """Sample mean and unbiased variance from ``n``, the sum and the sum of squares.

    The variance is ``(n sum_sq - sum²) / (n (n - 1))`` with both products
    formed exactly (error-free transformations), so the cancellation between
    them costs no precision when the values are large and their spread small
    (8789, 8791, 8792 gives the variance of the data, not of the rounding).
    Rounding can still leave a tiny negative variance when every value is
    equal; it is clamped to 0.
    """
    n = np.asarray(n, dtype=np.float64)
    s = np.asarray(total, dtype=np.float64)
    q = np.asarray(total_sq, dtype=np.float64)
    mean = s / n
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pq, eq = _two_product(n, q)
        ps, es = _two_product(s, s)
        exact = ((pq - ps) + (eq - es)) / (n * (n - 1.0))
        # beyond ~1e290 the split overflows: the plain formula is all floats can do there
        plain = (q - mean * s) / (n - 1.0)
        var = np.where(np.isfinite(exact), exact, plain)
    return mean, np.maximum(np.nan_to_num(var, nan=0.0, posinf=np.inf), 0.0)
