"""Which operators apply to which field types, and the spellings accepted for them.

Derived from the operator specs (:data:`~campaign_core.criteria._operators.OPERATORS`),
where each operator is defined once.
"""

from __future__ import annotations

from collections.abc import Mapping

from campaign_core.criteria._fields import FieldSpec, FieldType
from campaign_core.criteria._model import Measure, Op
from campaign_core.criteria._operators import OPERATORS, ValueShape

__all__ = [
    "NO_VALUE_OPS",
    "OPS_BY_TYPE",
    "ORDERED_ENUM_OPS",
    "allowed_ops",
    "lookup_op",
    "measure_type",
]

NO_VALUE_OPS = frozenset(op for op, spec in OPERATORS.items() if spec.value is ValueShape.NONE)

OPS_BY_TYPE: Mapping[FieldType, frozenset[Op]] = {
    type_: frozenset(op for op, spec in OPERATORS.items() if type_ in spec.field_types)
    for type_ in FieldType
}
ORDERED_ENUM_OPS = OPS_BY_TYPE[FieldType.ENUM] | frozenset(
    op for op, spec in OPERATORS.items() if spec.ordered_enums
)


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


def _spellings() -> dict[str, tuple[Op, bool]]:
    """Spelling (normalized by ``_key``) to (operator, negated)."""
    out: dict[str, tuple[Op, bool]] = {}
    for spec in OPERATORS.values():
        for spelling in (spec.op.value, *spec.spellings):
            out[_key(spelling)] = (spec.op, False)
    for spec in OPERATORS.values():
        for spelling in spec.negated_spellings:
            out[_key(spelling)] = (spec.op, True)
    return out


_SPELLINGS: Mapping[str, tuple[Op, bool]] = _spellings()


def lookup_op(text: str) -> tuple[Op, bool] | None:
    """The operator a spelling names, and whether it is negated (``not_contains``).

    Spellings are matched case-insensitively, ignoring ``_``, ``-`` and spaces:
    ``equals``, ``notEquals``, ``>=``, ``greaterThanOrEqual``, ``is_set``...
    Negated spellings become ``{"not": leaf}`` in the canonical tree.
    """
    return _SPELLINGS.get(_key(text))
