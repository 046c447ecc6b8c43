"""campaign-core: an embeddable marketing-campaign engine with pluggable storage.

Start here::

    from campaign_core import Actor, CampaignCore, FakeClock
    from campaign_core_memory import InMemoryStore

    core = CampaignCore(InMemoryStore(), clock=FakeClock())
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring sale", type="promotion")

``import campaign_core`` never imports SQLAlchemy, boto3, matplotlib or pandas.
"""

from campaign_core._core import CampaignCore, RecordingMessenger, TickError, TickReport, Workspace
from campaign_core._publishing_engine import PlatformPublishResult
from campaign_core._version import __version__
from campaign_core.alerts import Alert, Alerter, RecordingAlerter
from campaign_core.clock import Clock, FakeClock, SystemClock
from campaign_core.durations import parse_duration
from campaign_core.errors import (
    CampaignCoreError,
    ConflictError,
    InvalidTransitionError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RateLimitedError,
    StoreUnavailableError,
    ValidationError,
)
from campaign_core.ids import CuidIds, IdFactory, SequentialIds
from campaign_core.models import (
    Campaign,
    CampaignStatus,
    CampaignTemplate,
    CampaignType,
    Niche,
    Platform,
    PublishJob,
    PublishStatus,
)
from campaign_core.permissions import Actor, Permission, Role
from campaign_core.serialization import from_json, to_json
from campaign_core.services import CampaignLaunchResult, CampaignService, Page, ScheduleConflict
from campaign_core.settings import Settings

__all__ = [
    "Actor",
    "Alert",
    "Alerter",
    "Campaign",
    "CampaignCore",
    "CampaignCoreError",
    "CampaignLaunchResult",
    "CampaignService",
    "CampaignStatus",
    "CampaignTemplate",
    "CampaignType",
    "Clock",
    "ConflictError",
    "CuidIds",
    "FakeClock",
    "IdFactory",
    "InvalidTransitionError",
    "MissingDependencyError",
    "Niche",
    "NotFoundError",
    "Page",
    "Permission",
    "PermissionDeniedError",
    "Platform",
    "PlatformPublishResult",
    "Problem",
    "PublishJob",
    "PublishStatus",
    "RateLimitedError",
    "RecordingAlerter",
    "RecordingMessenger",
    "Role",
    "ScheduleConflict",
    "SequentialIds",
    "Settings",
    "StoreUnavailableError",
    "SystemClock",
    "TickError",
    "TickReport",
    "ValidationError",
    "Workspace",
    "__version__",
    "from_json",
    "parse_duration",
    "to_json",
]
