"""The records the library stores: frozen attrs classes, one module per aggregate.

Field names are the seed's, in snake_case (``userId`` -> ``user_id``); JSON uses
the seed's camelCase (see :mod:`campaign_core.serialization`).
"""

from campaign_core.models._campaigns import Campaign, CampaignStatus, CampaignType, Platform
from campaign_core.models._common import StrEnum
from campaign_core.models._publishing import PublishJob, PublishStatus
from campaign_core.models._templates import CampaignTemplate, Niche

__all__ = [
    "Campaign",
    "CampaignStatus",
    "CampaignTemplate",
    "CampaignType",
    "Niche",
    "Platform",
    "PublishJob",
    "PublishStatus",
    "StrEnum",
]
