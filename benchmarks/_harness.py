"""A tiny harness for benchmarks that print ratios against a baseline measured in the same run.

Each ``benchmarks/bench_*.py`` module defines ``BENCHMARKS``: a list of functions
taking a :class:`Scale` and returning one or more :class:`Result`. A result names
the workload, the seconds (or bytes) it took, the baseline's seconds measured in
the same process just before or after, and the goal as a ratio. ``run_all.py``
runs every module and prints one table. Nothing here asserts: a benchmark reports.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass


class SkipBenchmark(Exception):
    """Raised by a workload that cannot run here (missing server or package)."""


@dataclass(frozen=True)
class Scale:
    """How big to make the workloads: ``factor`` 1.0 is the size the issues name."""

    factor: float = 1.0

    def n(self, full: int, minimum: int = 1) -> int:
        return max(minimum, int(full * self.factor))


@dataclass(frozen=True)
class Result:
    """One line of the table.

    Attributes:
        name: the workload.
        measured: our time in seconds (or another unit named in ``unit``).
        baseline: the baseline's time, measured in the same run; ``None`` for a
            plain report (throughput, memory) with no ratio.
        goal: the goal for ``measured / baseline`` (``"<= 2.0"``) or ``""``.
        unit: ``"s"``, ``"MiB"``, ``"steps/s"``...
        note: anything the reader should know (sizes, what the baseline is).
    """

    name: str
    measured: float
    baseline: float | None = None
    goal: str = ""
    unit: str = "s"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.measured / self.baseline

    def meets_goal(self) -> bool | None:
        """Whether the ratio meets ``goal`` (``"<= x"`` or ``">= x"``); None if no goal."""
        ratio = self.ratio
        if ratio is None or not self.goal:
            return None
        op, _, value = self.goal.partition(" ")
        target = float(value)
        return ratio <= target if op == "<=" else ratio >= target


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds (GC off while timing)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def format_table(results: list[Result]) -> str:
    """Render results as a fixed-width table."""
    header = f"{'benchmark':<58} {'ours':>12} {'baseline':>12} {'ratio':>9} {'goal':>8}  ok"
    lines = [header, "-" * len(header)]
    for r in results:
        ratio = r.ratio
        ok = r.meets_goal()
        lines.append(
            f"{r.name:<58} {r.measured:>10.4g}{r.unit:>2} "
            f"{'' if r.baseline is None else f'{r.baseline:.4g}':>12} "
            f"{'' if ratio is None else f'{ratio:.2f}x':>9} {r.goal:>8}  "
            f"{'' if ok is None else ('yes' if ok else 'NO')}"
            + (f"   ({r.note})" if r.note else "")
        )
    return "\n".join(lines)
