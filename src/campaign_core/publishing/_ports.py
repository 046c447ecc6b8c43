"""The Publisher port: publish one platform's content, idempotently."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "PublishFailure",
    "PublishOutcome",
    "PublishRequest",
    "PublishSuccess",
    "Publisher",
    "RecordingPublisher",
]


@attrs.frozen
class PublishRequest:
    """One platform's content for one campaign.

    Attributes:
        campaign_id: the campaign published.
        owner_id: the creator account that owns it.
        platform: ``onlyfans``, ``instagram``, ``tiktok`` or ``reddit``.
        content: the content adapted for this platform.
        media_urls: media to attach.
        idempotency_key: stable for (campaign, platform, content version); a
            publisher that sees the same key twice must not publish twice.
    """

    campaign_id: str
    owner_id: str
    platform: str
    content: Mapping[str, Any]
    media_urls: tuple[str, ...]
    idempotency_key: str


@attrs.frozen
class PublishSuccess:
    """The platform accepted the post."""

    external_id: str
    url: str | None = None


@attrs.frozen
class PublishFailure:
    """The platform refused or could not be reached.

    Attributes:
        reason: what went wrong, for a human.
        retryable: whether trying again later may succeed (timeouts, rate limits).
        retry_after: seconds the platform asked us to wait, if it said.
    """

    reason: str
    retryable: bool
    retry_after: float | None = None


PublishOutcome = PublishSuccess | PublishFailure


@runtime_checkable
class Publisher(Protocol):
    """Publishes content to one platform.

    Contract: ``publish`` returns a :class:`PublishSuccess` or a
    :class:`PublishFailure`; an exception it raises is treated as a retryable
    failure. It must deduplicate on ``request.idempotency_key`` where the
    platform allows, because the engine calls at least once.
    """

    def publish(self, request: PublishRequest) -> PublishOutcome: ...


class RecordingPublisher:
    """Default publisher: records every request and succeeds, deduplicating by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[PublishRequest] = []
        self._by_key: dict[str, PublishSuccess] = {}

    def publish(self, request: PublishRequest) -> PublishOutcome:
        with self._lock:
            done = self._by_key.get(request.idempotency_key)
            if done is not None:
                return done
            self.requests.append(request)
            outcome = PublishSuccess(
                external_id=f"{request.platform}-{len(self.requests)}",
                url=f"https://{request.platform}.example/posts/{len(self.requests)}",
            )
            self._by_key[request.idempotency_key] = outcome
            return outcome
