"""The analytics service's reports: one campaign's numbers as json, csv or pdf."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from campaign_core.analytics import (
    REPORT_FORMATS,
    RecommendationInputs,
    budget_pacing,
    build_report,
    get_recommendations,
    performance_trend,
    render_report,
)
from campaign_core.errors import ValidationError
from campaign_core.jobs.rollup import campaign_metrics, hour_floor
from campaign_core.permissions import Permission
from campaign_core.services.analytics._base import AnalyticsBase

__all__ = ["ReportMethods"]

#: A report's trend covers the campaign's life, up to this long.
_REPORT_SPAN: Final = timedelta(days=90)


class ReportMethods(AnalyticsBase):
    """The reports of ``ws.analytics`` (the ``read`` permission)."""

    def generate_report(
        self, campaign_id: str, format: str = "json"
    ) -> dict[str, Any] | str | bytes:
        """A campaign report (the seed's ``generateReport``): json (a dict), csv (text) or pdf (bytes).

        The report holds the metrics (totals, per platform, per variant), the
        funnel, the ROI view, performance over time (the campaign's life, up
        to 90 days), the platform comparison, budget pacing and the
        campaign's recommendations. The PDF has charts (funnel, performance
        over time, platforms) and needs matplotlib (the ``reports`` extra).

        Args:
            campaign_id: a campaign of the account.
            format: ``json``, ``csv`` or ``pdf``.

        Returns:
            A dict (json), text (csv) or bytes (pdf).

        Raises:
            ValidationError: an unknown format.
            NotFoundError: no such campaign in the account.
            MissingDependencyError: ``pdf`` without matplotlib.
        """
        self._svc._require(Permission.READ)
        if format not in REPORT_FORMATS:
            raise ValidationError.single(
                "format", f"must be one of {', '.join(REPORT_FORMATS)}", "invalid_value"
            )
        now = self._rt.now()
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
            (summary,) = self._summaries(tx, [campaign])
            metrics = campaign_metrics(campaign, self._counts(tx, [campaign])[campaign.id])
            trend = None
            started = campaign.started_at or now
            capped = started < now - _REPORT_SPAN
            begin = hour_floor(now - _REPORT_SPAN if capped else started)
            if now > begin:
                # before the campaign started there is nothing to load for the previous period
                since = begin - (now - begin) if capped else begin
                events = self._events(tx, [campaign.id], since=since, before=now)
                trend = performance_trend(events, start=begin, end=now)
            tests = self._test_summaries(tx, campaign.id)
        pacing = budget_pacing(
            budget=campaign.budget,
            spent=campaign.spent,
            started_at=campaign.started_at or now,
            now=now,
        )
        recommendations = get_recommendations(
            RecommendationInputs(now=now, campaigns=[summary], ab_tests=tests)
        )
        report = build_report(
            campaign,
            metrics,
            trend=trend,
            generated_at=now,
            pacing=pacing,
            recommendations=recommendations,
        )
        return render_report(report, format)
