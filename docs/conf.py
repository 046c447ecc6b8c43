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
# an attribute named like another (``type``, ``name``) is ambiguous in short references;
# Sphinx then links the first, which is the closest
suppress_warnings = ["ref.python"]
# Nitpicky mode (every reference must resolve) is not on yet: about a hundred references
# in docstrings still name things the reference does not document under that name. The
# resolver and the docstring hook below already settle most of them.
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
    ("py:.*", r"(Axes|Figure|Engine|Connection|DataFrame|Series|NDArray|ArrayLike|npt\..*)"),
    ("py:.*", r"(timedelta|datetime|date|Logger|logging\..*|Iterable|Sequence|Mapping|Callable)"),
    # the runtime's own types (the unit of work, the wiring) are not public API: jobs and
    # services take them, hosts never build them
    ("py:.*", r"(campaign_core\._runtime\..*|Runtime|Tx)"),
    # private helper types that appear in signatures
    ("py:.*", r"campaign_core\..*\._[A-Za-z]\w*"),
    # type variables of generic classes and functions
    ("py:.*", r"campaign_core.*\.[A-Z]"),
    ("py:class", r"(T|R|V|K|E)"),
]


def _public_target(target: str) -> list[str]:
    """Where a name given by a longer path may be documented: the same path with module
    components left out (``campaign_core.models._campaigns.Campaign`` ->
    ``campaign_core.models.Campaign``; ``campaign_core.services.abtests.ABTestService.x`` ->
    ``campaign_core.services.ABTestService.x``), private ones first.
    """
    parts = target.split(".")
    public = ".".join(p for p in parts if not p.startswith("_"))
    candidates = [public] if public != target else []
    for end in range(len(parts) - 1, 0, -1):
        for start in range(1, end):
            candidates.append(".".join(parts[:start] + parts[end:]))
    return candidates


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        count += 1
    return count


def _resolve_private(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a reference the Python domain could not.

    A path through private or re-exporting modules goes to where the object is documented
    (see :func:`_public_target`); a short name (``Campaign``, ``flush``) goes to the one
    object documented under that name, or, when several are, to the one nearest the module
    whose docstring refers to it.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target:
        return None
    domain = env.get_domain("py")
    objects = domain.objects
    candidates = [c for c in _public_target(target) if c in objects] if "." in target else []
    tail = "." + target.rsplit(".", 1)[-1] if "." not in target else "." + target
    same_name = [n for n in objects if n.endswith(tail) and n.startswith("campaign_core")]
    context = node.get("py:class") or ""
    context = ".".join(filter(None, (node.get("py:module") or "", context)))
    if len(same_name) > 1 and context:
        best = max(_shared_prefix(n, context) for n in same_name)
        same_name = [n for n in same_name if _shared_prefix(n, context) == best]
    if len(same_name) == 1:
        candidates.append(same_name[0])
    for candidate in candidates:
        node["reftarget"] = candidate
        resolved = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode
        )
        if resolved is not None:
            return resolved
    node["reftarget"] = target
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_private)


html_theme = "alabaster"
html_static_path: list[str] = []
