"""A small, store-neutral query language for repositories.

Services describe what they want with these conditions; every store turns them
into its own form (Python predicates in memory, SQL ``WHERE`` clauses in the
SQLAlchemy store), so the same question gets the same answer everywhere. Field
names are the records' attribute names (snake_case).

Null semantics follow SQL, so both stores agree: a comparison with a missing
(``None``) value is false, including :class:`Ne` and :class:`NotIn`; use
:class:`IsNull` / :class:`NotNull` to ask about missing values. :class:`Not`
negates a condition whose fields are present; on a missing value it is false too.

Example::

    where = And(Eq("user_id", "u1"), In("status", ["draft", "scheduled"]),
                HasAny("platforms", ["tiktok"]))
    repo.find(where, order_by=[Order("created_at", descending=True)], limit=20)
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs

from campaign_core.errors import ValidationError

__all__ = [
    "And",
    "Cond",
    "Eq",
    "Gt",
    "Gte",
    "HasAny",
    "In",
    "IsNull",
    "Lt",
    "Lte",
    "Ne",
    "Not",
    "NotIn",
    "NotNull",
    "Or",
    "Order",
    "TextMatch",
    "check_query",
    "matches",
    "sort_key",
]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _plain_tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(_plain(v) for v in values)


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


class Cond:
    """Base of every condition."""


@attrs.frozen
class Eq(Cond):
    """``field == value`` (``value`` None means the field is missing)."""

    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class Ne(Cond):
    """``field != value``; false when the field is missing."""

    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class Gt(Cond):
    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class Gte(Cond):
    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class Lt(Cond):
    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class Lte(Cond):
    field: str
    value: Any = attrs.field(converter=_plain)


@attrs.frozen
class In(Cond):
    """``field`` is one of ``values`` (an empty list matches nothing)."""

    field: str
    values: tuple[Any, ...] = attrs.field(converter=_plain_tuple)


@attrs.frozen
class NotIn(Cond):
    """``field`` is none of ``values``; false when the field is missing."""

    field: str
    values: tuple[Any, ...] = attrs.field(converter=_plain_tuple)


@attrs.frozen
class IsNull(Cond):
    field: str


@attrs.frozen
class NotNull(Cond):
    field: str


@attrs.frozen
class HasAny(Cond):
    """The array ``field`` contains at least one of ``values``."""

    field: str
    values: tuple[Any, ...] = attrs.field(converter=_plain_tuple)


@attrs.frozen
class TextMatch(Cond):
    """Case-insensitive substring ``text`` in any of the text ``fields``."""

    fields: tuple[str, ...] = attrs.field(converter=_str_tuple)
    text: str


@attrs.frozen(init=False)
class And(Cond):
    conds: tuple[Cond, ...]

    def __init__(self, *conds: Cond | None) -> None:
        self.__attrs_init__(tuple(c for c in conds if c is not None))


@attrs.frozen(init=False)
class Or(Cond):
    conds: tuple[Cond, ...]

    def __init__(self, *conds: Cond | None) -> None:
        self.__attrs_init__(tuple(c for c in conds if c is not None))


@attrs.frozen
class Not(Cond):
    cond: Cond


@attrs.frozen
class Order:
    """Sort by ``field``; missing values sort first ascending, last descending."""

    field: str
    descending: bool = False


def _value(record: Any, field: str) -> Any:
    return _plain(getattr(record, field))


def _compare(left: Any, right: Any) -> int | None:
    if left is None or right is None:
        return None
    if isinstance(left, datetime) != isinstance(right, datetime):
        return None
    return int(left > right) - int(left < right)


def matches(record: Any, cond: Cond | None) -> bool | None:
    """Evaluate ``cond`` on ``record`` with SQL's three-valued logic.

    Returns:
        True, False, or None (unknown, because a missing value was compared). Callers
        keep a record only when the result is True, as SQL does.
    """
    if cond is None:
        return True
    if isinstance(cond, Eq):
        value = _value(record, cond.field)
        if cond.value is None:
            return value is None
        return None if value is None else value == cond.value
    if isinstance(cond, Ne):
        value = _value(record, cond.field)
        return None if value is None or cond.value is None else value != cond.value
    if isinstance(cond, Gt | Gte | Lt | Lte):
        c = _compare(_value(record, cond.field), cond.value)
        if c is None:
            return None
        if isinstance(cond, Gt):
            return c > 0
        if isinstance(cond, Gte):
            return c >= 0
        if isinstance(cond, Lt):
            return c < 0
        return c <= 0
    if isinstance(cond, In):
        value = _value(record, cond.field)
        return None if value is None else value in cond.values
    if isinstance(cond, NotIn):
        value = _value(record, cond.field)
        return None if value is None else value not in cond.values
    if isinstance(cond, IsNull):
        return _value(record, cond.field) is None
    if isinstance(cond, NotNull):
        return _value(record, cond.field) is not None
    if isinstance(cond, HasAny):
        value = getattr(record, cond.field)
        if value is None:
            return None
        present = {_plain(v) for v in value}
        return any(v in present for v in cond.values)
    if isinstance(cond, TextMatch):
        needle = cond.text.lower()  # str.lower, as the SQL stores' lower()
        found: bool | None = False
        for field in cond.fields:
            value = getattr(record, field)
            if value is not None and needle in str(value).lower():
                return True
        return found
    if isinstance(cond, And):
        result: bool | None = True
        for sub in cond.conds:
            r = matches(record, sub)
            if r is False:
                return False
            if r is None:
                result = None
        return result
    if isinstance(cond, Or):
        result = False
        for sub in cond.conds:
            r = matches(record, sub)
            if r is True:
                return True
            if r is None:
                result = None
        return result
    if isinstance(cond, Not):
        r = matches(record, cond.cond)
        return None if r is None else not r
    raise TypeError(f"unknown condition {cond!r}")


def sort_key(record: Any, order: Order) -> tuple[int, Any]:
    """A key sorting missing values first (ascending), as the SQL stores do."""
    value = _value(record, order.field)
    return (0, 0) if value is None else (1, value)


def _fields_of(cond: Cond) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Each (field, compared values) that ``cond`` names, depth first."""
    if isinstance(cond, And | Or):
        for sub in cond.conds:
            yield from _fields_of(sub)
    elif isinstance(cond, Not):
        yield from _fields_of(cond.cond)
    elif isinstance(cond, TextMatch):
        for field in cond.fields:
            yield field, ()
    elif isinstance(cond, In | NotIn | HasAny):
        yield cond.field, cond.values
    elif isinstance(cond, IsNull | NotNull):
        yield cond.field, ()
    elif isinstance(cond, Eq | Ne | Gt | Gte | Lt | Lte):
        yield cond.field, (cond.value,)
    else:
        raise TypeError(f"unknown condition {cond!r}")


def check_query(
    entity: str, fields: Container[str], where: Cond | None, order_by: Iterable[Order] = ()
) -> None:
    """Refuse a query a SQL store would refuse, with the same error.

    A store that evaluates conditions itself (the in-memory one) calls this
    first, so every store raises the same error for the same bad query.

    Args:
        entity: the repository's name, for the message.
        fields: the record type's field names.
        where: the condition, or None.
        order_by: the orders.

    Raises:
        ValidationError: a field the record type does not have (path: the
            field, code ``unknown_field``), or a naive datetime compared
            (code ``invalid_type``).
    """
    named = [] if where is None else list(_fields_of(where))
    named.extend((order.field, ()) for order in order_by)
    for field, values in named:
        if field not in fields:
            raise ValidationError.single(field, f"{entity} has no field {field!r}", "unknown_field")
        for value in values:
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValidationError.single(
                    "", f"the store takes aware UTC datetimes, got {value!r}", "invalid_type"
                )
