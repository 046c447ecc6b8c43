"""Adjusting p-values for multiple comparisons (A/B/n tests)."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import FloatArray, array_real, check_choice
from campaign_core.errors import ProblemCollector, ValidationError

__all__ = ["adjust_pvalues"]

AdjustMethod: TypeAlias = Literal["holm", "bonferroni", "bh", "sidak"]
_METHODS = ("holm", "bonferroni", "bh", "sidak")


def adjust_pvalues(pvalues: npt.ArrayLike, method: AdjustMethod = "holm") -> FloatArray:
    """Adjusted p-values for a family of tests (along the last axis).

    Compare each adjusted p-value with the level you would use for one test.

    * ``"holm"`` (default): Holm's step-down; controls the family-wise error
      rate under any dependence and is uniformly more powerful than Bonferroni.
    * ``"bonferroni"``: ``min(1, m p)``.
    * ``"sidak"``: ``1 - (1 - p)^m``, computed as ``-expm1(m log1p(-p))`` to
      keep small p-values exact; FWER under independence.
    * ``"bh"``: Benjamini-Hochberg step-up; controls the false discovery rate
      (independent or positively dependent tests).

    Args:
        pvalues: p-values in ``[0, 1]``; 1-D (one family) or N-D (one family
            per row of the last axis).
        method: ``"holm"``, ``"bonferroni"``, ``"bh"`` or ``"sidak"``.

    Returns:
        A float64 array of the same shape, each value in ``[0, 1]`` and never
        below the raw p-value.

    Raises:
        ValidationError: a p-value that is not finite or outside ``[0, 1]``
            (path ``pvalues[i]``), a scalar input, or an unknown method.
    """
    check_choice("method", method, _METHODS)
    problems = ProblemCollector()
    p = array_real("pvalues", pvalues, problems, low=0.0, high=1.0)
    problems.raise_if_any()
    if p.ndim == 0:
        raise ValidationError.single("pvalues", "must be a sequence of p-values", "invalid_value")
    m = p.shape[-1]
    if m == 0:
        return p.astype(np.float64)
    if method == "bonferroni":
        return np.asarray(np.minimum(p * m, 1.0), dtype=np.float64)
    if method == "sidak":
        with np.errstate(divide="ignore"):  # p = 1: log1p(-1) = -inf, adjusted p = 1 exactly
            return np.asarray(-np.expm1(m * np.log1p(-p)), dtype=np.float64)
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    adjusted: Any
    if method == "holm":
        adjusted = np.maximum.accumulate(ranked * np.arange(m, 0, -1), axis=-1)
        adjusted = np.minimum(adjusted, 1.0)
    else:
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.flip(np.minimum.accumulate(np.flip(scaled, axis=-1), axis=-1), axis=-1)
        adjusted = np.minimum(adjusted, 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.asarray(out, dtype=np.float64)
