"""The per-fan evaluator's reading: the evaluation context, the events, and each field's getter.

A getter reads one field of a fan (a mapping, or an attrs ``Fan`` through
``_ObjectView``) or of an event, in evaluation form (numbers as floats, instants
as epoch milliseconds, enums as their names), or ``MISSING``.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from campaign_core.criteria._build import EVENT_VALUE_FIELD
from campaign_core.criteria._fields import DAY_MS, FieldRegistry, FieldSource, FieldSpec, FieldType
from campaign_core.criteria._model import (
    Condition,
    EventCondition,
    Measure,
    Op,
)
from campaign_core.criteria._runtime import (
    EPOCH,
    MISSING,
    coerce_lenient,
    coerce_strict,
    instant_ms,
)
from campaign_core.errors import ValidationError

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


Getter: TypeAlias = Callable[[Any, Any], Any]
"""``get(record, ctx)``: the value in evaluation form, or MISSING (record: fan or event)."""
Predicate: TypeAlias = Callable[[Any, Any], bool]
"""``predicate(record, ctx)``: the TRUE predicate of a compiled tree."""

# -- reading fields ------------------------------------------------------------------------


def read_keys(spec: FieldSpec) -> tuple[str, str | None]:
    """The key a fan field is read under (in ``traits`` for a trait) and its fallback key."""
    if spec.source is FieldSource.TRAIT:
        camel = next((a for a in spec.aliases if a.startswith("traits.")), None)
        return spec.key, camel.removeprefix("traits.") if camel else None
    return spec.key, spec.aliases[0] if spec.aliases else None


def _fan_getter(spec: FieldSpec, registry: FieldRegistry, path: str) -> Getter:
    if spec.source is FieldSource.DERIVED:
        return _derived_getter(spec, registry, path)
    name, alias = read_keys(spec)
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
            if type(value) is datetime and value.utcoffset() is not None:
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
