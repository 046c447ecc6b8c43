"""The vectorized evaluator's input: fans' columns and events as numpy arrays, in evaluation form.

Missing values in columns: NaN (numbers), NaT (datetimes), ``None`` (object
columns) or a masked entry (``numpy.ma``), for any type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._runtime import MISSING, coerce_lenient, coerce_strict
from campaign_core.errors import ValidationError

__all__ = ["EventColumns"]

BoolArray: TypeAlias = npt.NDArray[np.bool_]


_NAT = np.iinfo(np.int64).min


_MAX_UNICODE_LENGTH = 256


@attrs.frozen(eq=False)
class EventColumns:
    """Fan events as parallel arrays (one entry per event).

    Attributes:
        fan_index: the row of the fan each event belongs to (integers in ``[0, n)``).
        name: event names (a str or object array).
        occurred_at: when (``datetime64`` of any unit, read as UTC; or an object
            array of aware datetimes); no missing values.
        value: the events' numeric values (float, NaN when missing), or ``None``.
        properties: property name -> array of the events' values for it
            (``None``/NaN/masked when an event lacks it).
    """

    fan_index: Any
    name: Any
    occurred_at: Any
    value: Any = None
    properties: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class _Col:
    """A column in evaluation form.

    NUMBER: float64 with NaN; DATETIME: datetime64[ms] with NaT; BOOLEAN: bool;
    STRING/ENUM: str (U) or object array of str; STRING_LIST: object array of
    tuples. ``present`` is False where the value is missing (``None`` = all
    present; NUMBER/DATETIME encode missing in the values themselves).
    """

    type: FieldType
    values: npt.NDArray[Any]
    present: BoolArray | None = None
    members: tuple[str, ...] = ()

    def known(self) -> BoolArray:
        if self.type is FieldType.NUMBER:
            return _bool(~np.isnan(self.values))
        if self.type is FieldType.DATETIME:
            return _bool(~np.isnat(self.values))
        known = self.present if self.present is not None else np.ones(len(self.values), bool)
        if self.type is FieldType.ENUM:
            return known & _isin_str(self.values, self.members)
        return known


def _bool(mask: object) -> BoolArray:
    return np.asarray(mask, dtype=np.bool_)


def _isin_str(values: Any, options: tuple[str, ...] | frozenset[str]) -> BoolArray:
    options = tuple(options)
    if values.dtype.kind == "U" and len(options) <= 8:
        out = np.zeros(len(values), bool)
        for option in options:
            out |= values == option
        return out
    if values.dtype.kind == "U":
        # The options keep their own width: casting them to the column's would truncate.
        return np.isin(values, np.array(options, dtype=str))
    lookup = frozenset(options)
    return np.fromiter((v in lookup for v in values), bool, len(values))


def _split_mask(array: Any) -> tuple[np.ndarray[Any, Any], BoolArray | None]:
    if isinstance(array, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(array)
        return np.asarray(array.data), (~mask if mask.any() else None)
    return np.asarray(array), None


def _strict_column(array: Any, spec: FieldSpec, path: str) -> _Col:
    """Read a fan column as ``spec`` says; wrong types raise like the per-fan evaluator."""
    data, present = _split_mask(array)
    if data.ndim != 1:
        raise ValidationError.single(path, "a column must be one-dimensional", "invalid_type")
    kind = data.dtype.kind
    type_ = spec.type
    if type_ is FieldType.NUMBER and kind in "iuf":
        values = data.astype(np.float64, copy=present is not None)
        if present is not None:
            values[~present] = np.nan
        return _Col(type_, values)
    if type_ is FieldType.DATETIME and kind == "M":
        values = data.astype("datetime64[ms]", copy=present is not None)
        if present is not None:
            values[~present] = np.datetime64("NaT")
        return _Col(type_, values)
    if type_ is FieldType.BOOLEAN and kind == "b":
        return _Col(type_, data, present)
    if type_ in (FieldType.STRING, FieldType.ENUM) and kind == "U":
        return _Col(type_, data, present, spec.members)
    if kind == "f" and (present is None or not present.any()) and np.isnan(data).all():
        # An all-NaN float column (what pandas makes of an empty one) is all missing.
        data, present = np.full(len(data), None, dtype=object), None
        kind = "O"
    if kind not in "OU":
        raise ValidationError.single(
            path,
            f"a {type_.value} column cannot have dtype {data.dtype} (use an object array)",
            "invalid_type",
        )
    # Object (or str for datetimes) columns: element by element, with the per-fan rules.
    items = data.tolist()
    if present is not None:
        items = [item if ok else None for item, ok in zip(items, present.tolist())]
    coerced = [coerce_strict(item, spec, f"{path}[{index}]") for index, item in enumerate(items)]
    return _from_coerced(coerced, type_, spec.members)


def _from_coerced(coerced: list[Any], type_: FieldType, members: tuple[str, ...]) -> _Col:
    if type_ is FieldType.NUMBER:
        return _Col(
            type_, np.array([np.nan if v is MISSING else v for v in coerced], dtype=np.float64)
        )
    if type_ is FieldType.DATETIME:
        ms = np.array([_NAT if v is MISSING else v for v in coerced], dtype=np.int64)
        return _Col(type_, ms.view("datetime64[ms]"))
    present = np.array([v is not MISSING for v in coerced], dtype=bool)
    if type_ is FieldType.BOOLEAN:
        return _Col(type_, np.array([v is True for v in coerced], dtype=bool), present)
    if type_ is FieldType.STRING_LIST:
        values = np.empty(len(coerced), dtype=object)
        values[:] = [() if v is MISSING else v for v in coerced]
        return _Col(type_, values, present)
    strings = ["" if v is MISSING else v for v in coerced]
    return _Col(type_, _string_array(strings), present, members)


def _string_array(strings: list[str]) -> Any:
    """A U array when that is exact and not huge, else an object array."""
    longest = max((len(s) for s in strings), default=1)
    # numpy's str dtype drops trailing NULs, which would change the values.
    if longest <= _MAX_UNICODE_LENGTH and not any(s.endswith("\x00") for s in strings):
        return np.array(strings, dtype=f"U{max(longest, 1)}")
    values = np.empty(len(strings), dtype=object)
    values[:] = strings
    return values


def _lenient_column(array: Any, kind: FieldType | None, n: int) -> _Col:
    """Read an event property as ``kind``; values of other types are missing."""
    if array is None:
        array = np.full(n, None, dtype=object)
    data, present = _split_mask(array)
    dkind = data.dtype.kind
    if kind is FieldType.NUMBER and dkind in "iuf":
        values = data.astype(np.float64, copy=True)
        if present is not None:
            values[~present] = np.nan
        return _Col(FieldType.NUMBER, values)
    if kind is FieldType.STRING and dkind == "U":
        return _Col(FieldType.STRING, data, present)
    if kind is FieldType.BOOLEAN and dkind == "b":
        return _Col(FieldType.BOOLEAN, data, present)
    if kind is None and dkind != "O":
        exists = present if present is not None else np.ones(n, bool)
        if dkind == "f":
            exists = exists & ~np.isnan(data)
        elif dkind in "mM":
            exists = exists & ~np.isnat(data)
        return _Col(FieldType.BOOLEAN, np.ones(n, bool), exists)
    if dkind != "O":
        # An array of another type: no event has a value of the wanted type.
        if kind is FieldType.NUMBER:
            return _Col(FieldType.NUMBER, np.full(n, np.nan))
        if kind is FieldType.STRING:
            return _Col(FieldType.STRING, np.full(n, "", dtype="U1"), np.zeros(n, bool))
        return _Col(FieldType.BOOLEAN, np.zeros(n, bool), np.zeros(n, bool))
    items = data.tolist()
    if present is not None:
        items = [item if ok else None for item, ok in zip(items, present.tolist())]
    coerced = [coerce_lenient(item, kind) for item in items]
    if kind is None:
        return _Col(
            FieldType.BOOLEAN, np.ones(n, bool), np.array([v is not MISSING for v in coerced], bool)
        )
    return _from_coerced(coerced, kind, ())
