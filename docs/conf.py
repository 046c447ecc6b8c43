"""Sphinx configuration for the campaign-core documentation."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

project = "campaign-core"
author = "campaign-core developers"
copyright = "2026, campaign-core developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints", "**/README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_use_ivar = True
suppress_warnings = ["myst.xref_missing", "ref.python"]
nitpicky = False
# The build is offline (no intersphinx inventories), so references to the standard library
# and third-party packages cannot resolve: they are named here, and everything of our own
# must resolve.
nitpick_ignore_regex = [
    (
        "py:.*",
        r"(datetime|collections\.abc|typing|abc|enum|decimal|zoneinfo|pathlib|io|types)(\..*)?",
    ),
    (
        "py:.*",
        r"(numpy|np|attrs|attr|cattrs|scipy|pandas|sqlalchemy|sa|alembic|matplotlib|boto3|botocore|typer|click|pytest|hypothesis|re2|pymysql|psycopg)(\..*)?",
    ),
    ("py:.*", r"(Axes|Figure|Engine|Connection|DataFrame|Series|NDArray|ArrayLike)"),
    # type variables of generic classes and functions
    ("py:.*", r"campaign_core.*\.[A-Z]"),
    ("py:class", r"(T|R|V|K|E)"),
]


def _public_target(target: str) -> list[str]:
    """Where a name defined in a private module is documented: its public package.

    Type hints name the defining module (``campaign_core.models._campaigns.Campaign``);
    the reference documents the name where users import it (``campaign_core.models``,
    or the package root).
    """
    parts = target.split(".")
    public = [p for p in parts[:-1] if not p.startswith("_")]
    candidates = []
    while public:
        candidates.append(".".join([*public, parts[-1]]))
        public.pop()
    return candidates


def _resolve_private(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve ``campaign_core.x._y.Name`` to the public ``campaign_core.x.Name``."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("campaign_core"):
        return None
    if not any(part.startswith("_") for part in target.split(".")):
        return None
    domain = env.get_domain("py")
    for candidate in _public_target(target):
        node["reftarget"] = candidate
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode
        )
        if found is not None:
            return found
    node["reftarget"] = target
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_private)


html_theme = "alabaster"
html_static_path: list[str] = []
