"""Reports: one data object, rendered as JSON (a dict), CSV (text) or PDF (bytes, with charts).

:func:`build_report` gathers the pieces (metrics, funnel, ROI, trend,
platform comparison, pacing, recommendations) into a :class:`ReportData`;
:func:`render_report` renders it. The PDF needs matplotlib (the ``reports``
extra), imported only when a PDF is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, overload

import attrs

from campaign_core.analytics._aggregate import CampaignMetrics
from campaign_core.analytics._compare import CampaignSummary, GroupComparison, compare_platforms
from campaign_core.analytics._funnel import Funnel, RoiMetrics, campaign_roi, conversion_funnel
from campaign_core.analytics._pacing import BudgetPacing
from campaign_core.analytics._recommendations import Recommendation
from campaign_core.analytics._report_csv import parse_report_csv, render_csv
from campaign_core.analytics._trends import Trend
from campaign_core.clock import truncate_ms
from campaign_core.errors import ValidationError
from campaign_core.models import Campaign
from campaign_core.serialization import check_json_value, to_json

__all__ = [
    "REPORT_FORMATS",
    "CsvDialect",
    "ReportCampaign",
    "ReportData",
    "build_report",
    "parse_report_csv",
    "render_report",
]

REPORT_FORMATS: tuple[str, ...] = ("json", "csv", "pdf")
#: the CSV report's dialects: ``standard`` (LF) or ``excel`` (UTF-8 byte-order mark, CRLF)
CsvDialect = Literal["standard", "excel"]


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
        period_start: the start of the period the report covers (the trend's, by
            default the campaign's launch).
        period_end: its end, exclusive (the trend's, by default when the report is made).
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
    period_start: datetime | None = None
    period_end: datetime | None = None


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
    generated = truncate_ms(generated_at)
    return ReportData(
        campaign=info,
        generated_at=generated,
        period_start=trend.start if trend is not None else info.started_at,
        period_end=trend.end if trend is not None else generated,
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
def render_report(
    report: ReportData, format: Literal["json"], *, csv_dialect: CsvDialect = ...
) -> dict[str, Any]: ...
@overload
def render_report(
    report: ReportData, format: Literal["csv"], *, csv_dialect: CsvDialect = ...
) -> str: ...
@overload
def render_report(
    report: ReportData, format: Literal["pdf"], *, csv_dialect: CsvDialect = ...
) -> bytes: ...
@overload
def render_report(
    report: ReportData, format: str, *, csv_dialect: CsvDialect = ...
) -> dict[str, Any] | str | bytes: ...
def render_report(
    report: ReportData, format: str = "json", *, csv_dialect: CsvDialect = "standard"
) -> dict[str, Any] | str | bytes:
    """Render a report.

    Args:
        report: from :func:`build_report`.
        format: ``"json"`` (a dict with camelCase keys, JSON-safe: no NaN),
            ``"csv"`` (text: one tidy table in long format, ``table,key,metric,value,unit``,
            rounded; read back with :func:`parse_report_csv` or any CSV reader) or
            ``"pdf"`` (bytes: a summary page with the period and the key figures
            against the previous period, the funnel, performance over the period, the
            platform comparison, budget and recommendations; needs the ``reports`` extra).
        csv_dialect: for ``csv``: ``standard`` or ``excel`` (a UTF-8 byte-order mark and
            CRLF line ends, so that Excel opens accents and emoji correctly).

    Returns:
        A dict, a string or bytes, by format.

    Raises:
        ValidationError: an unknown format or dialect, or not a :class:`ReportData`.
        MissingDependencyError: ``pdf`` without matplotlib installed.
    """
    if not isinstance(report, ReportData):
        raise ValidationError.single(
            "report", "must be a ReportData (see build_report)", "invalid_type"
        )
    if format == "json":
        return _render_json(report)
    if format == "csv":
        return render_csv(report, dialect=csv_dialect)
    if format == "pdf":
        from campaign_core.analytics._report_pdf import render_pdf

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
