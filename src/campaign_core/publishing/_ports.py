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
    "call_publisher",
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
        attempt: which attempt this is (1 for the first call, 2 for the first
            retry...), for the publisher's logs; it is not part of the identity
            of the post (the key is).
        credential: the account's credentials for the platform, opened (its
            repr, str and JSON hide every value; call ``reveal()`` to use
            them), or None when none are stored.
    """

    campaign_id: str
    owner_id: str
    platform: str
    content: Mapping[str, Any]
    media_urls: tuple[str, ...]
    idempotency_key: str
    attempt: int = 1
    credential: Any = attrs.field(default=None, eq=False)


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
        code: the platform's own error code, if any (``"rate_limited"``,
            ``"content_rejected"``, an HTTP status...), for logs and alerts.
    """

    reason: str
    retryable: bool
    retry_after: float | None = None
    code: str | None = None


PublishOutcome = PublishSuccess | PublishFailure


@runtime_checkable
class Publisher(Protocol):
    """Publishes content to one platform.

    Contract: ``publish`` returns a :class:`~campaign_core.publishing.PublishSuccess` or a
    :class:`~campaign_core.publishing.PublishFailure`; an exception it raises is treated as a retryable
    failure (see :func:`call_publisher`). It must deduplicate on
    ``request.idempotency_key`` where the platform allows (or keep its own
    record of keys already published), because the engine calls at least once:
    a crash after the platform accepted a post but before the engine recorded
    it leads to the same request being sent again. A second call with a key
    already published must return the first call's :class:`~campaign_core.publishing.PublishSuccess`.
    It must bound its own network time (a timeout), since the engine never
    interrupts a call. It may be called from several threads.
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


_MAX_REASON = 500


def call_publisher(publisher: Publisher, request: PublishRequest) -> PublishOutcome:
    """Call ``publisher.publish(request)`` the way the engine does: never raising.

    An exception raised by the publisher (a timeout, a dropped connection, a
    bug) becomes a retryable :class:`~campaign_core.publishing.PublishFailure` whose reason names the
    exception; a return value that is neither :class:`~campaign_core.publishing.PublishSuccess` nor
    :class:`~campaign_core.publishing.PublishFailure` becomes a non-retryable failure, since calling a
    broken publisher again will not help.

    Args:
        publisher: the host's publisher.
        request: what to publish.

    Returns:
        The outcome.
    """
    try:
        outcome: object = publisher.publish(request)
    except Exception as exc:  # the contract: any exception is a retryable failure
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return PublishFailure(reason=reason[:_MAX_REASON], retryable=True, code="exception")
    if isinstance(outcome, PublishSuccess | PublishFailure):
        return outcome
    return PublishFailure(
        reason=f"the publisher returned {type(outcome).__name__}, not a publish outcome",
        retryable=False,
        code="invalid_outcome",
    )
