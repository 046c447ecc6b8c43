"""Helpers for tests: record factories, store snapshots, a store that fails on demand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs

from campaign_core.entities import ENTITIES
from campaign_core.models import Campaign
from campaign_core.ports import Repository, Store, StoreCapabilities, UnitOfWork
from campaign_core.serialization import to_json

__all__ = ["FailingStore", "InjectedFault", "make_campaign", "snapshot"]

_COUNTER = itertools.count(1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_campaign(**changes: Any) -> Campaign:
    """A valid campaign record with sensible defaults (override any field)."""
    n = next(_COUNTER)
    base: dict[str, Any] = {
        "id": f"camp-{n:06d}",
        "user_id": "owner-1",
        "name": f"Campaign {n}",
        "type": "promotion",
        "platforms": ("instagram",),
        "content": {"title": "Hello", "description": "World"},
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(changes)
    return Campaign(**base)


def snapshot(store: Store) -> dict[str, list[Any]]:
    """Everything in the store as JSON, per repository, sorted by id (to compare stores)."""
    out: dict[str, list[Any]] = {}
    with store.unit_of_work() as uow:
        for name in ENTITIES:
            repo: Repository[Any] = uow.repository(name)
            out[name] = [to_json(r) for r in repo.iter_all()]
    return out


class InjectedFault(RuntimeError):
    """The failure :class:`FailingStore` raises on its k-th write."""


class _FailingRepository(Repository[Any]):
    def __init__(self, inner: Repository[Any], store: FailingStore) -> None:
        self._inner = inner
        self._store = store

    def _write(self) -> None:
        self._store.tick_write()

    def add(self, record: Any) -> None:
        self._write()
        self._inner.add(record)

    def add_many(self, records: Any) -> None:
        self._write()
        self._inner.add_many(records)

    def get(self, record_id: str) -> Any:
        return self._inner.get(record_id)

    def update(self, record: Any) -> None:
        self._write()
        self._inner.update(record)

    def delete(self, record_id: str) -> bool:
        self._write()
        return self._inner.delete(record_id)

    def delete_where(self, where: Any) -> int:
        self._write()
        return self._inner.delete_where(where)

    def find(self, where: Any = None, **kwargs: Any) -> list[Any]:
        return self._inner.find(where, **kwargs)

    def count(self, where: Any = None) -> int:
        return self._inner.count(where)

    def increment(self, record_id: str, deltas: Any) -> None:
        self._write()
        self._inner.increment(record_id, deltas)

    def claim(self, where: Any, **kwargs: Any) -> list[Any]:
        self._write()
        return self._inner.claim(where, **kwargs)


class _FailingUnitOfWork(UnitOfWork):
    def __init__(self, inner: UnitOfWork, store: FailingStore) -> None:
        self._inner = inner
        self._store = store
        for name in ENTITIES:
            setattr(self, name, _FailingRepository(inner.repository(name), store))

    def commit(self) -> None:
        self._store.tick_write()
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


@attrs.define
class FailingStore(Store):
    """Wraps a store and raises :class:`InjectedFault` at the ``fail_at``-th write.

    Writes are repository writes and commits, counted across units of work.
    Use it to prove that a crash at any point loses nothing and duplicates
    nothing: run a workload with ``fail_at = 1, 2, 3...``, then run it again
    on the inner store and compare.
    """

    inner: Store
    fail_at: int | None = None
    writes: int = 0

    def tick_write(self) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes == self.fail_at:
            raise InjectedFault(f"injected fault at write {self.writes}")

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.inner.unit_of_work() as uow:
            yield _FailingUnitOfWork(uow, self)

    def capabilities(self) -> StoreCapabilities:
        """The inner store's, without the capability objects (writes through them are not counted)."""
        return attrs.evolve(
            self.inner.capabilities(), audience_queries=False, tracking_aggregates=False
        )
