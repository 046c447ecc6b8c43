"""Value expressions: a tiny JSON language for ``update_trait`` values and webhook bodies.

Not a string language and never ``eval``: an expression is JSON, checked when the
workflow is saved (every problem with its path) and evaluated by a small
interpreter over the run's context.

- a JSON scalar (``"gold"``, ``3``, ``true``, ``null``) is itself;
- ``{"$literal": <any JSON>}`` is that JSON as is (a list or an object);
- ``{"$ref": "<path>"}`` reads the run's context: ``fan.<field>`` (a built-in fan
  field, camelCase or snake_case) and ``fan.traits.<name>`` (a declared trait),
  ``event.<...>`` (the event that started the run: ``event.properties.plan``,
  ``event.value``, ``event.name``, ``event.occurredAt``), ``trigger.<...>`` (the
  whole trigger data), ``variables.<name>`` (the run's variables: ``offer``,
  ``campaignId``, ``lastMessageId``...), ``workflow.id``, ``workflow.name``,
  ``run.id``, ``step.id``; a missing value is ``null``;
- ``{"$now": true}`` is the engine's current instant, ``{"$now": "7 days"}`` that
  long after it (ISO-8601 text in UTC);
- ``{"$add": [a, b, ...]}``, ``{"$sub": [a, b]}``, ``{"$mul": [a, b, ...]}``: numbers
  (``null`` counts as 0 in ``$add`` and ``$sub``, so ``{"$add": [{"$ref":
  "fan.traits.visits"}, 1]}`` increments a trait a fan does not have yet);
- ``{"$coalesce": [a, b, ...]}``: the first that is not ``null``;
- ``{"$concat": [a, b, ...]}``: text (numbers and booleans as JSON writes them,
  ``null`` as nothing).

Expressions nest at most :data:`MAX_DEPTH` deep and hold at most :data:`MAX_NODES`
nodes; numbers stay finite and within ±10^15, text within :data:`MAX_TEXT`
characters. A value the interpreter cannot compute (text added to a number...)
raises :class:`ExpressionError`: the step fails without retries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._naming import snake
from campaign_core.criteria import FieldRegistry, FieldSource, FieldType
from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.serialization import check_json_value, format_datetime

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEXT",
    "OPERATORS",
    "Expression",
    "ExpressionError",
    "Scope",
    "evaluate",
    "parse_expression",
    "parse_template",
    "render_template",
]

MAX_DEPTH: Final = 5
MAX_NODES: Final = 50
MAX_TEXT: Final = 10_000
MAX_NUMBER: Final = 1e15
OPERATORS: Final = ("$literal", "$ref", "$now", "$add", "$sub", "$mul", "$coalesce", "$concat")
_ARITY: Final = {
    "$add": (2, 10),
    "$sub": (2, 2),
    "$mul": (2, 10),
    "$coalesce": (1, 10),
    "$concat": (1, 20),
}
_ROOTS: Final = ("fan", "event", "trigger", "variables", "workflow", "run", "step")
_FIXED: Final = {"workflow": ("id", "name"), "run": ("id",), "step": ("id",)}
_EVENT_KEYS: Final = ("id", "name", "occurredAt", "properties", "value")
_MAX_PATH: Final = 200


class ExpressionError(ValueError):
    """An expression could not be computed for this run (a type mismatch, a bound)."""


@attrs.frozen
class Expression:
    """A checked expression.

    Attributes:
        source: the JSON as written (what the canonical workflow keeps).
        type: the type of its value when known when saving (``number``,
            ``string``, ``boolean``, ``datetime``, ``string_list``, ``null``), else None.
    """

    source: Any
    type: str | None = None


@attrs.frozen(kw_only=True)
class Scope:
    """What ``$ref`` and ``$now`` read for one run.

    Attributes:
        now: the engine's instant.
        fan: the fan's fields (snake_case keys, ``traits`` a dict), or empty.
        trigger: the run's trigger data.
        variables: the run's variables.
        workflow / run / step: ``{"id", "name"}``, ``{"id"}``, ``{"id"}``.
    """

    now: datetime
    fan: Mapping[str, Any] = attrs.field(factory=dict)
    trigger: Mapping[str, Any] = attrs.field(factory=dict)
    variables: Mapping[str, Any] = attrs.field(factory=dict)
    workflow: Mapping[str, Any] = attrs.field(factory=dict)
    run: Mapping[str, Any] = attrs.field(factory=dict)
    step: Mapping[str, Any] = attrs.field(factory=dict)


def _kind(value: Any) -> str | None:
    """The expression type of a JSON literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "string_list"
    return None


def _field_type(spec_type: FieldType) -> str:
    return "string" if spec_type is FieldType.ENUM else spec_type.value


@attrs.define
class _Checker:
    problems: ProblemCollector
    registry: FieldRegistry | None
    nodes: int = 0

    def fail(self, path: str, message: str, code: str = "invalid_value") -> None:
        self.problems.add(path, message, code)

    def check(self, value: Any, path: str, depth: int) -> tuple[bool, str | None]:
        """(valid, type) of one expression node."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.fail(path, f"an expression has at most {MAX_NODES} parts", "too_long")
            return False, None
        if depth > MAX_DEPTH:
            self.fail(path, f"expressions nest at most {MAX_DEPTH} deep", "too_deep")
            return False, None
        if value is None or isinstance(value, bool | str):
            if isinstance(value, str) and len(value) > MAX_TEXT:
                self.fail(path, f"text is at most {MAX_TEXT} characters", "too_long")
                return False, None
            return True, _kind(value)
        if isinstance(value, int | float):
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                self.fail(path, "numbers are finite and within ±10^15", "out_of_range")
                return False, None
            return True, "number"
        if isinstance(value, Mapping):
            return self.operator(value, path, depth)
        if isinstance(value, list):
            self.fail(
                path, 'a list is written {"$literal": [...]} in an expression', "invalid_type"
            )
            return False, None
        self.fail(path, f"expected JSON, got {type(value).__name__}", "invalid_type")
        return False, None

    def operator(self, value: Mapping[Any, Any], path: str, depth: int) -> tuple[bool, str | None]:
        if len(value) != 1:
            self.fail(
                path,
                "an operator object has exactly one key, one of " + ", ".join(OPERATORS),
                "invalid_value",
            )
            return False, None
        [(op, arg)] = value.items()
        here = join_path(path, str(op))
        if op not in OPERATORS:
            self.fail(here, f"unknown operator {str(op)[:40]!r} (expected: {', '.join(OPERATORS)})")
            return False, None
        if op == "$literal":
            found = check_json_value(arg, here)
            if found:
                self.problems.problems.extend(found)
                return False, None
            if len(json.dumps(arg)) > MAX_TEXT:
                self.fail(here, f"is larger than {MAX_TEXT} bytes of JSON", "too_long")
                return False, None
            return True, _kind(arg)
        if op == "$ref":
            return self.ref(arg, here)
        if op == "$now":
            if arg is True:
                return True, "datetime"
            try:
                parse_duration(arg, path=here, allow_negative=True)
            except ValidationError as error:
                if isinstance(arg, str):
                    self.problems.extend(error)
                else:
                    self.fail(here, 'expected true or a duration such as "7 days"', "invalid_type")
                return False, None
            return True, "datetime"
        low, high = _ARITY[op]
        if isinstance(arg, str | bytes) or not isinstance(arg, Sequence):
            self.fail(here, f"{op} takes a list of expressions", "invalid_type")
            return False, None
        if not low <= len(arg) <= high:
            what = f"exactly {low}" if low == high else f"{low} to {high}"
            self.fail(here, f"{op} takes {what} expressions", "out_of_range")
            return False, None
        ok, kinds = True, []
        for index, item in enumerate(arg):
            good, kind = self.check(item, join_path(here, index), depth + 1)
            ok = ok and good
            kinds.append(kind)
        if not ok:
            return False, None
        if op in ("$add", "$sub", "$mul"):
            for index, kind in enumerate(kinds):
                if kind not in (None, "number", "null"):
                    self.fail(join_path(here, index), f"{op} adds numbers, not {kind}")
                    ok = False
            return ok, "number"
        if op == "$concat":
            for index, kind in enumerate(kinds):
                if kind == "string_list" or (kind is None and _is_literal_container(arg[index])):
                    self.fail(join_path(here, index), "$concat joins text, numbers and booleans")
                    ok = False
            return ok, "string"
        known = {k for k in kinds if k not in ("null",)}
        return True, (known.pop() if len(known) == 1 and None not in known else None)

    def ref(self, arg: Any, path: str) -> tuple[bool, str | None]:
        if not isinstance(arg, str) or not arg or len(arg) > _MAX_PATH:
            self.fail(path, "expected a path such as 'event.properties.plan'", "invalid_type")
            return False, None
        parts = arg.split(".")
        root = parts[0]
        if root not in _ROOTS or any(not p for p in parts):
            self.fail(path, f"a path starts with one of {', '.join(_ROOTS)} (dots between names)")
            return False, None
        rest = parts[1:]
        if root in _FIXED:
            if len(rest) != 1 or rest[0] not in _FIXED[root]:
                names = ", ".join(f"{root}.{k}" for k in _FIXED[root])
                self.fail(path, f"expected {names}")
                return False, None
            return True, "string"
        if root == "event" and rest and rest[0] not in _EVENT_KEYS:
            self.fail(path, f"the event has {', '.join(_EVENT_KEYS)}")
            return False, None
        if root == "event" and rest[:1] in (["name"], ["id"], ["occurredAt"]):
            return len(rest) == 1 or self._leaf(path), "string"
        if root != "fan":
            return True, None
        if not rest:
            self.fail(path, "name a fan field: fan.lifetimeValue, fan.traits.tier...")
            return False, None
        if rest in (["fanId"], ["fan_id"]):
            return True, "string"
        if self.registry is None:
            return True, None
        if rest[0] == "traits" and len(rest) == 2:
            spec = self.registry.get(f"traits.{rest[1]}")
        elif len(rest) == 1 and rest[0] != "traits":
            spec = self.registry.get(rest[0])
            if spec is not None and spec.source is FieldSource.TRAIT:
                spec = None  # traits are read as fan.traits.<name>
        else:
            spec = None
        if spec is None:
            self.fail(path, f"unknown fan field {'.'.join(rest)[:80]!r}", "unknown_field")
            return False, None
        if spec.source is FieldSource.DERIVED:
            self.fail(path, f"{spec.name!r} is computed for criteria, not a stored field")
            return False, None
        return True, _field_type(spec.type)

    def _leaf(self, path: str) -> bool:
        self.fail(path, "this value has no fields")
        return False


def _is_literal_container(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and "$literal" in value
        and not isinstance(value["$literal"], str | int | float | bool | type(None))
    )


def parse_expression(
    value: Any, path: str, problems: ProblemCollector, *, registry: FieldRegistry | None = None
) -> Expression | None:
    """Check one expression; problems are added with their paths, nothing raised.

    Args:
        value: the expression as written (JSON).
        path: where it sits in the workflow (``actions[2].value``).
        problems: where problems go.
        registry: the account's fields (built-ins and declared traits), to check
            ``fan.`` paths; None accepts any fan path.

    Returns:
        The checked expression, or None when it has problems.
    """
    checker = _Checker(problems, registry)
    ok, kind = checker.check(value, path, 1)
    return Expression(value, kind) if ok else None


def parse_template(
    value: Any, path: str, problems: ProblemCollector, *, registry: FieldRegistry | None = None
) -> bool:
    """Check a JSON template: JSON where every ``{"$...": ...}`` object is an expression.

    Objects whose keys do not start with ``$`` and lists are walked; an object
    with a ``$`` key must be one expression (no other keys). At most
    :data:`MAX_NODES` expressions in the whole template.

    Returns:
        True when the template has no problems (problems are added, not raised).
    """
    checker = _Checker(problems, registry)
    before = len(problems.problems)
    found = check_json_value(value, path)
    if found:
        problems.problems.extend(found)
        return False

    def walk(item: Any, here: str, depth: int) -> None:
        if depth > 20:
            checker.fail(here, "nests too deep", "too_deep")
            return
        if isinstance(item, Mapping):
            if any(isinstance(k, str) and k.startswith("$") for k in item):
                checker.check(item, here, 1)
                return
            for key, sub in item.items():
                walk(sub, join_path(here, str(key)), depth + 1)
        elif isinstance(item, list):
            for index, sub in enumerate(item):
                walk(sub, join_path(here, index), depth + 1)

    walk(value, path, 0)
    return len(problems.problems) == before


def _number(value: Any, op: str, *, nulls: bool) -> float | int:
    if value is None and nulls:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{op} needs numbers, got {type(value).__name__}")
    return value


def _bounded(value: float | int) -> float | int:
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise ExpressionError("the result is not a finite number within ±10^15")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise ExpressionError(f"$concat joins text, numbers and booleans, not {type(value).__name__}")


def _lookup(scope: Scope, path: str) -> Any:
    parts = path.split(".")
    root, rest = parts[0], parts[1:]
    if root == "event":
        value: Any = scope.trigger.get("event")
    elif root == "fan":
        value = dict(scope.fan)
        if rest and rest[0] != "traits":
            rest = [_snake(rest[0]), *rest[1:]]
    else:
        value = getattr(scope, root)
    for part in rest:
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def _snake(name: str) -> str:
    return snake(name)


def evaluate(value: Any, scope: Scope) -> Any:
    """The value of a checked expression for one run.

    Args:
        value: an expression that :func:`parse_expression` accepted.
        scope: the run's context.

    Returns:
        JSON (datetimes as ISO-8601 text).

    Raises:
        ExpressionError: the value cannot be computed (a type mismatch, a bound).
    """
    if not isinstance(value, Mapping):
        return value
    [(op, arg)] = value.items()
    if op == "$literal":
        return json.loads(json.dumps(arg))
    if op == "$ref":
        return _lookup(scope, arg)
    if op == "$now":
        at = scope.now if arg is True else scope.now + _span(arg)
        return format_datetime(at)
    items = [evaluate(item, scope) for item in arg]
    if op == "$coalesce":
        return next((v for v in items if v is not None), None)
    if op == "$concat":
        text = "".join(_text(v) for v in items)
        if len(text) > MAX_TEXT:
            raise ExpressionError(f"the text is longer than {MAX_TEXT} characters")
        return text
    if op == "$mul" and any(v is None for v in items):
        return None
    numbers = [_number(v, op, nulls=op != "$mul") for v in items]
    combine: Callable[[Any, Any], Any] = {
        "$add": lambda a, b: a + b,
        "$sub": lambda a, b: a - b,
        "$mul": lambda a, b: a * b,
    }[op]
    result = numbers[0]
    for number in numbers[1:]:
        result = _bounded(combine(result, number))
    return _bounded(result)


def _span(text: str) -> timedelta:
    return parse_duration(text, allow_negative=True)


def render_template(value: Any, scope: Scope) -> Any:
    """A JSON template (see :func:`parse_template`) with every expression evaluated.

    Raises:
        ExpressionError: an expression cannot be computed.
    """
    if isinstance(value, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            return evaluate(value, scope)
        return {k: render_template(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render_template(v, scope) for v in value]
    return value
