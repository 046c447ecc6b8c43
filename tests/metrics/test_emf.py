"""EmfMetrics: every line follows the EMF specification and carries every point."""

from __future__ import annotations

import io
import logging
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.clock import FakeClock
from campaign_core.errors import ValidationError
from campaign_core.metrics import EmfMetrics, MetricPoint, MetricsEmitter

from .emf_rules import check_emf_line

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [check_emf_line(line) for line in buffer.getvalue().splitlines()]


def _carried(
    documents: list[dict[str, Any]],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]:
    """Series (name, dimensions) -> every value the documents carry."""
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)
    for doc in documents:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        dims = tuple(sorted((k, doc[k]) for k in directive["Dimensions"][0]))
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            series[(metric["Name"], dims)].extend(value if isinstance(value, list) else [value])
    return series


def test_emitter_output_is_valid_emf(clock: FakeClock) -> None:
    """A service-like burst of emitter calls produces valid EMF lines with the right content."""
    out = io.StringIO()
    sink = EmfMetrics(namespace="CampaignCore/test", output=out, clock=clock)
    emitter = MetricsEmitter(sink, clock=clock, strict=True)
    emitter.campaign_created(campaign_type="ppv")
    emitter.conversion(value=12.5, campaign_type="ppv", platform="tiktok")
    emitter.automation_executed(status="success", duration_ms=30, trigger_type="event")
    emitter.flush()
    documents = _lines(out)
    assert documents, "nothing written"
    for doc in documents:
        assert doc["_aws"]["Timestamp"] == int(clock.now().timestamp() * 1000)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CampaignCore/test"
    series = _carried(documents)
    assert series[("CampaignsCreated", ())] == [1.0]
    assert series[("CampaignRevenue", (("Platform", "tiktok"),))] == [12.5]
    assert series[("AutomationExecutionTime", (("TriggerType", "event"),))] == [30.0]
    units = {
        m["Name"]: m["Unit"]
        for doc in documents
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert units["CampaignRevenue"] == "None"
    assert units["AutomationSuccessRate"] == "Percent"
    assert sink.stats.delivered == sink.stats.accepted


def test_undimensioned_points_use_an_empty_dimension_set(clock: FakeClock) -> None:
    """The total series is written with Dimensions [[]]."""
    out = io.StringIO()
    sink = EmfMetrics(output=out, clock=clock)
    sink.emit(MetricPoint("ABTestsCreated", 1, "Count", clock.now()))
    sink.flush()
    (doc,) = _lines(out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]


def test_large_bursts_respect_100_metrics_and_100_values(clock: FakeClock) -> None:
    """250 metric names x 230 values each split into documents within the EMF limits."""
    out = io.StringIO()
    sink = EmfMetrics(output=out, clock=clock, flush_at=100_000, flush_interval=None)
    for i in range(250):
        for v in range(230):
            sink.emit(MetricPoint(f"M{i}", v, "Count", clock.now(), {"Shard": "a"}))
    sink.flush()
    documents = _lines(out)
    assert all(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) <= 100 for d in documents)
    series = _carried(documents)
    assert len(series) == 250
    assert all(sorted(values) == list(map(float, range(230))) for values in series.values())
    assert sink.stats.delivered == 250 * 230
    assert sink.stats.dropped == 0


def test_wide_documents_stay_under_the_size_limit(clock: FakeClock) -> None:
    """Thirty 1024-character dimensions with many metrics still fit in 256 KB per line."""
    out = io.StringIO()
    sink = EmfMetrics(output=out, clock=clock, flush_interval=None, flush_at=100_000)
    dims = {f"D{i:02}": chr(ord("a") + i % 26) * 1024 for i in range(30)}
    for i in range(100):
        for v in range(100):
            sink.emit(
                MetricPoint(
                    f"Metric{i:03}" + "x" * 240, -1_000_000_000 - v / 7, "None", clock.now(), dims
                )
            )
    sink.flush()
    documents = _lines(out)
    assert len(documents) > 1
    assert sum(len(v) for v in _carried(documents).values()) == 10_000


def test_high_resolution_points_declare_storage_resolution(clock: FakeClock) -> None:
    """StorageResolution 1 appears in the definition of high-resolution metrics only."""
    out = io.StringIO()
    sink = EmfMetrics(output=out, clock=clock)
    sink.emit(MetricPoint("Fast", 1, "Count", clock.now(), storage_resolution=1))
    sink.emit(MetricPoint("Slow", 1, "Count", clock.now()))
    sink.flush()
    definitions = {
        m["Name"]: m for d in _lines(out) for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert definitions["Fast"]["StorageResolution"] == 1
    assert "StorageResolution" not in definitions["Slow"]


def test_points_of_different_minutes_get_their_own_timestamps(clock: FakeClock) -> None:
    """Points a minute apart are written in separate documents with their own Timestamp."""
    out = io.StringIO()
    sink = EmfMetrics(output=out, clock=clock, flush_interval=None)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    later = clock.advance("90 seconds")
    sink.emit(MetricPoint("X", 2, "Count", later))
    sink.flush()
    stamps = sorted(d["_aws"]["Timestamp"] for d in _lines(out))
    assert stamps == [int(START.timestamp() * 1000), int(later.timestamp() * 1000)]


def test_interval_flush_is_driven_by_the_clock(clock: FakeClock) -> None:
    """Nothing is written until the interval passes on the clock; the next emit then flushes."""
    lines: list[str] = []
    sink = EmfMetrics(output=lines.append, clock=clock, flush_interval="1 minute")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    clock.advance("59 seconds")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert lines == []
    assert sink.buffered == 2
    clock.advance("1 second")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert sink.buffered == 0
    assert sum(len(v) for v in _carried([check_emf_line(x) for x in lines]).values()) == 3


def test_size_flush_and_flush_at_one_writes_immediately(clock: FakeClock) -> None:
    """flush_at=1 writes each point as it is emitted."""
    lines: list[str] = []
    sink = EmfMetrics(output=lines.append, clock=clock, flush_at=1)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert len(lines) == 1


def test_close_flushes_and_later_points_are_counted_as_dropped(clock: FakeClock) -> None:
    """close() writes the buffer; emits afterwards are dropped and counted, never raised."""
    lines: list[str] = []
    sink = EmfMetrics(output=lines.append, clock=clock)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.close()
    sink.close()
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert len(lines) == 1
    assert sink.stats.dropped_closed == 1


def test_bounded_buffer_drops_oldest(clock: FakeClock) -> None:
    """Beyond max_buffer the oldest points are evicted and counted."""
    lines: list[str] = []
    sink = EmfMetrics(
        output=lines.append, clock=clock, max_buffer=5, flush_at=5, flush_interval=None
    )
    # A flush is due at 5 points, so block it by holding the flush lock from "another thread".
    sink._flush_lock.acquire()
    for v in range(8):
        sink.emit(MetricPoint("X", v, "Count", clock.now()))
    sink._flush_lock.release()
    sink.flush()
    values = _carried([check_emf_line(x) for x in lines])[("X", ())]
    assert sorted(values) == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert sink.stats.dropped_buffer_full == 3


class _FailingStream:
    def __init__(self) -> None:
        self.calls = 0

    def write(self, text: str) -> int:
        self.calls += 1
        raise OSError("disk full")


def test_write_failures_never_raise_and_are_counted(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A stream that fails is logged and its points counted as dropped."""
    stream = _FailingStream()
    sink = EmfMetrics(output=stream, clock=clock, flush_at=1)
    with caplog.at_level(logging.WARNING, logger="campaign_core.metrics"):
        sink.emit(MetricPoint("X", 1, "Count", clock.now()))
        sink.flush()
    assert stream.calls == 1
    assert sink.stats.dropped_rejected == 1
    assert sink.stats.failures == 1
    assert "writing an EMF line failed" in caplog.text


def test_a_metric_named_like_its_dimension_is_dropped(clock: FakeClock) -> None:
    """EMF cannot carry a metric whose name is one of its own dimension keys."""
    lines: list[str] = []
    sink = EmfMetrics(output=lines.append, clock=clock)
    sink.emit(MetricPoint("Shard", 1, "Count", clock.now(), {"Shard": "a"}))
    sink.flush()
    assert lines == []
    assert sink.stats.dropped_rejected == 1


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"namespace": "AWS/Lambda"}, "namespace"),
        ({"output": 42}, "output"),
        ({"flush_at": 0}, "flush_at"),
        ({"max_buffer": 10, "flush_at": 20}, "flush_at"),
        ({"flush_interval": "soon"}, "flush_interval"),
        ({"clock": "now"}, "clock"),
    ],
)
def test_bad_settings_raise(kwargs: dict[str, Any], path: str) -> None:
    """Invalid settings raise a ValidationError naming the setting."""
    with pytest.raises(ValidationError) as exc:
        EmfMetrics(**kwargs)
    assert path in {p.path for p in exc.value.problems}


def test_default_output_is_stdout(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    """Without an output, lines go to standard output (what Lambda ships to CloudWatch Logs)."""
    sink = EmfMetrics(clock=clock, flush_at=1)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    check_emf_line(capsys.readouterr().out.strip())


_names = st.sampled_from(["CampaignsCreated", "CampaignRevenue", "Shard2", "Latency"])
_dims = st.dictionaries(
    st.sampled_from(["Shard", "Platform", "CampaignType"]),
    st.text(alphabet="abcxyz", min_size=1, max_size=5),
    max_size=3,
)
_points = st.builds(
    lambda name, value, dims, seconds, unit: MetricPoint(
        name, value, unit, START + timedelta(seconds=seconds), dims
    ),
    _names,
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    _dims,
    st.integers(min_value=0, max_value=600),
    st.sampled_from(["Count", "None"]),
)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(_points, max_size=300))
def test_any_points_make_valid_documents_that_conserve_values(points: list[MetricPoint]) -> None:
    """For any points, every document is valid EMF and the values carried equal the values emitted."""
    lines: list[str] = []
    sink = EmfMetrics(
        output=lines.append, clock=FakeClock(START), flush_interval=None, flush_at=10_000
    )
    for point in points:
        sink.emit(point)
    sink.flush()
    carried = _carried([check_emf_line(line) for line in lines])
    expected: dict[Any, list[float]] = defaultdict(list)
    for point in points:
        expected[(point.name, tuple(sorted(point.dimensions.items())))].append(point.value)
    assert {k: sorted(v) for k, v in carried.items()} == {k: sorted(v) for k, v in expected.items()}
    assert all(math.isfinite(v) for values in carried.values() for v in values)
