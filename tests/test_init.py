"""The package root: its names load on first use, and importing it loads no heavy dependency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import campaign_core

SRC = Path(campaign_core.__file__).resolve().parents[1]


def _run(code: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip()


def test_every_exported_name_resolves() -> None:
    """Each name in __all__ is an attribute of the package and appears in dir()."""
    for name in campaign_core.__all__:
        assert getattr(campaign_core, name) is not None, name
        assert name in dir(campaign_core), name


def test_exported_names_are_the_defining_modules_objects() -> None:
    """A lazily loaded name is the very object its module defines."""
    from campaign_core._core import CampaignCore
    from campaign_core.errors import ValidationError

    assert campaign_core.CampaignCore is CampaignCore
    assert campaign_core.ValidationError is ValidationError


def test_unknown_names_raise_attribute_error() -> None:
    """A name the package does not have raises AttributeError, not ImportError."""
    with pytest.raises(AttributeError, match="no_such_name"):
        campaign_core.no_such_name  # noqa: B018


def test_subpackages_load_on_attribute_access() -> None:
    """`import campaign_core` then `campaign_core.models.Campaign` works as it did."""
    assert _run("import campaign_core; print(campaign_core.models.Campaign.__name__)") == "Campaign"


def test_import_loads_no_scipy() -> None:
    """Importing the package, the core and the statistics loads no scipy module."""
    code = (
        "import sys, campaign_core; from campaign_core import CampaignCore;"
        "import campaign_core.stats, campaign_core.abtesting, campaign_core.analytics;"
        "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    )
    assert _run(code) == "[]"


def test_a_statistic_loads_scipy_when_it_needs_it() -> None:
    """A statistic that needs scipy's special functions imports them on its first call."""
    code = (
        "import sys, campaign_core.stats as s;"
        "r = s.welch_ttest_from_stats(10, 5.0, 9.0, 12, 7.0, 11.0);"
        "print('scipy.special' in sys.modules, 0.0 <= r.p_value <= 1.0)"
    )
    assert _run(code) == "True True"
