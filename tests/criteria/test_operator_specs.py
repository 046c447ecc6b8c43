"""Every operator is one spec, and every back end implements every spec for every field type."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pytest

from campaign_core.criteria import OPERATORS, FieldType, Op, ValueShape
from campaign_core.criteria._evaluate_tests import TESTS
from campaign_core.criteria._ops import OPS_BY_TYPE, lookup_op
from campaign_core.criteria._vector import LEAVES
from campaign_core_sqlalchemy._criteria_sql import SQL_OPERATORS

BACK_ENDS: dict[str, Mapping[Op, Collection[FieldType]]] = {
    "per-fan (criteria._evaluate_tests.TESTS)": TESTS,
    "vectorized (criteria._vector.LEAVES)": LEAVES,
    "SQL (campaign_core_sqlalchemy._criteria_sql.SQL_OPERATORS)": SQL_OPERATORS,
}


def gaps(table: Mapping[Op, Collection[FieldType]]) -> list[str]:
    """What a back end's table lacks (or has beyond the specs), one line per gap."""
    out = []
    for op, spec in OPERATORS.items():
        if op not in table:
            out.append(f"no {op.value!r}")
            continue
        implemented = frozenset(table[op])
        for type_ in sorted(spec.all_field_types - implemented):
            out.append(f"{op.value!r} not for {type_.value}")
        for type_ in sorted(implemented - spec.all_field_types):
            out.append(f"{op.value!r} for {type_.value}, which its spec does not accept")
    out.extend(f"{op!r} has no spec" for op in table if op not in OPERATORS)
    return out


def test_every_operator_has_one_spec() -> None:
    """Each member of Op is specified, under its own canonical spelling."""
    assert set(OPERATORS) == set(Op)
    for op, spec in OPERATORS.items():
        assert spec.op is op
        assert lookup_op(op.value) == (op, False)
        assert all(lookup_op(s) == (op, False) for s in spec.spellings)
        assert all(lookup_op(s) == (op, True) for s in spec.negated_spellings)


@pytest.mark.parametrize("back_end", list(BACK_ENDS))
def test_every_back_end_implements_every_operator(back_end: str) -> None:
    """A back end whose table lacks an operator, or a field type of one, fails here."""
    assert gaps(BACK_ENDS[back_end]) == [], f"{back_end} is incomplete"


def test_a_missing_operator_is_caught() -> None:
    """The check names what a table lacks: a whole operator or one field type."""
    table = {op: set(types) for op, types in TESTS.items()}
    del table[Op.REGEX]
    table[Op.IN].discard(FieldType.STRING_LIST)
    assert gaps(table) == ["'in' not for string_list", "no 'regex'"]


def test_the_type_table_is_derived_from_the_specs() -> None:
    """Which operators a field type takes is read off the specs."""
    for type_, ops in OPS_BY_TYPE.items():
        assert ops == {op for op, spec in OPERATORS.items() if type_ in spec.field_types}
    assert {op for op, s in OPERATORS.items() if s.value is ValueShape.NONE} == {
        Op.IS_SET,
        Op.IS_NOT_SET,
    }
