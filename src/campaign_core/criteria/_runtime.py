"""Reading values at evaluation time: the one definition of "missing" and of each type.

Both evaluators read fan data through these functions (the vectorized one
element by element for object columns), so they agree on what a value is:

- missing: the key is absent, ``None``, a float NaN, a NaT, a masked entry, or
  an enum value outside the field's members;
- numbers are compared as float64; datetimes as integer milliseconds since the
  epoch (UTC, floored); enums by member (and rank when ordered).

Fan fields are read *strictly*: a value of the wrong type (a string for a
number, a naive datetime) raises :class:`ValidationError`. Event properties are
untyped, so they are read *leniently*: a value of another type than the
condition's literal is missing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._model import RelativeTime, Scalar
from campaign_core.errors import ValidationError

__all__ = [
    "MISSING",
    "coerce_lenient",
    "coerce_strict",
    "instant_ms",
    "resolve_ms",
    "to_ms",
]


class _Missing:
    """The marker for an unknown value."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, floored."""
    return (value - EPOCH) // _MS


def instant_ms(value: object, path: str) -> int:
    """The epoch milliseconds of ``value`` (aware datetime or ISO text with an offset).

    Raises:
        ValidationError: naive datetimes, other types, unparsable text.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError.single(
                path, "expected an ISO-8601 datetime with a time zone", "invalid_type"
            ) from None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValidationError.single(path, "expected a datetime, got NaT", "invalid_value")
        return int(value.astype("datetime64[ms]").astype(np.int64))
    if not isinstance(value, datetime):
        raise ValidationError.single(
            path, f"expected a datetime, got {type(value).__name__}", "invalid_type"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(
            path, "a datetime must have a time zone (naive datetimes are ambiguous)"
        )
    return to_ms(value)


def resolve_ms(value: Scalar, now_ms: int) -> int:
    """Epoch milliseconds of a datetime literal, resolving relative times against ``now_ms``."""
    if isinstance(value, RelativeTime):
        return now_ms + value.offset // _MS
    assert isinstance(value, datetime)
    return to_ms(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_missing_scalar(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating) and math.isnan(value):
        return True
    return bool(isinstance(value, np.datetime64) and np.isnat(value))


def coerce_strict(value: object, spec: FieldSpec, path: str) -> Any:
    """A fan field's value in its evaluation form, or :data:`MISSING`.

    Forms: NUMBER -> float; DATETIME -> int ms; BOOLEAN -> bool; STRING -> str;
    ENUM -> str (a member; other values are missing); STRING_LIST -> tuple of str.

    Raises:
        ValidationError: the value has the wrong type for the field (``path``).
    """
    if value is MISSING or _is_missing_scalar(value):
        return MISSING
    type_ = spec.type
    if type_ is FieldType.NUMBER:
        if not _is_number(value):
            raise ValidationError.single(
                path, f"expected a number, got {type(value).__name__}", "invalid_type"
            )
        return float(value)  # type: ignore[arg-type]
    if type_ is FieldType.STRING or type_ is FieldType.ENUM:
        if not isinstance(value, str):
            raise ValidationError.single(
                path, f"expected a string, got {type(value).__name__}", "invalid_type"
            )
        if type_ is FieldType.ENUM and value not in spec.members:
            return MISSING
        return str(value)
    if type_ is FieldType.BOOLEAN:
        if not isinstance(value, bool | np.bool_):
            raise ValidationError.single(
                path, f"expected true or false, got {type(value).__name__}", "invalid_type"
            )
        return bool(value)
    if type_ is FieldType.DATETIME:
        return instant_ms(value, path)
    if isinstance(value, str) or not isinstance(value, list | tuple | np.ndarray):
        raise ValidationError.single(
            path, f"expected a list of strings, got {type(value).__name__}", "invalid_type"
        )
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValidationError.single(
                f"{path}[{index}]", f"expected a string, got {type(item).__name__}", "invalid_type"
            )
    return items


def coerce_lenient(value: object, kind: FieldType | None) -> Any:
    """An event property's value read as ``kind``; :data:`MISSING` when absent or of
    another type. ``kind`` ``None`` (existence tests) accepts any present value."""
    if value is MISSING or _is_missing_scalar(value):
        return MISSING
    if kind is None:
        return value
    if kind is FieldType.NUMBER:
        return float(value) if _is_number(value) else MISSING  # type: ignore[arg-type]
    if kind is FieldType.STRING:
        return str(value) if isinstance(value, str) else MISSING
    if kind is FieldType.BOOLEAN:
        return bool(value) if isinstance(value, bool | np.bool_) else MISSING
    return MISSING
