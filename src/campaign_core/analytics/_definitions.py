"""The metric definitions: one place that says what CTR, conversion rate, ROI and CPA are.

Every number the analytics package reports goes through :func:`ratio` and
:meth:`MetricTotals.from_counts`, so the definitions (and what happens on a
zero denominator) cannot drift between the totals, the breakdowns, the trends,
the roll-ups and the reports.

* ``ctr = clicks / impressions``
* ``conversion_rate = conversions / clicks``
* ``roi = (revenue - spent) / spent``
* ``cpa = spent / conversions``
* ``reach`` = distinct identified fans with at least one impression.

A zero denominator gives ``None`` (JSON ``null``), never NaN or infinity.
Raw tracking does not guarantee ``clicks <= impressions`` (a click through a
shared link has no tracked impression) nor ``conversions <= clicks``
(view-through conversions); such rates are reported as computed, above 1, and
the totals carry a :class:`DataQualityFlag` saying so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from campaign_core._validate import v_int, v_number
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.models import StrEnum

__all__ = [
    "MAX_TOTAL_MONEY",
    "DataQualityFlag",
    "MetricTotals",
    "conversion_rate",
    "cpa",
    "ctr",
    "ratio",
    "roi",
]

#: The largest total amount (revenue or spend) accepted: far beyond any real
#: campaign, small enough that sums and squares stay exact to the cent.
MAX_TOTAL_MONEY = 1e15
_MAX_COUNT = 2**53


class DataQualityFlag(StrEnum):
    """Something in the counts that raw tracking allows but a reader should know."""

    #: More clicks than impressions: CTR is above 1 (clicks without a tracked impression).
    CLICKS_EXCEED_IMPRESSIONS = "clicks_exceed_impressions"
    #: More conversions than clicks: the conversion rate is above 1 (view-through conversions).
    CONVERSIONS_EXCEED_CLICKS = "conversions_exceed_clicks"
    #: Revenue without any conversion (only possible in pre-aggregated counts).
    REVENUE_WITHOUT_CONVERSIONS = "revenue_without_conversions"


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is 0.

    Args:
        numerator: a finite number.
        denominator: a finite number.

    Returns:
        The quotient as a float; ``None`` for a zero denominator (and for a
        denominator so tiny that the quotient overflows): never NaN or infinity.

    Raises:
        ValidationError: an argument that is not a finite number.
    """
    top = _finite_number(numerator, "numerator")
    bottom = _finite_number(denominator, "denominator")
    if bottom == 0:
        return None
    try:
        result = top / bottom
    except OverflowError:  # pragma: no cover - floats overflow to inf, not an exception
        return None
    return result if math.isfinite(result) else None


def _finite_number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError.single(
            path, f"must be a number, got {type(value).__name__}", "invalid_type"
        )
    result = float(value)
    if not math.isfinite(result):
        raise ValidationError.single(path, "must be finite (not NaN or infinity)", "not_finite")
    return result


def ctr(clicks: float, impressions: float) -> float | None:
    """Click-through rate.

    Args:
        clicks: the clicks.
        impressions: the impressions.

    Returns:
        ``clicks / impressions``; ``None`` without impressions. Above 1 when
        raw tracking has more clicks than impressions (see :class:`DataQualityFlag`).

    Raises:
        ValidationError: an argument that is not a finite number.
    """
    return ratio(clicks, impressions)


def conversion_rate(conversions: float, clicks: float) -> float | None:
    """Conversion rate.

    Args:
        conversions: the conversions.
        clicks: the clicks.

    Returns:
        ``conversions / clicks``; ``None`` without clicks.

    Raises:
        ValidationError: an argument that is not a finite number.
    """
    return ratio(conversions, clicks)


def roi(revenue: float, spent: float) -> float | None:
    """Return on investment.

    A campaign that earned money without spending any has no defined ROI (it
    would be infinite); its profit says everything.

    Args:
        revenue: the revenue.
        spent: the spend.

    Returns:
        ``(revenue - spent) / spent`` (at least -1); ``None`` without spend.

    Raises:
        ValidationError: an argument that is not a finite number.
    """
    gain = _finite_number(revenue, "revenue") - _finite_number(spent, "spent")
    return ratio(gain, spent)


def cpa(spent: float, conversions: float) -> float | None:
    """Cost per acquisition.

    Args:
        spent: the spend.
        conversions: the conversions.

    Returns:
        ``spent / conversions``; ``None`` without conversions.

    Raises:
        ValidationError: an argument that is not a finite number.
    """
    return ratio(spent, conversions)


def _flags(
    impressions: int, clicks: int, conversions: int, revenue: float
) -> tuple[DataQualityFlag, ...]:
    out: list[DataQualityFlag] = []
    if clicks > impressions:
        out.append(DataQualityFlag.CLICKS_EXCEED_IMPRESSIONS)
    if conversions > clicks:
        out.append(DataQualityFlag.CONVERSIONS_EXCEED_CLICKS)
    if revenue != 0 and conversions == 0:
        out.append(DataQualityFlag.REVENUE_WITHOUT_CONVERSIONS)
    return tuple(out)


@attrs.frozen(kw_only=True)
class MetricTotals:
    """The numbers of one campaign, platform, variant or time bucket.

    Build it with :meth:`from_counts` (which validates and derives the rates);
    the analytics functions return it ready-made.

    Attributes:
        impressions: times shown.
        reach: distinct identified fans with at least one impression; ``None``
            when fan identities were not available. Not additive: a fan seen
            on two platforms counts once in the campaign's reach.
        clicks: clicks.
        conversions: conversions.
        revenue: the sum of the conversions' values.
        spent: the sum of the spend recorded.
        revenue_sum_squares: the sum of the squared conversion values (what a
            Welch test of revenue per click or per impression needs); ``None``
            when not tracked.
        ctr: ``clicks / impressions`` (``None`` without impressions).
        conversion_rate: ``conversions / clicks`` (``None`` without clicks).
        roi: ``(revenue - spent) / spent`` (``None`` without spend).
        cpa: ``spent / conversions`` (``None`` without conversions).
        flags: data-quality flags (a rate above 1 is reported, and flagged).
    """

    impressions: int = 0
    reach: int | None = None
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    spent: float = 0.0
    revenue_sum_squares: float | None = None
    ctr: float | None = None
    conversion_rate: float | None = None
    roi: float | None = None
    cpa: float | None = None
    flags: tuple[DataQualityFlag, ...] = ()

    @property
    def profit(self) -> float:
        """``revenue - spent``."""
        return self.revenue - self.spent

    @classmethod
    def from_counts(
        cls,
        *,
        impressions: int = 0,
        clicks: int = 0,
        conversions: int = 0,
        revenue: float = 0.0,
        spent: float = 0.0,
        reach: int | None = None,
        revenue_sum_squares: float | None = None,
        path: str = "",
    ) -> MetricTotals:
        """Totals from raw counts, with every rate derived by the definitions.

        Args:
            impressions: a count (an integer in ``[0, 2**53]``).
            clicks: a count.
            conversions: a count.
            revenue: the sum of conversion values, finite, in ``[0, 1e15]``.
            spent: the sum of spend, finite, in ``[0, 1e15]``.
            reach: distinct fans with an impression (at most ``impressions``),
                or ``None`` when unknown.
            revenue_sum_squares: the sum of squared conversion values, or
                ``None``; it cannot be below ``revenue² / conversions``.
            path: where these counts sit in the caller's input (error paths).

        Returns:
            The totals.

        Raises:
            ValidationError: every bad count or amount, each with its path.
        """
        problems = ProblemCollector()
        clean = _check_counts(
            {
                "impressions": impressions,
                "clicks": clicks,
                "conversions": conversions,
                "revenue": revenue,
                "spent": spent,
                "reach": reach,
                "revenue_sum_squares": revenue_sum_squares,
            },
            path,
            problems,
        )
        problems.raise_if_any()
        return make_totals(**clean)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_counts(
    values: Mapping[str, Any], path: str, problems: ProblemCollector
) -> dict[str, Any]:
    """Validate the raw counts of :meth:`MetricTotals.from_counts` (shared with the builders)."""
    out: dict[str, Any] = {}
    for name in ("impressions", "clicks", "conversions"):
        out[name] = v_int(
            _as_py(values[name]), _join(path, name), problems, minimum=0, maximum=_MAX_COUNT
        )
    for name in ("revenue", "spent"):
        out[name] = v_number(
            _as_py(values[name]), _join(path, name), problems, minimum=0.0, maximum=MAX_TOTAL_MONEY
        )
    reach = values.get("reach")
    out["reach"] = (
        None
        if reach is None
        else v_int(_as_py(reach), _join(path, "reach"), problems, minimum=0, maximum=_MAX_COUNT)
    )
    sumsq = values.get("revenue_sum_squares")
    out["revenue_sum_squares"] = (
        None
        if sumsq is None
        else v_number(_as_py(sumsq), _join(path, "revenue_sum_squares"), problems, minimum=0.0)
    )
    if problems:
        return out
    if out["reach"] is not None and out["reach"] > out["impressions"]:
        problems.add(
            _join(path, "reach"),
            f"cannot exceed impressions ({out['reach']} > {out['impressions']}): "
            "reach counts distinct fans among the impressions",
            "out_of_range",
        )
    sq = out["revenue_sum_squares"]
    if sq is not None:
        n, total = out["conversions"], out["revenue"]
        # Cauchy-Schwarz: revenue² <= conversions * sum of squares (with rounding slack).
        if total * total > n * sq * (1.0 + 1e-9) + 1e-9:
            problems.add(
                _join(path, "revenue_sum_squares"),
                "must be at least revenue² / conversions (a sum of squares cannot be smaller)",
                "out_of_range",
            )
    return out


def _as_py(value: Any) -> Any:
    """numpy scalars to Python numbers, so the shared field checks accept them."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, bool | int | float) and callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def make_totals(
    *,
    impressions: int,
    clicks: int,
    conversions: int,
    revenue: float,
    spent: float,
    reach: int | None = None,
    revenue_sum_squares: float | None = None,
) -> MetricTotals:
    """Totals from counts already known to be valid (the package's internal constructor)."""
    impressions = int(impressions)
    clicks = int(clicks)
    conversions = int(conversions)
    revenue = _clean_money(revenue)
    spent = _clean_money(spent)
    return MetricTotals(
        impressions=impressions,
        reach=None if reach is None else int(reach),
        clicks=clicks,
        conversions=conversions,
        revenue=revenue,
        spent=spent,
        revenue_sum_squares=None
        if revenue_sum_squares is None
        else _clean_money(revenue_sum_squares),
        ctr=ctr(clicks, impressions),
        conversion_rate=conversion_rate(conversions, clicks),
        roi=roi(revenue, spent),
        cpa=cpa(spent, conversions),
        flags=_flags(impressions, clicks, conversions, revenue),
    )


def _clean_money(value: float) -> float:
    result = float(value)
    if not math.isfinite(result):  # guarded by the validators; a last line of defence
        raise AssertionError("non-finite amount reached make_totals")
    return result + 0.0  # turns -0.0 into 0.0
