"""The workspace services (one module each)."""

from campaign_core.services._abtests import ABTestDetails
from campaign_core.services.campaigns import (
    CampaignLaunchResult,
    CampaignService,
    Page,
    ScheduleConflict,
)

__all__ = ["ABTestDetails", "CampaignLaunchResult", "CampaignService", "Page", "ScheduleConflict"]
