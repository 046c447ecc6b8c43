"""The public surface of campaign_core.stats and its run-time dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import campaign_core.stats as stats


def test_every_exported_name_exists_and_is_documented() -> None:
    """Each name in __all__ is importable, and every function has Args/Returns/Raises sections."""
    for name in stats.__all__:
        obj = getattr(stats, name)
        if callable(obj) and not isinstance(obj, type):
            doc = obj.__doc__ or ""
            assert "Returns:" in doc, name
            assert "Raises:" in doc, name


def test_private_modules_are_underscored() -> None:
    """Implementation modules start with an underscore; public objects live at the package level."""
    for name in stats.__all__:
        module = getattr(getattr(stats, name), "__module__", "campaign_core.stats._")
        assert module.startswith("campaign_core.stats._"), name


def test_importing_does_not_load_statsmodels_or_heavy_extras() -> None:
    """statsmodels is a test oracle only; pandas, matplotlib, sqlalchemy and boto3 stay unloaded."""
    code = (
        "import sys, campaign_core.stats, campaign_core.abtesting;"
        "print(sorted(m for m in ('statsmodels', 'pandas', 'matplotlib', 'sqlalchemy', 'boto3') if m in sys.modules))"
    )
    src = str(Path(stats.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
