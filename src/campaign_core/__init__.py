"""campaign-core: an embeddable marketing-campaign engine with pluggable storage."""

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
    ValidationError,
)
from campaign_core.ids import CuidIds, IdFactory, SequentialIds

__version__ = "0.1.0.dev0"

__all__ = [
    "CampaignCoreError",
    "Clock",
    "ConflictError",
    "CuidIds",
    "FakeClock",
    "IdFactory",
    "InvalidTransitionError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "RateLimitedError",
    "SequentialIds",
    "SystemClock",
    "ValidationError",
    "__version__",
    "parse_duration",
]
