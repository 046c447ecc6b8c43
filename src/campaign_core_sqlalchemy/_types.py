"""Column types that give Prisma's PostgreSQL types and portable equivalents elsewhere.

| Prisma | PostgreSQL | MariaDB | SQLite |
|---|---|---|---|
| String | text | TEXT (VARCHAR(191) where indexed) | TEXT |
| Int | integer | INTEGER | INTEGER |
| Float | double precision | DOUBLE | REAL |
| Boolean | boolean | BOOL (tinyint) | BOOLEAN |
| DateTime | timestamp(3) without time zone, UTC | DATETIME(3), UTC | TEXT, UTC |
| Json | jsonb | JSON (LONGTEXT) | JSON (TEXT) |
| String[] | text[] | JSON | JSON |
| Json[] | jsonb[] | JSON | JSON |

The JSON types serialize once, strictly (``allow_nan=False``), in their own
bind processors: the generic route (validate with one ``json.dumps``, then let
the dialect dump again) cost a second serialization on every bulk row.
PostgreSQL's ``jsonb`` keeps numbers as ``numeric``: an integral float of 1e16
or more (``5.4e16``) reads back as an int of the same value.

Values the database cannot hold (NaN, a naive datetime) raise
:class:`~campaign_core.errors.ValidationError`; the store unwraps it from
SQLAlchemy's ``StatementError``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Double, Integer, String, Text
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from campaign_core.errors import ValidationError

__all__ = [
    "Bool",
    "CurrentTimestamp",
    "FalseDefault",
    "Float",
    "Int",
    "Json",
    "JsonArray",
    "KeyText",
    "StringArray",
    "TextCol",
    "UtcDateTime",
    "strict_dumps",
]

# Indexed or unique text: MariaDB cannot index TEXT without a prefix length.
KeyText: TypeEngine[str] = Text().with_variant(String(191), "mysql", "mariadb")
TextCol: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Int = Integer
Float: TypeEngine[float] = Double().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
Bool = Boolean

# one encoder, built once: json.dumps() with any keyword builds a new encoder per
# call, and JSONEncoder.encode builds the C encoder per call; this calls the C
# encoder (what encode calls) directly, falling back where there is none (PyPy).
# No circular-reference markers: a cycle ends in RecursionError, reported below.
_encoder = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    _c_encode = _c_make_encoder(
        None,  # markers
        _encoder.default,  # raises TypeError for what JSON cannot hold
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",  # key separator
        ",",  # item separator
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )

    def _dumps(value: Any) -> str:
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - CPython has the C encoder
    _dumps = _encoder.encode  # type: ignore[assignment]


_EMPTY: dict[type, str] = {dict: "{}", list: "[]", tuple: "[]"}


def strict_dumps(value: Any) -> str:
    """JSON text for ``value``; NaN, infinity or a non-JSON value raise ValidationError.

    Args:
        value: a JSON-compatible Python value.

    Returns:
        Compact JSON text.

    Raises:
        ValidationError: the value has NaN/infinity or something JSON cannot hold.
    """
    if type(value) in _EMPTY and not value:  # most JSON columns of a row are empty
        return _EMPTY[type(value)]
    try:
        return _dumps(value)
    except RecursionError:
        raise ValidationError.single(
            "", "cannot store as JSON: nested too deeply (or circular)", "invalid_value"
        ) from None
    except (ValueError, TypeError) as error:
        raise ValidationError.single(
            "",
            f"cannot store as JSON: {error}",
            "not_finite" if "Out of range" in str(error) else "invalid_type",
        ) from None


class CurrentTimestamp(FunctionElement[datetime]):
    """``CURRENT_TIMESTAMP`` as a column default (Prisma's ``@default(now())``).

    MariaDB and MySQL get ``CURRENT_TIMESTAMP(3)`` to match ``DATETIME(3)``
    (MySQL refuses a default less precise than its column; MariaDB rewrites it).
    """

    type = DateTime()
    name = "current_timestamp"
    inherit_cache = True


@compiles(CurrentTimestamp)
def _current_timestamp(element: CurrentTimestamp, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(CurrentTimestamp, "mysql")
@compiles(CurrentTimestamp, "mariadb")
def _current_timestamp_ms(element: CurrentTimestamp, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP(3)"


class FalseDefault(FunctionElement[bool]):
    """``false`` as a column default (Prisma's ``@default(false)``); ``0`` on MariaDB/MySQL.

    MariaDB stores a boolean default as ``0`` whatever the DDL said, so saying
    ``0`` keeps the migrated schema identical to the declared one.
    """

    type = Boolean()
    name = "false"
    inherit_cache = True


@compiles(FalseDefault)
def _false(element: FalseDefault, compiler: SQLCompiler, **kw: Any) -> str:
    return "false"


@compiles(FalseDefault, "mysql")
@compiles(FalseDefault, "mariadb")
def _false_mysql(element: FalseDefault, compiler: SQLCompiler, **kw: Any) -> str:
    return "0"


def _as_is(text: str) -> str:
    return text


def _is_postgres(dialect: Dialect) -> bool:
    return dialect.name == "postgresql"


def _naive_utc_ms(value: Any) -> datetime | None:
    """Aware datetime -> naive UTC truncated to the millisecond (how every database stores it)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError.single(
            "", f"the store takes aware UTC datetimes, got {value!r}", "invalid_type"
        )
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    naive: datetime = value.replace(
        microsecond=value.microsecond - value.microsecond % 1000, tzinfo=None
    )
    return naive


# A batch binds and reads the same few instants over and over (a tick's "now",
# the wake time it sets): SQLite's texts are converted through small caches.
# Datetimes are immutable, so handing out one object for equal texts is safe.
# Only datetimes in datetime.UTC are cached on the way in: two local times that
# differ only by ``fold`` (the repeated hour when clocks go back) are equal as
# keys but are different instants.


def _to_sqlite_text(value: Any) -> str | None:
    """An aware datetime as SQLAlchemy's SQLite text (``2026-01-01 00:00:00.000000``, UTC).

    The format SQLAlchemy's result processor parses and text comparisons order,
    from ``isoformat`` in C rather than the generic %-formatting. Anything else
    raises ValidationError saying what is wrong.
    """
    naive = _naive_utc_ms(value)
    return None if naive is None else naive.isoformat(" ", "microseconds")


_cached_sqlite_text = functools.lru_cache(maxsize=4096)(_to_sqlite_text)


def _sqlite_bind_datetime(value: Any) -> str | None:
    """:func:`_to_sqlite_text`, cached for datetimes in UTC (see above)."""
    if isinstance(value, datetime) and value.tzinfo is UTC:
        return _cached_sqlite_text(value)
    return _to_sqlite_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_sqlite_text(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sqlite_datetime(value: Any) -> datetime | None:
    """SQLite's text (naive UTC) to an aware UTC datetime."""
    return None if value is None else _parse_sqlite_text(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored as naive UTC to the millisecond.

    PostgreSQL gets ``timestamp(3) without time zone`` (what Prisma's ``DateTime``
    maps to), MariaDB ``DATETIME(3)``, SQLite text.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # Returned as is, not through dialect.type_descriptor(): adapting to
        # psycopg's timestamp class drops the precision, and the DDL said
        # TIMESTAMP (6 digits) instead of Prisma's TIMESTAMP(3).
        if dialect.name == "postgresql":
            return postgresql.TIMESTAMP(precision=3, timezone=False)
        if dialect.name in ("mysql", "mariadb"):
            return mysql.DATETIME(fsp=3)
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _naive_utc_ms(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        return _sqlite_bind_datetime if dialect.name == "sqlite" else _naive_utc_ms

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_datetime  # parse and mark UTC in one call per value
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite returns datetimes via the type
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _loads_if_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_scan: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


def _sqlite_json(value: Any) -> Any:
    """SQLite's JSON text decoded in one call per value (most run columns hold ``{}``/``[]``).

    Compact text (what this store writes) goes straight to the decoder's C
    scanner; anything else (whitespace, an error to report) through
    ``json.loads``. Not text: a number a JSON function returned, kept as it is
    (as SQLAlchemy does).
    """
    if type(value) is not str:
        return value
    if value == "{}":
        return {}
    if value == "[]":
        return []
    try:
        decoded, end = _scan(value, 0)
    except (StopIteration, ValueError):
        return json.loads(value)
    return decoded if end == len(value) else json.loads(value)


def _sqlite_json_tuple(value: Any) -> tuple[Any, ...]:
    decoded = None if value is None else _sqlite_json(value)
    return () if decoded is None else tuple(decoded)  # SQL NULL or JSON null: empty


class Json(TypeDecorator[Any]):
    """``jsonb`` on PostgreSQL, JSON elsewhere; rejects NaN/infinity."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _is_postgres(dialect):
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        # JSON text on every database: PostgreSQL casts it to jsonb (SQLAlchemy
        # renders ::JSONB, COPY parses it), and serializing here rather than
        # lazily in the driver reports a NaN while the row is built, with its field
        def to_text(value: Any) -> Any:
            return None if value is None else strict_dumps(value)

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_json
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return _loads_if_text(value)
        return value


class StringArray(TypeDecorator[tuple[str, ...]]):
    """``text[]`` on PostgreSQL, a JSON array elsewhere; tuples in Python.

    A NULL reads as an empty tuple: Prisma creates list columns nullable and
    a Prisma client may leave them NULL.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _is_postgres(dialect):
            return dialect.type_descriptor(postgresql.ARRAY(Text()))
        return dialect.type_descriptor(JSON())

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        def to_list(value: Any) -> Any:
            if value is None:
                return None
            return [str(getattr(v, "value", v)) for v in value]

        if _is_postgres(dialect):
            return to_list

        def to_text(value: Any) -> Any:
            return None if value is None else strict_dumps(to_list(value))

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_json_tuple
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...]:
        if value is None:
            return ()
        return tuple(_loads_if_text(value))


class JsonArray(TypeDecorator[tuple[Any, ...]]):
    """``jsonb[]`` on PostgreSQL, a JSON array elsewhere; tuples in Python (NULL reads as ())."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _is_postgres(dialect):
            return dialect.type_descriptor(postgresql.ARRAY(postgresql.JSONB()))
        return dialect.type_descriptor(JSON())

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        if _is_postgres(dialect):
            from psycopg.types.json import Jsonb

            def to_jsonb_list(value: Any) -> Any:
                if value is None:
                    return None
                return [Jsonb(strict_dumps(v), dumps=_as_is) for v in value]

            return to_jsonb_list

        def to_text(value: Any) -> Any:
            return None if value is None else strict_dumps(list(value))

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_json_tuple
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[Any, ...]:
        if value is None:
            return ()
        return tuple(_loads_if_text(value))
