"""The metrics explanation covers every metric (tests/test_docs.py runs its code)."""

from __future__ import annotations

from pathlib import Path

from campaign_core.metrics import METRICS
from campaign_core.metrics._catalog import DIMENSIONS

ROOT = Path(__file__).resolve().parents[2]


def test_explanation_covers_every_metric_and_dimension() -> None:
    """Every catalog metric and dimension appears in the explanation page."""
    text = (ROOT / "docs" / "explanation" / "metrics.md").read_text(encoding="utf-8")
    for name in [*METRICS, *DIMENSIONS]:
        assert f"`{name}`" in text, name
