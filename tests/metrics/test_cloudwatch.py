"""CloudWatchMetrics against moto and failing clients: delivery, limits, aggregation, retries."""

from __future__ import annotations

import math
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.clock import FakeClock
from campaign_core.errors import MissingDependencyError, ValidationError
from campaign_core.metrics import (
    CloudWatchMetrics,
    MetricPoint,
    MetricsEmitter,
)
from campaign_core.metrics._cloudwatch import (
    MAX_METRICS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    MAX_VALUES_PER_DATUM,
    estimate_datum_bytes,
    is_retryable_error,
)

from .conftest import START

NAMESPACE = "CampaignCore/test"


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutMetricData",
    )


def _points_in(datum: dict[str, Any]) -> float:
    if "StatisticValues" in datum:
        return float(datum["StatisticValues"]["SampleCount"])
    if "Values" in datum:
        return float(sum(datum["Counts"]))
    return 1.0


def _sum_in(datum: dict[str, Any]) -> float:
    if "StatisticValues" in datum:
        return float(datum["StatisticValues"]["Sum"])
    if "Values" in datum:
        return sum(v * c for v, c in zip(datum["Values"], datum["Counts"]))
    return float(datum["Value"])


class RecordingClient:
    """Records every put_metric_data call; raises the queued errors first; forwards to moto."""

    def __init__(self, inner: Any = None, errors: list[BaseException] | None = None) -> None:
        self.inner = inner
        self.errors = list(errors or [])
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_metric_data(self, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append(kwargs)
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return self.inner.put_metric_data(**kwargs) if self.inner is not None else {}

    def delivered_points(self) -> float:
        return sum(_points_in(d) for call in self.calls for d in call["MetricData"])


class AlwaysFailing(RecordingClient):
    """Raises the same error on every call."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        raise self.error


class Sleeps:
    """A fake sleep that records the waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _stats(client: Any, name: str, dims: dict[str, str]) -> dict[str, Any]:
    """Statistics of one series as moto stored it, matching dimensions exactly.

    moto's get_metric_statistics matches dimensions as a subset (an empty list
    matches every series), unlike CloudWatch, so the exact series is read from
    moto's backend instead.
    """
    from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name]
    count, total, low, high, units = 0.0, 0.0, math.inf, -math.inf, set()
    for datum in backend.metric_data:
        if datum.namespace != NAMESPACE or datum.name != name:
            continue
        if {d.name: d.value for d in datum.dimensions} != dims:
            continue
        units.add(datum.unit)
        if isinstance(datum, MetricAggregatedDatum):
            count += datum.sample_count
            total += datum.sum
            low, high = min(low, datum.min), max(high, datum.max)
        else:
            count += 1
            total += datum.value
            low, high = min(low, datum.value), max(high, datum.value)
    if not count:
        return {}
    assert len(units) == 1, units
    return {
        "SampleCount": count,
        "Sum": total,
        "Minimum": low,
        "Maximum": high,
        "Unit": units.pop(),
    }


# -- delivery to moto ---------------------------------------------------------------


def test_points_arrive_with_names_units_dimensions_and_values(
    cloudwatch: Any, clock: FakeClock
) -> None:
    """What the emitter emits is what CloudWatch stores: names, units, dimensions, values."""
    sink = CloudWatchMetrics(namespace=NAMESPACE, client=cloudwatch, clock=clock, sleep=Sleeps())
    emitter = MetricsEmitter(sink, clock=clock, strict=True)
    emitter.campaign_created(campaign_type="ppv")
    emitter.campaign_created(campaign_type="retention")
    emitter.conversion(value=10, campaign_type="ppv", platform="tiktok")
    emitter.conversion(value=30, campaign_type="ppv", platform="reddit")
    emitter.automation_executed(status="success", duration_ms=120, trigger_type="event")
    emitter.budget_utilization(spent=112, budget=100, campaign_type="ppv")
    sink.close()

    created = _stats(cloudwatch, "CampaignsCreated", {})
    assert (created["Sum"], created["Unit"]) == (2.0, "Count")
    assert _stats(cloudwatch, "CampaignsCreated", {"CampaignType": "ppv"})["Sum"] == 1.0
    revenue = _stats(cloudwatch, "CampaignRevenue", {})
    assert (revenue["Sum"], revenue["SampleCount"], revenue["Unit"]) == (40.0, 2.0, "None")
    assert _stats(cloudwatch, "CampaignRevenue", {"Platform": "reddit"})["Sum"] == 30.0
    timing = _stats(cloudwatch, "AutomationExecutionTime", {"TriggerType": "event"})
    assert (timing["Maximum"], timing["Unit"]) == (120.0, "Milliseconds")
    assert _stats(cloudwatch, "AutomationSuccessRate", {})["Unit"] == "Percent"
    assert _stats(cloudwatch, "BudgetUtilization", {})["Maximum"] == pytest.approx(112.0)

    listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="CampaignConversions")
    # A set: moto lists an undimensioned metric once per datum.
    dimension_sets = sorted(
        {tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in listed["Metrics"]}
    )
    assert dimension_sets == [
        (),
        (("CampaignType", "ppv"),),
        (("Platform", "reddit"),),
        (("Platform", "tiktok"),),
    ]
    assert sink.stats.delivered == sink.stats.accepted
    assert sink.stats.dropped == 0


def test_repeated_points_become_values_and_counts(cloudwatch: Any, clock: FakeClock) -> None:
    """Points of one series and minute with few distinct values are sent as Values/Counts."""
    client = RecordingClient(cloudwatch)
    sink = CloudWatchMetrics(namespace=NAMESPACE, client=client, clock=clock, flush_at=10_000)
    for i in range(600):
        sink.emit(MetricPoint("Latency", float(i % 3), "Milliseconds", clock.now(), {"Op": "x"}))
    sink.flush()
    (call,) = client.calls
    (datum,) = call["MetricData"]
    assert datum["Values"] == [0.0, 1.0, 2.0]
    assert datum["Counts"] == [200.0, 200.0, 200.0]
    stored = _stats(cloudwatch, "Latency", {"Op": "x"})
    assert (stored["SampleCount"], stored["Sum"], stored["Minimum"], stored["Maximum"]) == (
        600.0,
        600.0,
        0.0,
        2.0,
    )


def test_many_distinct_values_become_a_statistic_set(cloudwatch: Any, clock: FakeClock) -> None:
    """Beyond 150 distinct values a series-minute is sent as StatisticValues."""
    client = RecordingClient(cloudwatch)
    sink = CloudWatchMetrics(namespace=NAMESPACE, client=client, clock=clock, flush_at=10_000)
    for i in range(1000):
        sink.emit(MetricPoint("Revenue", float(i), "None", clock.now()))
    sink.flush()
    (datum,) = client.calls[0]["MetricData"]
    assert datum["StatisticValues"] == {
        "SampleCount": 1000.0,
        "Sum": 499500.0,
        "Minimum": 0.0,
        "Maximum": 999.0,
    }
    assert datum["Timestamp"] == START
    stored = _stats(cloudwatch, "Revenue", {})
    assert (stored["SampleCount"], stored["Sum"]) == (1000.0, 499500.0)


def test_statistics_mode_and_no_aggregation(clock: FakeClock) -> None:
    """aggregation='statistics' always uses statistic sets; 'none' sends one datum per point."""
    points = [MetricPoint("X", 1, "Count", clock.now()) for _ in range(5)]
    stats_only = CloudWatchMetrics(client=RecordingClient(), clock=clock, aggregation="statistics")
    ((datum, carried),) = stats_only.datums(points)
    assert datum["StatisticValues"]["SampleCount"] == 5.0
    assert carried == 5
    raw = CloudWatchMetrics(client=RecordingClient(), clock=clock, aggregation="none")
    assert [d["Value"] for d, _ in raw.datums(points)] == [1.0] * 5


def test_points_of_different_minutes_stay_apart(clock: FakeClock) -> None:
    """Aggregation never merges points of different minutes or series."""
    sink = CloudWatchMetrics(client=RecordingClient(), clock=clock)
    points = [
        MetricPoint("X", 1, "Count", clock.now()),
        MetricPoint("X", 1, "Count", clock.now() + timedelta(seconds=59)),
        MetricPoint("X", 1, "Count", clock.now() + timedelta(seconds=60)),
        MetricPoint("X", 1, "Count", clock.now(), {"A": "b"}),
        MetricPoint("X", 1, "Percent", clock.now()),
    ]
    carried = sorted(n for _, n in sink.datums(points))
    assert carried == [1, 1, 1, 2]


def test_large_bursts_respect_the_request_limits(cloudwatch: Any, clock: FakeClock) -> None:
    """A burst of wide and narrow series is split into calls of at most 1,000 data and 1 MB."""
    bodies: list[int] = []
    cloudwatch.meta.events.register(
        "request-created.monitoring.PutMetricData",
        lambda request, **_: bodies.append(len(request.body or b"")),
    )
    client = RecordingClient(cloudwatch)
    sink = CloudWatchMetrics(
        namespace=NAMESPACE, client=client, clock=clock, flush_at=100_000, max_buffer=100_000
    )
    wide = {f"D{i:02}": "v" * 1000 for i in range(29)}
    for i in range(600):
        sink.emit(MetricPoint("Wide", 1, "Count", clock.now(), {**wide, "Series": str(i)}))
    for i in range(2500):
        sink.emit(MetricPoint("Narrow", i, "Count", clock.now(), {"Series": str(i)}))
    sink.flush()
    sizes = [len(call["MetricData"]) for call in client.calls]
    assert all(size <= MAX_METRICS_PER_REQUEST for size in sizes)
    # The wide data (about 30 KB each) were split by size, well before 1,000 per call;
    # the narrow ones by count.
    assert len(sizes) > 15
    assert min(sizes) < 100
    assert max(sizes) == MAX_METRICS_PER_REQUEST
    assert all(size <= MAX_REQUEST_BYTES for size in bodies)
    assert len(bodies) == len(client.calls)
    assert client.delivered_points() == 3100 == sink.stats.delivered
    assert _stats(cloudwatch, "Wide", {**wide, "Series": "599"})["Sum"] == 1.0
    assert _stats(cloudwatch, "Narrow", {"Series": "2499"})["Sum"] == 2499.0


def test_old_twenty_metric_limit_can_be_configured(clock: FakeClock) -> None:
    """max_metrics_per_request=20 reproduces the old limit."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock, max_metrics_per_request=20, flush_at=1000)
    for i in range(101):
        sink.emit(MetricPoint("X", 1, "Count", clock.now(), {"S": str(i)}))
    sink.flush()
    assert [len(c["MetricData"]) for c in client.calls] == [20, 20, 20, 20, 20, 1]


# -- flushing ------------------------------------------------------------------------


def test_interval_flush_is_driven_by_the_fake_clock(clock: FakeClock) -> None:
    """No call before the interval passes on the clock; the first emit after it flushes."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock, flush_interval="1 minute")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    clock.advance("30 seconds")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert client.calls == []
    clock.advance("30 seconds")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert len(client.calls) == 1
    assert client.delivered_points() == 3
    clock.advance("59 seconds")
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert len(client.calls) == 1
    assert sink.buffered == 1


def test_size_flush(clock: FakeClock) -> None:
    """Reaching flush_at points sends them at once."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock, flush_at=3, flush_interval=None)
    for _ in range(2):
        sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert client.calls == []
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    assert client.delivered_points() == 3


def test_close_flushes_once_and_drops_later_points(clock: FakeClock) -> None:
    """close() sends the buffer; later emits are dropped and counted; close is idempotent."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.close()
    sink.close()
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.flush()
    assert len(client.calls) == 1
    assert sink.stats.dropped_closed == 1


def test_bounded_buffer_drops_oldest(clock: FakeClock) -> None:
    """While a flush is in progress elsewhere, the buffer keeps the newest max_buffer points."""
    client = RecordingClient()
    sink = CloudWatchMetrics(
        client=client, clock=clock, max_buffer=4, flush_at=4, aggregation="none"
    )
    sink._flush_lock.acquire()  # another thread is flushing
    for i in range(10):
        sink.emit(MetricPoint("X", i, "Count", clock.now()))
    sink._flush_lock.release()
    sink.flush()
    assert [d["Value"] for d in client.calls[0]["MetricData"]] == [6.0, 7.0, 8.0, 9.0]
    assert sink.stats.dropped_buffer_full == 6


def test_stale_points_are_dropped_and_counted(clock: FakeClock) -> None:
    """Points older than two weeks or over two hours ahead are not sent."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock)
    sink.emit(MetricPoint("X", 1, "Count", clock.now() - timedelta(days=15)))
    sink.emit(MetricPoint("X", 1, "Count", clock.now() + timedelta(hours=3)))
    sink.emit(MetricPoint("X", 1, "Count", clock.now() - timedelta(days=13)))
    sink.flush()
    assert client.delivered_points() == 1
    assert sink.stats.dropped_stale == 2


# -- failures ------------------------------------------------------------------------


def test_throttling_is_retried_with_backoff_then_succeeds(
    cloudwatch: Any, clock: FakeClock
) -> None:
    """Two throttles then success: waits double, nothing is lost."""
    client = RecordingClient(
        cloudwatch, [_client_error("Throttling"), _client_error("ThrottlingException")]
    )
    sleeps = Sleeps()
    sink = CloudWatchMetrics(
        namespace=NAMESPACE, client=client, clock=clock, sleep=sleeps, jitter=False
    )
    emitter = MetricsEmitter(sink, clock=clock)
    emitter.campaign_created(campaign_type="ppv")
    sink.flush()
    assert sleeps.waits == [0.1, 0.2]
    assert len(client.calls) == 3
    assert sink.stats.retries == 2
    assert sink.stats.dropped == 0
    assert sink.stats.delivered == 2
    assert _stats(cloudwatch, "CampaignsCreated", {})["Sum"] == 1.0


def test_persistent_throttling_drops_after_the_retry_budget(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A throttled client: emit never raises, the budget is spent once per flush, drops are counted."""
    client = AlwaysFailing(_client_error("Throttling"))
    sleeps = Sleeps()
    sink = CloudWatchMetrics(
        client=client,
        clock=clock,
        sleep=sleeps,
        jitter=False,
        max_retries=3,
        max_metrics_per_request=10,
        flush_at=1000,
    )
    emitter = MetricsEmitter(sink, clock=clock, strict=True)
    for i in range(15):  # 15 series x 1 rollup -> two requests of 10 and 5 data
        emitter.record(
            "PublishAttempts", 1, dimensions={"Platform": ["reddit", "tiktok", "x"][i % 3]}
        )
    sink.flush()  # must not raise
    assert sleeps.waits == [0.1, 0.2, 0.4]  # the budget: one backoff sequence per flush
    assert sink.stats.retries == 3
    assert sink.stats.dropped_after_retries == 30 == sink.stats.accepted
    assert sink.stats.delivered == 0
    assert emitter.stats.sink_errors == 0  # the sink absorbed everything
    assert "after retries" in caplog.text
    # one line per failure at WARNING: the client's traceback only at DEBUG
    assert all(record.exc_info is None for record in caplog.records)


def test_backoff_is_capped_and_jittered(clock: FakeClock) -> None:
    """Waits never exceed backoff_max; jitter keeps them within [half, full] of the nominal."""
    sleeps = Sleeps()
    sink = CloudWatchMetrics(
        client=AlwaysFailing(_client_error("Throttling")),
        clock=clock,
        sleep=sleeps,
        max_retries=8,
        backoff_base=0.5,
        backoff_max=2.0,
    )
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.flush()
    nominal = [0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert len(sleeps.waits) == 8
    assert all(n / 2 <= w <= n for w, n in zip(sleeps.waits, nominal))


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (_client_error("Throttling"), True),
        (_client_error("InternalFailure", 500), True),
        (_client_error("ServiceUnavailable", 503), True),
        (_client_error("Whatever", 502), True),
        (EndpointConnectionError(endpoint_url="https://monitoring.invalid"), True),
        (TimeoutError("slow"), True),
        (_client_error("InvalidParameterValue"), False),
        (_client_error("AccessDenied", 403), False),
        (RuntimeError("bug in a stub"), False),
    ],
)
def test_only_retryable_errors_are_retried(
    clock: FakeClock, error: BaseException, retried: bool
) -> None:
    """Throttling, 5xx and transport errors are retried; the rest are dropped at once."""
    sleeps = Sleeps()
    sink = CloudWatchMetrics(client=AlwaysFailing(error), clock=clock, sleep=sleeps, max_retries=2)
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.close()
    assert is_retryable_error(error) is retried
    assert len(sleeps.waits) == (2 if retried else 0)
    field = "dropped_after_retries" if retried else "dropped_rejected"
    assert getattr(sink.stats, field) == 1


def test_service_calls_succeed_while_cloudwatch_fails(clock: FakeClock) -> None:
    """With a client that always fails, a burst of emitter calls completes and nothing raises."""
    sink = CloudWatchMetrics(
        client=AlwaysFailing(_client_error("Throttling")),
        clock=clock,
        sleep=Sleeps(),
        flush_at=5,
    )
    emitter = MetricsEmitter(sink, clock=clock, strict=True)
    for _ in range(50):
        emitter.conversion(value=1, campaign_type="ppv", platform="reddit")
    emitter.close()
    stats = sink.stats
    assert stats.accepted == 300
    assert stats.delivered + stats.dropped == stats.accepted


def emit_from_threads(sink: CloudWatchMetrics, clock: FakeClock) -> None:
    """Eight threads emit 500 points each, at once."""

    def work(worker: int) -> None:
        for i in range(500):
            sink.emit(MetricPoint("X", i, "Count", clock.now(), {"W": str(worker)}))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_emitters_lose_nothing(clock: FakeClock) -> None:
    """Eight threads emitting while flushes happen deliver every point exactly once."""
    client = RecordingClient()
    sink = CloudWatchMetrics(client=client, clock=clock, flush_at=50, max_buffer=100_000)
    emit_from_threads(sink, clock)
    sink.close()
    assert client.delivered_points() == 4000 == sink.stats.delivered
    assert sink.stats.dropped == 0


# -- outages: circuit breaker and time limit ---------------------------------------------


class SlowFailingClient(RecordingClient):
    """Takes ``seconds`` on the fake clock per call, then fails while ``down``; delivers otherwise."""

    def __init__(self, clock: FakeClock, seconds: float = 1.0) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds
        self.down = True

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        self.clock.advance(timedelta(seconds=self.seconds))
        if self.down:
            raise ConnectTimeoutError(endpoint_url="https://monitoring.example")
        return {}


class ClockSleeps(Sleeps):
    """A fake sleep that records the waits and moves the fake clock by them."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def _accounted(sink: CloudWatchMetrics) -> bool:
    stats = sink.stats
    return stats.delivered + stats.dropped + sink.buffered == stats.accepted


def test_an_outage_costs_service_calls_a_bounded_time_and_few_calls(clock: FakeClock) -> None:
    """The audit: a client that takes 1 s to fail, flush_at=1, 100 create_campaign calls.

    Before the circuit breaker each call took 9.4 s and made 8 PutMetricData calls. Now the
    first call is bounded by flush_timeout (2 s) plus one call, and the circuit stays open for
    cool-downs of 1, 2, 4, 8 minutes: over 8 minutes of traffic, a handful of calls in all.
    """
    from campaign_core import Actor, CampaignCore
    from campaign_core_memory import InMemoryStore

    client = SlowFailingClient(clock)
    sink = CloudWatchMetrics(client=client, clock=clock, sleep=ClockSleeps(clock), flush_at=1)
    core = CampaignCore(InMemoryStore(), clock=clock, metrics=sink)
    ws = core.for_actor(Actor("creator-1"))
    durations = []
    for i in range(100):
        started = clock.now()
        ws.campaigns.create_campaign(
            name=f"C{i}", type="ppv", platforms=["reddit"], content={"title": "t"}
        )
        durations.append((clock.now() - started).total_seconds())
        clock.advance("5 seconds")
    assert max(durations) <= 2 + 1  # flush_timeout plus the call under way
    assert sum(1 for d in durations if d > 0) <= 4  # the first failure, then one probe each
    # 2 calls for the first flush (a retry fits within 2 s, a second does not), then
    # one probe at 1, 3 and 7 minutes into the outage.
    assert len(client.calls) <= 5
    assert sink.paused_until is not None
    core.close()
    assert len(client.calls) <= 5  # close does not call a CloudWatch known to be down
    stats = sink.stats
    assert stats.accepted == 200
    assert stats.dropped_unavailable > 0
    assert stats.delivered + stats.dropped == stats.accepted


def test_the_circuit_reopens_with_longer_cooldowns_then_recovers_and_delivers(
    clock: FakeClock,
) -> None:
    """While open no call is made and points wait; a probe after each cool-down; then delivery."""
    client = SlowFailingClient(clock, seconds=0)
    sink = CloudWatchMetrics(
        client=client, clock=clock, sleep=Sleeps(), flush_at=1, jitter=False, aggregation="none"
    )

    def emit(value: int) -> None:
        sink.emit(MetricPoint("X", value, "Count", clock.now()))

    emit(0)  # the first flush: one call and three retries, then the circuit opens
    assert len(client.calls) == 4
    assert sink.stats.dropped_after_retries == 1
    assert sink.paused_until == START + timedelta(minutes=1)
    for value in range(1, 11):
        emit(value)
        sink.flush()
    assert len(client.calls) == 4
    assert sink.buffered == 10
    clock.advance("61 seconds")
    emit(11)  # a probe, without retries: it fails, so 2 minutes now
    assert len(client.calls) == 5
    assert sink.paused_until == clock.now() + timedelta(minutes=2)
    assert sink.stats.dropped_after_retries == 12  # the probe's request is lost, and counted
    emit(12)
    clock.advance("119 seconds")
    emit(13)
    assert len(client.calls) == 5  # still cooling down

    client.down = False
    clock.advance("1 second")
    emit(14)  # the probe succeeds; what waited is delivered, the circuit closes
    assert sink.paused_until is None
    assert [d["Value"] for d in client.calls[-1]["MetricData"]] == [12.0, 13.0, 14.0]
    assert sink.stats.delivered == 3
    emit(15)
    assert client.calls[-1]["MetricData"][0]["Value"] == 15.0
    assert _accounted(sink)


def test_cooldowns_double_up_to_the_maximum(clock: FakeClock) -> None:
    """Consecutive failed flushes double the cool-down until max_cooldown."""
    sink = CloudWatchMetrics(
        client=SlowFailingClient(clock, seconds=0),
        clock=clock,
        sleep=Sleeps(),
        flush_at=1,
        cooldown="10 seconds",
        max_cooldown="1 minute",
    )
    pauses = []
    for _ in range(6):
        sink.emit(MetricPoint("X", 1, "Count", clock.now()))
        assert sink.paused_until is not None
        pauses.append((sink.paused_until - clock.now()).total_seconds())
        clock.advance(sink.paused_until - clock.now())
    assert pauses == [10, 20, 40, 60, 60, 60]


def test_flush_timeout_bounds_the_retries(clock: FakeClock) -> None:
    """With a generous retry budget, no retry starts whose backoff would end past the limit."""
    client = SlowFailingClient(clock)
    sleeps = ClockSleeps(clock)
    sink = CloudWatchMetrics(
        client=client,
        clock=clock,
        sleep=sleeps,
        jitter=False,
        max_retries=10,
        flush_timeout="3 seconds",
    )
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.flush()
    # Calls end at 1 s, 2.1 s and 3.3 s; the next backoff (0.4 s) would end past 3 s.
    assert len(client.calls) == 3
    assert sleeps.waits == [0.1, 0.2]
    assert clock.now() - START == timedelta(seconds=3.3)
    assert sink.stats.dropped_after_retries == 1
    assert sink.paused_until is not None


def test_flush_timeout_leaves_the_rest_of_a_large_flush_for_the_next_one(
    clock: FakeClock,
) -> None:
    """A slow but healthy CloudWatch: a flush stops starting requests at the time limit."""
    client = SlowFailingClient(clock)
    client.down = False
    sink = CloudWatchMetrics(
        client=client,
        clock=clock,
        flush_at=1000,
        flush_timeout="3 seconds",
        max_metrics_per_request=1,
    )
    for i in range(10):
        sink.emit(MetricPoint("X", 1, "Count", clock.now(), {"S": str(i)}))
    sink.flush()
    assert len(client.calls) == 3
    assert sink.buffered == 7
    assert sink.paused_until is None  # slow is not down
    sink.flush()
    sink.flush()
    sink.flush()
    assert sink.stats.delivered == 10 == len(client.calls)
    assert sink.stats.dropped == 0


def test_a_failed_flush_keeps_its_unsent_requests(clock: FakeClock) -> None:
    """When the circuit opens mid-flush, the requests not yet sent go back to the buffer."""
    client = SlowFailingClient(clock, seconds=0)
    sink = CloudWatchMetrics(
        client=client, clock=clock, sleep=Sleeps(), flush_at=1000, max_metrics_per_request=2
    )
    for i in range(10):
        sink.emit(MetricPoint("X", 1, "Count", clock.now(), {"S": str(i)}))
    sink.flush()
    assert len(client.calls) == 4  # one request, three retries; four requests never sent
    assert sink.stats.dropped_after_retries == 2
    assert sink.buffered == 8
    client.down = False
    clock.advance("1 minute")
    sink.flush()
    assert sink.stats.delivered == 8
    assert sink.buffered == 0
    assert _accounted(sink)


def test_the_buffer_stays_bounded_while_the_circuit_is_open(clock: FakeClock) -> None:
    """Points beyond max_buffer are dropped oldest first and counted; close counts the rest."""
    client = SlowFailingClient(clock, seconds=0)
    sink = CloudWatchMetrics(
        client=client, clock=clock, sleep=Sleeps(), flush_at=2, max_buffer=5, aggregation="none"
    )
    for i in range(2):
        sink.emit(MetricPoint("X", i, "Count", clock.now()))
    calls = len(client.calls)
    for i in range(2, 30):
        sink.emit(MetricPoint("X", i, "Count", clock.now()))
    assert len(client.calls) == calls
    assert sink.buffered == 5
    assert sink.stats.dropped_buffer_full == 23
    assert _accounted(sink)
    client.down = False
    clock.advance("1 minute")
    sink.close()
    assert [d["Value"] for d in client.calls[-1]["MetricData"]] == [25.0, 26.0, 27.0, 28.0, 29.0]
    stats = sink.stats
    assert (stats.delivered, stats.dropped_unavailable) == (5, 0)
    assert stats.delivered + stats.dropped == stats.accepted


def test_concurrent_emitters_during_an_outage(clock: FakeClock) -> None:
    """Eight threads emitting while CloudWatch is down: few calls, every point accounted for."""
    client = SlowFailingClient(clock, seconds=0)
    sink = CloudWatchMetrics(
        client=client, clock=clock, sleep=Sleeps(), flush_at=10, max_buffer=1000
    )
    emit_from_threads(sink, clock)
    assert len(client.calls) == 4  # one failed flush; the circuit stayed open
    sink.close()
    stats = sink.stats
    assert stats.accepted == 4000
    assert stats.dropped_buffer_full > 0
    assert stats.delivered + stats.dropped == stats.accepted


# -- construction ----------------------------------------------------------------------


def test_builds_its_own_client_without_sdk_retries(cloudwatch: Any, clock: FakeClock) -> None:
    """Without a client the adapter builds one with boto3, SDK retries off, and closes it."""
    sink = CloudWatchMetrics(namespace=NAMESPACE, region="us-east-1", clock=clock)
    assert sink.client.meta.region_name == "us-east-1"
    assert sink.client.meta.config.retries["total_max_attempts"] == 1
    sink.emit(MetricPoint("X", 1, "Count", clock.now()))
    sink.close()
    assert sink.stats.delivered == 1
    assert _stats(cloudwatch, "X", {})["Sum"] == 1.0


def test_missing_boto3_raises_missing_dependency(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    """Without boto3 installed, building the adapter names the extra to install."""
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependencyError) as exc:
        CloudWatchMetrics(clock=clock)
    assert (exc.value.extra, exc.value.module) == ("cloudwatch", "boto3")
    # An injected client needs no boto3 at all.
    assert CloudWatchMetrics(client=RecordingClient(), clock=clock).client is not None


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"namespace": ""}, "namespace"),
        ({"client": object()}, "client"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff_base": float("nan")}, "backoff_base"),
        ({"aggregation": "mean"}, "aggregation"),
        ({"max_metrics_per_request": 1001}, "max_metrics_per_request"),
        ({"max_request_bytes": 2_000_000}, "max_request_bytes"),
        ({"flush_interval": "0 seconds"}, "flush_interval"),
        ({"sleep": 5}, "sleep"),
        ({"flush_timeout": "0 seconds"}, "flush_timeout"),
        ({"flush_timeout": "1 hour"}, "flush_timeout"),
        ({"cooldown": "soon"}, "cooldown"),
        ({"cooldown": "2 days"}, "cooldown"),
        ({"cooldown": "5 minutes", "max_cooldown": "1 minute"}, "max_cooldown"),
    ],
)
def test_bad_settings_raise(kwargs: dict[str, Any], path: str) -> None:
    """Each bad setting raises a ValidationError naming it."""
    with pytest.raises(ValidationError) as exc:
        CloudWatchMetrics(**{"client": RecordingClient(), **kwargs})
    assert path in {p.path for p in exc.value.problems}


# -- properties of batching --------------------------------------------------------------

_points = st.lists(
    st.builds(
        lambda name, value, dim, second: MetricPoint(
            name, value, "Count", START + timedelta(seconds=second), {"S": dim} if dim else {}
        ),
        st.sampled_from(["A", "B"]),
        st.one_of(st.integers(0, 5).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
        st.sampled_from(["", "x", "y" * 1000]),
        st.integers(0, 180),
    ),
    max_size=400,
)


@settings(max_examples=60, deadline=None)
@given(
    points=_points,
    per_request=st.integers(1, 50),
    aggregation=st.sampled_from(["auto", "statistics", "none"]),
)
def test_batching_conserves_points_and_respects_limits(
    points: list[MetricPoint], per_request: int, aggregation: Any
) -> None:
    """Whatever the points, requests fit the limits and carry every point and its sum."""
    sink = CloudWatchMetrics(
        client=RecordingClient(),
        clock=FakeClock(START),
        aggregation=aggregation,
        max_metrics_per_request=per_request,
        max_request_bytes=60_000,
    )
    requests = sink.requests(sink.datums(points))
    data = [datum for request in requests for datum, _ in request]
    assert sum(n for request in requests for _, n in request) == len(points)
    assert sum(_points_in(d) for d in data) == len(points)
    assert sum(_sum_in(d) for d in data) == pytest.approx(sum(p.value for p in points), abs=1e-6)
    for request in requests:
        assert len(request) <= per_request
        assert len(request) == 1 or sum(estimate_datum_bytes(d) for d, _ in request) <= 60_000
    for datum in data:
        assert len(datum.get("Values", [])) <= MAX_VALUES_PER_DATUM
        assert len(datum["Dimensions"]) <= 30
        assert datum["Timestamp"].tzinfo is not None
        assert ("Value" in datum) + ("Values" in datum) + ("StatisticValues" in datum) == 1


def test_estimate_is_an_upper_bound_of_the_real_body(cloudwatch: Any, clock: FakeClock) -> None:
    """The size estimate is never below the body botocore actually sends."""
    bodies: list[int] = []
    cloudwatch.meta.events.register(
        "request-created.monitoring.PutMetricData",
        lambda request, **_: bodies.append(len(request.body or b"")),
    )
    dims = {f"D{i}": "v" * 1024 for i in range(30)}
    sink = CloudWatchMetrics(namespace=NAMESPACE, client=cloudwatch, clock=clock)
    points = [MetricPoint("Wide", float(v), "Count", clock.now(), dims) for v in range(150)]
    data = [datum for datum, _ in sink.datums(points)]
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    assert len(bodies) == 1
    assert sum(estimate_datum_bytes(d) for d in data) >= bodies[0]


# -- through the services ---------------------------------------------------------------


class RaisingSink:
    """A sink that breaks the contract: every call raises."""

    def emit(self, point: Any) -> None:
        raise RuntimeError("sink is down")

    def flush(self) -> None:
        raise RuntimeError("sink is down")

    def close(self) -> None:
        raise RuntimeError("sink is down")


def _campaign_day(core: Any) -> dict[str, Any]:
    """Create, schedule, launch by tick, track, A/B test, enrol into a workflow: one busy day."""
    from campaign_core import Actor

    ws = core.for_actor(Actor("creator-1"))
    scheduled = ws.campaigns.create_campaign(
        name="Drop",
        type="ppv",
        platforms=["reddit", "instagram"],
        content={"title": "New set", "mediaUrls": ["https://cdn.example/set.jpg"]},
        budget=50,
    )
    ws.campaigns.schedule_campaign(scheduled.id, core.clock.now() + timedelta(hours=1))
    core.clock.advance("2 hours")
    report = core.tick()
    assert report.errors == () or not report.errors
    ws.analytics.track_impression(scheduled.id, "fan-1", platform="reddit")
    ws.analytics.track_click(scheduled.id, "fan-1", platform="reddit")
    ws.analytics.track_conversion(scheduled.id, "fan-1", value=9.99)
    test_campaign = ws.campaigns.create_campaign(
        name="AB", type="ppv", platforms=["reddit"], content={"title": "t"}
    )
    ws.campaigns.launch_campaign(test_campaign.id)
    ab = ws.campaigns.create_ab_test(
        test_campaign.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    ws.fans.import_fans([{"fan_id": "fan-1"}])
    workflow = ws.automations.create_workflow(
        {
            "name": "Hello",
            "trigger": {"type": "event", "event": "fan.subscribed"},
            "actions": [{"type": "send_message", "template": "welcome_message"}],
        },
        activate=True,
    )
    ws.fans.record_event("fan-1", "fan.subscribed")
    core.tick()
    return {
        "status": ws.campaigns.get_campaign(scheduled.id).status.value,
        "conversions": ws.analytics.get_campaign_metrics(scheduled.id).totals.conversions,
        "ab_status": ws.campaigns.get_ab_test(ab.id).status.value,
        "runs": ws.automations.get_execution_stats(workflow.id).entered,
    }


@pytest.mark.parametrize("failure", ["cloudwatch_throttling", "endpoint_down", "sink_raises"])
def test_a_whole_day_of_service_calls_works_while_metrics_fail(
    clock: FakeClock, failure: str
) -> None:
    """The seed: a metrics failure never fails a business operation. Same results as no metrics."""
    from campaign_core import CampaignCore
    from campaign_core_memory import InMemoryStore

    if failure == "sink_raises":
        sink: Any = RaisingSink()
    else:
        error = (
            _client_error("Throttling")
            if failure == "cloudwatch_throttling"
            else EndpointConnectionError(endpoint_url="https://monitoring.example")
        )
        client = AlwaysFailing(error)
        sink = CloudWatchMetrics(client=client, clock=clock, sleep=Sleeps(), flush_at=3)
    failing = CampaignCore(InMemoryStore(), clock=clock, metrics=sink)
    baseline = CampaignCore(InMemoryStore(), clock=FakeClock(clock.now()))
    assert _campaign_day(failing) == _campaign_day(baseline)
    failing.close()
    if failure == "sink_raises":
        assert failing.metrics.stats.sink_errors > 0
    else:
        assert sink.stats.accepted > 0
        assert sink.stats.delivered == 0
        assert sink.stats.dropped == sink.stats.accepted  # every point lost, and counted
        # One failed flush with its three retries, then the circuit stays open but for one
        # probe after the day's two-hour jump of the clock.
        assert len(client.calls) <= 5
