"""``decide`` for 2 and 4 arms against the bare formula (issue 20).

* ``decide_two_arms``: one full ``decide`` (input checks, Wilson intervals, the
  pooled z-test, Newcombe and lift intervals, the sample-ratio check, power,
  and the posterior probabilities, which for two arms are one exact sum) and
  one with ``bayesian=False``, against the bare pooled z-test in plain Python
  (``math`` and ``scipy.special.ndtr``). The issue's goal is absolute: at most
  1 ms per two-arm decision (it took 35 ms, 98 % of it a numerical integral
  for ``prob_best``). The ratio to the bare formula is reported, not a goal:
  the bare formula decides nothing.
* ``decide_four_arms``: the same with three treatments (Holm over three
  z-tests in the baseline). ``prob_best`` for more than two arms is still a
  numerical integral per variant; ``bayesian=False`` skips it.

Timings are interleaved (min and median over rounds), ``per`` calls per round.
"""

from __future__ import annotations

import math

from _harness import Result, Scale, compare
from scipy import special

from campaign_core.abtesting import VariantCounts, decide

_ARMS = [
    ("a", 53_211, 5321, 1560),
    ("b", 53_211, 5321, 1872),
    ("c", 53_211, 5321, 1600),
    ("d", 53_211, 5321, 1500),
]


def _variants(count: int) -> list[VariantCounts]:
    return [
        VariantCounts(vid, is_control=i == 0, impressions=n, clicks=c, conversions=k)
        for i, (vid, n, c, k) in enumerate(_ARMS[:count])
    ]


def _bare(count: int) -> object:
    """The pooled z-tests of each treatment against the control, Holm-adjusted, by hand."""
    _, na, _, ka = _ARMS[0]
    ps = []
    for _, nb, _, kb in _ARMS[1:count]:
        pooled = (ka + kb) / (na + nb)
        se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = (kb / nb - ka / na) / se
        ps.append(2 * float(special.ndtr(-abs(z))))
    order = sorted(range(len(ps)), key=ps.__getitem__)
    adjusted, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def _rows(count: int, scale: Scale, per: int) -> list[Result]:
    variants = _variants(count)
    split = {v.id: 100 / count for v in variants}

    def full() -> object:
        for _ in range(per):
            decide(variants, expected_split=split, planned_mde=0.1)
        return None

    def lean() -> object:
        for _ in range(per):
            decide(variants, expected_split=split, planned_mde=0.1, bayesian=False)
        return None

    def bare() -> object:
        for _ in range(per):
            _bare(count)
        return None

    full()  # warm the imports
    rows = [
        compare(
            f"decide, {count} arms, with posterior probabilities (vs bare z-test)",
            full,
            bare,
            repeat=scale.n(9, minimum=3),
            per=per,
        ),
        compare(
            f"decide, {count} arms, bayesian=False (vs bare z-test)",
            lean,
            bare,
            repeat=scale.n(9, minimum=3),
            per=per,
        ),
    ]
    return [
        Result(
            r.name,
            r.measured,
            r.baseline,
            goal=r.goal,
            note=f"per call: ours {r.measured * 1e3:.3f} ms, bare {r.baseline * 1e6:.1f} us"
            + ("; goal <= 1 ms for 2 arms" if count == 2 else ""),
            measured_median=r.measured_median,
            baseline_median=r.baseline_median,
        )
        for r in rows
        if r.baseline is not None
    ]


def decide_two_arms(scale: Scale) -> list[Result]:
    return _rows(2, scale, per=scale.n(50, minimum=5))


def decide_four_arms(scale: Scale) -> list[Result]:
    return _rows(4, scale, per=scale.n(5, minimum=1))


BENCHMARKS = [decide_two_arms, decide_four_arms]
