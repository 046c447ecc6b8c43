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
    from campaign_core.alerts import RecordingAlerter
    from campaign_core.clock import FakeClock, SystemClock
    from campaign_core.errors import (
        CampaignCoreError,
        ConflictError,
        CorruptRecordError,
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
    from campaign_core.ids import SequentialIds
    from campaign_core.models import Campaign, CampaignStatus, CampaignType, Platform
    from campaign_core.permissions import Actor, Role
    from campaign_core.serialization import from_json, to_json
    from campaign_core.settings import Settings

__all__ = [
    "Actor",
    "Campaign",
    "CampaignCore",
    "CampaignCoreError",
    "CampaignStatus",
    "CampaignType",
    "ConflictError",
    "CorruptRecordError",
    "FakeClock",
    "InvalidTokenError",
    "InvalidTransitionError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "Platform",
    "Problem",
    "RateLimitedError",
    "RecordingAlerter",
    "RecordingMessenger",
    "Role",
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
    "to_json",
]

# The names load on first use (PEP 562): ``import campaign_core`` costs a few
# milliseconds, and a host or command that needs only part of the library (the
# command line's --help, a store, the statistics) does not pay for the rest.
_LAZY: dict[str, str] = {
    "Actor": "campaign_core.permissions",
    "Campaign": "campaign_core.models",
    "CampaignCore": "campaign_core._core",
    "CampaignCoreError": "campaign_core.errors",
    "CampaignStatus": "campaign_core.models",
    "CampaignType": "campaign_core.models",
    "ConflictError": "campaign_core.errors",
    "CorruptRecordError": "campaign_core.errors",
    "FakeClock": "campaign_core.clock",
    "InvalidTokenError": "campaign_core.errors",
    "InvalidTransitionError": "campaign_core.errors",
    "MissingDependencyError": "campaign_core.errors",
    "NotFoundError": "campaign_core.errors",
    "PermissionDeniedError": "campaign_core.errors",
    "Platform": "campaign_core.models",
    "Problem": "campaign_core.errors",
    "RateLimitedError": "campaign_core.errors",
    "RecordingAlerter": "campaign_core.alerts",
    "RecordingMessenger": "campaign_core._core",
    "Role": "campaign_core.permissions",
    "SequentialIds": "campaign_core.ids",
    "Settings": "campaign_core.settings",
    "StoreUnavailableError": "campaign_core.errors",
    "SystemClock": "campaign_core.clock",
    "TickError": "campaign_core._core",
    "TickReport": "campaign_core._core",
    "ValidationError": "campaign_core.errors",
    "Workspace": "campaign_core._core",
    "from_json": "campaign_core.serialization",
    "to_json": "campaign_core.serialization",
}
# Names the root exported before its API was narrowed to the set above. They still import
# (at run time only: not typed, not documented) from their one public home.
_MOVED: dict[str, str] = {
    "Alert": "campaign_core.alerts",
    "Alerter": "campaign_core.ports",
    "CampaignLaunchResult": "campaign_core.services",
    "CampaignService": "campaign_core.services",
    "CampaignTemplate": "campaign_core.models",
    "Clock": "campaign_core.ports",
    "CuidIds": "campaign_core.ids",
    "IdFactory": "campaign_core.ports",
    "Niche": "campaign_core.models",
    "Page": "campaign_core.services",
    "Permission": "campaign_core.permissions",
    "PlatformPublishResult": "campaign_core.services",
    "PublishJob": "campaign_core.models",
    "PublishStatus": "campaign_core.models",
    "ScheduleConflict": "campaign_core.services",
    "parse_duration": "campaign_core.durations",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name) or _MOVED.get(name)
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
