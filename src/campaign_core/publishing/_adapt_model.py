"""The content generator port and its value objects: a request, a result, the changes made."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from campaign_core.publishing._keys import publish_idempotency_key
from campaign_core.publishing._platforms import PlatformLimits

__all__ = ["AdaptationRequest", "AdaptationResult", "Change", "ChangeAction", "ContentGenerator"]

ChangeAction = Literal["truncated", "dropped", "replaced", "rounded", "deduplicated"]


@attrs.frozen
class Change:
    """One thing adaptation changed.

    Attributes:
        field: the field changed: an input field (``description``, ``hashtags``,
            ``link``, ``price``, ``mediaUrls``...) or, when the composed text as a
            whole had to be cut, the output field (``caption``, ``title``, ``body``).
        action: ``truncated``, ``dropped``, ``replaced``, ``rounded`` or ``deduplicated``.
        message: what happened and why, for a human.
        before: the length (texts, in the platform's unit) or count (lists)
            before the change; ``None`` where a size means nothing (a price).
        after: the same, after the change.
    """

    field: str
    action: ChangeAction
    message: str
    before: int | None = None
    after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "action": self.action,
            "message": self.message,
            "before": self.before,
            "after": self.after,
        }


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _change_tuple(value: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(value)


@attrs.frozen
class AdaptationRequest:
    """What a :class:`ContentGenerator` is asked to adapt.

    Attributes:
        platform: the target platform.
        content: the platform's resolved content (base merged with its override,
            see :func:`~campaign_core.publishing.resolve_platform_content`), flat.
        limits: the platform's limits (possibly overridden by the host).
        media_urls: the media for this platform, in order.
        campaign_type: ``ppv``, ``subscription``... (price rules may depend on it).
    """

    platform: str
    content: Mapping[str, Any]
    limits: PlatformLimits
    media_urls: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    campaign_type: str | None = None


@attrs.frozen
class AdaptationResult:
    """Content in one platform's shape, with a report of what adaptation changed.

    Attributes:
        platform: the platform.
        content: the adapted content: ``caption`` (caption platforms) or
            ``title``/``body`` (Reddit), ``price`` where the platform has paid
            posts, plus pass-through fields.
        media_urls: the media to attach, in order.
        changes: every change made to the input, in the order made.
    """

    platform: str
    content: Mapping[str, Any]
    media_urls: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    changes: tuple[Change, ...] = attrs.field(default=(), converter=_change_tuple)

    @property
    def changed(self) -> bool:
        """Whether adaptation changed anything beyond the platform's shape."""
        return bool(self.changes)

    def idempotency_key(self, campaign_id: str) -> str:
        """The publish idempotency key of this content for ``campaign_id``.

        See :func:`~campaign_core.publishing.publish_idempotency_key`.
        """
        return publish_idempotency_key(campaign_id, self.platform, self.content, self.media_urls)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "content": copy.deepcopy(dict(self.content)),
            "mediaUrls": list(self.media_urls),
            "changes": [c.to_json() for c in self.changes],
        }


@runtime_checkable
class ContentGenerator(Protocol):
    """Adapts (or generates) a post for one platform.

    Contract:

    - ``adapt`` returns an :class:`~campaign_core.publishing.AdaptationResult` for ``request.platform``
      whose ``content`` is in the platform's shape: a ``caption`` on caption
      platforms (``request.limits.layout == "caption"``), a ``title`` and
      optional ``body`` on title/body platforms; a ``price`` only where the
      platform has paid posts; other (pass-through) fields as given.
    - It should make the content fit ``request.limits`` and list what it changed
      in ``changes``. The engine validates the result with
      ``validate_platform_content`` whatever the generator, so content that
      does not fit is rejected, never published.
    - It must not change ``request`` (or the objects in it) and must return
      JSON-safe content. It need not be deterministic: a publish job adapts
      once and keeps the result, so every retry sends the same post under the
      job's key. (A host that publishes adapted content itself under
      :meth:`AdaptationResult.idempotency_key` gets a new key for other words.)
    - It raises :class:`~campaign_core.errors.ValidationError` (paths under
      ``content.<platform>``) for content it cannot adapt; any other exception
      propagates to the caller unchanged.
    """

    def adapt(self, request: AdaptationRequest) -> AdaptationResult: ...
