"""Adapted content checked against a platform's limits (whatever generator produced it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._content import GENERIC_FIELDS, check_json_value
from campaign_core.publishing._platforms import PlatformLimits, media_extension, media_kind
from campaign_core.publishing._text import find_hashtags, find_links, find_mentions, text_length

__all__ = ["validate_platform_content"]


def validate_platform_content(
    content: Mapping[str, Any],
    platform: str,
    limits: PlatformLimits,
    *,
    media_urls: Sequence[str] = (),
    campaign_type: str | None = None,
    path: str = "content",
) -> None:
    """Check adapted content against a platform's limits; change nothing.

    Args:
        content: content in the platform's shape (an adapter's output).
        platform: the platform.
        limits: its limits.
        media_urls: the media to attach.
        campaign_type: ``ppv``, ``subscription``... (selects the price range).
        path: where campaign content sits in the caller's input; problems are
            reported under ``<path>.<platform>``.

    Raises:
        ValidationError: every problem, each with its path, such as
            ``content.reddit.title`` (required), ``content.instagram.caption``
            (too long, too many hashtags), ``content.onlyfans.price`` (out of
            range), ``content.tiktok.mediaUrls`` (required) or
            ``content.instagram.mediaUrls[1]`` (unsupported type). Codes:
            ``required``, ``out_of_range``, ``unsupported``, ``unknown_field``,
            ``invalid_type``, ``invalid_value``, ``not_finite``.
    """
    if not isinstance(limits, PlatformLimits) or limits.platform != platform:
        raise ValidationError.single(
            "platform", f"the limits given are not {platform!r}'s limits", "invalid_value"
        )
    base = join_path(path, platform)
    if not isinstance(content, Mapping):
        raise ValidationError.single(base, "must be an object", "invalid_type")
    problems = ProblemCollector()
    unit = limits.length_unit
    text_fields = ("caption",) if limits.layout == "caption" else ("title", "body")

    for key in content:
        if key in GENERIC_FIELDS and key not in text_fields and key != "price":
            problems.add(
                join_path(base, key),
                f"{platform} content has no {key!r} field (it takes {', '.join(text_fields)}); "
                "adapt the content first",
                "unknown_field",
            )
        elif key not in GENERIC_FIELDS:
            check_json_value(content[key], join_path(base, key), problems)

    texts: dict[str, str] = {}
    for name in text_fields:
        limit = getattr(limits, name)
        value = content.get(name)
        field_path = join_path(base, name)
        if limit is None:
            if value is not None:
                problems.add(field_path, f"{platform} posts have no {name}", "unknown_field")
            continue
        if value is not None and not isinstance(value, str):
            problems.add(field_path, "must be a string", "invalid_type")
            continue
        if value is None or not value.strip():
            if limit.required:
                problems.add(field_path, f"{platform} posts need a {name}", "required")
            continue
        size = text_length(value, unit)
        if size > limit.max_length:
            problems.add(
                field_path,
                f"is {size:,} long; {platform} allows {limit.max_length:,}"
                + (" (UTF-16 units)" if unit == "utf16" else " characters"),
                "out_of_range",
            )
        texts[name] = value

    if texts:
        last = next(reversed(texts))
        joined = "\n".join(texts.values())
        if limits.hashtags and limits.max_hashtags is not None:
            count = len(find_hashtags(joined))
            if count > limits.max_hashtags:
                problems.add(
                    join_path(base, last),
                    f"has {count} hashtags; {platform} allows {limits.max_hashtags}",
                    "out_of_range",
                )
        if limits.max_mentions is not None:
            count = len(find_mentions(joined))
            if count > limits.max_mentions:
                problems.add(
                    join_path(base, last),
                    f"has {count} @mentions; {platform} allows {limits.max_mentions}",
                    "out_of_range",
                )
        if limits.links == "forbidden":
            for name, value in texts.items():
                if find_links(value):
                    problems.add(
                        join_path(base, name), f"links are not allowed on {platform}", "unsupported"
                    )

    media_path = join_path(base, "mediaUrls")
    media_ok = isinstance(media_urls, list | tuple) and all(isinstance(u, str) for u in media_urls)
    if not media_ok:
        problems.add(media_path, "must be a list of URLs", "invalid_type")
    _check_price(
        content, platform, limits, campaign_type, base, media_ok and bool(media_urls), problems
    )
    if media_ok:
        _check_media(list(media_urls), platform, limits, media_path, problems)
    problems.raise_if_any()


def _check_price(
    content: Mapping[str, Any],
    platform: str,
    limits: PlatformLimits,
    campaign_type: str | None,
    base: str,
    has_media: bool,
    problems: ProblemCollector,
) -> None:
    price = content.get("price")
    if price is None:
        return
    price_path = join_path(base, "price")
    if isinstance(price, bool) or not isinstance(price, int | float):
        problems.add(price_path, "must be a number", "invalid_type")
        return
    if not math.isfinite(price):
        problems.add(price_path, "must be a finite number", "not_finite")
        return
    rng = limits.price_range(campaign_type)
    if rng is None:
        problems.add(price_path, f"{platform} has no paid posts", "unsupported")
        return
    if not rng.contains(price):
        kind = f"{campaign_type} " if campaign_type else ""
        problems.add(
            price_path,
            f"{price:g} is outside {platform}'s {kind}price range "
            f"{rng.minimum:g}–{rng.maximum:g} {rng.currency}",
            "out_of_range",
        )
    elif round(price, 2) != price:
        problems.add(price_path, "must be in whole cents (at most 2 decimals)")
    if limits.priced_requires_media and not has_media:
        problems.add(
            join_path(base, "mediaUrls"),
            f"a paid post on {platform} needs at least one image or video",
            "required",
        )


def _check_media(
    media: list[str], platform: str, limits: PlatformLimits, path: str, problems: ProblemCollector
) -> None:
    if limits.media_required and not media:
        problems.add(path, f"{platform} posts need at least one image or video", "required")
    if len(media) > limits.max_media:
        problems.add(
            path,
            f"has {len(media)} items; {platform} takes at most {limits.max_media}",
            "out_of_range",
        )
    kinds: list[str] = []
    for index, url in enumerate(media):
        item_path = join_path(path, index)
        kind = media_kind(url)
        ext = media_extension(url)
        if kind is None:
            problems.add(
                item_path,
                "cannot tell whether this is an image or a video: the URL does not end in a "
                "known file extension",
                "unsupported",
            )
            continue
        kinds.append(kind)
        if kind not in limits.media_kinds:
            problems.add(item_path, f"{platform} does not take {kind}s", "unsupported")
        elif not limits.accepts_extension(ext):
            accepted = ", ".join(sorted(limits.media_extensions or ()))
            problems.add(
                item_path,
                f"{platform} does not take .{ext} files (it takes {accepted})",
                "unsupported",
            )
    if not limits.mixed_media and len(set(kinds)) > 1:
        problems.add(path, f"{platform} does not mix images and videos in one post", "unsupported")
    if limits.max_videos is not None:
        videos = kinds.count("video")
        if videos > limits.max_videos:
            problems.add(
                path,
                f"has {videos} videos; {platform} takes at most {limits.max_videos} per post",
                "out_of_range",
            )
