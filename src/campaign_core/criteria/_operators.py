"""Every criteria operator as one spec: its name, the field types it applies to, its value.

An operator is defined once, here, as an :class:`OperatorSpec`; the rest of the
language reads :data:`OPERATORS`: parsing (spellings), validation (which fields take
it, what value it needs) and the description of event filters. Each back end that
evaluates criteria has its own table from operator to implementation, one entry per
field type the spec names:

- the per-fan evaluator: ``campaign_core.criteria._evaluate_tests.TESTS``;
- the vectorized evaluator: ``campaign_core.criteria._vector.LEAVES``;
- SQL: ``campaign_core_sqlalchemy._criteria_sql.SQL_OPERATORS``.

``tests/criteria/test_operator_specs.py`` fails when a back end's table lacks an
operator (or a field type of one), so adding an operator is: a member of
:class:`~campaign_core.criteria.Op`, a spec here, and an entry in each table (the
differential tests then check the back ends agree on it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

import attrs

from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._model import Op

__all__ = [
    "OPERATORS",
    "OperatorSpec",
    "ValueShape",
]


class ValueShape(enum.StrEnum):
    """What value a leaf with the operator takes."""

    NONE = "none"
    """No value (``is_set``)."""
    SCALAR = "scalar"
    """One value of the field's type (a member for an enum)."""
    TEXT = "text"
    """A string, whatever the field's type (``contains`` on a string list)."""
    PATTERN = "pattern"
    """A string that is a safe regular expression."""
    LIST = "list"
    """A non-empty list of values of the field's type."""
    RANGE = "range"
    """``[low, high]`` of the field's type, low not above high."""
    DURATION = "duration"
    """A duration (``7d``, ``PT12H``)."""


_N = FieldType.NUMBER
_S = FieldType.STRING
_B = FieldType.BOOLEAN
_D = FieldType.DATETIME
_L = FieldType.STRING_LIST
_E = FieldType.ENUM


@attrs.frozen
class OperatorSpec:
    """One operator of the criteria language.

    Attributes:
        op: the operator (its value is the canonical JSON spelling).
        field_types: the field types it applies to.
        value: the value it takes.
        ordered_enums: it also applies to ranked enum fields (``spending_level``).
        event_type: what an event property (``where`` of a behavioural leaf) is
            read as under it: a field type, ``"literal"`` for the type of the
            value given, ``None`` when it does not apply to event properties.
        spellings: other names accepted for it (matched ignoring case, ``_``,
            ``-`` and spaces).
        negated_spellings: names that mean ``not (field op value)``.
        description: what it means, for the reference.
    """

    op: Op
    field_types: frozenset[FieldType]
    value: ValueShape
    ordered_enums: bool = False
    event_type: FieldType | Literal["literal"] | None = None
    spellings: tuple[str, ...] = ()
    negated_spellings: tuple[str, ...] = ()
    description: str = ""

    def applies_to(self, spec: FieldSpec) -> bool:
        """Whether a field of ``spec``'s type (and rank) takes this operator."""
        if spec.type in self.field_types:
            return True
        return self.ordered_enums and spec.type is FieldType.ENUM and spec.ordered

    @property
    def all_field_types(self) -> frozenset[FieldType]:
        """Every field type a back end must implement it for (ranked enums included)."""
        return self.field_types | ({_E} if self.ordered_enums else frozenset())


def _spec(
    op: Op,
    types: set[FieldType],
    value: ValueShape,
    description: str,
    *spellings: str,
    ordered_enums: bool = False,
    event_type: FieldType | Literal["literal"] | None = None,
    negated: tuple[str, ...] = (),
) -> OperatorSpec:
    return OperatorSpec(
        op=op,
        field_types=frozenset(types),
        value=value,
        ordered_enums=ordered_enums,
        event_type=event_type,
        spellings=spellings,
        negated_spellings=negated,
        description=description,
    )


_ALL = {_N, _S, _B, _D, _L, _E}

# In the order of Op (the reference lists them so). Strings get no gt/lt: Python
# orders by code point, SQL by collation, so the evaluators could not agree.
_SPECS: Final[tuple[OperatorSpec, ...]] = (
    _spec(
        Op.EQ,
        {_S, _N, _B, _D, _E},
        ValueShape.SCALAR,
        "equal to the value",
        "equals",
        "equal",
        "equal_to",
        "is",
        "==",
        "=",
        "===",
        event_type="literal",
    ),
    _spec(
        Op.NEQ,
        {_S, _N, _B, _D, _E},
        ValueShape.SCALAR,
        "present and not equal to the value",
        "ne",
        "not_equals",
        "not_equal",
        "not_equal_to",
        "is_not",
        "!=",
        "<>",
        "!==",
        event_type="literal",
    ),
    _spec(
        Op.GT,
        {_N, _D},
        ValueShape.SCALAR,
        "greater than the value (later, for datetimes; higher rank, for ranked enums)",
        "greater_than",
        "greater",
        "more_than",
        ">",
        ordered_enums=True,
        event_type=_N,
    ),
    _spec(
        Op.GTE,
        {_N, _D},
        ValueShape.SCALAR,
        "greater than or equal to the value",
        "ge",
        "greater_than_or_equal",
        "greater_than_or_equals",
        "greater_than_or_equal_to",
        "at_least",
        ">=",
        ordered_enums=True,
        event_type=_N,
    ),
    _spec(
        Op.LT,
        {_N, _D},
        ValueShape.SCALAR,
        "less than the value",
        "less_than",
        "less",
        "fewer_than",
        "<",
        ordered_enums=True,
        event_type=_N,
    ),
    _spec(
        Op.LTE,
        {_N, _D},
        ValueShape.SCALAR,
        "less than or equal to the value",
        "le",
        "less_than_or_equal",
        "less_than_or_equals",
        "less_than_or_equal_to",
        "at_most",
        "<=",
        ordered_enums=True,
        event_type=_N,
    ),
    _spec(
        Op.BETWEEN,
        {_N, _D},
        ValueShape.RANGE,
        "between the two values, both included",
        "in_range",
        ordered_enums=True,
        event_type=_N,
        negated=("not_between",),
    ),
    _spec(
        Op.IN,
        {_S, _N, _L, _E},
        ValueShape.LIST,
        "one of the values (a string list: shares one)",
        "one_of",
        "is_one_of",
        "is_in",
        "any_of",
        event_type="literal",
    ),
    _spec(
        Op.NOT_IN,
        {_S, _N, _L, _E},
        ValueShape.LIST,
        "present and none of the values",
        "none_of",
        "is_not_in",
        "not_one_of",
        event_type="literal",
    ),
    _spec(
        Op.CONTAINS,
        {_S, _L},
        ValueShape.TEXT,
        "a string containing the text; a string list holding it",
        "has",
        "includes",
        event_type=_S,
        negated=("not_contains", "does_not_contain", "not_has", "not_includes"),
    ),
    _spec(
        Op.ICONTAINS,
        {_S},
        ValueShape.TEXT,
        "containing the text, ignoring case",
        "contains_ignore_case",
        "contains_insensitive",
        event_type=_S,
        negated=("not_icontains",),
    ),
    _spec(
        Op.STARTS_WITH,
        {_S},
        ValueShape.TEXT,
        "starting with the text",
        "begins_with",
        "startswith",
        event_type=_S,
        negated=("not_starts_with", "not_begins_with"),
    ),
    _spec(
        Op.ENDS_WITH,
        {_S},
        ValueShape.TEXT,
        "ending with the text",
        "endswith",
        event_type=_S,
        negated=("not_ends_with",),
    ),
    _spec(
        Op.REGEX,
        {_S},
        ValueShape.PATTERN,
        "matching the regular expression somewhere (the safe subset; see the reference)",
        "matches",
        "match",
        "regexp",
        event_type=_S,
        negated=("not_regex", "not_matches", "not_match"),
    ),
    _spec(
        Op.IS_SET,
        _ALL,
        ValueShape.NONE,
        "the field has a value",
        "exists",
        "is_not_null",
        "not_null",
        "present",
        "has_value",
        event_type=_S,
    ),
    _spec(
        Op.IS_NOT_SET,
        _ALL,
        ValueShape.NONE,
        "the field has no value",
        "not_exists",
        "does_not_exist",
        "is_null",
        "null",
        "missing",
        "not_set",
        event_type=_S,
    ),
    _spec(Op.BEFORE, {_D}, ValueShape.SCALAR, "earlier than the instant", "earlier_than"),
    _spec(Op.AFTER, {_D}, ValueShape.SCALAR, "later than the instant", "later_than"),
    _spec(
        Op.WITHIN_LAST,
        {_D},
        ValueShape.DURATION,
        "at most the duration before now",
        "in_the_last",
        "in_last",
    ),
    _spec(
        Op.NOT_WITHIN_LAST,
        {_D},
        ValueShape.DURATION,
        "more than the duration before now",
        "not_in_the_last",
        "older_than",
    ),
)

#: Every operator's spec, in the order of :class:`~campaign_core.criteria.Op`.
OPERATORS: Final[Mapping[Op, OperatorSpec]] = MappingProxyType({s.op: s for s in _SPECS})
