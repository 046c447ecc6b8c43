"""Sample-ratio mismatch: are the observed group sizes consistent with the configured split?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, overload

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._numeric_checks import FloatArray, array_count, array_real
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.stats._common import F

__all__ = ["SRM_ALPHA", "SrmResult", "srm_test"]

#: The conventional threshold below which a mismatch is declared (and a winner blocked).
SRM_ALPHA = 0.001


@attrs.frozen
class SrmResult(Generic[F]):
    """The result of :func:`srm_test`.

    Attributes:
        statistic: Pearson's chi-square statistic (``inf`` when a group with
            weight 0 received observations).
        p_value: its upper-tail probability with ``df`` degrees of freedom.
        df: degrees of freedom: the number of groups with positive weight, minus 1.
        expected: the expected counts, shaped like ``counts``.
        mismatch: whether ``p_value < SRM_ALPHA`` (0.001).
    """

    statistic: F
    p_value: F
    df: int
    expected: FloatArray
    mismatch: bool | npt.NDArray[np.bool_]


@overload
def srm_test(counts: Mapping[str, Any], weights: Mapping[str, Any]) -> SrmResult[float]: ...
@overload
def srm_test(counts: npt.ArrayLike, weights: npt.ArrayLike) -> SrmResult[Any]: ...
def srm_test(counts: Any, weights: Any) -> SrmResult[Any]:
    """Chi-square goodness of fit of observed group sizes to the configured weights.

    Weights are a traffic split: any non-negative numbers with a positive sum
    (usually 100 or 1); they are normalized. A group with weight 0 is left out
    of the test when it has no observations, and makes the mismatch certain
    (``statistic = inf``, ``p = 0``) when it has some. With no observations at
    all there is no evidence of a mismatch: ``statistic = 0``, ``p = 1``.

    Args:
        counts: observations per group (assignments or impressions): a mapping
            from variant key to count, a sequence of counts (one experiment), or
            an array of shape ``(..., k)`` (one experiment per row).
        weights: the configured split, a mapping with the same keys as
            ``counts`` or a sequence of length ``k``.

    Returns:
        An :class:`SrmResult`: floats for one experiment (1-D ``counts``),
        arrays over the leading axes otherwise.

    Raises:
        ValidationError: bad counts or weights (negative, not finite, fractional
            counts), mismatched keys or lengths, fewer than 2 groups, or weights
            summing to 0.
    """
    from scipy import special

    problems = ProblemCollector()
    if isinstance(counts, Mapping) or isinstance(weights, Mapping):
        if not (isinstance(counts, Mapping) and isinstance(weights, Mapping)):
            raise ValidationError.single(
                "weights", "must be a mapping when counts is one (and vice versa)", "invalid_type"
            )
        keys = list(counts)
        for key in weights:
            if key not in counts:
                problems.add(f"weights.{key}", "has no matching key in counts", "unknown_field")
        for key in keys:
            if key not in weights:
                problems.add(f"weights.{key}", "is missing (counts has this key)", "required")
        problems.raise_if_any()
        counts = [counts[key] for key in keys]
        weights = [weights[key] for key in keys]
    observed = array_count("counts", counts, problems)
    split = array_real("weights", weights, problems, low=0.0)
    problems.raise_if_any()
    if observed.ndim == 0 or split.ndim != 1:
        raise ValidationError.single(
            "counts" if observed.ndim == 0 else "weights",
            "must be a sequence with one entry per group",
            "invalid_value",
        )
    k = split.shape[0]
    if observed.shape[-1] != k:
        raise ValidationError.single(
            "weights",
            f"has {k} entries but counts has {observed.shape[-1]} groups",
            "invalid_value",
        )
    if k < 2:
        raise ValidationError.single("counts", "needs at least 2 groups", "invalid_value")
    total_weight = float(split.sum())
    if total_weight <= 0.0:
        raise ValidationError.single("weights", "must have a positive sum", "out_of_range")
    share = split / total_weight
    obs = observed.astype(np.float64)
    total = obs.sum(axis=-1, keepdims=True)
    expected = total * share
    active = share > 0.0
    df = int(active.sum()) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(active, (obs - expected) ** 2 / np.where(active, expected, 1.0), 0.0)
    # Observations in a group that should get none: certain mismatch.
    impossible = ((obs > 0.0) & ~active).any(axis=-1)
    statistic = np.where(total[..., 0] > 0.0, terms.sum(axis=-1), 0.0)
    statistic = np.where(impossible, np.inf, statistic)
    if df >= 1:
        p = np.where(impossible, 0.0, special.chdtrc(df, statistic))
    else:
        # One active group: nothing to test unless an inactive group got traffic.
        p = np.where(impossible, 0.0, 1.0)
    p = np.where(total[..., 0] > 0.0, p, 1.0)
    if observed.ndim == 1:
        pf = float(p)
        return SrmResult(float(statistic), pf, df, expected.reshape(k), pf < SRM_ALPHA)
    pa = np.asarray(p, dtype=np.float64)
    return SrmResult(np.asarray(statistic, dtype=np.float64), pa, df, expected, pa < SRM_ALPHA)
