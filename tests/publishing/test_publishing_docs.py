"""The publishing docs' Python examples run as written.

``tests/test_docs.py`` runs every page's examples once it exists; this module
runs this area's two pages so they are checked on this branch too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["docs/howto/publishing.md", "docs/reference/platform-limits.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every python block of the page runs, in order, in one namespace."""
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = _BLOCK.findall(text)
    assert blocks, f"no python examples in {page}"
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for index, block in enumerate(blocks):
        code = compile(block, f"{page}[block {index + 1}]", "exec")
        exec(code, namespace)
