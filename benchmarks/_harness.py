"""A tiny harness for benchmarks that print ratios against a baseline measured in the same run.

Each ``benchmarks/bench_*.py`` module defines ``BENCHMARKS``: a list of functions
taking a :class:`Scale` and returning one or more :class:`Result`. A result names
the workload, the seconds (or bytes) it took, the baseline's seconds measured in
the same process just before or after, and the goal as a ratio. ``run_all.py``
runs every module and prints one table. Nothing here asserts: a benchmark reports.
"""

from __future__ import annotations

import gc
import os
import statistics
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
    measured_median: float | None = None
    baseline_median: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.measured / self.baseline

    @property
    def median_ratio(self) -> float | None:
        if not self.measured_median or not self.baseline_median:
            return None
        return self.measured_median / self.baseline_median

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


@dataclass(frozen=True)
class Timing:
    """The fastest and the median of the repeated runs of one contender, in seconds."""

    min: float
    median: float


def _time_once(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    gc.collect()
    gc.disable()
    try:
        start = clock()
        fn()
        return clock() - start
    finally:
        gc.enable()


def interleaved(
    contenders: dict[str, Callable[[], object]],
    repeat: int = 7,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time every contender ``repeat`` times, round-robin, each round in a rotated order.

    Timing ours then the baseline (or each once) lets a burst of load on a shared machine
    land on one side only; interleaving spreads it over both, and the min and the median
    of the rounds show how much noise there was. ``clock`` is wall time by default;
    ``time.process_time`` measures the CPU this process spent, which waiting for a busy
    machine's cores does not inflate (meaningful only when all the work is in-process,
    as with SQLite).
    """
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_time_once(contenders[name], clock))
    return {name: Timing(min(times), statistics.median(times)) for name, times in samples.items()}


def compare(
    name: str,
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    goal: str = "",
    repeat: int = 7,
    per: int = 1,
    note: str = "",
) -> Result:
    """One result row for ``ours`` against ``baseline``, timed interleaved (see :func:`interleaved`).

    ``per`` divides the times (report per call when each run makes ``per`` calls).
    """
    timings = interleaved({"ours": ours, "baseline": baseline}, repeat=repeat)
    return Result(
        name,
        timings["ours"].min / per,
        timings["baseline"].min / per,
        goal=goal,
        note=note,
        measured_median=timings["ours"].median / per,
        baseline_median=timings["baseline"].median / per,
    )


def _number(value: float) -> str:
    """``12,345`` for large values, 4 significant digits otherwise (no exponents)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def format_table(results: list[Result]) -> str:
    """Render results as a fixed-width table (columns sized to their contents)."""
    name_width = max([len("benchmark"), *(len(r.name) for r in results)])
    cells = [
        (
            r.name,
            f"{_number(r.measured)} {r.unit}".rstrip(),
            "" if r.baseline is None else _number(r.baseline),
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            "" if r.median_ratio is None else f"{r.median_ratio:.2f}x",
            r.goal,
            "" if r.meets_goal() is None else ("yes" if r.meets_goal() else "NO"),
            r.note,
        )
        for r in results
    ]
    widths = [
        max([len(title), *(len(str(c[i])) for c in cells)])
        for i, title in enumerate(
            ["ours (min)", "baseline", "ratio", "median ratio", "goal"], start=1
        )
    ]

    def row(name: str, ours: str, base: str, ratio: str, median: str, goal: str, ok: str) -> str:
        return (
            f"{name:<{name_width}}  {ours:>{widths[0]}}  {base:>{widths[1]}}  "
            f"{ratio:>{widths[2]}}  {median:>{widths[3]}}  {goal:>{widths[4]}}  {ok:<3}"
        )

    header = row("benchmark", "ours (min)", "baseline", "ratio", "median ratio", "goal", "ok")
    lines = [header, "-" * len(header)]
    for name, ours, base, ratio, median, goal, ok, note in cells:
        line = row(name, ours, base, ratio, median, str(goal), ok)
        lines.append(line + (f"  ({note})" if note else ""))
    return "\n".join(lines)


def server_database_url(variable: str, label: str, suffix: str = "bench") -> str:
    """A database ``<db>_cc_<suffix>`` on the server the test URL names (created if missing).

    A benchmark that empties tables of its own passes its own ``suffix``, so benchmarks
    run at the same time do not empty each other's tables.
    """
    base = os.environ.get(variable)
    if not base:
        raise SkipBenchmark(f"set {variable} to run the {label} workload")
    import sqlalchemy as sa

    url = sa.make_url(base)
    name = f"{url.database}_cc_{suffix}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if url.get_backend_name() == "postgresql":
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        else:
            conn.exec_driver_sql(  # the collation the tests use: ids compare exactly
                f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
