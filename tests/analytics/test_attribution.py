"""Last-click attribution of conversions, checked by hand and against a brute force."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.analytics import EventBatch, attribute_last_clicks
from campaign_core.errors import ValidationError

from .strategies import T0, ev


def test_conversion_goes_to_the_fans_last_click_before_it() -> None:
    """The latest earlier click of the same fan and campaign wins; others are ignored."""
    batch = EventBatch.from_events(
        [
            ev("click", 0, fan_id="f1", campaign_id="c1"),
            ev("click", 10, fan_id="f1", campaign_id="c1"),
            ev("click", 12, fan_id="f2", campaign_id="c1"),  # another fan
            ev("click", 13, fan_id="f1", campaign_id="c2"),  # another campaign
            ev("conversion", 15, fan_id="f1", campaign_id="c1", value=9.0),
            ev("click", 20, fan_id="f1", campaign_id="c1"),  # after: not it
            ev("conversion", 30, campaign_id="c1", value=5.0),  # anonymous
            ev("conversion", 30, fan_id="f3", campaign_id="c1", value=5.0),  # never clicked
        ]
    )
    result = attribute_last_clicks(batch)
    assert result.conversion_rows.tolist() == [4, 6, 7]
    assert result.click_rows.tolist() == [1, -1, -1]
    assert result.clicked_at(0) == T0 + timedelta(minutes=10)
    assert result.seconds_to_convert(0) == 300
    assert result.clicked_at(1) is None
    assert result.seconds_to_convert(2) is None
    assert len(result) == 3


def test_window_and_same_instant() -> None:
    """A click older than the window does not count; one at the same millisecond does."""
    batch = EventBatch.from_events(
        [
            ev("click", 0, fan_id="f1"),
            ev("conversion", 60 * 24 * 31, fan_id="f1", value=1.0),
            ev("click", 60 * 24 * 40, fan_id="f1"),
            ev("conversion", 60 * 24 * 40, fan_id="f1", value=1.0),
        ]
    )
    result = attribute_last_clicks(batch)
    assert result.click_rows.tolist() == [-1, 2]
    assert result.time_to_convert.tolist() == [-1, 0]
    longer = attribute_last_clicks(batch, window=timedelta(days=40))
    assert longer.click_rows.tolist() == [0, 2]


def test_without_fans_nothing_is_attributed() -> None:
    """A batch without a fan column has conversions but no attributed clicks."""
    result = attribute_last_clicks(
        EventBatch.from_events([ev("click"), ev("conversion", 1, value=2.0)])
    )
    assert result.click_rows.tolist() == [-1]
    with pytest.raises(ValidationError, match="window"):
        attribute_last_clicks(EventBatch.from_events([ev("click")]), window=timedelta(0))


@st.composite
def journeys(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 60))
    return [
        {
            "kind": draw(st.sampled_from(["click", "conversion", "impression"])),
            "minute": draw(st.integers(0, 60 * 24 * 3)),
            "fan": draw(st.sampled_from(["a", "b", "c", None])),
            "campaign": draw(st.sampled_from(["c1", "c2"])),
        }
        for _ in range(n)
    ]


@settings(max_examples=150, deadline=None)
@given(journeys())
def test_matches_brute_force(events: list[dict[str, Any]]) -> None:
    """The vectorized attribution equals a loop over every conversion."""
    window = timedelta(days=1)
    batch = EventBatch.from_events(
        [
            ev(
                e["kind"],
                e["minute"],
                fan_id=e["fan"],
                campaign_id=e["campaign"],
                value=1.0 if e["kind"] == "conversion" else 0.0,
            )
            for e in events
        ]
    )
    result = attribute_last_clicks(batch, window=window)
    for index, row in enumerate(result.conversion_rows.tolist()):
        conv = events[row]
        candidates = [
            (e["minute"], i)
            for i, e in enumerate(events)
            if e["kind"] == "click"
            and conv["fan"] is not None
            and e["fan"] == conv["fan"]
            and e["campaign"] == conv["campaign"]
            and conv["minute"] - 60 * 24 <= e["minute"] <= conv["minute"]
        ]
        expected_minute = max(candidates)[0] if candidates else None
        got = result.clicked_at(index)
        assert (None if got is None else (got - T0) / timedelta(minutes=1)) == expected_minute
