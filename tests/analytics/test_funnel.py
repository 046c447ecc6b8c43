"""The conversion funnel and the ROI view."""

from __future__ import annotations

import pytest

from campaign_core.analytics import MetricTotals, campaign_roi, conversion_funnel
from campaign_core.errors import ValidationError


def test_funnel_steps_rates_and_drop_offs() -> None:
    """1000 -> 100 -> 10 gives 10 % steps, 900 and 90 dropped."""
    f = conversion_funnel(
        MetricTotals.from_counts(impressions=1000, clicks=100, conversions=10, reach=400)
    )
    assert [s.name for s in f.steps] == ["impressions", "clicks", "conversions"]
    first, clicks, conv = f.steps
    assert (first.rate_from_previous, first.drop_off, first.rate_from_start) == (None, None, 1.0)
    assert (clicks.rate_from_previous, clicks.drop_off, clicks.drop_off_rate) == (0.1, 900, 0.9)
    assert conv.rate_from_previous == pytest.approx(0.1)
    assert conv.rate_from_start == pytest.approx(0.01)
    assert conv.drop_off == 90
    assert f.overall_rate == pytest.approx(0.01)
    assert f.reach == 400


def test_empty_funnel_has_no_rates() -> None:
    """With no impressions, every rate is None."""
    f = conversion_funnel(MetricTotals.from_counts())
    assert all(s.rate_from_start is None for s in f.steps)
    assert f.steps[1].rate_from_previous is None
    assert f.overall_rate is None


def test_inconsistent_funnel_is_reported_honestly() -> None:
    """More clicks than impressions: a negative drop-off and the flag, not a clamp."""
    f = conversion_funnel(MetricTotals.from_counts(impressions=5, clicks=8))
    assert f.steps[1].drop_off == -3
    assert f.steps[1].rate_from_previous == 1.6
    assert f.flags


def test_roi_view_and_break_even() -> None:
    """Revenue 300 on 400 spent with 10 conversions: 14 conversions break even, 4 to go."""
    r = campaign_roi(
        MetricTotals.from_counts(conversions=10, clicks=10, revenue=300.0, spent=400.0),
        budget=500.0,
    )
    assert r.profit == -100.0
    assert r.roi == pytest.approx(-0.25)
    assert r.roas == pytest.approx(0.75)
    assert r.cpa == pytest.approx(40.0)
    assert r.average_order_value == pytest.approx(30.0)
    assert r.break_even_conversions == 14
    assert r.conversions_to_break_even == 4
    assert r.revenue_to_break_even == 100.0
    assert not r.profitable
    assert r.budget_remaining == 100.0


def test_break_even_exactly_on_a_conversion_boundary() -> None:
    """Spend equal to 3 orders needs exactly 3 conversions, not 4 through rounding."""
    r = campaign_roi(MetricTotals.from_counts(conversions=3, clicks=3, revenue=100.0, spent=100.0))
    assert r.break_even_conversions == 3
    assert r.conversions_to_break_even == 0


def test_roi_without_spend_or_conversions() -> None:
    """No spend: ROI and ROAS undefined; no conversion: no order value, no break-even count."""
    r = campaign_roi(MetricTotals.from_counts(revenue=0.0))
    assert (r.roi, r.roas, r.cpa, r.average_order_value, r.break_even_conversions) == (None,) * 5
    assert r.revenue_to_break_even == 0.0


def test_bad_inputs() -> None:
    """Wrong types and budgets are refused."""
    with pytest.raises(ValidationError):
        conversion_funnel({"impressions": 1})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        campaign_roi(MetricTotals.from_counts(), budget=float("nan"))
