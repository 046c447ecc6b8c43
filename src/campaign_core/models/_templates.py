"""Campaign templates: the seed's ``CampaignTemplate`` model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._campaigns import CampaignType
from campaign_core.models._common import StrEnum

__all__ = ["CampaignTemplate", "Niche"]


class Niche(StrEnum):
    FITNESS = "fitness"
    GAMING = "gaming"
    ADULT = "adult"
    FASHION = "fashion"
    GENERAL = "general"


@attrs.frozen(kw_only=True)
class CampaignTemplate:
    """A reusable campaign blueprint (table ``campaign_templates``).

    Built-in templates have ``owner_id`` None and are read-only; an owner's
    saved templates carry their ``owner_id`` and are visible to them only.
    ``key`` is a stable slug workflows can refer to (``win_back_offer``).
    ``default_settings`` holds what a new campaign inherits besides content:
    ``goals``, ``platforms``, ``budget``, ``estimatedROI``...
    """

    id: str
    name: str
    description: str | None = None
    niche: Niche = attrs.field(converter=Niche)
    type: CampaignType = attrs.field(converter=CampaignType)
    content: dict[str, Any] = attrs.field(factory=dict)
    default_settings: dict[str, Any] = attrs.field(factory=dict)
    usage_count: int = 0
    avg_performance: float | None = None
    created_at: datetime
    updated_at: datetime
    owner_id: str | None = None
    key: str | None = None
    version: int = 1

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None
