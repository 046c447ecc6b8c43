"""Sphinx configuration for the campaign-core documentation."""

from __future__ import annotations

import re
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
nitpicky = True
# The build is offline (no intersphinx inventories), so references to the standard library
# and third-party packages cannot resolve: they are named here, and everything of our own
# must resolve.
nitpick_ignore_regex = [
    (
        "py:.*",
        r"(datetime|collections\.abc|typing|abc|enum|decimal|zoneinfo|pathlib|io|types|ssl|http)(\..*)?",
    ),
    (
        "py:.*",
        r"(numpy|np|attrs|attr|cattrs|scipy|pandas|sqlalchemy|sa|alembic|matplotlib|boto3|botocore|typer|click|pytest|hypothesis|re2|pymysql|psycopg|starlette|uvicorn)(\..*)?",
    ),
    ("py:.*", r"(Axes|Figure|Engine|Connection|DataFrame|Series|NDArray|ArrayLike|npt\..*)"),
    ("py:.*", r"(Starlette|Request|Response|Awaitable|ClassVar)"),
    ("py:.*", r"(timedelta|datetime|date|Logger|logging\..*|Iterable|Sequence|Mapping|Callable)"),
    # the runtime's own types (the unit of work, the wiring) are not public API: jobs and
    # services take them, hosts never build them
    ("py:.*", r"(campaign_core\._runtime\..*|Runtime|Tx)"),
    # private helper types (a base class or an alias in a private module) that appear in
    # signatures: internal, not in the reference; the resolver below has already tried
    # the public path of each
    ("py:.*", r"campaign_core(\.\w+)*\._\w+(\.\w+)*"),
    ("py:.*", r"_\w+"),
    # Python's constants as napoleon reads them from "True: ..." entries
    ("py:.*", r"(True|False|None|\d+)"),
    ("py:.*", r"contextlib\..*"),
    # Literal aliases of a parameter's allowed values, shown by name in signatures
    ("py:.*", r"(Aggregation|Output|ScriptStep)"),
    # alembic's configuration object
    ("py:.*", r"Config"),
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


_SECTION = re.compile(r"^(?P<indent>\s*)(Args|Arguments|Attributes|Returns|Yields):\s*$")
_ENTRY = re.compile(r"^(?P<lead>\s*)(?P<head>[^:`]*?): ")
_NAMES = re.compile(r"^\w+(\s*/\s*\w+)+$")


def _docstring_entries(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    """Keep napoleon from reading our prose as a type.

    Google style lets an entry start with a type (``int: the count``); napoleon turns it
    into a cross-reference. Two of our ways of writing entries are not types: several
    names that share a description (``workflow_id / fan_id: ...``), written here as
    ``workflow_id, fan_id``; and a head that is a sentence (an attribute docstring such as
    ``refused for good (...): back to draft``, a return value described in words), whose
    colon becomes a dash.
    """

    def rewrite(line: str) -> str:
        match = _ENTRY.match(line)
        if not match:
            return line
        head = match.group("head").strip()
        if _NAMES.match(head):
            # one token: Sphinx reads ":ivar a b:" as a type and a name
            names = "/".join(part.strip() for part in head.split("/"))
            return match.group("lead") + names + ": " + line[match.end() :]
        if " " in head and not any(c in head for c in "([|*"):
            return match.group("lead") + head + " - " + line[match.end() :]
        return line

    if what in ("attribute", "property", "data") and lines:
        # one entry: any head with two spaces is a sentence, parentheses or not
        match = _ENTRY.match(lines[0])
        if match and match.group("head").count(" ") >= 2 and "|" not in match.group("head"):
            lines[0] = match.group("head") + " - " + lines[0][match.end() :]
        else:
            lines[0] = rewrite(lines[0])
        return
    entry_indent: int | None = None
    for index, line in enumerate(lines):
        section = _SECTION.match(line)
        if section:
            entry_indent = len(section.group("indent")) + 4
            continue
        if entry_indent is None or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent < entry_indent:
            entry_indent = None
        elif indent == entry_indent:
            lines[index] = rewrite(line)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_private)
    # before napoleon (priority 500) reads the entries
    app.connect("autodoc-process-docstring", _docstring_entries, priority=400)


html_theme = "alabaster"
html_static_path: list[str] = []
