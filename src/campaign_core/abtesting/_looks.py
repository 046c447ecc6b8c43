"""The group-sequential policy's look: its information fraction and nominal boundary."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from campaign_core.abtesting._counts import _PROPORTION_METRICS, VariantCounts
from campaign_core.abtesting._results import Comparison
from campaign_core.stats import alpha_spending_bounds

__all__: list[str] = []

#: a look within this much information of the last recorded one is the same look again
_SAME_LOOK = 1e-9


def trials_so_far(items: Sequence[VariantCounts], metric: str) -> int:
    """The metric's trials summed over the variants (what the planned horizon counts)."""
    field = "impressions" if metric == "revenue_per_impression" else _PROPORTION_METRICS[metric][1]
    return sum(int(getattr(v, field)) for v in items)


def look_bound(
    trials: int,
    planned_horizon: int,
    previous: Sequence[float],
    alpha: float,
    comparisons: Sequence[Comparison],
    spending: str,
) -> tuple[float, float]:
    """(this look's information fraction, the nominal p-value a comparison must beat).

    The fraction is ``trials / planned_horizon`` capped at 1; a look at the
    information of the last recorded one (nothing new since) is that look
    again, not a new one, so asking twice spends nothing more. The boundary is
    Lan-DeMets at ``alpha / m`` (Bonferroni over the ``m`` treatments).
    """
    fraction = min(trials / planned_horizon, 1.0)
    looks = list(previous)
    if not looks or fraction > looks[-1] + _SAME_LOOK:
        looks.append(fraction)
    else:
        fraction = looks[-1]
    looks = looks[: looks.index(fraction) + 1]
    return fraction, _nominal_p(tuple(looks), alpha / max(len(comparisons), 1), spending)


@functools.lru_cache(maxsize=1024)
def _nominal_p(looks: tuple[float, ...], alpha: float, spending: str) -> float:
    """The last look's nominal boundary (cached: the same looks give the same bounds)."""
    bounds = alpha_spending_bounds(looks, alpha=alpha, spending=spending)  # type: ignore[arg-type]
    return bounds.nominal_p[-1]
