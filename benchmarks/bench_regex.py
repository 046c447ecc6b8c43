"""Regex leaves on 1,000-character traits: every accepted pattern under 10 ms per fan.

The issue's goal: any pattern the ``regex`` operator accepts evaluates a trait of
the maximum length (1,000 characters) in under 10 ms per fan, on every evaluator.
The patterns are the shapes that backtrack exponentially in Python's ``re``,
PostgreSQL's and MariaDB's engines (``a*a*a*a*$``, 28 x ``a{0,100}`` + ``$``...)
and the largest programs the subset allows. For each, the per-fan evaluator, the
vectorized evaluator (200 fans) and SQLite's registered function (200 fans, one
``count``) run interleaved with a ``contains`` leaf on the same fans (the
baseline: a plain substring test), repeated; the table shows the worst pattern's
minimum per fan; ``python benchmarks/bench_regex.py`` prints min and median per
pattern and evaluator.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from _harness import Result, Scale

from campaign_core.criteria import FieldRegistry, compile_criteria, evaluate_columns

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
REGISTRY = FieldRegistry.with_traits({"nickname": "string"})
LIMIT_MS = 10.0

PATTERNS = [
    "a*a*a*a*$",
    "a{0,100}" * 28 + "$",
    "(?:a{0,100})" * 20 + "b",
    "(?i)" + "[a-z]{0,100}" * 20 + "$",
    "[^b]{0,100}" * 23 + "$",
    ".{0,100}" * 28 + "x",
    "(?:ab|ba|a)" * 20 + "$",
    "a*b*a*b*c",
    "^" + "[\\w.]{1,100}@" * 15 + "$",
    "\\s*\\S*\\s*\\S*$",
]
TEXTS = ["a" * 1000, "a" * 999 + "b", "ab" * 500, "a" * 998 + "\n", "x" * 1000]


def _timings(fn: Callable[[], object], fans: int, repeat: int) -> list[float]:
    """Milliseconds per fan of ``repeat`` runs of ``fn`` over ``fans`` fans."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000 / fans)
    return out


def _evaluators(pattern: str, fans: list[dict[str, object]]) -> dict[str, Callable[[], object]]:
    """One callable per evaluator answering the leaf for every fan."""
    import numpy as np

    from campaign_core_sqlalchemy._criteria_sql import register_sqlite_functions

    leaf = {"field": "traits.nickname", "op": "regex", "value": pattern}
    compiled = compile_criteria(leaf, registry=REGISTRY)
    column = np.array([f["traits"]["nickname"] for f in fans], dtype=object)  # type: ignore[index]
    import sqlite3

    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(str(c),) for c in column])
    return {
        "per-fan": lambda: [compiled.evaluate(f, now=NOW) for f in fans],
        "vectorized": lambda: evaluate_columns(
            compiled, {"traits.nickname": column}, now=NOW, registry=REGISTRY
        ),
        "sqlite": lambda: conn.execute(
            "SELECT count(*) FROM t WHERE cc_regexp(?, v) = 1", (pattern,)
        ).fetchone(),
    }


def measure(fans_per_run: int = 200, repeat: int = 5) -> list[tuple[str, str, float, float]]:
    """(pattern, evaluator, min ms/fan, median ms/fan) for every pattern and evaluator."""
    fans = [
        {"traits": {"nickname": TEXTS[i % len(TEXTS)]}, "id": f"f{i}"} for i in range(fans_per_run)
    ]
    rows = []
    baseline = _evaluators("zzz", fans)  # a literal: the cheapest search
    for pattern in PATTERNS:
        ours = _evaluators(pattern, fans)
        for name, fn in ours.items():
            fn()  # compile and warm the automaton's cache
            mine: list[float] = []
            for _ in range(repeat):  # interleave ours and the baseline
                mine += _timings(fn, fans_per_run, 1)
                _timings(baseline[name], fans_per_run, 1)
            rows.append((pattern, name, min(mine), statistics.median(mine)))
    return rows


def regex_on_long_traits(scale: Scale) -> Result:
    """The slowest accepted pattern's time per fan on 1,000-character traits."""
    rows = measure(fans_per_run=scale.n(200, minimum=20))
    worst = max(rows, key=lambda row: row[2])
    return Result(
        name="criteria: regex on 1,000-char traits, worst pattern x evaluator",
        measured=worst[2],
        unit="ms/fan",
        note=f"goal < {LIMIT_MS:g} ms/fan; worst: {worst[1]} on {worst[0][:30]!r}",
    )


BENCHMARKS = [regex_on_long_traits]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    print(f"{'pattern':<34} {'evaluator':<11} {'min ms/fan':>10} {'median':>8}")
    for pattern, name, low, mid in measure():
        flag = "" if low < LIMIT_MS else "  OVER"
        print(f"{pattern[:34]:<34} {name:<11} {low:>10.4f} {mid:>8.4f}{flag}")
