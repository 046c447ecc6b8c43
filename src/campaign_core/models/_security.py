"""Records for security and operations: rate-limit state and platform credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = ["PlatformCredentialRecord", "RateLimitState"]


@attrs.frozen(kw_only=True)
class RateLimitState:
    """The shared state of one rate limit for one account (table ``rate_limits``).

    ``id`` is ``<account>:<limit name>``; ``state`` is the limiter's own JSON
    (a token bucket's tokens and refill time, a sliding window's timestamps).
    Several processes share a limit through this row and its version.
    """

    id: str
    account_id: str
    name: str
    state: dict[str, Any] = attrs.field(factory=dict)
    updated_at: datetime
    version: int = 1


@attrs.frozen(kw_only=True)
class PlatformCredentialRecord:
    """A platform's API credentials for one account, sealed (table ``platform_credentials``).

    ``sealed`` is the encrypted token; the secret itself is never stored.
    """

    id: str
    owner_id: str
    platform: str
    sealed: str
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None = None
    version: int = 1
