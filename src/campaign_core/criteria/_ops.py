"""Which operators apply to which field types, and the spellings accepted for them."""

from __future__ import annotations

from collections.abc import Mapping

from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._model import Measure, Op

__all__ = [
    "NO_VALUE_OPS",
    "OPS_BY_TYPE",
    "ORDERED_ENUM_OPS",
    "allowed_ops",
    "lookup_op",
    "measure_type",
]

NO_VALUE_OPS = frozenset({Op.IS_SET, Op.IS_NOT_SET})
_EXISTENCE = NO_VALUE_OPS
_EQUALITY = frozenset({Op.EQ, Op.NEQ})
_MEMBERSHIP = frozenset({Op.IN, Op.NOT_IN})
_ORDER = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN})
_TEXT = frozenset({Op.CONTAINS, Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.REGEX})
_TIME = frozenset({Op.BEFORE, Op.AFTER, Op.WITHIN_LAST, Op.NOT_WITHIN_LAST})

# Strings get no gt/lt: Python orders by code point, SQL by collation, so the
# evaluators could not agree.
OPS_BY_TYPE: Mapping[FieldType, frozenset[Op]] = {
    FieldType.STRING: _EQUALITY | _MEMBERSHIP | _TEXT | _EXISTENCE,
    FieldType.NUMBER: _EQUALITY | _ORDER | _MEMBERSHIP | _EXISTENCE,
    FieldType.BOOLEAN: _EQUALITY | _EXISTENCE,
    FieldType.DATETIME: _EQUALITY | _ORDER | _TIME | _EXISTENCE,
    FieldType.STRING_LIST: frozenset({Op.CONTAINS}) | _MEMBERSHIP | _EXISTENCE,
    FieldType.ENUM: _EQUALITY | _MEMBERSHIP | _EXISTENCE,
}
ORDERED_ENUM_OPS = OPS_BY_TYPE[FieldType.ENUM] | _ORDER


def allowed_ops(spec: FieldSpec) -> frozenset[Op]:
    """The operators a field accepts."""
    if spec.type is FieldType.ENUM and spec.ordered:
        return ORDERED_ENUM_OPS
    return OPS_BY_TYPE[spec.type]


def measure_type(measure: Measure) -> FieldType:
    """The type of a behavioural measure (count/sum are numbers, *_at datetimes)."""
    return FieldType.NUMBER if measure in (Measure.COUNT, Measure.SUM) else FieldType.DATETIME


def _key(text: str) -> str:
    return text.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


# spelling (normalized by _key) -> (operator, negated)
_SPELLINGS: dict[str, tuple[Op, bool]] = {}


def _add(op: Op, *spellings: str, negated: bool = False) -> None:
    for spelling in (op.value, *spellings) if not negated else spellings:
        _SPELLINGS[_key(spelling)] = (op, negated)


_add(Op.EQ, "equals", "equal", "equal_to", "is", "==", "=", "===")
_add(Op.NEQ, "ne", "not_equals", "not_equal", "not_equal_to", "is_not", "!=", "<>", "!==")
_add(Op.GT, "greater_than", "greater", "more_than", ">")
_add(
    Op.GTE,
    "ge",
    "greater_than_or_equal",
    "greater_than_or_equals",
    "greater_than_or_equal_to",
    "at_least",
    ">=",
)
_add(Op.LT, "less_than", "less", "fewer_than", "<")
_add(
    Op.LTE,
    "le",
    "less_than_or_equal",
    "less_than_or_equals",
    "less_than_or_equal_to",
    "at_most",
    "<=",
)
_add(Op.BETWEEN, "in_range")
_add(Op.IN, "one_of", "is_one_of", "is_in", "any_of")
_add(Op.NOT_IN, "none_of", "is_not_in", "not_one_of")
_add(Op.CONTAINS, "has", "includes")
_add(Op.ICONTAINS, "contains_ignore_case", "contains_insensitive")
_add(Op.STARTS_WITH, "begins_with", "startswith")
_add(Op.ENDS_WITH, "endswith")
_add(Op.REGEX, "matches", "match", "regexp")
_add(Op.IS_SET, "exists", "is_not_null", "not_null", "present", "has_value")
_add(Op.IS_NOT_SET, "not_exists", "does_not_exist", "is_null", "null", "missing", "not_set")
_add(Op.BEFORE, "earlier_than")
_add(Op.AFTER, "later_than")
_add(Op.WITHIN_LAST, "in_the_last", "in_last")
_add(Op.NOT_WITHIN_LAST, "not_in_the_last", "older_than")
_add(Op.CONTAINS, "not_contains", "does_not_contain", "not_has", "not_includes", negated=True)
_add(Op.ICONTAINS, "not_icontains", negated=True)
_add(Op.STARTS_WITH, "not_starts_with", "not_begins_with", negated=True)
_add(Op.ENDS_WITH, "not_ends_with", negated=True)
_add(Op.BETWEEN, "not_between", negated=True)
_add(Op.REGEX, "not_regex", "not_matches", "not_match", negated=True)


def lookup_op(text: str) -> tuple[Op, bool] | None:
    """The operator a spelling names, and whether it is negated (``not_contains``).

    Spellings are matched case-insensitively, ignoring ``_``, ``-`` and spaces:
    ``equals``, ``notEquals``, ``>=``, ``greaterThanOrEqual``, ``is_set``...
    Negated spellings become ``{"not": leaf}`` in the canonical tree.
    """
    return _SPELLINGS.get(_key(text))
