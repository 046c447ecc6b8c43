"""Campaign records: the seed's ``Campaign`` model and its enums."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum, to_tuple

__all__ = [
    "Campaign",
    "CampaignStatus",
    "CampaignType",
    "Platform",
]


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CampaignType(StrEnum):
    PPV = "ppv"
    SUBSCRIPTION = "subscription"
    PROMOTION = "promotion"
    ENGAGEMENT = "engagement"
    RETENTION = "retention"


class Platform(StrEnum):
    ONLYFANS = "onlyfans"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    REDDIT = "reddit"


def to_platforms(value: Iterable[str]) -> tuple[Platform, ...]:
    """attrs converter: platform names to a tuple of :class:`Platform`."""
    return tuple(Platform(v) for v in value)


@attrs.frozen(kw_only=True)
class Campaign:
    """A marketing campaign (the seed's ``Campaign``; table ``campaigns``).

    ``user_id`` is the owner (the creator account). ``content`` is JSON: shared
    fields (``title``, ``description``, ``cta``, ``price``...) optionally with
    per-platform overrides under ``platforms`` (see the publishing docs).
    ``version`` is the row version used for optimistic concurrency;
    ``paused_reason`` says why the engine paused it (``budget_exhausted``).
    ``content_version`` grows with every content change; publishing is
    idempotent per (campaign, platform, content version).
    """

    id: str
    user_id: str
    name: str
    description: str | None = None
    type: CampaignType = attrs.field(converter=CampaignType)
    status: CampaignStatus = attrs.field(default=CampaignStatus.DRAFT, converter=CampaignStatus)
    platforms: tuple[Platform, ...] = attrs.field(default=(), converter=to_platforms)
    segment_ids: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    content: dict[str, Any] = attrs.field(factory=dict)
    media_urls: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    scheduled_for: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    budget: float | None = None
    spent: float = 0.0
    goals: dict[str, Any] = attrs.field(factory=dict)
    is_ab_test: bool = attrs.field(default=False, metadata={"name": "isABTest"})
    ab_test_id: str | None = None
    template_id: str | None = None
    is_template: bool = False
    created_at: datetime
    updated_at: datetime
    version: int = 1
    content_version: int = 1
    paused_reason: str | None = None
