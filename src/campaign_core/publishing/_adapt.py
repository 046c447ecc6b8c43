"""Content adaptation per platform: the ContentGenerator port, the built-in adapter, validation.

The launch path, for each target platform::

    resolve (base + override)  ->  adapt (ContentGenerator)  ->  validate  ->  publish

:func:`adapt_for_platform` runs the first three steps; :func:`adapt_for_platforms`
runs them for several platforms and reports every platform's problems at once.
The built-in adapter reshapes generic content into each platform's shape and
trims it to fit, reporting every change; validation then rejects what still
cannot fit (a missing Reddit title, a price out of range, media of a type the
platform does not take...). Validation runs whatever generator produced the
content, so a host's own generator cannot slip bad content past the limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._adapt_model import (
    AdaptationRequest,
    AdaptationResult,
    Change,
    ChangeAction,
    ContentGenerator,
)
from campaign_core.publishing._builtin_adapter import BuiltinContentAdapter
from campaign_core.publishing._content import resolve_platform_content
from campaign_core.publishing._platform_rules import DEFAULT_PLATFORM_LIMITS, PlatformRules
from campaign_core.publishing._validate_content import validate_platform_content

__all__ = [
    "AdaptationRequest",
    "AdaptationResult",
    "BuiltinContentAdapter",
    "Change",
    "ChangeAction",
    "ContentGenerator",
    "adapt_for_platform",
    "adapt_for_platforms",
    "validate_platform_content",
]

_DEFAULT_RULES: Final[PlatformRules] = PlatformRules(DEFAULT_PLATFORM_LIMITS)


def adapt_for_platform(
    content: Mapping[str, Any],
    platform: str,
    *,
    media_urls: Sequence[str] = (),
    rules: PlatformRules | None = None,
    generator: ContentGenerator | None = None,
    campaign_type: str | None = None,
    path: str = "content",
) -> AdaptationResult:
    """Resolve, adapt and validate a campaign's content for one platform.

    Args:
        content: the campaign's ``content`` JSON (base plus overrides).
        platform: the target platform.
        media_urls: the campaign's ``mediaUrls`` (a ``mediaUrls`` field in the
            platform's content replaces them).
        rules: the platform limits (and so the platforms known, a host's declared
            ones included); the documented defaults when ``None``.
        generator: the content generator; :class:`BuiltinContentAdapter` when ``None``.
        campaign_type: ``ppv``, ``subscription``... (selects the price range).
        path: where ``content`` sits in the caller's input, for error paths.

    Returns:
        The adapted, validated content (publish ``result.content`` with
        ``result.media_urls`` under ``result.idempotency_key(campaign_id)``).

    Raises:
        ValidationError: unknown platform, malformed content, or content that
            cannot fit the platform even after adaptation (paths under
            ``<path>.<platform>``).
    """
    active = rules if rules is not None else _DEFAULT_RULES
    limits = active[platform]
    resolved = resolve_platform_content(content, platform, path=path, platforms=active.platforms)
    media: Sequence[str] = media_urls
    if "mediaUrls" in resolved:
        media = resolved.pop("mediaUrls")
    elif isinstance(media_urls, str) or not all(isinstance(u, str) for u in media_urls):
        raise ValidationError.single("mediaUrls", "must be a list of URLs", "invalid_type")
    request = AdaptationRequest(
        platform=platform,
        content=resolved,
        limits=limits,
        media_urls=tuple(media),
        campaign_type=campaign_type,
    )
    adapter: ContentGenerator = generator if generator is not None else BuiltinContentAdapter()
    result = adapter.adapt(request)
    if not isinstance(result, AdaptationResult) or result.platform != platform:
        raise ValidationError.single(
            join_path(path, platform),
            f"the content generator returned {type(result).__name__} "
            f"instead of an AdaptationResult for {platform}",
            "invalid_type",
        )
    validate_platform_content(
        result.content,
        platform,
        limits,
        media_urls=result.media_urls,
        campaign_type=campaign_type,
        path=path,
    )
    return result


def adapt_for_platforms(
    content: Mapping[str, Any],
    platforms: Sequence[str],
    *,
    media_urls: Sequence[str] = (),
    rules: PlatformRules | None = None,
    generator: ContentGenerator | None = None,
    campaign_type: str | None = None,
    path: str = "content",
) -> dict[str, AdaptationResult]:
    """:func:`adapt_for_platform` for several platforms, reporting every problem at once.

    Args:
        content: the campaign's ``content`` JSON.
        platforms: the target platforms (each at most once).
        media_urls: the campaign's ``mediaUrls``.
        rules: the platform limits; the documented defaults when ``None``.
        generator: the content generator; :class:`BuiltinContentAdapter` when ``None``.
        campaign_type: ``ppv``, ``subscription``...
        path: where ``content`` sits in the caller's input.

    Returns:
        The adapted content per platform, in the order given.

    Raises:
        ValidationError: every platform's problems together; nothing is returned
            unless every platform's content fits.
    """
    if isinstance(platforms, str):
        raise ValidationError.single("platforms", "must be a list of platforms", "invalid_type")
    known = (rules if rules is not None else _DEFAULT_RULES).platforms
    problems = ProblemCollector()
    seen: set[str] = set()
    for index, name in enumerate(platforms):
        if name not in known:
            problems.add(
                join_path("platforms", index),
                f"unknown platform {name!r}; known: {', '.join(known)}",
            )
        elif name in seen:
            problems.add(join_path("platforms", index), f"{name} is listed twice")
        seen.add(name)
    problems.raise_if_any()
    results: dict[str, AdaptationResult] = {}
    for name in platforms:
        try:
            results[name] = adapt_for_platform(
                content,
                name,
                media_urls=media_urls,
                rules=rules,
                generator=generator,
                campaign_type=campaign_type,
                path=path,
            )
        except ValidationError as exc:
            for problem in exc.problems:
                if problem not in problems.problems:
                    problems.problems.append(problem)
    problems.raise_if_any()
    return results
