"""Every platform's limits: the documented defaults and the rule set the engine checks against.

``DEFAULT_PLATFORM_LIMITS`` holds one :class:`PlatformLimits` per built-in platform, with
the values documented (with their sources) in ``docs/reference/platform-limits.md``;
:class:`PlatformRules` holds the limits of every platform, a host's overrides and declared
platforms included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._platforms import PLATFORMS, PlatformLimits, PriceRange, TextLimit

__all__ = ["DEFAULT_PLATFORM_LIMITS", "PlatformRules"]

# Sources and assumptions for every value are in docs/reference/platform-limits.md.
DEFAULT_PLATFORM_LIMITS: Final[Mapping[str, PlatformLimits]] = {
    "onlyfans": PlatformLimits(
        platform="onlyfans",
        caption=TextLimit(max_length=1000),
        hashtags=True,
        links="clickable",
        max_media=20,
        price_ranges={
            "default": PriceRange(3.0, 200.0),
            "subscription": PriceRange(4.99, 49.99),
        },
        priced_requires_media=True,
    ),
    "instagram": PlatformLimits(
        platform="instagram",
        caption=TextLimit(max_length=2200),
        max_hashtags=30,
        max_mentions=20,
        links="unclickable",
        link_fallback="Link in bio",
        media_required=True,
        max_media=10,
        media_extensions={"jpg", "jpeg", "mp4", "mov"},
    ),
    "tiktok": PlatformLimits(
        platform="tiktok",
        caption=TextLimit(max_length=2200),
        length_unit="utf16",
        links="unclickable",
        link_fallback="Link in bio",
        media_required=True,
        max_media=35,
        media_extensions={"jpg", "jpeg", "webp", "mp4", "mov", "webm"},
        max_videos=1,
        mixed_media=False,
    ),
    "reddit": PlatformLimits(
        platform="reddit",
        title=TextLimit(max_length=300, required=True),
        body=TextLimit(max_length=40000),
        hashtags=False,
        links="clickable",
        max_media=20,
        media_extensions={"jpg", "jpeg", "png", "gif", "mp4", "mov"},
        max_videos=1,
        mixed_media=False,
    ),
}


def _limits_tuple(
    value: Mapping[str, PlatformLimits] | Iterable[PlatformLimits],
) -> tuple[PlatformLimits, ...]:
    if isinstance(value, Mapping):
        return tuple(value.values())
    return tuple(value)


@attrs.frozen
class PlatformRules:
    """The limits of every platform: what the engine checks content against.

    Build it with :meth:`default` and change it with :meth:`with_overrides`; the
    host hands it to the engine's settings, or passes it as ``rules`` to
    :func:`~campaign_core.publishing.adapt_for_platform` directly.

    Attributes:
        limits: one :class:`PlatformLimits` per platform: the built-in ones in
            ``PLATFORMS`` order, then any platform the host declared (by name).
    """

    limits: tuple[PlatformLimits, ...] = attrs.field(converter=_limits_tuple)

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        seen: set[str] = set()
        items: tuple[Any, ...] = self.limits
        for index, item in enumerate(items):
            if not isinstance(item, PlatformLimits):
                problems.add(join_path("limits", index), "must be PlatformLimits", "invalid_type")
                continue
            if item.platform in seen:
                problems.add(join_path("limits", index), f"{item.platform} is given twice")
            seen.add(item.platform)
        missing = [p for p in PLATFORMS if p not in seen]
        if missing:
            problems.add("limits", f"missing limits for {', '.join(missing)}", "required")
        problems.raise_if_any()
        # A fixed order keeps equality and iteration independent of how it was built.
        order = {p: i for i, p in enumerate(PLATFORMS)}
        object.__setattr__(
            self,
            "limits",
            tuple(
                sorted(
                    self.limits,
                    key=lambda lim: (order.get(lim.platform, len(order)), lim.platform),
                )
            ),
        )

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms these rules hold limits for, in order."""
        return tuple(item.platform for item in self.limits)

    @classmethod
    def default(cls) -> PlatformRules:
        """The documented default limits of every platform."""
        return cls(DEFAULT_PLATFORM_LIMITS)

    def __getitem__(self, platform: str) -> PlatformLimits:
        """The limits of ``platform``.

        Raises:
            ValidationError: ``platform`` is not a supported platform (path ``platform``).
        """
        for item in self.limits:
            if item.platform == platform:
                return item
        raise ValidationError.single(
            "platform",
            f"unknown platform {platform!r}; known: {', '.join(self.platforms)}",
            "invalid_value",
        )

    def __iter__(self) -> Iterator[PlatformLimits]:
        return iter(self.limits)

    def __contains__(self, platform: object) -> bool:
        return any(item.platform == platform for item in self.limits)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any] | None]) -> PlatformRules:
        """A copy with some platforms' limits changed.

        Args:
            overrides: platform name to the changes for it, as accepted by
                :meth:`PlatformLimits.with_overrides`; for example
                ``{"instagram": {"maxHashtags": 10}, "onlyfans": {"caption": 500}}``.

        Returns:
            The new rules; this object is untouched.

        Raises:
            ValidationError: an unknown platform or a bad override, every problem
                with its path (``instagram.maxHashtags``). A new platform is not
                added here: declare it in a :class:`~campaign_core.publishing.PlatformRegistry`
                (``Settings(platforms=...)``).
        """
        if not isinstance(overrides, Mapping):
            raise ValidationError.single(
                "", "overrides must map platform names to their changes", "invalid_type"
            )
        problems = ProblemCollector()
        updated = {item.platform: item for item in self.limits}
        for platform, changes in overrides.items():
            if platform not in updated:
                problems.add(
                    str(platform),
                    f"unknown platform {platform!r}; known: {', '.join(updated)}",
                    "unknown_field",
                )
                continue
            if changes is None:
                continue
            try:
                updated[platform] = updated[platform].with_overrides(changes)
            except ValidationError as exc:
                problems.extend(exc, platform)
        problems.raise_if_any()
        return PlatformRules(updated)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Every platform's limits as JSON, keyed by platform."""
        return {item.platform: item.to_json() for item in self.limits}
