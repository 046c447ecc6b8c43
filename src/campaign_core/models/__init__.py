"""The records the library stores: frozen attrs classes, one module per aggregate.

Field names are the seed's, in snake_case (``userId`` -> ``user_id``); JSON uses
the seed's camelCase (see :mod:`campaign_core.serialization`).
"""

from campaign_core.models._abtests import ABTest, ABTestStatus, ABTestVariant
from campaign_core.models._analytics import CampaignConversion, CampaignMetric
from campaign_core.models._audit import AuditRecord
from campaign_core.models._automations import (
    Automation,
    AutomationExecution,
    AutomationStatus,
    ExecutionStatus,
)
from campaign_core.models._campaigns import (
    Campaign,
    CampaignStatus,
    CampaignType,
    Platform,
)
from campaign_core.models._campaigns import (
    PlatformName as PlatformName,
)
from campaign_core.models._campaigns import (
    to_platform as to_platform,
)
from campaign_core.models._common import (
    StrEnum as StrEnum,
)
from campaign_core.models._delivery import (
    Broadcast,
    BroadcastStatus,
    ConsentEvent,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    FanConsent,
    Suppression,
    SuppressionReason,
    UnsubscribeTokenUse,
)
from campaign_core.models._fans import (
    FAN_FIELDS as FAN_FIELDS,
)
from campaign_core.models._fans import (
    Fan,
    FanEvent,
    SpendingLevel,
    SubscriptionStatus,
    TraitType,
)
from campaign_core.models._messages import MESSAGE_PARTS, MessageTemplate
from campaign_core.models._publishing import PublishJob, PublishStatus
from campaign_core.models._requests import IdempotencyRecord
from campaign_core.models._runs import (
    AutomationRun,
    AutomationStepRun,
    AutomationTrigger,
    AutomationTriggerMatch,
    AutomationVersion,
    RunStatus,
    StepStatus,
)
from campaign_core.models._security import PlatformCredentialRecord, RateLimitState
from campaign_core.models._segments import MemberSource, Segment, SegmentMember, SegmentType
from campaign_core.models._templates import CampaignTemplate, Niche
from campaign_core.models._tracking import CampaignAnalyticsState, TrackingEventRecord
from campaign_core.models._validation import WinnerValidation

__all__ = [
    "MESSAGE_PARTS",
    "ABTest",
    "ABTestStatus",
    "ABTestVariant",
    "AuditRecord",
    "Automation",
    "AutomationExecution",
    "AutomationRun",
    "AutomationStatus",
    "AutomationStepRun",
    "AutomationTrigger",
    "AutomationTriggerMatch",
    "AutomationVersion",
    "Broadcast",
    "BroadcastStatus",
    "Campaign",
    "CampaignAnalyticsState",
    "CampaignConversion",
    "CampaignMetric",
    "CampaignStatus",
    "CampaignTemplate",
    "CampaignType",
    "ConsentEvent",
    "Delivery",
    "DeliveryEvent",
    "DeliveryStatus",
    "ExecutionStatus",
    "Fan",
    "FanConsent",
    "FanEvent",
    "IdempotencyRecord",
    "MemberSource",
    "MessageTemplate",
    "Niche",
    "Platform",
    "PlatformCredentialRecord",
    "PublishJob",
    "PublishStatus",
    "RateLimitState",
    "RunStatus",
    "Segment",
    "SegmentMember",
    "SegmentType",
    "SpendingLevel",
    "StepStatus",
    "SubscriptionStatus",
    "Suppression",
    "SuppressionReason",
    "TrackingEventRecord",
    "TraitType",
    "UnsubscribeTokenUse",
    "WinnerValidation",
]
