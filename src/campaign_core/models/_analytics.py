"""Analytics records: the seed's ``CampaignMetric`` and ``CampaignConversion`` models."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["CampaignConversion", "CampaignMetric"]


@attrs.frozen(kw_only=True)
class CampaignMetric:
    """An hourly snapshot of a campaign's numbers (table ``campaign_metrics``).

    ``platform`` None is the aggregate over platforms. Additions: ``period_start``
    (the hour the snapshot covers) and ``rollup_key`` (unique per campaign,
    platform and hour, so a roll-up run twice writes one row).
    """

    id: str
    campaign_id: str
    platform: str | None = None
    impressions: int = 0
    reach: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    spent: float = 0.0
    ctr: float | None = None
    conversion_rate: float | None = None
    roi: float | None = None
    cpa: float | None = None
    recorded_at: datetime
    period_start: datetime | None = None
    rollup_key: str | None = None


@attrs.frozen(kw_only=True)
class CampaignConversion:
    """A conversion attributed to a campaign (table ``campaign_conversions``).

    ``fan_id`` is the seed's ``userId`` column. Addition: ``variant_id``.
    """

    id: str
    campaign_id: str
    fan_id: str = attrs.field(metadata={"name": "userId"})
    type: str
    value: float
    platform: str
    clicked_at: datetime | None = None
    converted_at: datetime
    time_to_convert: int | None = None
    variant_id: str | None = None
