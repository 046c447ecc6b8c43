"""The in-memory store: dicts, one lock, an undo log.

Reference semantics for every other store: same errors, same null handling,
same ordering. A unit of work holds the store's lock from start to end, so
units of work are serializable (and a claim never hands one record to two
workers); writes are applied at once and undone on rollback.

Linear in its data: a query whose top level asks a field to equal a value
(``Eq``, or ``In`` a list) reads the rows an index on that field names (built
on the field's first such query, kept up to date by every write) instead of
scanning the table; the rows come back in the table's order, as a scan gives
them. Records are frozen: what is stored and what is read share every
immutable value (strings, numbers, datetimes, enums) and copy only the
containers (dicts, lists), so a caller mutating a record's dict never changes
the store; a record without containers is handed out as stored.
"""

from __future__ import annotations

import copy
import enum
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final, Generic, TypeVar, cast

import attrs

from campaign_core.clock import truncate_ms
from campaign_core.entities import ENTITIES, EntitySpec
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.ports import (
    AudienceQueries,
    LinkRepository,
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
    Eq,
    In,
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


_ATOMIC: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), datetime, date, time, timedelta, Decimal, bytes}
)
_set_field = object.__setattr__


def _copy_value(value: Any) -> Any:
    """``value`` itself if immutable; containers copied (JSON-like ones without deepcopy)."""
    kind = type(value)
    if kind in _ATOMIC or isinstance(value, enum.Enum):
        return value
    if kind is dict:
        return {key: _copy_value(item) for key, item in value.items()}
    if kind is list:
        return [_copy_value(item) for item in value]
    if kind is tuple:
        return tuple(_copy_value(item) for item in value)
    return copy.deepcopy(value)


def _is_atomic(value: Any) -> bool:
    return type(value) in _ATOMIC or isinstance(value, enum.Enum)


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(field.name for field in attrs.fields(kind))
    return names


def _copied(record: Any) -> Any:
    """A record to hand out: the stored one if it holds no container, else a copy of them."""
    names = _names(type(record))
    if all(_is_atomic(getattr(record, name)) for name in names):
        return record
    new = object.__new__(type(record))
    for name in names:
        _set_field(new, name, _copy_value(getattr(record, name)))
    return new


def _normalized(record: Any) -> Any:
    """The record as stored: a SQL store's values (datetimes in UTC, to the millisecond), containers copied.

    Raises:
        ValidationError: a naive datetime (the SQL stores' bind processors refuse it so).
    """
    new = object.__new__(type(record))
    atomic = _ATOMIC
    for name in _names(type(record)):
        value = getattr(record, name)
        kind = type(value)
        if kind is datetime or isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValidationError.single(
                    name,
                    f"the store takes aware UTC datetimes, got {value!r}",
                    "invalid_type",
                )
            if value.tzinfo is not UTC or value.microsecond % 1000:
                value = truncate_ms(value.astimezone(UTC))
        elif kind not in atomic:
            value = _copy_value(value)
        _set_field(new, name, value)
    return new


_NO_INDEX = object()  # a field whose values cannot be indexed (one is unhashable)


class _Table:
    """The rows of one entity, their order, its unique indexes and its equality indexes."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.rows: dict[str, Any] = {}
        self.unique: dict[tuple[str, ...], dict[tuple[Any, ...], str]] = {
            key: {} for key in spec.unique
        }
        # id -> position: the order of ``rows`` (a row is placed last when first inserted)
        self.position: dict[str, int] = {}
        self._positions = itertools.count()
        # field -> (value -> id, or a set of ids); _NO_INDEX if a value is unhashable
        self.indexes: dict[str, Any] = {}
        # the join table whose pairs name this table's rows (deleting a row removes them)
        self.links: _Links | None = None

    def key_of(self, fields: tuple[str, ...], record: Any) -> tuple[Any, ...] | None:
        values = tuple(getattr(record, f) for f in fields)
        # SQL unique constraints treat NULLs as distinct: a key with a NULL never clashes
        return None if any(v is None for v in values) else values

    # -- the one place rows change: unique keys, order and indexes follow ----------------
    def set_row(self, record_id: str, record: Any) -> None:
        """Store ``record`` under its id (in place of the row there, keeping its position)."""
        previous = self.rows.get(record_id)
        if previous is not None:
            self._unindex(record_id, previous)
        else:
            self.position[record_id] = next(self._positions)
        self.rows[record_id] = record
        self._index(record_id, record)

    def pop_row(self, record_id: str) -> Any:
        """Remove the row with this id; the record removed, or None."""
        previous = self.rows.pop(record_id, None)
        if previous is not None:
            del self.position[record_id]
            self._unindex(record_id, previous)
        return previous

    def _index(self, record_id: str, record: Any) -> None:
        for fields, unique in self.unique.items():
            key = self.key_of(fields, record)
            if key is not None:
                unique[key] = record_id
        for field, index in self.indexes.items():
            if index is not _NO_INDEX and not _add_to(
                index, _plain(getattr(record, field)), record_id
            ):
                self.indexes[field] = _NO_INDEX

    def _unindex(self, record_id: str, record: Any) -> None:
        for fields, unique in self.unique.items():
            key = self.key_of(fields, record)
            if key is not None and unique.get(key) == record_id:
                del unique[key]
        for field, index in self.indexes.items():
            if index is not _NO_INDEX:
                _remove_from(index, _plain(getattr(record, field)), record_id)

    # -- reading through the indexes ----------------------------------------------------
    def _index_of(self, field: str) -> Any:
        index = self.indexes.get(field)
        if index is None:
            index = {}
            for record_id, record in self.rows.items():
                if not _add_to(index, _plain(getattr(record, field)), record_id):
                    index = _NO_INDEX
                    break
            self.indexes[field] = index
        return index

    def _ids_for(self, cond: Cond) -> set[str] | None:
        """The ids of every row that can match ``cond`` (an Eq or In), or None (scan)."""
        if isinstance(cond, Eq) and cond.value is not None:
            values: Iterable[Any] = (cond.value,)
        elif isinstance(cond, In):
            values = cond.values
        else:
            return None
        if cond.field not in self.spec.fields:
            return None
        index = self._index_of(cond.field)
        if index is _NO_INDEX:
            return None
        ids: set[str] = set()
        try:
            for value in values:
                found = index.get(value)
                if found is None:
                    continue
                if isinstance(found, str):
                    ids.add(found)
                else:
                    ids.update(found)
        except TypeError:  # an unhashable value asked for: no row holds it, but scan to be sure
            return None
        return ids

    def candidates(self, where: Cond | None) -> Iterable[Any]:
        """The rows that can match ``where``, in the table's order (all of them without an index)."""
        conds = where.conds if isinstance(where, And) else (where,) if where is not None else ()
        best: set[str] | None = None
        for cond in conds:
            ids = self._ids_for(cond)
            if ids is not None and (best is None or len(ids) < len(best)):
                best = ids
                if not best:
                    break
        if best is None:
            return self.rows.values()
        rows = self.rows
        return [rows[i] for i in sorted(best, key=self.position.__getitem__)]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _add_to(index: dict[Any, Any], value: Any, record_id: str) -> bool:
    """Index ``record_id`` under ``value``; False if the value cannot be a key."""
    if value is None:
        return True  # Eq(field, None) and In never match a missing value: not looked up
    try:
        found = index.get(value)
    except TypeError:
        return False
    if found is None:
        index[value] = record_id
    elif isinstance(found, str):
        if found != record_id:
            index[value] = {found, record_id}
    else:
        found.add(record_id)
    return True


def _remove_from(index: dict[Any, Any], value: Any, record_id: str) -> None:
    if value is None:
        return
    found = index.get(value)
    if found is None:
        return
    if isinstance(found, str):
        if found == record_id:
            del index[value]
    else:
        found.discard(record_id)
        if len(found) == 1:
            index[value] = next(iter(found))
        elif not found:
            del index[value]


class _Links:
    """The pairs of ``_AutomationToCampaign``: ``a`` an automation id, ``b`` a campaign id."""

    SIDES: Final = {"automations": 0, "campaigns": 1}

    def __init__(self) -> None:
        self.pairs: set[tuple[str, str]] = set()

    def cascade(self, table: str, record_id: str, log: list[_Undo]) -> None:
        """Remove the pairs naming a deleted row (the SQL stores' ``ON DELETE CASCADE``)."""
        side = self.SIDES.get(table)
        if side is None:
            return
        gone = {pair for pair in self.pairs if pair[side] == record_id}
        if gone:
            self.pairs -= gone
            log.append(lambda: self.pairs.update(gone))


class InMemoryLinks(LinkRepository):
    """``automation_campaigns`` over the store's pairs; writes go through the undo log.

    Like the SQL stores' foreign keys, a pair must name an existing automation
    and campaign.
    """

    def __init__(
        self, links: _Links, tables: Mapping[str, _Table], log: list[_Undo], *, read_only: bool
    ) -> None:
        self._links = links
        self._tables = tables
        self._log = log
        self._read_only = read_only

    def link(self, a: str, b: str) -> bool:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        for table, record_id in (("automations", a), ("campaigns", b)):
            if record_id not in self._tables[table].rows:
                raise ConflictError(
                    f"no {table} row {record_id!r} to link",
                    details={"entity": "_AutomationToCampaign", "reason": "constraint"},
                )
        pair = (a, b)
        pairs = self._links.pairs
        if pair in pairs:
            return False
        pairs.add(pair)
        self._log.append(lambda: pairs.discard(pair))
        return True

    def unlink(self, a: str, b: str) -> bool:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        pair = (a, b)
        pairs = self._links.pairs
        if pair not in pairs:
            return False
        pairs.discard(pair)
        self._log.append(lambda: pairs.add(pair))
        return True

    def find(self, *, a: str | None = None, b: str | None = None) -> list[tuple[str, str]]:
        return sorted(
            p for p in self._links.pairs if (a is None or p[0] == a) and (b is None or p[1] == b)
        )


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
        table.set_row(record_id, _normalized(record))

        def undo() -> None:
            table.pop_row(record_id)
            if previous is not None:
                table.set_row(record_id, previous)

        self._log.append(undo)

    def _remove(self, record_id: str) -> bool:
        table = self._table
        previous = table.pop_row(record_id)
        if previous is None:
            return False

        def undo() -> None:
            table.set_row(record_id, previous)

        self._log.append(undo)
        if table.links is not None:
            table.links.cascade(table.spec.name, record_id, self._log)
        return True

    def _select(self, where: Cond | None) -> list[Any]:
        rows = self._table.candidates(where)
        if where is None:
            return list(rows)
        return [r for r in rows if matches(r, where) is True]

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
        return None if record is None else cast(R, _copied(record))

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
        return [_copied(r) for r in rows[offset:end]]

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
            claimed.append(_copied(leased))
        return claimed


class _ReadOnlyRepository(ReadOnlyRepository[R], InMemoryRepository[R]):
    """The repository of a read-only unit of work: reads as usual, writes raise."""


class InMemoryUnitOfWork(UnitOfWork):
    """One serializable transaction over the in-memory tables (repositories built on first use)."""

    def __init__(self, store: InMemoryStore, *, read_only: bool = False) -> None:
        self._log: list[_Undo] = []
        self._done = False
        self._tables = store._tables
        self._store_links = store._links
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

    @property
    def automation_campaigns(self) -> LinkRepository:
        """The store's ``_AutomationToCampaign`` pairs, in this unit of work."""
        links = self.__dict__.get("_automation_campaigns")
        if links is None:
            links = InMemoryLinks(
                self._store_links, self._tables, self._log, read_only=self.read_only
            )
            self.__dict__["_automation_campaigns"] = links
        return links

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
        self._links = _Links()
        for name in _Links.SIDES:
            if name in self._tables:
                self._tables[name].links = self._links

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
