"""Building validated leaves: the one place that checks fields, operators and values.

Every input form ends up calling :class:`Builder`, so the rules (and the error
messages) are the same whichever way the criteria were written. A problem is
recorded with the location of the bad part as the user wrote it and the
builder carries on, so one call reports every problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from campaign_core._text import text_problem
from campaign_core.criteria._fields import FieldRegistry, FieldSpec, FieldType
from campaign_core.criteria._model import (
    Condition,
    EventCondition,
    InSegment,
    Measure,
    Node,
    Not,
    Op,
    RelativeTime,
    Scalar,
    Value,
)
from campaign_core.criteria._operators import OPERATORS, ValueShape
from campaign_core.criteria._ops import NO_VALUE_OPS, allowed_ops, lookup_op, measure_type
from campaign_core.criteria._regex import RegexError, compile_safe_regex
from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_LIST_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER",
    "MAX_STRING_LENGTH",
    "Builder",
    "Loc",
]

MAX_DEPTH: Final = 32
"""Deepest nesting of groups, ``not`` and event filters."""
MAX_NODES: Final = 500
"""Most nodes in one tree."""
MAX_LIST_LENGTH: Final = 1000
"""Most values in an ``in``/``not_in`` list."""
MAX_STRING_LENGTH: Final = 1000
"""Longest string value."""
MAX_NUMBER: Final = 1e15
"""Largest magnitude of a number value (exact in float64 and in every SQL back end)."""
MAX_EXPRESSION_LENGTH: Final = 10_000
"""Longest expression string."""
MAX_NAME_LENGTH: Final = 200
"""Longest event name or segment id."""

_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_RELATIVE_TEXT = re.compile(r"^\s*now\s*(?:([+-])\s*(\S.*?))?\s*$", re.IGNORECASE | re.DOTALL)
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SEGMENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_MS = timedelta(milliseconds=1)
_MEASURES = frozenset(m.value for m in Measure)


@attrs.frozen
class Loc:
    """Where a part of the input is, to report problems.

    Attributes:
        path: the problem path (``root.all[0].value``, ``engagement``, ``[1].operator``).
        note: a prefix for messages (the position inside an expression string).
        fixed: inside an expression string, sub-parts keep the expression's path.
    """

    path: str
    note: str = ""
    fixed: bool = False

    def at(self, part: str | int) -> Loc:
        """The location of a key or index under this one."""
        if self.fixed:
            return self
        return Loc(join_path(self.path, part), self.note)


class _Invalid:
    """Marks a value that failed validation (a problem was recorded)."""


INVALID: Final = _Invalid()


def truncate_ms(value: datetime) -> datetime:
    """``value`` in UTC, truncated to the millisecond (the precision stores keep)."""
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def floor_ms(span: timedelta) -> timedelta:
    """``span`` floored to whole milliseconds."""
    return (span // _MS) * _MS


EVENT_VALUE_FIELD: Final = "value"
_EVENT_FIELD_ALIASES = {"value": "value", "properties.value": "properties.value"}


class Builder:
    """Validates parts of criteria and builds nodes, collecting every problem."""

    def __init__(self, registry: FieldRegistry, problems: ProblemCollector) -> None:
        self.registry = registry
        self.problems = problems
        self._nodes = 0
        self._too_many_reported = False

    def fail(self, loc: Loc, message: str, code: str = "invalid_value") -> _Invalid:
        self.problems.add(loc.path, loc.note + message, code)
        return INVALID

    def count_node(self, loc: Loc) -> bool:
        """Count one more node; ``False`` (and one problem) past :data:`MAX_NODES`."""
        self._nodes += 1
        if self._nodes > MAX_NODES:
            if not self._too_many_reported:
                self._too_many_reported = True
                self.fail(loc, f"criteria may have at most {MAX_NODES} nodes", "too_large")
            return False
        return True

    def check_depth(self, depth: int, loc: Loc) -> bool:
        if depth > MAX_DEPTH:
            self.fail(loc, f"criteria may be nested at most {MAX_DEPTH} levels deep", "too_deep")
            return False
        return True

    # -- operators -----------------------------------------------------------------

    def operator(self, raw: object, loc: Loc) -> tuple[Op, bool] | _Invalid:
        """Resolve an operator spelling; ``(op, negated)``."""
        if isinstance(raw, Op):
            return raw, False
        if not isinstance(raw, str):
            return self.fail(loc, "an operator must be a string", "invalid_type")
        found = lookup_op(raw) if len(raw) <= 64 else None
        if found is None:
            shown = raw if len(raw) <= 40 else raw[:37] + "..."
            return self.fail(loc, f"unknown operator {shown!r}", "unknown_operator")
        return found

    # -- fields --------------------------------------------------------------------

    def field(self, raw: object, loc: Loc) -> FieldSpec | _Invalid:
        try:
            return self.registry.resolve(raw, path=loc.path)
        except ValidationError as exc:
            return self.fail(loc, exc.problems[0].message, exc.problems[0].code)

    def event_field(self, raw: object, loc: Loc) -> str | _Invalid:
        """The canonical name of a field inside an event filter."""
        if not isinstance(raw, str):
            return self.fail(loc, "a field name must be a string", "invalid_type")
        if raw in _EVENT_FIELD_ALIASES:
            return _EVENT_FIELD_ALIASES[raw]
        name = raw.removeprefix("properties.")
        if not _PROPERTY_NAME.match(name):
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            return self.fail(
                loc,
                f"unknown event field {shown!r}: use 'value' or 'properties.<name>' with a"
                " name of letters, digits and '_'",
                "unknown_field",
            )
        return f"properties.{name}"

    # -- leaves --------------------------------------------------------------------

    def condition(
        self,
        field_raw: object,
        op_raw: object,
        value_raw: object,
        *,
        has_value: bool,
        field_loc: Loc,
        op_loc: Loc,
        value_loc: Loc,
        event_scope: bool = False,
    ) -> Node | _Invalid:
        """A property leaf (``not`` around it for negated spellings such as ``not_contains``)."""
        if not self.count_node(field_loc):
            return INVALID
        op_found = self.operator(op_raw, op_loc)
        if event_scope:
            field_name = self.event_field(field_raw, field_loc)
            if isinstance(field_name, _Invalid) or isinstance(op_found, _Invalid):
                return INVALID
            op, negated = op_found
            op, negated, value_raw, has_value = self._existence(op, negated, value_raw, has_value)
            spec = self._event_spec(field_name, op, value_raw, op_loc, value_loc)
            if spec is None:
                return INVALID
        else:
            spec_found = self.field(field_raw, field_loc)
            if isinstance(spec_found, _Invalid) or isinstance(op_found, _Invalid):
                return INVALID
            spec = spec_found
            field_name = spec.name
            op, negated = op_found
            op, negated, value_raw, has_value = self._existence(op, negated, value_raw, has_value)
            if op not in allowed_ops(spec):
                return self._op_mismatch(op, spec, op_loc)
        value = self.value(spec, op, value_raw, has_value=has_value, loc=value_loc)
        if isinstance(value, _Invalid):
            return INVALID
        leaf = Condition(field=field_name, op=op, value=value)
        return Not(leaf) if negated else leaf

    def event_condition(
        self,
        event_raw: object,
        measure_raw: object,
        op_raw: object,
        value_raw: object,
        *,
        has_value: bool,
        within_raw: object,
        where: Node | None,
        loc: Loc,
        event_loc: Loc,
        measure_loc: Loc,
        op_loc: Loc,
        value_loc: Loc,
        within_loc: Loc,
    ) -> Node | _Invalid:
        """A behavioural leaf; ``where`` is already built (or ``None``)."""
        if not self.count_node(loc):
            return INVALID
        ok = True
        event = self.name(event_raw, event_loc, "an event name")
        if isinstance(event, _Invalid):
            ok = False
        measure: Measure | None = None
        if isinstance(measure_raw, str) and measure_raw.lower() in _MEASURES:
            measure = Measure(measure_raw.lower())
        else:
            ok = False
            self.fail(
                measure_loc,
                f"unknown measure {measure_raw!r}; expected count, sum, last_at or first_at",
                "invalid_value",
            )
        op_found = self.operator(op_raw, op_loc)
        within: timedelta | None = None
        if within_raw is not None:
            span = self.duration(within_raw, within_loc)
            if isinstance(span, _Invalid):
                ok = False
            else:
                within = span
        if not ok or isinstance(op_found, _Invalid) or measure is None:
            return INVALID
        op, negated = op_found
        op, negated, value_raw, has_value = self._existence(op, negated, value_raw, has_value)
        spec = FieldSpec(name=f"{measure.value}({event!r})", type=measure_type(measure))
        allowed = allowed_ops(spec)
        if measure in (Measure.COUNT, Measure.SUM):
            # count and sum are never missing, so existence tests would be constant.
            allowed = allowed - NO_VALUE_OPS
        if op not in allowed:
            return self._op_mismatch(op, spec, op_loc, what=f"the {measure.value} measure")
        value = self.value(spec, op, value_raw, has_value=has_value, loc=value_loc)
        if isinstance(value, _Invalid):
            return INVALID
        assert isinstance(event, str)
        leaf = EventCondition(
            event=event, measure=measure, op=op, value=value, within=within, where=where
        )
        return Not(leaf) if negated else leaf

    def in_segment(self, raw: object, loc: Loc) -> Node | _Invalid:
        if not self.count_node(loc):
            return INVALID
        if not isinstance(raw, str):
            return self.fail(loc, "a segment id must be a string", "invalid_type")
        if not _SEGMENT_ID.match(raw):
            return self.fail(
                loc,
                "a segment id is 1 to 128 letters, digits or '_', '-', '.', ':'",
                "invalid_value",
            )
        return InSegment(raw)

    def name(self, raw: object, loc: Loc, what: str) -> str | _Invalid:
        if not isinstance(raw, str):
            return self.fail(loc, f"{what} must be a string", "invalid_type")
        if not raw.strip():
            return self.fail(loc, f"{what} must not be empty", "required")
        if len(raw) > MAX_NAME_LENGTH:
            return self.fail(
                loc, f"{what} may be at most {MAX_NAME_LENGTH} characters", "too_large"
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in raw):
            return self.fail(loc, f"{what} must not contain control characters")
        problem = text_problem(raw)
        if problem is not None:
            return self.fail(loc, f"{what} {problem}")
        return raw

    # -- helpers -------------------------------------------------------------------

    def _existence(
        self, op: Op, negated: bool, value_raw: object, has_value: bool
    ) -> tuple[Op, bool, object, bool]:
        # {"operator": "exists", "value": false} reads naturally as "is not set".
        if op in NO_VALUE_OPS and has_value and value_raw is False:
            flipped = Op.IS_NOT_SET if op is Op.IS_SET else Op.IS_SET
            return flipped, negated, None, False
        if op in NO_VALUE_OPS and has_value and (value_raw is None or value_raw is True):
            return op, negated, None, False
        return op, negated, value_raw, has_value

    def _op_mismatch(
        self, op: Op, spec: FieldSpec, loc: Loc, *, what: str | None = None
    ) -> _Invalid:
        kind = spec.type.value
        if spec.type is FieldType.ENUM:
            kind = "ordered enum" if spec.ordered else "enum"
        allowed = ", ".join(sorted(o.value for o in allowed_ops(spec)))
        subject = what or f"field {spec.name!r}"
        return self.fail(
            loc,
            f"operator {op.value!r} does not apply to {subject} ({kind}); allowed: {allowed}",
            "operator_type_mismatch",
        )

    def _event_spec(
        self, field_name: str, op: Op, value_raw: object, op_loc: Loc, value_loc: Loc
    ) -> FieldSpec | None:
        """The type an event-filter leaf is read as: ``value`` is a number, properties
        take the type of the literal (a property of another type is missing)."""
        event_type = OPERATORS[op].event_type
        if field_name == EVENT_VALUE_FIELD:
            type_ = FieldType.NUMBER
        elif event_type == "literal":
            sample = value_raw
            listed = OPERATORS[op].value is ValueShape.LIST
            if listed and isinstance(value_raw, list | tuple) and value_raw:
                sample = value_raw[0]
            if isinstance(sample, bool):
                type_ = FieldType.BOOLEAN
            elif isinstance(sample, int | float):
                type_ = FieldType.NUMBER
            else:
                type_ = FieldType.STRING
        elif isinstance(event_type, FieldType):
            type_ = event_type
        else:
            allowed = ", ".join(o.value for o, s in OPERATORS.items() if s.event_type is not None)
            self.fail(
                op_loc,
                f"operator {op.value!r} does not apply to event fields; allowed: {allowed}",
                "operator_type_mismatch",
            )
            return None
        spec = FieldSpec(name=field_name, type=type_)
        if op not in allowed_ops(spec):
            self._op_mismatch(op, spec, op_loc)
            return None
        return spec

    # -- values --------------------------------------------------------------------

    def value(
        self, spec: FieldSpec, op: Op, raw: object, *, has_value: bool, loc: Loc
    ) -> Value | _Invalid:
        """The typed value of a leaf, checked against its field and operator."""
        shape = OPERATORS[op].value
        if shape is ValueShape.NONE:
            if has_value:
                return self.fail(loc, f"operator {op.value!r} takes no value")
            return None
        if not has_value:
            return self.fail(loc, f"operator {op.value!r} needs a value", "required")
        if shape is ValueShape.LIST:
            return self._list(spec, raw, loc)
        if shape is ValueShape.RANGE:
            return self._between(spec, raw, loc)
        if shape is ValueShape.DURATION:
            return self.duration(raw, loc)
        if shape is ValueShape.PATTERN:
            return self._pattern(raw, loc)
        if shape is ValueShape.TEXT or spec.type is FieldType.STRING_LIST:
            return self._string(raw, loc)
        return self.scalar(spec, raw, loc)

    def _pattern(self, raw: object, loc: Loc) -> str | _Invalid:
        """A string that compiles as a safe regular expression."""
        text = self._string(raw, loc)
        if isinstance(text, _Invalid):
            return text
        try:
            compile_safe_regex(text)
        except RegexError as exc:
            return self.fail(loc, f"{exc.message} (at character {exc.position})", "unsafe_regex")
        return text

    def scalar(self, spec: FieldSpec, raw: object, loc: Loc) -> Scalar | _Invalid:
        """One value of the field's type."""
        type_ = spec.type
        if type_ is FieldType.NUMBER:
            return self.number(raw, loc)
        if type_ is FieldType.STRING or type_ is FieldType.STRING_LIST:
            return self._string(raw, loc)
        if type_ is FieldType.ENUM:
            text = self._string(raw, loc)
            if isinstance(text, _Invalid):
                return text
            member = text.strip().lower()
            if member not in spec.members:
                shown = text if len(text) <= 40 else text[:37] + "..."
                return self.fail(
                    loc,
                    f"{shown!r} is not a value of {spec.name} (expected one of "
                    + ", ".join(spec.members)
                    + ")",
                )
            return member
        if type_ is FieldType.BOOLEAN:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                return raw.strip().lower() == "true"
            return self.fail(loc, "expected true or false", "invalid_type")
        return self.instant(raw, loc)

    def number(self, raw: object, loc: Loc) -> int | float | _Invalid:
        value: int | float
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            return self.fail(loc, "expected a number", "invalid_type")
        if isinstance(raw, str):
            text = raw.strip()
            if len(text) > 40 or not _NUMBER_TEXT.match(text):
                shown = raw if len(raw) <= 40 else raw[:37] + "..."
                return self.fail(loc, f"expected a number, got {shown!r}", "invalid_type")
            value = int(text) if text.lstrip("+-").isdigit() else float(text)
        else:
            value = raw
        if isinstance(value, float) and not math.isfinite(value):
            return self.fail(loc, "a number must be finite (no NaN or infinity)", "not_finite")
        if abs(value) > MAX_NUMBER:
            return self.fail(
                loc, f"a number may be at most {MAX_NUMBER:.0e} in magnitude", "out_of_range"
            )
        return value

    def _string(self, raw: object, loc: Loc) -> str | _Invalid:
        if not isinstance(raw, str):
            return self.fail(loc, "expected a string", "invalid_type")
        if len(raw) > MAX_STRING_LENGTH:
            return self.fail(
                loc, f"a string may be at most {MAX_STRING_LENGTH} characters", "too_large"
            )
        problem = text_problem(raw)
        if problem is not None:
            return self.fail(loc, f"a string {problem}")
        return raw

    def instant(self, raw: object, loc: Loc) -> datetime | RelativeTime | _Invalid:
        """An absolute instant (aware) or a time relative to now."""
        if isinstance(raw, RelativeTime):
            return raw
        if isinstance(raw, datetime):
            if raw.tzinfo is None or raw.utcoffset() is None:
                return self.fail(
                    loc, "a datetime must have a time zone (naive datetimes are ambiguous)"
                )
            return truncate_ms(raw)
        if isinstance(raw, Mapping):
            if set(raw) != {"now"}:
                return self.fail(
                    loc, 'a relative time is written {"now": "-P14D"}', "invalid_value"
                )
            offset = raw["now"]
            if not isinstance(offset, str | timedelta):
                return self.fail(
                    loc.at("now"), "expected a duration such as '-P14D'", "invalid_type"
                )
            try:
                span = parse_duration(offset, path=loc.at("now").path, allow_negative=True)
            except ValidationError as exc:
                return self.fail(loc.at("now"), exc.problems[0].message, exc.problems[0].code)
            return RelativeTime(floor_ms(span))
        if isinstance(raw, str):
            relative = _RELATIVE_TEXT.match(raw)
            if relative is not None:
                sign, body = relative.groups()
                if body is None:
                    return RelativeTime(timedelta(0))
                try:
                    span = parse_duration(body, path=loc.path)
                except ValidationError as exc:
                    return self.fail(loc, exc.problems[0].message, exc.problems[0].code)
                return RelativeTime(floor_ms(-span if sign == "-" else span))
            try:
                parsed = datetime.fromisoformat(raw.strip())
            except ValueError:
                shown = raw if len(raw) <= 40 else raw[:37] + "..."
                return self.fail(
                    loc,
                    f"expected an ISO-8601 datetime with a time zone or a relative time"
                    f" ('now - 14 days'), got {shown!r}",
                    "invalid_type",
                )
            return self.instant(parsed, loc)
        return self.fail(loc, "expected a datetime", "invalid_type")

    def duration(self, raw: object, loc: Loc) -> timedelta | _Invalid:
        """A positive span (``"14 days"``, ``"P14D"``), floored to milliseconds."""
        if not isinstance(raw, str | timedelta):
            return self.fail(loc, "expected a duration such as '14 days' or 'P14D'", "invalid_type")
        try:
            span = floor_ms(parse_duration(raw, path=loc.path))
        except ValidationError as exc:
            return self.fail(loc, exc.problems[0].message, exc.problems[0].code)
        if span <= timedelta(0):
            return self.fail(loc, "a duration must be longer than zero", "out_of_range")
        return span

    def _list(self, spec: FieldSpec, raw: object, loc: Loc) -> tuple[Scalar, ...] | _Invalid:
        if isinstance(raw, str) or not isinstance(raw, Sequence):
            return self.fail(loc, "expected a list of values", "invalid_type")
        if not raw:
            return self.fail(loc, "the list must not be empty", "required")
        if len(raw) > MAX_LIST_LENGTH:
            return self.fail(loc, f"a list may hold at most {MAX_LIST_LENGTH} values", "too_large")
        items: list[Scalar] = []
        ok = True
        for index, item in enumerate(raw):
            parsed = self.scalar(spec, item, loc.at(index))
            if isinstance(parsed, _Invalid):
                ok = False
            else:
                items.append(parsed)
        if ok and spec.type is FieldType.BOOLEAN:
            return self.fail(loc, "in/not_in do not apply to booleans", "operator_type_mismatch")
        return tuple(items) if ok else INVALID

    def _between(self, spec: FieldSpec, raw: object, loc: Loc) -> tuple[Scalar, ...] | _Invalid:
        if isinstance(raw, str) or not isinstance(raw, Sequence) or len(raw) != 2:
            return self.fail(loc, "between needs a list of two values [low, high]", "invalid_type")
        low = self.scalar(spec, raw[0], loc.at(0))
        high = self.scalar(spec, raw[1], loc.at(1))
        if isinstance(low, _Invalid) or isinstance(high, _Invalid):
            return INVALID
        low_key, high_key = _order_key(spec, low), _order_key(spec, high)
        if low_key[0] == high_key[0] and low_key[1] > high_key[1]:
            return self.fail(loc, "between needs low <= high", "invalid_value")
        return (low, high)


def _order_key(spec: FieldSpec, value: Scalar) -> tuple[int, float]:
    """A key to check low <= high where both bounds are comparable."""
    if spec.type is FieldType.ENUM and isinstance(value, str):
        return (0, float(spec.rank(value)))
    if isinstance(value, datetime):
        return (1, value.timestamp())
    if isinstance(value, RelativeTime):
        return (2, value.offset.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value))
    return (3, 0.0)
