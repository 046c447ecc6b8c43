"""Trends: timeframes, calendar buckets (UTC hours, local days and weeks), empty buckets, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from campaign_core.analytics import (
    EventBatch,
    performance_trend,
    performance_trend_from_snapshots,
    rollup_hour,
)
from campaign_core.analytics._trends import (
    choose_bucket,
    resolve_timeframe,
)
from campaign_core.errors import ValidationError

from .strategies import T0, batch_of, ev, event_dicts


def test_timeframe_is_a_rolling_window_ending_now() -> None:
    """'7d' at now means [now - 7 days, now)."""
    now = T0 + timedelta(days=10, hours=5, minutes=30)
    assert resolve_timeframe(timeframe="7d", now=now) == (now - timedelta(days=7), now)
    assert resolve_timeframe(timeframe=timedelta(hours=24), now=now)[0] == now - timedelta(hours=24)
    assert resolve_timeframe(start=T0, end=now) == (T0, now)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"timeframe": "7d"}, "now"),
        ({"timeframe": "7d", "start": T0, "now": T0}, "timeframe"),
        ({"start": T0}, "end"),
        ({}, ""),
        ({"start": T0, "end": T0}, "end"),
        ({"start": T0, "end": datetime(2026, 3, 5)}, "end"),  # noqa: DTZ001 - naive on purpose
        ({"timeframe": "7 fortnights", "now": T0}, "timeframe"),
        ({"timeframe": "-3d", "now": T0}, "timeframe"),
        ({"start": T0 - timedelta(days=4000), "end": T0}, "end"),
    ],
)
def test_bad_timeframes(kwargs: dict[str, object], path: str) -> None:
    """Missing, conflicting, empty, naive or absurd timeframes are refused."""
    with pytest.raises(ValidationError) as info:
        resolve_timeframe(**kwargs)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path


def test_bucket_choice() -> None:
    """Hours up to two days, days up to 92 days, weeks beyond."""
    assert choose_bucket(timedelta(hours=24)) == "hour"
    assert choose_bucket(timedelta(days=7)) == "day"
    assert choose_bucket(timedelta(days=90)) == "day"
    assert choose_bucket(timedelta(days=180)) == "week"


def test_hour_buckets_with_empty_ones_and_partial_edges() -> None:
    """24h at 10:30 gives 25 UTC-hour buckets, clipped at both ends, empty hours at zero."""
    events = EventBatch.from_events(
        [
            ev("impression", 60 * 12 + 5, fan_id="f1"),
            ev("impression", 60 * 12 + 10, fan_id="f1"),
            ev("click", 60 * 12 + 11, fan_id="f1"),
            ev("impression", 60 * 20, fan_id="f2"),
        ]
    )
    now = T0 + timedelta(days=1, hours=10, minutes=30)
    trend = performance_trend(events, timeframe="24h", now=now)
    assert trend.bucket == "hour"
    assert len(trend.buckets) == 25
    first, last = trend.buckets[0], trend.buckets[-1]
    assert (first.start, first.end, first.partial) == (
        now - timedelta(hours=24),
        T0 + timedelta(hours=11),
        True,
    )
    assert (last.start, last.end, last.partial) == (T0 + timedelta(days=1, hours=10), now, True)
    assert not trend.buckets[1].partial
    by_start = {b.start: b.metrics for b in trend.buckets}
    noon = by_start[T0 + timedelta(hours=12)]
    assert (noon.impressions, noon.clicks, noon.reach, noon.ctr) == (2, 1, 1, 0.5)
    empty = by_start[T0 + timedelta(hours=13)]
    assert (empty.impressions, empty.reach, empty.ctr) == (0, 0, None)
    assert trend.totals.impressions == 3
    assert trend.totals.reach == 2
    assert sum(b.metrics.impressions for b in trend.buckets) == trend.totals.impressions


def test_change_against_previous_period() -> None:
    """Change is current minus previous; relative change is None when the previous is 0."""
    events = EventBatch.from_events(
        [ev("impression", 60 * 24 * 1 + i) for i in range(4)]  # previous period: 4 impressions
        + [ev("impression", 60 * 24 * 8 + i) for i in range(6)]  # current: 6 impressions, 1 click
        + [ev("click", 60 * 24 * 8 + 10)]
    )
    trend = performance_trend(events, start=T0 + timedelta(days=7), end=T0 + timedelta(days=14))
    assert trend.previous_start == T0
    changes = {c.metric: c for c in trend.changes}
    assert (changes["impressions"].current, changes["impressions"].previous) == (6.0, 4.0)
    assert changes["impressions"].absolute == 2.0
    assert changes["impressions"].relative == pytest.approx(0.5)
    assert (changes["clicks"].absolute, changes["clicks"].relative) == (1.0, None)
    assert changes["ctr"].previous == 0.0
    assert changes["ctr"].relative is None
    assert changes["roi"].current is None
    assert changes["roi"].absolute is None
    assert changes["reach"].current is None  # no fan column: reach unknown


def test_day_buckets_follow_local_midnights_across_dst() -> None:
    """Europe/Paris days: 23 hours on the spring-forward day, boundaries at local midnight."""
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 3, 28, tzinfo=paris)
    end = datetime(2026, 3, 31, tzinfo=paris)
    # one impression just after local midnight each day
    events = EventBatch.from_events(
        [
            ev("impression", (datetime(2026, 3, d, 0, 5, tzinfo=paris) - T0).total_seconds() / 60)
            for d in (28, 29, 30)
        ]
    )
    trend = performance_trend(events, start=start, end=end, bucket="day", timezone="Europe/Paris")
    assert [b.start.astimezone(paris).hour for b in trend.buckets] == [0, 0, 0]
    lengths = [(b.end - b.start) / timedelta(hours=1) for b in trend.buckets]
    assert lengths == [24.0, 23.0, 24.0]
    assert [b.metrics.impressions for b in trend.buckets] == [1, 1, 1]
    assert not any(b.partial for b in trend.buckets)
    # in UTC the same impressions (00:05 Paris = 23:05 UTC the day before) fall a day earlier
    utc = performance_trend(events, start=start, end=end, bucket="day")
    assert utc.buckets[0].start == datetime(2026, 3, 27, 23, tzinfo=UTC)
    assert utc.buckets[0].partial


def test_week_buckets_start_on_monday() -> None:
    """Week buckets begin on Mondays (T0 is one)."""
    trend = performance_trend(
        EventBatch.from_events([ev("impression", 60 * 24 * 9)]),
        start=T0 + timedelta(days=2),
        end=T0 + timedelta(days=20),
        bucket="week",
    )
    assert [b.start for b in trend.buckets] == [
        T0 + timedelta(days=2),
        T0 + timedelta(days=7),
        T0 + timedelta(days=14),
    ]
    assert [b.metrics.impressions for b in trend.buckets] == [0, 1, 0]
    assert trend.buckets[0].partial


def test_trend_options_are_validated() -> None:
    """Unknown buckets and zones, and too many buckets, are refused."""
    events = EventBatch.from_events([ev("impression")])
    with pytest.raises(ValidationError, match="bucket"):
        performance_trend(events, timeframe="7d", now=T0, bucket="month")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="time zone"):
        performance_trend(events, timeframe="7d", now=T0, timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="5000"):
        performance_trend(events, timeframe="1000 days", now=T0, bucket="hour")
    with pytest.raises(ValidationError):
        performance_trend([ev("impression")], timeframe="7d", now=T0)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(event_dicts(days=10))
def test_buckets_add_up_to_the_totals(events: list[dict[str, object]]) -> None:
    """Additive metrics of the buckets sum to the timeframe's totals; bucket reach never exceeds it."""
    trend = performance_trend(
        batch_of(events),
        start=T0 + timedelta(days=5),
        end=T0 + timedelta(days=10),
        timezone="America/New_York",
    )
    for field in ("impressions", "clicks", "conversions"):
        assert sum(getattr(b.metrics, field) for b in trend.buckets) == getattr(trend.totals, field)
    assert sum(b.metrics.revenue for b in trend.buckets) == pytest.approx(trend.totals.revenue)
    assert all(b.metrics.reach <= trend.totals.reach for b in trend.buckets)  # type: ignore[operator]
    assert trend.buckets[0].start == trend.start
    assert trend.buckets[-1].end == trend.end
    assert all(a.end == b.start for a, b in zip(trend.buckets, trend.buckets[1:]))


def test_snapshot_trend_matches_event_trend_on_hour_boundaries() -> None:
    """Hourly cumulative snapshots, differenced, give the event trend's counts (reach aside)."""
    events = EventBatch.from_events(
        [ev("impression", 37 * i, fan_id=f"f{i % 7}", platform="tiktok") for i in range(200)]
        + [ev("click", 53 * i, platform="tiktok") for i in range(40)]
        + [ev("conversion", 101 * i + 1, platform="reddit", value=10.0) for i in range(20)]
        + [ev("spend", 60 * i + 2, platform="reddit", value=2.5) for i in range(36)]
    )
    hours = [T0 + timedelta(hours=h) for h in range(-1, 48)]
    snapshots = [row for hour in hours for row in rollup_hour("c1", hour, events)]
    kwargs = {"start": T0 + timedelta(hours=12), "end": T0 + timedelta(hours=36), "bucket": "hour"}
    from_events = performance_trend(events, **kwargs)  # type: ignore[arg-type]
    from_snaps = performance_trend_from_snapshots(snapshots, **kwargs)  # type: ignore[arg-type]
    for a, b in zip(from_events.buckets, from_snaps.buckets):
        assert (a.metrics.impressions, a.metrics.clicks, a.metrics.conversions) == (
            b.metrics.impressions,
            b.metrics.clicks,
            b.metrics.conversions,
        )
        assert a.metrics.revenue == pytest.approx(b.metrics.revenue)
        assert a.metrics.spent == pytest.approx(b.metrics.spent)
        assert b.metrics.reach is None
    platform_only = performance_trend_from_snapshots(snapshots, platform="tiktok", **kwargs)  # type: ignore[arg-type]
    assert platform_only.totals.conversions == 0
    assert platform_only.totals.impressions == from_events.totals.impressions


def test_snapshot_decreases_are_flagged_and_not_negative() -> None:
    """A cumulative counter going down (data erased) is counted as 0 and flagged."""
    rows = list(
        rollup_hour("c1", T0, EventBatch.from_events([ev("impression", 5), ev("impression", 6)]))
    )
    rows += rollup_hour(
        "c1", T0 + timedelta(hours=1), EventBatch.from_events([ev("impression", 5)])
    )
    trend = performance_trend_from_snapshots(rows, start=T0, end=T0 + timedelta(hours=2))
    assert [b.metrics.impressions for b in trend.buckets] == [2, 0]
    assert trend.flags == ("snapshot_counters_decreased",)


def test_snapshot_input_is_validated() -> None:
    """Only CampaignMetric rows are accepted."""
    with pytest.raises(ValidationError) as info:
        performance_trend_from_snapshots([{"impressions": 3}], timeframe="7d", now=T0)  # type: ignore[list-item]
    assert info.value.problems[0].path == "snapshots[0]"


def test_choose_bucket_needs_a_positive_span() -> None:
    """A zero or negative span has no bucket size."""
    with pytest.raises(ValidationError):
        choose_bucket(timedelta(0))
