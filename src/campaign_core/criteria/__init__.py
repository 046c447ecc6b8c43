"""The criteria language: who is in a segment, written once, evaluated three ways.

Criteria arrive in any of four forms (the seed's shorthand, the seed's
condition lists, expression strings, the canonical JSON tree) and are
normalized into one canonical, versioned, immutable tree (:class:`Criteria`).
The tree is evaluated per fan (:func:`evaluate`, :func:`explain`), over numpy
columns (:func:`evaluate_columns`, :func:`evaluate_dataframe`), and compiled to
SQL by the SQLAlchemy store; all of them follow the semantics documented in
``docs/explanation/criteria-language.md``::

    from datetime import UTC, datetime
    from campaign_core.criteria import normalize, evaluate

    criteria = normalize({"spendingLevel": "high", "engagement": ">50"})
    evaluate(criteria, {"spending_level": "high", "engagement": 72.0},
             now=datetime(2026, 1, 1, tzinfo=UTC))   # True
"""

from campaign_core.criteria._evaluate import (
    CompiledCriteria,
    Explanation,
    TraceNode,
    compile_criteria,
    enum_accepts,
    evaluate,
    explain,
)
from campaign_core.criteria._evaluate import _literal_kind as event_property_type
from campaign_core.criteria._fields import (
    DAY_MS as DAY_MS,
)
from campaign_core.criteria._fields import (
    FieldRegistry,
    FieldSource,
    FieldSpec,
    FieldType,
)
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
)
from campaign_core.criteria._normalize import normalize, validate
from campaign_core.criteria._operators import OPERATORS, OperatorSpec, ValueShape
from campaign_core.criteria._ops import (
    allowed_ops,
)
from campaign_core.criteria._ops import (
    lookup_op as lookup_op,
)
from campaign_core.criteria._regex import (
    RegexError,
    compile_safe_regex,
)
from campaign_core.criteria._segments import (
    ensure_no_segment_cycle,
    find_segment_cycle,
)
from campaign_core.criteria._vector import EventColumns, evaluate_columns
from campaign_core.criteria._vector_frame import evaluate_dataframe

__all__ = [
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "CompiledCriteria",
    "Condition",
    "Criteria",
    "EventColumns",
    "EventCondition",
    "Explanation",
    "FieldRegistry",
    "FieldSource",
    "FieldSpec",
    "FieldType",
    "InSegment",
    "Measure",
    "Node",
    "Not",
    "Op",
    "OperatorSpec",
    "RegexError",
    "RelativeTime",
    "TraceNode",
    "ValueShape",
    "allowed_ops",
    "compile_criteria",
    "compile_safe_regex",
    "ensure_no_segment_cycle",
    "enum_accepts",
    "evaluate",
    "evaluate_columns",
    "evaluate_dataframe",
    "event_property_type",
    "explain",
    "find_segment_cycle",
    "normalize",
    "validate",
]
