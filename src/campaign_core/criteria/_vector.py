"""The vectorized evaluator: the tree over numpy columns, one boolean mask per node.

Three-valued logic without a third array: each node is evaluated for a
*polarity*. ``positive`` computes where the node is TRUE, ``negative`` where it
is FALSE; where neither holds it is unknown. ``not`` swaps the polarity,
``all`` is AND of TRUE masks / OR of FALSE masks, ``any`` the reverse (Kleene
logic, the same as SQL), and a leaf is TRUE/FALSE only where its value is
known. The result is the root's TRUE mask.

The columns' conversion is in ``_vector_columns``, the pandas entry point
(:func:`evaluate_dataframe`) in ``_vector_frame``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeAlias

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
from campaign_core.criteria._runtime import to_ms
from campaign_core.criteria._vector_columns import (
    _NAT,
    BoolArray,
    EventColumns,
    _bool,
    _Col,
    _isin_str,
    _lenient_column,
    _split_mask,
    _strict_column,
)
from campaign_core.errors import ValidationError

__all__ = ["EventColumns", "evaluate_columns"]

_INT64_MAX = np.iinfo(np.int64).max


_MS = timedelta(milliseconds=1)


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
