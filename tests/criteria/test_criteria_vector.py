"""The vectorized evaluator: column representations, DataFrames and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from campaign_core.criteria import (
    EventColumns,
    FieldRegistry,
    compile_criteria,
    evaluate,
    evaluate_columns,
    evaluate_dataframe,
)
from campaign_core.errors import ValidationError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REGISTRY = FieldRegistry.with_traits(
    {"nickname": "string", "tags": "string_list", "vip": "boolean"}
)


def run(rule: object, columns: dict[str, Any], **kw: Any) -> list[bool]:
    result = evaluate_columns(rule, columns, now=NOW, registry=REGISTRY, **kw)
    assert result.dtype == np.bool_
    return result.tolist()


def test_missing_value_representations() -> None:
    """NaN, NaT, None and masked entries are all missing."""
    engagement = np.array([1.0, np.nan, 7.0])
    masked = np.ma.MaskedArray([1.0, 2.0, 7.0], mask=[False, False, True])
    objects = np.array([1, None, 7], dtype=object)
    for column in (engagement, masked, objects):
        assert run("engagement != 7", {"engagement": column}) == [True, column is masked, False]
        assert run("engagement is not set", {"engagement": column}) == [
            False,
            column is not masked,
            column is masked,
        ]
    times = np.array(["2026-01-10T00:00", "NaT"], dtype="datetime64[s]")
    assert run("not last_activity_at within_last 7 days", {"lastActivityAt": times}) == [
        False,
        False,
    ]
    assert run("last_activity_at is not set", {"lastActivityAt": times}) == [False, True]


def test_string_and_enum_columns() -> None:
    """str arrays, object arrays and masked str arrays give the same answers."""
    values = ["high", "vip", "low", None, "platinum"]
    objects = np.array(values, dtype=object)
    unicode = np.ma.MaskedArray(
        np.array([v or "" for v in values]), mask=[v is None for v in values]
    )
    for column in (objects, unicode):
        assert run("spending_level >= high", {"spendingLevel": column}) == [
            True,
            True,
            False,
            False,
            False,
        ]
        assert run("not spending_level >= high", {"spending_level": column}) == [
            False,
            False,
            True,
            False,
            False,
        ]
        assert run("spending_level is set", {"spending_level": column}) == [
            True,
            True,
            True,
            False,
            False,
        ]


def test_text_operators_on_both_string_representations() -> None:
    """contains/starts_with/ends_with/icontains/regex agree on str and object arrays."""
    names = ["Bob", "bobby", "", "ROBERT", "x\x00"]
    columns = [np.array(names, dtype=object), np.array([*names[:4], "x"], dtype="U8")]
    rules = [
        "nickname contains 'ob'",
        "nickname icontains 'OB'",
        "nickname starts_with 'b'",
        "nickname ends_with 'T'",
        "nickname matches '^[A-Z]'",
        "nickname = ''",
    ]
    for rule in rules:
        expected_obj = [
            evaluate(rule, {"traits": {"nickname": n}}, now=NOW, registry=REGISTRY) for n in names
        ]
        assert run(rule, {"traits.nickname": columns[0]}) == expected_obj
        assert run(rule, {"nickname": columns[1]})[:4] == expected_obj[:4]


def test_string_lists() -> None:
    """string_list columns are object arrays of lists (or tuples)."""
    tags = np.array([["a", "vip"], [], None, ("b",)], dtype=object)
    assert run("tags contains 'vip'", {"tags": tags}) == [True, False, False, False]
    assert run("tags not in ('vip', 'b')", {"tags": tags}) == [False, True, False, False]


def test_booleans_and_derived_fields() -> None:
    """Masked booleans, and subscribed/no_activity_days computed from their sources."""
    vip = np.ma.MaskedArray([True, False, False], mask=[False, False, True])
    assert run("vip != true", {"vip": vip}) == [False, True, False]
    status = np.array(["active", "expired", None], dtype=object)
    assert run("subscribed", {"subscription_status": status}) == [True, False, False]
    assert run("not subscribed", {"subscription_status": status}) == [False, True, False]
    last = np.array([NOW - 14 * DAY, NOW - 13 * DAY - timedelta(hours=23), None], dtype=object)
    assert run("no_activity_days >= 14", {"last_activity_at": last}) == [True, False, False]


def test_aware_object_datetimes_in_any_zone() -> None:
    """Object arrays of aware datetimes are converted to UTC instants."""
    zone = timezone(timedelta(hours=-5))
    column = np.array([datetime(2026, 1, 15, 7, 0, tzinfo=zone), None], dtype=object)
    assert run("last_activity_at = now", {"last_activity_at": column}) == [True, False]


def test_events_and_segments() -> None:
    """Behavioural leaves over EventColumns and in_segment over membership masks."""
    events = EventColumns(
        fan_index=np.array([0, 0, 1, 2]),
        name=np.array(["purchase", "purchase", "purchase", "tip"]),
        occurred_at=np.array(
            [(NOW - d).replace(tzinfo=None) for d in (DAY, 40 * DAY, 2 * DAY, 0 * DAY)],
            dtype="datetime64[ms]",
        ),
        value=np.array([10.0, np.nan, 3.0, 1.0]),
        properties={"product": np.array(["vip", None, "basic", None], dtype=object)},
    )
    columns = {"engagement": np.zeros(3)}
    segments = {"vip": np.array([True, False, True])}
    assert run("count(purchase) >= 1", columns, events=events) == [True, True, False]
    assert run("sum(purchase, within 30 days) > 5", columns, events=events) == [True, False, False]
    assert run("count(purchase, where product = 'vip') = 1", columns, events=events) == [
        True,
        False,
        False,
    ]
    assert run("first_at(purchase) before now - 30 days", columns, events=events) == [
        True,
        False,
        False,
    ]
    assert run(
        "never(purchase) and in_segment(vip)", columns, events=events, segments=segments
    ) == [False, False, True]
    assert run("count(purchase) = 0", columns) == [True, True, True]


def test_length_without_columns() -> None:
    """Criteria that read no column need length= to know how many fans there are."""
    assert run({"all": []}, {}, length=3) == [True, True, True]
    with pytest.raises(ValidationError) as caught:
        run({"all": []}, {})
    assert caught.value.problems[0].path == "length"


@pytest.mark.parametrize(
    ("columns", "kwargs", "path"),
    [
        ({}, {"length": 2}, "columns.engagement"),
        ({"engagement": np.array(["a", "b"])}, {}, "columns.engagement[0]"),
        ({"engagement": np.array(["a", 1], dtype=object)}, {}, "columns.engagement[0]"),
        ({"engagement": np.array([True, False])}, {}, "columns.engagement"),
        ({"engagement": np.zeros((2, 2))}, {}, "columns.engagement"),
        ({"engagement": np.zeros(2), "platform": np.array(["x"])}, {}, "columns"),
    ],
)
def test_column_errors(columns: dict[str, Any], kwargs: dict[str, Any], path: str) -> None:
    """Missing, mistyped or misshapen columns raise with the column's path."""
    with pytest.raises(ValidationError) as caught:
        run("engagement > 1", columns, **kwargs)
    assert caught.value.problems[0].path == path


def test_event_and_segment_errors() -> None:
    """Bad EventColumns and segment masks raise with their paths."""
    columns = {"engagement": np.zeros(2)}
    bad_index = EventColumns(np.array([5]), np.array(["p"]), np.array([NOW], dtype=object))
    with pytest.raises(ValidationError) as caught:
        run("count(p) > 0", columns, events=bad_index)
    assert caught.value.problems[0].path == "events.fan_index"
    bad_time = EventColumns(
        np.array([0]), np.array(["p"]), np.array(["NaT"], dtype="datetime64[ms]")
    )
    with pytest.raises(ValidationError) as caught:
        run("count(p) > 0", columns, events=bad_time)
    assert caught.value.problems[0].path == "events.occurred_at"
    with pytest.raises(ValidationError) as caught:
        run("in_segment(s)", columns)
    assert caught.value.problems[0].path == "root.in_segment"
    with pytest.raises(ValidationError) as caught:
        run("in_segment(s)", columns, segments={"s": np.array([1, 0])})
    assert caught.value.problems[0].path == "segments.s"


def test_compiled_criteria_method() -> None:
    """CompiledCriteria.evaluate_columns is the same evaluation."""
    compiled = compile_criteria("engagement > 1")
    assert compiled.evaluate_columns({"engagement": np.array([0.0, 2.0])}, now=NOW).tolist() == [
        False,
        True,
    ]


# -- pandas --------------------------------------------------------------------------------------


def test_dataframe_dtypes() -> None:
    """Nullable, categorical, string and tz-aware columns are read with their missing values."""
    frame = pd.DataFrame(
        {
            "engagement": pd.array([60, None, 10], dtype="Int64"),
            "spendingLevel": pd.Categorical(["high", None, "vip"]),
            "time_zone": pd.array(["Europe/Paris", None, "UTC"], dtype="string"),
            "opted_out": pd.array([False, None, True], dtype="boolean"),
            "last_activity_at": pd.to_datetime(
                ["2026-01-15T08:00:00-05:00", None, "2026-01-01T00:00:00Z"], utc=True
            ).tz_convert("America/New_York"),
            "unrelated": [object(), object(), object()],
        },
        index=["a", "b", "c"],
    )
    rule = (
        "engagement > 50 and spending_level >= high and time_zone starts_with 'Europe'"
        " and opted_out = false and last_activity_at within_last 1 day"
    )
    result = evaluate_dataframe(rule, frame, now=NOW)
    assert result.name == "matched"
    assert result.to_dict() == {"a": True, "b": False, "c": False}
    unknown = evaluate_dataframe("not (engagement > 50) or opted_out is not set", frame, now=NOW)
    assert unknown.tolist() == [False, True, True]


def test_dataframe_events_by_index_or_id_column() -> None:
    """Event frames refer to fans by index, or by id_column; other columns are properties."""
    frame = pd.DataFrame({"id": ["f1", "f2"], "engagement": [1.0, 2.0]}, index=[10, 20])
    events = pd.DataFrame(
        {
            "fan_id": ["f2", "f2", "ghost"],
            "name": ["purchase", "purchase", "purchase"],
            "occurred_at": pd.to_datetime([NOW, NOW - DAY, NOW], utc=True),
            "value": [1.0, 2.0, 5.0],
            "product": ["a", "b", "a"],
        }
    )
    result = evaluate_dataframe(
        "sum(purchase, where product = 'a') = 1", frame, now=NOW, events=events, id_column="id"
    )
    assert result.tolist() == [False, True]
    by_index = events.assign(fan_id=[20, 20, 99])
    assert evaluate_dataframe("count(purchase) = 2", frame, now=NOW, events=by_index).tolist() == [
        False,
        True,
    ]
    with pytest.raises(ValidationError):
        evaluate_dataframe(
            "count(purchase) = 2",
            frame.assign(id=["x", "x"]),
            now=NOW,
            events=events,
            id_column="id",
        )


def test_property_columns_of_another_type_are_missing() -> None:
    """A property array whose dtype does not fit the literal is all missing, not an error."""
    events = EventColumns(
        fan_index=np.array([0, 1]),
        name=np.array(["p", "p"]),
        occurred_at=np.array([NOW, NOW], dtype=object),
        properties={
            "flag": np.array([True, False]),
            "amount": np.array([1.0, np.nan]),
            "label": np.array(["a", "b"]),
        },
    )
    columns = {"engagement": np.zeros(2)}
    assert run("count(p, where flag contains 'x') = 0", columns, events=events) == [True, True]
    assert run("count(p, where label > 1) = 0", columns, events=events) == [True, True]
    assert run("count(p, where amount = 'x') = 0", columns, events=events) == [True, True]
    assert run("count(p, where flag = true) = 1", columns, events=events) == [True, False]
    assert run("count(p, where amount is set) = 1", columns, events=events) == [True, False]
    assert run("count(p, where label starts_with 'a') = 1", columns, events=events) == [True, False]


def test_long_in_lists_on_narrow_str_columns() -> None:
    """In-lists longer than the column's str width never match by truncation."""
    column = np.array(["abc", "xyz", "abcd"], dtype="U3")[:2]
    options = [f"abc{i}" for i in range(12)]
    assert run({"field": "nickname", "op": "in", "value": options}, {"nickname": column}) == [
        False,
        False,
    ]
    assert run(
        {"field": "nickname", "op": "in", "value": [*options, "xyz"]}, {"nickname": column}
    ) == [
        False,
        True,
    ]
