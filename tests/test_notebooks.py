"""Every notebook in docs/notebooks/ executes from top to bottom without an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 120


def test_there_are_notebooks() -> None:
    """The docs ship at least the A/B test analysis notebook."""
    assert "ab-test-analysis.ipynb" in {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook runs in a fresh python3 kernel, in a scratch directory, without errors."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel is a subprocess: give it the source tree even when the
    # package is not installed, and a non-interactive matplotlib backend.
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    )
    # The inline backend renders every figure to PNG (so plotting code really
    # runs); a developer's interactive MPLBACKEND must not reach the kernel.
    try:
        import matplotlib_inline  # noqa: F401

        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    except ImportError:
        monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
