"""Statistics for A/B tests: pure functions on scalars and numpy arrays.

Conventions (``docs/explanation/statistics.md`` explains them):

* A is the control, B the treatment; differences are **B minus A**, lifts
  ``rate_b / rate_a - 1``. Only :func:`calculate_significance` keeps the
  seed's A-minus-B orientation, to reproduce its output exactly.
* Scalars in, Python floats (in frozen result objects) out; arrays in (any
  argument), float64 arrays of the broadcast shape out.
* No silent NaN: degenerate inputs (zero counts, all successes, zero standard
  error) have documented values; impossible ones raise
  :class:`~campaign_core.errors.ValidationError` naming the argument.
* scipy provides the distributions; statsmodels is only a test oracle.
"""

from campaign_core.stats._bayes import (
    ExpectedLoss,
    expected_loss,
    prob_beat_control,
    prob_best,
)
from campaign_core.stats._cuped import CupedResult, cuped_ttest
from campaign_core.stats._means import (
    CappedWelchResult,
    WelchResult,
    welch_ttest_from_stats,
    welch_ttest_per_fan,
)
from campaign_core.stats._multiplicity import adjust_pvalues
from campaign_core.stats._power import (
    SampleSize,
    minimum_detectable_effect,
    power_two_proportions,
    sample_size_two_proportions,
)
from campaign_core.stats._proportions import (
    DifferenceInterval,
    LiftInterval,
    ProportionInterval,
    ZTestResult,
    difference_interval,
    relative_lift_interval,
    two_proportion_ztest,
    wilson_interval,
)
from campaign_core.stats._ratio import FanMoments, RatioTestResult, ratio_ztest
from campaign_core.stats._seed import SignificanceResult, calculate_significance
from campaign_core.stats._sequential import (
    MsprtResult,
    msprt_from_moments,
    msprt_sequence,
    msprt_test,
)
from campaign_core.stats._spending import (
    SPENDING_FUNCTIONS as SPENDING_FUNCTIONS,
)
from campaign_core.stats._spending import (
    GroupSequentialBounds,
    alpha_spending_bounds,
)
from campaign_core.stats._srm import (
    SRM_ALPHA as SRM_ALPHA,
)
from campaign_core.stats._srm import (
    SrmResult,
    srm_test,
)

__all__ = [
    "CappedWelchResult",
    "CupedResult",
    "DifferenceInterval",
    "ExpectedLoss",
    "FanMoments",
    "GroupSequentialBounds",
    "LiftInterval",
    "MsprtResult",
    "ProportionInterval",
    "RatioTestResult",
    "SampleSize",
    "SignificanceResult",
    "SrmResult",
    "WelchResult",
    "ZTestResult",
    "adjust_pvalues",
    "alpha_spending_bounds",
    "calculate_significance",
    "cuped_ttest",
    "difference_interval",
    "expected_loss",
    "minimum_detectable_effect",
    "msprt_from_moments",
    "msprt_sequence",
    "msprt_test",
    "power_two_proportions",
    "prob_beat_control",
    "prob_best",
    "ratio_ztest",
    "relative_lift_interval",
    "sample_size_two_proportions",
    "srm_test",
    "two_proportion_ztest",
    "welch_ttest_from_stats",
    "welch_ttest_per_fan",
    "wilson_interval",
]
