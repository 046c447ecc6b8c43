"""Driver errors reach callers as the library's errors: ConflictError, StoreUnavailableError, ValidationError."""

from __future__ import annotations

import math
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pymysql
import pytest
import sqlalchemy as sa
from psycopg import errors as pg_errors

from campaign_core.errors import (
    ConflictError,
    MissingDependencyError,
    StoreUnavailableError,
    ValidationError,
)
from campaign_core.query import NotNull, Order
from campaign_core.testing.helpers import make_campaign
from campaign_core_sqlalchemy import SqlAlchemyStore
from campaign_core_sqlalchemy._errors import classify
from tests.conftest import backend_params, make_store

SQL_BACKENDS = ["sqlite", "postgres", "mariadb"]


def _sql_store(backend: str) -> SqlAlchemyStore:
    store = make_store(backend)
    assert isinstance(store, SqlAlchemyStore)
    return store


# -- unique keys ------------------------------------------------------------------
@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_duplicate_keys_are_conflicts_that_say_exists(backend: str) -> None:
    """A duplicate id, alone or inside a batch of any size, is ConflictError(reason=exists), not retryable."""
    store = _sql_store(backend)
    record = make_campaign(id="dup")
    with store.unit_of_work() as uow:
        uow.campaigns.add(record)
        with pytest.raises(ConflictError) as single:
            uow.campaigns.add(record)
        big = [make_campaign(id=f"b{i:03d}") for i in range(100)] + [record]
        with pytest.raises(ConflictError) as batch:
            uow.campaigns.add_many(big)  # COPY on PostgreSQL, executemany elsewhere
        assert uow.campaigns.count() == 1
        uow.commit()
    for error in (single.value, batch.value):
        assert error.details["reason"] == "exists"
        assert error.details["retryable"] is False
        assert error.details["entity"] == "campaigns"
    store.close()


# -- values the database cannot hold -------------------------------------------------
@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_unstorable_values_raise_validation_errors_with_paths(backend: str) -> None:
    """NaN in JSON or a naive datetime raises ValidationError naming the field (and row), and writes nothing."""
    store = _sql_store(backend)
    with store.unit_of_work() as uow:
        with pytest.raises(ValidationError) as nan:
            uow.campaigns.add(make_campaign(content={"score": math.nan}))
        with pytest.raises(ValidationError) as naive:
            uow.campaigns.add(make_campaign(scheduled_for=datetime(2026, 1, 1)))  # noqa: DTZ001
        rows = [make_campaign(), make_campaign(goals={"x": math.inf}), make_campaign()]
        with pytest.raises(ValidationError) as batch:
            uow.campaigns.add_many(rows)
        assert uow.campaigns.count() == 0
    assert [p.path for p in nan.value.problems] == ["content"]
    assert nan.value.problems[0].code == "not_finite"
    assert [p.path for p in naive.value.problems] == ["scheduled_for"]
    assert [p.path for p in batch.value.problems] == ["[1].goals"]
    store.close()


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_circular_or_too_deep_json_is_a_validation_error(backend: str) -> None:
    """A value that contains itself, or nests past the recursion limit, is refused with its field."""
    store = _sql_store(backend)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with store.unit_of_work() as uow:
        for value in (circular, {"deep": deep}):
            with pytest.raises(ValidationError) as raised:
                uow.campaigns.add(make_campaign(content=value))
            assert [p.path for p in raised.value.problems] == ["content"]
        assert uow.campaigns.count() == 0
    store.close()


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_update_many_names_the_unstorable_value_and_writes_nothing(backend: str) -> None:
    """update_many of a batch with a NaN: ValidationError naming row and field; no row changes."""
    store = _sql_store(backend)
    records = [make_campaign(id=f"u{i}") for i in range(3)]
    with store.unit_of_work() as uow:
        uow.campaigns.add_many(records)
        batch = [attrs.evolve(r, name="new", version=2) for r in records]
        batch[2] = attrs.evolve(batch[2], goals={"x": math.nan})
        with pytest.raises(ValidationError) as raised:
            uow.campaigns.update_many(batch, fields=["name", "goals"])
        assert [p.path for p in raised.value.problems] == ["[2].goals"]
        stored = uow.campaigns.find(NotNull("id"), order_by=[Order("id")])
        assert [c.name for c in stored] == [r.name for r in records]
    store.close()


@pytest.mark.parametrize("backend", backend_params(SQL_BACKENDS))
def test_values_the_database_refuses_are_validation_errors(backend: str) -> None:
    """Text the database refuses (NUL in jsonb, a 300-char key on MariaDB, lone surrogates) is a ValidationError; the unit of work goes on."""
    store = _sql_store(backend)
    bad = [
        make_campaign(content={"text": "\x00"}),  # jsonb cannot hold \u0000
        make_campaign(user_id="u" * 300),  # VARCHAR(191) on MariaDB
        make_campaign(name="\ud800"),  # not encodable as UTF-8
    ]
    refused = 0
    with store.unit_of_work() as uow:
        for record in bad:
            copies = [attrs.evolve(record, id=f"{record.id}-{i}") for i in range(70)]
            for batch in ([record], copies):  # one row, then a COPY-sized batch
                try:
                    if len(batch) == 1:
                        uow.campaigns.add(batch[0])
                    else:
                        uow.campaigns.add_many(batch)
                except ValidationError:
                    refused += 1
                else:
                    uow.campaigns.delete_where(NotNull("id"))  # this database holds it: fine too
        uow.campaigns.add(make_campaign(id="fine"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert [c.id for c in uow.campaigns.find()] == ["fine"]
    assert refused >= 2  # the surrogate everywhere; NUL on PostgreSQL, length on MariaDB
    store.close()


# -- lost connections -------------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_backend_terminated_mid_unit_of_work_is_store_unavailable() -> None:
    """pg_terminate_backend on the unit of work's connection surfaces as StoreUnavailableError; the store recovers."""
    store = _sql_store("postgres")
    admin = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with pytest.raises(StoreUnavailableError) as lost, store.unit_of_work() as uow:  # noqa: PT012
        uow.campaigns.add(make_campaign(id="before"))
        pid = uow.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()  # type: ignore[attr-defined]
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        uow.campaigns.add(make_campaign(id="after"))
    assert lost.value.details["retryable"] is True
    with store.unit_of_work() as uow:  # a fresh connection from the pool
        assert uow.campaigns.get("before") is None  # the transaction died with the backend
        uow.campaigns.add(make_campaign(id="later"))
        uow.commit()
    admin.dispose()
    store.close()


def _terminate_pooled_backend(store: SqlAlchemyStore) -> None:
    """Use a pooled connection once, return it, then end its server backend."""
    with store.unit_of_work() as uow:
        pid = uow.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()  # type: ignore[attr-defined]
    admin = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.mark.postgres
def test_postgres_idle_pooled_connection_is_pinged_and_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pooled connection idle past IDLE_PING_SECONDS is pinged at checkout; a dead one is replaced, unseen."""
    from campaign_core_sqlalchemy import _store

    monkeypatch.setattr(_store, "IDLE_PING_SECONDS", 0.0)
    store = _sql_store("postgres")
    _terminate_pooled_backend(store)
    with store.unit_of_work() as uow:  # no error: the ping found the dead connection
        assert uow.campaigns.get("missing") is None
    store.close()


@pytest.mark.postgres
def test_postgres_connection_used_a_moment_ago_is_not_pinged() -> None:
    """Within IDLE_PING_SECONDS no ping: a backend lost since fails that unit of work (retryable), then the pool recovers."""
    store = _sql_store("postgres")
    _terminate_pooled_backend(store)
    with pytest.raises(StoreUnavailableError) as lost, store.unit_of_work() as uow:
        uow.campaigns.get("missing")
    assert lost.value.details["retryable"] is True
    with store.unit_of_work() as uow:
        assert uow.campaigns.get("missing") is None
    store.close()


@pytest.mark.mariadb
def test_mariadb_connection_killed_mid_unit_of_work_is_store_unavailable() -> None:
    """KILL CONNECTION on the unit of work's connection surfaces as StoreUnavailableError; the store recovers."""
    store = _sql_store("mariadb")
    admin = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with pytest.raises(StoreUnavailableError), store.unit_of_work() as uow:  # noqa: PT012
        uow.campaigns.add(make_campaign(id="before"))
        thread_id = uow.connection.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()  # type: ignore[attr-defined]
        with admin.connect() as conn:
            conn.exec_driver_sql(f"KILL CONNECTION {int(thread_id)}")
        uow.campaigns.add(make_campaign(id="after"))
    with store.unit_of_work() as uow:
        assert uow.campaigns.get("before") is None
        uow.campaigns.add(make_campaign(id="later"))
        uow.commit()
    admin.dispose()
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody@127.0.0.1:1/nothing",
        "mysql+pymysql://nobody@127.0.0.1:1/nothing",
        "sqlite:////nonexistent-folder/sub/db.sqlite3",
    ],
)
def test_unreachable_database_is_store_unavailable_at_first_use(url: str) -> None:
    """Constructing a store never connects; the first unit of work or upgrade raises StoreUnavailableError."""
    store = SqlAlchemyStore(url)
    with pytest.raises(StoreUnavailableError), store.unit_of_work():
        pass
    with pytest.raises(StoreUnavailableError):
        store.upgrade()
    store.close()


@pytest.mark.postgres
def test_missing_postgres_database_is_store_unavailable() -> None:
    """A URL naming a database that does not exist raises StoreUnavailableError at first use."""
    url = _sql_store("postgres").engine.url.set(database="cc_no_such_database")
    store = SqlAlchemyStore(url.render_as_string(hide_password=False))
    with pytest.raises(StoreUnavailableError), store.unit_of_work():
        pass
    store.close()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "postgres://u@h/db"])
def test_malformed_url_is_store_unavailable_at_construction(url: str) -> None:
    """A URL that names no known database kind raises StoreUnavailableError (retryable False) at once."""
    with pytest.raises(StoreUnavailableError) as error:
        SqlAlchemyStore(url)
    assert error.value.details["retryable"] is False


def test_missing_driver_names_the_extra_to_install() -> None:
    """A driver that is not installed raises MissingDependencyError naming the extra."""
    with pytest.raises(MissingDependencyError) as error:
        SqlAlchemyStore("postgresql+psycopg2://u@h/db")
    assert error.value.extra == "postgres"


def test_schema_never_upgraded_says_to_run_upgrade() -> None:
    """Using a store whose tables were never created raises StoreUnavailableError telling to run upgrade()."""
    store = SqlAlchemyStore("sqlite://")
    with pytest.raises(StoreUnavailableError, match=r"upgrade\(\)"), store.unit_of_work() as uow:
        uow.campaigns.count()
    store.close()


# -- collisions between transactions --------------------------------------------------------
@pytest.mark.parametrize("backend", backend_params(["postgres", "mariadb"]))
def test_deadlock_is_a_retryable_conflict(backend: str) -> None:
    """Two units of work locking two rows in opposite orders: the loser gets ConflictError(retryable)."""
    store = _sql_store(backend)
    with store.unit_of_work() as uow:
        uow.campaigns.add_many([make_campaign(id="a"), make_campaign(id="b")])
        uow.commit()
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def work(first: str, second: str) -> None:
        try:
            with store.unit_of_work() as uow:
                if backend == "postgres":
                    uow.connection.exec_driver_sql("SET LOCAL deadlock_timeout = '50ms'")  # type: ignore[attr-defined]
                uow.campaigns.increment(first, {"spent": 1.0})
                barrier.wait(timeout=10)
                uow.campaigns.increment(second, {"spent": 1.0})
                uow.commit()
            outcomes.append("ok")
        except ConflictError as error:
            outcomes.append(error)

    threads = [
        threading.Thread(target=work, args=("a", "b")),
        threading.Thread(target=work, args=("b", "a")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(conflicts) == 1
    assert "ok" in outcomes
    assert conflicts[0].details == {
        **conflicts[0].details,
        "reason": "concurrent",
        "retryable": True,
    }
    store.close()


def test_sqlite_lock_timeout_is_a_retryable_conflict(tmp_path: Path) -> None:
    """A second SQLite writer that cannot get the lock within busy_timeout gets ConflictError(retryable)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    holder = SqlAlchemyStore(url, create=True)
    waiter = SqlAlchemyStore(url, busy_timeout=0.05)
    with holder.unit_of_work() as uow:
        uow.campaigns.add(make_campaign())
        # a unit of work takes the lock at its first statement, a read included
        with pytest.raises(ConflictError) as error, waiter.unit_of_work() as other:
            other.campaigns.get("any")
    assert error.value.details["retryable"] is True
    holder.close()
    waiter.close()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (pg_errors.UniqueViolation(), "exists"),
        (pg_errors.NotNullViolation(), "constraint"),
        (pg_errors.SerializationFailure(), "concurrent"),
        (pg_errors.DeadlockDetected(), "concurrent"),
        (pg_errors.LockNotAvailable(), "concurrent"),
        (pg_errors.AdminShutdown(), "unavailable"),
        (pg_errors.InvalidCatalogName(), "unavailable"),
        (pg_errors.InvalidPassword(), "unavailable"),
        (pg_errors.UndefinedTable(), "no_schema"),
        (pg_errors.UntranslatableCharacter(), "invalid"),
        (pg_errors.StringDataRightTruncation(), "invalid"),
        (pg_errors.SyntaxError(), None),
        (pymysql.err.IntegrityError(1062, "Duplicate entry"), "exists"),
        (pymysql.err.IntegrityError(1048, "cannot be null"), "constraint"),
        (pymysql.err.OperationalError(1213, "Deadlock found"), "concurrent"),
        (pymysql.err.OperationalError(1205, "Lock wait timeout"), "concurrent"),
        (pymysql.err.OperationalError(2013, "Lost connection"), "unavailable"),
        (pymysql.err.OperationalError(1927, "Connection was killed"), "unavailable"),
        (pymysql.err.ProgrammingError(1146, "doesn't exist"), "no_schema"),
        (pymysql.err.DataError(1406, "Data too long"), "invalid"),
        (pymysql.err.ProgrammingError(1064, "syntax"), None),
    ],
)
def test_driver_codes_are_classified(error: BaseException, kind: str | None) -> None:
    """Each driver code the store knows maps to its meaning (codes, not messages)."""
    assert classify(error) == kind


def test_sqlite_error_names_are_classified() -> None:
    """SQLite's extended error names (unique, busy) map to exists and concurrent."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT UNIQUE)")
    conn.execute("INSERT INTO t VALUES ('a', 'x')")
    for statement in ("INSERT INTO t VALUES ('a', 'y')", "INSERT INTO t VALUES ('b', 'x')"):
        with pytest.raises(sqlite3.IntegrityError) as error:
            conn.execute(statement)
        assert classify(error.value) == "exists"
    conn.close()
