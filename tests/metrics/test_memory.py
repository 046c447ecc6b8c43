"""InMemoryMetrics: series semantics, assertion helpers with useful messages, thread safety."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from campaign_core.metrics import InMemoryMetrics, MetricPoint

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _point(name: str, value: float, unit: str = "Count", **dims: str) -> MetricPoint:
    return MetricPoint(name, value, unit, NOW, dims)


@pytest.fixture
def metrics() -> InMemoryMetrics:
    """A sink holding a few points of two series of one metric."""
    sink = InMemoryMetrics()
    sink.emit(_point("CampaignsCreated", 1))
    sink.emit(_point("CampaignsCreated", 1, CampaignType="ppv"))
    sink.emit(_point("CampaignsCreated", 1))
    sink.emit(_point("CampaignsCreated", 1, CampaignType="retention"))
    sink.emit(_point("CampaignRevenue", 9.5, "None", Platform="reddit", CampaignType="ppv"))
    return sink


def test_points_filter_by_name_and_dimension_subset(metrics: InMemoryMetrics) -> None:
    """points() keeps emission order and matches dimensions as a subset unless exact."""
    assert len(metrics.points()) == 5
    assert len(metrics.points("CampaignsCreated")) == 4
    assert len(metrics.points(CampaignType="ppv")) == 2
    assert len(metrics.points("CampaignsCreated", exact=True)) == 2
    assert metrics.points(Platform="reddit")[0].name == "CampaignRevenue"


def test_total_and_values_follow_exact_series(metrics: InMemoryMetrics) -> None:
    """total() sums one series (exact dimensions), like CloudWatch, never every rollup."""
    assert metrics.total("CampaignsCreated") == 2
    assert metrics.total("CampaignsCreated", CampaignType="ppv") == 1
    assert metrics.total("CampaignRevenue") == 0
    assert metrics.values("CampaignRevenue", Platform="reddit", CampaignType="ppv") == [9.5]
    assert metrics.names() == ["CampaignRevenue", "CampaignsCreated"]


def test_assert_emitted_returns_matches(metrics: InMemoryMetrics) -> None:
    """A satisfied assertion returns the matching points; count checks the number."""
    found = metrics.assert_emitted("CampaignsCreated", value=1, unit="Count", dimensions={})
    assert len(found) == 2
    metrics.assert_emitted("CampaignsCreated", dimensions={}, count=2)


def test_assert_emitted_explains_each_difference(metrics: InMemoryMetrics) -> None:
    """The message lists the points of that name and what differs for each."""
    with pytest.raises(AssertionError) as exc:
        metrics.assert_emitted(
            "CampaignRevenue", value=10, unit="Count", dimensions={"Platform": "tiktok"}
        )
    message = str(exc.value)
    assert "expected a point 'CampaignRevenue'" in message
    assert "value 9.5 != 10" in message
    assert "unit 'None' != 'Count'" in message
    assert "extra dimensions ['CampaignType']" in message
    assert "Platform='reddit' != 'tiktok'" in message


def test_assert_emitted_wrong_count(metrics: InMemoryMetrics) -> None:
    """A count mismatch says how many matched."""
    with pytest.raises(AssertionError, match="found 2 matching of 4"):
        metrics.assert_emitted("CampaignsCreated", dimensions={}, count=3)


def test_assert_emitted_suggests_close_names(metrics: InMemoryMetrics) -> None:
    """A misspelt name gets a did-you-mean and the list of names emitted."""
    with pytest.raises(AssertionError) as exc:
        metrics.assert_emitted("CampaignCreated")
    assert "did you mean 'CampaignsCreated'" in str(exc.value)
    assert "names emitted" in str(exc.value)


def test_assert_not_emitted(metrics: InMemoryMetrics) -> None:
    """assert_not_emitted passes for absent points and lists present ones."""
    metrics.assert_not_emitted("CampaignsLaunched")
    metrics.assert_not_emitted("CampaignsCreated", CampaignType="promotion")
    with pytest.raises(AssertionError, match="found 1"):
        metrics.assert_not_emitted("CampaignsCreated", CampaignType="ppv")


def test_clear_forgets_points_but_keeps_counters(metrics: InMemoryMetrics) -> None:
    """clear() empties the points; stats still count what was received."""
    metrics.clear()
    assert metrics.points() == []
    assert metrics.stats.accepted == 5
    assert metrics.stats.dropped == 0


def test_close_and_flush_are_recorded_and_harmless(metrics: InMemoryMetrics) -> None:
    """flush and close are recorded; points emitted after close are still kept."""
    metrics.flush()
    metrics.close()
    metrics.emit(_point("CampaignsLaunched", 1))
    assert metrics.flushes == 1
    assert metrics.closed
    assert metrics.total("CampaignsLaunched") == 1


def test_concurrent_emits_are_all_kept() -> None:
    """Several threads emitting at once lose nothing."""
    sink = InMemoryMetrics()
    point = _point("X", 1)

    def work() -> None:
        for _ in range(500):
            sink.emit(point)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sink.total("X") == 4000
