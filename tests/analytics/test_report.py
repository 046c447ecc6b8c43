"""Reports: JSON, CSV and PDF generated and read back; plot helpers; lazy matplotlib."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from campaign_core.analytics import (
    EventBatch,
    ReportData,
    budget_pacing,
    build_report,
    compare_platforms,
    compute_metrics,
    conversion_funnel,
    parse_report_csv,
    performance_trend,
    plot_funnel,
    plot_platforms,
    plot_trend,
    render_report,
)
from campaign_core.errors import MissingDependencyError, ValidationError
from campaign_core.models import Campaign

from .strategies import T0, ev

SRC = Path(__file__).resolve().parents[2] / "src"


def sample_batch() -> EventBatch:
    rng = np.random.default_rng(2)
    n = 6000
    kind = rng.choice(4, n, p=[0.8, 0.14, 0.03, 0.03])
    return EventBatch.from_columns(
        kind=kind,
        occurred_at=np.int64(int(T0.timestamp() * 1000)) + rng.integers(0, 14 * 86_400_000, n),
        value=np.where(kind >= 2, rng.uniform(1, 40, n).round(2), 0.0),
        fan_id=rng.integers(0, 900, n),
        platform=np.array(["instagram", "tiktok", "reddit"], dtype=object)[rng.integers(0, 3, n)],
        variant_id=np.array(["A", "B"], dtype=object)[rng.integers(0, 2, n)],
    )


def sample_campaign(name: str = "Spring $5 off 💪") -> Campaign:
    return Campaign(
        id="c1",
        user_id="owner-1",
        name=name,
        type="ppv",
        status="active",
        platforms=["instagram", "tiktok", "reddit"],
        budget=2000.0,
        started_at=T0,
        created_at=T0,
        updated_at=T0,
    )


def sample_report(name: str = "Spring $5 off 💪") -> ReportData:
    batch = sample_batch()
    metrics = compute_metrics(batch, campaign_id="c1")
    now = T0 + timedelta(days=14)
    trend = performance_trend(batch, timeframe="7d", now=now)
    pacing = budget_pacing(budget=2000.0, spent=metrics.totals.spent, started_at=T0, now=now)
    return build_report(
        sample_campaign(name), metrics, trend=trend, generated_at=now, pacing=pacing
    )


def test_json_report_is_strict_json() -> None:
    """The JSON report round-trips through json with allow_nan=False and keeps camelCase keys."""
    data = render_report(sample_report(), "json")
    assert isinstance(data, dict)
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back == data
    assert set(data) == {
        "campaign",
        "generatedAt",
        "metrics",
        "funnel",
        "roi",
        "trend",
        "platforms",
        "pacing",
        "recommendations",
    }
    assert data["metrics"]["totals"]["conversionRate"] == pytest.approx(
        data["metrics"]["totals"]["conversions"] / data["metrics"]["totals"]["clicks"]
    )
    assert data["generatedAt"] == "2026-03-16T00:00:00.000Z"


def test_csv_report_is_parsed_back_with_the_csv_module() -> None:
    """Every section parses with csv, and the numbers match the report's."""
    report = sample_report()
    text = render_report(report, "csv")
    sections = parse_report_csv(text)
    assert list(sections) == [
        "report",
        "summary",
        "roi",
        "funnel",
        "platforms",
        "variants",
        "platform_tests",
        "trend",
        "trend_changes",
        "pacing",
    ]
    summary = {row["metric"]: row["value"] for row in sections["summary"]}
    assert int(summary["impressions"]) == report.metrics.totals.impressions
    assert float(summary["revenue"]) == report.metrics.totals.revenue
    assert [row["platform"] for row in sections["platforms"]] == ["instagram", "reddit", "tiktok"]
    assert [row["step"] for row in sections["funnel"]] == ["impressions", "clicks", "conversions"]
    assert len(sections["trend"]) == len(report.trend.buckets)  # type: ignore[union-attr]
    assert {row["field"]: row["value"] for row in sections["report"]}["name"] == "Spring $5 off 💪"


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    """A campaign name starting with '=' is written quoted, so Excel shows it as text."""
    text = render_report(sample_report('=HYPERLINK("http://x")'), "csv")
    fields = {row["field"]: row["value"] for row in parse_report_csv(text)["report"]}
    assert fields["name"] == '\'=HYPERLINK("http://x")'


def test_parse_report_csv_rejects_other_csv() -> None:
    """A row before any section title is not a report."""
    with pytest.raises(ValidationError):
        parse_report_csv("a,b\n1,2\n")


def test_pdf_report_renders_to_non_blank_pages() -> None:
    """The PDF opens with pdfium, has the chart pages, and each page has ink on it."""
    pdf = render_report(sample_report(), "pdf")
    assert pdf.startswith(b"%PDF")
    document = pdfium.PdfDocument(pdf)
    assert len(document) == 4  # summary+funnel, trend, platforms, pacing
    for index in range(len(document)):
        image = np.asarray(document[index].render(scale=0.5).to_pil().convert("L"))
        assert image.size > 0
        dark = (image < 200).mean()
        assert dark > 0.005, f"page {index} looks blank"
    document.close()


def test_pdf_is_deterministic() -> None:
    """The same report renders to the same bytes (fixed metadata)."""
    report = sample_report()
    assert render_report(report, "pdf") == render_report(report, "pdf")


def test_pdf_without_trend_or_platforms_still_renders() -> None:
    """An empty campaign gives a valid PDF with explanatory pages."""
    empty = compute_metrics(EventBatch.from_events([ev("impression")]), campaign_id="c1")
    report = build_report(sample_campaign(), empty, generated_at=T0)
    document = pdfium.PdfDocument(render_report(report, "pdf"))
    assert len(document) == 3
    document.close()


def test_unknown_format_and_wrong_input() -> None:
    """Only json, csv and pdf; only ReportData."""
    with pytest.raises(ValidationError) as info:
        render_report(sample_report(), "xlsx")
    assert info.value.problems[0].path == "format"
    with pytest.raises(ValidationError):
        render_report({"metrics": {}}, "json")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        build_report(sample_campaign(), "metrics", generated_at=T0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        build_report(
            sample_campaign(), sample_report().metrics, generated_at=T0.replace(tzinfo=None)
        )


def test_plot_helpers_return_axes_with_data() -> None:
    """The notebook helpers draw on a new figure or a given Axes."""
    from matplotlib.figure import Figure

    report = sample_report()
    ax = plot_funnel(conversion_funnel(report.metrics.totals))
    assert len(ax.patches) == 3
    assert isinstance(ax.figure, Figure)
    figure = Figure()
    given = figure.add_subplot()
    assert plot_trend(report.trend, metrics=("revenue", "ctr"), ax=given) is given  # type: ignore[arg-type]
    assert len(given.get_lines()) >= 2
    bars = plot_platforms(compare_platforms(report.metrics), metric="roi")
    assert len(bars.patches) == 3
    buffer = io.BytesIO()
    bars.figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    with pytest.raises(ValidationError):
        plot_platforms(report.metrics, metric="fame")
    with pytest.raises(ValidationError):
        plot_trend(report.trend, metrics=["fame"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        plot_funnel(conversion_funnel(report.metrics.totals), ax="nope")  # type: ignore[arg-type]


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, the PDF and plots raise MissingDependencyError('reports')."""
    report = sample_report()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError) as info:
        render_report(report, "pdf")
    assert info.value.extra == "reports"
    with pytest.raises(MissingDependencyError):
        plot_funnel(report.funnel)
    assert render_report(report, "csv")  # the other formats need nothing


def test_importing_analytics_loads_no_optional_dependency() -> None:
    """`import campaign_core.analytics` leaves matplotlib, pandas and sqlalchemy unloaded."""
    code = (
        "import sys, campaign_core.analytics as a; "
        "print(sorted(m for m in ('matplotlib', 'pandas', 'sqlalchemy', 'boto3') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    assert result.stdout.strip() == "[]"
