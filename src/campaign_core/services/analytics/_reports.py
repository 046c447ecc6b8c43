"""The analytics service's reports: one campaign's numbers as json, csv or pdf."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from campaign_core._validate import v_datetime
from campaign_core.analytics import (
    REPORT_FORMATS,
    CsvDialect,
    RecommendationInputs,
    budget_pacing,
    build_report,
    get_recommendations,
    performance_trend,
    render_report,
)
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.jobs.rollup import campaign_metrics, hour_floor
from campaign_core.permissions import Permission
from campaign_core.services.analytics._base import AnalyticsBase

__all__ = ["ReportMethods"]

#: a campaign no longer tracked: its default period ends this long after its last event
_QUIET_AFTER: Final = timedelta(days=1)
_HOUR: Final = timedelta(hours=1)


class ReportMethods(AnalyticsBase):
    """The reports of ``ws.analytics`` (the ``read`` permission)."""

    def generate_report(
        self,
        campaign_id: str,
        format: str = "json",
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        csv_dialect: str = "standard",
    ) -> dict[str, Any] | str | bytes:
        """A campaign report (the seed's ``generateReport``): json (a dict), csv (text) or pdf (bytes).

        The report covers a period: by default the campaign's own life, from its launch
        (or its first tracked event, if earlier) to its completion, or to an hour after
        its last tracked event when it has not been tracked for a day, and never past
        now. ``since``/``until`` choose another period. Its key figures are compared with
        the previous period of the same length. The report also holds the whole
        campaign's metrics (per platform, per variant), the funnel, the ROI view, the
        platform comparison, budget pacing and the campaign's recommendations. The PDF
        needs matplotlib (the ``reports`` extra).

        Args:
            campaign_id: a campaign of the account.
            format: ``json``, ``csv`` or ``pdf``.
            since: the period's start (an aware datetime or ISO-8601 text), floored to the hour.
            until: the period's end, exclusive, rounded up to the hour; at most now.
            csv_dialect: for ``csv``: ``standard`` or ``excel`` (byte-order mark, CRLF).

        Returns:
            A dict (json), text (csv) or bytes (pdf).

        Raises:
            ValidationError: an unknown format or dialect, a bad date, or ``until`` not
                after ``since``.
            NotFoundError: no such campaign in the account.
            MissingDependencyError: ``pdf`` without matplotlib.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        if format not in REPORT_FORMATS:
            problems.add("format", f"must be one of {', '.join(REPORT_FORMATS)}", "invalid_value")
        if csv_dialect not in ("standard", "excel"):
            problems.add("csv_dialect", "must be standard or excel", "invalid_value")
        start = None if since is None else v_datetime(since, "since", problems)
        end = None if until is None else v_datetime(until, "until", problems)
        problems.raise_if_any()
        now = self._rt.now()
        if start is not None and end is not None and end <= start:
            raise ValidationError.single("until", "must be after since", "invalid_value")
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
            (summary,) = self._summaries(tx, [campaign])
            counts = self._counts(tx, [campaign])[campaign.id]
            metrics = campaign_metrics(campaign, counts)
            begin, finish = _period(campaign, counts, now, start, end)
            trend = None
            if finish > begin:
                # the previous period of the same length, for the changes
                events = self._events(
                    tx, [campaign.id], since=begin - (finish - begin), before=finish
                )
                trend = performance_trend(events, start=begin, end=finish)
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
        dialect: CsvDialect = "excel" if csv_dialect == "excel" else "standard"
        return render_report(report, format, csv_dialect=dialect)


def _period(
    campaign: Any,
    counts: Any,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
) -> tuple[datetime, datetime]:
    """The report's period: the one asked for, else the campaign's own life (see generate_report)."""
    first = counts.first_event_at
    last = counts.last_event_at
    if since is None:
        candidates = [t for t in (campaign.started_at, first) if t is not None]
        since = min(candidates) if candidates else campaign.created_at
    if until is None:
        until = campaign.completed_at or now
        if last is not None and last + _QUIET_AFTER < until:
            until = last + _HOUR
    begin = hour_floor(since)
    finish = min(hour_floor(until) + (_HOUR if hour_floor(until) < until else timedelta(0)), now)
    return begin, finish
