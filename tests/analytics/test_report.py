"""Reports: JSON, CSV and PDF generated and read back; plot helpers; lazy matplotlib."""

from __future__ import annotations

import csv
import io
import json
import os
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
        "periodStart",
        "periodEnd",
    }
    assert data["metrics"]["totals"]["conversionRate"] == pytest.approx(
        data["metrics"]["totals"]["conversions"] / data["metrics"]["totals"]["clicks"]
    )
    assert data["generatedAt"] == "2026-03-16T00:00:00.000Z"


def test_csv_report_is_one_tidy_table_parsed_back_with_the_csv_module() -> None:
    """The CSV is one long table (table,key,metric,value,unit) whose numbers match the report's."""
    report = sample_report()
    text = render_report(report, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["table", "key", "metric", "value", "unit"]
    assert all(len(row) == 5 for row in rows)
    tables = parse_report_csv(text)
    assert list(tables) == [
        "report",
        "summary",
        "previous",
        "change",
        "roi",
        "funnel",
        "platform",
        "variant",
        "platform_test",
        "trend",
        "pacing",
    ]
    summary = {row["metric"]: row for row in tables["summary"]}
    trend = report.trend
    assert trend is not None
    assert int(summary["impressions"]["value"]) == trend.totals.impressions
    assert summary["impressions"]["unit"] == "count"
    assert summary["revenue"]["value"] == f"{trend.totals.revenue:.2f}"
    assert summary["revenue"]["unit"] == "money"
    assert summary["ctr"]["unit"] == "ratio"
    assert float(summary["ctr"]["value"]) == pytest.approx(trend.totals.ctr, abs=5e-5)
    assert sorted({row["key"] for row in tables["platform"]}) == ["instagram", "reddit", "tiktok"]
    assert [row["key"] for row in tables["funnel"] if row["metric"] == "count"] == [
        "impressions",
        "clicks",
        "conversions",
    ]
    starts = {row["key"] for row in tables["trend"]}
    assert len(starts) == len(trend.buckets)
    fields = {row["metric"]: row["value"] for row in tables["report"]}
    assert fields["name"] == "Spring $5 off 💪"
    assert fields["periodStart"] == "2026-03-09T00:00:00.000Z"


def test_csv_values_are_rounded_to_their_unit() -> None:
    """Money has 2 decimals, ratios at most 4, counts none: no 939.6400000000001."""
    for row in parse_report_csv(render_report(sample_report(), "csv"))["roi"]:
        if row["unit"] == "money" and row["value"]:
            assert len(row["value"].split(".")[1]) == 2, row
        if row["unit"] == "ratio" and "." in row["value"]:
            assert len(row["value"].split(".")[1]) <= 4, row


def test_csv_excel_dialect_has_a_byte_order_mark_and_crlf() -> None:
    """The excel dialect opens accents and emoji correctly in Excel and still parses back."""
    text = render_report(sample_report(), "csv", csv_dialect="excel")
    assert text.startswith("\ufeff")
    assert "\r\n" in text
    assert parse_report_csv(text)["report"][1]["value"] == "Spring $5 off 💪"
    with pytest.raises(ValidationError):
        render_report(sample_report(), "csv", csv_dialect="tsv")  # type: ignore[arg-type]


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    """A campaign name starting with '=' is written quoted, so Excel shows it as text."""
    text = render_report(sample_report('=HYPERLINK("http://x")'), "csv")
    fields = {row["metric"]: row["value"] for row in parse_report_csv(text)["report"]}
    assert fields["name"] == '\'=HYPERLINK("http://x")'


def test_parse_report_csv_rejects_other_csv() -> None:
    """A CSV without the report's header is not a report."""
    with pytest.raises(ValidationError):
        parse_report_csv("a,b\n1,2\n")
    with pytest.raises(ValidationError):
        parse_report_csv("table,key,metric,value,unit\nsummary,,x\n")


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


def test_pdf_without_trend_or_platforms_says_so_instead_of_drawing_empty_charts() -> None:
    """An empty campaign gives the four pages, each saying why it has no chart."""
    empty = compute_metrics(EventBatch.from_events([ev("impression")]), campaign_id="c1")
    report = build_report(sample_campaign(), empty, generated_at=T0)
    document = pdfium.PdfDocument(render_report(report, "pdf"))
    assert len(document) == 4
    texts = [_page_text(document, index) for index in range(len(document))]
    assert "Nothing was tracked in this period" in texts[1]
    assert "Fewer than two platforms" in texts[2]
    assert "None for this campaign" in texts[3]
    document.close()


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    text = page.get_textpage().get_text_range()
    return " ".join(str(text).split())


ARTIFACTS = Path(
    os.environ.get("CAMPAIGN_CORE_TEST_ARTIFACTS", SRC.parent / "build" / "test-artifacts")
)


def test_pdf_summary_page_has_the_period_and_the_key_figures_against_the_previous_period() -> None:
    """Page 1 names the period and tabulates the key figures with the previous period and change.

    Every page is also written as a PNG to build/test-artifacts/report/ (or
    $CAMPAIGN_CORE_TEST_ARTIFACTS), to look at.
    """
    report = sample_report()
    document = pdfium.PdfDocument(render_report(report, "pdf"))
    folder = ARTIFACTS / "report"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(len(document)):
        document[index].render(scale=1.0).to_pil().save(folder / f"page-{index + 1}.png")
    summary = _page_text(document, 0)
    assert "Spring $5 off" in summary
    assert "Period 9 Mar 2026 – 15 Mar 2026 (7 days), compared with the 7 days before" in summary
    for label in ("This period", "Previous period", "Change", "Click-through rate", "ROI"):
        assert label in summary
    trend = report.trend
    assert trend is not None
    assert f"{trend.totals.impressions:,}" in summary
    assert f"{trend.previous.impressions:,}" in summary
    assert " pt" in summary  # rates change in points
    assert "Ppv" not in summary
    assert "Pay-per-view" in summary
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
