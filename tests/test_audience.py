"""campaign_core.audience: how fans and segments are read, and the per-fan fallback."""

from __future__ import annotations

from datetime import UTC, datetime

from campaign_core.audience import (
    EXCLUDE_KEY,
    PythonAudience,
    audience_for,
    instant_trait_key,
    segment_criteria,
    segment_exclusions,
    stored_criteria,
    valid_segment_criteria,
)
from campaign_core.criteria import FieldRegistry, normalize
from campaign_core.models import Fan, Segment, SegmentType
from campaign_core.testing.helpers import FailingStore
from campaign_core_memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fan(fan_id: str, engagement: float) -> Fan:
    return Fan(
        id=f"id-{fan_id}",
        owner_id="acct",
        fan_id=fan_id,
        engagement=engagement,
        created_at=T0,
        updated_at=T0,
    )


def test_a_store_without_the_capability_gets_the_python_fallback() -> None:
    """A unit of work that offers no audience queries is answered in Python, with the same count."""
    store = InMemoryStore()
    with store.unit_of_work() as uow:
        uow.fans.add_many([_fan(f"fan-{i}", float(i * 10)) for i in range(10)])
        uow.commit()
    criteria = normalize({"engagement": {"gte": 50}})
    wrapped = FailingStore(store)
    with wrapped.unit_of_work() as uow:
        fallback = audience_for(uow)
        assert isinstance(fallback, PythonAudience)
        assert fallback.count_matching("acct", criteria, now=T0) == 5
    with store.unit_of_work() as uow:
        assert audience_for(uow).count_matching("acct", criteria, now=T0) == 5


def test_stored_criteria_round_trip_with_exclusions() -> None:
    """What a hybrid segment stores reads back as the same criteria and the sorted exclusions."""
    criteria = normalize({"engagement": {"gte": 50}})
    stored = stored_criteria(criteria, ["fan-b", "fan-a", "fan-b"])
    assert stored[EXCLUDE_KEY] == ["fan-a", "fan-b"]
    segment = Segment(
        id="s1",
        user_id="acct",
        name="Engaged",
        type=SegmentType.HYBRID,
        criteria=stored,
        created_at=T0,
        updated_at=T0,
    )
    assert segment_criteria(segment) == criteria
    assert segment_exclusions(segment) == ("fan-a", "fan-b")
    assert stored_criteria(None, ["fan-a"]) == {}


def test_criteria_on_an_undeclared_trait_are_not_valid_any_more() -> None:
    """A segment whose stored criteria use a trait no longer declared reads as None, not an error."""
    registry = FieldRegistry.with_traits({"game": "string"})
    criteria = normalize({"traits.game": "chess"}, registry=registry)
    segment = Segment(
        id="s1",
        user_id="acct",
        name="Chess",
        type=SegmentType.DYNAMIC,
        criteria=stored_criteria(criteria),
        created_at=T0,
        updated_at=T0,
    )
    assert valid_segment_criteria(segment, registry) == criteria
    assert valid_segment_criteria(segment, FieldRegistry.with_traits({})) is None


def test_instant_trait_keys_order_like_instants() -> None:
    """Canonical UTC text becomes a millisecond key; other text is no instant."""
    assert instant_trait_key("2026-01-01T10:00:00.1234Z") == "2026-01-01T10:00:00.123"
    assert instant_trait_key("2026-01-01T10:00:00Z") == "2026-01-01T10:00:00.000"
    assert instant_trait_key("2026-02-30T10:00:00Z") is None
    assert instant_trait_key("2026-01-01T10:00:00+00:00") is None
