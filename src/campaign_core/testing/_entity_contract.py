"""The contract on every entity: a store serves all of them, with their keys, versions and counters."""

from __future__ import annotations

import typing
from datetime import timedelta
from typing import Any

import attrs
import pytest

from campaign_core.entities import ENTITIES
from campaign_core.errors import ConflictError, NotFoundError
from campaign_core.ports import Repository, Store, UnitOfWork
from campaign_core.query import In, NotNull, Order
from campaign_core.testing.helpers import T0, sample_record

__all__ = ["EntityContract"]

_NAMES = sorted(ENTITIES)
_VERSIONED = [name for name in _NAMES if ENTITIES[name].versioned]
_UNIQUE = [(name, key) for name in _NAMES for key in ENTITIES[name].unique]
_LEASED = [name for name in _NAMES if {"lease_owner", "lease_until"} <= set(ENTITIES[name].fields)]
_NUMBERS = {int, float, int | None, float | None}


def _repository(uow: UnitOfWork, name: str) -> Repository[Any]:
    """The repository, or a test failure naming the entity the store lacks."""
    try:
        return uow.repository(name)
    except KeyError:
        pytest.fail(f"the store has no repository {name!r}: a store must serve every entity")


def _counters(entity: str) -> list[str]:
    """The numeric fields of ``entity`` a service may increment (not the version)."""
    record = ENTITIES[entity].record
    hints = typing.get_type_hints(record)
    return [
        f.name for f in attrs.fields(record) if hints[f.name] in _NUMBERS and f.name != "version"
    ]


def _free_field(entity: str) -> str:
    """A field of ``entity`` outside its id, version and unique keys, to change in updates."""
    spec = ENTITIES[entity]
    keyed = {"id", "version", *(f for key in spec.unique for f in key)}
    return next(name for name in spec.fields if name not in keyed)


def _changed(record: Any, entity: str, k: int, **changes: Any) -> Any:
    """``record`` with its free field taken from another sample (``k`` picks which)."""
    field = _free_field(entity)
    return attrs.evolve(record, **{field: getattr(sample_record(entity, 10 + k), field)}, **changes)


class EntityContract:
    """Every entity of ``campaign_core.entities.ENTITIES``, each field of each type."""

    def test_the_store_serves_every_entity(self, store: Store) -> None:
        """Every registered entity has a repository on the unit of work."""
        with store.unit_of_work() as uow:
            missing = []
            for name in _NAMES:
                try:
                    uow.repository(name)
                except KeyError:
                    missing.append(name)
        assert not missing, f"the store lacks repositories for {missing}"

    @pytest.mark.parametrize("entity", _NAMES)
    def test_every_entity_round_trips(self, store: Store, entity: str) -> None:
        """Records with every field set read back equal through get, find, count and iter_all."""
        singles = [sample_record(entity, n) for n in (0, 1)]
        batch = [sample_record(entity, n) for n in (2, 3, 4)]
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            for record in singles:
                repo.add(record)
            repo.add_many(batch)
            uow.commit()
        everything = sorted([*singles, *batch], key=lambda r: r.id)
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            for record in everything:
                assert repo.get(record.id) == record
            ids = [r.id for r in everything]
            assert repo.find(In("id", ids), order_by=[Order("id")]) == everything
            assert repo.count() == len(everything)
            assert list(repo.iter_all(batch=2)) == everything

    @pytest.mark.parametrize("entity", _NAMES)
    def test_every_entity_updates_and_deletes(self, store: Store, entity: str) -> None:
        """update, update_many (all fields and named ones), delete and delete_where on each entity."""
        step = {"version": 2} if ENTITIES[entity].versioned else {}
        records = [sample_record(entity, n) for n in range(4)]
        updated = [_changed(records[k], entity, k, **step) for k in range(3)]
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            repo.add_many(records)
            repo.update(updated[0])
            repo.update_many([updated[1]])
            # every other field of this one is garbage: only the named field is written
            garbage = sample_record(entity, 20, id=records[2].id, **step)
            field = _free_field(entity)
            repo.update_many(
                [attrs.evolve(garbage, **{field: getattr(updated[2], field)})], fields=[field]
            )
            uow.commit()
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            assert [repo.get(r.id) for r in records[:3]] == updated
            assert repo.delete(records[3].id) is True
            assert repo.delete(records[3].id) is False
            assert repo.delete_where(In("id", [records[0].id, records[1].id, "nope"])) == 2
            uow.commit()
        with store.unit_of_work() as uow:
            assert [r.id for r in _repository(uow, entity).find()] == [records[2].id]

    @pytest.mark.parametrize(
        ("entity", "key"), _UNIQUE, ids=[f"{e}-{'-'.join(k)}" for e, k in _UNIQUE]
    )
    def test_every_unique_key_conflicts(
        self, store: Store, entity: str, key: tuple[str, ...]
    ) -> None:
        """A second record with a unique key's values raises ConflictError, on add, add_many and update."""
        first, second = sample_record(entity, 0), sample_record(entity, 1)
        clash = attrs.evolve(second, **{f: getattr(first, f) for f in key})
        step = {"version": 2} if ENTITIES[entity].versioned else {}
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            repo.add(first)
            with pytest.raises(ConflictError):
                repo.add(clash)
            with pytest.raises(ConflictError):
                repo.add_many([sample_record(entity, 2), clash])
            repo.add(second)
            with pytest.raises(ConflictError):
                repo.update(attrs.evolve(clash, **step))
            uow.commit()
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            assert repo.get(first.id) == first
            assert repo.get(second.id) == second
            assert repo.count() == 2

    @pytest.mark.parametrize("entity", _VERSIONED)
    def test_every_versioned_entity_refuses_stale_writes(self, store: Store, entity: str) -> None:
        """The next version is written; a stale or skipped one raises ConflictError and changes nothing."""
        record = sample_record(entity, 0)
        second = _changed(record, entity, 0, version=2)
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            repo.add(record)
            repo.update(second)
            for version in (2, 4):
                lost = _changed(record, entity, 1, version=version)
                with pytest.raises(ConflictError):
                    repo.update(lost)
                with pytest.raises(ConflictError) as raised:
                    repo.update_many([lost])
                assert raised.value.details["reason"] == "stale"
            uow.commit()
        with store.unit_of_work() as uow:
            assert _repository(uow, entity).get(record.id) == second

    @pytest.mark.parametrize("entity", _NAMES)
    def test_every_counter_increments(self, store: Store, entity: str) -> None:
        """increment adds to each numeric field of each entity and leaves the version alone."""
        counters = _counters(entity)
        if not counters:
            pytest.skip(f"{entity} has no numeric field")
        record = sample_record(entity, 0)
        deltas = {name: 3 if isinstance(getattr(record, name), int) else 0.5 for name in counters}
        with store.unit_of_work() as uow:
            repo = _repository(uow, entity)
            repo.add(record)
            repo.increment(record.id, deltas)
            repo.increment(record.id, deltas)
            with pytest.raises(NotFoundError):
                repo.increment("no-such-id", deltas)
            uow.commit()
        with store.unit_of_work() as uow:
            got = _repository(uow, entity).get(record.id)
        assert got is not None
        expected = {name: getattr(record, name) + 2 * delta for name, delta in deltas.items()}
        assert {name: getattr(got, name) for name in counters} == pytest.approx(expected)
        assert attrs.evolve(got, **{n: getattr(record, n) for n in counters}) == record

    @pytest.mark.parametrize("entity", _LEASED)
    def test_every_leased_entity_is_claimed_once(self, store: Store, entity: str) -> None:
        """Each entity with a lease is claimed by one owner until the lease expires."""
        records = [sample_record(entity, n, lease_owner=None, lease_until=None) for n in range(3)]
        with store.unit_of_work() as uow:
            _repository(uow, entity).add_many(records)
            uow.commit()
        until = T0 + timedelta(minutes=5)
        claims = []
        for owner, now in (("w1", T0), ("w2", T0), ("w3", until)):
            with store.unit_of_work() as uow:
                claims.append(
                    _repository(uow, entity).claim(
                        NotNull("id"),
                        order_by=[Order("id")],
                        limit=2,
                        owner=owner,
                        until=now + timedelta(minutes=5),
                        now=now,
                    )
                )
                uow.commit()
        ids = sorted(r.id for r in records)
        assert [[r.id for r in claim] for claim in claims] == [ids[:2], ids[2:], ids[:2]]
        assert all(r.lease_owner == "w3" for r in claims[2])
        with store.unit_of_work() as uow:
            stored = _repository(uow, entity).get(ids[0])
        assert stored == claims[2][0]
