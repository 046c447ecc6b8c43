"""The metric definitions: hand-computed cases, zero denominators, flags, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.analytics import (
    DataQualityFlag,
    MetricTotals,
)
from campaign_core.analytics._definitions import (
    conversion_rate,
    cpa,
    ctr,
    ratio,
    roi,
)
from campaign_core.errors import ValidationError


def test_definitions_on_a_hand_computed_case() -> None:
    """1000 impressions, 50 clicks, 5 conversions, 250 revenue, 100 spent give the textbook rates."""
    m = MetricTotals.from_counts(
        impressions=1000, clicks=50, conversions=5, revenue=250.0, spent=100.0
    )
    assert m.ctr == pytest.approx(0.05)
    assert m.conversion_rate == pytest.approx(0.1)
    assert m.roi == pytest.approx(1.5)
    assert m.cpa == pytest.approx(20.0)
    assert m.profit == pytest.approx(150.0)
    assert m.flags == ()


def test_zero_denominators_give_none() -> None:
    """Every rate with a zero denominator is None, never NaN or infinity."""
    m = MetricTotals.from_counts(revenue=0.0)
    assert (m.ctr, m.conversion_rate, m.roi, m.cpa) == (None, None, None, None)
    assert ratio(5, 0) is None
    assert ctr(3, 0) is None
    assert conversion_rate(0, 0) is None
    assert roi(100.0, 0.0) is None  # revenue without spend: no defined ROI
    assert cpa(10.0, 0) is None


def test_losing_money_gives_negative_roi_down_to_minus_one() -> None:
    """No revenue on spend is an ROI of exactly -1 (all the money lost)."""
    assert roi(0.0, 80.0) == -1.0
    assert roi(40.0, 80.0) == -0.5


def test_more_clicks_than_impressions_is_reported_and_flagged() -> None:
    """CTR above 1 is reported honestly, with a data-quality flag."""
    m = MetricTotals.from_counts(impressions=10, clicks=15, conversions=20)
    assert m.ctr == 1.5
    assert m.conversion_rate == pytest.approx(20 / 15)
    assert DataQualityFlag.CLICKS_EXCEED_IMPRESSIONS in m.flags
    assert DataQualityFlag.CONVERSIONS_EXCEED_CLICKS in m.flags


def test_revenue_without_conversions_is_flagged() -> None:
    """Pre-aggregated counts with revenue but no conversion carry a flag."""
    m = MetricTotals.from_counts(revenue=10.0)
    assert m.flags == (DataQualityFlag.REVENUE_WITHOUT_CONVERSIONS,)


def test_numpy_scalars_are_accepted() -> None:
    """Counts straight from numpy arrays are fine and come out as Python numbers."""
    m = MetricTotals.from_counts(
        impressions=np.int64(10), clicks=np.int32(2), revenue=np.float64(3.5)
    )
    assert type(m.impressions) is int
    assert type(m.revenue) is float
    assert m.ctr == 0.2


@pytest.mark.parametrize(
    ("kwargs", "path", "code"),
    [
        ({"impressions": -1}, "impressions", "out_of_range"),
        ({"clicks": 1.5}, "clicks", "invalid_type"),
        ({"revenue": math.nan}, "revenue", "not_finite"),
        ({"spent": math.inf}, "spent", "not_finite"),
        ({"spent": 1e16}, "spent", "out_of_range"),
        ({"impressions": True}, "impressions", "invalid_type"),
        ({"impressions": 3, "reach": 4}, "reach", "out_of_range"),
        (
            {"conversions": 2, "revenue": 10.0, "revenue_sum_squares": 1.0},
            "revenue_sum_squares",
            "out_of_range",
        ),
        ({"impressions": 2**60}, "impressions", "out_of_range"),
    ],
)
def test_bad_counts_are_refused_with_their_path(
    kwargs: dict[str, object], path: str, code: str
) -> None:
    """Impossible or malformed counts raise a ValidationError naming the field."""
    with pytest.raises(ValidationError) as info:
        MetricTotals.from_counts(**kwargs)  # type: ignore[arg-type]
    assert [(p.path, p.code) for p in info.value.problems] == [(path, code)]


def test_every_problem_is_reported_at_once() -> None:
    """Several bad fields give several problems in one error, under the given path."""
    with pytest.raises(ValidationError) as info:
        MetricTotals.from_counts(impressions=-1, revenue=math.nan, path="rows[3]")
    assert {p.path for p in info.value.problems} == {"rows[3].impressions", "rows[3].revenue"}


counts = st.integers(0, 10**9)
money = st.floats(0, 1e9, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(counts, counts, counts, money, money)
def test_no_nan_or_infinity_ever(
    imp: int, clk: int, conv: int, revenue: float, spent: float
) -> None:
    """Whatever the counts, every rate is None or a finite float."""
    m = MetricTotals.from_counts(
        impressions=imp, clicks=clk, conversions=conv, revenue=revenue, spent=spent
    )
    for value in (m.ctr, m.conversion_rate, m.roi, m.cpa):
        assert value is None or math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_rates_stay_in_unit_interval_when_the_funnel_is_consistent(data: st.DataObject) -> None:
    """With clicks <= impressions and conversions <= clicks, CTR and conversion rate are in [0, 1] and unflagged."""
    imp = data.draw(st.integers(0, 10**9))
    clk = data.draw(st.integers(0, imp))
    conv = data.draw(st.integers(0, clk))
    m = MetricTotals.from_counts(impressions=imp, clicks=clk, conversions=conv)
    assert m.ctr is None or 0.0 <= m.ctr <= 1.0
    assert m.conversion_rate is None or 0.0 <= m.conversion_rate <= 1.0
    assert m.flags == ()


@settings(max_examples=200, deadline=None)
@given(money, money.filter(lambda s: s > 0))
def test_roi_is_at_least_minus_one(revenue: float, spent: float) -> None:
    """ROI is never below -1: one cannot lose more than the spend."""
    value = roi(revenue, spent)
    assert value is None or value >= -1.0  # None only when a subnormal spend overflows the ratio


@pytest.mark.parametrize(
    ("args", "path"),
    [(("a", 1), "numerator"), ((1, math.nan), "denominator"), ((True, 2), "numerator")],
)
def test_ratio_refuses_non_numbers(args: tuple[object, object], path: str) -> None:
    """Strings, NaN and booleans are refused with a typed error, not a bare ValueError."""
    with pytest.raises(ValidationError) as info:
        ratio(*args)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path
    with pytest.raises(ValidationError):
        roi("10", 5.0)  # type: ignore[arg-type]
