"""Start-up: ``import campaign_core`` against ``import numpy``, and ``campaign-core --help``.

Each contender runs in a fresh interpreter (``python -c``), interleaved with its baseline and
repeated; the baseline of ``--help`` is the bare ``import typer, rich`` it cannot avoid.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _harness import Result, Scale, compare

SRC = Path(__file__).resolve().parents[1] / "src"
_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, env=_ENV, stdout=subprocess.DEVNULL)


def bench_import(scale: Scale) -> list[Result]:
    """``import campaign_core`` (and the core itself) against ``import numpy``."""
    repeat = max(5, scale.n(15))
    numpy = lambda: _python("import numpy")  # noqa: E731
    return [
        compare(
            "import campaign_core",
            lambda: _python("import campaign_core"),
            numpy,
            goal="<= 1.5",
            repeat=repeat,
            note="baseline: import numpy, fresh interpreters",
        ),
        compare(
            "from campaign_core import CampaignCore",
            lambda: _python("from campaign_core import CampaignCore"),
            numpy,
            repeat=repeat,
            note="everything a host needs, no scipy; baseline: import numpy",
        ),
        compare(
            "campaign-core --help",
            lambda: _python(
                "from campaign_core.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass"
            ),
            lambda: _python("import typer, rich.console, rich.progress, rich.logging"),
            repeat=repeat,
            note="goal < 0.5 s absolute; baseline: import typer and rich",
        ),
    ]


BENCHMARKS = [bench_import]
