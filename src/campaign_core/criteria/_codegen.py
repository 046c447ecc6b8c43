"""The per-fan evaluator's code generation: a compiled plan becomes Python functions.

The tree becomes one Python function built from two-valued predicates, one per
polarity: TRUE(all) = TRUE(c1) and TRUE(c2)...; FALSE(all) = FALSE(c1) or ...;
not swaps the polarity; a leaf is TRUE (or FALSE) only when its value is
present. This is Kleene logic (SQL's NULL semantics) with Python's own
short-circuit ``and``/``or``. The source holds only generated names: every
field name, literal and helper is bound in the namespace, never written into
the text, so no input can change the code.

Two functions come out of one plan:

- the *reference* predicate calls each leaf's getter and test (the plan's own
  functions, the ones ``explain`` uses);
- the *fast* predicate writes the common leaves into the source: the read
  (``fan.get``, the traits mapping read once per fan), a check of the value's
  exact type (``float``, ``str``, ``bool``, an aware ``datetime``, a ``list`` of
  strings) and the test against constants prepared at compile time (sets for
  ``in``, datetimes for fixed instants, so a fan's datetime is compared without
  converting it). A value of any other type (missing, ``None``, an ``int``, text
  for a datetime, a wrong type) goes to the leaf's slow test: the reference
  conversion (which raises the same typed error) and test. A ``TypeError`` in
  the fast code (a list holding a non-string, a zone without an offset) re-runs
  the reference predicate, which answers or raises as it always did. Both are
  pure, so running the reference again changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from campaign_core.criteria._evaluate_read import (
    _MS,
    Getter,
    Predicate,
    _ObjectView,
    read_keys,
)
from campaign_core.criteria._evaluate_tests import Test, enum_accepts
from campaign_core.criteria._fields import FieldSource, FieldSpec, FieldType
from campaign_core.criteria._model import Condition, EventCondition, Node, Op, RelativeTime
from campaign_core.criteria._regex import compile_safe_regex
from campaign_core.criteria._runtime import EPOCH, MISSING, coerce_strict, resolve_ms
from campaign_core.errors import ValidationError

__all__ = ["Matcher", "generate", "generate_fast"]

Matcher = Callable[..., bool]
"""``match(fan, events=(), segments=None) -> bool``: one fan against criteria at one instant."""


class _Plan:
    """A compiled node: leaves hold their getter and test; groups their children.

    ``spec`` is set on a leaf reading a stored fan field (a built-in column or a
    trait, not a derived field or an event's): the fast predicate reads those
    inline.
    """

    __slots__ = (
        "children",
        "get",
        "inline",
        "is_time",
        "kind",
        "needs_ctx",
        "node",
        "path",
        "spec",
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
        spec: FieldSpec | None = None,
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
        self.spec = spec


_SAFE_SOURCE = re.compile(r"[A-Za-z0-9_ (),:=<>!.+\-/\n]*")
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


def inline_test(spec: FieldSpec, op: Op, value: Any) -> tuple[str, tuple[Any, ...]] | None:
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
    """Writes the reference predicate: one getter call and one test per leaf."""

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
        return self.leaf(plan, positive)

    def leaf(self, plan: _Plan, positive: bool) -> str:
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


def _define(source: str, namespace: dict[str, Any], name: str) -> Any:
    if not _SAFE_SOURCE.fullmatch(source):  # pragma: no cover - guards the invariant
        raise AssertionError("generated criteria code contains unexpected characters")
    exec(compile(source, "<criteria>", "exec"), namespace)
    return namespace[name]


def generate(plan: _Plan) -> Predicate:
    """The reference TRUE predicate of a compiled tree: ``predicate(record, ctx) -> bool``."""
    generator = _Generator()
    expression = generator.emit(plan, True)
    source = f"def predicate(fan, ctx):\n    return {expression}\n"
    predicate: Predicate = _define(source, generator.namespace, "predicate")
    return predicate


# -- the fast predicate ----------------------------------------------------------------------


class _BadTraits:
    """Stands for a ``traits`` value that is not a mapping: reading a trait raises."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        raise ValidationError.single("fan.traits", "traits must be a mapping", "invalid_type")


_NO_TRAITS: Mapping[str, Any] = {}


def _traits(value: Any) -> Any:
    """The fan's traits as something with ``get`` (called when they are not a dict)."""
    if value is None:
        return _NO_TRAITS
    if isinstance(value, Mapping):
        return value
    return _BadTraits()


def _view(fan: Any) -> Any:
    """A fan that is not a dict, read through ``get``."""
    return fan if isinstance(fan, Mapping) else _ObjectView(fan)


# The exact types read without conversion; the check binds the raw value to ``v``.
_CHECKS: Mapping[FieldType, str] = {
    FieldType.NUMBER: "type(v := {raw}) is float",
    FieldType.STRING: "type(v := {raw}) is str",
    FieldType.ENUM: "type(v := {raw}) is str",
    FieldType.BOOLEAN: "type(v := {raw}) is bool",
    FieldType.DATETIME: "(type(v := {raw}) is DT and v.tzinfo is not None)",
    # J is "".join: a TypeError for a non-string item sends the fan to the reference.
    FieldType.STRING_LIST: "(type(v := {raw}) is list and (J(v) or True))",
}
_NUMBER_OPS: Mapping[Op, tuple[str, str]] = {
    # (TRUE, FALSE) for a float v; a NaN is missing, so both must be false for it.
    Op.EQ: ("v == {0}", "v == v and v != {0}"),
    Op.NEQ: ("v == v and v != {0}", "v == {0}"),
    Op.GT: ("v > {0}", "v <= {0}"),
    Op.GTE: ("v >= {0}", "v < {0}"),
    Op.LT: ("v < {0}", "v >= {0}"),
    Op.LTE: ("v <= {0}", "v > {0}"),
    Op.BETWEEN: ("{0} <= v <= {1}", "(v < {0} or v > {1})"),
    Op.IN: ("v in {0}", "v == v and v not in {0}"),
    Op.NOT_IN: ("v == v and v not in {0}", "v in {0}"),
    Op.IS_SET: ("v == v", "v != v"),
    Op.IS_NOT_SET: ("v != v", "v == v"),
}
_STRING_OPS: Mapping[Op, str] = {
    Op.EQ: "v == {0}",
    Op.NEQ: "v != {0}",
    Op.IN: "v in {0}",
    Op.NOT_IN: "v not in {0}",
    Op.CONTAINS: "{0} in v",
    Op.ICONTAINS: "{0} in v.lower()",
    Op.STARTS_WITH: "v.startswith({0})",
    Op.ENDS_WITH: "v.endswith({0})",
    Op.REGEX: "{0}(v)",  # SafeRegex.search answers a bool
}
_LIST_OPS: Mapping[Op, str] = {
    Op.CONTAINS: "{0} in v",
    Op.IN: "not {0}.isdisjoint(v)",
    Op.NOT_IN: "{0}.isdisjoint(v)",
}
# A fixed instant c (epoch ms) against floor(v in ms): with D(n) the datetime of n ms,
# floor(v) > c  <=>  v >= D(c + 1), floor(v) >= c <=> v >= D(c), and so on.
_TIME_OPS: Mapping[Op, tuple[str, str]] = {
    Op.GT: ("v >= {1}", "v < {1}"),
    Op.AFTER: ("v >= {1}", "v < {1}"),
    Op.GTE: ("v >= {0}", "v < {0}"),
    Op.LT: ("v < {0}", "v >= {0}"),
    Op.BEFORE: ("v < {0}", "v >= {0}"),
    Op.LTE: ("v < {1}", "v >= {1}"),
    Op.EQ: ("{0} <= v < {1}", "(v < {0} or v >= {1})"),
    Op.NEQ: ("(v < {0} or v >= {1})", "{0} <= v < {1}"),
}


def _fixed_bounds(values: tuple[Any, ...]) -> tuple[datetime, ...] | None:
    """D(c) and D(c + 1) of each fixed instant; None for relative ones or overflow."""
    if any(isinstance(v, RelativeTime) for v in values):
        return None
    try:
        out: list[datetime] = []
        for value in values:
            ms = resolve_ms(value, 0)
            out += [EPOCH + ms * _MS, EPOCH + (ms + 1) * _MS]
        return tuple(out)
    except OverflowError:
        return None


def _fast_test(plan: _Plan, positive: bool) -> tuple[str, tuple[Any, ...]] | None:
    """The test (a template over ``v`` of the fast type) for one polarity, if written inline."""
    spec, node = plan.spec, plan.node
    assert spec is not None and isinstance(node, Condition)
    op = node.op
    value: Any = node.value
    type_ = spec.type
    exists = op in (Op.IS_SET, Op.IS_NOT_SET)
    if type_ is FieldType.NUMBER:
        if op not in _NUMBER_OPS:
            return None
        template = _NUMBER_OPS[op][0 if positive else 1]
        if exists:
            return template, ()
        if op is Op.BETWEEN:
            return template, (float(value[0]), float(value[1]))
        if op in (Op.IN, Op.NOT_IN):
            return template, (frozenset(float(v) for v in value),)
        return template, (float(value),)
    if type_ is FieldType.ENUM:
        members = frozenset(spec.members)
        if exists:
            present = (op is Op.IS_SET) == positive
            return ("v in {0}" if present else "v not in {0}"), (members,)
        accepted = frozenset(enum_accepts(spec, op, value))
        return "v in {0}", (accepted if positive else members - accepted,)
    if exists and type_ is FieldType.DATETIME:
        return None  # present only with an offset: the conversion decides (and raises)
    if exists:  # the other fast types are always present once their type checks
        return ("True" if (op is Op.IS_SET) == positive else "False"), ()
    template_constants: tuple[str, tuple[Any, ...]] | None = None
    if type_ is FieldType.STRING and op in _STRING_OPS:
        constant: Any = value
        if op in (Op.IN, Op.NOT_IN):
            constant = frozenset(value)
        elif op is Op.ICONTAINS:
            constant = value.lower()
        elif op is Op.REGEX:
            constant = compile_safe_regex(value).search
        template_constants = (_STRING_OPS[op], (constant,))
    elif type_ is FieldType.STRING_LIST and op in _LIST_OPS:
        constant = value if op is Op.CONTAINS else frozenset(value)
        template_constants = (_LIST_OPS[op], (constant,))
    elif type_ is FieldType.BOOLEAN and op in (Op.EQ, Op.NEQ):
        same = (op is Op.EQ) == positive
        return ("v is {0}" if same else "v is not {0}"), (bool(value),)
    elif type_ is FieldType.DATETIME:
        return _time_test(plan, positive)
    if template_constants is None:
        return None
    template, constants = template_constants
    return (template if positive else f"not ({template})"), constants


def _time_test(plan: _Plan, positive: bool) -> tuple[str, tuple[Any, ...]] | None:
    node = plan.node
    assert isinstance(node, Condition)
    op = node.op
    value: Any = node.value
    if op in _TIME_OPS:
        bounds = _fixed_bounds((value,))
        if bounds is not None:
            return _TIME_OPS[op][0 if positive else 1], bounds
    if op is Op.BETWEEN:
        bounds = _fixed_bounds(tuple(value))
        if bounds is not None:
            low, high = bounds[0], bounds[3]
            if positive:
                return "{0} <= v < {1}", (low, high)
            return "(v < {0} or v >= {1})", (low, high)
    # Relative instants and windows: the milliseconds against ctx.now_ms.
    assert plan.test is not None
    if plan.inline is not None:
        template, constants = plan.inline
        negate = "" if positive else "not "
        return f"(v := (v - E) // U) is not None and {negate}({template})", constants
    test = "{0}((v - E) // U, ctx)"
    return (test if positive else f"not {test}"), (plan.test,)


def _slow_leaf(plan: _Plan, positive: bool) -> Callable[[Any, Any], bool]:
    """The leaf for a raw value of another type than the fast one: convert, then test."""
    spec, node, test = plan.spec, plan.node, plan.test
    assert spec is not None and isinstance(node, Condition) and test is not None
    error_path = f"fan.{spec.name}"
    op = node.op
    if op in (Op.IS_SET, Op.IS_NOT_SET):
        want_present = (op is Op.IS_SET) == positive

        def exists(v: Any, ctx: Any) -> bool:
            return (coerce_strict(v, spec, error_path) is not MISSING) == want_present

        return exists

    def slow(v: Any, ctx: Any) -> bool:
        v = coerce_strict(v, spec, error_path)
        if v is MISSING:
            return False
        return bool(test(v, ctx)) if positive else not test(v, ctx)

    return slow


class _FastGenerator(_Generator):
    """Writes the fast predicate: stored fan fields read and tested inline."""

    def __init__(self) -> None:
        super().__init__()
        self.namespace.update(
            {"DT": datetime, "J": "".join, "E": EPOCH, "U": timedelta(milliseconds=1)}
        )
        self.reads_traits = False

    def leaf(self, plan: _Plan, positive: bool) -> str:
        spec = plan.spec
        if spec is None or not isinstance(plan.node, Condition):
            return super().leaf(plan, positive)
        name, alias = read_keys(spec)
        source = "fan"
        if spec.source is FieldSource.TRAIT:
            self.reads_traits = True
            source = "tr"
        raw = f"{source}.get({self.bind(name)}, M)"
        if alias is not None:
            raw = f"(w if (w := {raw}) is not M else {source}.get({self.bind(alias)}, M))"
        slow = self.bind(_slow_leaf(plan, positive))
        fast = _fast_test(plan, positive)
        if fast is None:
            return f"{slow}({raw}, ctx)"
        template, constants = fast
        test = template.format(*(self.bind(c) for c in constants))
        check = _CHECKS[spec.type].format(raw=raw)
        op = plan.node.op
        missing_matches = op in (Op.IS_SET, Op.IS_NOT_SET) and (op is Op.IS_NOT_SET) == positive
        other = (
            f"(v is M or {slow}(v, ctx))" if missing_matches else f"(v is not M and {slow}(v, ctx))"
        )
        return f"(({test}) if {check} else {other})"


def generate_fast(plan: _Plan, reference: Predicate) -> tuple[Predicate, Matcher]:
    """The fast TRUE predicate ``predicate(fan, ctx)`` and, for a tree that needs no
    context (no events, segments, clock), ``match(fan, events=(), segments=None)``
    reading any fan (a dict, a mapping or an object) with ``ctx`` None."""
    generator = _FastGenerator()
    expression = generator.emit(plan, True)
    namespace = generator.namespace
    namespace.update({"REF": reference, "TR": _traits, "VIEW": _view})
    body = ""
    if generator.reads_traits:
        body += (
            f"    tr = fan.get({generator.bind('traits')}, None)\n"
            "    if type(tr) is not dict:\n"
            "        tr = TR(tr)\n"
        )
    body += f"    try:\n        return {expression}\n    except TypeError:\n        return REF(fan, ctx)\n"
    source = (
        f"def predicate(fan, ctx):\n{body}\n"
        "def match(fan, events=(), segments=None):\n"
        "    if type(fan) is not dict:\n"
        "        fan = VIEW(fan)\n"
        "    ctx = None\n"
        f"{body}"
    )
    predicate: Predicate = _define(source, namespace, "predicate")
    match: Matcher = namespace["match"]
    return predicate, match
