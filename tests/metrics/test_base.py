"""MetricPoint validation, the MetricsSink port and namespaces."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.errors import ValidationError
from campaign_core.metrics import (
    CloudWatchMetrics,
    EmfMetrics,
    InMemoryMetrics,
    MetricPoint,
    NullMetrics,
)
from campaign_core.metrics._base import (
    MAX_DIMENSIONS,
    STANDARD_UNITS,
    SinkStats,
    validate_namespace,
)
from campaign_core.ports import MetricsSink

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _problems(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in exc.value.problems}


def test_point_keeps_what_it_was_given() -> None:
    """A valid point keeps name, value, unit, dimensions and its UTC timestamp."""
    point = MetricPoint("CampaignsCreated", 1, "Count", NOW, {"CampaignType": "ppv"})
    assert point.value == 1.0
    assert isinstance(point.value, float)
    assert point.unit == "Count"
    assert dict(point.dimensions) == {"CampaignType": "ppv"}
    assert point.timestamp == NOW
    assert point.storage_resolution == 60


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(bad: float) -> None:
    """NaN and infinities raise a ValidationError on the value path."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", bad, "Count", NOW)
    assert _problems(exc) == {"value": "not_finite"}


def test_values_beyond_cloudwatch_range_are_rejected() -> None:
    """Finite values beyond 2**360 are out of CloudWatch's range."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1e200, "Count", NOW)
    assert _problems(exc) == {"value": "out_of_range"}
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 10**400, "Count", NOW)
    assert _problems(exc) == {"value": "out_of_range"}


@pytest.mark.parametrize("bad", ["1", None, True, [1]])
def test_non_numbers_are_rejected(bad: Any) -> None:
    """Strings, None, booleans and lists are not values."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", bad, "Count", NOW)
    assert _problems(exc) == {"value": "invalid_type"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 256, "out_of_range"),
        ("Café", "invalid_value"),
        (3, "invalid_type"),
    ],
)
def test_bad_names_are_rejected(name: Any, code: str) -> None:
    """Names must be 1-255 printable ASCII characters."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint(name, 1, "Count", NOW)
    assert _problems(exc) == {"name": code}


def test_name_of_255_characters_is_accepted() -> None:
    """The longest name CloudWatch allows is accepted."""
    assert MetricPoint("x" * 255, 1, "Count", NOW).name == "x" * 255


@pytest.mark.parametrize("unit", ["count", "Percentage", "Sum", "", "USD"])
def test_units_outside_cloudwatch_are_rejected(unit: str) -> None:
    """Only CloudWatch StandardUnit names are accepted, spelled exactly."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1, unit, NOW)
    assert _problems(exc) == {"unit": "invalid_value"}


def test_every_standard_unit_is_accepted() -> None:
    """All 27 StandardUnit names make valid points."""
    assert len(STANDARD_UNITS) == 27
    for unit in STANDARD_UNITS:
        assert MetricPoint("X", 1, unit, NOW).unit == unit


def test_naive_and_non_datetime_timestamps_are_rejected() -> None:
    """A naive datetime or a string is not a timestamp."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1, "Count", datetime(2026, 1, 1))  # noqa: DTZ001
    assert _problems(exc) == {"timestamp": "invalid_value"}
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1, "Count", "2026-01-01T00:00:00Z")  # type: ignore[arg-type]
    assert _problems(exc) == {"timestamp": "invalid_type"}


def test_timestamps_become_utc_milliseconds() -> None:
    """An aware timestamp in another zone is converted to UTC and truncated to ms."""
    paris = timezone(timedelta(hours=1))
    point = MetricPoint("X", 1, "Count", datetime(2026, 1, 1, 13, 0, 0, 123456, tzinfo=paris))
    assert point.timestamp == datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert point.timestamp.tzinfo is UTC


def test_thirty_dimensions_fit_thirty_one_do_not() -> None:
    """At most 30 dimensions per point, as CloudWatch allows."""
    thirty = {f"D{i}": "v" for i in range(MAX_DIMENSIONS)}
    assert len(MetricPoint("X", 1, "Count", NOW, thirty).dimensions) == 30
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1, "Count", NOW, {**thirty, "D30": "v"})
    assert _problems(exc) == {"dimensions": "out_of_range"}


@pytest.mark.parametrize(
    ("dims", "path", "code"),
    [
        ({"": "v"}, "dimensions", "required"),
        ({"A": ""}, "dimensions.A", "required"),
        ({"A": " "}, "dimensions.A", "required"),
        ({"A" * 256: "v"}, "dimensions." + "A" * 256, "out_of_range"),
        ({"A": "v" * 1025}, "dimensions.A", "out_of_range"),
        ({"A": "é"}, "dimensions.A", "invalid_value"),
        ({"A": "line\nbreak"}, "dimensions.A", "invalid_value"),
        ({":A": "v"}, "dimensions.:A", "invalid_value"),
        ({"A": 3}, "dimensions.A", "invalid_type"),
    ],
)
def test_bad_dimensions_are_rejected_with_their_path(
    dims: dict[str, Any], path: str, code: str
) -> None:
    """Each bad dimension name or value is reported at dimensions.<name>."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("X", 1, "Count", NOW, dims)
    assert _problems(exc) == {path: code}


def test_dimension_value_of_1024_characters_is_accepted() -> None:
    """The longest dimension value CloudWatch allows is accepted."""
    assert MetricPoint("X", 1, "Count", NOW, {"A": "v" * 1024}).dimensions["A"] == "v" * 1024


def test_every_problem_is_reported_at_once() -> None:
    """A point bad in several ways lists every problem in one error."""
    with pytest.raises(ValidationError) as exc:
        MetricPoint("", math.nan, "Bogus", datetime(2026, 1, 1), {"A": ""}, 5)  # noqa: DTZ001
    assert set(_problems(exc)) == {
        "name",
        "value",
        "unit",
        "timestamp",
        "dimensions.A",
        "storage_resolution",
    }


def test_dimensions_are_immutable_and_points_hashable() -> None:
    """A point's dimensions cannot change after construction, and equal points hash alike."""
    source = {"B": "2", "A": "1"}
    point = MetricPoint("X", 1, "Count", NOW, source)
    source["C"] = "3"
    assert dict(point.dimensions) == {"A": "1", "B": "2"}
    assert list(point.dimensions) == ["A", "B"]
    with pytest.raises(TypeError):
        point.dimensions["C"] = "3"  # type: ignore[index]
    twin = MetricPoint("X", 1, "Count", NOW, {"A": "1", "B": "2"})
    assert point == twin
    assert hash(point) == hash(twin)
    assert pickle.loads(pickle.dumps(point)) == point


def test_high_resolution_is_accepted() -> None:
    """Storage resolution 1 marks a high-resolution point."""
    assert MetricPoint("X", 1, "Count", NOW, storage_resolution=1).storage_resolution == 1


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(
        allow_nan=False, allow_infinity=False, min_value=-(2.0**360), max_value=2.0**360
    )
)
def test_any_value_in_range_is_accepted(value: float) -> None:
    """Every finite value within [-2**360, 2**360] makes a valid point."""
    assert MetricPoint("X", value, "None", NOW).value == value


@pytest.mark.parametrize(
    "sink",
    [NullMetrics(), InMemoryMetrics(), EmfMetrics(output=lambda line: None)],
    ids=["null", "memory", "emf"],
)
def test_adapters_satisfy_the_port(sink: object) -> None:
    """Every adapter is a MetricsSink (emit, flush, close)."""
    assert isinstance(sink, MetricsSink)


def test_cloudwatch_adapter_satisfies_the_port() -> None:
    """The CloudWatch adapter with an injected client is a MetricsSink."""

    class Client:
        def put_metric_data(self, **kwargs: Any) -> None:
            return None

    assert isinstance(CloudWatchMetrics(client=Client()), MetricsSink)


def test_null_metrics_discards_quietly() -> None:
    """NullMetrics accepts everything and does nothing."""
    sink = NullMetrics()
    sink.emit(MetricPoint("X", 1, "Count", NOW))
    sink.flush()
    sink.close()
    sink.close()


def test_sink_stats_dropped_sums_every_reason() -> None:
    """SinkStats.dropped adds every drop counter."""
    stats = SinkStats(
        dropped_buffer_full=1,
        dropped_after_retries=2,
        dropped_rejected=3,
        dropped_stale=4,
        dropped_closed=5,
        dropped_unavailable=6,
    )
    assert stats.dropped == 21


@pytest.mark.parametrize("namespace", ["CampaignCore", "Campaign.Core/prod-1", "a#b:c_d e"])
def test_valid_namespaces(namespace: str) -> None:
    """Namespaces with CloudWatch's allowed characters pass."""
    assert validate_namespace(namespace) == namespace


@pytest.mark.parametrize(
    ("namespace", "code"),
    [
        ("", "required"),
        ("AWS/EC2", "invalid_value"),
        ("x" * 256, "out_of_range"),
        ("bad!", "invalid_value"),
        (":x", "invalid_value"),
        (None, "invalid_type"),
    ],
)
def test_invalid_namespaces(namespace: Any, code: str) -> None:
    """Empty, reserved, too long or badly spelled namespaces raise."""
    with pytest.raises(ValidationError) as exc:
        validate_namespace(namespace)
    assert exc.value.problems[0].code == code
    assert exc.value.problems[0].path == "namespace"
