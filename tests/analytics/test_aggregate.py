"""Campaign metrics from events and from counts: hand cases, sums of parts, reach, equivalence."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from campaign_core.analytics import (
    CountsRow,
    EventBatch,
    ReachCounts,
    compute_metrics,
    metrics_from_counts,
)
from campaign_core.analytics._aggregate import compute_metrics_by_campaign
from campaign_core.errors import ValidationError
from campaign_core.serialization import to_json

from .strategies import T0, batch_of, ev, event_dicts, walk_numbers

ADDITIVE = ("impressions", "clicks", "conversions", "revenue", "spent", "revenue_sum_squares")


def hand_batch() -> EventBatch:
    return EventBatch.from_events(
        [
            ev("impression", 0, fan_id="f1", platform="instagram", variant_id="A"),
            ev("impression", 1, fan_id="f1", platform="instagram", variant_id="A"),
            ev("impression", 2, fan_id="f2", platform="tiktok", variant_id="B"),
            ev("impression", 3, fan_id="f1", platform="tiktok", variant_id="B"),
            ev("impression", 4, platform="tiktok", variant_id="B"),  # anonymous
            ev("click", 5, fan_id="f1", platform="instagram", variant_id="A"),
            ev("click", 6, fan_id="f2", platform="tiktok", variant_id="B"),
            ev("conversion", 7, fan_id="f2", platform="tiktok", variant_id="B", value=30.0),
            ev("spend", 8, platform="instagram", value=5.0),
            ev("spend", 9, platform="tiktok", value=15.0),
        ]
    )


def test_hand_computed_campaign() -> None:
    """Totals, per platform and per variant match a hand count."""
    m = compute_metrics(hand_batch(), campaign_id="c1")
    t = m.totals
    assert (t.impressions, t.reach, t.clicks, t.conversions) == (5, 2, 2, 1)
    assert (t.revenue, t.spent) == (30.0, 20.0)
    assert t.ctr == pytest.approx(0.4)
    assert t.conversion_rate == pytest.approx(0.5)
    assert t.roi == pytest.approx(0.5)
    assert t.cpa == pytest.approx(20.0)
    ig, tt = m.platform("instagram"), m.platform("tiktok")
    assert ig is not None
    assert tt is not None
    assert (ig.impressions, ig.reach, ig.clicks, ig.spent, ig.roi) == (2, 1, 1, 5.0, -1.0)
    assert (tt.impressions, tt.reach, tt.conversions, tt.revenue) == (3, 2, 1, 30.0)
    # f1 was seen on both platforms: the campaign's reach (2) is below the sum (1 + 2)
    assert t.reach is not None
    assert t.reach < ig.reach + tt.reach  # type: ignore[operator]
    # spend has no variant: it lands in the "no variant" group
    assert [v.variant_id for v in m.by_variant] == ["A", "B", None]
    none_group = m.variant(None)
    assert none_group is not None
    assert none_group.spent == 20.0
    assert none_group.roi is None or none_group.revenue == 0.0
    assert m.first_event_at == T0
    assert m.campaign_id == "c1"


def test_reach_is_unknown_without_fan_column() -> None:
    """Without fan identities reach is None everywhere, not 0."""
    m = compute_metrics(EventBatch.from_events([ev("impression", platform="reddit")]))
    assert m.totals.reach is None
    assert m.by_platform[0].metrics.reach is None


def test_empty_batch_gives_zero_counts_and_none_rates() -> None:
    """No events: zero counts, undefined rates, no breakdown."""
    m = compute_metrics(EventBatch.from_columns(kind=[], occurred_at=[], fan_id=[]))
    assert m.totals.impressions == 0
    assert m.totals.reach == 0
    assert m.totals.ctr is None
    assert m.by_platform == ()


def _sum(parts: list[Any], field: str) -> float:
    values = [getattr(p.metrics, field) for p in parts]
    return math.fsum(values) if isinstance(values[0], float) else sum(values)


@settings(max_examples=150, deadline=None)
@given(event_dicts())
def test_totals_are_the_sum_of_parts(events: list[dict[str, Any]]) -> None:
    """Additive metrics of the totals equal the sums over platforms and over variants; reach does not add."""
    m = compute_metrics(batch_of(events))
    t = m.totals
    for parts in (list(m.by_platform), list(m.by_variant)):
        if not parts:
            assert t.impressions == t.clicks == t.conversions == 0
            continue
        for field in ADDITIVE:
            assert math.isclose(getattr(t, field), _sum(parts, field), rel_tol=1e-12, abs_tol=1e-9)
        reaches = [p.metrics.reach for p in parts]
        assert t.reach is not None
        assert max(reaches) <= t.reach <= sum(reaches)
    # reach is the number of distinct identified fans with an impression
    expected = len({e["fanId"] for e in events if e["kind"] == "impression" and e["fanId"]})
    assert t.reach == expected


@settings(max_examples=100, deadline=None)
@given(event_dicts())
def test_outputs_are_json_safe(events: list[dict[str, Any]]) -> None:
    """No NaN or infinity anywhere in the JSON form of the metrics."""
    data = to_json(compute_metrics(batch_of(events)))
    json.dumps(data, allow_nan=False)
    assert all(math.isfinite(x) for x in walk_numbers(data))


@settings(max_examples=100, deadline=None)
@given(event_dicts())
def test_counts_path_matches_events_path(events: list[dict[str, Any]]) -> None:
    """metrics_from_counts over the SQL-style aggregate equals compute_metrics over the events."""
    batch = batch_of(events)
    direct = compute_metrics(batch, campaign_id="c")
    cells: dict[tuple[Any, Any], dict[str, Any]] = {}
    for e in events:
        cell = cells.setdefault(
            (e["platform"], e["variantId"]),
            {
                "impressions": 0,
                "clicks": 0,
                "conversions": 0,
                "revenue": 0.0,
                "spent": 0.0,
                "revenueSumSquares": 0.0,
            },
        )
        if e["kind"] == "impression":
            cell["impressions"] += 1
        elif e["kind"] == "click":
            cell["clicks"] += 1
        elif e["kind"] == "conversion":
            cell["conversions"] += 1
            cell["revenue"] += e["value"]
            cell["revenueSumSquares"] += e["value"] ** 2
        else:
            cell["spent"] += e["value"]

    def distinct(key: str | None) -> dict[Any, int]:
        seen: dict[Any, set[str]] = {}
        # like COUNT(DISTINCT fan_id) ... GROUP BY: a group of anonymous impressions counts 0
        for e in events:
            if e["kind"] == "impression":
                fans = seen.setdefault(e[key] if key else "*", set())
                if e["fanId"]:
                    fans.add(e["fanId"])
        return {k: len(v) for k, v in seen.items()}

    rows = [{"platform": p, "variantId": v, **c} for (p, v), c in cells.items()]
    reach = {
        "total": distinct(None).get("*", 0),
        "byPlatform": distinct("platform"),
        "byVariant": distinct("variantId"),
    }
    built = metrics_from_counts(rows, reach=reach, campaign_id="c")
    assert _strip(to_json(built)) == _strip(to_json(direct))


def _strip(data: dict[str, Any]) -> Any:
    data = dict(data)
    data.pop("firstEventAt")
    data.pop("lastEventAt")
    return json.loads(json.dumps(data, sort_keys=True), parse_float=lambda s: round(float(s), 6))


def test_by_campaign_matches_one_campaign_at_a_time() -> None:
    """One pass over a mixed batch gives each campaign what compute_metrics gives it alone."""
    rng = np.random.default_rng(7)
    n = 5000
    kind = rng.integers(0, 4, n)
    columns = {
        "kind": kind,
        "occurred_at": np.int64(int(T0.timestamp() * 1000)) + rng.integers(0, 10**9, n),
        "value": np.where(kind >= 2, rng.uniform(0, 50, n).round(2), 0.0),
        "fan_id": rng.integers(-1, 300, n),
        "platform": np.array(["instagram", "tiktok", None], dtype=object)[rng.integers(0, 3, n)],
        "variant_id": np.array(["A", "B", None], dtype=object)[rng.integers(0, 3, n)],
        "campaign_id": np.array(["c1", "c2", "c3"], dtype=object)[rng.integers(0, 3, n)],
    }
    mixed = compute_metrics_by_campaign(EventBatch.from_columns(**columns))
    assert list(mixed) == ["c1", "c2", "c3"]
    for cid, metrics in mixed.items():
        mask = columns["campaign_id"] == cid
        alone = compute_metrics(
            EventBatch.from_columns(**{k: v[mask] for k, v in columns.items()}), campaign_id=cid
        )
        assert to_json(metrics) == to_json(alone)


def test_mixed_batch_is_refused_by_compute_metrics() -> None:
    """A batch of several campaigns cannot be one campaign's metrics."""
    batch = EventBatch.from_events(
        [ev("impression", campaign_id="a"), ev("impression", campaign_id="b")]
    )
    with pytest.raises(ValidationError, match="compute_metrics_by_campaign"):
        compute_metrics(batch)
    with pytest.raises(ValidationError):
        compute_metrics(
            EventBatch.from_events([ev("impression", campaign_id="a")]), campaign_id="b"
        )


def test_by_campaign_needs_a_campaign_on_every_row() -> None:
    """Rows without a campaign are refused with their index."""
    batch = EventBatch.from_events([ev("impression", campaign_id="a"), ev("click")])
    with pytest.raises(ValidationError) as info:
        compute_metrics_by_campaign(batch)
    assert info.value.problems[0].path == "campaign_id[1]"


def test_large_integer_fan_codes_use_the_sorting_path() -> None:
    """Fan codes too sparse for the presence bitmap still count exactly."""
    fans = np.array([0, 10**12, 10**12, 5, -1])
    batch = EventBatch.from_columns(
        kind=np.zeros(5, dtype=np.int8), occurred_at=[T0] * 5, fan_id=fans
    )
    assert compute_metrics(batch).totals.reach == 3


def test_counts_rows_accept_objects_and_reject_duplicates() -> None:
    """CountsRow objects work; the same cell twice is refused."""
    rows = [
        CountsRow(platform="tiktok", impressions=10, clicks=2),
        CountsRow(platform="reddit", impressions=5),
    ]
    m = metrics_from_counts(
        rows, reach=ReachCounts(total=6, by_platform={"tiktok": 4, "reddit": 3})
    )
    assert m.totals.impressions == 15
    assert m.totals.reach == 6
    assert [p.platform for p in m.by_platform] == ["reddit", "tiktok"]
    with pytest.raises(ValidationError) as info:
        metrics_from_counts([CountsRow(platform="x"), {"platform": "x"}])
    assert info.value.problems[0].path == "rows[1]"


@pytest.mark.parametrize(
    ("reach", "path"),
    [
        ({"total": 11}, "reach.total"),  # above impressions
        ({"total": 4, "byPlatform": {"tiktok": 5}}, "reach.byPlatform.tiktok"),  # above total
        (
            {"total": 3, "byPlatform": {"reddit": 6}},
            "reach.byPlatform.reddit",
        ),  # above its impressions
        ({"total": 9, "byPlatform": {"tiktok": 4, "reddit": 3}}, "reach.total"),  # above the sum
        ({"totl": 3}, "reach.totl"),
        ({"total": -1}, "reach.total"),
    ],
)
def test_impossible_reach_is_refused(reach: dict[str, Any], path: str) -> None:
    """Reach figures that cannot be are reported with their path."""
    rows = [{"platform": "tiktok", "impressions": 5}, {"platform": "reddit", "impressions": 5}]
    with pytest.raises(ValidationError) as info:
        metrics_from_counts(rows, reach=reach)
    paths = [p.path.replace("by_platform", "byPlatform") for p in info.value.problems]
    assert path in paths


def test_bad_rows_are_reported_with_paths() -> None:
    """Unknown fields, bad counts and bad labels come back with their row path."""
    with pytest.raises(ValidationError) as info:
        metrics_from_counts([{"impressions": -1, "colour": "red"}, {"platform": 7}, "x"])
    assert {p.path for p in info.value.problems} == {
        "rows[0].impressions",
        "rows[0].colour",
        "rows[1].platform",
        "rows[2]",
    }
