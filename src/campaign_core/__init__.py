"""campaign-core: an embeddable marketing-campaign engine with pluggable storage.

Start here::

    from campaign_core import Actor, CampaignCore, FakeClock
    from campaign_core_memory import InMemoryStore

    core = CampaignCore(InMemoryStore(), clock=FakeClock())
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring sale", type="promotion")

``import campaign_core`` never imports SQLAlchemy, boto3, matplotlib or pandas.
"""

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from campaign_core._version import __version__

if TYPE_CHECKING:
    from campaign_core._core import (
        CampaignCore,
        RecordingMessenger,
        TickError,
        TickReport,
        Workspace,
    )
    from campaign_core.alerts import Alert, Alerter, RecordingAlerter
    from campaign_core.clock import Clock, FakeClock, SystemClock
    from campaign_core.durations import parse_duration
    from campaign_core.errors import (
        CampaignCoreError,
        ConflictError,
        InvalidTokenError,
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
    from campaign_core.jobs.publishing import PlatformPublishResult
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
    "InvalidTokenError",
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

# The names load on first use (PEP 562): ``import campaign_core`` costs a few
# milliseconds, and a host or command that needs only part of the library (the
# command line's --help, a store, the statistics) does not pay for the rest.
_LAZY: dict[str, str] = {
    "Actor": "campaign_core.permissions",
    "Alert": "campaign_core.alerts",
    "Alerter": "campaign_core.alerts",
    "Campaign": "campaign_core.models",
    "CampaignCore": "campaign_core._core",
    "CampaignCoreError": "campaign_core.errors",
    "CampaignLaunchResult": "campaign_core.services",
    "CampaignService": "campaign_core.services",
    "CampaignStatus": "campaign_core.models",
    "CampaignTemplate": "campaign_core.models",
    "CampaignType": "campaign_core.models",
    "Clock": "campaign_core.clock",
    "ConflictError": "campaign_core.errors",
    "CuidIds": "campaign_core.ids",
    "FakeClock": "campaign_core.clock",
    "IdFactory": "campaign_core.ids",
    "InvalidTokenError": "campaign_core.errors",
    "InvalidTransitionError": "campaign_core.errors",
    "MissingDependencyError": "campaign_core.errors",
    "Niche": "campaign_core.models",
    "NotFoundError": "campaign_core.errors",
    "Page": "campaign_core.services",
    "Permission": "campaign_core.permissions",
    "PermissionDeniedError": "campaign_core.errors",
    "Platform": "campaign_core.models",
    "PlatformPublishResult": "campaign_core.jobs.publishing",
    "Problem": "campaign_core.errors",
    "PublishJob": "campaign_core.models",
    "PublishStatus": "campaign_core.models",
    "RateLimitedError": "campaign_core.errors",
    "RecordingAlerter": "campaign_core.alerts",
    "RecordingMessenger": "campaign_core._core",
    "Role": "campaign_core.permissions",
    "ScheduleConflict": "campaign_core.services",
    "SequentialIds": "campaign_core.ids",
    "Settings": "campaign_core.settings",
    "StoreUnavailableError": "campaign_core.errors",
    "SystemClock": "campaign_core.clock",
    "TickError": "campaign_core._core",
    "TickReport": "campaign_core._core",
    "ValidationError": "campaign_core.errors",
    "Workspace": "campaign_core._core",
    "from_json": "campaign_core.serialization",
    "parse_duration": "campaign_core.durations",
    "to_json": "campaign_core.serialization",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        # ``import campaign_core`` then ``campaign_core.models.X`` worked while
        # the root imported everything: subpackages still load on attribute access.
        if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return importlib.import_module(f"{__name__}.{name}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
