"""The per-fan evaluator: the tree compiled once into one predicate, with ``explain``.

Compilation makes a plan (each leaf's getter and test) and, from it, one
generated Python function that answers "is the root TRUE?" with two-valued
predicates per polarity and Python's short-circuit ``and``/``or`` (see the code
generation section). ``explain`` walks the plan instead, evaluating every node
to ``True``, ``False`` or ``None`` (unknown) with the same getters and tests.
The getters (and the evaluation context) are in ``_evaluate_read``, the
operator tests (``TESTS``) in ``_evaluate_tests``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from campaign_core.clock import Clock, ensure_utc
from campaign_core.criteria._codegen import Matcher, _Plan, generate, generate_fast, inline_test
from campaign_core.criteria._evaluate_read import (
    _MS,
    SegmentMembership,
    _Ctx,
    _event_field_getter,
    _fan_getter,
    _measure_getter,
    _ObjectView,
)
from campaign_core.criteria._evaluate_read import _literal_kind as _literal_kind
from campaign_core.criteria._evaluate_tests import Test, _test
from campaign_core.criteria._evaluate_tests import enum_accepts as enum_accepts
from campaign_core.criteria._fields import FieldRegistry, FieldSource, FieldSpec, FieldType
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
    format_datetime,
    node_to_json,
    value_to_json,
)
from campaign_core.criteria._runtime import (
    EPOCH,
    MISSING,
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

# -- compiled plan -------------------------------------------------------------------------


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
            where = generate(_compile(node.where, f"{path}.where", registry, True))
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
            inline=inline_test(spec, node.op, node.value),
        )
    stored: FieldSpec | None = None
    if event_scope:
        spec, get = _event_field_getter(node)
        derived = False
    else:
        spec = registry.resolve(node.field, path=f"{path}.field")
        get = _fan_getter(spec, registry, path)
        derived = spec.source is FieldSource.DERIVED
        stored = None if derived else spec
    return _Plan(
        "condition",
        node,
        path,
        get=get,
        test=_test(spec, node.op, node.value),
        is_time=spec.type is FieldType.DATETIME,
        needs_ctx=derived or _uses_now(node.op, node.value),
        inline=inline_test(spec, node.op, node.value),
        spec=stored,
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
        # The reference predicate (a getter and a test per leaf) backs the fast one.
        self._reference = generate(self._plan)
        self._predicate, self._match = generate_fast(self._plan, self._reference)
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
        last = self._last_now
        if last[0] is now:  # only datetimes are remembered (a clock moves)
            now_ms = last[1]
        else:
            now_ms = to_ms(_now(now))
            if type(now) is datetime:
                self._last_now = (now, now_ms)
        if not self._needs_ctx:
            return self._match(fan)
        if type(fan) is not dict and not isinstance(fan, Mapping):
            fan = _ObjectView(fan)
        return self._predicate(fan, self._context(events, now_ms, segments))

    def matcher(self, *, now: datetime | Clock) -> Matcher:
        """A function answering :meth:`evaluate` for many fans at one instant.

        ``match(fan, events=(), segments=None) -> bool`` gives the same answers and
        raises the same errors as ``evaluate(fan, events, now=now, segments=segments)``
        with ``now`` resolved once, here (a clock is read now, not per fan). It is the
        cheapest way to test fans one at a time: for criteria that read only stored
        fields with fixed instants it is the generated predicate itself.

        Args:
            now: the instant (or a clock, read once) relative times resolve against.

        Returns:
            ``match(fan, events=(), segments=None)``; arguments as :meth:`evaluate`.

        Raises:
            ValidationError: ``now`` is naive or not a datetime or clock.
        """
        now_ms = to_ms(_now(now))
        if not self._needs_ctx:
            return self._match
        predicate = self._predicate
        context = self._context

        def match(
            fan: Mapping[str, Any] | object,
            events: Iterable[Any] | None = (),
            segments: SegmentMembership | None = None,
        ) -> bool:
            if type(fan) is not dict and not isinstance(fan, Mapping):
                fan = _ObjectView(fan)
            return predicate(fan, context(events, now_ms, segments))

        return match

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
