"""The campaign content model: a shared base plus per-platform overrides.

A campaign's ``content`` is a JSON object. Its generic fields (the seed's
template fields and a few more) describe the post once for every platform::

    {
        "title": "Transform Your Body in 30 Days! 💪",
        "description": "Join my exclusive 30-day workout challenge...",
        "cta": "Start Your Transformation",
        "price": 49.99,
        "hashtags": ["fitness", "workout"],
        "link": "https://onlyfans.com/me",
        "platforms": {
            "reddit": {"title": "30-day workout challenge, with meal plans", "subreddit": "fitness"},
            "instagram": {"hashtags": ["fitness", "gym", "transformation"]}
        }
    }

Per-platform overrides sit under ``platforms.<name>`` or, as the seed's
"platform-specific content" does, directly under ``<name>``; giving both for
the same platform is an error. :func:`resolve_platform_content` merges the base
and one platform's override, shallowly: an override value replaces the base
value whole, and ``null`` removes a base field for that platform.

Generic fields and their types (every one optional):

=============== ============ ===============================================
field           type         meaning
=============== ============ ===============================================
``title``       string       headline; Reddit's title
``description``  string       the main text
``cta``         string       call to action
``caption``     string       a hand-written caption that replaces title,
                             description and cta on caption platforms
``body``        string       a hand-written body that replaces description
                             and cta on title/body platforms (Reddit)
``link``        string       an ``http(s)`` URL to promote
``hashtags``    list[string] tags, with or without ``#``
``price``       number       price of a paid post (PPV) or subscription
``mediaUrls``   list[string] replaces the campaign's ``mediaUrls`` for a platform
=============== ============ ===============================================

Any other field (``subreddit``, ``nsfw``, ``privacyLevel``...) is passed through
untouched to the platform's adapted content, for the host's publisher to use;
it must be JSON (finite numbers, string keys).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._platforms import PLATFORMS
from campaign_core.publishing._text import normalize_hashtag

__all__ = [
    "GENERIC_FIELDS",
    "check_content",
    "check_json_value",
    "resolve_platform_content",
]

_TEXT_FIELDS: Final[tuple[str, ...]] = ("title", "description", "cta", "caption", "body", "link")
GENERIC_FIELDS: Final[frozenset[str]] = frozenset({*_TEXT_FIELDS, "hashtags", "price", "mediaUrls"})
_PLATFORMS_KEY = "platforms"
_MAX_DEPTH = 32
_MAX_LIST = 1_000
_MAX_URL_LENGTH = 2_048


def check_json_value(value: Any, path: str, problems: ProblemCollector, depth: int = 0) -> None:
    """Add a problem for anything in ``value`` that is not plain, finite JSON."""
    if depth > _MAX_DEPTH:
        problems.add(path, f"is nested more than {_MAX_DEPTH} levels deep", "out_of_range")
    elif value is None or isinstance(value, str | bool | int):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            problems.add(path, "must be a finite number", "not_finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.add(path, f"keys must be strings, got {key!r}", "invalid_type")
            else:
                check_json_value(item, join_path(path, key), problems, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_value(item, join_path(path, index), problems, depth + 1)
    else:
        problems.add(path, f"{type(value).__name__} is not a JSON value", "invalid_type")


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_string_list(
    value: Any, path: str, problems: ProblemCollector, *, what: str
) -> list[str] | None:
    if not isinstance(value, list | tuple):
        problems.add(path, f"must be a list of {what}", "invalid_type")
        return None
    if len(value) > _MAX_LIST:
        problems.add(path, f"must have at most {_MAX_LIST} items", "out_of_range")
        return None
    ok = True
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(join_path(path, index), "must be a string", "invalid_type")
            ok = False
    return list(value) if ok else None


def _check_fields(block: Mapping[Any, Any], path: str, problems: ProblemCollector) -> None:
    """Type-check the generic fields of one block (base or override); others must be JSON."""
    for key, value in block.items():
        if not isinstance(key, str):
            problems.add(path, f"keys must be strings, got {key!r}", "invalid_type")
            continue
        field_path = join_path(path, key)
        if value is None:
            # null removes a field (meaningful in an override, harmless in the base)
            continue
        if key in _TEXT_FIELDS:
            if not isinstance(value, str):
                problems.add(field_path, "must be a string", "invalid_type")
            elif key == "link" and not _is_http_url(value):
                problems.add(field_path, "must be an http:// or https:// URL")
        elif key == "price":
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.add(field_path, "must be a number", "invalid_type")
            elif not math.isfinite(value):
                problems.add(field_path, "must be a finite number", "not_finite")
            elif value < 0:
                problems.add(field_path, "must not be negative", "out_of_range")
        elif key == "hashtags":
            tags = _check_string_list(value, field_path, problems, what="hashtags")
            for index, tag in enumerate(tags or ()):
                if normalize_hashtag(tag) is None:
                    problems.add(
                        join_path(field_path, index),
                        f"{tag!r} is not a hashtag (1-100 letters, digits or '_', "
                        "optionally starting with '#')",
                    )
        elif key == "mediaUrls":
            urls = _check_string_list(value, field_path, problems, what="URLs")
            for index, url in enumerate(urls or ()):
                if len(url) > _MAX_URL_LENGTH or not _is_http_url(url):
                    problems.add(
                        join_path(field_path, index),
                        f"must be an http:// or https:// URL of at most {_MAX_URL_LENGTH} characters",
                    )
        else:
            check_json_value(value, field_path, problems)


def _override_blocks(
    content: Mapping[str, Any],
    path: str,
    problems: ProblemCollector,
    platforms: Collection[str],
) -> dict[str, tuple[Mapping[str, Any], str]]:
    """Each platform's override block and the path where the caller wrote it."""
    blocks: dict[str, tuple[Mapping[str, Any], str]] = {}
    nested = content.get(_PLATFORMS_KEY)
    nested_path = join_path(path, _PLATFORMS_KEY)
    if nested is not None:
        if not isinstance(nested, Mapping):
            problems.add(nested_path, "must map platform names to content", "invalid_type")
        else:
            for name, block in nested.items():
                block_path = join_path(nested_path, str(name))
                if name not in platforms:
                    problems.add(
                        block_path,
                        f"unknown platform {name!r}; known: {', '.join(platforms)}",
                        "unknown_field",
                    )
                elif block is None:
                    continue
                elif not isinstance(block, Mapping):
                    problems.add(block_path, "must be an object", "invalid_type")
                else:
                    blocks[name] = (block, block_path)
    for name in platforms:
        block = content.get(name)
        if block is None:
            continue
        block_path = join_path(path, name)
        if not isinstance(block, Mapping):
            problems.add(block_path, "must be an object", "invalid_type")
        elif name in blocks:
            problems.add(
                block_path,
                f"content for {name} is given both here and under {_PLATFORMS_KEY}.{name}; "
                "keep one",
                "conflict",
            )
        else:
            blocks[name] = (block, block_path)
    return blocks


def check_content(
    content: Any, *, path: str = "content", platforms: Collection[str] = PLATFORMS
) -> None:
    """Check a campaign's whole content (base and every override) without changing it.

    Args:
        content: the campaign's ``content`` JSON.
        path: where ``content`` sits in the caller's input.
        platforms: the platforms that may have overrides (a core passes its
            registry's names, ``settings.platforms.names``); the built-ins by default.

    Raises:
        ValidationError: every problem found, each with its path as the caller
            wrote it (``content.platforms.reddit.title``, ``content.hashtags[2]``).
    """
    problems = ProblemCollector()
    if not isinstance(content, Mapping):
        raise ValidationError.single(path, "content must be a JSON object", "invalid_type")
    blocks = _override_blocks(content, path, problems, platforms)
    base = {k: v for k, v in content.items() if k != _PLATFORMS_KEY and k not in platforms}
    _check_fields(base, path, problems)
    for block, block_path in blocks.values():
        nested_platforms = [k for k in block if k == _PLATFORMS_KEY or k in platforms]
        for key in nested_platforms:
            problems.add(
                join_path(block_path, key),
                "platform overrides cannot be nested inside another platform's content",
                "invalid_value",
            )
        _check_fields(
            {k: v for k, v in block.items() if k not in nested_platforms}, block_path, problems
        )
    problems.raise_if_any()


def resolve_platform_content(
    content: Mapping[str, Any],
    platform: str,
    *,
    path: str = "content",
    platforms: Collection[str] = PLATFORMS,
) -> dict[str, Any]:
    """The content one platform gets: the base merged with that platform's override.

    The merge is shallow: an override value replaces the base value whole and
    ``null`` removes the field. The result is a new dict (deep-copied, so
    changing it never changes ``content``) without any platform blocks.

    Args:
        content: the campaign's ``content`` JSON (see the module docstring).
        platform: ``onlyfans``, ``instagram``, ``tiktok``, ``reddit`` or a
            platform in ``platforms``.
        path: where ``content`` sits in the caller's input, for error paths.
        platforms: the platforms that may have overrides (see ``check_content``).

    Returns:
        The flat content for ``platform``.

    Raises:
        ValidationError: ``platform`` is unknown or ``content`` is malformed
            (see ``check_content``).
    """
    if platform not in platforms:
        raise ValidationError.single(
            "platform", f"unknown platform {platform!r}; known: {', '.join(platforms)}"
        )
    check_content(content, path=path, platforms=platforms)
    problems = ProblemCollector()
    blocks = _override_blocks(content, path, problems, platforms)
    merged = {
        k: copy.deepcopy(v)
        for k, v in content.items()
        if k != _PLATFORMS_KEY and k not in platforms and v is not None
    }
    override = blocks.get(platform)
    if override is not None:
        for key, value in override[0].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = copy.deepcopy(value)
    return merged
