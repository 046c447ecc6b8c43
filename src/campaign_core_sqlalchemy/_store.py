"""SqlAlchemyStore: the SQL store on SQLAlchemy 2.x Core (SQLite, PostgreSQL, MariaDB).

Records are attrs classes from :mod:`campaign_core.models`; this module maps
them to rows by hand through the tables in ``_schema`` (the domain classes are
never ORM-mapped). Every unit of work is one transaction on one connection.

Concurrency strategies:

- PostgreSQL and MariaDB: row versions for optimistic concurrency, and
  ``SELECT ... FOR UPDATE SKIP LOCKED`` for claiming due work.
- SQLite: a single writer. Every unit of work starts with ``BEGIN IMMEDIATE``
  (and waits up to ``busy_timeout`` for the lock), so transactions never
  interleave, across threads and processes alike.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import attrs
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from campaign_core._naming import external_names
from campaign_core.entities import ENTITIES, EntitySpec
from campaign_core.errors import (
    CampaignCoreError,
    ConflictError,
    NotFoundError,
    StoreUnavailableError,
)
from campaign_core.ports import Repository, Store, UnitOfWork
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
from campaign_core_sqlalchemy._schema import TABLES, metadata

__all__ = ["SqlAlchemyRepository", "SqlAlchemyStore", "SqlAlchemyUnitOfWork"]

R = TypeVar("R")

DEFAULT_URL = "sqlite:///campaign-core.sqlite3"


def _bool(expr: Any) -> sa.ColumnElement[bool]:
    return cast("sa.ColumnElement[bool]", expr)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return value


@contextmanager
def translate_errors(entity: str = "") -> Iterator[None]:
    """Turn driver errors into the library's errors."""
    try:
        yield
    except CampaignCoreError:
        raise
    except exc.IntegrityError as error:
        raise ConflictError(
            f"{entity or 'record'}: the write breaks a unique key or constraint",
            details={"entity": entity, "driver": type(error.orig).__name__},
        ) from error
    except exc.DBAPIError as error:
        if error.connection_invalidated or isinstance(error, exc.InterfaceError):
            raise StoreUnavailableError(
                f"lost the database connection: {error.orig}", details={"entity": entity}
            ) from error
        if isinstance(error, exc.OperationalError):
            message = str(error.orig).lower()
            if any(
                word in message
                for word in (
                    "deadlock",
                    "could not serialize",
                    "lock wait timeout",
                    "database is locked",
                )
            ):
                raise ConflictError(
                    f"{entity or 'record'}: concurrent transactions collided; retry",
                    details={"entity": entity, "retryable": True},
                ) from error
            raise StoreUnavailableError(
                f"database error: {error.orig}", details={"entity": entity}
            ) from error
        raise


class SqlAlchemyRepository(Repository[R], Generic[R]):
    """A repository over one table, inside a unit of work's connection."""

    def __init__(self, spec: EntitySpec, table: sa.Table, conn: Connection, dialect: str) -> None:
        self._spec = spec
        self._table = table
        self._conn = conn
        self._dialect = dialect
        self._names = external_names(spec.record)
        self._cols = {attr: table.c[col] for attr, col in self._names.items()}
        self._id = self._cols["id"]

    # -- mapping ---------------------------------------------------------------
    def _row(self, record: Any) -> dict[str, Any]:
        return {col: _plain(getattr(record, attr)) for attr, col in self._names.items()}

    def _record(self, row: sa.Row[Any]) -> R:
        data = row._mapping
        return self._spec.record(**{attr: data[col] for attr, col in self._names.items()})  # type: ignore[no-any-return]

    def _col(self, field: str) -> sa.ColumnElement[Any]:
        try:
            return self._cols[field]
        except KeyError:
            raise KeyError(f"{self._spec.name} has no field {field!r}") from None

    # -- conditions --------------------------------------------------------------
    def compile(self, cond: Cond | None) -> sa.ColumnElement[bool]:
        """The SQL expression for ``cond`` (bound parameters only)."""
        if cond is None:
            return sa.true()
        if isinstance(cond, Eq):
            col = self._col(cond.field)
            return col.is_(None) if cond.value is None else col == cond.value
        if isinstance(cond, Ne):
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
            return self._col(cond.field).in_(cond.values) if cond.values else sa.false()
        if isinstance(cond, NotIn):
            col = self._col(cond.field)
            return col.not_in(cond.values) if cond.values else col.is_not(None)
        if isinstance(cond, IsNull):
            return self._col(cond.field).is_(None)
        if isinstance(cond, NotNull):
            return self._col(cond.field).is_not(None)
        if isinstance(cond, HasAny):
            return self._has_any(self._col(cond.field), cond.values)
        if isinstance(cond, TextMatch):
            if not cond.fields:
                return sa.false()
            return sa.or_(
                *(
                    sa.func.lower(self._col(f)).contains(cond.text.lower(), autoescape=True)
                    for f in cond.fields
                )
            )
        if isinstance(cond, And):
            return sa.and_(sa.true(), *(self.compile(c) for c in cond.conds))
        if isinstance(cond, Or):
            return sa.or_(sa.false(), *(self.compile(c) for c in cond.conds))
        if isinstance(cond, Not):
            return sa.not_(self.compile(cond.cond))
        raise TypeError(f"unknown condition {cond!r}")

    def _has_any(self, col: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        if not values:
            return sa.false()
        strings = [str(v) for v in values]
        if self._dialect == "postgresql":
            return _bool(col.op("&&")(sa.cast(sa.literal(strings), col.type)))
        if self._dialect == "sqlite":
            each = sa.func.json_each(col).table_valued("value")
            return sa.exists(
                sa.select(sa.literal(1)).select_from(each).where(each.c.value.in_(strings))
            )
        return sa.or_(
            *(sa.func.json_contains(col, sa.literal(json.dumps(s))) == 1 for s in strings)
        )

    def _order(self, order_by: Sequence[Order]) -> list[sa.ColumnElement[Any]]:
        clauses: list[sa.ColumnElement[Any]] = []
        for order in order_by:
            col = self._col(order.field)
            # missing values sort first ascending and last descending, on every database
            nulls = sa.case((col.is_(None), 0), else_=1)
            clauses.extend([nulls.desc(), col.desc()] if order.descending else [nulls, col])
        return clauses

    @contextmanager
    def _atomic(self, *, statements: int = 1) -> Iterator[None]:
        """Make a write all-or-nothing while leaving the unit of work usable after a failure.

        PostgreSQL aborts the whole transaction on any error, and a batch may
        run as several statements; a savepoint confines the failure to this
        write, as the in-memory store does. One statement elsewhere is atomic
        on its own and needs none.
        """
        with translate_errors(self._spec.name):
            if self._dialect == "postgresql" or statements > 1:
                with self._conn.begin_nested():
                    yield
            else:
                yield

    # -- Repository --------------------------------------------------------------
    def add(self, record: R) -> None:
        with self._atomic():
            self._conn.execute(self._table.insert().values(self._row(record)))

    def add_many(self, records: Sequence[R]) -> None:
        if not records:
            return
        with self._atomic(statements=len(records)):
            self._conn.execute(self._table.insert(), [self._row(r) for r in records])

    def get(self, record_id: str) -> R | None:
        with translate_errors(self._spec.name):
            row = self._conn.execute(sa.select(self._table).where(self._id == record_id)).first()
        return None if row is None else self._record(row)

    def update(self, record: R) -> None:
        record_id = record.id  # type: ignore[attr-defined]
        stmt = self._table.update().where(self._id == record_id).values(self._row(record))
        expected: int | None = None
        if self._spec.versioned:
            expected = record.version - 1  # type: ignore[attr-defined]
            stmt = stmt.where(self._cols["version"] == expected)
        with self._atomic():
            result = self._conn.execute(stmt)
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
            details={"entity": self._spec.name, "id": record_id},
        )

    def delete(self, record_id: str) -> bool:
        with translate_errors(self._spec.name):
            result = self._conn.execute(self._table.delete().where(self._id == record_id))
        return bool(result.rowcount)

    def delete_where(self, where: Cond) -> int:
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
        if offset and limit is None and self._dialect in ("mysql", "mariadb"):
            limit = 2**62  # MySQL needs a LIMIT with OFFSET
        stmt = self.select(where, order_by=order_by, limit=limit, offset=offset)
        with translate_errors(self._spec.name):
            rows = self._conn.execute(stmt).all()
        return [self._record(r) for r in rows]

    def count(self, where: Cond | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(self._table).where(self.compile(where))
        with translate_errors(self._spec.name):
            return int(self._conn.execute(stmt).scalar_one())

    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        values = {self._names[name]: self._col(name) + delta for name, delta in deltas.items()}
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
        free = Or(IsNull("lease_until"), Lte("lease_until", now))
        stmt = self.select(And(where, free), order_by=order_by, limit=limit)
        if self._dialect != "sqlite":
            stmt = stmt.with_for_update(skip_locked=True)
        with translate_errors(self._spec.name):
            rows = self._conn.execute(stmt).all()
            claimed: list[R] = []
            for row in rows:
                record: Any = self._record(row)
                changes: dict[str, Any] = {"lease_owner": owner, "lease_until": until}
                if self._spec.versioned:
                    changes["version"] = record.version + 1
                leased = attrs.evolve(record, **changes)
                values = {self._names[k]: v for k, v in changes.items()}
                self._conn.execute(self._table.update().where(self._id == record.id).values(values))
                claimed.append(leased)
        return claimed


class SqlAlchemyUnitOfWork(UnitOfWork):
    """One transaction on one connection."""

    def __init__(self, conn: Connection, entities: Mapping[str, EntitySpec], dialect: str) -> None:
        self.connection = conn
        self._tx = conn.begin()
        for name, spec in entities.items():
            setattr(self, name, SqlAlchemyRepository(spec, TABLES[name], conn, dialect))

    def commit(self) -> None:
        with translate_errors():
            self._tx.commit()
        self._tx = self.connection.begin()

    def rollback(self) -> None:
        if self._tx.is_active:
            self._tx.rollback()

    @property
    def audience(self) -> Any:
        """Criteria evaluated in the database (:class:`campaign_core.ports.AudienceQueries`)."""
        from campaign_core_sqlalchemy._criteria_sql import SqlAlchemyAudience

        return SqlAlchemyAudience(self.connection, self.connection.dialect.name)


class SqlAlchemyStore(Store):
    """The SQL store.

    Args:
        url_or_engine: a database URL (``sqlite:///campaign.db``,
            ``postgresql+psycopg://user@host/db``, ``mysql+pymysql://root@host/db``)
            or an existing SQLAlchemy ``Engine``. Defaults to a local SQLite file.
        create: create missing tables at once (handy for tests and demos; a
            production host calls :meth:`upgrade` from its deploy step instead).
        busy_timeout: SQLite only: seconds a writer waits for the lock.
    """

    def __init__(
        self,
        url_or_engine: str | Engine = DEFAULT_URL,
        *,
        create: bool = False,
        busy_timeout: float = 30.0,
    ) -> None:
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
        else:
            self.engine = _make_engine(url_or_engine, busy_timeout)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._entities = {name: spec for name, spec in ENTITIES.items() if name in TABLES}
        missing = set(ENTITIES) - set(TABLES)
        if missing:
            raise RuntimeError(f"entities without tables: {sorted(missing)}")
        # one in-process writer at a time on SQLite; BEGIN IMMEDIATE covers other processes
        self._local_lock = threading.RLock() if self.dialect == "sqlite" else None
        if create:
            self.create_tables()

    @property
    def supports_skip_locked(self) -> bool:
        return self.dialect != "sqlite"

    def create_tables(self) -> None:
        """Create every table that does not exist yet (no migrations)."""
        with translate_errors():
            metadata.create_all(self.engine)

    def upgrade(self) -> None:
        """Bring the schema up to date."""
        self.create_tables()

    def drop_tables(self) -> None:
        """Drop every table of this library (tests only)."""
        with translate_errors():
            metadata.drop_all(self.engine)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        lock = self._local_lock
        if lock is not None:
            lock.acquire()
        try:
            with translate_errors():
                conn = self.engine.connect()
            try:
                with translate_errors():
                    uow = SqlAlchemyUnitOfWork(conn, self._entities, self.dialect)
                try:
                    yield uow
                finally:
                    uow.rollback()
            finally:
                conn.close()
        finally:
            if lock is not None:
                lock.release()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlAlchemyStore({self.engine.url.render_as_string(hide_password=True)!r})"


def _make_engine(url: str, busy_timeout: float) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return sa.create_engine(
                url,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False, "timeout": busy_timeout},
            )
        return sa.create_engine(url, connect_args={"timeout": busy_timeout})
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's begin() decide when transactions start (see below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
