"""The API reference documents every public name once: a test, so a new name cannot be left out.

A public module is one whose dotted path has no part starting with ``_``; its public names
are its ``__all__``. The reference pages (``docs/reference/*.md``) document a module with
``.. automodule:: X`` and ``:members:`` (its ``__all__``), minus ``:exclude-members:``, which
lists the names documented where they live. Every object named in any public ``__all__``
must be documented by exactly one such directive (the package root re-exports the names
hosts use most; each is documented in its home module).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import campaign_core
import campaign_core_memory
import campaign_core_sqlalchemy

try:
    import campaign_core_http
except ImportError:  # the http extra is not installed: its page is not checked
    campaign_core_http = None  # type: ignore[assignment]

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"
DIRECTIVE = re.compile(
    r"^\.\. automodule:: (?P<module>[\w.]+)\n(?P<options>(?:   :[^\n]*\n)*)", re.MULTILINE
)


def public_modules() -> dict[str, Any]:
    """Every importable public module with an ``__all__``."""
    found: dict[str, Any] = {}
    packages = [campaign_core, campaign_core_memory, campaign_core_sqlalchemy, campaign_core_http]
    for package in [p for p in packages if p is not None]:
        names = [package.__name__] + [
            info.name
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if not any(p.startswith("_") for p in info.name.split("."))
            and not info.name.endswith(".migrations.env")  # runs only under Alembic
        ]
        for name in names:
            module = importlib.import_module(name)
            if hasattr(module, "__all__"):
                found[name] = module
    return found


def documented() -> dict[str, set[str]]:
    """Module -> the names its automodule directive documents."""
    out: dict[str, set[str]] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            module = importlib.import_module(match.group("module"))
            options = match.group("options")
            assert ":members:" in options, (page.name, match.group("module"))
            excluded = set()
            for line in options.splitlines():
                if line.strip().startswith(":exclude-members:"):
                    excluded = {n.strip() for n in line.split(":", 2)[2].split(",")}
            assert match.group("module") not in out, f"{match.group('module')} documented twice"
            out[match.group("module")] = set(module.__all__) - excluded
    return out


def test_every_public_name_is_documented_exactly_once() -> None:
    """Each object in a public __all__ appears in one automodule directive of the reference."""
    modules = public_modules()
    pages = documented()
    places: defaultdict[int, list[str]] = defaultdict(list)
    for module_name, names in pages.items():
        module = modules[module_name]
        for name in names:
            places[id(getattr(module, name))].append(f"{module_name}.{name}")
    missing = []
    for module_name, module in modules.items():
        for name in module.__all__:
            if not places.get(id(getattr(module, name))):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"not in the reference: {sorted(missing)}"
    twice = sorted(tuple(sorted(p)) for p in places.values() if len(p) > 1)
    assert not twice, f"documented more than once: {twice}"


def test_the_check_finds_a_name_left_out(monkeypatch: Any) -> None:
    """A name added to a public module the reference does not cover is reported missing."""
    import campaign_core.services.credentials as module  # no directive of its own

    def new_helper() -> None:
        """A helper nobody documented."""

    monkeypatch.setattr(module, "new_helper", new_helper, raising=False)
    monkeypatch.setattr(module, "__all__", [*module.__all__, "new_helper"])
    with pytest.raises(AssertionError, match=r"campaign_core\.services\.credentials\.new_helper"):
        test_every_public_name_is_documented_exactly_once()
