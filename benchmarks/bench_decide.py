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

Timings are interleaved (contenders round-robin, rotated each round) and each call is
timed alone: min and median per call (see ``_per_call`` for why not a timed loop).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable

from _harness import Result, Scale
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


def _per_call(
    contenders: dict[str, Callable[[], object]], rounds: int, per: int
) -> dict[str, tuple[float, float]]:
    """Min and median seconds per call: rounds in rotated order, ``per`` calls each timed alone.

    A loop of calls timed as one averages in the scheduler's stalls on a loaded machine
    (tens of ms every few dozen calls), and a ``gc.collect()`` before every single call
    leaves the caches cold: so each call is timed alone, the collector off within a round.
    """
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for round_ in range(rounds):
        shift = round_ % len(names)
        gc.collect()
        gc.disable()
        try:
            for name in names[shift:] + names[:shift]:
                fn = contenders[name]
                for _ in range(per):
                    start = clock()
                    fn()
                    samples[name].append(clock() - start)
        finally:
            gc.enable()
    return {name: (min(t), statistics.median(t)) for name, t in samples.items()}


def _rows(count: int, scale: Scale, rounds: int, per: int) -> list[Result]:
    variants = _variants(count)
    split = {v.id: 100 / count for v in variants}
    times = _per_call(
        {
            "full": lambda: decide(variants, expected_split=split, planned_mde=0.1),
            "lean": lambda: decide(variants, expected_split=split, planned_mde=0.1, bayesian=False),
            "bare": lambda: _bare(count),
        },
        rounds,
        per,
    )
    bare_min, bare_median = times["bare"]
    goal = "; goal <= 1 ms for 2 arms" if count == 2 else ""
    return [
        Result(
            f"decide, {count} arms, {label} (vs bare z-test)",
            times[key][0],
            bare_min,
            note=f"per call: ours {times[key][0] * 1e3:.3f} ms (median"
            f" {times[key][1] * 1e3:.3f}), bare {bare_min * 1e6:.1f} us{goal}",
            measured_median=times[key][1],
            baseline_median=bare_median,
        )
        for key, label in (("full", "with posterior probabilities"), ("lean", "bayesian=False"))
    ]


def decide_two_arms(scale: Scale) -> list[Result]:
    return _rows(2, scale, rounds=scale.n(15, minimum=3), per=scale.n(40, minimum=5))


def decide_four_arms(scale: Scale) -> list[Result]:
    return _rows(4, scale, rounds=scale.n(7, minimum=3), per=scale.n(5, minimum=1))


BENCHMARKS = [decide_two_arms, decide_four_arms]
