"""The workspace services and their result types: the one public home of both.

The modules below this package (``campaign_core.services.campaigns``...) hold the code; import
from here.
"""

from campaign_core.jobs.delivery import DeliveryCounts
from campaign_core.jobs.publishing import PlatformPublishResult
from campaign_core.jobs.segments import RefreshResult
from campaign_core.services._automation_runs import (
    ExecutionStats,
    GoalStats,
    PathStats,
    StepStats,
)
from campaign_core.services._campaign_base import CampaignLaunchResult, ScheduleConflict
from campaign_core.services._fan_messaging import DeliveryEventsReport, UnsubscribeResult
from campaign_core.services._paging import Page
from campaign_core.services._segment_performance import (
    MeanDifference,
    RateDifference,
    SegmentComparison,
    SegmentPairComparison,
    SegmentPerformance,
)
from campaign_core.services._segment_sizes import CriteriaEvaluation
from campaign_core.services.abtests import ABTestDetails, ABTestService
from campaign_core.services.analytics import AnalyticsService, TrackingBatchReport, TrackingReceipt
from campaign_core.services.audit import AuditService
from campaign_core.services.automations import ActionResult, AutomationService, ExecutionResult
from campaign_core.services.campaigns import CampaignService
from campaign_core.services.credentials import CredentialInfo, CredentialService
from campaign_core.services.fans import FanService, ImportReport
from campaign_core.services.messages import MessageTemplateService
from campaign_core.services.segments import SegmentMembersPage, SegmentService

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
    "DeliveryCounts",
    "DeliveryEventsReport",
    "ExecutionResult",
    "ExecutionStats",
    "FanService",
    "GoalStats",
    "ImportReport",
    "MeanDifference",
    "MessageTemplateService",
    "Page",
    "PathStats",
    "PlatformPublishResult",
    "RateDifference",
    "RefreshResult",
    "ScheduleConflict",
    "SegmentComparison",
    "SegmentMembersPage",
    "SegmentPairComparison",
    "SegmentPerformance",
    "SegmentService",
    "StepStats",
    "TrackingBatchReport",
    "TrackingReceipt",
    "UnsubscribeResult",
]
