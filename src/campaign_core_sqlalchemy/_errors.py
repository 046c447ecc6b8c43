"""Driver errors -> the library's errors, by the drivers' own codes (not their messages).

| what happened | PostgreSQL (SQLSTATE) | MariaDB (error number) | SQLite (error name) | raised |
|---|---|---|---|---|
| duplicate id or unique key | 23505 | 1062, 1586 | SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY | ConflictError, reason ``exists`` |
| other constraint | 23xxx | IntegrityError | SQLITE_CONSTRAINT_* | ConflictError, reason ``constraint`` |
| deadlock, serialization failure, lock timeout | 40001, 40P01, 55P03 | 1213, 1205 | SQLITE_BUSY*, SQLITE_LOCKED* | ConflictError, ``retryable`` |
| lost or refused connection, server shutting down, bad credentials, no database | 08xxx, 57P0x, 28xxx, 3D000, 53300 | 1927, 2002-2055, 4031, 1040, 1045, 1049, 1053 | SQLITE_CANTOPEN, SQLITE_IOERR... | StoreUnavailableError |
| a table of ours is missing | 42P01 | 1146 | "no such table" | StoreUnavailableError (run ``upgrade()``) |
| a value the column refuses (too long, ``\\u0000`` in JSON...) | 22xxx | 1264, 1292, 1366, 1406, 4025 | SQLITE_TOOBIG, SQLITE_MISMATCH | ValidationError |

SQLAlchemy flags a dropped connection (``connection_invalidated``); that is
always :class:`StoreUnavailableError`. A ``CampaignCoreError`` raised inside a
bind processor (a NaN in JSON, a naive datetime) reaches SQLAlchemy wrapped in
a ``StatementError``; it is unwrapped and re-raised as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc

from campaign_core.errors import (
    CampaignCoreError,
    ConflictError,
    StoreUnavailableError,
    ValidationError,
)

__all__ = ["classify", "exists_error", "translate_errors"]

EXISTS = "exists"
CONSTRAINT = "constraint"
RETRY = "concurrent"
UNAVAILABLE = "unavailable"
NO_SCHEMA = "no_schema"
INVALID = "invalid"

_PG_RETRY = {"40001", "40P01", "55P03"}
_PG_UNAVAILABLE_CLASSES = ("08", "57", "28", "53")
_MYSQL_EXISTS = {1062, 1586}
_MYSQL_RETRY = {1205, 1213}
_MYSQL_UNAVAILABLE = {
    1040,
    1045,
    1049,
    1053,
    1927,
    2002,
    2003,
    2005,
    2006,
    2013,
    2014,
    2045,
    2055,
    4031,
}
_MYSQL_NO_TABLE = {1146}
_MYSQL_INVALID = {1264, 1292, 1366, 1406, 4025}


def _mysql_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def classify(error: BaseException) -> str | None:
    """What a DBAPI error means, from its driver code.

    Args:
        error: the driver's exception (``DBAPIError.orig``, or raised by the
            driver directly, as COPY does).

    Returns:
        ``"exists"``, ``"constraint"``, ``"concurrent"``, ``"unavailable"``,
        ``"no_schema"``, or None when the code means none of those.
    """
    sqlstate = getattr(error, "sqlstate", None)
    module = type(error).__module__
    # by driver first: pymysql errors carry a (coarse) sqlstate too
    if module.startswith("psycopg"):
        if sqlstate is None:
            # psycopg raises OperationalError without SQLSTATE when the socket dies
            return (
                UNAVAILABLE
                if type(error).__name__ in ("OperationalError", "InterfaceError")
                else None
            )
        if sqlstate == "23505":
            return EXISTS
        if sqlstate.startswith("23"):
            return CONSTRAINT
        if sqlstate in _PG_RETRY:
            return RETRY
        if sqlstate == "42P01":
            return NO_SCHEMA
        if sqlstate.startswith("22"):
            return INVALID
        if sqlstate.startswith(_PG_UNAVAILABLE_CLASSES) or sqlstate == "3D000":
            return UNAVAILABLE
        return None
    if module.startswith(("pymysql", "MySQLdb")):
        code = _mysql_code(error)
        if code in _MYSQL_EXISTS:
            return EXISTS
        if code in _MYSQL_RETRY:
            return RETRY
        if code in _MYSQL_NO_TABLE:
            return NO_SCHEMA
        if code in _MYSQL_INVALID:
            return INVALID
        if code in _MYSQL_UNAVAILABLE:
            return UNAVAILABLE
        if type(error).__name__ == "IntegrityError":
            return CONSTRAINT
        return None
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
            return EXISTS
        if name.startswith("SQLITE_CONSTRAINT"):
            return CONSTRAINT
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return RETRY
        if name.startswith(
            (
                "SQLITE_CANTOPEN",
                "SQLITE_IOERR",
                "SQLITE_FULL",
                "SQLITE_READONLY",
                "SQLITE_CORRUPT",
                "SQLITE_NOTADB",
                "SQLITE_PERM",
                "SQLITE_AUTH",
            )
        ):
            return UNAVAILABLE
        if name in ("SQLITE_TOOBIG", "SQLITE_MISMATCH"):
            return INVALID
        if name == "SQLITE_ERROR" and "no such table" in str(error):
            return NO_SCHEMA
    return None


def _error_for(
    kind: str | None, error: BaseException, entity: str, invalidated: bool
) -> CampaignCoreError | None:
    what = entity or "record"
    driver = type(error).__name__
    if invalidated or kind == UNAVAILABLE:
        return StoreUnavailableError(
            f"the database is unavailable ({driver}: {str(error).strip()})",
            details={"entity": entity, "driver": driver, "retryable": True},
        )
    if kind == EXISTS:
        return exists_error(entity, driver)
    if kind == CONSTRAINT:
        return ConflictError(
            f"{what}: the write breaks a constraint ({str(error).strip()})",
            details={"entity": entity, "reason": CONSTRAINT, "retryable": False, "driver": driver},
        )
    if kind == RETRY:
        return ConflictError(
            f"{what}: concurrent transactions collided; retry the unit of work",
            details={"entity": entity, "reason": RETRY, "retryable": True, "driver": driver},
        )
    if kind == NO_SCHEMA:
        return StoreUnavailableError(
            f"{what}: the store's tables are missing or out of date; run store.upgrade() "
            f"({driver}: {str(error).strip()})",
            details={"entity": entity, "driver": driver, "retryable": False},
        )
    if kind == INVALID:
        return _refused(what, error)
    return None


def _refused(what: str, error: BaseException) -> ValidationError:
    # the driver's own first line only: never the statement, its parameters or the server's
    # LINE/DETAIL context, which can quote the values
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return ValidationError.single(
        "", f"{what}: the database refused a value ({reason})", "invalid_value"
    )


def exists_error(entity: str, driver: str) -> ConflictError:
    """The error of an insert whose id or unique key exists (also when the store finds it itself).

    Args:
        entity: the repository name.
        driver: the driver's name for the error (``UniqueViolation``...).

    Returns:
        ConflictError with reason ``exists``.
    """
    return ConflictError(
        f"{entity or 'record'}: a record with this id or unique key already exists",
        details={"entity": entity, "reason": EXISTS, "retryable": False, "driver": driver},
    )


def _unencodable(error: UnicodeError, entity: str) -> ValidationError:
    return ValidationError.single(
        "", f"{entity or 'record'}: text the database cannot encode ({error})", "invalid_value"
    )


def _dbapi_base(error: BaseException) -> bool:
    # a driver exception raised outside SQLAlchemy (psycopg's COPY, raw executemany)
    return any(
        cls.__name__ == "Error" and cls.__module__.startswith(("psycopg", "pymysql", "sqlite3"))
        for cls in type(error).__mro__
    )


@contextmanager
def translate_errors(entity: str = "") -> Iterator[None]:
    """Turn driver errors raised inside the block into the library's errors.

    Args:
        entity: the repository name, for messages and details.

    Raises:
        ConflictError: duplicate keys, broken constraints, deadlocks and
            serialization failures (``details["retryable"]`` says which).
        StoreUnavailableError: lost, refused or misconfigured connections,
            and a schema that was never upgraded.
        ValidationError: a value the database refuses (too long for an
            indexed column on MariaDB, ``\\u0000`` in PostgreSQL JSON, text
            that cannot be encoded), or one a bind processor refused.
    """
    try:
        yield
    except CampaignCoreError:
        raise
    except exc.DBAPIError as error:
        orig: Any = error.orig if error.orig is not None else error
        ours = _error_for(classify(orig), orig, entity, bool(error.connection_invalidated))
        if ours is None and isinstance(error, exc.OperationalError | exc.InterfaceError):
            ours = _error_for(UNAVAILABLE, orig, entity, True)
        if ours is None and isinstance(error, exc.DataError):
            # e.g. psycopg's client-side "cannot contain NUL (0x00) bytes", without a SQLSTATE
            ours = _refused(entity or "record", orig)
        if ours is None:
            raise
        raise ours from None if isinstance(ours, ValidationError) else error
    except exc.StatementError as error:
        if isinstance(error.orig, CampaignCoreError):
            raise error.orig from None
        if isinstance(error.orig, UnicodeError):  # lone surrogates: not encodable
            raise _unencodable(error.orig, entity) from error
        raise
    except UnicodeError as error:  # raised by the driver directly (COPY)
        raise _unencodable(error, entity) from error
    except OverflowError as error:  # sqlite3 binding an int beyond 64 bits
        raise ValidationError.single(
            "", f"{entity or 'record'}: the database refused a value ({error})", "invalid_value"
        ) from error
    except Exception as error:
        ours = _error_for(classify(error), error, entity, False) if _dbapi_base(error) else None
        if ours is None:
            raise
        raise ours from error
