"""The in-memory store: dicts, one lock, an undo log.

Reference semantics for every other store: same errors, same null handling,
same ordering. A unit of work holds the store's lock from start to end, so
units of work are serializable (and a claim never hands one record to two
workers); writes are applied at once and undone on rollback.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import attrs

from campaign_core.clock import truncate_ms
from campaign_core.entities import ENTITIES, EntitySpec
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.ports import (
    AudienceQueries,
    ReadOnlyRepository,
    Repository,
    Store,
    StoreCapabilities,
    UnitOfWork,
    check_increment,
    check_page,
    check_unique_ids,
    merge_fields,
    stale_record,
    update_fields,
)
from campaign_core.query import (
    And,
    Cond,
    IsNull,
    Lte,
    Or,
    Order,
    check_query,
    matches,
    sort_key,
)

__all__ = ["InMemoryRepository", "InMemoryStore", "InMemoryUnitOfWork"]

R = TypeVar("R")

_Undo = Callable[[], None]

_CAPABILITIES = StoreCapabilities(audience_queries=True)


def _normalized(record: Any) -> Any:
    """The record as a SQL store would return it: datetimes in UTC, to the millisecond."""
    changes = {}
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            if value.tzinfo is None:  # the SQL stores' bind processors refuse it so
                raise ValidationError.single(
                    field.name,
                    f"the store takes aware UTC datetimes, got {value!r}",
                    "invalid_type",
                )
            changes[field.name] = truncate_ms(value.astimezone(UTC))
    return attrs.evolve(record, **changes) if changes else record


class _Table:
    """The rows of one entity and its unique indexes."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.rows: dict[str, Any] = {}
        self.unique: dict[tuple[str, ...], dict[tuple[Any, ...], str]] = {
            key: {} for key in spec.unique
        }

    def key_of(self, fields: tuple[str, ...], record: Any) -> tuple[Any, ...] | None:
        values = tuple(getattr(record, f) for f in fields)
        # SQL unique constraints treat NULLs as distinct: a key with a NULL never clashes
        return None if any(v is None for v in values) else values


class InMemoryRepository(Repository[R], Generic[R]):
    """A repository over one :class:`_Table`; writes go through the unit of work's undo log."""

    def __init__(self, table: _Table, log: list[_Undo]) -> None:
        self._table = table
        self._log = log
        self._name = table.spec.name

    # -- helpers -------------------------------------------------------------
    def _check_unique(self, record: Any, ignore_id: str | None) -> None:
        for fields, index in self._table.unique.items():
            key = self._table.key_of(fields, record)
            if key is None:
                continue
            owner = index.get(key)
            if owner is not None and owner != ignore_id:
                raise ConflictError(
                    f"{self._name}: another record has the same {', '.join(fields)}",
                    details={"entity": self._name, "fields": list(fields)},
                )

    def _put(self, record: Any) -> None:
        table = self._table
        record_id = record.id
        previous = table.rows.get(record_id)
        stored = _normalized(copy.deepcopy(record))
        if previous is not None:
            for fields, index in table.unique.items():
                old_key = table.key_of(fields, previous)
                if old_key is not None:
                    index.pop(old_key, None)
        table.rows[record_id] = stored
        for fields, index in table.unique.items():
            key = table.key_of(fields, stored)
            if key is not None:
                index[key] = record_id

        def undo() -> None:
            current = table.rows.pop(record_id, None)
            if current is not None:
                for fields, index in table.unique.items():
                    key = table.key_of(fields, current)
                    if key is not None:
                        index.pop(key, None)
            if previous is not None:
                table.rows[record_id] = previous
                for fields, index in table.unique.items():
                    key = table.key_of(fields, previous)
                    if key is not None:
                        index[key] = record_id

        self._log.append(undo)

    def _remove(self, record_id: str) -> bool:
        table = self._table
        previous = table.rows.pop(record_id, None)
        if previous is None:
            return False
        for fields, index in table.unique.items():
            key = table.key_of(fields, previous)
            if key is not None:
                index.pop(key, None)

        def undo() -> None:
            table.rows[record_id] = previous
            for fields, index in table.unique.items():
                key = table.key_of(fields, previous)
                if key is not None:
                    index[key] = record_id

        self._log.append(undo)
        return True

    def _select(self, where: Cond | None) -> list[Any]:
        return [r for r in self._table.rows.values() if matches(r, where) is True]

    def _check(self, where: Cond | None, order_by: Sequence[Order] = ()) -> None:
        """Refuse what the SQL stores refuse, with their error (unknown fields, naive datetimes)."""
        check_query(self._name, self._table.spec.fields, where, order_by)

    def _check_type(self, record: Any, path: str = "") -> None:
        if not isinstance(record, self._table.spec.record):
            raise ValidationError.single(
                path,
                f"expected a {self._table.spec.record.__name__}, got {type(record).__name__}",
                "invalid_type",
            )

    # -- Repository ----------------------------------------------------------
    def add(self, record: R) -> None:
        self._check_type(record)
        record_id = record.id  # type: ignore[attr-defined]
        if record_id in self._table.rows:
            raise ConflictError(
                f"{self._name} {record_id!r} already exists",
                details={"entity": self._name, "id": record_id},
            )
        self._check_unique(record, None)
        self._put(record)

    def add_many(self, records: Sequence[R]) -> None:
        ids = [r.id for r in records]  # type: ignore[attr-defined]
        if len(set(ids)) != len(ids):
            raise ConflictError(
                f"{self._name}: duplicate ids in batch", details={"entity": self._name}
            )
        mark = len(self._log)
        try:
            for record in records:
                self.add(record)
        except BaseException:
            # all or nothing, as the SQL store's single INSERT
            while len(self._log) > mark:
                self._log.pop()()
            raise

    def get(self, record_id: str) -> R | None:
        # ids are strings: anything else (unhashable too) names no record, as on SQL stores
        record = self._table.rows.get(record_id) if isinstance(record_id, str) else None
        return None if record is None else copy.deepcopy(record)

    def update(self, record: R) -> None:
        self._check_type(record)
        record_id = record.id  # type: ignore[attr-defined]
        current = self._table.rows.get(record_id)
        if current is None:
            raise NotFoundError(self._name, record_id)
        if self._table.spec.versioned:
            expected = record.version - 1  # type: ignore[attr-defined]
            if current.version != expected:
                raise ConflictError(
                    f"{self._name} {record_id!r} was changed by someone else "
                    f"(stored version {current.version}, expected {expected})",
                    details={"entity": self._name, "id": record_id},
                )
        self._check_unique(record, record_id)
        self._put(record)

    def update_many(self, records: Sequence[R], *, fields: Sequence[str] | None = None) -> None:
        names = update_fields(self._table.spec.record, fields)
        if not records or (names is not None and not names):
            return
        check_unique_ids(self._name, records)
        versioned = self._table.spec.versioned
        mark = len(self._log)
        try:
            for index, record in enumerate(records):
                record_id = record.id  # type: ignore[attr-defined]
                current = self._table.rows.get(record_id)
                expected = record.version - 1 if versioned else None  # type: ignore[attr-defined]
                if current is None or (versioned and current.version != expected):
                    stored = None if current is None else getattr(current, "version", 0)
                    raise stale_record(self._name, index, record_id, stored, expected)
                record = merge_fields(current, record, names)
                self._check_unique(record, record_id)
                self._put(record)
        except BaseException:
            while len(self._log) > mark:  # all or nothing, as the SQL store's savepoint
                self._log.pop()()
            raise

    def delete(self, record_id: str) -> bool:
        return self._remove(record_id)

    def delete_where(self, where: Cond) -> int:
        self._check(where)
        victims = [r.id for r in self._select(where)]
        for record_id in victims:
            self._remove(record_id)
        return len(victims)

    def find(
        self,
        where: Cond | None = None,
        *,
        order_by: Sequence[Order] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        self._check(where, order_by)
        check_page(limit, offset)
        rows = self._select(where)
        for order in reversed(order_by):
            rows.sort(key=lambda r, o=order: sort_key(r, o), reverse=order.descending)  # type: ignore[misc]
        end = None if limit is None else offset + limit
        return [copy.deepcopy(r) for r in rows[offset:end]]

    def count(self, where: Cond | None = None) -> int:
        self._check(where)
        if where is None:
            return len(self._table.rows)
        return len(self._select(where))

    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        check_increment(self._name, self._table.spec.record, deltas)
        current = self._table.rows.get(record_id)
        if current is None:
            raise NotFoundError(self._name, record_id)
        changes = {name: getattr(current, name) + delta for name, delta in deltas.items()}
        self._put(attrs.evolve(current, **changes))

    def claim(
        self,
        where: Cond,
        *,
        order_by: Sequence[Order],
        limit: int,
        owner: str,
        until: datetime,
        now: datetime,
    ) -> list[R]:
        if limit <= 0:
            return []
        free = Or(IsNull("lease_until"), Lte("lease_until", now))
        candidates = self.find(And(where, free), order_by=order_by, limit=limit)
        claimed: list[R] = []
        versioned = self._table.spec.versioned
        for record in candidates:
            changes: dict[str, Any] = {"lease_owner": owner, "lease_until": until}
            if versioned:
                changes["version"] = record.version + 1  # type: ignore[attr-defined]
            leased = attrs.evolve(record, **changes)  # type: ignore[misc]
            self._put(leased)
            claimed.append(copy.deepcopy(leased))
        return claimed


class _ReadOnlyRepository(ReadOnlyRepository[R], InMemoryRepository[R]):
    """The repository of a read-only unit of work: reads as usual, writes raise."""


class InMemoryUnitOfWork(UnitOfWork):
    """One serializable transaction over the in-memory tables (repositories built on first use)."""

    def __init__(self, store: InMemoryStore, *, read_only: bool = False) -> None:
        self._log: list[_Undo] = []
        self._done = False
        self._tables = store._tables
        self.read_only = read_only

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not set yet: a repository is built on its first use
        table = self.__dict__.get("_tables", {}).get(name)
        if table is None:
            raise AttributeError(name)
        cls = _ReadOnlyRepository if self.read_only else InMemoryRepository
        repository: InMemoryRepository[Any] = cls(table, self._log)
        setattr(self, name, repository)
        return repository

    def commit(self) -> None:
        self._log.clear()

    def rollback(self) -> None:
        while self._log:
            self._log.pop()()

    def audience_queries(self) -> AudienceQueries:
        """Criteria evaluated in Python without copying rows (see :attr:`audience`)."""
        return cast(AudienceQueries, self.audience)

    @property
    def audience(self) -> Any:
        """Criteria evaluated in Python (:class:`campaign_core.ports.AudienceQueries`).

        Every query here scans all rows, so the fans are read in one query rather
        than page by page, and without the copies ``find`` makes (they are only read).
        """
        from campaign_core.audience import PythonAudience

        def read(name: str, where: Cond) -> list[Any]:
            repository = self.repository(name)
            assert isinstance(repository, InMemoryRepository)
            return repository._select(where)

        return PythonAudience(self, page_size=None, read=read)


class InMemoryStore(Store):
    """Keeps everything in dicts; thread-safe; for tests, demos and small hosts.

    Args:
        entities: the entity registry to serve (defaults to every registered entity).
    """

    def __init__(self, entities: Mapping[str, EntitySpec] | None = None) -> None:
        self._lock = threading.RLock()
        self._tables = {name: _Table(spec) for name, spec in (entities or ENTITIES).items()}

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return self._unit_of_work(read_only=False)

    def read_only_unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work whose repositories refuse writes (the lock is held all the same).

        Returns:
            A context manager giving the unit of work.
        """
        return self._unit_of_work(read_only=True)

    @contextmanager
    def _unit_of_work(self, *, read_only: bool) -> Iterator[UnitOfWork]:
        with self._lock:
            uow = InMemoryUnitOfWork(self, read_only=read_only)
            try:
                yield uow
            finally:
                # anything not committed is undone (commit clears the log)
                uow.rollback()

    def capabilities(self) -> StoreCapabilities:
        """Audience queries (criteria evaluated over the tables in place); one writer."""
        return _CAPABILITIES

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(t.rows)}" for n, t in self._tables.items() if t.rows)
        return f"InMemoryStore({sizes})"
