"""Budget pacing: exhaustion, the overspend alarm and projections."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from campaign_core.analytics import (
    PacingStatus,
    budget_pacing,
)
from campaign_core.analytics._pacing import OVERSPEND_ALARM_RATIO
from campaign_core.errors import ValidationError

from .strategies import T0

D = timedelta(days=1)


def test_linear_projection_of_exhaustion() -> None:
    """300 of 1000 spent in 3 days: 100 a day, out of money in 7 more days."""
    p = budget_pacing(budget=1000.0, spent=300.0, started_at=T0, now=T0 + 3 * D)
    assert p.spend_rate_per_day == pytest.approx(100.0)
    assert p.projected_exhaustion_at == T0 + 10 * D
    assert p.remaining == 700.0
    assert p.overspend_ratio == pytest.approx(0.3)
    assert (p.exhausted, p.overspend_alarm, p.status) == (False, False, PacingStatus.ON_TRACK)


def test_early_exhaustion_before_the_end() -> None:
    """Spending twice the planned pace runs out before the end date."""
    p = budget_pacing(
        budget=1000.0, spent=400.0, started_at=T0, now=T0 + 2 * D, ends_at=T0 + 10 * D
    )
    assert p.status == PacingStatus.WILL_EXHAUST_EARLY
    assert p.projected_exhaustion_at == T0 + 5 * D
    assert p.expected_spend_by_now == pytest.approx(200.0)
    assert p.pace == pytest.approx(2.0)
    assert p.projected_spend_at_end == pytest.approx(400.0 + 200.0 * 8)


def test_exhausted_and_the_overspend_alarm() -> None:
    """At the budget the campaign must pause; above 110 % the alarm fires."""
    at = budget_pacing(budget=100.0, spent=100.0, started_at=T0, now=T0 + D)
    assert (at.exhausted, at.overspend_alarm, at.status) == (True, False, PacingStatus.EXHAUSTED)
    assert at.projected_exhaustion_at == T0 + D
    over = budget_pacing(budget=100.0, spent=110.5, started_at=T0, now=T0 + D)
    assert over.overspend_alarm
    assert over.overspend_ratio == pytest.approx(1.105)
    assert OVERSPEND_ALARM_RATIO == 1.10
    edge = budget_pacing(budget=100.0, spent=110.0, started_at=T0, now=T0 + D)
    assert not edge.overspend_alarm


def test_recent_window_rate() -> None:
    """With the last day's spend, the rate follows recent spending."""
    p = budget_pacing(
        budget=1000.0,
        spent=500.0,
        started_at=T0,
        now=T0 + 10 * D,
        recent_spent=250.0,
        recent_window=D,
    )
    assert p.spend_rate_per_day == pytest.approx(250.0)
    assert p.projected_exhaustion_at == T0 + 12 * D


def test_no_budget_no_spend_not_started_and_zero_budget() -> None:
    """Edge cases have defined answers, never NaN."""
    none = budget_pacing(budget=None, spent=50.0, started_at=T0, now=T0 + D)
    assert (none.status, none.overspend_ratio, none.projected_exhaustion_at) == (
        PacingStatus.NO_BUDGET,
        None,
        None,
    )
    idle = budget_pacing(budget=100.0, spent=0.0, started_at=T0, now=T0 + D)
    assert idle.projected_exhaustion_at is None
    assert idle.spend_rate_per_day == 0.0
    early = budget_pacing(budget=100.0, spent=0.0, started_at=T0, now=T0)
    assert early.status == PacingStatus.NOT_STARTED
    assert early.spend_rate_per_day is None
    zero = budget_pacing(budget=0.0, spent=1.0, started_at=T0, now=T0 + D)
    assert (zero.exhausted, zero.overspend_alarm, zero.overspend_ratio) == (True, True, None)
    slow = budget_pacing(budget=1e12, spent=0.001, started_at=T0, now=T0 + D)
    assert slow.projected_exhaustion_at is None  # not in any foreseeable future
    for value in (slow.overspend_ratio, slow.spend_rate_per_day):
        assert value is None or math.isfinite(value)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"budget": -1.0}, "budget"),
        ({"spent": float("nan")}, "spent"),
        ({"now": T0.replace(tzinfo=None)}, "now"),
        ({"ends_at": T0 - D}, "ends_at"),
        ({"recent_spent": 5.0}, "recent_window"),
        ({"recent_spent": 500.0, "recent_window": D}, "recent_spent"),
        ({"alarm_ratio": 0.9}, "alarm_ratio"),
    ],
)
def test_bad_pacing_input(kwargs: dict[str, object], path: str) -> None:
    """Each bad argument is named."""
    base: dict[str, object] = {"budget": 100.0, "spent": 10.0, "started_at": T0, "now": T0 + D}
    base.update(kwargs)
    with pytest.raises(ValidationError) as info:
        budget_pacing(**base)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path
