"""Precompiled statements for the bulk paths: INSERT and UPDATE plans per record type and
dialect (generated row functions, cached), and the field-to-column maps.
"""

from __future__ import annotations

import enum
import threading
import typing
import weakref
from collections.abc import Callable
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from campaign_core.entities import EntitySpec
from campaign_core.serialization import external_names


def _enum_fields(record: type[Any]) -> frozenset[str]:
    """Fields whose converter is an Enum class: their values always are members."""
    names = set()
    for field in attrs.fields(record):
        converter = getattr(field.converter, "converter", field.converter)
        if isinstance(converter, type) and issubclass(converter, enum.Enum):
            names.add(field.name)
    return frozenset(names)


def _optional_fields(record: type[Any]) -> frozenset[str]:
    """Fields whose value may be None (typed ``X | None``): they bind as NULL without a processor."""
    hints = typing.get_type_hints(record)
    return frozenset(
        f.name
        for f in attrs.fields(record)
        if type(None) in typing.get_args(hints.get(f.name)) and f.name not in _enum_fields(record)
    )


@attrs.frozen
class _InsertPlan:
    """A precompiled INSERT of one record type for one dialect (the bulk path).

    ``to_row`` is generated code that reads every field and applies the
    column types' bind processors, so a batch becomes a list of plain tuples
    that goes to the driver's executemany (or PostgreSQL's COPY) without
    SQLAlchemy compiling or processing each row.
    """

    sql: str
    copy_sql: str | None
    skip_sql: str | None  # PostgreSQL: the INSERT that skips a duplicate (ON CONFLICT DO NOTHING)
    fields: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    to_row: Callable[[Any], tuple[Any, ...]]


_PLANS: weakref.WeakKeyDictionary[Dialect, dict[str, _InsertPlan]] = weakref.WeakKeyDictionary()


_PLANS_LOCK = threading.Lock()


def _insert_plan(spec: EntitySpec, table: sa.Table, dialect: Dialect) -> _InsertPlan:
    with _PLANS_LOCK:
        plans = _PLANS.setdefault(dialect, {})
        plan = plans.get(table.name)
        if plan is None:
            plan = plans[table.name] = _build_plan(spec, table, dialect)
    return plan


def _build_plan(spec: EntitySpec, table: sa.Table, dialect: Dialect) -> _InsertPlan:
    names = external_names(spec.record)
    fields = tuple(names)
    columns = [table.c[names[f]] for f in fields]
    prep = dialect.identifier_preparer
    column_list = ", ".join(prep.quote(c.name) for c in columns)
    mark = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
    sql = (
        f"INSERT INTO {prep.format_table(table)} ({column_list}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    postgres = dialect.name == "postgresql"
    copy_sql = f"COPY {prep.format_table(table)} ({column_list}) FROM STDIN" if postgres else None
    skip_sql = f"{sql} ON CONFLICT DO NOTHING" if postgres else None
    processors = tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    to_row = _row_function(spec, fields, processors, f"<insert plan {table.name}>")
    return _InsertPlan(sql, copy_sql, skip_sql, fields, processors, to_row)


def _row_function(
    spec: EntitySpec,
    fields: tuple[str, ...],
    processors: tuple[Callable[[Any], Any] | None, ...],
    label: str,
    tail: tuple[str, ...] = (),
) -> Callable[[Any], tuple[Any, ...]]:
    """Generated code: a record's ``fields`` through their bind processors, then ``tail``.

    Generated once per (table, dialect, fields); field names are attrs
    identifiers, ``tail`` holds expressions of the record ``r``.
    """
    enums = _enum_fields(spec.record)
    nullable = _optional_fields(spec.record)
    namespace: dict[str, Any] = {}
    parts: list[str] = []
    lines: list[str] = []
    for i, (field, processor) in enumerate(zip(fields, processors)):
        expr = f"r.{field}.value" if field in enums else f"r.{field}"
        if processor is not None:
            namespace[f"p{i}"] = processor
            if field in nullable:
                # None binds as NULL through every processor: the call is skipped
                lines.append(f"    v{i} = r.{field}")
                expr = f"(None if v{i} is None else p{i}(v{i}))"
            else:
                expr = f"p{i}({expr})"
        parts.append(expr)
    body = "".join(line + "\n" for line in lines)
    source = f"def to_row(r):\n{body}    return ({', '.join([*parts, *tail])},)\n"
    exec(compile(source, label, "exec"), namespace)
    to_row: Callable[[Any], tuple[Any, ...]] = namespace["to_row"]
    return to_row


@attrs.frozen
class _UpdatePlan:
    """A precompiled ``UPDATE ... WHERE id = ? [AND version = ?]`` of some fields (the bulk path).

    ``to_row`` gives the new values of ``fields`` through the columns' bind
    processors, then the id and, for a versioned type, the version the row
    must still have (``record.version - 1``).

    MariaDB/MySQL: pymysql runs an executemany of UPDATEs as one round trip
    per row, so ``joined(n)`` gives one UPDATE of ``n`` rows instead, joined
    to the new values as a derived table (``SELECT ... UNION ALL SELECT ...``)
    on the id and the expected version.
    """

    sql: str
    fields: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    to_row: Callable[[Any], tuple[Any, ...]]
    join_parts: tuple[str, str, str, str] | None = None

    def joined(self, rows: int) -> str:
        """The one-statement UPDATE of ``rows`` rows (MariaDB/MySQL)."""
        assert self.join_parts is not None
        head, select, rest, tail = self.join_parts
        return head + select + rest * (rows - 1) + tail


_UPDATE_PLANS: weakref.WeakKeyDictionary[
    Dialect, dict[tuple[str, tuple[str, ...]], _UpdatePlan]
] = weakref.WeakKeyDictionary()


def _update_plan(
    spec: EntitySpec, table: sa.Table, dialect: Dialect, fields: tuple[str, ...]
) -> _UpdatePlan:
    with _PLANS_LOCK:
        plans = _UPDATE_PLANS.setdefault(dialect, {})
        plan = plans.get((table.name, fields))
        if plan is None:
            plan = plans[(table.name, fields)] = _build_update_plan(spec, table, dialect, fields)
    return plan


def _build_update_plan(
    spec: EntitySpec, table: sa.Table, dialect: Dialect, fields: tuple[str, ...]
) -> _UpdatePlan:
    names = external_names(spec.record)
    columns = [table.c[names[f]] for f in fields]
    prep = dialect.identifier_preparer
    mark = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
    where = f"{prep.quote(table.c[names['id']].name)} = {mark}"
    if spec.versioned:
        where += f" AND {prep.quote(table.c[names['version']].name)} = {mark}"
    assignments = ", ".join(f"{prep.quote(c.name)} = {mark}" for c in columns)
    table_name = prep.format_table(table)
    sql = f"UPDATE {table_name} SET {assignments} WHERE {where}"
    processors = tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    tail = ("r.id", "r.version - 1") if spec.versioned else ("r.id",)
    to_row = _row_function(spec, fields, processors, f"<update plan {table.name}>", tail)
    join_parts = None
    if dialect.name in ("mysql", "mariadb"):
        # the new values as a derived table: v0..vN-1 the fields, then k0 (id), k1 (version)
        aliases = [f"v{i}" for i in range(len(fields))] + [f"k{i}" for i in range(len(tail))]
        select = "SELECT " + ", ".join(f"{mark} AS {alias}" for alias in aliases)
        rest = " UNION ALL SELECT " + ", ".join([mark] * len(aliases))
        on = f"t.{prep.quote(table.c[names['id']].name)} = v.k0"
        if spec.versioned:
            on += f" AND t.{prep.quote(table.c[names['version']].name)} = v.k1"
        sets = ", ".join(f"t.{prep.quote(c.name)} = v.v{i}" for i, c in enumerate(columns))
        join_parts = (
            f"UPDATE {table_name} AS t JOIN (",
            select,
            rest,
            f") AS v ON {on} SET {sets}",
        )
    return _UpdatePlan(sql, fields, processors, to_row, join_parts)


_COLUMN_MAPS: dict[
    tuple[str, sa.Table], tuple[dict[str, str], dict[str, sa.Column[Any]], tuple[str, ...]]
] = {}


def _column_map(
    spec: EntitySpec, table: sa.Table
) -> tuple[dict[str, str], dict[str, sa.Column[Any]], tuple[str, ...]]:
    """Field -> column name, field -> column, and the field of each column of ``select(table)``."""
    key = (spec.name, table)
    found = _COLUMN_MAPS.get(key)
    if found is None:
        names = external_names(spec.record)
        cols = {attr: table.c[col] for attr, col in names.items()}
        attr_of = {col: attr for attr, col in names.items()}
        found = (names, cols, tuple(attr_of[c.name] for c in table.columns))
        _COLUMN_MAPS[key] = found
    return found
