"""The statistics pages' Python examples run as written (blocks of a page share one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["explanation/statistics.md", "howto/plan-an-ab-test.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str) -> None:
    """Every ```python block of the page executes without error, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert blocks, f"{page} has no python examples"
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for index, block in enumerate(blocks):
        code = compile(block, f"{page}[block {index}]", "exec")
        exec(code, namespace)
