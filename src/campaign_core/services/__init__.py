"""The workspace services (one module each) and their result types."""

from campaign_core.services.abtests import ABTestDetails, ABTestService
from campaign_core.services.analytics import AnalyticsService, TrackingBatchReport, TrackingReceipt
from campaign_core.services.audit import AuditService
from campaign_core.services.automations import (
    ActionResult,
    AutomationService,
    ExecutionResult,
    ExecutionStats,
    StepStats,
)
from campaign_core.services.campaigns import (
    CampaignLaunchResult,
    CampaignService,
    Page,
    ScheduleConflict,
)
from campaign_core.services.credentials import CredentialInfo, CredentialService
from campaign_core.services.fans import FanService, ImportReport
from campaign_core.services.messages import MessageTemplateService
from campaign_core.services.segments import (
    CriteriaEvaluation,
    RefreshResult,
    SegmentComparison,
    SegmentMembersPage,
    SegmentPerformance,
    SegmentService,
)

__all__ = [
    "ABTestDetails",
    "ABTestService",
    "ActionResult",
    "AnalyticsService",
    "AuditService",
    "AutomationService",
    "CampaignLaunchResult",
    "CampaignService",
    "CredentialInfo",
    "CredentialService",
    "CriteriaEvaluation",
    "ExecutionResult",
    "ExecutionStats",
    "FanService",
    "ImportReport",
    "MessageTemplateService",
    "Page",
    "RefreshResult",
    "ScheduleConflict",
    "SegmentComparison",
    "SegmentMembersPage",
    "SegmentPerformance",
    "SegmentService",
    "StepStats",
    "TrackingBatchReport",
    "TrackingReceipt",
]
