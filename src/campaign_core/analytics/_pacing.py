"""Budget pacing: when will the budget run out, and is it overspent?

:func:`budget_pacing` reports, with the same thresholds the services apply,
the automatic pause (``exhausted``: the spend reached the budget; the campaign
service's budget rule pauses it when spend is recorded) and the overspend alarm
(the seed's "Budget Overspend (>110% of budget)": ``overspend_alarm``, which
the analytics service's spend tracking raises with :data:`OVERSPEND_ALARM_RATIO`).
The reports show it, and the recommendations use it to spot a profitable
campaign that will run dry early.

The spend rate is the average since the start, or over a recent window when
the caller passes the spend of that window (better after a budget change).
The projection is linear: it assumes the rate holds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import attrs

from campaign_core._validate import MAX_MONEY
from campaign_core.analytics._definitions import ratio
from campaign_core.clock import truncate_ms
from campaign_core.errors import ProblemCollector
from campaign_core.models import StrEnum

__all__ = ["OVERSPEND_ALARM_RATIO", "BudgetPacing", "PacingStatus", "budget_pacing"]

#: The seed's alarm: spend above 110 % of the budget.
OVERSPEND_ALARM_RATIO = 1.10
_DAY = timedelta(days=1)


class PacingStatus(StrEnum):
    """Where a campaign's budget stands."""

    NO_BUDGET = "no_budget"
    NOT_STARTED = "not_started"
    EXHAUSTED = "exhausted"
    WILL_EXHAUST_EARLY = "will_exhaust_early"
    ON_TRACK = "on_track"


@attrs.frozen(kw_only=True)
class BudgetPacing:
    """A campaign's spend against its budget, now and projected.

    Attributes:
        budget: the budget (``None``: none).
        spent: the spend so far.
        remaining: ``max(0, budget - spent)``.
        overspend_ratio: ``spent / budget`` (1.0 = the budget exactly; above
            1.10 the alarm fires); ``None`` without a budget or with a budget of 0.
        exhausted: ``spent >= budget``: the campaign must pause.
        overspend_alarm: ``spent > 1.10 x budget`` (or any spend on a budget of 0).
        spend_rate_per_day: spend per day, over the window used.
        projected_exhaustion_at: when the budget runs out at that rate (``now``
            once exhausted; ``None`` without a budget or without spend).
        ends_at: the planned end, if any.
        projected_spend_at_end: ``spent + rate x (ends_at - now)``, when the
            campaign has an end.
        expected_spend_by_now: the linear plan's spend by now,
            ``budget x elapsed / (ends_at - started_at)``, when it has an end.
        pace: ``spent / expected_spend_by_now`` (above 1: spending faster than planned).
        status: ``no_budget``, ``not_started``, ``exhausted``,
            ``will_exhaust_early`` (before ``ends_at``) or ``on_track``.
    """

    budget: float | None
    spent: float
    remaining: float | None
    overspend_ratio: float | None
    exhausted: bool
    overspend_alarm: bool
    spend_rate_per_day: float | None
    projected_exhaustion_at: datetime | None
    ends_at: datetime | None
    projected_spend_at_end: float | None
    expected_spend_by_now: float | None
    pace: float | None
    status: PacingStatus


def _money(
    value: object, path: str, problems: ProblemCollector, *, optional: bool = False
) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"must be a number, got {type(value).__name__}", "invalid_type")
        return None
    if not math.isfinite(value):
        problems.add(path, "must be finite (not NaN or infinity)", "not_finite")
        return None
    if value < 0 or value > MAX_MONEY * 1000:
        problems.add(path, "must be an amount >= 0", "out_of_range")
        return None
    return float(value)


def _instant(
    value: object, path: str, problems: ProblemCollector, *, optional: bool = False
) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        problems.add(path, "must be an aware datetime", "invalid_type")
        return None
    return value.astimezone(UTC)


def budget_pacing(
    *,
    budget: float | None,
    spent: float,
    started_at: datetime,
    now: datetime,
    ends_at: datetime | None = None,
    recent_spent: float | None = None,
    recent_window: timedelta | None = None,
    alarm_ratio: float = OVERSPEND_ALARM_RATIO,
) -> BudgetPacing:
    """Project a campaign's budget.

    Args:
        budget: the budget (``None`` for none).
        spent: the spend so far (the campaign's ``spent``).
        started_at: when the campaign started spending (its ``started_at``).
        now: the current instant, from the caller's clock.
        ends_at: the planned end, if any.
        recent_spent: the spend over the last ``recent_window`` (with it):
            the rate then follows recent spending instead of the average.
        recent_window: the window ``recent_spent`` covers (positive).
        alarm_ratio: the overspend alarm threshold (default 1.10), above 1.

    Returns:
        The :class:`BudgetPacing`.

    Raises:
        ValidationError: bad amounts, naive datetimes, ``recent_spent`` without
            ``recent_window`` (or the reverse), or ``recent_spent > spent``.
    """
    problems = ProblemCollector()
    budget_v = _money(budget, "budget", problems, optional=True)
    spent_v = _money(spent, "spent", problems)
    start = _instant(started_at, "started_at", problems)
    current = _instant(now, "now", problems)
    end = _instant(ends_at, "ends_at", problems, optional=True)
    recent_v = _money(recent_spent, "recent_spent", problems, optional=True)
    if (recent_spent is None) != (recent_window is None):
        problems.add("recent_window", "recent_spent and recent_window go together", "invalid_value")
    if recent_window is not None and (
        not isinstance(recent_window, timedelta) or recent_window <= timedelta(0)
    ):
        problems.add("recent_window", "must be a positive timedelta", "invalid_value")
    if (
        isinstance(alarm_ratio, bool)
        or not isinstance(alarm_ratio, int | float)
        or not math.isfinite(alarm_ratio)
        or alarm_ratio < 1
    ):
        problems.add("alarm_ratio", "must be a finite number >= 1", "out_of_range")
    if not problems and recent_v is not None and spent_v is not None and recent_v > spent_v:
        problems.add("recent_spent", "cannot exceed spent", "out_of_range")
    if not problems and end is not None and start is not None and end <= start:
        problems.add("ends_at", "must be after started_at", "out_of_range")
    problems.raise_if_any()
    assert spent_v is not None
    assert start is not None
    assert current is not None

    elapsed = current - start
    rate: float | None = None
    if recent_v is not None and recent_window is not None:
        rate = recent_v / (recent_window / _DAY)
    elif elapsed > timedelta(0):
        rate = spent_v / (elapsed / _DAY)

    expected = pace = None
    if end is not None and budget_v is not None:
        fraction = min(1.0, max(0.0, elapsed / (end - start)))
        expected = budget_v * fraction
        pace = ratio(spent_v, expected)
    projected_end_spend = None
    if end is not None and rate is not None:
        projected_end_spend = spent_v + rate * max(0.0, (end - current) / _DAY)

    if budget_v is None:
        return BudgetPacing(
            budget=None,
            spent=spent_v,
            remaining=None,
            overspend_ratio=None,
            exhausted=False,
            overspend_alarm=False,
            spend_rate_per_day=rate,
            projected_exhaustion_at=None,
            ends_at=end,
            projected_spend_at_end=projected_end_spend,
            expected_spend_by_now=None,
            pace=None,
            status=PacingStatus.NO_BUDGET,
        )
    remaining = max(0.0, budget_v - spent_v)
    spend_ratio = ratio(spent_v, budget_v)
    exhausted = spent_v >= budget_v
    alarm = spent_v > alarm_ratio * budget_v if budget_v > 0 else spent_v > 0
    exhaustion: datetime | None
    if exhausted:
        exhaustion = current
    elif rate:
        days = remaining / rate
        # beyond the datetime range the answer is "not in any foreseeable future"
        exhaustion = truncate_ms(current + timedelta(days=days)) if days < 36500 else None
    else:
        exhaustion = None
    if exhausted:
        status = PacingStatus.EXHAUSTED
    elif elapsed <= timedelta(0):
        status = PacingStatus.NOT_STARTED
    elif end is not None and exhaustion is not None and exhaustion < end:
        status = PacingStatus.WILL_EXHAUST_EARLY
    else:
        status = PacingStatus.ON_TRACK
    return BudgetPacing(
        budget=budget_v,
        spent=spent_v,
        remaining=remaining,
        overspend_ratio=spend_ratio,
        exhausted=exhausted,
        overspend_alarm=alarm,
        spend_rate_per_day=rate,
        projected_exhaustion_at=exhaustion,
        ends_at=end,
        projected_spend_at_end=projected_end_spend,
        expected_spend_by_now=expected,
        pace=pace,
        status=status,
    )
