"""The fast compiled predicate against the reference one and explain(), on fans of any shape."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np
import pytest
from criteria_strategies import NOW, REGISTRY, SEGMENTS, trees
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core.clock import FakeClock
from campaign_core.criteria import (
    FieldRegistry,
    FieldSource,
    FieldSpec,
    FieldType,
    Op,
    allowed_ops,
    compile_criteria,
)
from campaign_core.criteria._evaluate import _now
from campaign_core.criteria._evaluate_read import _ObjectView
from campaign_core.criteria._runtime import to_ms
from campaign_core.errors import ValidationError
from campaign_core.serialization import format_datetime
from campaign_core.testing._criteria_strategies import leaf
from campaign_core.testing.strategies import criteria_populations


class _NoOffset(tzinfo):
    """A zone that gives no UTC offset: an aware-looking datetime that cannot be compared."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


class _Text(str):
    """A str subclass (read through the slow path)."""


_INSTANT = NOW - timedelta(days=14)
_MS1 = timedelta(milliseconds=1)
WILD_VALUES: list[Any] = [
    None,
    float("nan"),
    np.nan,
    0.0,
    -0.0,
    1,
    -1,
    50,
    49.5,
    100.0,
    2**60 + 1,
    True,
    False,
    np.float64(50.0),
    np.int64(14),
    np.bool_(True),
    "",
    "a",
    "ab",
    "Ab",
    "high",
    "active",
    "vip",
    "platinum",
    "onlyfans",
    _Text("ab"),
    "2025-12-18T12:00:00Z",
    "2025-12-18T12:00:00",
    "not a date",
    _INSTANT,
    _INSTANT + timedelta(microseconds=700),
    _INSTANT - timedelta(milliseconds=1),
    NOW,
    NOW.astimezone(timezone(timedelta(hours=5, minutes=30))),
    _INSTANT.replace(tzinfo=None),
    _INSTANT.replace(tzinfo=_NoOffset()),
    np.datetime64("2025-12-18T12:00:00"),
    np.datetime64("NaT"),
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC),
    [],
    ["a"],
    ["ab", "a"],
    ["a", 3],
    ["a", None],
    ["a", ["b"]],
    ("a", "ab"),
    np.array(["a", "x1"]),
    {"a": 1},
]
wild = st.sampled_from(WILD_VALUES)
_BUILTINS = [spec for spec in REGISTRY.specs if spec.source is FieldSource.BUILTIN]
_TRAITS = [spec for spec in REGISTRY.specs if spec.source is FieldSource.TRAIT]
_STRINGS = ["", "a", "ab", "Ab", "abc", "xyz", "Straße", "İx", "a.c", "x1", "A" * 998 + "b\n"]
_INSTANTS = [
    (NOW + offset + jitter).astimezone(zone)
    for offset in (-14 * timedelta(days=1), -timedelta(hours=1), timedelta(0))
    for jitter in (timedelta(0), timedelta(microseconds=700), timedelta(milliseconds=1), -_MS1)
    for zone in (UTC, timezone(timedelta(hours=5, minutes=30)))
]
# Values of the field's own type near the literals the trees use (thresholds hit exactly).
_TYPED: dict[FieldType, list[Any]] = {
    FieldType.NUMBER: [float("nan"), 0.0, 1.0, 14.0, 49.5, 50.0, 100.0, -1.0, 0.25, 1, 50],
    FieldType.STRING: _STRINGS,
    FieldType.BOOLEAN: [True, False],
    FieldType.DATETIME: _INSTANTS,
    FieldType.STRING_LIST: [[], ["a"], ["ab", "xyz"], ["", "x1", "a.c"], ["a", 3]],
}


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    typed = [*spec.members, "platinum"] if spec.type is FieldType.ENUM else _TYPED[spec.type]
    return st.one_of(st.sampled_from(typed), st.sampled_from(typed), wild)


@st.composite
def wild_fans(draw: st.DrawFn) -> Any:
    """A fan whose fields hold values of any type, under their names or aliases."""
    fan: dict[str, Any] = {}
    for spec in _BUILTINS:
        if draw(st.integers(0, 2)) == 0:
            key = draw(st.sampled_from([spec.name, *spec.aliases]))
            fan[key] = draw(_value(spec))
    traits_kind = draw(st.integers(0, 5))
    if traits_kind == 0:
        fan["traits"] = draw(st.sampled_from([None, "x", ["a"], 3]))
    elif traits_kind > 1:
        traits = {spec.key: draw(_value(spec)) for spec in _TRAITS if draw(st.booleans())}
        fan["traits"] = types.MappingProxyType(traits) if traits_kind == 2 else traits
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return types.SimpleNamespace(**{k: v for k, v in fan.items() if k.isidentifier()})
    if shape == 1:
        return types.MappingProxyType(fan)
    return fan


events = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["purchase", "message.opened", "other"]),
            "occurred_at": st.sampled_from([_INSTANT, NOW - timedelta(hours=1)]),
            "value": st.sampled_from([None, 1, 2.5]),
            "properties": st.sampled_from([{}, {"product": "ab", "amount": 5}]),
        }
    ),
    max_size=3,
)


small_trees = st.one_of(
    leaf.map(lambda node: {"version": 1, "root": node}),
    leaf.map(lambda node: {"version": 1, "root": {"not": node}}),
)


def _outcome(call: Any) -> tuple[Any, ...]:
    try:
        return ("ok", bool(call()))
    except ValidationError as error:
        return ("error", ValidationError, str(error))
    except (TypeError, ValueError, OverflowError) as error:
        return ("error", type(error))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=st.one_of(trees, small_trees),
    fans=st.lists(wild_fans(), min_size=1, max_size=8),
    fan_events=events,
    segments=st.sets(st.sampled_from(SEGMENTS)),
)
def test_fast_predicate_equals_the_reference_on_any_fan(
    tree: dict[str, Any], fans: list[Any], fan_events: list[Any], segments: set[str]
) -> None:
    """evaluate and matcher answer (or raise) exactly as the reference predicate, and as
    explain() whenever explain() reads every leaf without an error."""
    compiled = compile_criteria(tree, registry=REGISTRY)
    match = compiled.matcher(now=NOW)
    now_ms = to_ms(_now(NOW))
    for fan in fans:
        view = fan if isinstance(fan, dict | types.MappingProxyType) else _ObjectView(fan)

        def reference(fan: Any = view) -> Any:
            return compiled._reference(fan, compiled._context(fan_events, now_ms, segments))

        expected = _outcome(reference)
        got = _outcome(
            lambda fan=fan: compiled.evaluate(fan, fan_events, now=NOW, segments=segments)
        )
        assert got == expected
        assert _outcome(lambda fan=fan: match(fan, fan_events, segments)) == expected
        try:
            explanation = compiled.explain(fan, fan_events, now=NOW, segments=segments)
        except (ValidationError, TypeError):
            continue  # explain reads every leaf; a short-circuit may skip the bad one
        assert got == ("ok", explanation.matched)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, population=criteria_populations())
def test_matcher_equals_evaluate_on_well_typed_fans(tree: dict[str, Any], population: Any) -> None:
    """matcher(now=...) gives evaluate's answers for the shipped populations."""
    people, fan_events, memberships = population
    compiled = compile_criteria(tree, registry=REGISTRY)
    match = compiled.matcher(now=NOW)
    by_fan: list[list[dict[str, Any]]] = [[] for _ in people]
    for index, event in fan_events:
        by_fan[index].append(event)
    for i, fan in enumerate(people):
        expected = compiled.evaluate(fan, by_fan[i], now=NOW, segments=memberships[i])
        assert match(fan, by_fan[i], memberships[i]) is expected


def test_matcher_reads_a_clock_once() -> None:
    """A clock given to matcher() is read when the matcher is made, not per fan."""
    clock = FakeClock(NOW)
    compiled = compile_criteria({"field": "last_activity_at", "op": "within_last", "value": "P1D"})
    match = compiled.matcher(now=clock)
    fan = {"last_activity_at": NOW - timedelta(hours=2)}
    clock.advance(timedelta(days=2))
    assert match(fan) is True
    assert compiled.evaluate(fan, now=clock) is False


def test_matcher_needs_an_aware_now() -> None:
    """A naive now is refused when the matcher is made."""
    compiled = compile_criteria({"field": "engagement", "op": "gt", "value": 1})
    with pytest.raises(ValidationError):
        compiled.matcher(now=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive now refused


def test_literals_never_become_source_text() -> None:
    """Values that look like code are constants of the generated predicate, not text in it."""
    registry = FieldRegistry.with_traits({"nickname": "string", "tags": "string_list"})
    nasty = "x') or True or ('\n__import__('os')"
    compiled = compile_criteria(
        {
            "any": [
                {"field": "traits.nickname", "op": "eq", "value": nasty},
                {"field": "traits.tags", "op": "contains", "value": nasty},
            ]
        },
        registry=registry,
    )
    assert compiled.evaluate({"traits": {"nickname": "x"}}, now=NOW) is False
    assert compiled.evaluate({"traits": {"nickname": nasty}}, now=NOW) is True
    assert compiled.evaluate({"traits": {"tags": ["a", nasty]}}, now=NOW) is True


def test_a_list_with_a_non_string_item_raises_the_typed_error() -> None:
    """The fast list check falls back to the reference, which names the bad item."""
    registry = FieldRegistry.with_traits({"tags": "string_list"})
    compiled = compile_criteria(
        {"field": "traits.tags", "op": "contains", "value": "a"}, registry=registry
    )
    with pytest.raises(ValidationError, match=r"fan\.traits\.tags\[1\]"):
        compiled.evaluate({"traits": {"tags": ["a", 3]}}, now=NOW)


def test_evaluate_answers_a_bool_for_regex_leaves() -> None:
    """A regex leaf at the root answers True or False (not a match object)."""
    compiled = compile_criteria({"field": "time_zone", "op": "regex", "value": "^Eu"})
    assert compiled.evaluate({"time_zone": "Europe/Paris"}, now=NOW) is True
    assert compiled.evaluate({"time_zone": "Asia/Tokyo"}, now=NOW) is False


def test_datetime_bounds_floor_to_the_millisecond() -> None:
    """A fan's datetime compares as its millisecond floor against a fixed instant."""
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    just_after = at + timedelta(microseconds=700)  # the same millisecond
    cases = {
        "eq": (True, True, False),
        "gt": (False, False, True),
        "lte": (True, True, False),
        "neq": (False, False, True),
    }
    for op, expected in cases.items():
        compiled = compile_criteria(
            {"field": "created_at", "op": op, "value": "2026-01-01T12:00:00Z"}
        )
        got = tuple(
            compiled.evaluate({"created_at": t}, now=NOW)
            for t in (at, just_after, at + timedelta(milliseconds=1))
        )
        assert got == expected, op


_DAY_14 = format_datetime(NOW - 14 * timedelta(days=1))
_HOUR = format_datetime(NOW - timedelta(hours=1))


def _literals(spec: FieldSpec, op: Op) -> list[Any]:
    """A few literals for ``op`` on the field, near the values the fans hold."""
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        return [None]
    type_ = spec.type
    if type_ is FieldType.ENUM:
        members = list(spec.members)
        if op is Op.BETWEEN:
            return [[members[0], members[2]]]
        return [[members[0], members[1]]] if op in (Op.IN, Op.NOT_IN) else members[:2]
    if type_ is FieldType.DATETIME:
        if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
            return ["P14D"]
        if op is Op.BETWEEN:
            return [[_DAY_14, _HOUR], [{"now": "-P14D"}, {"now": "-PT1H"}]]
        return [_DAY_14, {"now": "-P14D"}]
    pools: dict[FieldType, tuple[list[Any], Any, Any]] = {
        # (single literals, between, in)
        FieldType.NUMBER: ([50, 49.5, 0], [0, 50], [1, 50]),
        FieldType.STRING: (["(?i)^a", "b$"] if op is Op.REGEX else ["ab", "A"], None, ["a", "ab"]),
        FieldType.BOOLEAN: ([True, False], None, None),
        FieldType.STRING_LIST: (["a", "x1"], None, ["a", "x1"]),
    }
    single, between, options = pools[type_]
    if op is Op.BETWEEN:
        return [between]
    if op in (Op.IN, Op.NOT_IN):
        return [options]
    return single


def test_every_leaf_on_every_value() -> None:
    """Each stored field, operator and polarity, over values of every type: the fast
    predicate answers (or raises) as the reference one."""
    fields = [s for s in REGISTRY.specs if s.source is not FieldSource.DERIVED]
    checked = 0
    for spec in fields:
        values = _TYPED[spec.type] if spec.type is not FieldType.ENUM else [*spec.members, "x"]
        for op in sorted(allowed_ops(spec), key=lambda o: o.value):
            for literal in _literals(spec, op):
                leaf_json: dict[str, Any] = {"field": spec.name, "op": op.value}
                if literal is not None:
                    leaf_json["value"] = literal
                for root in (leaf_json, {"not": leaf_json}):
                    compiled = compile_criteria({"version": 1, "root": root}, registry=REGISTRY)
                    ctx = compiled._context((), to_ms(NOW), None)
                    for value in [*values, *WILD_VALUES]:
                        if spec.source is FieldSource.TRAIT:
                            fan: dict[str, Any] = {"traits": {spec.key: value}}
                        else:
                            fan = {spec.name: value}
                        expected = _outcome(
                            lambda fan=fan, c=compiled, ctx=ctx: c._reference(fan, ctx)
                        )
                        got = _outcome(lambda fan=fan, c=compiled: c.evaluate(fan, now=NOW))
                        assert got == expected, (root, value)
                        checked += 1
    assert checked > 5000
