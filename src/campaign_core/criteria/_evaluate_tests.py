"""The per-fan evaluator's operator tests: one factory per operator and field type (``TESTS``).

A test answers for a present value (the getter already returned something
other than ``MISSING``); the generated predicate inlines the common ones (see
``_evaluate._inline``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from campaign_core.criteria._evaluate_read import _MS
from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._model import (
    Op,
    RelativeTime,
    Scalar,
)
from campaign_core.criteria._regex import compile_safe_regex
from campaign_core.criteria._runtime import (
    resolve_ms,
)

Test: TypeAlias = Callable[[Any, Any], bool]
"""``test(value, ctx)`` for a present value."""
#: Makes the test of one operator and value on a field: ``factory(spec, op, value)``.
TestFactory: TypeAlias = Callable[[FieldSpec, Op, Any], Test]

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
