"""A/B test domain logic without storage: variants, sticky assignment, the winner decision.

The campaigns service stores tests and counts; everything that decides lives
here as pure functions so a notebook, a CLI or a Next.js route can reuse it:

* :class:`VariantCounts`: one variant's counters (the seed's ``ABTestVariant``).
* :func:`assign_variant`: deterministic, sticky assignment of a fan to a
  variant by the traffic split (sha256 of the test and fan ids).
* ``validate_traffic_split``: the split's rules, with paths.
* :func:`planned_horizon`: a fixed-horizon test's planned size, computed
  once when the test is created.
* :func:`decide`: a :class:`WinnerDecision`: the winner or none and why,
  per-variant rates and intervals, raw and Holm-adjusted p-values against the
  control, difference and lift intervals, Bayesian probabilities, the
  sample-ratio check and the policy used; :class:`Guardrail` metrics a winner
  must not degrade (non-inferiority) and secondary metrics reported with
  their multiplicity.

The seed's minimum samples (1000 impressions, 100 clicks, 30 conversions per
variant) are validity floors (below them the normal approximation and the
rates themselves are not trustworthy), not a power calculation: a test can
pass them and still be far too small to detect the effect it was planned for.
That is what the planned horizon (``before_horizon``) and ``planned_mde``
(``underpowered`` for a null result) are for.
"""

from campaign_core.abtesting._assign import (
    assign_variant,
)
from campaign_core.abtesting._assign import (
    validate_traffic_split as validate_traffic_split,
)
from campaign_core.abtesting._counts import (
    SEED_MIN_SAMPLE as SEED_MIN_SAMPLE,
)
from campaign_core.abtesting._counts import (
    MinimumSample,
    VariantCounts,
)
from campaign_core.abtesting._decide import decide
from campaign_core.abtesting._guardrails import Guardrail, GuardrailResult, SecondaryResult
from campaign_core.abtesting._plan import planned_horizon
from campaign_core.abtesting._recorded import decide_and_record, decide_recorded
from campaign_core.abtesting._results import (
    Comparison,
    DecisionReason,
    SampleShortfall,
    VariantStats,
    WinnerDecision,
)

__all__ = [
    "Comparison",
    "DecisionReason",
    "Guardrail",
    "GuardrailResult",
    "MinimumSample",
    "SampleShortfall",
    "SecondaryResult",
    "VariantCounts",
    "VariantStats",
    "WinnerDecision",
    "assign_variant",
    "decide",
    "decide_and_record",
    "decide_recorded",
    "planned_horizon",
]
