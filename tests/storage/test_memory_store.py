"""The in-memory store is linear in its data: indexed equality look-ups, no deep copies.

Counts, never times: how many rows a query examines, and that what is read is
still the caller's to mutate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import campaign_core_memory._store as memory_store
from campaign_core.models import Fan
from campaign_core.query import And, Eq, In, Not, Or, Order
from campaign_core_memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fan(n: int, owner: str = "o1", **changes: Any) -> Fan:
    return Fan(
        id=f"f{n}",
        owner_id=owner,
        fan_id=f"fan-{n}",
        engagement=float(n % 7),
        traits={"tier": "gold" if n % 2 else "silver", "tags": ["a"]},
        created_at=T0,
        updated_at=T0,
        **changes,
    )


@pytest.fixture
def examined(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows the store's queries evaluate their condition on."""
    seen = [0]
    real = memory_store.matches

    def counting(record: Any, cond: Any) -> Any:
        seen[0] += 1
        return real(record, cond)

    monkeypatch.setattr(memory_store, "matches", counting)
    return seen


def test_an_equality_lookup_reads_only_the_rows_the_index_names(examined: list[int]) -> None:
    store = InMemoryStore()
    with store.unit_of_work() as uow:
        uow.fans.add_many([fan(n, owner=f"o{n % 10}") for n in range(1000)])
        uow.commit()
    with store.unit_of_work() as uow:
        found = uow.fans.find(And(Eq("owner_id", "o3"), In("fan_id", ["fan-3", "fan-13", "x"])))
        assert [f.fan_id for f in found] == ["fan-3", "fan-13"]
        assert examined[0] == 2  # the In names 2 rows; the Eq 100: the smaller set is read
        examined[0] = 0
        assert uow.fans.count(Eq("owner_id", "o3")) == 100
        assert examined[0] == 100
        examined[0] = 0
        assert uow.fans.find(Eq("fan_id", "nobody")) == []
        assert examined[0] == 0


def test_indexed_and_scanned_queries_agree_through_writes_and_rollbacks() -> None:
    """Updates, deletes and rolled-back writes keep the indexes and the row order right."""
    store = InMemoryStore()
    with store.unit_of_work() as uow:
        uow.fans.add_many([fan(n, owner=f"o{n % 3}") for n in range(30)])
        uow.commit()

    def both(where: Any) -> tuple[list[str], list[str]]:
        with store.unit_of_work() as uow:
            indexed = [f.id for f in uow.fans.find(where)]
            scanned = [f.id for f in uow.fans.find(Or(where, Eq("id", None)))]  # no index
        return indexed, scanned

    queries = [
        Eq("owner_id", "o1"),
        In("fan_id", ["fan-4", "fan-5", "fan-27"]),
        Eq("engagement", 3),
    ]
    with store.unit_of_work() as uow:
        uow.fans.find(queries[0])  # build the owner index before the writes
        moved = uow.fans.get("f4")
        assert moved is not None
        uow.fans.update(attrs.evolve(moved, owner_id="o1", version=moved.version + 1))
        uow.fans.delete("f7")
        uow.fans.add(fan(100, owner="o1"))
        uow.commit()
    with store.unit_of_work() as uow:  # rolled back: nothing of it stays in an index
        uow.fans.delete("f10")
        fresh = uow.fans.get("f1")
        assert fresh is not None
        uow.fans.update(attrs.evolve(fresh, owner_id="o2", version=fresh.version + 1))
        uow.fans.add(fan(101, owner="o1"))
    for where in queries:
        indexed, scanned = both(where)
        assert indexed == scanned
    indexed, _ = both(queries[0])
    assert {"f4", "f100", "f10", "f1"} <= set(indexed)
    assert "f101" not in indexed
    with store.unit_of_work() as uow:
        ordered = [f.id for f in uow.fans.find(Eq("owner_id", "o1"), order_by=[Order("id")])]
    assert ordered == sorted(indexed)


def test_an_unhashable_value_falls_back_to_a_scan() -> None:
    store = InMemoryStore()
    with store.unit_of_work() as uow:
        uow.fans.add(fan(1))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.fans.find(Eq("traits", {"tier": "gold"})) == []  # dicts: no index, no error
        assert [f.id for f in uow.fans.find(Not(Eq("owner_id", "o2")))] == ["f1"]


def test_what_is_read_or_written_is_the_callers_to_mutate() -> None:
    """Records are frozen; their dicts and lists are copied both ways (the rest is shared)."""
    store = InMemoryStore()
    written = fan(1)
    with store.unit_of_work() as uow:
        uow.fans.add(written)
        uow.commit()
    written.traits["tier"] = "changed after the write"
    with store.unit_of_work() as uow:
        read = uow.fans.get("f1")
        assert read is not None
        assert read.traits == {"tier": "gold", "tags": ["a"]}
        read.traits["tags"].append("mutated by a reader")
        (listed,) = uow.fans.find(Eq("fan_id", "fan-1"))
        assert listed.traits == {"tier": "gold", "tags": ["a"]}
        assert listed.fan_id is written.fan_id  # immutable values are shared, not copied
