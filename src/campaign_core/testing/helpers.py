"""Helpers for tests, without pytest: record factories, store snapshots, a store that fails on demand.

Hosts import these in their own tests (pytest or not)::

    from campaign_core.testing.helpers import make_campaign, sample_record

    campaign = make_campaign(name="Spring sale")
    fan = sample_record("fans", 3, owner_id="creator-1")

Importing this module loads neither pytest nor hypothesis.
"""

from __future__ import annotations

import enum
import itertools
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from campaign_core.entities import ENTITIES
from campaign_core.errors import CorruptRecordError
from campaign_core.models import Campaign
from campaign_core.ports import LinkRepository, Repository, Store, StoreCapabilities, UnitOfWork
from campaign_core.serialization import to_json

__all__ = ["T0", "FailingStore", "InjectedFault", "make_campaign", "sample_record", "snapshot"]

_COUNTER = itertools.count(1)
#: The instant the factories date their records from (2026-01-01, UTC).
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


def sample_record(entity: str, n: int = 0, **changes: Any) -> Any:
    """A record of ``entity`` with every field set, optional ones included.

    The values are chosen from each field's type and ``n``: two samples with
    different ``n`` differ in every field (ids and unique keys included), the
    same ``n`` gives an equal record. Enum fields take a member other than
    their default, datetimes are aware UTC to the millisecond, JSON fields hold
    nested lists and objects. The contract suite round-trips one of each entity
    through a store with it; ``version`` is 1 so the record can be added.

    Args:
        entity: a repository name of ``campaign_core.entities.ENTITIES``
            (``"campaigns"``, ``"fans"``...).
        n: which sample.
        **changes: field values to use instead.

    Returns:
        The record (an instance of the entity's record class).

    Raises:
        KeyError: ``entity`` is not registered.
    """
    spec = ENTITIES[entity]
    hints = typing.get_type_hints(spec.record)
    values = {f.name: _sample(f.name, hints[f.name], n) for f in attrs.fields(spec.record)}
    if "version" in values:
        values["version"] = 1
    values.update(changes)
    return spec.record(**values)


def _sample(name: str, annotation: Any, n: int) -> Any:
    supertype = getattr(annotation, "__supertype__", None)  # a NewType (PlatformName)
    if supertype is not None:
        return _sample(name, supertype, n)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _sample(name, inner, n)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        return tuple(_sample(name, item, n + k) for k in range(2))
    if origin is list:
        item = typing.get_args(annotation)[0]
        return [_sample(name, item, n + k) for k in range(2)]
    if origin is dict or annotation is dict:
        return {"n": n, "list": [1, 2.5, "x", None, True], "nested": {"text": f"{name}-{n}"}}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = list(annotation)
        return members[(n + 1) % len(members)]
    if annotation is bool:
        return True
    if annotation is int:
        return 7 + n
    if annotation is float:
        return 2.25 + n
    if annotation is str:
        return f"{name}-{n}"
    if annotation is datetime:
        return T0 + timedelta(days=n, hours=1, milliseconds=123)
    raise TypeError(f"no sample for {name}: {annotation!r}")


def snapshot(store: Store) -> dict[str, list[Any]]:
    """Everything in the store as JSON, per repository, sorted by id, and its links (to compare stores)."""
    out: dict[str, list[Any]] = {}
    with store.unit_of_work() as uow:
        for name in ENTITIES:
            repo: Repository[Any] = uow.repository(name)
            out[name] = [to_json(r) for r in repo.iter_all()]
        out["automation_campaigns"] = [list(p) for p in uow.automation_campaigns.find()]
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

    def update_many(self, records: Any, *, fields: Any = None) -> None:
        self._write()  # one batch, one write (as add_many)
        self._inner.update_many(records, fields=fields)

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

    def take_skipped(self) -> list[CorruptRecordError]:
        return self._inner.take_skipped()

    def increment(self, record_id: str, deltas: Any) -> None:
        self._write()
        self._inner.increment(record_id, deltas)

    def claim(self, where: Any, **kwargs: Any) -> list[Any]:
        self._write()
        return self._inner.claim(where, **kwargs)


class _FailingLinks(LinkRepository):
    def __init__(self, inner: LinkRepository, store: FailingStore) -> None:
        self._inner = inner
        self._store = store

    def link(self, a: str, b: str) -> bool:
        self._store.tick_write()
        return self._inner.link(a, b)

    def unlink(self, a: str, b: str) -> bool:
        self._store.tick_write()
        return self._inner.unlink(a, b)

    def find(self, *, a: str | None = None, b: str | None = None) -> list[tuple[str, str]]:
        return self._inner.find(a=a, b=b)


class _FailingUnitOfWork(UnitOfWork):
    def __init__(self, inner: UnitOfWork, store: FailingStore) -> None:
        self._inner = inner
        self._store = store
        for name in ENTITIES:
            setattr(self, name, _FailingRepository(inner.repository(name), store))

    @property
    def automation_campaigns(self) -> LinkRepository:
        return _FailingLinks(self._inner.automation_campaigns, self._store)

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
