"""MetricsEmitter: right names, units, dimensions and values; failures never escape."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from campaign_core.clock import FakeClock
from campaign_core.errors import ValidationError
from campaign_core.metrics import (
    ArmCounts,
    DecisionVerdict,
    InMemoryMetrics,
    MetricPoint,
    MetricsEmitter,
    NullMetrics,
    WinnerDecisionRecord,
)


@pytest.fixture
def metrics() -> InMemoryMetrics:
    """The in-memory sink the emitter writes to."""
    return InMemoryMetrics()


@pytest.fixture
def emitter(metrics: InMemoryMetrics, clock: FakeClock) -> MetricsEmitter:
    """A strict emitter, so a wrong call fails the test."""
    return MetricsEmitter(metrics, clock=clock, strict=True)


def test_campaign_created_emits_total_and_per_type(
    emitter: MetricsEmitter, metrics: InMemoryMetrics, clock: FakeClock
) -> None:
    """CampaignsCreated is published once per rollup, with the clock's time."""
    emitter.campaign_created(campaign_type="ppv", owner_id="u1")
    points = metrics.points("CampaignsCreated")
    assert [dict(p.dimensions) for p in points] == [{}, {"CampaignType": "ppv"}]
    assert all(p.unit == "Count" and p.value == 1 for p in points)
    assert all(p.timestamp == clock.now() for p in points)


def test_launch_success_and_failures_feed_the_failure_ratio(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """Launches count attempts; refused and publishing failures count failures once."""
    emitter.campaign_launched(campaign_type="promotion")
    emitter.campaign_launched(campaign_type="promotion")
    emitter.campaign_launch_failed(campaign_type="promotion")
    emitter.campaign_publishing_failed(campaign_type="promotion")
    assert metrics.total("CampaignsLaunched") == 2
    assert metrics.total("CampaignLaunchAttempts") == 3
    assert metrics.total("CampaignLaunchFailures") == 2
    assert metrics.total("CampaignLaunchFailures", CampaignType="promotion") == 2


def test_publish_attempts_and_failures(emitter: MetricsEmitter, metrics: InMemoryMetrics) -> None:
    """Every Publisher call is an attempt; failed ones are also failures."""
    emitter.publish_attempted(platform="reddit", success=True)
    emitter.publish_attempted(platform="reddit", success=False)
    assert metrics.total("PublishAttempts", Platform="reddit") == 2
    assert metrics.total("PublishFailures", Platform="reddit") == 1


def test_conversion_emits_count_and_revenue(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """A conversion counts once and adds its value (Decimal accepted) to revenue."""
    emitter.conversion(value=Decimal("19.99"), campaign_type="ppv", platform="onlyfans")
    emitter.conversion(value=5, campaign_type="subscription", platform="onlyfans")
    metrics.assert_emitted(
        "CampaignRevenue", value=19.99, unit="None", dimensions={"Platform": "onlyfans"}
    )
    assert metrics.total("CampaignConversions") == 2
    assert metrics.total("CampaignRevenue") == pytest.approx(24.99)
    assert metrics.total("CampaignRevenue", CampaignType="ppv") == pytest.approx(19.99)
    assert metrics.total("CampaignRevenue", Platform="onlyfans") == pytest.approx(24.99)


def test_impressions_and_clicks_take_batches(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """A batch of impressions is one point per rollup whose value is the batch size."""
    emitter.impressions(campaign_type="ppv", platform="tiktok", count=250)
    emitter.clicks(campaign_type="ppv", platform="tiktok", count=12)
    emitter.clicks(campaign_type="ppv", platform="tiktok", count=0)
    assert metrics.total("CampaignImpressions") == 250
    assert metrics.total("CampaignClicks", Platform="tiktok") == 12
    assert len(metrics.points("CampaignClicks")) == 3


def test_budget_utilization_is_a_percentage(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """spent / budget x 100 in Percent; no budget means nothing emitted."""
    emitter.budget_utilization(spent=Decimal("115"), budget=Decimal("100"), campaign_type="ppv")
    emitter.budget_utilization(spent=10, budget=None, campaign_type="ppv")
    metrics.assert_emitted("BudgetUtilization", value=115.0, unit="Percent", dimensions={}, count=1)


def test_budget_must_be_positive(emitter: MetricsEmitter) -> None:
    """A zero budget is invalid input for a strict emitter."""
    with pytest.raises(ValidationError) as exc:
        emitter.budget_utilization(spent=1, budget=0, campaign_type="ppv")
    assert exc.value.problems[0].path == "budget"


def test_roi_and_status_gauge(emitter: MetricsEmitter, metrics: InMemoryMetrics) -> None:
    """ROI is a unitless ratio; the status gauge publishes every status."""
    emitter.campaign_roi(roi=0.25, campaign_type="retention")
    metrics.assert_emitted(
        "CampaignROI", value=0.25, unit="None", dimensions={"CampaignType": "retention"}
    )
    emitter.campaign_status_counts({"active": 3, "draft": 2, "weird": 1, "ARCHIVED": 4})
    gauge = {p.dimensions["Status"]: p.value for p in metrics.points("CampaignsByStatus")}
    assert gauge == {
        "draft": 2,
        "scheduled": 0,
        "active": 3,
        "paused": 0,
        "completed": 0,
        "cancelled": 0,
        "other": 5,
    }


@pytest.mark.parametrize(
    ("status", "rate", "failures"),
    [("success", 100.0, 0), ("failure", 0.0, 1), ("partial", 0.0, 0)],
)
def test_automation_run_metrics(
    emitter: MetricsEmitter, metrics: InMemoryMetrics, status: str, rate: float, failures: int
) -> None:
    """A finished run counts, sets the success rate sample, time, and failures."""
    emitter.automation_executed(status=status, duration_ms=42.5, trigger_type="event")
    metrics.assert_emitted("AutomationsExecuted", value=1, dimensions={"RunStatus": status})
    metrics.assert_emitted(
        "AutomationSuccessRate", value=rate, unit="Percent", dimensions={"TriggerType": "event"}
    )
    metrics.assert_emitted(
        "AutomationExecutionTime", value=42.5, unit="Milliseconds", dimensions={}
    )
    assert metrics.total("AutomationFailures") == failures


def test_action_failures_fold_custom_types(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """Host-registered action types are reported as 'custom'."""
    emitter.automation_action_failed(action_type="send_message")
    emitter.automation_action_failed(action_type="post_to_discord")
    assert metrics.total("AutomationActionFailures", ActionType="custom") == 1
    assert metrics.total("AutomationActionFailures", ActionType="send_message") == 1


def test_ab_test_lifecycle(emitter: MetricsEmitter, metrics: InMemoryMetrics) -> None:
    """Created, decisions by outcome, completed with/without winner, accuracy samples."""
    emitter.ab_test_created()
    emitter.ab_test_decision(outcome="not_significant")
    emitter.ab_test_decision(outcome="winner")
    emitter.ab_test_completed(has_winner=True)
    emitter.ab_test_completed(has_winner=False)
    emitter.winner_validated(confirmed=True)
    emitter.winner_validated(confirmed=False)
    assert metrics.total("ABTestsCreated") == 1
    assert metrics.total("ABTestDecisions", Outcome="not_significant") == 1
    assert metrics.total("ABTestsCompleted") == 2
    assert metrics.total("ABTestsCompleted", Outcome="no_winner") == 1
    assert metrics.values("WinnerDeterminationAccuracy") == [100.0, 0.0]


def test_winner_decision_validated_emits_only_judged_decisions(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """A confirmed decision emits 100; an unvalidated one emits nothing."""
    decided = datetime(2026, 1, 1, tzinfo=UTC)
    confirmed = WinnerDecisionRecord("B", "A", decided, ArmCounts(200, 20), ArmCounts(200, 10))
    thin = WinnerDecisionRecord("B", "A", decided, ArmCounts(20, 2), ArmCounts(200, 10))
    assert emitter.winner_decision_validated(confirmed) is DecisionVerdict.CONFIRMED
    assert emitter.winner_decision_validated(thin) is DecisionVerdict.UNVALIDATED
    assert metrics.values("WinnerDeterminationAccuracy") == [100.0]


def test_unknown_dimension_values_become_other(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """An unknown campaign type or platform is published as 'other' (bounded cardinality)."""
    emitter.conversion(value=1, campaign_type="mystery", platform="myspace")
    metrics.assert_emitted("CampaignConversions", dimensions={"CampaignType": "other"})
    metrics.assert_emitted("CampaignConversions", dimensions={"Platform": "other"})


def test_owner_rollup_is_off_by_default(emitter: MetricsEmitter, metrics: InMemoryMetrics) -> None:
    """Without owner_dimension, owner ids never reach the sink."""
    emitter.campaign_created(campaign_type="ppv", owner_id="creator-1")
    assert not metrics.points(OwnerId="creator-1")


def test_owner_rollup_when_switched_on(metrics: InMemoryMetrics, clock: FakeClock) -> None:
    """With owner_dimension, each metric gains one OwnerId series (gauges excepted)."""
    emitter = MetricsEmitter(metrics, clock=clock, owner_dimension=True, strict=True)
    emitter.campaign_created(campaign_type="ppv", owner_id="creator-1")
    emitter.campaign_created(campaign_type="ppv")  # no owner given: no owner series
    emitter.campaign_status_counts({"active": 1})
    assert metrics.total("CampaignsCreated", OwnerId="creator-1") == 1
    assert metrics.total("CampaignsCreated") == 2
    assert not metrics.points("CampaignsByStatus", OwnerId="creator-1")


def test_a_bad_owner_id_loses_only_the_owner_series(
    metrics: InMemoryMetrics, clock: FakeClock
) -> None:
    """A non-ASCII owner id skips the owner series (counted) but keeps the totals."""
    lenient = MetricsEmitter(metrics, clock=clock, owner_dimension=True)
    lenient.campaign_created(campaign_type="ppv", owner_id="créatrice")
    assert metrics.total("CampaignsCreated") == 1
    assert not metrics.points(OwnerId="créatrice")
    assert lenient.stats.invalid == 1
    strict = MetricsEmitter(metrics, clock=clock, owner_dimension=True, strict=True)
    with pytest.raises(ValidationError) as exc:
        strict.campaign_created(campaign_type="ppv", owner_id="créatrice")
    assert exc.value.problems[0].path == "owner_id.dimensions.OwnerId"


def test_static_dimensions_reach_every_point(metrics: InMemoryMetrics, clock: FakeClock) -> None:
    """Static dimensions are added to every rollup."""
    emitter = MetricsEmitter(metrics, clock=clock, dimensions={"Environment": "prod"})
    emitter.campaign_created(campaign_type="ppv")
    assert [dict(p.dimensions) for p in metrics.points()] == [
        {"Environment": "prod"},
        {"Environment": "prod", "CampaignType": "ppv"},
    ]
    assert metrics.total("CampaignsCreated", Environment="prod") == 1


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"dimensions": {"CampaignType": "x"}}, "dimensions.CampaignType"),
        ({"dimensions": {"Env": ""}}, "dimensions.Env"),
        ({"dimensions": {f"D{i}": "v" for i in range(30)}}, "dimensions"),
        ({"dimensions": ["Env"]}, "dimensions"),
        ({"sink": object()}, "sink"),
    ],
)
def test_bad_configuration_raises(kwargs: dict[str, Any], path: str) -> None:
    """Configuration errors are raised at construction, with their path."""
    with pytest.raises(ValidationError) as exc:
        MetricsEmitter(**{"sink": InMemoryMetrics(), **kwargs})
    assert path in {p.path for p in exc.value.problems}


def test_strict_emitter_raises_on_invalid_values(emitter: MetricsEmitter) -> None:
    """A strict emitter raises ValidationError for a NaN value."""
    with pytest.raises(ValidationError) as exc:
        emitter.conversion(value=float("nan"), campaign_type="ppv", platform="reddit")
    assert exc.value.problems[0].path == "value"


def test_lenient_emitter_counts_and_logs_invalid_values(
    metrics: InMemoryMetrics, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """By default an invalid call emits nothing, is counted and logged, and returns."""
    emitter = MetricsEmitter(metrics, clock=clock)
    with caplog.at_level(logging.WARNING, logger="campaign_core.metrics"):
        emitter.conversion(value=float("inf"), campaign_type="ppv", platform="reddit")
        emitter.record("NoSuchMetric", 1)
    assert metrics.points() == []  # the conversion's count was not emitted alone either
    assert emitter.stats.invalid == 2
    assert "invalid data for CampaignConversions" in caplog.text


class _BrokenSink:
    def __init__(self) -> None:
        self.calls = 0

    def emit(self, point: MetricPoint) -> None:
        self.calls += 1
        raise RuntimeError("sink is down")

    def flush(self) -> None:
        raise RuntimeError("flush is down")

    def close(self) -> None:
        raise OSError("close is down")


def test_sink_exceptions_are_swallowed_counted_and_logged(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A sink that raises never breaks the caller; every failure is counted, logs are throttled."""
    sink = _BrokenSink()
    emitter = MetricsEmitter(sink, clock=clock, strict=True)
    with caplog.at_level(logging.WARNING, logger="campaign_core.metrics"):
        for _ in range(10):
            emitter.campaign_created(campaign_type="ppv")
        emitter.flush()
        emitter.close()
    assert sink.calls == 20
    assert emitter.stats.sink_errors == 22
    assert emitter.stats.points == 0
    # Logged at occurrences 1, 2, 4, 8 and 16 only.
    assert len([r for r in caplog.records if "sink failed" in r.getMessage()]) == 5


@pytest.mark.parametrize(("level", "traceback"), [(logging.WARNING, False), (logging.DEBUG, True)])
def test_sink_failures_log_one_line_and_the_traceback_only_when_debugging(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, level: int, traceback: bool
) -> None:
    """A failing sink logs one warning line; its traceback only when the logger is at DEBUG."""
    emitter = MetricsEmitter(_BrokenSink(), clock=clock, strict=True)
    with caplog.at_level(level, logger="campaign_core.metrics"):
        emitter.campaign_created(campaign_type="ppv")
    records = [r for r in caplog.records if "sink failed" in r.getMessage()]
    assert records
    for record in records:
        assert record.levelno == logging.WARNING
        assert (record.exc_info is not None) is traceback


def test_null_sink_builds_nothing(clock: FakeClock) -> None:
    """With the default NullMetrics sink nothing is built or counted."""
    emitter = MetricsEmitter(clock=clock)
    assert isinstance(emitter.sink, NullMetrics)
    emitter.campaign_created(campaign_type="ppv")
    emitter.conversion(value=float("nan"), campaign_type="ppv", platform="x")
    assert emitter.stats.points == 0
    assert emitter.stats.invalid == 0


def test_record_emits_catalog_metrics_by_name(
    emitter: MetricsEmitter, metrics: InMemoryMetrics
) -> None:
    """record() applies the catalog's unit and rollups; a missing dimension is invalid."""
    emitter.record("PublishFailures", 3, dimensions={"Platform": "instagram"})
    metrics.assert_emitted(
        "PublishFailures", value=3, unit="Count", dimensions={"Platform": "instagram"}
    )
    with pytest.raises(ValidationError) as exc:
        emitter.record("PublishFailures", 1)
    assert exc.value.problems[0].path == "dimensions.Platform"


def test_emitter_is_thread_safe(metrics: InMemoryMetrics, clock: FakeClock) -> None:
    """Concurrent calls lose no point and count exactly."""
    emitter = MetricsEmitter(metrics, clock=clock)

    def work() -> None:
        for _ in range(200):
            emitter.campaign_created(campaign_type="ppv")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.total("CampaignsCreated") == 1600
    assert emitter.stats.points == 3200
