"""The fixed horizon of a test: its planned size, computed once when it is created."""

from __future__ import annotations

import math
from collections.abc import Sequence

from campaign_core._numeric_checks import open_unit
from campaign_core.abtesting._counts import _check_finite
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.stats import sample_size_two_proportions

__all__ = ["planned_horizon"]


def planned_horizon(
    baseline_rate: float,
    planned_mde: float,
    *,
    shares: Sequence[float] = (50.0, 50.0),
    confidence_level: float = 0.95,
    target_power: float = 0.8,
    mde_relative: bool = True,
) -> int:
    """The planned size of a fixed-horizon test: total trials over all variants.

    Each treatment is compared with the control by the pooled two-sided z-test
    at ``alpha / m`` (Bonferroni over the ``m`` treatments, a safe plan for
    Holm), and must have ``target_power`` for ``planned_mde``
    (:func:`~campaign_core.stats.sample_size_two_proportions` with the
    treatment-to-control ratio of the shares). The control's size is the
    largest any comparison needs; each variant gets its share of it, rounded
    up. A fixed-horizon test is read once, when the metric's trials (the
    denominator: impressions, or clicks for ``click_conversion_rate``) summed
    over the variants reach this number: pass it to ``decide(planned_horizon=...)``.

    Compute it once, when the test is created, from the baseline you expect,
    and store it: a power recomputed from the data at every look is itself
    a data-dependent stopping rule.

    Args:
        baseline_rate: the control's expected rate, in (0, 1).
        planned_mde: the effect to detect, relative (default) or absolute.
        shares: the traffic split as weights, the control's first (default 50/50).
        confidence_level: in (0, 1); alpha = 1 - confidence_level.
        target_power: in (0, 1).
        mde_relative: whether ``planned_mde`` is relative to the baseline.

    Returns:
        The total number of trials at the horizon.

    Raises:
        ValidationError: a rate outside (0, 1) (also ``baseline + effect``), a
            zero effect, fewer than 2 shares or a share that is not positive.
    """
    level = open_unit("confidence_level", confidence_level)
    power = open_unit("target_power", target_power)
    problems = ProblemCollector()
    if isinstance(shares, str | bytes) or not isinstance(shares, Sequence) or len(shares) < 2:
        raise ValidationError.single("shares", "needs at least 2 shares", "invalid_value")
    for i, share in enumerate(shares):
        _check_finite(join_path("shares", i), share, problems)
        if not problems and share <= 0:
            problems.add(join_path("shares", i), "must be positive", "out_of_range")
    problems.raise_if_any()
    control, treatments = float(shares[0]), [float(s) for s in shares[1:]]
    alpha = (1.0 - level) / len(treatments)
    control_n = 0.0
    for share in treatments:
        size = sample_size_two_proportions(
            baseline_rate,
            planned_mde,
            relative=mde_relative,
            alpha=alpha,
            power=power,
            ratio=share / control,
        )
        control_n = max(control_n, float(size.n_a_exact))
    # Forgive the last few ulps of floating noise when rounding up, as the stats module does.
    return sum(math.ceil(control_n * share / control * (1.0 - 1e-12)) for share in shares)
