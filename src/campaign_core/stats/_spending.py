"""Group-sequential boundaries by Lan-DeMets alpha spending (planned looks).

A test read at ``K`` planned looks, at information fractions ``t_1 < ... <
t_K`` (the share of the planned sample seen at each look), spends its
two-sided ``alpha`` over the looks: by look ``k`` at most ``alpha(t_k)``,

* O'Brien-Fleming type: ``alpha / 2`` per side, each spent as
  ``2 - 2 Phi(z_{1 - alpha/4} / sqrt(t))`` (almost nothing early, nearly all
  at the end; Lan and DeMets 1983, gsDesign's ``sfLDOF``);
* Pocock type: ``alpha(t) = alpha log(1 + (e - 1) t)`` (evenly).

Look ``k``'s boundary ``c_k`` is the z such that the probability, under the
null, of first crossing ``|Z| >= c`` at look ``k`` is ``alpha(t_k) -
alpha(t_{k-1})``. Z is a Brownian motion in the information, so the
probability of having stayed inside so far is carried from look to look as a
density of the score ``S = Z sqrt(t)`` on a grid (Armitage, McPherson and
Rowe's recursion, integrated by Simpson's rule; boundaries accurate to about
1e-6), and each ``c_k`` solved by Brent's method. Looks may be unequally
spaced; the last need not be at ``t = 1`` (then less than ``alpha`` is spent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np

from campaign_core._numeric_checks import check_choice, open_unit
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = ["SPENDING_FUNCTIONS", "GroupSequentialBounds", "alpha_spending_bounds"]

SPENDING_FUNCTIONS = ("obrien_fleming", "pocock")
_GRID = 801  # points per look (odd, for Simpson's rule)


@attrs.frozen
class GroupSequentialBounds:
    """The boundaries of :func:`alpha_spending_bounds`.

    Attributes:
        information: the information fractions of the looks.
        z_bounds: per look, reject when ``|Z| >= z_bound`` (``inf``: nothing spent there).
        nominal_p: per look, the two-sided p-value ``2 (1 - Phi(z_bound))`` to compare
            the look's fixed-sample p-value with.
        cumulative_alpha: ``alpha(t_k)``, spent by each look.
        alpha: the two-sided level.
        spending: ``"obrien_fleming"`` or ``"pocock"``.
    """

    information: tuple[float, ...]
    z_bounds: tuple[float, ...]
    nominal_p: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    alpha: float
    spending: str


def _spent(t: float, alpha: float, spending: str) -> float:
    from scipy import special

    if spending == "pocock":
        return alpha * math.log1p((math.e - 1.0) * t)
    # alpha / 2 per side, each spent by 2 - 2 Phi(z_{1 - alpha/4} / sqrt(t)) (gsDesign's sfLDOF)
    z = float(special.ndtri(1.0 - alpha / 4.0))
    return 4.0 * float(special.ndtr(-z / math.sqrt(t)))


def _crossing_gap(
    c: float, t: float, sd: float, grid: np.ndarray, mass: np.ndarray | None, target: float
) -> float:
    """P(first crossing of ``|Z| >= c`` at this look) minus ``target``.

    ``mass`` is the previous look's continuation sub-density times the Simpson
    weights at the points ``grid`` of the score; ``None`` at the first look.
    """
    from scipy import special

    if mass is None:
        return 2.0 * float(special.ndtr(-c)) - target
    edge = c * math.sqrt(t)
    upper = special.ndtr((grid - edge) / sd)  # P(S_k >= edge | S_{k-1} = s)
    lower = special.ndtr((-edge - grid) / sd)  # P(S_k <= -edge | S_{k-1} = s)
    return float(np.sum(mass * (upper + lower))) - target


def _simpson_weights(n: int, step: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * step / 3.0


def alpha_spending_bounds(
    information: Sequence[float],
    *,
    alpha: float = 0.05,
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming",
) -> GroupSequentialBounds:
    """Two-sided group-sequential boundaries for planned looks by Lan-DeMets spending.

    Args:
        information: the looks' information fractions, increasing, in (0, 1]
            (e.g. ``[0.25, 0.5, 0.75, 1.0]`` for four equal looks).
        alpha: the two-sided level, in (0, 1).
        spending: ``"obrien_fleming"`` (default) or ``"pocock"``.

    Returns:
        The boundaries (see the module notes).

    Raises:
        ValidationError: no looks, fractions that are not finite, outside (0, 1]
            or not increasing, a bad ``alpha`` or spending function.
    """
    from scipy import optimize, special

    level = open_unit("alpha", alpha)
    check_choice("spending", spending, SPENDING_FUNCTIONS)
    if isinstance(information, str | bytes) or not isinstance(information, Sequence):
        raise ValidationError.single("information", "must be a list of fractions", "invalid_type")
    if not information:
        raise ValidationError.single("information", "needs at least one look", "invalid_value")
    problems = ProblemCollector()
    ts: list[float] = []
    for i, value in enumerate(information):
        path = join_path("information", i)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problems.add(path, "must be a finite number", "invalid_type")
        elif not 0.0 < value <= 1.0:
            problems.add(path, "must be in (0, 1]", "out_of_range")
        elif ts and value <= ts[-1]:
            problems.add(path, "must be above the previous look's", "out_of_range")
        else:
            ts.append(float(value))
    problems.raise_if_any()

    cumulative = [_spent(t, level, spending) for t in ts]
    bounds: list[float] = []
    # the score S_k = Z_k sqrt(t_k): its sub-density of not having crossed yet, on a grid
    grid = np.zeros(0)
    density = np.zeros(0)
    weights = np.zeros(0)
    previous_t, previous_spent = 0.0, 0.0
    for k, (t, spent) in enumerate(zip(ts, cumulative)):
        increment = spent - previous_spent
        delta = t - previous_t
        sd = math.sqrt(delta)
        mass = None if k == 0 else weights * density
        if increment <= 1e-15:
            c = math.inf
        else:
            c = float(
                optimize.brentq(
                    _crossing_gap, 1e-6, 40.0, args=(t, sd, grid, mass, increment), xtol=1e-10
                )
            )
        bounds.append(c)
        # carry the density of S_k over the continuation region |S_k| < c sqrt(t)
        edge = min(c, 12.0) * math.sqrt(t)
        new_grid = np.linspace(-edge, edge, _GRID)
        if k == 0:
            new_density = np.exp(-0.5 * new_grid**2 / t) / math.sqrt(2.0 * math.pi * t)
        else:
            kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / sd) ** 2) / (
                sd * math.sqrt(2.0 * math.pi)
            )
            new_density = kernel @ (weights * density)
        grid, density = new_grid, new_density
        weights = _simpson_weights(_GRID, (2.0 * edge) / (_GRID - 1))
        previous_t, previous_spent = t, spent
    nominal = tuple(0.0 if math.isinf(c) else 2.0 * float(special.ndtr(-c)) for c in bounds)
    return GroupSequentialBounds(
        information=tuple(ts),
        z_bounds=tuple(bounds),
        nominal_p=nominal,
        cumulative_alpha=tuple(cumulative),
        alpha=level,
        spending=spending,
    )
