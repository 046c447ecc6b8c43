"""The workspace services (one module each)."""

from campaign_core.services.campaigns import (
    CampaignLaunchResult,
    CampaignService,
    Page,
    ScheduleConflict,
)

__all__ = ["CampaignLaunchResult", "CampaignService", "Page", "ScheduleConflict"]
