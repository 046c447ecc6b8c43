"""Idempotency keys for publish jobs: stable for (campaign, platform, content)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from campaign_core.errors import ValidationError

__all__ = ["content_digest", "publish_idempotency_key"]

_KEY_PREFIX = "cc-pub"


def content_digest(content: Mapping[str, Any], media_urls: Sequence[str] = ()) -> str:
    """A SHA-256 hex digest of adapted content and media, independent of key order.

    Args:
        content: JSON content (finite numbers, string keys).
        media_urls: the media, in order (order matters: it is the carousel order).

    Returns:
        64 lower-case hex characters.

    Raises:
        ValidationError: ``content`` is not JSON (NaN, infinity, non-string keys,
            objects JSON cannot encode).
    """
    try:
        canonical = json.dumps(
            {"content": content, "media": list(media_urls)},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError.single(
            "content", f"content is not JSON and cannot be fingerprinted: {exc}", "invalid_type"
        ) from None
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def publish_idempotency_key(
    campaign_id: str,
    platform: str,
    content: Mapping[str, Any],
    media_urls: Sequence[str] = (),
) -> str:
    """The idempotency key of publishing ``content`` for a campaign on a platform.

    The key is the same whenever the campaign, the platform and the adapted
    content (with its media) are the same, and differs as soon as one of them
    changes: a retry or a recovery after a crash reuses it, so a publisher that
    deduplicates never posts twice; edited content gets a new key and is
    published anew. It is under 64 ASCII characters (``cc-pub-<platform>-<40 hex>``),
    short enough for any platform's idempotency header.

    Args:
        campaign_id: the campaign.
        platform: the platform name.
        content: the adapted content for that platform.
        media_urls: the adapted media for that platform.

    Returns:
        The key.

    Raises:
        ValidationError: ``content`` is not JSON.
    """
    digest = hashlib.sha256(
        f"{campaign_id}\x00{platform}\x00{content_digest(content, media_urls)}".encode()
    ).hexdigest()
    return f"{_KEY_PREFIX}-{platform}-{digest[:40]}"
