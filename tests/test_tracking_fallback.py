"""The ports-level tracking aggregates: the store's capability when it has one, else the Python path."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from campaign_core._tracking_fallback import (
    IN_CHUNK,
    RepositoryTrackingAggregates,
    chunked,
    tracking_aggregates,
)
from campaign_core.models import TrackingEventRecord
from campaign_core.ports import TrackingAggregates
from tests.conftest import make_store

T0 = datetime(2026, 4, 1, tzinfo=UTC)


@given(st.lists(st.text(max_size=3), max_size=1200), st.integers(1, 600))
def test_chunked_keeps_order_and_bounds_each_chunk(values: list[str], size: int) -> None:
    """Chunks concatenate to the input, each holds at most ``size`` values, none is empty."""
    chunks = list(chunked(values, size))
    assert [v for chunk in chunks for v in chunk] == values
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_chunked_default_size_is_the_in_chunk() -> None:
    """Without a size, chunks hold IN_CHUNK values."""
    assert [len(c) for c in chunked([str(i) for i in range(IN_CHUNK + 1)])] == [IN_CHUNK, 1]


def test_memory_store_gets_the_repository_path() -> None:
    """A store without the capability is served by the Python path over its repository."""
    store = make_store("memory")
    with store.unit_of_work() as uow:
        assert uow.tracking_aggregates() is None
        assert isinstance(tracking_aggregates(uow), RepositoryTrackingAggregates)


def test_sql_store_gets_its_own_capability() -> None:
    """A store that declares the capability is used as is."""
    store = make_store("sqlite")
    try:
        with store.unit_of_work() as uow:
            found = tracking_aggregates(uow)
            assert isinstance(found, TrackingAggregates)
            assert not isinstance(found, RepositoryTrackingAggregates)
    finally:
        store.close()


def test_repository_path_counts_and_anonymizes() -> None:
    """The Python path counts per cell with reach and replaces a fan's id on erasure."""
    store = make_store("memory")
    events = [
        TrackingEventRecord(
            id=f"e{i}",
            owner_id="o",
            campaign_id="c1",
            kind=kind,
            fan_id=fan,
            platform="instagram",
            value=value,
            occurred_at=T0,
            created_at=T0,
        )
        for i, (kind, fan, value) in enumerate(
            [("impression", "f1", 0.0), ("impression", "f2", 0.0), ("conversion", "f1", 5.0)]
        )
    ]
    with store.unit_of_work() as uow:
        uow.tracking_events.add_many(events)
        aggregates = RepositoryTrackingAggregates(uow.tracking_events)
        counts = aggregates.counts(["c1", "c2"])
        (cell,) = counts["c1"].cells
        assert (cell["impressions"], cell["conversions"], cell["revenue"]) == (2, 1, 5.0)
        assert counts["c1"].reach["total"] == 2
        assert counts["c2"].cells == ()
        assert aggregates.anonymize_fan(["c1"], "f1", "erased-1") == 2
        assert sorted(aggregates.columns(["c1"])["fan_id"]) == ["erased-1", "erased-1", "f2"]
