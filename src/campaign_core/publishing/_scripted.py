"""A fake platform that fails in scripted ways, for hosts' tests and ours.

:class:`ScriptedPublisher` plays, for each platform, a list of steps, one per
attempt of a post (attempts are counted per idempotency key)::

    publisher = ScriptedPublisher(
        {
            "instagram": [Timeout(), RateLimit(retry_after=120), Succeed()],
            "reddit": [Reject("title breaks rule 3")],
        }
    )

Attempts past the end of a platform's script play ``then`` (``Succeed()`` by
default). Like a real platform with idempotency keys, it publishes a key at
most once: a later call with a key already published returns the first
success (and one with the same key but other content is refused). Every call
is recorded in :attr:`ScriptedPublisher.calls`; what was actually posted is in
:attr:`ScriptedPublisher.posts`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._platforms import PLATFORMS
from campaign_core.publishing._ports import (
    PublishFailure,
    PublishOutcome,
    PublishRequest,
    PublishSuccess,
)

__all__ = [
    "LostResponse",
    "PublishCall",
    "RateLimit",
    "Reject",
    "ScriptStep",
    "ScriptedPublisher",
    "ServerError",
    "Succeed",
    "Timeout",
]


@attrs.frozen
class Succeed:
    """The platform accepts the post.

    Attributes:
        external_id: the post id to answer; ``<platform>-post-<n>`` when ``None``.
        url: the post URL to answer; ``https://<platform>.example/p/<n>`` when ``None``.
    """

    external_id: str | None = None
    url: str | None = None


@attrs.frozen
class Timeout:
    """The call times out: ``publish`` raises :class:`TimeoutError`; nothing is posted."""

    message: str = "the platform did not answer in time"


@attrs.frozen
class RateLimit:
    """The platform rate-limits the call: a retryable failure with ``retry_after``."""

    retry_after: float = 60.0
    reason: str = "rate limited by the platform"


@attrs.frozen
class ServerError:
    """The platform fails (an HTTP 5xx): a retryable failure without ``retry_after``."""

    reason: str = "the platform answered 503 Service Unavailable"


@attrs.frozen
class Reject:
    """The platform refuses the post for good: a non-retryable failure."""

    reason: str = "the platform rejected the post"


@attrs.frozen
class LostResponse:
    """The platform posts it, but the answer is lost: ``publish`` raises :class:`TimeoutError`.

    This is the crash window of at-least-once publishing: the post exists, the
    caller does not know. A retry with the same idempotency key must find it.
    """

    message: str = "the connection dropped after the platform accepted the post"


ScriptStep = Succeed | Timeout | RateLimit | ServerError | Reject | LostResponse
_STEP_TYPES: Final = (Succeed, Timeout, RateLimit, ServerError, Reject, LostResponse)


@attrs.frozen
class PublishCall:
    """One call to :meth:`ScriptedPublisher.publish`.

    Attributes:
        request: the request received.
        attempt: the number of this call for the request's idempotency key (1, 2...).
        step: the scripted step played; ``None`` when the call was answered from
            an earlier post with the same key (``deduplicated``).
        outcome: what ``publish`` returned; ``None`` when it raised.
        error: the message of the exception raised, if any.
        deduplicated: the key was already published; nothing new was posted.
        posted: this call created a post on the (fake) platform.
    """

    request: PublishRequest
    attempt: int
    step: ScriptStep | None
    outcome: PublishOutcome | None
    error: str | None = None
    deduplicated: bool = False
    posted: bool = False


@attrs.frozen
class _Post:
    request: PublishRequest
    success: PublishSuccess


def _same_post(a: PublishRequest, b: PublishRequest) -> bool:
    return (
        a.platform == b.platform
        and a.campaign_id == b.campaign_id
        and dict(a.content) == dict(b.content)
        and tuple(a.media_urls) == tuple(b.media_urls)
    )


class ScriptedPublisher:
    """A :class:`~campaign_core.ports.Publisher` that fails as scripted, then succeeds.

    Args:
        script: for each platform, the steps of attempts 1, 2, ... of each post.
        then: the step played once a platform's script is used up (and for
            platforms without a script).
        dedupe: behave like a platform that honours idempotency keys (the
            default). ``False`` makes a platform that posts again on every
            successful call, to show what a missing key costs.
        platforms: the platforms a script may name; the built-ins by default
            (pass ``settings.platforms.names`` to script a declared platform).

    Raises:
        ValidationError: an unknown platform or something that is not a step.
    """

    def __init__(
        self,
        script: Mapping[str, Sequence[ScriptStep]] | None = None,
        *,
        then: ScriptStep = Succeed(),
        dedupe: bool = True,
        platforms: Collection[str] = PLATFORMS,
    ) -> None:
        problems = ProblemCollector()
        steps: dict[str, tuple[ScriptStep, ...]] = {}
        if script is not None and not isinstance(script, Mapping):
            raise ValidationError.single(
                "script", "must map platform names to lists of steps", "invalid_type"
            )
        raw_script: dict[Any, Any] = dict(script or {})
        for platform, items in raw_script.items():
            path = join_path("script", str(platform))
            if platform not in platforms:
                problems.add(path, f"unknown platform {platform!r}", "unknown_field")
                continue
            if isinstance(items, str) or not isinstance(items, Sequence):
                problems.add(path, "must be a list of steps", "invalid_type")
                continue
            for index, step in enumerate(items):
                if not isinstance(step, _STEP_TYPES):
                    problems.add(
                        join_path(path, index),
                        f"{step!r} is not a step (Succeed, Timeout, RateLimit, ServerError, "
                        "Reject, LostResponse)",
                        "invalid_type",
                    )
            steps[platform] = tuple(items)
        then_step: Any = then
        if not isinstance(then_step, _STEP_TYPES):
            problems.add("then", f"{then_step!r} is not a step", "invalid_type")
        problems.raise_if_any()
        self._script = steps
        self._then = then
        self._dedupe = bool(dedupe)
        self._lock = threading.Lock()
        self._calls: list[PublishCall] = []
        self._attempts: dict[str, int] = {}
        self._posts: list[_Post] = []
        self._by_key: dict[str, _Post] = {}

    def __repr__(self) -> str:
        return (
            f"ScriptedPublisher(platforms={sorted(self._script)}, calls={len(self._calls)}, "
            f"posts={len(self._posts)})"
        )

    def publish(self, request: PublishRequest) -> PublishOutcome:
        """Play the next scripted step for ``request``'s idempotency key.

        Returns:
            A success, a retryable failure (rate limit, server error) or a
            non-retryable one (rejection, or the key reused for other content).

        Raises:
            TimeoutError: a :class:`Timeout` or :class:`LostResponse` step.
        """
        with self._lock:
            key = request.idempotency_key
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            earlier = self._by_key.get(key) if self._dedupe else None
            if earlier is not None:
                if not _same_post(earlier.request, request):
                    outcome: PublishOutcome = PublishFailure(
                        reason="idempotency key reused for different content",
                        retryable=False,
                        code="idempotency_conflict",
                    )
                else:
                    outcome = earlier.success
                self._calls.append(PublishCall(request, attempt, None, outcome, deduplicated=True))
                return outcome
            script = self._script.get(request.platform, ())
            step = script[attempt - 1] if attempt <= len(script) else self._then
            if isinstance(step, Timeout):
                self._calls.append(PublishCall(request, attempt, step, None, error=step.message))
                raise TimeoutError(step.message)
            if isinstance(step, Succeed | LostResponse):
                success = self._post(request, step if isinstance(step, Succeed) else Succeed())
                if isinstance(step, LostResponse):
                    self._calls.append(
                        PublishCall(request, attempt, step, None, error=step.message, posted=True)
                    )
                    raise TimeoutError(step.message)
                self._calls.append(PublishCall(request, attempt, step, success, posted=True))
                return success
            if isinstance(step, RateLimit):
                outcome = PublishFailure(
                    reason=step.reason,
                    retryable=True,
                    retry_after=step.retry_after,
                    code="rate_limited",
                )
            elif isinstance(step, ServerError):
                outcome = PublishFailure(reason=step.reason, retryable=True, code="server_error")
            else:
                outcome = PublishFailure(reason=step.reason, retryable=False, code="rejected")
            self._calls.append(PublishCall(request, attempt, step, outcome))
            return outcome

    def _post(self, request: PublishRequest, step: Succeed) -> PublishSuccess:
        number = len(self._posts) + 1
        success = PublishSuccess(
            external_id=step.external_id or f"{request.platform}-post-{number}",
            url=step.url or f"https://{request.platform}.example/p/{number}",
        )
        post = _Post(request, success)
        self._posts.append(post)
        self._by_key.setdefault(request.idempotency_key, post)
        return success

    @property
    def calls(self) -> tuple[PublishCall, ...]:
        """Every call so far, in order."""
        with self._lock:
            return tuple(self._calls)

    @property
    def posts(self) -> tuple[PublishRequest, ...]:
        """The requests that created a post, in order (duplicates show up here twice)."""
        with self._lock:
            return tuple(p.request for p in self._posts)

    def calls_for(
        self, *, platform: str | None = None, key: str | None = None
    ) -> tuple[PublishCall, ...]:
        """The calls for one platform and/or one idempotency key."""
        with self._lock:
            return tuple(
                c
                for c in self._calls
                if (platform is None or c.request.platform == platform)
                and (key is None or c.request.idempotency_key == key)
            )

    def posts_for(self, platform: str) -> tuple[PublishRequest, ...]:
        """The requests that created a post on ``platform``."""
        with self._lock:
            return tuple(p.request for p in self._posts if p.request.platform == platform)

    def attempts(self, key: str) -> int:
        """How many times ``publish`` was called with idempotency key ``key``."""
        with self._lock:
            return self._attempts.get(key, 0)
