"""The public surface of campaign_core.stats and its run-time dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_scalar_inputs_give_python_floats() -> None:
    """Numbers in give plain Python floats (and ints for sizes) out, not numpy scalars."""
    results = [
        stats.two_proportion_ztest(10, 100, 15, 100),
        stats.wilson_interval(10, 100),
        stats.difference_interval(10, 100, 15, 100),
        stats.relative_lift_interval(10, 100, 15, 100, method="fieller"),
        stats.welch_ttest_from_stats(10, 5.0, 9.0, 12, 7.0, 11.0),
        stats.msprt_test(10, 100, 15, 100, tau=0.05),
        stats.srm_test([10, 12], [50, 50]),
    ]
    for result in results:
        for field in ("z", "p_value", "lower", "upper", "t", "statistic", "estimate"):
            if hasattr(result, field):
                assert type(getattr(result, field)) is float, (type(result).__name__, field)
    assert type(stats.welch_ttest_from_stats(10, 5.0, 9.0, 12, 7.0, 11.0).df) is float
    assert type(stats.srm_test([10, 12], [50, 50]).df) is int  # a count of groups
    plan = stats.sample_size_two_proportions(0.1, 0.1)
    assert type(plan.n_a) is int
    assert type(plan.n_a_exact) is float
    assert type(stats.power_two_proportions(0.1, 0.1, 1000)) is float
    assert type(stats.minimum_detectable_effect(0.1, 1000)) is float
    assert type(stats.prob_beat_control(10, 100, 15, 100)) is float
    numpy_scalars = stats.two_proportion_ztest(np.int64(10), np.int64(100), np.float64(15), 100)
    assert type(numpy_scalars.z) is float
