"""The seed design's ``calculateSignificance``, kept to its exact convention and output."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from campaign_core._numeric_checks import check_not_above, open_unit, scalar_count
from campaign_core._numerics import norm_cdf
from campaign_core.errors import ProblemCollector

__all__ = ["SignificanceResult", "calculate_significance"]

_MISSING = object()


@attrs.frozen
class SignificanceResult:
    """The seed's ``{ significant, pValue, winner }``.

    Attributes:
        significant: ``p_value < 1 - confidence_level`` (0.05 by default).
        p_value: the two-sided pooled z-test p-value, computed as the seed
            does, ``2 * (1 - Phi(|z|))`` (so it rounds to 0 beyond ``|z|`` ≈ 8.3).
        winner: ``"A"`` if A's rate is higher, ``"B"`` if B's is, ``"tie"`` if
            equal, whether or not the difference is significant (as the seed).
    """

    significant: bool
    p_value: float
    winner: Literal["A", "B", "tie"]

    def to_dict(self) -> dict[str, Any]:
        """The seed's JSON shape: ``{"significant", "pValue", "winner"}``."""
        return {"significant": self.significant, "pValue": self.p_value, "winner": self.winner}


def _field(source: object, name: str, path: str, problems: ProblemCollector) -> float:
    if isinstance(source, Mapping):
        value = source.get(name, _MISSING)
    else:
        value = getattr(source, name, _MISSING)
    if value is _MISSING:
        problems.add(f"{path}.{name}", "is required", "required")
        return 0.0
    return scalar_count(f"{path}.{name}", value, problems)


def calculate_significance(
    a: object, b: object, *, confidence_level: float | None = None
) -> SignificanceResult:
    """The seed's significance test of variant A against variant B, verbatim.

    Pooled two-proportion z-test on conversions / impressions with
    ``z = (p1 - p2) / se`` (A minus B, the seed's orientation; everything else
    in :mod:`campaign_core.stats` uses B minus A), ``pValue = 2 * (1 - Phi(|z|))``,
    ``significant = pValue < 0.05`` (or ``< 1 - confidence_level``) and
    ``winner`` by comparing the two rates.

    One deliberate departure: when the pooled standard error is 0 (both
    variants at 0 % or both at 100 %) the seed's code divides 0 by 0 and
    returns ``NaN``; here the result is ``p = 1``, not significant, ``"tie"``.

    Args:
        a: variant A: a mapping or an object with ``impressions`` and ``conversions``.
        b: variant B, the same.
        confidence_level: when given, ``significant`` means ``p < 1 - confidence_level``.

    Returns:
        A :class:`SignificanceResult` (``to_dict()`` gives the seed's JSON).

    Raises:
        ValidationError: a missing field (path ``a.impressions``...), a count
            that is negative, fractional or not finite, 0 impressions,
            conversions above impressions, or a confidence level outside (0, 1).
    """
    threshold = (
        0.05 if confidence_level is None else 1.0 - open_unit("confidence_level", confidence_level)
    )
    problems = ProblemCollector()
    imp_a = _field(a, "impressions", "a", problems)
    conv_a = _field(a, "conversions", "a", problems)
    imp_b = _field(b, "impressions", "b", problems)
    conv_b = _field(b, "conversions", "b", problems)
    if not problems:
        for path, impressions, conversions in (("a", imp_a, conv_a), ("b", imp_b, conv_b)):
            if impressions == 0:
                problems.add(
                    f"{path}.impressions",
                    "must be positive (a rate needs impressions)",
                    "out_of_range",
                )
            check_not_above(
                f"{path}.conversions", conversions, f"{path}.impressions", impressions, problems
            )
    problems.raise_if_any()
    p1 = conv_a / imp_a
    p2 = conv_b / imp_b
    pooled = (conv_a + conv_b) / (imp_a + imp_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / imp_a + 1 / imp_b))
    if se == 0.0:
        p_value = 1.0
    else:
        z = (p1 - p2) / se
        p_value = 2 * (1 - norm_cdf(abs(z)))
    winner: Literal["A", "B", "tie"] = "A" if p1 > p2 else "B" if p1 < p2 else "tie"
    return SignificanceResult(p_value < threshold, p_value, winner)
