"""SqlAlchemyRepository: one table inside a unit of work's connection (conditions compiled to
SQL, adds and updates through the precompiled plans, claims, increments).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign_core.entities import EntitySpec
from campaign_core.errors import (
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    Problem,
    ValidationError,
)
from campaign_core.ports import (
    ReadOnlyRepository,
    Repository,
    check_increment,
    check_page,
    check_unique_ids,
    stale_batch,
    stale_record,
    update_fields,
)
from campaign_core.query import (
    And,
    Cond,
    Eq,
    Gt,
    Gte,
    HasAny,
    In,
    IsNull,
    Lt,
    Lte,
    Ne,
    Not,
    NotIn,
    NotNull,
    Or,
    Order,
    TextMatch,
)
from campaign_core.serialization import is_storable
from campaign_core_sqlalchemy._decode import decoder
from campaign_core_sqlalchemy._errors import exists_error, translate_errors
from campaign_core_sqlalchemy._plans import (
    _column_map,
    _enum_fields,
    _insert_plan,
    _InsertPlan,
    _update_plan,
    _UpdatePlan,
)

__all__ = ["SqlAlchemyRepository"]

R = TypeVar("R")

_log = logging.getLogger("campaign_core.store")


def _bool(expr: Any) -> sa.ColumnElement[bool]:
    return cast("sa.ColumnElement[bool]", expr)


class _RolledBack(Exception):
    """Raised inside a savepoint to roll it back (update_many's stale batch)."""


# MariaDB/MySQL: rows per joined UPDATE (see _UpdatePlan)
_JOIN_ROWS = 500


# PostgreSQL: COPY for batches from this many rows (it was 1.3-1.9x faster than
# psycopg's pipelined executemany for 100,000 rows in 10,000-row batches);
# a handful of rows is not worth COPY's extra protocol round trips.
_COPY_MIN_ROWS = 64


_INT8 = range(-(2**63), 2**63)


def _may_be_refused(values: Iterable[Any]) -> bool:
    """Whether PostgreSQL might refuse a value server-side (NUL in JSON, an int beyond int8).

    Such an error aborts the whole transaction, so a write that may meet one
    gets a savepoint; driver-side refusals (NUL in text, unencodable text) and
    everything else do not need it.
    """
    for value in values:
        kind = value.__class__
        if kind is str:
            if "\\u0000" in value or "\x00" in value:
                return True
        elif kind is int:
            if value not in _INT8:
                return True
        elif kind is dict:
            if _may_be_refused(value.keys()) or _may_be_refused(value.values()):
                return True
        elif (kind is list or kind is tuple) and _may_be_refused(value):
            return True
    return False


_COMPARISONS: dict[type, str] = {Eq: "eq", Ne: "ne", Gt: "gt", Gte: "gte", Lt: "lt", Lte: "lte"}


def _named(params: list[Any]) -> dict[str, Any]:
    """The values of a :meth:`SqlAlchemyRepository._shape` as its parameters ``p0``, ``p1``..."""
    return {f"p{i}": value for i, value in enumerate(params)}


#: statements built once and reused with new parameters: SQLAlchemy then neither builds the
#: expression nor computes its cache key again (about 100 us a query); cleared when full
_STATEMENTS: dict[Any, Any] = {}
_STATEMENTS_LIMIT = 2048


def _cached_statement(key: Any, build: Any) -> Any:
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if len(_STATEMENTS) >= _STATEMENTS_LIMIT:
            _STATEMENTS.clear()
        stmt = _STATEMENTS[key] = build()
    return stmt


class SqlAlchemyRepository(Repository[R], Generic[R]):
    """A repository over one table, inside a unit of work's connection."""

    def __init__(self, spec: EntitySpec, table: sa.Table, conn: Connection, dialect: str) -> None:
        self._spec = spec
        self._table = table
        self._conn = conn
        self._dialect = dialect
        # a unit of work builds the repositories it uses, so the mapping is worked out once
        self._names, self._cols, self._row_fields = _column_map(spec, table)
        self._id = self._cols["id"]
        self._decode = decoder(table.name, spec.record)
        self._skipped: list[CorruptRecordError] = []
        # id -> the unique-key values of a record this unit of work read (a few, see _remember)
        self._keys: dict[str, tuple[Any, ...]] = {}
        self._unique_fields = tuple(f for key in spec.unique for f in key)

    # -- mapping ---------------------------------------------------------------
    def _record(self, row: sa.Row[Any]) -> R:
        """The record of a row of ``select(table)`` (every column, in table order).

        Raises CorruptRecordError for a row the record type cannot hold.
        """
        return self._decode(dict(zip(self._row_fields, row, strict=True)))  # type: ignore[no-any-return]

    def _records(self, rows: Sequence[sa.Row[Any]]) -> list[R]:
        """The records of ``rows``, skipping (and keeping for :meth:`take_skipped`) the corrupt."""
        decode = self._decode
        fields = self._row_fields
        records: list[R] = []
        for position, row in enumerate(rows):
            values = dict(zip(fields, row, strict=True))
            try:
                records.append(decode(values))
            except CorruptRecordError as error:
                _log.warning("%s", error.message, extra={"corrupt_record": error.details})
                # where it was in the result, and its raw values: a keyset page moves past it
                error.position = position
                error.row = values
                self._skipped.append(error)
        return records

    def take_skipped(self) -> list[CorruptRecordError]:
        skipped, self._skipped = self._skipped, []
        return skipped

    def _col(self, field: str) -> sa.ColumnElement[Any]:
        try:
            return self._cols[field]
        except KeyError:
            raise ValidationError.single(
                field, f"{self._spec.name} has no field {field!r}", "unknown_field"
            ) from None

    def _plan(self) -> _InsertPlan:
        return _insert_plan(self._spec, self._table, self._conn.dialect)

    def _tuples(self, records: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows for the driver; a value the database cannot hold raises with its path."""
        plan = self._plan()
        to_row = plan.to_row
        try:
            return [to_row(r) for r in records]
        except Exception:
            raise self._bad_value(plan, records) from None

    def _bad_value(self, plan: _InsertPlan | _UpdatePlan, records: Sequence[Any]) -> Exception:
        # the slow path, only after a failure: find the first bad field of the first bad row
        enums = _enum_fields(self._spec.record)
        many = len(records) > 1
        for index, record in enumerate(records):
            if not isinstance(record, self._spec.record):
                return ValidationError.single(
                    f"[{index}]" if many else "",
                    f"expected a {self._spec.record.__name__}, got {type(record).__name__}",
                    "invalid_type",
                )
            for field, processor in zip(plan.fields, plan.processors):
                value = getattr(record, field)
                try:
                    if field in enums:
                        value = value.value
                    if processor is not None:
                        processor(value)
                except ValidationError as error:
                    path = f"[{index}].{field}" if many else field
                    return error.prefixed(path)
                except Exception as error:
                    path = f"[{index}].{field}" if many else field
                    return ValidationError([Problem(path, str(error), "invalid_value")])
        return ValidationError.single("", "a record could not be converted for the database")

    # -- conditions --------------------------------------------------------------
    def compile(self, cond: Cond | None) -> sa.ColumnElement[bool]:
        """The SQL expression for ``cond`` (bound parameters only)."""
        if cond is None:
            return sa.true()
        # text no store can hold (NUL, lone surrogates) equals no stored value: answered
        # here as the memory store answers, instead of sending PostgreSQL what it refuses
        if isinstance(cond, Eq):
            col = self._col(cond.field)
            if not is_storable(cond.value):
                return sa.false()
            return col.is_(None) if cond.value is None else col == cond.value
        if isinstance(cond, Ne):
            if not is_storable(cond.value):
                return self._col(cond.field).is_not(None)
            return _bool(self._col(cond.field) != cond.value)
        if isinstance(cond, Gt):
            return _bool(self._col(cond.field) > cond.value)
        if isinstance(cond, Gte):
            return _bool(self._col(cond.field) >= cond.value)
        if isinstance(cond, Lt):
            return _bool(self._col(cond.field) < cond.value)
        if isinstance(cond, Lte):
            return _bool(self._col(cond.field) <= cond.value)
        if isinstance(cond, In):
            values = [v for v in cond.values if is_storable(v)]
            return self._col(cond.field).in_(values) if values else sa.false()
        if isinstance(cond, NotIn):
            col = self._col(cond.field)
            values = [v for v in cond.values if is_storable(v)]
            return col.not_in(values) if values else col.is_not(None)
        if isinstance(cond, IsNull):
            return self._col(cond.field).is_(None)
        if isinstance(cond, NotNull):
            return self._col(cond.field).is_not(None)
        if isinstance(cond, HasAny):
            return self._has_any(self._col(cond.field), cond.values)
        if isinstance(cond, TextMatch):
            if not cond.fields or not is_storable(cond.text):
                return sa.false()
            # SQLite's own lower() folds ASCII only: it gets Python's (cc_lower), so
            # "Éclair" matches "éclair" on every store, as in the memory store
            lower = sa.func.cc_lower if self._dialect == "sqlite" else sa.func.lower
            # a missing field does not match (false, not unknown), as query.matches says
            return sa.or_(
                *(
                    sa.and_(
                        self._col(f).is_not(None),
                        lower(self._col(f), type_=sa.Text()).contains(
                            cond.text.lower(), autoescape=True
                        ),
                    )
                    for f in cond.fields
                )
            )
        if isinstance(cond, And):
            return sa.and_(sa.true(), *(self.compile(c) for c in cond.conds))
        if isinstance(cond, Or):
            return sa.or_(sa.false(), *(self.compile(c) for c in cond.conds))
        if isinstance(cond, Not):
            return sa.not_(self.compile(cond.cond))
        raise ValidationError.single("", f"unknown condition {cond!r}", "invalid_type")

    def _shape(self, cond: Cond | None, params: list[Any]) -> Any:
        """``cond``'s structure with its values moved to ``params``; None when not reusable.

        The same structure gives the same SQL as :meth:`compile`, its values as the
        bound parameters ``p0``, ``p1``... (see :meth:`_build`), so a statement built
        once serves every call of that shape. Unknown fields raise as in ``compile``.
        """
        if cond is None:
            return "true"
        kind = type(cond)
        if kind in _COMPARISONS:
            field, value = cond.field, cond.value  # type: ignore[attr-defined]
            self._col(field)
            if kind is Eq or kind is Ne:
                if not is_storable(value):
                    return "false" if kind is Eq else ("notnull", field)
                if value is None:
                    return ("null" if kind is Eq else "notnull", field)
            elif value is None:
                return None  # compared with NULL: left to compile()
            params.append(value)
            return (_COMPARISONS[kind], field)
        if kind is In or kind is NotIn:
            field = cond.field  # type: ignore[attr-defined]
            self._col(field)
            values = [v for v in cond.values if is_storable(v)]  # type: ignore[attr-defined]
            if not values:
                return "false" if kind is In else ("notnull", field)
            params.append(values)
            return ("in" if kind is In else "notin", field)
        if kind is IsNull or kind is NotNull:
            self._col(cond.field)  # type: ignore[attr-defined]
            return ("null" if kind is IsNull else "notnull", cond.field)  # type: ignore[attr-defined]
        if kind is And or kind is Or:
            parts = []
            for part in cond.conds:  # type: ignore[attr-defined]
                shaped = self._shape(part, params)
                if shaped is None:
                    return None
                parts.append(shaped)
            return ("and" if kind is And else "or", *parts)
        if kind is Not:
            inner = self._shape(cond.cond, params)  # type: ignore[attr-defined]
            return None if inner is None else ("not", inner)
        return None  # HasAny, TextMatch: compile() each time

    def _build(self, shape: Any, counter: Iterator[int]) -> sa.ColumnElement[bool]:
        """The SQL of a :meth:`_shape` with bound parameters ``p0``, ``p1``... in order."""
        if shape == "true":
            return sa.true()
        if shape == "false":
            return sa.false()
        op = shape[0]
        if op == "and":
            return sa.and_(sa.true(), *(self._build(s, counter) for s in shape[1:]))
        if op == "or":
            return sa.or_(sa.false(), *(self._build(s, counter) for s in shape[1:]))
        if op == "not":
            return sa.not_(self._build(shape[1], counter))
        col = self._col(shape[1])
        if op == "null":
            return col.is_(None)
        if op == "notnull":
            return col.is_not(None)
        name = f"p{next(counter)}"
        if op == "in":
            return col.in_(sa.bindparam(name, expanding=True))
        if op == "notin":
            return col.not_in(sa.bindparam(name, expanding=True))
        param: sa.BindParameter[Any] = sa.bindparam(name)
        if op == "eq":
            return col == param
        if op == "ne":
            return _bool(col != param)
        if op == "gt":
            return _bool(col > param)
        if op == "gte":
            return _bool(col >= param)
        if op == "lt":
            return _bool(col < param)
        return _bool(col <= param)

    def _has_any(self, col: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        if not values:
            return sa.false()
        strings = [str(v) for v in values]
        if self._dialect == "postgresql":
            # a boolean operator: Not(HasAny) negates it like any other condition
            overlap = col.op("&&", return_type=sa.Boolean)
            return _bool(overlap(sa.cast(sa.literal(strings), col.type)))
        if self._dialect == "sqlite":
            each = sa.func.json_each(col).table_valued("value")
            return sa.exists(
                sa.select(sa.literal(1)).select_from(each).where(each.c.value.in_(strings))
            )
        return sa.or_(
            *(sa.func.json_contains(col, sa.literal(json.dumps(s))) == 1 for s in strings)
        )

    def _order(self, order_by: Sequence[Order]) -> list[sa.ColumnElement[Any]]:
        # Missing values sort first ascending and last descending. SQLite and
        # MariaDB already sort NULL lowest; PostgreSQL sorts it highest and is
        # told so. Plain column orders (no CASE) let an index serve the ORDER BY,
        # which keeps claim()'s FOR UPDATE SKIP LOCKED from scanning every row.
        clauses: list[sa.ColumnElement[Any]] = []
        for order in order_by:
            col = self._col(order.field)
            if self._dialect == "postgresql":
                clauses.append(col.desc().nulls_last() if order.descending else col.nulls_first())
            else:
                clauses.append(col.desc() if order.descending else col.asc())
        return clauses

    @contextmanager
    def _atomic(self, *, statements: int = 1, conflict: bool = False) -> Iterator[None]:
        """Make a write all-or-nothing while leaving the unit of work usable after a failure.

        A batch may run as several statements, and PostgreSQL aborts the whole
        transaction on any error; a savepoint confines the failure to this
        write, as the in-memory store does. Savepoints cost a round trip each,
        so there is one only where a failure is expected: a batch, or on
        PostgreSQL a write that may break a unique key (``conflict``). One
        statement elsewhere is atomic on its own and needs none.
        """
        with translate_errors(self._spec.name):
            if statements > 1 or (conflict and self._dialect == "postgresql"):
                with self._conn.begin_nested():
                    yield
            else:
                yield

    # -- Repository --------------------------------------------------------------
    def add(self, record: R) -> None:
        plan = self._plan()
        (row,) = self._tuples([record])
        if plan.skip_sql is not None and not _may_be_refused(row):
            # PostgreSQL: a duplicate is skipped, not an error that would abort the
            # transaction, so no savepoint is needed to keep the unit of work usable
            with translate_errors(self._spec.name):
                result = self._conn.exec_driver_sql(plan.skip_sql, row)
            if result.rowcount == 0:
                raise exists_error(self._spec.name, "UniqueViolation")
            return
        with self._atomic(conflict=True):
            self._conn.exec_driver_sql(plan.sql, row)

    def add_many(self, records: Sequence[R]) -> None:
        """Insert ``records`` in one batch: all or nothing.

        The rows go to the driver as tuples in one ``executemany`` (SQLite,
        MariaDB: pymysql folds it into multi-row INSERTs) or one ``COPY``
        (PostgreSQL, from ``_COPY_MIN_ROWS`` rows), inside a savepoint.

        Raises:
            ValidationError: a value the database cannot hold (path ``[i].field``);
                nothing is written.
            ConflictError: an id or unique key exists (or repeats in the batch);
                nothing is written.
        """
        if not records:
            return
        if len(records) == 1:
            self.add(records[0])
            return
        plan = self._plan()
        rows = self._tuples(records)
        with self._atomic(statements=len(rows)):
            if plan.copy_sql is not None and len(rows) >= _COPY_MIN_ROWS:
                self._copy(plan.copy_sql, rows)
            elif len(rows) == 1:
                self._conn.exec_driver_sql(plan.sql, rows[0])
            else:
                self._conn.exec_driver_sql(plan.sql, rows)

    def _copy(self, copy_sql: str, rows: list[tuple[Any, ...]]) -> None:
        # psycopg's COPY on the unit of work's own connection, inside its
        # transaction and savepoint; driver errors are translated by _atomic
        raw: Any = self._conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    def get(self, record_id: str) -> R | None:
        if not isinstance(record_id, str) or not is_storable(record_id):
            # ids are strings, and none holds NUL or a lone surrogate (PostgreSQL refuses
            # them): anything else names no record, as in the memory store
            return None
        stmt = _cached_statement(
            ("get", self._table),
            lambda: sa.select(self._table).where(self._id == sa.bindparam("id")),
        )
        with translate_errors(self._spec.name):
            row = self._conn.execute(stmt, {"id": record_id}).first()
        if row is None:
            return None
        record = self._record(row)
        self._remember((record,))
        return record

    def _remember(self, records: Sequence[Any]) -> None:
        """Keep the unique-key values of a few records read (see :meth:`update`)."""
        if self._unique_fields and len(records) <= 16 and len(self._keys) < 1024:
            fields = self._unique_fields
            for record in records:
                self._keys[record.id] = tuple(getattr(record, f) for f in fields)

    def _keeps_keys(self, record: Any) -> bool:
        """Whether ``record`` has the unique-key values it had when this unit of work read it.

        Its UPDATE then cannot break a unique key: it matches that row (and keeps its
        values) or, if another writer changed the row since, no row at all.
        """
        known = self._keys.get(record.id)
        return known is not None and known == tuple(getattr(record, f) for f in self._unique_fields)

    def update(self, record: R) -> None:
        # the precompiled UPDATE of every field (as update_many's), sent as one row
        plan = _update_plan(self._spec, self._table, self._conn.dialect, tuple(self._names))
        try:
            row = plan.to_row(record)
        except Exception:
            raise self._bad_value(plan, [record]) from None
        record_id = record.id  # type: ignore[attr-defined]
        expected: int | None = None
        if self._spec.versioned:
            expected = record.version - 1  # type: ignore[attr-defined]
        conflict = self._dialect == "postgresql" and (
            (bool(self._spec.unique) and not self._keeps_keys(record)) or _may_be_refused(row)
        )
        with self._atomic(conflict=conflict):
            result = self._conn.exec_driver_sql(plan.sql, row)
        if result.rowcount == 1:
            return
        with translate_errors(self._spec.name):
            stored = self._conn.execute(
                sa.select(self._cols.get("version", self._id)).where(self._id == record_id)
            ).first()
        if stored is None:
            raise NotFoundError(self._spec.name, record_id)
        raise ConflictError(
            f"{self._spec.name} {record_id!r} was changed by someone else "
            f"(stored version {stored[0]}, expected {expected})",
            details={
                "entity": self._spec.name,
                "id": record_id,
                "reason": "stale",
                "retryable": False,
            },
        )

    def update_many(self, records: Sequence[R], *, fields: Sequence[str] | None = None) -> None:
        """Write ``records`` with precompiled UPDATEs in one batch; all or nothing.

        SQLite and PostgreSQL: one ``executemany``; MariaDB/MySQL: one joined
        UPDATE per 500 rows (see ``_UpdatePlan``).

        Only ``fields`` are written (all when None; ``version`` always, for a
        versioned type), each row where its id and previous version match. The
        rows the driver reports written are counted: fewer than ``records``
        means some were missing or stale, and the savepoint is rolled back.

        Raises:
            ConflictError: a record missing or stale (``reason`` ``"stale"``),
                or a unique key broken; nothing is written.
            ValidationError: an unknown field, or a value the database cannot
                hold (path ``[i].field``); nothing is written.
        """
        checked = update_fields(self._spec.record, fields)
        if not records or (checked is not None and not checked):
            return
        check_unique_ids(self._spec.name, records)
        names = tuple(self._names) if checked is None else checked
        plan = _update_plan(self._spec, self._table, self._conn.dialect, names)
        to_row = plan.to_row
        try:
            rows = [to_row(r) for r in records]
        except Exception:
            raise self._bad_value(plan, records) from None
        written = len(rows)
        with suppress(_RolledBack), self._atomic(statements=2):
            written = self._write_updates(plan, rows)
            if written != len(rows):
                raise _RolledBack  # the savepoint is rolled back: nothing is written
        if written != len(rows):
            raise self._stale(records, written)

    def _stale(self, records: Sequence[Any], written: int) -> ConflictError:
        """The error of a batch that found records missing or stale, naming the first one."""
        name = self._spec.name
        versioned = self._spec.versioned
        ids = [r.id for r in records]
        stored: dict[str, int | None] = {}  # id -> stored version (None: unversioned)
        columns = [self._id, self._cols["version"]] if versioned else [self._id]
        with translate_errors(name):
            for start in range(0, len(ids), 500):
                query = sa.select(*columns).where(self._id.in_(ids[start : start + 500]))
                stored.update(
                    {row[0]: row[1] if versioned else None for row in self._conn.execute(query)}
                )
        for index, record in enumerate(records):
            expected = record.version - 1 if versioned else None
            if record.id not in stored or (versioned and stored[record.id] != expected):
                return stale_record(
                    name,
                    index,
                    record.id,
                    stored.get(record.id),
                    expected,
                    written=written,
                    records=len(records),
                )
        return stale_batch(  # pragma: no cover - changed back between the UPDATE and the look
            name,
            f"{len(records) - written} of {len(records)} {name} records were missing or "
            "changed by someone else; nothing was written",
            written=written,
            records=len(records),
        )

    def _write_updates(self, plan: _UpdatePlan, rows: list[tuple[Any, ...]]) -> int:
        """Run the UPDATEs; how many rows matched (``rowcount`` sums an executemany's)."""
        if plan.join_parts is None or len(rows) == 1:
            result = self._conn.exec_driver_sql(plan.sql, rows if len(rows) > 1 else rows[0])
            return int(result.rowcount)
        written = 0
        for start in range(0, len(rows), _JOIN_ROWS):
            chunk = rows[start : start + _JOIN_ROWS]
            params = tuple(value for row in chunk for value in row)
            # MariaDB counts matched rows (SQLAlchemy connects with CLIENT.FOUND_ROWS)
            written += int(self._conn.exec_driver_sql(plan.joined(len(chunk)), params).rowcount)
        return written

    def delete(self, record_id: str) -> bool:
        self._keys.pop(record_id, None)
        with translate_errors(self._spec.name):
            result = self._conn.execute(self._table.delete().where(self._id == record_id))
        return bool(result.rowcount)

    def delete_where(self, where: Cond) -> int:
        self._keys.clear()
        with translate_errors(self._spec.name):
            result = self._conn.execute(self._table.delete().where(self.compile(where)))
        return int(result.rowcount)

    def select(
        self,
        where: Cond | None = None,
        *,
        order_by: Sequence[Order] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> sa.Select[Any]:
        """The SELECT statement ``find`` runs (for stores' own queries and tests)."""
        stmt = sa.select(self._table).where(self.compile(where)).order_by(*self._order(order_by))
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return stmt

    def find(
        self,
        where: Cond | None = None,
        *,
        order_by: Sequence[Order] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        check_page(limit, offset)
        if offset and limit is None and self._dialect in ("mysql", "mariadb"):
            limit = 2**62  # MySQL needs a LIMIT with OFFSET
        params: list[Any] = []
        shape = self._shape(where, params)
        if shape is None:
            stmt = self.select(where, order_by=order_by, limit=limit, offset=offset)
        else:
            orders = tuple((o.field, o.descending) for o in order_by)

            def build() -> sa.Select[Any]:
                stmt = sa.select(self._table).where(self._build(shape, itertools.count()))
                stmt = stmt.order_by(*self._order(order_by))
                if limit is not None:
                    stmt = stmt.limit(limit)
                return stmt.offset(offset) if offset else stmt

            key = ("find", self._table, self._dialect, shape, orders, limit, offset)
            stmt = _cached_statement(key, build)
        with translate_errors(self._spec.name):
            rows = self._conn.execute(stmt, _named(params)).all()
        records = self._records(rows)
        self._remember(records)
        return records

    def count(self, where: Cond | None = None) -> int:
        params: list[Any] = []
        shape = self._shape(where, params)
        if shape is None:
            stmt = sa.select(sa.func.count()).select_from(self._table).where(self.compile(where))
        else:
            stmt = _cached_statement(
                ("count", self._table, self._dialect, shape),
                lambda: (
                    sa.select(sa.func.count())
                    .select_from(self._table)
                    .where(self._build(shape, itertools.count()))
                ),
            )
        with translate_errors(self._spec.name):
            return int(self._conn.execute(stmt, _named(params)).scalar_one())

    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        check_increment(self._spec.name, self._spec.record, deltas)
        values = {self._col(name).name: self._col(name) + delta for name, delta in deltas.items()}
        with translate_errors(self._spec.name):
            result = self._conn.execute(
                self._table.update().where(self._id == record_id).values(values)
            )
        if result.rowcount != 1:
            raise NotFoundError(self._spec.name, record_id)

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
        """Lease up to ``limit`` due records (see :meth:`Repository.claim`).

        PostgreSQL and MariaDB lock the chosen rows with ``FOR UPDATE SKIP
        LOCKED``, so concurrent claimers pass over each other's rows instead of
        waiting; SQLite's unit of work already holds the single write lock. The
        lease is then written with one UPDATE.
        """
        if limit <= 0:
            return []
        free = Or(IsNull("lease_until"), Lte("lease_until", now))
        stmt = self.select(And(where, free), order_by=order_by, limit=limit)
        if self._dialect != "sqlite":
            stmt = stmt.with_for_update(skip_locked=True)
        with translate_errors(self._spec.name):
            rows = self._conn.execute(stmt).all()
            if not rows:
                return []
            changes: dict[str, Any] = {"lease_owner": owner, "lease_until": until}
            values: dict[str, Any] = {self._names[k]: v for k, v in changes.items()}
            if self._spec.versioned:
                values[self._names["version"]] = self._cols["version"] + 1
            id_at = self._row_fields.index("id")
            ids = [row[id_at] for row in rows]
            self._conn.execute(self._table.update().where(self._id.in_(ids)).values(values))
        # each record built once, already leased (not built, then copied with the lease)
        versioned = self._spec.versioned
        records: list[R] = []
        for row in rows:
            fields = dict(zip(self._row_fields, row, strict=True))
            fields.update(changes)
            if versioned:
                fields["version"] += 1
            try:
                records.append(self._decode(fields))
            except CorruptRecordError as error:
                # leased all the same: a claimer skips it until the lease ends
                _log.warning("%s", error.message, extra={"corrupt_record": error.details})
                self._skipped.append(error)
        return records


class _ReadOnlyRepository(ReadOnlyRepository[R], SqlAlchemyRepository[R]):
    """The repository of a read-only unit of work: reads as usual, writes raise."""
