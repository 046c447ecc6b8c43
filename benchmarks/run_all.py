"""Run every benchmark in this folder and print one table of ratios.

Usage::

    python benchmarks/run_all.py            # full sizes named in the issues
    python benchmarks/run_all.py --scale 0.01 --only stats

Each ``bench_*.py`` module lists its workloads in ``BENCHMARKS``; a workload
that needs a missing server or package prints why and is left out.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _harness import Result, Scale, SkipBenchmark, format_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="size factor (1.0 = the issues' sizes)"
    )
    parser.add_argument("--only", default="", help="run only modules whose name contains this")
    args = parser.parse_args(argv)
    scale = Scale(args.scale)
    results: list[Result] = []
    skipped: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in path.stem:
            continue
        module = importlib.import_module(path.stem)
        for bench in getattr(module, "BENCHMARKS", []):
            label = f"{path.stem}.{bench.__name__}"
            print(f"running {label} ...", file=sys.stderr, flush=True)
            try:
                out = bench(scale)
            except SkipBenchmark as exc:
                skipped.append(f"{label}: {exc}")
                continue
            except Exception:
                traceback.print_exc()
                skipped.append(f"{label}: failed (traceback above)")
                continue
            results.extend(out if isinstance(out, list) else [out])
    print(format_table(results))
    for line in skipped:
        print(f"skipped {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
