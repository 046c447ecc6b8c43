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

# one encoder, built once: json.dumps() with any keyword builds a new encoder per call
_dumps = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def strict_dumps(value: Any) -> str:
    """JSON text for ``value``; NaN, infinity or a non-JSON value raise ValidationError.

    Args:
        value: a JSON-compatible Python value.

    Returns:
        Compact JSON text.

    Raises:
        ValidationError: the value has NaN/infinity or something JSON cannot hold.
    """
    try:
        return _dumps(value)
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
        if dialect.name != "sqlite":
            return _naive_utc_ms

        # SQLAlchemy's SQLite format ("2026-01-01 00:00:00.000000", what its result
        # processor parses and what text comparisons order), from isoformat in C
        # rather than the generic %-formatting: the bulk path binds millions
        def to_text(value: Any) -> str | None:
            naive = _naive_utc_ms(value)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return to_text

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

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[Any, ...]:
        if value is None:
            return ()
        return tuple(_loads_if_text(value))
