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
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Double, Integer, String, Text
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "Bool",
    "Float",
    "Int",
    "Json",
    "JsonArray",
    "KeyText",
    "StringArray",
    "TextCol",
    "UtcDateTime",
]

# Indexed or unique text: MariaDB cannot index TEXT without a prefix length.
KeyText: TypeEngine[str] = Text().with_variant(String(191), "mysql", "mariadb")
TextCol: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Int = Integer
Float: TypeEngine[float] = Double().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
Bool = Boolean


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored as naive UTC to the millisecond.

    PostgreSQL gets ``timestamp(3) without time zone`` (what Prisma's ``DateTime``
    maps to), MariaDB ``DATETIME(3)``, SQLite text.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(precision=3, timezone=False))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=3))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(UTC)
        value = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite returns datetimes via the type
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _check_json(value: Any) -> Any:
    # JSON has no NaN or infinity; refuse them here rather than store invalid JSON
    json.dumps(value, allow_nan=False)
    return value


class Json(TypeDecorator[Any]):
    """``jsonb`` on PostgreSQL, JSON elsewhere; rejects NaN/infinity."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _check_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and dialect.name in ("mysql", "mariadb"):
            return json.loads(value)
        return value


class StringArray(TypeDecorator[tuple[str, ...]]):
    """``text[]`` on PostgreSQL, a JSON array elsewhere; tuples in Python."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Text()))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return [str(getattr(v, "value", v)) for v in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = json.loads(value)
        return tuple(value)


class JsonArray(TypeDecorator[tuple[Any, ...]]):
    """``jsonb[]`` on PostgreSQL, a JSON array elsewhere; tuples in Python."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(postgresql.JSONB()))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return [_check_json(v) for v in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[Any, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = json.loads(value)
        return tuple(value)
