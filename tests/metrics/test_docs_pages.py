"""The metrics pages: their python blocks run, and the explanation covers every metric."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campaign_core.metrics import DIMENSIONS, METRICS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "docs" / "howto" / "cloudwatch.md", ROOT / "docs" / "explanation" / "metrics.md"]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's python blocks run in order, in one namespace (as tests/test_docs.py does)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for index, source in enumerate(blocks):
        exec(compile(source, f"{page.name}[block {index + 1}]", "exec"), namespace)
    assert capsys.readouterr().out


def test_explanation_covers_every_metric_and_dimension() -> None:
    """Every catalog metric and dimension appears in the explanation page."""
    text = (ROOT / "docs" / "explanation" / "metrics.md").read_text(encoding="utf-8")
    for name in [*METRICS, *DIMENSIONS]:
        assert f"`{name}`" in text, name
