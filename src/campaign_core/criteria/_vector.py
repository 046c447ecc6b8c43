"""The vectorized evaluator: the tree over numpy columns, one boolean mask per node.

Three-valued logic without a third array: each node is evaluated for a
*polarity*. ``positive`` computes where the node is TRUE, ``negative`` where it
is FALSE; where neither holds it is unknown. ``not`` swaps the polarity,
``all`` is AND of TRUE masks / OR of FALSE masks, ``any`` the reverse (Kleene
logic, the same as SQL), and a leaf is TRUE/FALSE only where its value is
known. The result is the root's TRUE mask.

Missing values in columns: NaN (numbers), NaT (datetimes), ``None`` (object
columns) or a masked entry (``numpy.ma``), for any type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core.clock import Clock
from campaign_core.criteria._build import EVENT_VALUE_FIELD
from campaign_core.criteria._evaluate import (
    CompiledCriteria,
    _literal_kind,
    _now,
    compile_criteria,
    enum_accepts,
)
from campaign_core.criteria._fields import DAY_MS, FieldRegistry, FieldSource, FieldSpec, FieldType
from campaign_core.criteria._model import (
    AllOf,
    AnyOf,
    Condition,
    Criteria,
    EventCondition,
    InSegment,
    Measure,
    Node,
    Not,
    Op,
    RelativeTime,
)
from campaign_core.criteria._regex import compile_safe_regex
from campaign_core.criteria._runtime import MISSING, coerce_lenient, coerce_strict, to_ms
from campaign_core.errors import MissingDependencyError, ValidationError

__all__ = ["EventColumns", "evaluate_columns", "evaluate_dataframe"]

BoolArray: TypeAlias = npt.NDArray[np.bool_]
_NAT = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max
_MS = timedelta(milliseconds=1)
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


# -- column conversion -------------------------------------------------------------------


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


# -- contexts ---------------------------------------------------------------------------------


class _Events:
    def __init__(self, events: EventColumns, n: int) -> None:
        fan_index = np.asarray(events.fan_index)
        if fan_index.ndim != 1 or (fan_index.size and fan_index.dtype.kind not in "iu"):
            raise ValidationError.single(
                "events.fan_index", "fan_index must be a 1-d integer array", "invalid_type"
            )
        count = len(fan_index)
        self.fan_index = fan_index.astype(np.int64, copy=False)
        if count and (self.fan_index.min() < 0 or self.fan_index.max() >= n):
            raise ValidationError.single(
                "events.fan_index", f"fan_index must lie in [0, {n})", "out_of_range"
            )
        names, names_present = _split_mask(events.name)
        if len(names) != count or (names_present is not None and not names_present.all()):
            raise ValidationError.single(
                "events.name", "name must give every event a name", "invalid_value"
            )
        self.names = names
        occurred = _strict_column(
            events.occurred_at,
            FieldSpec(name="occurred_at", type=FieldType.DATETIME),
            "events.occurred_at",
        )
        if len(occurred.values) != count or np.isnat(occurred.values).any():
            raise ValidationError.single(
                "events.occurred_at", "occurred_at must give every event a time", "invalid_value"
            )
        self.occurred = occurred.values
        self.occurred_ms = occurred.values.view(np.int64)
        if events.value is None:
            self.value = np.full(count, np.nan)
        else:
            self.value = _strict_column(
                events.value, FieldSpec(name="value", type=FieldType.NUMBER), "events.value"
            ).values
            if len(self.value) != count:
                raise ValidationError.single("events.value", "value has the wrong length")
        self.properties = dict(events.properties)
        for key, column in self.properties.items():
            if len(column) != count:
                raise ValidationError.single(
                    f"events.properties.{key}", "a property column has the wrong length"
                )
        self.count = count
        self._name_masks: dict[str, BoolArray] = {}

    def named(self, name: str) -> BoolArray:
        mask = self._name_masks.get(name)
        if mask is None:
            mask = np.asarray(self.names == name, dtype=bool)
            if mask.shape != (self.count,):  # object arrays of non-str compare to a scalar
                mask = np.array([n == name for n in self.names.tolist()], dtype=bool)
            self._name_masks[name] = mask
        return mask


class _FanScope:
    def __init__(
        self,
        columns: Mapping[str, Any],
        registry: FieldRegistry,
        n: int,
        now_ms: int,
        events: _Events | None,
        segments: Mapping[str, Any] | None,
    ) -> None:
        self.columns = columns
        self.registry = registry
        self.n = n
        self.now_ms = now_ms
        self.now64 = np.datetime64(now_ms, "ms")
        self.events = events
        self.segments = segments
        self._cache: dict[str, _Col] = {}

    def column(self, node: Condition, path: str) -> _Col:
        spec = self.registry.resolve(node.field, path=f"{path}.field")
        return self.field(spec, path)

    def field(self, spec: FieldSpec, path: str) -> _Col:
        cached = self._cache.get(spec.name)
        if cached is not None:
            return cached
        if spec.source is FieldSource.DERIVED:
            assert spec.depends_on is not None
            source = self.field(self.registry.resolve(spec.depends_on), path)
            if spec.type is FieldType.BOOLEAN:
                col = _Col(FieldType.BOOLEAN, source.values == "active", source.known())
            else:
                ms = source.values.view(np.int64)
                days = ((self.now_ms - ms) // DAY_MS).astype(np.float64)
                days[np.isnat(source.values)] = np.nan
                col = _Col(FieldType.NUMBER, days)
        else:
            raw = self.columns.get(spec.name)
            if raw is None:
                raise ValidationError.single(
                    f"columns.{spec.name}",
                    f"the criteria read {spec.name!r} ({path}) but there is no such column",
                    "required",
                )
            col = _strict_column(raw, spec, f"columns.{spec.name}")
            if len(col.values) != self.n:
                raise ValidationError.single(
                    f"columns.{spec.name}", f"expected {self.n} rows, got {len(col.values)}"
                )
        self._cache[spec.name] = col
        return col


class _EventScope:
    def __init__(self, events: _Events, now_ms: int) -> None:
        self.events = events
        self.n = events.count
        self.now_ms = now_ms
        self.now64 = np.datetime64(now_ms, "ms")
        self._cache: dict[tuple[str, FieldType | None], _Col] = {}

    def column(self, node: Condition, path: str) -> _Col:
        if node.field == EVENT_VALUE_FIELD:
            return _Col(FieldType.NUMBER, self.events.value)
        kind = _literal_kind(node)
        key = (node.field, kind)
        cached = self._cache.get(key)
        if cached is None:
            name = node.field.removeprefix("properties.")
            cached = _lenient_column(self.events.properties.get(name), kind, self.n)
            self._cache[key] = cached
        return cached


_Scope: TypeAlias = _FanScope | _EventScope


# -- evaluation -------------------------------------------------------------------------------


def _eval(node: Node, path: str, scope: _Scope, positive: bool) -> BoolArray:
    if isinstance(node, AllOf | AnyOf):
        # TRUE of all = AND of TRUE; FALSE of all = OR of FALSE; any is the dual.
        conjunction = isinstance(node, AllOf) == positive
        key = "all" if isinstance(node, AllOf) else "any"
        acc = np.full(scope.n, conjunction, dtype=bool)
        for index, child in enumerate(node.children):
            mask = _eval(child, f"{path}.{key}[{index}]", scope, positive)
            if conjunction:
                acc &= mask
                if not acc.any():
                    break
            else:
                acc |= mask
        return acc
    if isinstance(node, Not):
        return _eval(node.child, f"{path}.not", scope, not positive)
    if isinstance(node, InSegment):
        assert isinstance(scope, _FanScope)
        member = _segment_mask(node.segment_id, path, scope)
        return member if positive else ~member
    if isinstance(node, EventCondition):
        assert isinstance(scope, _FanScope)
        return _leaf(_measure(node, path, scope), node.op, node.value, scope, positive)
    return _leaf(scope.column(node, path), node.op, node.value, scope, positive)


def _segment_mask(segment_id: str, path: str, scope: _FanScope) -> BoolArray:
    if scope.segments is None or segment_id not in scope.segments:
        raise ValidationError.single(
            f"{path}.in_segment",
            f"the criteria reference segment {segment_id!r}: pass its membership mask in segments=",
            "required",
        )
    member = np.asarray(scope.segments[segment_id])
    if member.dtype != np.bool_ or member.shape != (scope.n,):
        raise ValidationError.single(
            f"segments.{segment_id}", f"expected a boolean array of {scope.n} rows", "invalid_type"
        )
    return member


def _measure(node: EventCondition, path: str, scope: _FanScope) -> _Col:
    n = scope.n
    events = scope.events
    if events is None or events.count == 0:
        if node.measure in (Measure.COUNT, Measure.SUM):
            return _Col(FieldType.NUMBER, np.zeros(n))
        return _Col(FieldType.DATETIME, np.full(n, _NAT, dtype=np.int64).view("datetime64[ms]"))
    selected = events.named(node.event)
    if node.within is not None:
        cutoff = scope.now_ms - node.within // _MS
        selected = selected & (events.occurred_ms >= cutoff)
    if node.where is not None and selected.any():
        selected = selected & _eval(
            node.where, f"{path}.where", _EventScope(events, scope.now_ms), True
        )
    fans = events.fan_index[selected]
    if node.measure is Measure.COUNT:
        return _Col(FieldType.NUMBER, np.bincount(fans, minlength=n).astype(np.float64))
    if node.measure is Measure.SUM:
        weights = events.value[selected]
        # Missing values add nothing; bincount adds in event order, like the per-fan loop.
        weights = np.where(np.isnan(weights), 0.0, weights)
        return _Col(FieldType.NUMBER, np.bincount(fans, weights=weights, minlength=n))
    times = events.occurred_ms[selected]
    if node.measure is Measure.LAST_AT:
        out = np.full(n, _NAT, dtype=np.int64)
        np.maximum.at(out, fans, times)
    else:
        out = np.full(n, _INT64_MAX, dtype=np.int64)
        np.minimum.at(out, fans, times)
        out[out == _INT64_MAX] = _NAT
    return _Col(FieldType.DATETIME, out.view("datetime64[ms]"))


def _instant64(value: Any, scope: _Scope) -> np.datetime64:
    if isinstance(value, RelativeTime):
        return np.datetime64(scope.now_ms + value.offset // _MS, "ms")
    assert isinstance(value, datetime)
    return np.datetime64(to_ms(value), "ms")


def _ordered(col: _Col, op: Op, value: Any, scope: _Scope, positive: bool) -> BoolArray:
    """Numbers and datetimes: NaN/NaT compare false, so each polarity is one comparison."""
    x: npt.NDArray[Any] = col.values
    if col.type is FieldType.DATETIME:
        if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
            cutoff = scope.now64 - np.timedelta64(value // _MS, "ms")
            inside = op is Op.WITHIN_LAST
            return (x >= cutoff) if inside == positive else (x < cutoff)
        convert: Callable[[Any], Any] = lambda v: _instant64(v, scope)  # noqa: E731
    else:
        convert = float
    if op is Op.BETWEEN:
        low, high = convert(value[0]), convert(value[1])
        if positive:
            return _bool((x >= low) & (x <= high))
        return _bool((x < low) | (x > high))
    if op in (Op.IN, Op.NOT_IN):
        hit = np.isin(x, np.array([convert(v) for v in value]))
        if (op is Op.IN) == positive:
            return hit
        return ~hit & col.known()
    c = convert(value)
    if op is Op.NEQ:
        op, positive = Op.EQ, not positive
    if op is Op.EQ:
        return _bool((x == c) if positive else ((x < c) | (x > c)))
    if op in (Op.GT, Op.AFTER):
        return _bool((x > c) if positive else (x <= c))
    if op is Op.GTE:
        return _bool((x >= c) if positive else (x < c))
    if op in (Op.LT, Op.BEFORE):
        return _bool((x < c) if positive else (x >= c))
    assert op is Op.LTE
    return _bool((x <= c) if positive else (x > c))


def _leaf(col: _Col, op: Op, value: Any, scope: _Scope, positive: bool) -> BoolArray:
    return LEAVES[op][col.type](col, op, value, scope, positive)


def _existence(col: _Col, op: Op, value: Any, scope: _Scope, positive: bool) -> BoolArray:
    known = col.known()
    return known if (op is Op.IS_SET) == positive else ~known


def _enum_leaf(col: _Col, op: Op, value: Any, scope: _Scope, positive: bool) -> BoolArray:
    accepted = enum_accepts(
        FieldSpec(name="", type=FieldType.ENUM, members=col.members, ordered=True), op, value
    )
    hit = _isin_str(col.values, accepted)
    if positive:
        # Accepted values are members, so a hit is known unless masked out.
        return hit if col.present is None else hit & col.present
    return col.known() & ~hit


def _masked(col: _Col, op: Op, value: Any, scope: _Scope, positive: bool) -> BoolArray:
    """Strings, booleans and string lists: the predicate, then rows without a value out."""
    cond = _condition(col, op, value)
    if positive:
        return cond if col.present is None else cond & col.present
    return ~cond if col.present is None else ~cond & col.present


def _condition(col: _Col, op: Op, value: Any) -> BoolArray:
    """The predicate on every row (rows with missing values are masked out by the caller)."""
    x: npt.NDArray[Any] = col.values
    if col.type is FieldType.BOOLEAN:
        target = bool(value)
        return _bool((x == target) if op is Op.EQ else (x != target))
    if col.type is FieldType.STRING_LIST:
        items = x.tolist()
        if op is Op.CONTAINS:
            return np.fromiter((value in v for v in items), bool, len(items))
        options = frozenset(value)
        hit = np.fromiter((any(i in options for i in v) for v in items), bool, len(items))
        return hit if op is Op.IN else ~hit
    unicode = x.dtype.kind == "U"
    if op is Op.EQ:
        return np.asarray(x == value, dtype=bool)
    if op is Op.NEQ:
        return np.asarray(x != value, dtype=bool)
    if op in (Op.IN, Op.NOT_IN):
        hit = _isin_str(x, frozenset(value))
        return hit if op is Op.IN else ~hit
    if unicode and op is Op.CONTAINS:
        return np.asarray(np.strings.find(x, value) >= 0)
    if unicode and op is Op.STARTS_WITH:
        return np.asarray(np.strings.startswith(x, value))
    if unicode and op is Op.ENDS_WITH:
        return np.asarray(np.strings.endswith(x, value))
    # Python's own string functions, so the per-fan evaluator's semantics hold exactly.
    test: Callable[[str], bool]
    if op is Op.CONTAINS:
        test = lambda v: value in v  # noqa: E731
    elif op is Op.STARTS_WITH:
        test = lambda v: v.startswith(value)  # noqa: E731
    elif op is Op.ENDS_WITH:
        test = lambda v: v.endswith(value)  # noqa: E731
    elif op is Op.ICONTAINS:
        folded = value.lower()
        test = lambda v: folded in v.lower()  # noqa: E731
    else:
        pattern = compile_safe_regex(value)
        test = pattern.search
    items = x.tolist()
    return np.fromiter((test(v) for v in items), bool, len(items))


Leaf: TypeAlias = Callable[[_Col, Op, Any, _Scope, bool], BoolArray]
"""``leaf(column, op, value, scope, positive)``: the rows where the leaf (or its negation) holds."""

_N, _S, _B, _D, _L, _E = (
    FieldType.NUMBER,
    FieldType.STRING,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.STRING_LIST,
    FieldType.ENUM,
)
_EQUALITY: Mapping[FieldType, Leaf] = {
    _N: _ordered,
    _D: _ordered,
    _S: _masked,
    _B: _masked,
    _E: _enum_leaf,
}
_ORDER: Mapping[FieldType, Leaf] = {_N: _ordered, _D: _ordered, _E: _enum_leaf}
_MEMBERSHIP: Mapping[FieldType, Leaf] = {_N: _ordered, _S: _masked, _L: _masked, _E: _enum_leaf}
_EXISTENCE: Mapping[FieldType, Leaf] = dict.fromkeys(FieldType, _existence)

#: The vectorized back end's operator table: operator -> column type -> leaf
#: (see ``campaign_core.criteria._operators``).
LEAVES: Mapping[Op, Mapping[FieldType, Leaf]] = {
    Op.EQ: _EQUALITY,
    Op.NEQ: _EQUALITY,
    Op.GT: _ORDER,
    Op.GTE: _ORDER,
    Op.LT: _ORDER,
    Op.LTE: _ORDER,
    Op.BETWEEN: _ORDER,
    Op.IN: _MEMBERSHIP,
    Op.NOT_IN: _MEMBERSHIP,
    Op.CONTAINS: {_S: _masked, _L: _masked},
    Op.ICONTAINS: {_S: _masked},
    Op.STARTS_WITH: {_S: _masked},
    Op.ENDS_WITH: {_S: _masked},
    Op.REGEX: {_S: _masked},
    Op.IS_SET: _EXISTENCE,
    Op.IS_NOT_SET: _EXISTENCE,
    Op.BEFORE: {_D: _ordered},
    Op.AFTER: {_D: _ordered},
    Op.WITHIN_LAST: {_D: _ordered},
    Op.NOT_WITHIN_LAST: {_D: _ordered},
}


# -- public -----------------------------------------------------------------------------------


def evaluate_columns(
    criteria: Criteria | CompiledCriteria | object,
    columns: Mapping[str, Any],
    *,
    now: datetime | Clock,
    events: EventColumns | None = None,
    segments: Mapping[str, Any] | None = None,
    registry: FieldRegistry | None = None,
    length: int | None = None,
) -> BoolArray:
    """Evaluate criteria for many fans at once over numpy columns.

    Args:
        criteria: a :class:`Criteria`, a :class:`CompiledCriteria` or any input form.
        columns: field name (canonical, camelCase, ``traits.<name>`` or the bare
            trait name) -> 1-d array, one entry per fan. Missing values: NaN,
            NaT, ``None`` in object arrays, or masked entries. Datetimes are
            ``datetime64`` (UTC) or object arrays of aware datetimes. Columns the
            criteria do not read are ignored; derived fields are computed from
            their source column (``no_activity_days`` from ``last_activity_at``).
        now: the instant (or a clock) relative times resolve against.
        events: the fans' events (rows refer to fans by position), or ``None`` for
            no events.
        segments: segment id -> boolean membership array, for ``in_segment``.
        registry: the fields; built-ins when ``None`` (ignored for compiled criteria).
        length: the number of fans, needed only when there is no column.

    Returns:
        A boolean array: ``True`` for the fans that match (per-fan semantics exactly).

    Raises:
        ValidationError: invalid criteria; a needed column or segment missing; a
            column of the wrong type or length (path ``columns.<field>``); bad events.
    """
    compiled = (
        criteria
        if isinstance(criteria, CompiledCriteria)
        else compile_criteria(criteria, registry=registry)
    )
    registry = compiled.registry
    resolved: dict[str, Any] = {}
    sizes: set[int] = set()
    for key, array in columns.items():
        spec = registry.get(key) if isinstance(key, str) else None
        if spec is None:
            continue
        if spec.name in resolved and key != spec.name:
            continue  # the canonical spelling wins over an alias
        resolved[spec.name] = array
        sizes.add(len(array))
    if length is not None:
        sizes.add(length)
    if len(sizes) > 1:
        raise ValidationError.single("columns", f"columns have different lengths: {sorted(sizes)}")
    if not sizes:
        if segments:
            sizes.add(len(next(iter(segments.values()))))
        else:
            raise ValidationError.single(
                "length", "no column gives the number of fans: pass length=", "required"
            )
    n = sizes.pop()
    now_ms = to_ms(_now(now))
    prepared = None if events is None else _Events(events, n)
    scope = _FanScope(resolved, registry, n, now_ms, prepared, segments)
    return _eval(compiled.criteria.root, "root", scope, True)


def evaluate_dataframe(
    criteria: Criteria | CompiledCriteria | object,
    frame: Any,
    *,
    now: datetime | Clock,
    events: EventColumns | Any | None = None,
    segments: Mapping[str, Any] | None = None,
    registry: FieldRegistry | None = None,
    id_column: str | None = None,
) -> Any:
    """Evaluate criteria over a pandas DataFrame with one row per fan.

    Columns are named like fields (see :func:`evaluate_columns`); pandas missing
    values (NaN, NaT, None, ``pd.NA``) are missing; tz-aware datetime columns
    are converted to UTC, naive ones are read as UTC.

    Args:
        criteria: a :class:`Criteria`, a :class:`CompiledCriteria` or any input form.
        frame: the fans.
        now: the instant (or a clock).
        events: an :class:`EventColumns`, or a DataFrame with columns ``fan_id``
            (matching ``frame.index``, or ``frame[id_column]``), ``name``,
            ``occurred_at``, optional ``value``; any other column is an event
            property. Events of fans not in ``frame`` are ignored.
        segments: segment id -> boolean array or Series aligned with ``frame``.
        registry: the fields; built-ins when ``None``.
        id_column: the column of fan ids the events' ``fan_id`` refer to; the
            frame's index when ``None``. The ids must be unique.

    Returns:
        A boolean Series indexed like ``frame``, named ``matched``.

    Raises:
        MissingDependencyError: pandas is not installed (extra ``dataframes``).
        ValidationError: as :func:`evaluate_columns`.
    """
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError:  # pragma: no cover - pandas is installed in the test environment
        raise MissingDependencyError("dataframes", "pandas") from None
    compiled = (
        criteria
        if isinstance(criteria, CompiledCriteria)
        else compile_criteria(criteria, registry=registry)
    )
    columns = {
        str(name): _series_array(frame[name], pd)
        for name in frame.columns
        if isinstance(name, str) and compiled.registry.get(name) is not None
    }
    event_columns: EventColumns | None
    if events is None or isinstance(events, EventColumns):
        event_columns = events
    else:
        event_columns = _event_frame(events, frame, pd, id_column)
    masks: dict[str, Any] | None = None
    if segments is not None:
        masks = {}
        for key, member in segments.items():
            if isinstance(member, pd.Series):
                member = member.reindex(frame.index, fill_value=False)
            masks[key] = np.asarray(member, dtype=bool)
    result = evaluate_columns(
        compiled, columns, now=now, events=event_columns, segments=masks, length=len(frame)
    )
    return pd.Series(result, index=frame.index, name="matched")


def _series_array(series: Any, pd: Any) -> Any:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    if dtype.kind in "iufM" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf":
        return series.to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(dtype, pd.BooleanDtype):
        return np.ma.MaskedArray(
            series.to_numpy(dtype=bool, na_value=False), mask=series.isna().to_numpy()
        )
    if dtype.kind == "b":
        return series.to_numpy()
    values = series.astype(object)
    return values.where(series.notna(), None).to_numpy(dtype=object)


def _event_frame(events: Any, frame: Any, pd: Any, id_column: str | None) -> EventColumns:
    for column in ("fan_id", "name", "occurred_at"):
        if column not in events.columns:
            raise ValidationError.single(
                f"events.{column}", f"the events frame needs a {column!r} column", "required"
            )
    if id_column is None:
        ids = pd.Index(frame.index)
        where = "the frame's index"
    elif id_column in frame.columns:
        ids = pd.Index(frame[id_column].to_numpy())
        where = f"column {id_column!r}"
    else:
        raise ValidationError.single("id_column", f"no column {id_column!r}", "required")
    if not ids.is_unique or ids.hasnans:
        raise ValidationError.single(
            "id_column", f"fan ids ({where}) must be unique and present", "invalid_value"
        )
    positions = ids.get_indexer(events["fan_id"].to_numpy())
    keep = positions >= 0
    kept = events[keep]
    properties = {
        str(column): _series_array(kept[column], pd)
        for column in kept.columns
        if column not in ("fan_id", "name", "occurred_at", "value")
    }
    return EventColumns(
        fan_index=positions[keep],
        name=kept["name"].astype(object).to_numpy(dtype=object),
        occurred_at=_series_array(kept["occurred_at"], pd),
        value=_series_array(kept["value"], pd) if "value" in kept.columns else None,
        properties=properties,
    )
