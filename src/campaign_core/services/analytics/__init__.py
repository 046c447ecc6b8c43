"""AnalyticsService: tracking, metrics, funnels, ROI, comparisons, trends, insights and reports.

Tracking writes raw events to ``tracking_events`` (one row per impression,
click, conversion or spend), the seed's ``CampaignConversion`` rows for
conversions (attributed to the fan's last click), the A/B variants' counters
for events of a running test, and spend through the campaign's budget rule
(:func:`campaign_core.jobs.budget.record_spend`, the one owner of the
rule). Each call validates everything first and writes in one transaction:
bad input raises :class:`~campaign_core.errors.ValidationError` with a path per
problem and stores nothing.

Retrieval reads the events back as aggregates: with ``GROUP BY`` in the
database when the store offers the ``tracking_aggregates`` capability (the
SQL store), else from the events in Python
(:class:`campaign_core._tracking_fallback.RepositoryTrackingAggregates`); both
give the same numbers. The computations themselves are the pure functions of
:mod:`campaign_core.analytics`. A campaign's counters are cached for a minute
(the seed's TTL) and dropped by this core's own tracking writes.

Every method is scoped to the actor's account: another account's campaign
behaves like a missing one (:class:`~campaign_core.errors.NotFoundError`).
No analytics output names a fan: fans leave only as counts.

The parts: tracking calls (``_tracking``) and the checks of their input
(``_input``), row ingestion with attribution (``_ingest``), the queries
(``_queries``), reports (``_reports``) and the privacy hooks (``_privacy``).
The hourly roll-up into ``CampaignMetric`` snapshots, with the ROI and status
gauges and the budget overspend alarm, is a job that ``CampaignCore.tick()``
runs: :mod:`campaign_core.jobs.rollup`.
"""

from __future__ import annotations

from campaign_core.services.analytics._ingest import (
    TrackingBatchReport as TrackingBatchReport,
)
from campaign_core.services.analytics._ingest import (
    TrackingReceipt as TrackingReceipt,
)
from campaign_core.services.analytics._privacy import (
    register_analytics_hooks as register_analytics_hooks,
)
from campaign_core.services.analytics._queries import QueryMethods
from campaign_core.services.analytics._reports import ReportMethods
from campaign_core.services.analytics._tracking import TrackingMethods

__all__: list[str] = []


class AnalyticsService(TrackingMethods, QueryMethods, ReportMethods):
    """Tracking and analytics of one account, as one actor (``core.for_actor(actor).analytics``).

    Tracking needs the ``track`` permission (spend also ``spend``); everything
    else needs ``read``.
    """
