"""Opening the store a command works on, with errors a person can act on.

Everything SQL is imported here, inside the functions, so ``campaign-core
abtest analyze`` works without the ``sqlalchemy`` extra.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from campaign_core.errors import MissingDependencyError, StoreUnavailableError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core_sqlalchemy import SqlAlchemyStore

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "check_schema",
    "describe_url",
    "open_store",
    "sqlite_file",
]

DEFAULT_DATABASE_URL: Final = "sqlite:///campaign-core.sqlite3"
DATABASE_URL_ENV: Final = "CAMPAIGN_CORE_DATABASE_URL"
# the demo's defaults (here, not in _demo, so `--help` does not import the demo's flows)
DEFAULT_DEMO_URL: Final = "sqlite:///campaign-core-demo.sqlite3"
DEFAULT_JSON_REPORT: Final = "campaign-core-demo-report.json"
DEFAULT_PDF_REPORT: Final = "campaign-core-demo-report.pdf"
#: the table whose presence says "this database has campaign-core's schema"
_MARKER_TABLE: Final = "campaigns"
_DRIVER_EXTRAS: Final = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
#: the backends campaign-core's store and migrations support (and test)
_SUPPORTED: Final = ("sqlite", "postgresql", "mysql", "mariadb")
_PASSWORD: Final = re.compile(r"(://[^:/@]*:)[^@]*@")


def describe_url(url: str) -> str:
    """``url`` with its password hidden, for messages and logs."""
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _PASSWORD.sub(r"\1***@", url)


def _parse(url: str, option: str) -> Any:
    try:
        sa = importlib.import_module("sqlalchemy")
    except ImportError:
        raise MissingDependencyError("sqlalchemy", "sqlalchemy") from None
    if not isinstance(url, str) or not url.strip():
        raise ValidationError.single(option, "is empty (expected a database URL)", "required")
    try:
        return sa.make_url(url)
    except Exception:
        raise ValidationError.single(
            option,
            f"{describe_url(url)!r} is not a database URL; expected e.g. "
            "sqlite:///campaign-core.sqlite3 or postgresql+psycopg://user@host/dbname",
            "invalid_value",
        ) from None


def sqlite_file(url: str, *, option: str = "--database-url") -> Path | None:
    """The file of a SQLite URL, or ``None`` (another backend, or in memory).

    Raises:
        ValidationError: ``url`` is not a database URL.
        MissingDependencyError: sqlalchemy is not installed.
    """
    parsed = _parse(url, option)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def open_store(
    url: str, *, require_schema: bool = True, option: str = "--database-url"
) -> SqlAlchemyStore:
    """A :class:`~campaign_core_sqlalchemy.SqlAlchemyStore` for ``url``, checked.

    Args:
        url: the database URL.
        require_schema: check that the database is reachable and has
            campaign-core's tables (every command but ``db upgrade``).
        option: the option the URL came from, for problem paths.

    Returns:
        The store (the caller closes it).

    Raises:
        ValidationError: not a database URL, or an unknown backend.
        MissingDependencyError: sqlalchemy or the backend's driver is missing.
        StoreUnavailableError: the database cannot be reached, its SQLite file
            does not exist, or it has no campaign-core tables.
    """
    parsed = _parse(url, option)
    shown = describe_url(url)
    path = sqlite_file(url, option=option)
    if path is not None and not path.parent.is_dir():
        raise StoreUnavailableError(
            f"the directory of the SQLite database {str(path)!r} does not exist",
            details={"url": shown},
        )
    if require_schema and path is not None and not path.exists():
        raise StoreUnavailableError(
            f"the SQLite database {str(path)!r} does not exist; "
            "create it with: campaign-core db upgrade",
            details={"url": shown},
        )
    try:
        from campaign_core_sqlalchemy import SqlAlchemyStore
    except MissingDependencyError:
        raise
    except ImportError:
        raise MissingDependencyError("sqlalchemy", "sqlalchemy") from None
    sa = importlib.import_module("sqlalchemy")
    # Resolve the backend and its driver here, before the store does, so that
    # a typo and a missing extra get their own exit codes whatever the store
    # makes of them.
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ValidationError.single(
            option,
            f"{shown!r} names an unknown database backend {parsed.drivername!r}; "
            "use sqlite, postgresql+psycopg or mysql+pymysql",
            "invalid_value",
        ) from None
    if parsed.get_backend_name() not in _SUPPORTED:
        raise ValidationError.single(
            option,
            f"{shown!r}: campaign-core does not support {parsed.get_backend_name()} databases; "
            "use sqlite, postgresql+psycopg or mysql+pymysql (MySQL or MariaDB)",
            "invalid_value",
        )
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise MissingDependencyError(
            _DRIVER_EXTRAS.get(parsed.get_backend_name(), "sqlalchemy"),
            error.name or parsed.drivername,
        ) from None
    try:
        store = SqlAlchemyStore(url)
    except sa.exc.ArgumentError as error:
        raise ValidationError.single(option, f"{shown!r}: {error}", "invalid_value") from None
    if require_schema:
        try:
            check_schema(store, shown, upgrade_hint="campaign-core db upgrade")
        except StoreUnavailableError:
            store.close()
            raise
    return store


def check_schema(store: Any, shown: str, *, upgrade_hint: str) -> None:
    """Check that a SQL store's database is reachable and has campaign-core's tables.

    Stores without a database schema (the in-memory store, a host's own store without
    an ``engine``) pass as they are.

    Args:
        store: the store to check.
        shown: how to name the database in messages (password hidden).
        upgrade_hint: the command that creates the tables, for the message.

    Raises:
        StoreUnavailableError: the database cannot be reached or has no tables.
    """
    engine = getattr(store, "engine", None)
    if engine is None:
        return
    sa = importlib.import_module("sqlalchemy")
    try:
        has_schema = sa.inspect(engine).has_table(_MARKER_TABLE)
    except sa.exc.SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        raise StoreUnavailableError(
            f"cannot reach the database {shown}: {cause}", details={"url": shown}
        ) from None
    if not has_schema:
        raise StoreUnavailableError(
            f"the database {shown} has no campaign-core tables; create them with: {upgrade_hint}",
            details={"url": shown},
        )
