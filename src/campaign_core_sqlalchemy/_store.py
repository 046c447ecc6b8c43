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

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from campaign_core.entities import ENTITIES, EntitySpec
from campaign_core.errors import MissingDependencyError, StoreUnavailableError
from campaign_core.ports import (
    AudienceQueries,
    LinkRepository,
    Store,
    StoreCapabilities,
    TrackingAggregates,
    UnitOfWork,
)
from campaign_core_sqlalchemy._errors import translate_errors
from campaign_core_sqlalchemy._partitions import (
    PARTITIONS_AHEAD,
    ensure_month_partitions,
    is_partitioned,
    months_ahead,
)
from campaign_core_sqlalchemy._repository import SqlAlchemyRepository, _ReadOnlyRepository
from campaign_core_sqlalchemy._schema import TABLES, automation_to_campaign, metadata

__all__ = ["SqlAlchemyRepository", "SqlAlchemyStore", "SqlAlchemyUnitOfWork"]

DEFAULT_URL = "sqlite:///campaign-core.sqlite3"


class SqlAlchemyLinks(LinkRepository):
    """``_AutomationToCampaign`` on the unit of work's connection (foreign keys, cascading)."""

    def __init__(self, conn: Connection, *, read_only: bool) -> None:
        self._conn = conn
        self._read_only = read_only
        self._table = automation_to_campaign
        self._a, self._b = automation_to_campaign.c["A"], automation_to_campaign.c["B"]

    def _pair(self, a: str, b: str) -> sa.ColumnElement[bool]:
        return sa.and_(self._a == a, self._b == b)

    def link(self, a: str, b: str) -> bool:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        with translate_errors("_AutomationToCampaign"):
            found = self._conn.execute(sa.select(sa.literal(1)).where(self._pair(a, b))).first()
            if found is not None:
                return False
            self._conn.execute(self._table.insert().values(A=a, B=b))
        return True

    def unlink(self, a: str, b: str) -> bool:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        with translate_errors("_AutomationToCampaign"):
            return bool(self._conn.execute(self._table.delete().where(self._pair(a, b))).rowcount)

    def find(self, *, a: str | None = None, b: str | None = None) -> list[tuple[str, str]]:
        query = sa.select(self._a, self._b).order_by(self._a, self._b)
        if a is not None:
            query = query.where(self._a == a)
        if b is not None:
            query = query.where(self._b == b)
        with translate_errors("_AutomationToCampaign"):
            return [(row[0], row[1]) for row in self._conn.execute(query)]


class SqlAlchemyUnitOfWork(UnitOfWork):
    """One transaction on one connection.

    Nothing is sent until the first statement: the connection begins its
    transaction then (SQLAlchemy's autobegin; ``BEGIN IMMEDIATE`` on SQLite, or
    a plain ``BEGIN`` for a read-only unit of work), and after :meth:`commit`
    the next statement begins the next one. Repositories are built on first use.
    """

    def __init__(
        self,
        conn: Connection,
        entities: Mapping[str, EntitySpec],
        dialect: str,
        *,
        read_only: bool = False,
    ) -> None:
        self.connection = conn
        self._entities = entities
        self._dialect = dialect
        self.read_only = read_only

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not set yet: a repository is built on its first use
        spec = self.__dict__.get("_entities", {}).get(name)
        if spec is None:
            raise AttributeError(name)
        cls = _ReadOnlyRepository if self.read_only else SqlAlchemyRepository
        repository: SqlAlchemyRepository[Any] = cls(
            spec, TABLES[name], self.connection, self._dialect
        )
        setattr(self, name, repository)
        return repository

    @property
    def automation_campaigns(self) -> LinkRepository:
        """``_AutomationToCampaign`` in this transaction."""
        return SqlAlchemyLinks(self.connection, read_only=self.read_only)

    def commit(self) -> None:
        if self.connection.in_transaction():
            with translate_errors():
                self.connection.commit()

    def rollback(self) -> None:
        if self.connection.in_transaction():
            with translate_errors():
                self.connection.rollback()

    def audience_queries(self) -> AudienceQueries:
        """Criteria compiled to SQL (``_criteria_sql``)."""
        return cast(AudienceQueries, self.audience)

    def tracking_aggregates(self) -> TrackingAggregates:
        """Tracking aggregates with ``GROUP BY`` (``_analytics_sql``)."""
        from campaign_core_sqlalchemy._analytics_sql import SqlTrackingAggregates

        return SqlTrackingAggregates(self.connection)

    def _discard(self) -> None:
        """Roll back after a failure; a second failure must not hide the first."""
        with suppress(Exception):
            self.rollback()

    @property
    def audience(self) -> Any:
        """Criteria evaluated in the database (:class:`campaign_core.ports.AudienceQueries`)."""
        from campaign_core_sqlalchemy._audience_sql import SqlAlchemyAudience

        return SqlAlchemyAudience(self.connection, self.connection.dialect.name)


class SqlAlchemyStore(Store):
    """The SQL store.

    Constructing a store never connects: an unreachable server, wrong
    credentials or a missing database raise :class:`StoreUnavailableError` at
    the first :meth:`unit_of_work` or :meth:`upgrade`.

    Args:
        url_or_engine: a database URL (``sqlite:///campaign.db``,
            ``postgresql+psycopg://user@host/db``, ``mysql+pymysql://root@host/db``)
            or an existing SQLAlchemy ``Engine``. Defaults to a local SQLite file.
        create: bring the schema up to date at once by running :meth:`upgrade`
            (handy for tests and demos; a production host calls :meth:`upgrade`
            from its deploy step instead).
        busy_timeout: SQLite only: seconds a writer waits for the lock.

    Raises:
        StoreUnavailableError: the URL is malformed or names an unknown database kind.
        MissingDependencyError: the URL's driver is not installed (install the
            ``postgres`` or ``mysql`` extra).
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
            _configure_sqlite(self.engine, busy_timeout)
        self._entities = {name: spec for name, spec in ENTITIES.items() if name in TABLES}
        missing = set(ENTITIES) - set(TABLES)
        if missing:
            raise RuntimeError(f"entities without tables: {sorted(missing)}")
        # one in-process writer at a time on SQLite; BEGIN IMMEDIATE covers other processes
        self._local_lock = threading.RLock() if self.dialect == "sqlite" else None
        self._partitions_checked: tuple[int, int] | None = None
        self._capabilities = StoreCapabilities(
            skip_locked=self.dialect != "sqlite",
            audience_queries=True,
            tracking_aggregates=True,
            batched_queries=True,
            max_parameters=_max_parameters(self.dialect),
        )
        if create:
            self.upgrade()

    def capabilities(self) -> StoreCapabilities:
        """Criteria and tracking aggregates in SQL; ``SKIP LOCKED`` claims on the servers.

        The parameter limit is the database's per statement (SQLite's
        ``SQLITE_MAX_VARIABLE_NUMBER``: 32,766 since 3.32, 999 before; 65,535
        on PostgreSQL's and MariaDB's wire protocols).
        """
        return self._capabilities

    def upgrade(self) -> None:
        """Bring the schema up to date by applying campaign-core's migrations.

        Safe to call on every start and from several processes at once: it
        takes a database lock, applies what is missing (nothing, usually) and
        records it in ``campaign_core_alembic_version``.

        Raises:
            StoreUnavailableError: the database cannot be reached, or another
                process held the migration lock too long.
        """
        from campaign_core_sqlalchemy import migrations

        with self._writer(), translate_errors(), self.engine.connect() as conn:
            migrations.upgrade(conn)
            conn.commit()

    def create_tables(self) -> None:
        """Same as :meth:`upgrade` (kept for callers of the first releases)."""
        self.upgrade()

    def drop_tables(self) -> None:
        """Drop every table of this library and its migration record (tests only)."""
        from campaign_core_sqlalchemy.migrations import VERSION_TABLE

        with self._writer(), translate_errors(), self.engine.begin() as conn:
            metadata.drop_all(conn)
            sa.Table(VERSION_TABLE, sa.MetaData()).drop(conn, checkfirst=True)

    @contextmanager
    def _writer(self) -> Iterator[None]:
        lock = self._local_lock
        if lock is None:
            yield
            return
        with lock:
            yield

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return self._unit_of_work(read_only=False)

    def read_only_unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads: on SQLite a plain ``BEGIN``, without the write lock.

        Returns:
            A context manager giving the unit of work (its repositories refuse writes).
        """
        return self._unit_of_work(read_only=True)

    @contextmanager
    def _unit_of_work(self, *, read_only: bool) -> Iterator[UnitOfWork]:
        # one shared connection (an in-memory SQLite database) is never read beside a writer
        unlocked = read_only and not isinstance(self.engine.pool, StaticPool)
        with nullcontext() if unlocked else self._writer():
            with translate_errors():
                conn = self.engine.connect()
                if read_only and self.dialect == "sqlite":
                    # a plain (deferred) BEGIN: a snapshot of the last commit, no write lock
                    conn = conn.execution_options(campaign_core_read_only=True)
            try:
                uow = SqlAlchemyUnitOfWork(conn, self._entities, self.dialect, read_only=read_only)
                try:
                    yield uow
                except BaseException:
                    uow._discard()
                    raise
                uow.rollback()
            finally:
                with translate_errors():
                    conn.close()

    def maintain(self, now: datetime) -> tuple[str, ...]:
        """Create PostgreSQL's monthly partitions of ``tracking_events`` ahead of time.

        The partitions of ``now``'s month and the next ``PARTITIONS_AHEAD``
        months are created where missing, under a transaction-level advisory
        lock (several workers may call this at once); checked at most once a
        month per process. SQLite and MariaDB keep one plain table: nothing to do.

        Args:
            now: the tick's instant.

        Returns:
            The partitions created.
        """
        if self.engine.dialect.name != "postgresql":
            return ()
        month = (now.year, now.month)
        if self._partitions_checked == month:
            return ()
        with self._writer(), translate_errors("tracking_events"), self.engine.begin() as conn:
            created = (
                ensure_month_partitions(conn, now, months_ahead(now, PARTITIONS_AHEAD))
                if is_partitioned(conn)
                else ()
            )
        self._partitions_checked = month
        return created

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlAlchemyStore({self.engine.url.render_as_string(hide_password=True)!r})"


_DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres", "pymysql": "mysql"}


def _max_parameters(dialect: str) -> int:
    """The most bound parameters one statement of ``dialect`` takes."""
    if dialect == "sqlite":
        import sqlite3

        return 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    return 65535


def _make_engine(url: str, busy_timeout: float) -> Engine:
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError as error:
        raise StoreUnavailableError(
            f"invalid database URL: {error}", details={"retryable": False}
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                return sa.create_engine(
                    parsed,
                    poolclass=StaticPool,
                    connect_args={"check_same_thread": False, "timeout": busy_timeout},
                )
            return sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            # fail fast on an unreachable server instead of waiting for TCP's timeout
            connect_args["connect_timeout"] = 10
        engine = sa.create_engine(parsed, connect_args=connect_args)
        _ping_when_idle(engine, IDLE_PING_SECONDS)
        return engine
    except exc.NoSuchModuleError as error:
        raise StoreUnavailableError(
            f"{shown}: unknown database kind or driver ({error})", details={"retryable": False}
        ) from None
    except ImportError as error:
        module = error.name or parsed.get_driver_name()
        extra = _DRIVER_EXTRAS.get(module.split(".")[0], "sqlalchemy")
        raise MissingDependencyError(extra, module) from None


#: a pooled server connection unused for longer is pinged before it is handed out
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Ping a pooled connection before use when it sat idle for ``idle`` seconds or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip
    per unit of work (a quarter of a one-query read on PostgreSQL). A connection
    used a moment ago is alive but for a server restart since: that unit of work
    fails with a retryable :class:`StoreUnavailableError` and SQLAlchemy
    replaces the pool's connections; one that sat idle (where proxies and
    server timeouts close them) is checked first, as before, and replaced if dead.
    """
    import time

    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["campaign_core_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("campaign_core_idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # the pool discards this connection and hands out a new one
                raise exc.DisconnectionError(str(error)) from error
            raise


def _sqlite_lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Put the database file in WAL mode (it stays so; later connections find it done).

    Switching needs the database to itself, and SQLite answers "database is
    locked" at once, without its busy handler, when another connection is busy
    (several workers opening a new file together): wait a little and look again,
    since the mode is usually set by the other connection meanwhile.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)  # a connection-level wait, not business time: no clock involved
        delay = min(delay * 2, 0.2)


def _configure_sqlite(engine: Engine, busy_timeout: float = 30.0) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's begin() decide when transactions start (see below)
        dbapi_connection.isolation_level = None
        # Python's str.lower for text search (SQLite's lower() is ASCII-only)
        dbapi_connection.create_function("cc_lower", 1, _sqlite_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            _use_wal(cursor, busy_timeout)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("campaign_core_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
