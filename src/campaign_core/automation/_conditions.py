"""Small condition languages of workflows: engagement checks and event filters.

- ``check_engagement`` conditions compare the fan's engagement count with a
  number: ``"engagement < 1"``, ``"engagement >= 3"``.
- Event trigger filters are ``{field, operator, value}`` conditions on the
  triggering event's properties (``"plan"``, ``"properties.plan"``) or its
  ``value``; ``{"plan": "gold"}`` is shorthand for equality. A property that is
  missing, or of another type than the value, does not match.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from campaign_core.criteria import Op, lookup_op
from campaign_core.errors import ProblemCollector, join_path

__all__ = [
    "EngagementCondition",
    "PropertyCondition",
    "match_properties",
    "parse_engagement",
    "parse_filter",
]

_ENGAGEMENT: Final = re.compile(
    r"^\s*engagement\s*(<=|>=|==|!=|<>|=|<|>)\s*(-?\d{1,12}(?:\.\d{1,6})?)\s*$", re.IGNORECASE
)
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
}
_FILTER_OPS: Final = frozenset(
    {
        Op.EQ,
        Op.NEQ,
        Op.GT,
        Op.GTE,
        Op.LT,
        Op.LTE,
        Op.IN,
        Op.NOT_IN,
        Op.CONTAINS,
        Op.IS_SET,
        Op.IS_NOT_SET,
    }
)
_MAX_FILTERS: Final = 20


@attrs.frozen
class EngagementCondition:
    """``engagement <op> <number>``."""

    op: str
    value: float

    def holds(self, engagement: float) -> bool:
        """Whether the condition holds for this engagement count."""
        return _COMPARE[self.op](engagement, self.value)

    def __str__(self) -> str:
        return f"engagement {self.op} {self.value:g}"


def parse_engagement(
    text: Any, path: str, problems: ProblemCollector
) -> EngagementCondition | None:
    """Parse ``"engagement < 1"``; records a problem at ``path`` when it is not one."""
    if not isinstance(text, str):
        problems.add(path, "expected a condition such as 'engagement < 1'", "invalid_type")
        return None
    match = _ENGAGEMENT.match(text)
    if match is None:
        problems.add(
            path,
            f"{text[:80]!r} is not an engagement condition: expected 'engagement <op> <number>'"
            " with <op> one of < <= > >= = !=",
        )
        return None
    return EngagementCondition(match.group(1), float(match.group(2)))


@attrs.frozen
class PropertyCondition:
    """One event filter: ``field`` (a property path or ``value``) ``op`` ``value``."""

    field: str
    op: Op
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "operator": self.op.value}
        if self.op not in (Op.IS_SET, Op.IS_NOT_SET):
            out["value"] = self.value
        return out


def _scalar(value: Any) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return value is None or isinstance(value, str | int | float | bool)


def parse_filter(
    data: Any, path: str, problems: ProblemCollector
) -> tuple[PropertyCondition, ...] | None:
    """An event trigger's ``filter``: a list of conditions or a ``{property: value}`` object."""
    items: list[tuple[str, Any]] = []
    if isinstance(data, Mapping):
        items = [
            (join_path(path, str(key)), {"field": key, "operator": "eq", "value": value})
            for key, value in data.items()
        ]
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        items = [(join_path(path, i), item) for i, item in enumerate(data)]
    else:
        problems.add(path, "expected a list of {field, operator, value} conditions", "invalid_type")
        return None
    if len(items) > _MAX_FILTERS:
        problems.add(path, f"at most {_MAX_FILTERS} filter conditions", "too_long")
        return None
    out: list[PropertyCondition] = []
    before = len(problems.problems)
    for where, item in items:
        if not isinstance(item, Mapping):
            problems.add(where, "expected {field, operator, value}", "invalid_type")
            continue
        unknown = set(item) - {"field", "operator", "op", "value"}
        for key in sorted(map(str, unknown)):
            problems.add(join_path(where, key), "unknown key", "unknown_field")
        field = item.get("field")
        if not isinstance(field, str) or not field or len(field) > 200:
            problems.add(join_path(where, "field"), "expected a property name", "invalid_type")
            continue
        if field.startswith("properties."):
            field = field[len("properties.") :]
        raw_op = item.get("operator", item.get("op", "eq"))
        found = lookup_op(raw_op) if isinstance(raw_op, str) else None
        if found is None or found[1] or found[0] not in _FILTER_OPS:
            problems.add(
                join_path(where, "operator"),
                f"unsupported filter operator {raw_op!r} (use eq, neq, gt, gte, lt, lte, in,"
                " not_in, contains, is_set, is_not_set)",
            )
            continue
        op = found[0]
        value = item.get("value")
        if op in (Op.IN, Op.NOT_IN):
            if not isinstance(value, list | tuple) or not all(_scalar(v) for v in value):
                problems.add(join_path(where, "value"), "expected a list of values", "invalid_type")
                continue
            value = list(value)
        elif op not in (Op.IS_SET, Op.IS_NOT_SET) and (not _scalar(value) or value is None):
            problems.add(
                join_path(where, "value"), "expected a string, number or boolean", "invalid_type"
            )
            continue
        out.append(PropertyCondition(field, op, value))
    if len(problems.problems) > before:
        return None
    return tuple(out)


def _lookup(properties: Mapping[str, Any], value: Any, field: str) -> Any:
    if field == "value":
        return value
    current: Any = properties
    for part in field.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _same_kind(a: Any, b: Any) -> bool:
    number = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, number) and isinstance(b, number):
        return True
    return isinstance(a, str) and isinstance(b, str)


def _holds(cond: PropertyCondition, seen: Any) -> bool:
    op = cond.op
    if op is Op.IS_SET:
        return seen is not None
    if op is Op.IS_NOT_SET:
        return seen is None
    if seen is None:
        return False
    if op in (Op.IN, Op.NOT_IN):
        inside = any(_same_kind(seen, v) and seen == v for v in cond.value)
        return inside if op is Op.IN else not inside
    if op is Op.CONTAINS:
        if isinstance(seen, str) and isinstance(cond.value, str):
            return cond.value in seen
        if isinstance(seen, list):
            return any(_same_kind(v, cond.value) and v == cond.value for v in seen)
        return False
    if not _same_kind(seen, cond.value):
        return False
    if op is Op.EQ:
        return bool(seen == cond.value)
    if op is Op.NEQ:
        return bool(seen != cond.value)
    if isinstance(seen, str | bool):
        return False  # strings and booleans have no order here
    compare = {Op.GT: operator.gt, Op.GTE: operator.ge, Op.LT: operator.lt, Op.LTE: operator.le}
    return bool(compare[op](seen, cond.value))


def match_properties(
    conditions: Sequence[PropertyCondition], properties: Mapping[str, Any], value: Any = None
) -> bool:
    """Whether an event (its properties and value) passes every filter condition."""
    return all(_holds(c, _lookup(properties, value, c.field)) for c in conditions)
