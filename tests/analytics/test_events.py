"""EventBatch: the columnar input, its accepted forms and its validation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from campaign_core.analytics import EventBatch, EventKind, TrackingEvent
from campaign_core.errors import ValidationError

from .strategies import T0, ev

T0_MS = int(T0.timestamp() * 1000)


def test_columns_in_every_accepted_form_give_the_same_batch() -> None:
    """Strings, enum members and codes for kinds; datetimes, datetime64 and epoch ms for times agree."""
    times = [T0, T0 + timedelta(seconds=1), T0 + timedelta(hours=2)]
    a = EventBatch.from_columns(
        kind=["impression", "click", "conversion"], occurred_at=times, value=[0, 0, 9.5]
    )
    b = EventBatch.from_columns(
        kind=[EventKind.IMPRESSION, EventKind.CLICK, EventKind.CONVERSION],
        occurred_at=np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[us]"),
        value=np.array([0.0, 0.0, 9.5]),
    )
    c = EventBatch.from_columns(
        kind=np.array([0, 1, 2], dtype=np.int8),
        occurred_at=np.array([T0_MS, T0_MS + 1000, T0_MS + 7_200_000]),
        value=(0, 0, 9.5),
    )
    for batch in (b, c):
        assert batch.kind.tolist() == a.kind.tolist()
        assert batch.occurred_at_ms.tolist() == a.occurred_at_ms.tolist()
        assert batch.value.tolist() == a.value.tolist()
    assert EventKind.SPEND.code == 3


def test_columns_are_read_only() -> None:
    """A batch is frozen: its arrays cannot be written."""
    batch = EventBatch.from_events([ev("impression", fan_id="f1", platform="tiktok")])
    with pytest.raises(ValueError, match="read-only"):
        batch.kind[0] = 2


def test_categorical_labels_are_sorted_with_none_last() -> None:
    """Labels are factorized in a deterministic order whatever the input order."""
    batch = EventBatch.from_columns(
        kind=["impression"] * 4,
        occurred_at=[T0] * 4,
        platform=["tiktok", None, "instagram", "tiktok"],
    )
    assert batch.platform.labels == ("instagram", "tiktok", None)
    assert batch.platform.codes.tolist() == [1, 2, 0, 1]


def test_from_events_accepts_records_and_camel_case_dicts() -> None:
    """TrackingEvent objects and dicts with the seed's camelCase keys both work."""
    batch = EventBatch.from_events(
        [
            ev("impression", fan_id="f1", platform="reddit"),
            {
                "kind": "conversion",
                "occurredAt": T0,
                "userId": "f1",
                "value": 12.0,
                "variantId": "B",
            },
        ]
    )
    assert len(batch) == 2
    assert batch.fan is not None
    assert batch.variant.labels == ("B", None)


def test_from_events_without_any_fan_has_no_fan_column() -> None:
    """When no event names a fan, reach is unknown rather than zero."""
    batch = EventBatch.from_events([ev("impression"), ev("click")])
    assert batch.fan is None


@pytest.mark.parametrize(
    ("columns", "path", "code"),
    [
        ({"kind": ["impression", "view"]}, "kind[1]", "invalid_value"),
        ({"kind": np.array([0, 7])}, "kind[1]", "invalid_value"),
        ({"value": [0.0, math.nan]}, "value[1]", "not_finite"),
        ({"value": [0.0, -3.0]}, "value[1]", "out_of_range"),
        ({"value": [0.0, 1e13]}, "value[1]", "out_of_range"),
        ({"value": [5.0, 0.0]}, "value[0]", "invalid_value"),  # a value on an impression
        ({"value": [0.0, "9"]}, "value[1]", "invalid_type"),
        ({"occurred_at": [T0, T0.replace(tzinfo=None)]}, "occurred_at[1]", "invalid_value"),
        ({"occurred_at": np.array([T0_MS, T0_MS // 1000])}, "occurred_at[1]", "out_of_range"),
        ({"occurred_at": np.array([T0_MS, T0_MS * 1000])}, "occurred_at[1]", "out_of_range"),
        ({"occurred_at": np.array([1.5, 2.5])}, "occurred_at", "invalid_type"),
        (
            {"occurred_at": np.array(["2026-01-01", "NaT"], dtype="datetime64[ms]")},
            "occurred_at[1]",
            "required",
        ),
        ({"platform": ["a:b", None]}, "platform[0]", "invalid_value"),
        ({"platform": ["*", None]}, "platform[0]", "invalid_value"),
        ({"platform": [3, None]}, "platform[0]", "invalid_type"),
        ({"platform": ["", None]}, "platform[0]", "invalid_value"),
        ({"fan_id": ["f", ""]}, "fan_id[1]", "invalid_value"),
        ({"fan_id": np.array([1, -2])}, "fan_id[1]", "out_of_range"),
        ({"variant_id": ["x"]}, "variant_id", "invalid_value"),  # length mismatch
        ({"kind": "impression"}, "kind", "invalid_type"),
    ],
)
def test_bad_columns_are_refused_with_column_and_row(
    columns: dict[str, object], path: str, code: str
) -> None:
    """Each malformed column is reported with the first bad row as the path."""
    base: dict[str, object] = {
        "kind": ["impression", "conversion"],
        "occurred_at": [T0, T0],
        "value": [0.0, 1.0],
    }
    base.update(columns)
    with pytest.raises(ValidationError) as info:
        EventBatch.from_columns(**base)  # type: ignore[arg-type]
    assert (info.value.problems[0].path, info.value.problems[0].code) == (path, code)


def test_several_bad_columns_are_reported_together() -> None:
    """Problems in different columns come back in one error."""
    with pytest.raises(ValidationError) as info:
        EventBatch.from_columns(
            kind=["view"], occurred_at=[T0.replace(tzinfo=None)], value=[math.inf]
        )
    assert {p.path for p in info.value.problems} == {"kind[0]", "occurred_at[0]", "value[0]"}


def test_record_errors_point_into_the_event_list() -> None:
    """from_events reports problems as events[i].field, unknown keys included."""
    with pytest.raises(ValidationError) as info:
        EventBatch.from_events(
            [ev("impression"), {"kind": "spend", "occurredAt": T0, "value": -1, "extra": 1}]
        )
    paths = {p.path for p in info.value.problems}
    assert paths == {"events[1].extra"}
    with pytest.raises(ValidationError) as info:
        EventBatch.from_events([ev("impression"), {"kind": "spend", "occurredAt": T0, "value": -1}])
    assert [p.path for p in info.value.problems] == ["events[1].value"]
    with pytest.raises(ValidationError) as info:
        EventBatch.from_events([{"kind": "click"}])
    assert [p.path for p in info.value.problems] == ["events[0].occurred_at"]


def test_offsets_are_converted_to_utc() -> None:
    """An aware timestamp in another zone is the same instant in UTC."""
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    batch = EventBatch.from_columns(kind=["impression"], occurred_at=[paris])
    assert batch.occurred_at_ms.tolist() == [T0_MS]


def test_window_and_campaign_ids() -> None:
    """window() keeps [start, end); campaign_ids() lists the campaigns present."""
    batch = EventBatch.from_columns(
        kind=["impression"] * 3,
        occurred_at=[T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)],
        campaign_id=["c2", "c1", "c2"],
    )
    part = batch.window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert len(part) == 1
    assert part.campaign_ids() == ("c1",)
    assert batch.campaign_ids() == ("c1", "c2")
    assert batch.window() is batch
    with pytest.raises(ValidationError):
        batch.window(datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


def test_empty_batch() -> None:
    """An empty batch is valid."""
    batch = EventBatch.from_columns(kind=[], occurred_at=[])
    assert len(batch) == 0
    assert batch.campaign_ids() == ()


def test_tracking_event_rejects_unknown_kind() -> None:
    """A TrackingEvent's kind must be one of the four kinds."""
    with pytest.raises(ValidationError, match="view"):
        TrackingEvent(kind="view", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
