"""Campaign records: the seed's ``Campaign`` model and its enums."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NewType, cast

import attrs

from campaign_core.models._common import StrEnum, to_tuple

__all__ = [
    "Campaign",
    "CampaignStatus",
    "CampaignType",
    "Platform",
    "PlatformName",
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
    """The built-in platforms. A core may publish to more: a host declares them in
    ``Settings(platforms=...)``, and records hold any platform as its name (a
    ``str``; a built-in one as its member here, which equals its name)."""

    ONLYFANS = "onlyfans"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    REDDIT = "reddit"


#: A platform's name in a record: a built-in :class:`Platform` or one a host declared.
PlatformName = NewType("PlatformName", str)

_BUILTIN = {member.value: member for member in Platform}


def to_platform(value: str) -> PlatformName:
    """attrs converter: a platform name, a built-in one as its :class:`Platform`.

    Which names are platforms depends on the core's registry; the services check
    that before a record is built, so any other string is kept as it is.
    """
    member = _BUILTIN.get(value) if isinstance(value, str) else None
    if member is not None:
        return cast(PlatformName, member)
    if not isinstance(value, str):
        raise TypeError(f"a platform is a string, got {type(value).__name__}")
    return PlatformName(value)


def to_platforms(value: Iterable[str]) -> tuple[PlatformName, ...]:
    """attrs converter: platform names to a tuple (built-in ones as :class:`Platform`)."""
    return tuple(to_platform(v) for v in value)


@attrs.frozen(kw_only=True)
class Campaign:
    """A marketing campaign (the seed's ``Campaign``; table ``campaigns``).

    ``user_id`` is the owner (the creator account). ``content`` is JSON: shared
    fields (``title``, ``description``, ``cta``, ``price``...) optionally with
    per-platform overrides under ``platforms`` (see the publishing docs).
    ``version`` is the row version used for optimistic concurrency;
    ``paused_reason`` says why the engine paused it (``budget_exhausted``).
    ``content_version`` grows with every content change; publishing is
    idempotent per (campaign, platform, content version). ``archived_at`` is
    set while a completed or cancelled campaign is archived (see
    :func:`campaign_core.lifecycle.check_archive`).
    """

    id: str
    user_id: str
    name: str
    description: str | None = None
    type: CampaignType = attrs.field(converter=CampaignType)
    status: CampaignStatus = attrs.field(default=CampaignStatus.DRAFT, converter=CampaignStatus)
    platforms: tuple[PlatformName, ...] = attrs.field(default=(), converter=to_platforms)
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
    archived_at: datetime | None = None
