"""Every ```python block in the docs and the README runs as written.

A page's blocks run in order, in one namespace, in a scratch directory that is
also on ``sys.path``. Two conventions let samples that belong to the reader's
application run too:

- A block whose first line is a comment naming a module (``# myapp/campaigns.py``)
  is written to that path in the scratch directory instead of being executed;
  later blocks import it (an Alembic ``env.py`` runs under Alembic, not alone).
- A block inside an HTML comment (``<!-- ... -->``) is not shown in the built
  docs but runs like the others: it stands in for what the reader already has
  (their publisher, their Alembic project) and checks what the sample claims.

``DATABASE_URL`` is a SQLite file in the scratch directory, and
``AWS_DEFAULT_REGION`` is set, as a reader's deployment would set them.

A Python sample that cannot run (it needs a package the project does not
depend on) is a ```{code-block} python block with ``:class: no-run``, and the
page says why; any other ```{code-block} python block fails the test below.
"""

from __future__ import annotations

import importlib
import linecache
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if "_build" not in p.parts
)
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
MODULE = re.compile(r"\A# ([\w/.-]+\.py)\n")
DIRECTIVE = re.compile(r"^```\{code-block\} python[^\n]*\n((?::[^\n]*\n)*)", re.MULTILINE)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's python blocks run in order, in one namespace, twice in the same directory.

    The second run is what a reader who tries a sample again gets: files the first
    run left behind (a SQLite database, a report) must not make it fail.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    monkeypatch.setenv("DATABASE_URL", "sqlite:///app.sqlite3")
    for run in (1, 2):
        _run_page(page, tmp_path, run)


def _run_page(page: Path, tmp_path: Path, run: int) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    try:
        for index, source in enumerate(blocks(page)):
            name = f"{page.relative_to(ROOT)}[block {index + 1}, run {run}]"
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            code = compile(source, name, "exec")
            module = MODULE.match(source)
            if module:
                path = tmp_path / module.group(1)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(source, encoding="utf-8")
                importlib.invalidate_caches()
            else:
                exec(code, namespace)
    finally:
        # the page's own modules (myapp...) must not leak into the next page or test
        for loaded in [key for key, mod in sys.modules.items() if _loaded_from(mod, tmp_path)]:
            del sys.modules[loaded]


def _loaded_from(module: object, root: Path) -> bool:
    """Whether a module (or namespace package) was loaded from under ``root``."""
    places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    return any(place and str(place).startswith(str(root)) for place in places)


def test_python_samples_that_do_not_run_say_so() -> None:
    """A ```{code-block} python block is allowed only with ``:class: no-run``."""
    unmarked = [
        f"{page.relative_to(ROOT)}: {options.strip() or 'no options'}"
        for page in PAGES
        for options in DIRECTIVE.findall(page.read_text(encoding="utf-8"))
        if ":class: no-run" not in options
    ]
    assert not unmarked, "python samples that never run:\n" + "\n".join(unmarked)
