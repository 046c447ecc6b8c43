"""The bulk path (add_many): every column type survives it on every database, in small and COPY-sized batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core.errors import ConflictError
from campaign_core.models import Automation, Fan, FanEvent
from campaign_core.query import Order
from campaign_core.testing.helpers import make_campaign
from tests.conftest import backend_params, make_store

SQL_BACKENDS = ["sqlite", "postgres", "mariadb"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _automation(i: int) -> Automation:
    return Automation(
        id=f"a{i:04d}",
        user_id="owner-1",
        name=f"Flow {i}",
        status="active",
        trigger={"type": "event", "config": {"event": "fan.subscribed"}},
        conditions=({"field": "spendingLevel", "op": "in", "value": ["high", "vip"]},) * (i % 3),
        actions=({"type": "wait", "duration": "1h"}, {"type": "send_message", "text": 'héllo "x"'}),
        last_executed_at=T0 + timedelta(milliseconds=i) if i % 2 else None,
        created_at=T0,
        updated_at=T0,
        settings={"reentry": i % 2 == 0},
    )


@pytest.mark.parametrize("size", [3, 100], ids=["executemany", "copy-sized"])
@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_every_column_type_round_trips_through_add_many(backend: str, size: int) -> None:
    """Arrays of text and of JSON, JSON, enums, booleans, floats, nulls and datetimes read back equal."""
    store = make_store(backend)
    automations = [_automation(i) for i in range(size)]
    campaigns = [
        make_campaign(
            id=f"c{i:04d}",
            platforms=("instagram", "tiktok")[: i % 3],
            segment_ids=tuple(f"s{j}" for j in range(i % 4)),
            budget=None if i % 5 == 0 else i * 1.5,
            is_ab_test=bool(i % 2),
            scheduled_for=T0 + timedelta(days=i, milliseconds=7),
        )
        for i in range(size)
    ]
    fans = [
        Fan(
            id=f"f{i:04d}",
            owner_id="owner-1",
            fan_id=f"fan-{i}",
            spending_level="vip" if i % 2 else None,
            engagement=i / 7,
            opted_out=i % 3 == 0,
            traits={"tags": ["a", "b"], "score": i, "nested": {"ok": True, "none": None}},
            created_at=T0,
            updated_at=T0,
        )
        for i in range(size)
    ]
    with store.unit_of_work() as uow:
        uow.automations.add_many(automations)
        uow.campaigns.add_many(campaigns)
        uow.fans.add_many(fans)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.automations.find(order_by=[Order("id")]) == automations
        assert uow.campaigns.find(order_by=[Order("id")]) == campaigns
        assert uow.fans.find(order_by=[Order("id")]) == fans
    store.close()


@pytest.mark.parametrize("size", [2, 1201], ids=["few", "chunked"])
@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_every_column_type_round_trips_through_update_many(backend: str, size: int) -> None:
    """update_many of every field, and of a few, reads back equal (MariaDB: joined UPDATEs of 500 rows)."""
    store = make_store(backend)
    campaigns = [make_campaign(id=f"c{i:04d}") for i in range(size)]
    with store.unit_of_work() as uow:
        uow.campaigns.add_many(campaigns)
        uow.commit()
    changed = [
        attrs.evolve(
            c,
            name=f"Renamed {i} é",
            platforms=("instagram", "tiktok")[: i % 3],
            content={"title": 'x "y"', "n": i, "nested": [None, True, 1.5]},
            budget=None if i % 5 == 0 else i * 1.5,
            is_ab_test=bool(i % 2),
            scheduled_for=None if i % 4 == 0 else T0 + timedelta(days=i, milliseconds=7),
            status="scheduled" if i % 2 else "draft",
            version=2,
        )
        for i, c in enumerate(campaigns)
    ]
    with store.unit_of_work() as uow:
        uow.campaigns.update_many(changed)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.campaigns.find(order_by=[Order("id")]) == changed
    again = [attrs.evolve(c, name="only the name", budget=-1.0, version=3) for c in changed]
    with store.unit_of_work() as uow:
        uow.campaigns.update_many(again, fields=["name"])
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.campaigns.find(order_by=[Order("id")]) == [
            attrs.evolve(c, name="only the name", version=3) for c in changed
        ]
    store.close()


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_a_stale_record_in_a_later_chunk_refuses_the_whole_batch(backend: str) -> None:
    """A stale record at row 900 of 1,201 (MariaDB's second joined UPDATE): nothing is written."""
    store = make_store(backend)
    campaigns = [make_campaign(id=f"c{i:04d}") for i in range(1201)]
    with store.unit_of_work() as uow:
        uow.campaigns.add_many(campaigns)
        uow.campaigns.update(attrs.evolve(campaigns[900], name="moved on", version=2))
        uow.commit()
    batch = [attrs.evolve(c, name="batch", version=2) for c in campaigns]
    with store.unit_of_work() as uow:
        with pytest.raises(ConflictError) as raised:
            uow.campaigns.update_many(batch, fields=["name"])
        assert raised.value.details["reason"] == "stale"
        assert raised.value.details["id"] == "c0900"
        assert "stored version 2, expected 1" in str(raised.value)
        names = {c.name for c in uow.campaigns.find()}
        assert "batch" not in names
        uow.commit()
    store.close()


def test_json_null_in_a_sqlite_list_column_reads_as_empty() -> None:
    """A list column holding JSON null (written by another tool) reads as (), like SQL NULL."""
    store = make_store("sqlite")
    with store.unit_of_work() as uow:
        uow.campaigns.add(make_campaign(id="n1", platforms=("instagram",)))
        uow.connection.exec_driver_sql(  # type: ignore[attr-defined]
            "UPDATE campaigns SET platforms = 'null', \"segmentIds\" = NULL"
        )
        got = uow.campaigns.get("n1")
    assert got is not None
    assert (got.platforms, got.segment_ids) == ((), ())
    store.close()


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
# PostgreSQL's jsonb keeps numbers as numeric: an integral float of 1e16 or more
# is printed without a fraction and reads back as an int (equal as a float, not
# as a Python int); such floats are left out here and documented in _types.py.
FLOATS = st.floats(-1e15, 1e15, allow_nan=False, width=64)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_fan_events_of_any_json_and_time_round_trip(backend: str) -> None:
    """Arbitrary JSON properties, names and millisecond times come back as they went in (bulk path)."""
    store = make_store(backend)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        props=st.lists(st.dictionaries(TEXT, JSON, max_size=4), min_size=1, max_size=80),
        offsets=st.integers(0, 10**11),
    )
    def check(props: list[dict[str, Any]], offsets: int) -> None:
        events = [
            FanEvent(
                id=f"e{i:04d}",
                owner_id="o",
                fan_id=f"fan-{i % 7}",
                name=f"evt.{i % 3}",
                occurred_at=T0 + timedelta(milliseconds=offsets + i),
                properties=p,
                value=None if i % 2 else float(i),
                created_at=T0,
            )
            for i, p in enumerate(props)
        ]
        with store.unit_of_work() as uow:
            uow.fan_events.add_many(events)
            assert uow.fan_events.find(order_by=[Order("id")]) == events
            # not committed: the next example starts empty

    check()
    store.close()
