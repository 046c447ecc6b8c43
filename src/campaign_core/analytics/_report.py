"""Reports: one data object, rendered as JSON (a dict), CSV (text) or PDF (bytes, with charts).

:func:`build_report` gathers the pieces (metrics, funnel, ROI, trend,
platform comparison, pacing, recommendations) into a :class:`ReportData`;
:func:`render_report` renders it. The PDF needs matplotlib (the ``reports``
extra), imported only when a PDF is asked for.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, overload

import attrs

from campaign_core.analytics._aggregate import CampaignMetrics
from campaign_core.analytics._compare import CampaignSummary, GroupComparison, compare_platforms
from campaign_core.analytics._definitions import MetricTotals
from campaign_core.analytics._funnel import Funnel, RoiMetrics, campaign_roi, conversion_funnel
from campaign_core.analytics._pacing import BudgetPacing
from campaign_core.analytics._recommendations import Recommendation
from campaign_core.analytics._trends import Trend
from campaign_core.clock import truncate_ms
from campaign_core.errors import ValidationError
from campaign_core.models._campaigns import Campaign
from campaign_core.serialization import check_json_value, format_datetime, to_json

__all__ = [
    "REPORT_FORMATS",
    "ReportCampaign",
    "ReportData",
    "build_report",
    "parse_report_csv",
    "render_report",
]

REPORT_FORMATS: tuple[str, ...] = ("json", "csv", "pdf")


@attrs.frozen(kw_only=True)
class ReportCampaign:
    """The campaign a report is about (no content, no owner: only what a reader needs)."""

    id: str
    name: str | None = None
    type: str | None = None
    status: str | None = None
    platforms: tuple[str, ...] = ()
    started_at: datetime | None = None
    budget: float | None = None


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything a campaign report shows; ``to_json`` gives its JSON form.

    Attributes:
        campaign: the campaign.
        generated_at: when the report was made.
        metrics: totals, per platform, per variant.
        funnel: the conversion funnel of the totals.
        roi: the money view.
        trend: performance over time, if available.
        platforms: the platform comparison, if the campaign has platforms.
        pacing: the budget pacing, if any.
        recommendations: the campaign's recommendations.
    """

    campaign: ReportCampaign
    generated_at: datetime
    metrics: CampaignMetrics
    funnel: Funnel
    roi: RoiMetrics
    trend: Trend | None = None
    platforms: GroupComparison | None = None
    pacing: BudgetPacing | None = None
    recommendations: tuple[Recommendation, ...] = ()


def _report_campaign(campaign: object) -> ReportCampaign:
    if isinstance(campaign, ReportCampaign):
        return campaign
    if isinstance(campaign, Campaign):
        return ReportCampaign(
            id=campaign.id,
            name=campaign.name,
            type=str(campaign.type),
            status=str(campaign.status),
            platforms=tuple(str(p) for p in campaign.platforms),
            started_at=campaign.started_at,
            budget=campaign.budget,
        )
    if isinstance(campaign, CampaignSummary):
        return ReportCampaign(
            id=campaign.campaign_id,
            name=campaign.name,
            type=campaign.type,
            status=campaign.status,
            platforms=tuple(p.platform for p in campaign.by_platform if p.platform is not None),
            started_at=campaign.launched_at,
            budget=campaign.budget,
        )
    raise ValidationError.single(
        "campaign", "must be a Campaign, a CampaignSummary or a ReportCampaign", "invalid_type"
    )


def build_report(
    campaign: Campaign | CampaignSummary | ReportCampaign,
    metrics: CampaignMetrics,
    funnel: Funnel | None = None,
    trend: Trend | None = None,
    platforms: GroupComparison | None = None,
    roi: RoiMetrics | None = None,
    *,
    generated_at: datetime,
    pacing: BudgetPacing | None = None,
    recommendations: Sequence[Recommendation] = (),
) -> ReportData:
    """Gather a campaign report's pieces (the data behind ``generate_report``).

    Args:
        campaign: the campaign (record, summary or :class:`ReportCampaign`).
        metrics: its metrics.
        funnel: its funnel; ``None`` computes it from ``metrics.totals``.
        trend: its trend, if any (the PDF's performance chart needs it).
        platforms: its platform comparison; ``None`` computes it from ``metrics``.
        roi: its ROI view; ``None`` computes it (with the campaign's budget).
        generated_at: when the report is made (aware; from the caller's clock).
        pacing: its budget pacing, if any.
        recommendations: recommendations to include.

    Returns:
        The :class:`ReportData`.

    Raises:
        ValidationError: a piece of the wrong type, or a naive ``generated_at``.
    """
    info = _report_campaign(campaign)
    if not isinstance(metrics, CampaignMetrics):
        raise ValidationError.single("metrics", "must be a CampaignMetrics", "invalid_type")
    for name, value, kind in (
        ("funnel", funnel, Funnel),
        ("trend", trend, Trend),
        ("platforms", platforms, GroupComparison),
        ("roi", roi, RoiMetrics),
        ("pacing", pacing, BudgetPacing),
    ):
        if value is not None and not isinstance(value, kind):
            raise ValidationError.single(name, f"must be a {kind.__name__} or None", "invalid_type")
    if (
        not isinstance(generated_at, datetime)
        or generated_at.tzinfo is None
        or generated_at.utcoffset() is None
    ):
        raise ValidationError.single("generated_at", "must be an aware datetime", "invalid_type")
    recs = tuple(recommendations)
    if any(not isinstance(r, Recommendation) for r in recs):
        raise ValidationError.single(
            "recommendations", "must be Recommendation objects", "invalid_type"
        )
    return ReportData(
        campaign=info,
        generated_at=truncate_ms(generated_at),
        metrics=metrics,
        funnel=funnel if funnel is not None else conversion_funnel(metrics.totals),
        roi=roi if roi is not None else campaign_roi(metrics.totals, budget=info.budget),
        trend=trend,
        platforms=platforms if platforms is not None else compare_platforms(metrics),
        pacing=pacing,
        recommendations=recs,
    )


# ---------------------------------------------------------------------- rendering


@overload
def render_report(report: ReportData, format: Literal["json"]) -> dict[str, Any]: ...
@overload
def render_report(report: ReportData, format: Literal["csv"]) -> str: ...
@overload
def render_report(report: ReportData, format: Literal["pdf"]) -> bytes: ...
@overload
def render_report(report: ReportData, format: str) -> dict[str, Any] | str | bytes: ...
def render_report(report: ReportData, format: str = "json") -> dict[str, Any] | str | bytes:
    """Render a report.

    Args:
        report: from :func:`build_report`.
        format: ``"json"`` (a dict with camelCase keys, JSON-safe: no NaN),
            ``"csv"`` (text: titled sections, read back with
            :func:`parse_report_csv` or any CSV reader) or ``"pdf"`` (bytes:
            key numbers, the funnel, performance over time and the platform
            comparison as charts; needs the ``reports`` extra).

    Returns:
        A dict, a string or bytes, by format.

    Raises:
        ValidationError: an unknown format or not a :class:`ReportData`.
        MissingDependencyError: ``pdf`` without matplotlib installed.
    """
    if not isinstance(report, ReportData):
        raise ValidationError.single(
            "report", "must be a ReportData (see build_report)", "invalid_type"
        )
    if format == "json":
        return _render_json(report)
    if format == "csv":
        return _render_csv(report)
    if format == "pdf":
        from campaign_core.analytics._plots import render_pdf

        return render_pdf(report)
    raise ValidationError.single(
        "format", f"must be one of {', '.join(REPORT_FORMATS)}", "invalid_value"
    )


def _render_json(report: ReportData) -> dict[str, Any]:
    data: dict[str, Any] = to_json(report)
    problems = check_json_value(data)
    if problems:  # every number is finite by construction; this is the last guard
        raise ValidationError(problems, message="the report is not JSON-safe")
    return data


# ---------------------------------------------------------------------- csv

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(to_json(value), sort_keys=True, allow_nan=False)
    text = str(value)
    # a cell starting like a formula would run in a spreadsheet (CSV injection): quote it
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


_METRIC_COLUMNS = (
    "impressions",
    "reach",
    "clicks",
    "conversions",
    "revenue",
    "spent",
    "ctr",
    "conversion_rate",
    "roi",
    "cpa",
    "flags",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _metric_cells(m: MetricTotals) -> list[str]:
    return [_cell(getattr(m, c)) for c in _METRIC_COLUMNS]


def _section(writer: Any, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    writer.writerow([f"# {title}"])
    writer.writerow(list(header))
    writer.writerows(rows)
    writer.writerow([])


def _key_values(obj: Any, fields: Sequence[str]) -> list[list[str]]:
    return [[_camel(f), _cell(getattr(obj, f))] for f in fields]


def _render_csv(report: ReportData) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    c = report.campaign
    _section(
        writer,
        "report",
        ["field", "value"],
        [
            ["campaignId", _cell(c.id)],
            ["name", _cell(c.name)],
            ["type", _cell(c.type)],
            ["status", _cell(c.status)],
            ["platforms", _cell(c.platforms)],
            ["startedAt", _cell(c.started_at)],
            ["budget", _cell(c.budget)],
            ["generatedAt", _cell(report.generated_at)],
        ],
    )
    totals = report.metrics.totals
    _section(writer, "summary", ["metric", "value"], _key_values(totals, _METRIC_COLUMNS))
    _section(
        writer,
        "roi",
        ["metric", "value"],
        _key_values(report.roi, [f.name for f in attrs.fields(RoiMetrics)]),
    )
    _section(
        writer,
        "funnel",
        ["step", "count", "rateFromPrevious", "rateFromStart", "dropOff", "dropOffRate"],
        [
            [
                s.name,
                _cell(s.count),
                _cell(s.rate_from_previous),
                _cell(s.rate_from_start),
                _cell(s.drop_off),
                _cell(s.drop_off_rate),
            ]
            for s in report.funnel.steps
        ],
    )
    metric_header = [_camel(c) for c in _METRIC_COLUMNS]
    _section(
        writer,
        "platforms",
        ["platform", *metric_header],
        [[_cell(p.platform), *_metric_cells(p.metrics)] for p in report.metrics.by_platform],
    )
    _section(
        writer,
        "variants",
        ["variantId", *metric_header],
        [[_cell(v.variant_id), *_metric_cells(v.metrics)] for v in report.metrics.by_variant],
    )
    if report.platforms is not None:
        _section(
            writer,
            "platform_tests",
            [
                "metric",
                "a",
                "b",
                "valueA",
                "valueB",
                "difference",
                "pValue",
                "adjustedPValue",
                "outcome",
                "better",
            ],
            [
                [
                    t.metric,
                    _cell(t.a),
                    _cell(t.b),
                    _cell(t.value_a),
                    _cell(t.value_b),
                    _cell(t.difference),
                    _cell(t.p_value),
                    _cell(t.adjusted_p_value),
                    t.outcome,
                    _cell(t.better),
                ]
                for t in report.platforms.tests
            ],
        )
    if report.trend is not None:
        _section(
            writer,
            "trend",
            ["start", "end", "partial", *metric_header],
            [
                [_cell(b.start), _cell(b.end), _cell(b.partial), *_metric_cells(b.metrics)]
                for b in report.trend.buckets
            ],
        )
        _section(
            writer,
            "trend_changes",
            ["metric", "current", "previous", "absolute", "relative"],
            [
                [
                    _camel(ch.metric),
                    _cell(ch.current),
                    _cell(ch.previous),
                    _cell(ch.absolute),
                    _cell(ch.relative),
                ]
                for ch in report.trend.changes
            ],
        )
    if report.pacing is not None:
        _section(
            writer,
            "pacing",
            ["metric", "value"],
            _key_values(report.pacing, [f.name for f in attrs.fields(BudgetPacing)]),
        )
    if report.recommendations:
        _section(
            writer,
            "recommendations",
            ["priority", "kind", "title", "action", "impact", "evidence"],
            [
                [
                    _cell(r.priority),
                    _cell(r.kind),
                    _cell(r.title),
                    _cell(r.action),
                    _cell(r.impact),
                    _cell(r.evidence),
                ]
                for r in report.recommendations
            ],
        )
    return buffer.getvalue()


def parse_report_csv(text: str) -> dict[str, list[dict[str, str]]]:
    """Read a CSV report back: ``{section: [row as {column: cell}]}``.

    Args:
        text: what :func:`render_report` returned for ``"csv"``.

    Returns:
        The sections in order, each a list of rows keyed by its header.

    Raises:
        ValidationError: the text is not a report CSV (a row outside any section).
    """
    if not isinstance(text, str):
        raise ValidationError.single("text", "must be a string", "invalid_type")
    sections: dict[str, list[dict[str, str]]] = {}
    title: str | None = None
    header: list[str] | None = None
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            title, header = None, None
        elif len(row) == 1 and row[0].startswith("# "):
            title, header = row[0][2:], None
            sections[title] = []
        elif title is None:
            raise ValidationError.single(
                f"line {number}", "a row outside any section", "invalid_value"
            )
        elif header is None:
            header = row
        else:
            sections[title].append(dict(zip(header, row)))
    return sections
