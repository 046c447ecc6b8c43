"""Tracking records: raw tracking events and each campaign's analytics bookkeeping.

These are our additions (not seed models). Tracking events are the source of
every analytics number; the seed's ``CampaignMetric`` snapshots and
``CampaignConversion`` rows are derived from them (conversions are written to
both, because a Prisma app reads ``campaign_conversions``).
"""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["CampaignAnalyticsState", "TrackingEventRecord"]


@attrs.frozen(kw_only=True)
class TrackingEventRecord:
    """One tracked event (table ``tracking_events``).

    Attributes:
        id: the event's id.
        owner_id: the campaign's account (so erasure and exports can scope by account).
        campaign_id: the campaign.
        kind: ``impression``, ``click``, ``conversion`` or ``spend``.
        fan_id: the fan (the host's id), if known; replaced by an irreversible
            token when the fan is erased, so reach stays a count of distinct fans.
        platform: where it happened, if known.
        variant_id: the A/B variant shown, if any.
        value: a conversion's value or the amount spent; 0 for impressions and clicks.
        occurred_at: when it happened (the host's time, aware UTC).
        created_at: when it was stored (the core's clock).
    """

    id: str
    owner_id: str
    campaign_id: str
    kind: str
    fan_id: str | None = None
    platform: str | None = None
    variant_id: str | None = None
    value: float = 0.0
    occurred_at: datetime
    created_at: datetime


@attrs.frozen(kw_only=True)
class CampaignAnalyticsState:
    """The analytics engine's bookkeeping for one campaign (table ``campaign_analytics_state``).

    ``id`` is the campaign's id (one row per campaign, found by primary key).
    Workers ``claim()`` rows whose ``next_rollup_at`` has passed, so two
    workers never roll the same campaign up at once.

    Attributes:
        id: the campaign's id (the engine's own hourly row uses ``engine:hourly``).
        owner_id: the campaign's account.
        campaign_id: the campaign.
        first_event_at: when its first tracked event (of the first batch) occurred.
        last_rolled_hour: the start of the last hour rolled up into snapshots.
        next_rollup_at: when the next roll-up is due (``None``: nothing pending
            until a new event arrives).
        overspend_alerted_at: when the overspend alert was sent (once per budget).
        overspend_alert_budget: the budget the alert was sent for; a new budget re-arms it.
        lease_owner: the worker holding the row.
        lease_until: until when it holds it.
        created_at: when the row was made.
        updated_at: when it last changed.
        version: the row version.
    """

    id: str
    owner_id: str
    campaign_id: str
    first_event_at: datetime | None = None
    last_rolled_hour: datetime | None = None
    next_rollup_at: datetime | None = None
    overspend_alerted_at: datetime | None = None
    overspend_alert_budget: float | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1
