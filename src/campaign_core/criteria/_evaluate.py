"""The per-fan evaluator: the tree compiled once into one predicate, with ``explain``.

Compilation makes a plan (each leaf's getter and test) and, from it, one
generated Python function that answers "is the root TRUE?" with two-valued
predicates per polarity and Python's short-circuit ``and``/``or`` (see the code
generation section). ``explain`` walks the plan instead, evaluating every node
to ``True``, ``False`` or ``None`` (unknown) with the same getters and tests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import attrs

from campaign_core.clock import Clock, ensure_utc
from campaign_core.criteria._build import EVENT_VALUE_FIELD
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
    Scalar,
    format_datetime,
    node_to_json,
    value_to_json,
)
from campaign_core.criteria._regex import compile_safe_regex
from campaign_core.criteria._runtime import (
    EPOCH,
    MISSING,
    coerce_lenient,
    coerce_strict,
    instant_ms,
    resolve_ms,
    to_ms,
)
from campaign_core.errors import ValidationError

__all__ = [
    "CompiledCriteria",
    "Explanation",
    "SegmentMembership",
    "TraceNode",
    "compile_criteria",
    "evaluate",
    "explain",
]

SegmentMembership: TypeAlias = Container[str] | Callable[[str], bool]
"""The segments a fan belongs to: a container of segment ids, or a predicate."""

_MS = timedelta(milliseconds=1)


class _Event:
    __slots__ = ("ms", "properties", "value")

    def __init__(self, ms: int, value: Any, properties: Mapping[str, Any]) -> None:
        self.ms = ms
        self.value = value
        self.properties = properties


class _ObjectView:
    """Reads an object's attributes as if it were a mapping (an attrs ``Fan``)."""

    __slots__ = ("_obj",)

    def __init__(self, obj: object) -> None:
        self._obj = obj

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self._obj, key, default)


class _Ctx:
    """What an evaluation needs besides the fan: now, the events, the memberships."""

    __slots__ = ("_by_name", "_events_raw", "now_ms", "segments")

    def __init__(
        self,
        events: Iterable[Any],
        now_ms: int,
        segments: SegmentMembership | None,
    ) -> None:
        self.now_ms = now_ms
        self.segments = segments
        self._events_raw = events
        self._by_name: dict[str, list[_Event]] | None = None

    def events(self, name: str) -> list[_Event]:
        if self._by_name is None:
            self._by_name = _group_events(self._events_raw)
        return self._by_name.get(name, [])


def _field_of(record: Any, *names: str) -> Any:
    if isinstance(record, Mapping):
        for name in names:
            if name in record:
                return record[name]
        return None
    for name in names:
        value = getattr(record, name, MISSING)
        if value is not MISSING:
            return value
    return None


def _group_events(events: Iterable[Any]) -> dict[str, list[_Event]]:
    grouped: dict[str, list[_Event]] = {}
    for index, raw in enumerate(events):
        path = f"events[{index}]"
        name = _field_of(raw, "name")
        if not isinstance(name, str):
            raise ValidationError.single(f"{path}.name", "an event needs a name", "invalid_type")
        occurred = _field_of(raw, "occurred_at", "occurredAt")
        ms = instant_ms(occurred, f"{path}.occurred_at")
        value = coerce_strict(
            _field_of(raw, "value"),
            FieldSpec(name="value", type=FieldType.NUMBER),
            f"{path}.value",
        )
        properties = _field_of(raw, "properties")
        if properties is None:
            properties = {}
        elif not isinstance(properties, Mapping):
            raise ValidationError.single(
                f"{path}.properties", "properties must be a mapping", "invalid_type"
            )
        grouped.setdefault(name, []).append(_Event(ms, value, properties))
    return grouped


# -- compiled plan -------------------------------------------------------------------------

Getter: TypeAlias = Callable[[Any, Any], Any]
"""``get(record, ctx)``: the value in evaluation form, or MISSING (record: fan or event)."""
Test: TypeAlias = Callable[[Any, Any], bool]
"""``test(value, ctx)`` for a present value."""
Predicate: TypeAlias = Callable[[Any, Any], bool]
#: Makes the test of one operator and value on a field: ``factory(spec, op, value)``.
TestFactory: TypeAlias = Callable[[FieldSpec, Op, Any], Test]


class _Plan:
    """A compiled node: leaves hold their getter and test; groups their children."""

    __slots__ = (
        "children",
        "get",
        "inline",
        "is_time",
        "kind",
        "needs_ctx",
        "node",
        "path",
        "test",
    )

    def __init__(
        self,
        kind: str,
        node: Node,
        path: str,
        children: tuple[_Plan, ...] = (),
        get: Getter | None = None,
        test: Test | None = None,
        is_time: bool = False,
        needs_ctx: bool = False,
        inline: tuple[str, tuple[Any, ...]] | None = None,
    ) -> None:
        self.kind = kind
        self.node = node
        self.path = path
        self.children = children
        self.get = get
        self.test = test
        self.is_time = is_time
        self.needs_ctx: bool = needs_ctx or any(child.needs_ctx for child in children)
        self.inline = inline


def _compile(node: Node, path: str, registry: FieldRegistry, event_scope: bool) -> _Plan:
    if isinstance(node, AllOf | AnyOf):
        key = "all" if isinstance(node, AllOf) else "any"
        children = tuple(
            _compile(child, f"{path}.{key}[{i}]", registry, event_scope)
            for i, child in enumerate(node.children)
        )
        return _Plan(key, node, path, children)
    if isinstance(node, Not):
        return _Plan(
            "not", node, path, (_compile(node.child, f"{path}.not", registry, event_scope),)
        )
    if isinstance(node, InSegment):
        return _Plan(
            "in_segment", node, path, test=_in_segment(node.segment_id, path), needs_ctx=True
        )
    if isinstance(node, EventCondition):
        where = None
        if node.where is not None:
            where = _generate(_compile(node.where, f"{path}.where", registry, True))
        spec = FieldSpec(
            name=node.measure.value,
            type=FieldType.NUMBER
            if node.measure in (Measure.COUNT, Measure.SUM)
            else FieldType.DATETIME,
        )
        return _Plan(
            "event",
            node,
            path,
            get=_measure_getter(node, where),
            test=_test(spec, node.op, node.value),
            is_time=spec.type is FieldType.DATETIME,
            needs_ctx=True,
            inline=_inline(spec, node.op, node.value),
        )
    if event_scope:
        spec, get = _event_field_getter(node)
        derived = False
    else:
        spec = registry.resolve(node.field, path=f"{path}.field")
        get = _fan_getter(spec, registry, path)
        derived = spec.source is FieldSource.DERIVED
    return _Plan(
        "condition",
        node,
        path,
        get=get,
        test=_test(spec, node.op, node.value),
        is_time=spec.type is FieldType.DATETIME,
        needs_ctx=derived or _uses_now(node.op, node.value),
        inline=_inline(spec, node.op, node.value),
    )


def _uses_now(op: Op, value: Any) -> bool:
    if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
        return True
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, RelativeTime) for v in values)


def _in_segment(segment_id: str, path: str) -> Test:
    def member(_: Any, ctx: _Ctx) -> bool:
        segments = ctx.segments
        if segments is None:
            raise ValidationError.single(
                f"{path}.in_segment",
                f"the criteria reference segment {segment_id!r}: pass segments=",
                "required",
            )
        if callable(segments):
            return bool(segments(segment_id))
        return segment_id in segments

    return member


# -- code generation -----------------------------------------------------------------------
#
# The tree becomes one Python function built from two-valued predicates, one per
# polarity: TRUE(all) = TRUE(c1) and TRUE(c2)...; FALSE(all) = FALSE(c1) or ...;
# not swaps the polarity; a leaf is TRUE (or FALSE) only when its value is
# present. This is Kleene logic (SQL's NULL semantics) with Python's own
# short-circuit ``and``/``or``. The source holds only generated names: every
# field name, literal and helper is bound in the namespace, never written into
# the text, so no input can change the code.

_SAFE_SOURCE = re.compile(r"[A-Za-z0-9_ (),:=<>!.+\-\n]*")
_INLINE_OPS = {
    Op.EQ: "==",
    Op.NEQ: "!=",
    Op.GT: ">",
    Op.GTE: ">=",
    Op.LT: "<",
    Op.LTE: "<=",
    Op.AFTER: ">",
    Op.BEFORE: "<",
}


def _inline(spec: FieldSpec, op: Op, value: Any) -> tuple[str, tuple[Any, ...]] | None:
    """A template for the common tests written inline (``{0}``... are bound constants)."""
    type_ = spec.type
    if type_ is FieldType.NUMBER and op in _INLINE_OPS:
        return f"v {_INLINE_OPS[op]} {{0}}", (float(value),)
    if type_ is FieldType.NUMBER and op is Op.BETWEEN:
        return "{0} <= v <= {1}", (float(value[0]), float(value[1]))
    if type_ is FieldType.NUMBER and op in (Op.IN, Op.NOT_IN):
        word = "in" if op is Op.IN else "not in"
        return f"v {word} {{0}}", (frozenset(float(v) for v in value),)
    if type_ is FieldType.DATETIME and op in _INLINE_OPS:
        if isinstance(value, RelativeTime):
            return f"v {_INLINE_OPS[op]} ctx.now_ms + {{0}}", (value.offset // _MS,)
        return f"v {_INLINE_OPS[op]} {{0}}", (resolve_ms(value, 0),)
    if type_ is FieldType.DATETIME and op is Op.WITHIN_LAST:
        return "v >= ctx.now_ms - {0}", (value // _MS,)
    if type_ is FieldType.DATETIME and op is Op.NOT_WITHIN_LAST:
        return "v < ctx.now_ms - {0}", (value // _MS,)
    if type_ is FieldType.ENUM and op not in (Op.IS_SET, Op.IS_NOT_SET):
        return "v in {0}", (frozenset(enum_accepts(spec, op, value)),)
    if type_ is FieldType.BOOLEAN and op in (Op.EQ, Op.NEQ):
        return ("v is {0}" if op is Op.EQ else "v is not {0}"), (bool(value),)
    if type_ is FieldType.STRING and op in (Op.EQ, Op.NEQ):
        return f"v {_INLINE_OPS[op]} {{0}}", (value,)
    if type_ is FieldType.STRING and op in (Op.IN, Op.NOT_IN):
        return ("v in {0}" if op is Op.IN else "v not in {0}"), (frozenset(value),)
    return None


class _Generator:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"M": MISSING}

    def bind(self, value: Any) -> str:
        name = f"k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, plan: _Plan, positive: bool) -> str:
        if plan.kind in ("all", "any"):
            conjunction = (plan.kind == "all") == positive
            parts = [self.emit(child, positive) for child in plan.children]
            if not parts:
                return "True" if conjunction else "False"
            return "(" + (" and " if conjunction else " or ").join(parts) + ")"
        if plan.kind == "not":
            return self.emit(plan.children[0], not positive)
        assert plan.test is not None
        if plan.kind == "in_segment":
            call = f"{self.bind(plan.test)}(None, ctx)"
            return call if positive else f"(not {call})"
        assert plan.get is not None
        assert isinstance(plan.node, Condition | EventCondition)
        get = f"{self.bind(plan.get)}(fan, ctx)"
        op = plan.node.op
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            present = (op is Op.IS_SET) == positive
            return f"({get} {'is not' if present else 'is'} M)"
        if plan.inline is not None:
            template, constants = plan.inline
            test = template.format(*(self.bind(c) for c in constants))
        else:
            test = f"{self.bind(plan.test)}(v, ctx)"
        return f"((v := {get}) is not M and {'' if positive else 'not '}({test}))"


def _generate(plan: _Plan) -> Predicate:
    """The TRUE predicate of a compiled tree: ``predicate(record, ctx) -> bool``."""
    generator = _Generator()
    expression = generator.emit(plan, True)
    source = f"def predicate(fan, ctx):\n    return {expression}\n"
    if not _SAFE_SOURCE.fullmatch(source):  # pragma: no cover - guards the invariant
        raise AssertionError("generated criteria code contains unexpected characters")
    exec(compile(source, "<criteria>", "exec"), generator.namespace)
    predicate: Predicate = generator.namespace["predicate"]
    return predicate


# -- reading fields ------------------------------------------------------------------------


def _fan_getter(spec: FieldSpec, registry: FieldRegistry, path: str) -> Getter:
    if spec.source is FieldSource.DERIVED:
        return _derived_getter(spec, registry, path)
    name = spec.key
    alias: str | None
    if spec.source is FieldSource.TRAIT:
        camel = next((a for a in spec.aliases if a.startswith("traits.")), None)
        alias = camel.removeprefix("traits.") if camel else None
    else:
        alias = spec.aliases[0] if spec.aliases else None
    error_path = f"fan.{spec.name}"
    type_ = spec.type
    members = frozenset(spec.members)
    raw: Callable[[Any], Any]

    if spec.source is FieldSource.TRAIT:

        def raw(fan: Any) -> Any:
            traits = fan.get("traits", None)
            if traits is None:
                return MISSING
            if not isinstance(traits, Mapping):
                raise ValidationError.single(
                    "fan.traits", "traits must be a mapping", "invalid_type"
                )
            value = traits.get(name, MISSING)
            if value is MISSING and alias is not None:
                value = traits.get(alias, MISSING)
            return value

    else:

        def raw(fan: Any) -> Any:
            value = fan.get(name, MISSING)
            if value is MISSING and alias is not None:
                value = fan.get(alias, MISSING)
            return value

    trait = spec.source is FieldSource.TRAIT

    # Fast paths for the common exact types; everything else goes through coerce_strict.
    if type_ is FieldType.NUMBER:

        def get(fan: Any, ctx: Any) -> Any:
            if trait:
                value = raw(fan)
            else:
                value = fan.get(name, MISSING)
                if value is MISSING and alias is not None:
                    value = fan.get(alias, MISSING)
            kind = type(value)
            if kind is float:
                return value if value == value else MISSING
            if kind is int:
                return float(value)
            return coerce_strict(value, spec, error_path)

    elif type_ is FieldType.ENUM:

        def get(fan: Any, ctx: Any) -> Any:
            if trait:
                value = raw(fan)
            else:
                value = fan.get(name, MISSING)
                if value is MISSING and alias is not None:
                    value = fan.get(alias, MISSING)
            if type(value) is str:
                return value if value in members else MISSING
            return coerce_strict(value, spec, error_path)

    elif type_ is FieldType.STRING:

        def get(fan: Any, ctx: Any) -> Any:
            if trait:
                value = raw(fan)
            else:
                value = fan.get(name, MISSING)
                if value is MISSING and alias is not None:
                    value = fan.get(alias, MISSING)
            if type(value) is str:
                return value
            return coerce_strict(value, spec, error_path)

    elif type_ is FieldType.DATETIME:

        def get(fan: Any, ctx: Any) -> Any:
            if trait:
                value = raw(fan)
            else:
                value = fan.get(name, MISSING)
                if value is MISSING and alias is not None:
                    value = fan.get(alias, MISSING)
            if type(value) is datetime and value.tzinfo is not None:
                return (value - EPOCH) // _MS
            return coerce_strict(value, spec, error_path)

    else:

        def get(fan: Any, ctx: Any) -> Any:
            return coerce_strict(raw(fan), spec, error_path)

    return get


def _derived_getter(spec: FieldSpec, registry: FieldRegistry, path: str) -> Getter:
    assert spec.depends_on is not None
    source = registry.resolve(spec.depends_on)
    source_get = _fan_getter(source, registry, path)
    if spec.type is FieldType.BOOLEAN:  # subscribed

        def subscribed(fan: Any, ctx: Any) -> Any:
            status = source_get(fan, ctx)
            return MISSING if status is MISSING else status == "active"

        return subscribed

    def days(fan: Any, ctx: Any) -> Any:
        since = source_get(fan, ctx)
        if since is MISSING:
            return MISSING
        return float((ctx.now_ms - since) // DAY_MS)

    return days


def _event_field_getter(node: Condition) -> tuple[FieldSpec, Getter]:
    kind = _literal_kind(node)
    if node.field == EVENT_VALUE_FIELD:

        def value(event: _Event, ctx: Any) -> Any:
            return event.value

        return FieldSpec(name=node.field, type=FieldType.NUMBER), value
    name = node.field.removeprefix("properties.")

    def prop(event: _Event, ctx: Any) -> Any:
        return coerce_lenient(event.properties.get(name, MISSING), kind)

    return FieldSpec(name=node.field, type=kind or FieldType.STRING), prop


def _literal_kind(node: Condition) -> FieldType | None:
    """The type an event property is read as: the literal's (``None`` for existence)."""
    if node.op in (Op.IS_SET, Op.IS_NOT_SET):
        return None
    sample: Any = node.value[0] if isinstance(node.value, tuple) else node.value
    if node.op in (Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN):
        return FieldType.NUMBER
    if isinstance(sample, bool):
        return FieldType.BOOLEAN
    if isinstance(sample, int | float):
        return FieldType.NUMBER
    return FieldType.STRING


def _measure_getter(node: EventCondition, where: Predicate | None) -> Getter:
    event_name = node.event
    within_ms = None if node.within is None else node.within // _MS
    measure = node.measure

    def get(fan: Any, ctx: _Ctx) -> Any:
        events = ctx.events(event_name)
        cutoff = None if within_ms is None else ctx.now_ms - within_ms
        count = 0
        total = 0.0
        last: int | None = None
        first: int | None = None
        for event in events:
            if cutoff is not None and event.ms < cutoff:
                continue
            if where is not None and not where(event, ctx):
                continue
            count += 1
            if measure is Measure.SUM:
                if event.value is not MISSING:
                    total += event.value
            elif measure is Measure.LAST_AT:
                if last is None or event.ms > last:
                    last = event.ms
            elif measure is Measure.FIRST_AT and (first is None or event.ms < first):
                first = event.ms
        if measure is Measure.COUNT:
            return float(count)
        if measure is Measure.SUM:
            return total
        found = last if measure is Measure.LAST_AT else first
        return MISSING if found is None else found

    return get


# -- operator tests ------------------------------------------------------------------------


def _test(spec: FieldSpec, op: Op, value: Any) -> Test:
    """``test(v, ctx)`` for a present value ``v`` in evaluation form."""
    return TESTS[op][spec.type](spec, op, value)


def _exists_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    # Missing values never reach a test: a present one is set.
    if op is Op.IS_SET:
        return lambda v, ctx: True
    return lambda v, ctx: False


def _bool_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    target = bool(value)
    if op is Op.EQ:
        return lambda v, ctx: v == target
    return lambda v, ctx: v != target


def _number_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    if op in (Op.IN, Op.NOT_IN):
        options = frozenset(float(v) for v in value)
        if op is Op.IN:
            return lambda v, ctx: v in options
        return lambda v, ctx: v not in options
    if op is Op.BETWEEN:
        low, high = float(value[0]), float(value[1])
        return lambda v, ctx: low <= v <= high
    c = float(value)
    return _compare(op, lambda ctx: c)


def _compare(op: Op, bound: Callable[[Any], Any]) -> Test:
    if op is Op.EQ:
        return lambda v, ctx: v == bound(ctx)
    if op is Op.NEQ:
        return lambda v, ctx: v != bound(ctx)
    if op in (Op.GT, Op.AFTER):
        return lambda v, ctx: v > bound(ctx)
    if op is Op.GTE:
        return lambda v, ctx: v >= bound(ctx)
    if op in (Op.LT, Op.BEFORE):
        return lambda v, ctx: v < bound(ctx)
    if op is Op.LTE:
        return lambda v, ctx: v <= bound(ctx)
    raise AssertionError(f"unexpected operator {op}")  # pragma: no cover


def _instant(value: Scalar) -> Callable[[Any], int]:
    if isinstance(value, RelativeTime):
        offset = value.offset // _MS
        return lambda ctx: ctx.now_ms + offset
    fixed = resolve_ms(value, 0)
    return lambda ctx: fixed


def _time_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
        span = value // _MS
        if op is Op.WITHIN_LAST:
            return lambda v, ctx: v >= ctx.now_ms - span
        return lambda v, ctx: v < ctx.now_ms - span
    if op is Op.BETWEEN:
        low, high = _instant(value[0]), _instant(value[1])
        return lambda v, ctx: low(ctx) <= v <= high(ctx)
    return _compare(op, _instant(value))


def _enum_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    accepted = frozenset(enum_accepts(spec, op, value))
    return lambda v, ctx: v in accepted


def enum_accepts(spec: FieldSpec, op: Op, value: Any) -> tuple[str, ...]:
    """The members of an enum field for which ``op value`` is true (in member order).

    Every enum test is membership in this set, in both evaluators (and in SQL as
    ``IN``), so ranks never need to be stored.
    """
    members = spec.members
    if op is Op.EQ:
        return (value,)
    if op is Op.NEQ:
        return tuple(m for m in members if m != value)
    if op is Op.IN:
        return tuple(m for m in members if m in value)
    if op is Op.NOT_IN:
        return tuple(m for m in members if m not in value)
    rank = {m: i for i, m in enumerate(members)}
    if op is Op.BETWEEN:
        low, high = rank[value[0]], rank[value[1]]
        return tuple(m for m in members if low <= rank[m] <= high)
    bound = rank[value]
    compare: dict[Op, Callable[[int], bool]] = {
        Op.GT: lambda r: r > bound,
        Op.GTE: lambda r: r >= bound,
        Op.LT: lambda r: r < bound,
        Op.LTE: lambda r: r <= bound,
    }
    return tuple(m for m in members if compare[op](rank[m]))


def _string_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    if op is Op.EQ:
        return lambda v, ctx: v == value
    if op is Op.NEQ:
        return lambda v, ctx: v != value
    if op in (Op.IN, Op.NOT_IN):
        options = frozenset(value)
        if op is Op.IN:
            return lambda v, ctx: v in options
        return lambda v, ctx: v not in options
    if op is Op.CONTAINS:
        return lambda v, ctx: value in v
    if op is Op.ICONTAINS:
        folded = value.lower()
        return lambda v, ctx: folded in v.lower()
    if op is Op.STARTS_WITH:
        return lambda v, ctx: v.startswith(value)
    if op is Op.ENDS_WITH:
        return lambda v, ctx: v.endswith(value)
    pattern = compile_safe_regex(value)
    return lambda v, ctx: pattern.search(v)


def _list_test(spec: FieldSpec, op: Op, value: Any) -> Test:
    if op is Op.CONTAINS:
        return lambda v, ctx: value in v
    options = frozenset(value)
    if op is Op.IN:
        return lambda v, ctx: any(item in options for item in v)
    return lambda v, ctx: not any(item in options for item in v)


_N, _S, _B, _D, _L, _E = (
    FieldType.NUMBER,
    FieldType.STRING,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.STRING_LIST,
    FieldType.ENUM,
)
_EQUALITY: Mapping[FieldType, TestFactory] = {
    _N: _number_test,
    _S: _string_test,
    _B: _bool_test,
    _D: _time_test,
    _E: _enum_test,
}
_ORDER: Mapping[FieldType, TestFactory] = {_N: _number_test, _D: _time_test, _E: _enum_test}
_MEMBERSHIP: Mapping[FieldType, TestFactory] = {
    _N: _number_test,
    _S: _string_test,
    _L: _list_test,
    _E: _enum_test,
}
_EXISTENCE: Mapping[FieldType, TestFactory] = dict.fromkeys(FieldType, _exists_test)

#: The per-fan back end's operator table: operator -> field type -> the factory of
#: its test (see ``campaign_core.criteria._operators``).
TESTS: Mapping[Op, Mapping[FieldType, TestFactory]] = {
    Op.EQ: _EQUALITY,
    Op.NEQ: _EQUALITY,
    Op.GT: _ORDER,
    Op.GTE: _ORDER,
    Op.LT: _ORDER,
    Op.LTE: _ORDER,
    Op.BETWEEN: _ORDER,
    Op.IN: _MEMBERSHIP,
    Op.NOT_IN: _MEMBERSHIP,
    Op.CONTAINS: {_S: _string_test, _L: _list_test},
    Op.ICONTAINS: {_S: _string_test},
    Op.STARTS_WITH: {_S: _string_test},
    Op.ENDS_WITH: {_S: _string_test},
    Op.REGEX: {_S: _string_test},
    Op.IS_SET: _EXISTENCE,
    Op.IS_NOT_SET: _EXISTENCE,
    Op.BEFORE: {_D: _time_test},
    Op.AFTER: {_D: _time_test},
    Op.WITHIN_LAST: {_D: _time_test},
    Op.NOT_WITHIN_LAST: {_D: _time_test},
}


# -- public --------------------------------------------------------------------------------


@attrs.frozen
class TraceNode:
    """One node of an explanation.

    A behavioural leaf shows its measure (the count, sum or instant); its event
    filter (``where``) is applied but not traced event by event.

    Attributes:
        path: the node's canonical path (``root.all[1]``).
        type: ``all``, ``any``, ``not``, ``condition``, ``event`` or ``in_segment``.
        result: ``True``, ``False`` or ``None`` (unknown: a missing value).
        node: the node's own canonical JSON (without children).
        seen: for leaves, the value read (JSON form; ``None`` when missing).
        missing: for leaves, whether the value was missing.
        resolved: for relative times, the absolute instants used (JSON form).
        children: the children's traces.
    """

    path: str
    type: str
    result: bool | None
    node: Mapping[str, Any] = attrs.field(factory=dict)
    seen: Any = None
    missing: bool = False
    resolved: Any = None
    children: tuple[TraceNode, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "type": self.type, "result": self.result}
        out.update(self.node)
        if self.type in ("condition", "event"):
            out["seen"] = self.seen
            out["missing"] = self.missing
            if self.resolved is not None:
                out["resolved"] = self.resolved
        if self.children:
            out["children"] = [child.to_json() for child in self.children]
        return out


@attrs.frozen
class Explanation:
    """Why a fan does or does not match.

    Attributes:
        matched: whether the fan matches (the root is true).
        now: the instant relative times were resolved against.
        trace: the root's trace; every node with the value seen and its result.
    """

    matched: bool
    now: datetime
    trace: TraceNode

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "now": format_datetime(self.now),
            "trace": self.trace.to_json(),
        }


def _seen_json(plan: _Plan, value: Any) -> Any:
    if value is MISSING:
        return None
    if plan.is_time:
        return format_datetime(EPOCH + value * _MS)
    if isinstance(value, tuple):
        return list(value)
    node = plan.node
    if isinstance(node, EventCondition) and node.measure is Measure.COUNT:
        return int(value)
    return value


def _resolved_json(node: Node, now: datetime) -> Any:
    value = node.value if isinstance(node, Condition | EventCondition) else None
    if isinstance(value, RelativeTime):
        return format_datetime(value.resolve(now))
    if isinstance(value, tuple) and any(isinstance(v, RelativeTime) for v in value):
        return [
            format_datetime(v.resolve(now)) if isinstance(v, RelativeTime) else value_to_json(v)
            for v in value
        ]
    if isinstance(node, Condition | EventCondition) and node.op in (
        Op.WITHIN_LAST,
        Op.NOT_WITHIN_LAST,
    ):
        assert isinstance(value, timedelta)
        return format_datetime(now - value)
    return None


def _own_json(node: Node) -> dict[str, Any]:
    full = node_to_json(node)
    for key in ("all", "any", "not"):
        full.pop(key, None)
    return full


class CompiledCriteria:
    """Criteria compiled for evaluation; build with :func:`compile_criteria`.

    Thread-safe and reusable: compile once, evaluate many fans.

    Attributes:
        criteria: the canonical tree.
        registry: the fields it was checked against.
    """

    def __init__(self, criteria: Criteria, registry: FieldRegistry) -> None:
        self.criteria = criteria
        self.registry = registry
        self._plan = _compile(criteria.root, "root", registry, False)
        self._predicate = _generate(self._plan)
        self._needs_ctx = self._plan.needs_ctx
        # (now as given, its epoch ms): bulk loops pass the same now object.
        self._last_now: tuple[object, int] = (None, 0)

    def __repr__(self) -> str:
        return f"CompiledCriteria({self.criteria.to_json()!r})"

    def evaluate(
        self,
        fan: Mapping[str, Any] | object,
        events: Iterable[Any] | None = (),
        *,
        now: datetime | Clock,
        segments: SegmentMembership | None = None,
    ) -> bool:
        """Whether one fan matches.

        Args:
            fan: the fan: a mapping (snake_case or camelCase keys, custom traits
                under ``traits``) or an object with those attributes.
            events: the fan's events: mappings or objects with ``name``,
                ``occurred_at`` (aware), optional ``value`` and ``properties``.
            now: the instant (or a clock) relative times and windows resolve against.
            segments: the ids of the segments the fan belongs to (a container) or a
                predicate; required when the criteria use ``in_segment``.

        Returns:
            ``True`` when the root is true; ``False`` when false or unknown.

        Raises:
            ValidationError: a fan or event value has the wrong type (path
                ``fan.<field>`` / ``events[i].<field>``), ``now`` is naive, or
                ``segments`` is needed but missing.
        """
        if type(fan) is not dict and not isinstance(fan, Mapping):
            fan = _ObjectView(fan)
        last = self._last_now
        if last[0] is now:  # only datetimes are remembered (a clock moves)
            now_ms = last[1]
        else:
            now_ms = to_ms(_now(now))
            if type(now) is datetime:
                self._last_now = (now, now_ms)
        if not self._needs_ctx:
            return self._predicate(fan, None)
        return self._predicate(fan, self._context(events, now_ms, segments))

    def explain(
        self,
        fan: Mapping[str, Any] | object,
        events: Iterable[Any] | None = (),
        *,
        now: datetime | Clock,
        segments: SegmentMembership | None = None,
    ) -> Explanation:
        """Evaluate one fan and trace every node (no short-circuit, same result).

        Args and Raises: as :meth:`evaluate`.

        Returns:
            An :class:`Explanation`; ``explanation.to_json()`` is JSON-ready.
        """
        now_dt = _now(now)
        view = fan if isinstance(fan, Mapping) else _ObjectView(fan)
        ctx = self._context(events, to_ms(now_dt), segments)
        trace = self._trace(self._plan, view, ctx, now_dt)
        return Explanation(matched=trace.result is True, now=now_dt, trace=trace)

    def evaluate_columns(self, columns: Mapping[str, Any], **kwargs: Any) -> Any:
        """Vectorized evaluation; see :func:`~campaign_core.criteria.evaluate_columns`."""
        from campaign_core.criteria._vector import evaluate_columns

        return evaluate_columns(self, columns, **kwargs)

    def _context(
        self, events: Iterable[Any] | None, now_ms: int, segments: SegmentMembership | None
    ) -> _Ctx:
        if isinstance(segments, str | bytes):
            raise ValidationError.single(
                "segments",
                "segments must be a collection of segment ids, not a string",
                "invalid_type",
            )
        return _Ctx(() if events is None else events, now_ms, segments)

    def _trace(self, plan: _Plan, fan: Any, ctx: _Ctx, now: datetime) -> TraceNode:
        if plan.kind == "in_segment":
            assert plan.test is not None
            return TraceNode(
                path=plan.path,
                type=plan.kind,
                result=plan.test(None, ctx),
                node=_own_json(plan.node),
            )
        if plan.get is not None and plan.test is not None:
            seen = plan.get(fan, ctx)
            op = plan.node.op if isinstance(plan.node, Condition | EventCondition) else None
            result: bool | None
            if op is Op.IS_SET or op is Op.IS_NOT_SET:
                result = (seen is MISSING) == (op is Op.IS_NOT_SET)
            else:
                result = None if seen is MISSING else plan.test(seen, ctx)
            return TraceNode(
                path=plan.path,
                type=plan.kind,
                result=result,
                node=_own_json(plan.node),
                seen=_seen_json(plan, seen),
                missing=seen is MISSING,
                resolved=_resolved_json(plan.node, now),
            )
        children = tuple(self._trace(child, fan, ctx, now) for child in plan.children)
        return TraceNode(
            path=plan.path,
            type=plan.kind,
            result=_combine(plan.kind, [child.result for child in children]),
            node=_own_json(plan.node),
            children=children,
        )


def _combine(kind: str, results: list[bool | None]) -> bool | None:
    if kind == "not":
        return None if results[0] is None else not results[0]
    if kind == "all":
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _now(now: datetime | Clock) -> datetime:
    if not isinstance(now, datetime):
        clock_now = getattr(now, "now", None)
        if not callable(clock_now):
            raise ValidationError.single(
                "now", "expected an aware datetime or a Clock", "invalid_type"
            )
        now = clock_now()
    value = ensure_utc(now, path="now")  # type: ignore[arg-type]
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


@functools.lru_cache(maxsize=512)
def _compile_cached(criteria: Criteria, registry: FieldRegistry) -> CompiledCriteria:
    from campaign_core.criteria._normalize import normalize

    # Re-checking against the registry catches trees stored before a trait changed type.
    checked = normalize(criteria.to_json(), registry=registry)
    return CompiledCriteria(checked, registry)


def compile_criteria(
    criteria: Criteria | object, *, registry: FieldRegistry | None = None
) -> CompiledCriteria:
    """Compile criteria for evaluation (cached per tree and registry).

    Args:
        criteria: a :class:`Criteria` or any input form :func:`normalize` accepts.
        registry: the fields (built-ins plus the owner's traits); built-ins when ``None``.

    Returns:
        The compiled criteria.

    Raises:
        ValidationError: the criteria are invalid for ``registry``.
    """
    from campaign_core.criteria._normalize import normalize

    registry = registry or FieldRegistry.default()
    if not isinstance(criteria, Criteria):
        criteria = normalize(criteria, registry=registry)
    return _compile_cached(criteria, registry)


def evaluate(
    criteria: Criteria | object,
    fan: Mapping[str, Any] | object,
    events: Iterable[Any] | None = (),
    *,
    now: datetime | Clock,
    segments: SegmentMembership | None = None,
    registry: FieldRegistry | None = None,
) -> bool:
    """Whether one fan matches the criteria (compiles and caches the tree).

    Args:
        criteria: a :class:`Criteria` or any accepted input form.
        fan: the fan (mapping or object); see :meth:`CompiledCriteria.evaluate`.
        events: the fan's events.
        now: the instant or a clock.
        segments: the fan's segment memberships (ids or a predicate).
        registry: the fields; built-ins when ``None``.

    Returns:
        ``True`` when the fan matches.

    Raises:
        ValidationError: invalid criteria, or fan/event data of the wrong type.
    """
    return compile_criteria(criteria, registry=registry).evaluate(
        fan, events, now=now, segments=segments
    )


def explain(
    criteria: Criteria | object,
    fan: Mapping[str, Any] | object,
    events: Iterable[Any] | None = (),
    *,
    now: datetime | Clock,
    segments: SegmentMembership | None = None,
    registry: FieldRegistry | None = None,
) -> Explanation:
    """Evaluate one fan and return the trace of every node.

    Args and Raises: as :func:`evaluate`.

    Returns:
        An :class:`Explanation` (``.matched``, ``.trace``, ``.to_json()``).
    """
    return compile_criteria(criteria, registry=registry).explain(
        fan, events, now=now, segments=segments
    )
