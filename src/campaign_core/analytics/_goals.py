"""Campaign goals: how far a campaign is toward each of its ``goals`` (the seed's JSON).

A campaign's ``goals`` is the seed's object of targets, ``{"conversions": 100,
"revenue": 5000, "engagement": 1000}``. :func:`goal_progress` reads each target against
the campaign's totals:

| goal key | measured as |
|---|---|
| ``conversions``, ``revenue``, ``clicks``, ``impressions``, ``reach`` | the total of that name |
| ``engagement`` | clicks (the tracked interactions with the campaign) |
| ``profit`` | revenue - spent |
| ``roi``, ``ctr``, ``conversionRate`` (or ``conversion_rate``) | the rate, as in the metrics definitions |

A key it does not know is listed with ``actual`` None (not measured). For goals that
accumulate (every key but the rates) and a campaign with a budget and some spend,
``projected_at_budget`` is the share of the target the campaign reaches when the
whole budget is spent at its cost so far (``actual / spent * budget / target``): below 1
means the budget runs out before the goal is reached. The recommendations use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from campaign_core.analytics._definitions import MetricTotals

__all__ = ["GoalProgress", "goal_progress"]

_COUNTS: Final = {
    "conversions": "conversions",
    "revenue": "revenue",
    "clicks": "clicks",
    "impressions": "impressions",
    "reach": "reach",
    "engagement": "clicks",
}
_RATES: Final = {
    "roi": "roi",
    "ctr": "ctr",
    "conversionRate": "conversion_rate",
    "conversion_rate": "conversion_rate",
}


@attrs.frozen(kw_only=True)
class GoalProgress:
    """Where a campaign stands on one of its goals.

    Attributes:
        metric: the goal's key as written (``conversions``).
        target: the goal.
        actual: the campaign's value of that metric (None: a key this library
            does not measure, or a rate without its denominator yet).
        progress: ``actual / target`` (None without an actual or with a zero target).
        met: whether ``actual`` reached the target (None when not measured).
        remaining: how much is still missing (0 once met; None when not measured).
        projected_at_budget: the share of the target reached when the whole
            budget is spent at the cost so far (accumulating goals of a campaign
            with a budget and some spend, not yet met; else None).
    """

    metric: str
    target: float
    actual: float | None = None
    progress: float | None = None
    met: bool | None = None
    remaining: float | None = None
    projected_at_budget: float | None = None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def goal_progress(
    goals: Mapping[str, Any] | None,
    totals: MetricTotals,
    *,
    budget: float | None = None,
    spent: float | None = None,
) -> tuple[GoalProgress, ...]:
    """Each goal of a campaign against its totals, sorted by key.

    Args:
        goals: the campaign's ``goals`` (non-numeric targets are left out).
        totals: the campaign's totals.
        budget: its budget, for the projection.
        spent: the spend counted against the budget (default ``totals.spent``).

    Returns:
        One :class:`GoalProgress` per numeric goal.
    """
    out: list[GoalProgress] = []
    spend = totals.spent if spent is None else spent
    for key in sorted(goals or {}):
        target = _finite((goals or {})[key])
        if target is None:
            continue
        actual: float | None
        accumulates = key in _COUNTS or key == "profit"
        if key in _COUNTS:
            actual = _finite(getattr(totals, _COUNTS[key]))
        elif key == "profit":
            actual = _finite(totals.revenue - totals.spent)
        elif key in _RATES:
            actual = _finite(getattr(totals, _RATES[key]))
        else:
            actual = None
        if actual is None:
            out.append(GoalProgress(metric=key, target=target))
            continue
        met = actual >= target
        projected = None
        if (
            accumulates
            and not met
            and target > 0
            and budget is not None
            and budget > 0
            and spend > 0
            and actual >= 0
        ):
            projected = _finite(actual / spend * budget / target)
        out.append(
            GoalProgress(
                metric=key,
                target=target,
                actual=actual,
                progress=_finite(actual / target) if target else None,
                met=met,
                remaining=max(0.0, target - actual),
                projected_at_budget=projected,
            )
        )
    return tuple(out)
