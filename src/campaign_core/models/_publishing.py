"""Publish jobs: one per (campaign, platform, content version)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._campaigns import PlatformName, to_platform
from campaign_core.models._common import StrEnum

__all__ = ["PublishJob", "PublishStatus"]


class PublishStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class PublishJob:
    """A durable attempt to publish one platform's content of a campaign.

    ``idempotency_key`` is ``<campaign id>:<platform>:v<content version>``; it is
    unique, so a platform is never queued twice for the same content.
    ``next_attempt_at`` is when ``tick()`` should try again (retrying jobs).
    ``lease_owner``/``lease_until`` let one worker at a time hold the job.
    ``adapted_content`` is the post every attempt sends (``{"content": ...,
    "mediaUrls": [...]}``): what the launch's check adapted, or, for a job
    queued without one, what its first attempt adapted and kept before calling
    the publisher; None until then.
    """

    id: str
    campaign_id: str
    owner_id: str
    platform: PlatformName = attrs.field(converter=to_platform)
    content_version: int
    idempotency_key: str
    status: PublishStatus = attrs.field(default=PublishStatus.PENDING, converter=PublishStatus)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    external_id: str | None = None
    url: str | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    adapted_content: dict[str, Any] | None = None
