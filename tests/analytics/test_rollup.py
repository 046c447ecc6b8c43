"""The hourly roll-up: cumulative CampaignMetric snapshots, idempotent by rollup_key."""

from __future__ import annotations

import itertools
from datetime import timedelta

import attrs
import pytest
from hypothesis import given, settings

from campaign_core.analytics import (
    EventBatch,
    TrackingEvent,
    compute_metrics,
    metrics_from_counts,
    rollup_hour,
)
from campaign_core.analytics._rollup import (
    hours_to_roll_up,
    rollup_key,
    snapshot_id,
    snapshot_rows,
)
from campaign_core.errors import ValidationError
from campaign_core.models import CampaignMetric

from .strategies import T0, batch_of, ev, event_dicts

H = timedelta(hours=1)


def event_list() -> list[TrackingEvent]:
    return [
        ev("impression", 10, fan_id="f1", platform="instagram"),
        ev("impression", 20, fan_id="f2", platform="tiktok"),
        ev("click", 30, fan_id="f2", platform="tiktok"),
        ev("impression", 40, fan_id="f3"),  # no platform: aggregate row only
        ev("impression", 70, fan_id="f1", platform="tiktok"),  # next hour
        ev("conversion", 80, fan_id="f2", platform="tiktok", value=20.0),
        ev("spend", 90, platform="tiktok", value=8.0),
    ]


def events() -> EventBatch:
    return EventBatch.from_events(event_list())


def test_rows_aggregate_first_then_platforms() -> None:
    """Hour 0 gives the aggregate row and one per platform, with keys, ids and instants."""
    rows = rollup_hour("c1", T0, events())
    assert [r.platform for r in rows] == [None, "instagram", "tiktok"]
    agg, ig, tt = rows
    assert agg.rollup_key == "c1:*:2026-03-02T00:00:00.000Z"
    assert tt.rollup_key == "c1:tiktok:2026-03-02T00:00:00.000Z"
    assert agg.id == snapshot_id(agg.rollup_key)
    assert agg.period_start == T0
    assert agg.recorded_at == T0 + H
    assert (agg.impressions, agg.reach, agg.clicks) == (3, 3, 1)
    assert (ig.impressions, tt.impressions, tt.clicks, tt.ctr) == (1, 1, 1, 1.0)
    assert all(isinstance(r, CampaignMetric) for r in rows)


def test_snapshots_are_cumulative() -> None:
    """Hour 1's rows hold everything up to its end, reach counted distinct across hours."""
    agg, _, tt = rollup_hour("c1", T0 + H, events())
    assert (agg.impressions, agg.reach, agg.conversions, agg.revenue, agg.spent) == (
        4,
        3,
        1,
        20.0,
        8.0,
    )
    assert agg.roi == pytest.approx(1.5)
    assert (tt.impressions, tt.reach) == (2, 2)


def test_rolling_up_twice_gives_identical_rows() -> None:
    """Same hour, same events: the same rows, ids and keys (a store upserts one row each)."""
    assert rollup_hour("c1", T0, events()) == rollup_hour("c1", T0, events())


@settings(max_examples=50, deadline=None)
@given(event_dicts(days=2))
def test_rollup_is_idempotent_and_keys_are_unique(evs: list[dict[str, object]]) -> None:
    """For any events, two runs agree and keys are unique within and across hours."""
    batch = batch_of(evs)
    hours = [T0 + H * h for h in range(0, 48, 7)]
    first = [row for hour in hours for row in rollup_hour("c", hour, batch)]
    second = [row for hour in hours for row in rollup_hour("c", hour, batch)]
    assert first == second
    assert len({r.rollup_key for r in first}) == len(first)
    assert len({r.id for r in first}) == len(first)
    # cumulative: the aggregate row never goes down from one hour to the next
    aggregates = [r for r in first if r.platform is None]
    for a, b in itertools.pairwise(aggregates):
        assert b.impressions >= a.impressions
        assert b.reach >= a.reach


def test_late_event_heals_the_next_snapshot() -> None:
    """An event tracked after its hour was rolled up is counted by the next roll-up."""
    before = rollup_hour("c1", T0 + H, events())[0]
    late = EventBatch.from_events([*event_list(), ev("impression", 15, fan_id="f9")])
    after = rollup_hour("c1", T0 + H, late)[0]
    assert after.impressions == before.impressions + 1
    assert after.reach == before.reach + 1
    assert after.rollup_key == before.rollup_key


def test_snapshot_rows_from_counts_match_rollup_from_events() -> None:
    """The SQL path (metrics_from_counts as of the hour's end) writes the same rows."""
    from_counts = metrics_from_counts(
        [
            {"platform": "instagram", "impressions": 1},
            {
                "platform": "tiktok",
                "impressions": 2,
                "clicks": 1,
                "conversions": 1,
                "revenue": 20.0,
                "spent": 8.0,
            },
            {"platform": None, "impressions": 1},
        ],
        reach={"total": 3, "byPlatform": {"instagram": 1, "tiktok": 2, None: 1}},
        campaign_id="c1",
    )
    assert snapshot_rows("c1", T0 + H, from_counts) == rollup_hour("c1", T0 + H, events())


def test_campaign_platforms_get_rows_without_events() -> None:
    """Platforms listed explicitly get zero rows, so every platform has a series."""
    rows = rollup_hour("c1", T0, events(), platforms=["reddit", "tiktok"])
    assert [r.platform for r in rows] == [None, "instagram", "reddit", "tiktok"]
    reddit = rows[2]
    assert (reddit.impressions, reddit.reach, reddit.ctr, reddit.roi) == (0, 0, None, None)


def test_unknown_reach_is_written_as_zero() -> None:
    """The seed's reach column is not nullable: unknown reach is stored as 0."""
    rows = rollup_hour("c1", T0, EventBatch.from_events([ev("impression", 1)]))
    assert rows[0].reach == 0


def test_rollup_rejects_bad_input() -> None:
    """Hours off the hour, another campaign's metrics or events, bad keys are refused."""
    with pytest.raises(ValidationError, match="start of an hour"):
        rollup_hour("c1", T0 + timedelta(minutes=30), events())
    with pytest.raises(ValidationError):
        rollup_hour("c1", T0.replace(tzinfo=None), events())
    with pytest.raises(ValidationError):
        snapshot_rows("c2", T0, compute_metrics(events(), campaign_id="c1"))
    with pytest.raises(ValidationError):
        rollup_hour("c2", T0, EventBatch.from_events([ev("impression", campaign_id="c1")]))
    with pytest.raises(ValidationError):
        rollup_key("c1", "a:b", T0)
    with pytest.raises(ValidationError):
        rollup_key("", None, T0)
    with pytest.raises(ValidationError):
        snapshot_rows("c1", T0, compute_metrics(events()), platforms="tiktok")  # type: ignore[arg-type]


def test_keys_are_unambiguous_with_colons_in_ids() -> None:
    """Campaign ids may contain ':'; the fixed-length hour keeps keys distinct."""
    assert rollup_key("a:b", "tiktok", T0) != rollup_key("a", "b:tiktok".replace(":", "_"), T0)
    assert rollup_key("a:b", None, T0).endswith(":*:2026-03-02T00:00:00.000Z")


def test_hours_to_roll_up() -> None:
    """Complete hours after the last one rolled, oldest first, capped to the most recent."""
    now = T0 + timedelta(hours=5, minutes=10)
    assert hours_to_roll_up(now) == (T0 + 4 * H,)
    assert hours_to_roll_up(now, last_rolled=T0 + 2 * H) == (T0 + 3 * H, T0 + 4 * H)
    assert hours_to_roll_up(now, last_rolled=T0 + 4 * H) == ()
    assert hours_to_roll_up(now, since=T0 + timedelta(minutes=30)) == tuple(
        T0 + h * H for h in range(5)
    )
    assert hours_to_roll_up(now, since=T0 - 100 * H, max_hours=3) == (
        T0 + 2 * H,
        T0 + 3 * H,
        T0 + 4 * H,
    )
    with pytest.raises(ValidationError):
        hours_to_roll_up(now, max_hours=0)
    with pytest.raises(ValidationError):
        hours_to_roll_up(now.replace(tzinfo=None))


def test_rows_are_plain_records() -> None:
    """Rows are the seed's CampaignMetric records, comparable and evolvable."""
    row = rollup_hour("c1", T0, events())[0]
    assert attrs.evolve(row, impressions=row.impressions) == row
