"""The public API is pinned: a new public name is a reviewed diff, and each has one home.

The public names are the ``__all__`` of every public module (no part of its dotted path starts
with ``_``; see ``tests/test_reference.py``). ``tests/public_api.txt`` lists them, one
``module name`` per line. After adding, moving or removing a public name on purpose, accept
the new surface with::

    PYTHONPATH=src python tests/test_public_api.py --update

and let the diff of ``tests/public_api.txt`` be reviewed with the change
(``docs/explanation/architecture.md``, "The public API", says what belongs there).
"""

from __future__ import annotations

import sys
import types
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

if __name__ == "__main__":
    # run as a script: import from the repository's root, not from tests/ (whose http/
    # would hide the standard library's http)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

SNAPSHOT = Path(__file__).with_name("public_api.txt")
ROOT = "campaign_core"
UPDATE = "PYTHONPATH=src python tests/test_public_api.py --update"


def _public_modules() -> dict[str, Any]:
    from tests.test_reference import public_modules

    return public_modules()


def current_surface() -> list[str]:
    """``module name`` for every name of every public ``__all__``, sorted."""
    return sorted(
        f"{module_name} {name}"
        for module_name, module in _public_modules().items()
        for name in module.__all__
    )


def _identity(name: str, value: Any) -> object:
    """Classes, functions and modules by identity; other values (constants) by name too."""
    if isinstance(value, (type, types.FunctionType, types.ModuleType)) or callable(value):
        return id(value)
    return (name, id(value))


def exported_twice(modules: dict[str, Any]) -> list[list[str]]:
    """Objects in the ``__all__`` of more than one public module other than the root.

    The package root re-exports the names hosts start with; every other public name has
    exactly one public module, its home.
    """
    places: defaultdict[object, list[str]] = defaultdict(list)
    for module_name, module in modules.items():
        if module_name == ROOT:
            continue
        for name in module.__all__:
            places[_identity(name, getattr(module, name))].append(f"{module_name}.{name}")
    return sorted(sorted(p) for p in places.values() if len(p) > 1)


def test_the_public_surface_matches_the_snapshot() -> None:
    """Every public name is listed in tests/public_api.txt, and nothing else is."""
    actual = current_surface()
    from tests import test_reference

    # without the http extra, campaign_core_http is not imported and not compared
    absent = {"campaign_core_http"} if test_reference.campaign_core_http is None else set()
    expected = [
        line
        for line in SNAPSHOT.read_text(encoding="utf-8").splitlines()
        if line.split()[0].split(".")[0] not in absent
    ]
    added = sorted(set(actual) - set(expected))
    removed = sorted(set(expected) - set(actual))
    changed = {"added": added, "removed": removed} if added or removed else {}
    assert not changed, (
        f"the public API changed: {changed}. If this is meant, run `{UPDATE}` and commit "
        "tests/public_api.txt with the change."
    )


def test_each_public_name_has_one_home() -> None:
    """No object is exported by two public modules (the package root aside)."""
    twice = exported_twice(_public_modules())
    assert not twice, f"exported from more than one public module: {twice}"


def test_the_root_re_exports_only_what_has_no_other_home_or_lives_elsewhere() -> None:
    """A name of the root is either defined for the root (CampaignCore...) or re-exported
    from the one public module that is its home."""
    modules = _public_modules()
    homes = {
        _identity(name, getattr(module, name))
        for module_name, module in modules.items()
        if module_name != ROOT
        for name in module.__all__
    }
    root = modules[ROOT]
    orphans = [
        name
        for name in root.__all__
        if _identity(name, getattr(root, name)) not in homes
        and not (getattr(getattr(root, name), "__module__", "") or "").startswith(
            ("campaign_core._core", "campaign_core._version")
        )
        and name != "__version__"
    ]
    assert not orphans, f"root names with no public home: {orphans}"


def test_the_check_finds_a_second_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name re-exported by a second public module is reported."""
    import campaign_core.stats as stats
    from campaign_core.analytics import compute_metrics

    monkeypatch.setattr(stats, "compute_metrics", compute_metrics, raising=False)
    monkeypatch.setattr(stats, "__all__", [*stats.__all__, "compute_metrics"])
    twice = exported_twice(_public_modules())
    assert ["campaign_core.analytics.compute_metrics", "campaign_core.stats.compute_metrics"] in (
        twice
    )


def main() -> None:
    """``--update`` rewrites the snapshot; without it, print the surface's size per module."""
    surface = current_surface()
    if "--update" in sys.argv[1:]:
        SNAPSHOT.write_text("\n".join(surface) + "\n", encoding="utf-8")
        print(f"wrote {SNAPSHOT} ({len(surface)} names)")
        return
    counts: defaultdict[str, int] = defaultdict(int)
    for line in surface:
        counts[line.split()[0]] += 1
    for module_name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{count:4d} {module_name}")
    print(f"{len(surface):4d} in all")


if __name__ == "__main__":
    main()
