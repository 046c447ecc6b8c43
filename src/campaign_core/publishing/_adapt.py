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

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, Protocol, runtime_checkable

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._content import (
    GENERIC_FIELDS,
    check_content,
    check_json_value,
    resolve_platform_content,
)
from campaign_core.publishing._keys import publish_idempotency_key
from campaign_core.publishing._platforms import (
    DEFAULT_PLATFORM_LIMITS,
    PlatformLimits,
    PlatformRules,
    media_extension,
    media_kind,
)
from campaign_core.publishing._text import (
    ELLIPSIS,
    find_hashtags,
    find_links,
    find_mentions,
    normalize_hashtag,
    remove_links,
    text_length,
    truncate_text,
)

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

ChangeAction = Literal["truncated", "dropped", "replaced", "rounded", "deduplicated"]

_DEFAULT_RULES: Final[PlatformRules] = PlatformRules(DEFAULT_PLATFORM_LIMITS)
_SEPARATOR = "\n\n"


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

    - ``adapt`` returns an :class:`AdaptationResult` for ``request.platform``
      whose ``content`` is in the platform's shape: a ``caption`` on caption
      platforms (``request.limits.layout == "caption"``), a ``title`` and
      optional ``body`` on title/body platforms; a ``price`` only where the
      platform has paid posts; other (pass-through) fields as given.
    - It should make the content fit ``request.limits`` and list what it changed
      in ``changes``. The engine validates the result with
      :func:`validate_platform_content` whatever the generator, so content that
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


def _join(parts: Iterable[str]) -> str:
    return _SEPARATOR.join(p for p in parts if p)


def _tagline(tags: Sequence[str]) -> str:
    return " ".join(f"#{t}" for t in tags)


class BuiltinContentAdapter:
    """The deterministic adapter used when the host wires no :class:`ContentGenerator`.

    Shapes (parts joined by a blank line, empty parts left out):

    - caption platforms (OnlyFans, Instagram, TikTok): ``caption`` = title,
      description, cta, link, hashtags (``#a #b``); a given ``caption`` field
      replaces title, description and cta.
    - title/body platforms (Reddit): ``title`` = title; ``body`` = description,
      cta, link (and hashtags where the platform uses them); a given ``body``
      field replaces description and cta.

    To fit, in this order: links are removed where forbidden, or the ``link``
    field is replaced by the platform's fallback text (``"Link in bio"``) where
    links are not clickable; hashtags are made unique (also against hashtags
    typed in the text) and the list is cut to the platform's maximum; a price is
    rounded to cents, or left out where the platform has no paid posts; media
    beyond the platform's count (or mixing images and videos where that is not
    allowed) is dropped, keeping the first items. A text that is too long is cut
    at a word boundary with an ellipsis: first the description (or the given
    caption/body), then hashtags from the end, and only then the text as a
    whole; a Reddit title is cut the same way.

    The adapter never invents what is missing (a Reddit title) and never drops
    media because of its type: validation reports those, since only the author
    can fix them.

    Args:
        ellipsis: appended where text was cut.
    """

    def __init__(self, *, ellipsis: str = ELLIPSIS) -> None:
        if not isinstance(ellipsis, str) or len(ellipsis) > 10:
            raise ValidationError.single(
                "ellipsis", "must be a string of at most 10 characters", "invalid_type"
            )
        self._ellipsis = ellipsis

    def __repr__(self) -> str:
        return f"BuiltinContentAdapter(ellipsis={self._ellipsis!r})"

    def adapt(self, request: AdaptationRequest) -> AdaptationResult:
        """Reshape and trim ``request.content`` for ``request.platform``.

        Args:
            request: the resolved content, the platform's limits and the media.

        Returns:
            The adapted content and the list of changes.

        Raises:
            ValidationError: the request is malformed (unknown platform, limits
                of another platform, fields of the wrong type).
        """
        limits = request.limits
        platform = request.platform
        if not isinstance(limits, PlatformLimits) or limits.platform != platform:
            raise ValidationError.single(
                "platform", f"the limits given are not {platform!r}'s limits", "invalid_value"
            )
        check_content(request.content, path=join_path("content", platform))
        src = request.content
        changes: list[Change] = []
        unit = limits.length_unit

        texts = {
            name: src.get(name) or "" for name in ("title", "description", "cta", "caption", "body")
        }
        if limits.links == "forbidden":
            for name, value in texts.items():
                stripped, removed = remove_links(value)
                if removed:
                    changes.append(
                        Change(
                            name,
                            "dropped",
                            f"removed {removed} link(s): links are not allowed on {platform}",
                            text_length(value, unit),
                            text_length(stripped, unit),
                        )
                    )
                    texts[name] = stripped

        link_text = self._link_text(src.get("link") or "", limits, changes)

        out = (
            self._caption_layout(texts, link_text, src, limits, changes)
            if limits.layout == "caption"
            else self._title_body_layout(texts, link_text, src, limits, changes)
        )

        price = src.get("price")
        if price is not None:
            if not limits.paid_posts:
                changes.append(
                    Change(
                        "price", "dropped", f"{platform} has no paid posts; the price is left out"
                    )
                )
            else:
                rounded = round(price, 2)
                if rounded != price:
                    changes.append(
                        Change("price", "rounded", f"rounded {price!r} to {rounded!r} (cents)")
                    )
                out["price"] = rounded

        for key, value in src.items():
            if key not in GENERIC_FIELDS and value is not None:
                out[key] = copy.deepcopy(value)

        media = self._media(list(request.media_urls), limits, changes)
        return AdaptationResult(platform=platform, content=out, media_urls=media, changes=changes)

    def _caption_layout(
        self,
        texts: dict[str, str],
        link_text: str,
        src: Mapping[str, Any],
        limits: PlatformLimits,
        changes: list[Change],
    ) -> dict[str, Any]:
        """The caption of a caption platform (OnlyFans, Instagram, TikTok)."""
        self._drop_unused(texts, "body", limits, "caption platforms use caption", changes)
        if texts["caption"]:
            for name in ("title", "description", "cta"):
                # a hand-written caption replaces these; not a change, a choice
                texts[name] = ""
            parts = [("caption", texts["caption"]), ("link", link_text)]
            shrink = "caption"
        else:
            parts = [
                ("title", texts["title"]),
                ("description", texts["description"]),
                ("cta", texts["cta"]),
                ("link", link_text),
            ]
            shrink = "description"
        tags = self._hashtags(src, limits, [text for _, text in parts], changes)
        # the caption layout is defined by a caption limit (checked by PlatformLimits)
        max_length = limits.caption.max_length if limits.caption is not None else 0
        caption = self._fit("caption", parts, shrink, tags, max_length, limits, changes)
        return {"caption": caption} if caption else {}

    def _title_body_layout(
        self,
        texts: dict[str, str],
        link_text: str,
        src: Mapping[str, Any],
        limits: PlatformLimits,
        changes: list[Change],
    ) -> dict[str, Any]:
        """The title and body of a title/body platform (Reddit)."""
        out: dict[str, Any] = {}
        platform = limits.platform
        unit = limits.length_unit
        self._drop_unused(texts, "caption", limits, "give a title and body", changes)
        title = texts["title"]
        if title and limits.title is not None:
            cut = truncate_text(title, limits.title.max_length, unit, ellipsis=self._ellipsis)
            if cut != title:
                changes.append(
                    Change(
                        "title",
                        "truncated",
                        f"shortened to fit {platform}'s {limits.title.max_length:,}-character title",
                        text_length(title, unit),
                        text_length(cut, unit),
                    )
                )
            out["title"] = cut
        if texts["body"]:
            texts["description"] = texts["cta"] = ""
            parts = [("body", texts["body"]), ("link", link_text)]
            shrink = "body"
        else:
            parts = [
                ("description", texts["description"]),
                ("cta", texts["cta"]),
                ("link", link_text),
            ]
            shrink = "description"
        tags = self._hashtags(src, limits, [title, *(text for _, text in parts)], changes)
        if limits.body is None:
            for name, value in parts:
                if value:
                    changes.append(
                        Change(
                            name,
                            "dropped",
                            f"{platform} posts have no body",
                            text_length(value, unit),
                            0,
                        )
                    )
            if tags:
                changes.append(
                    Change(
                        "hashtags",
                        "dropped",
                        f"{platform} posts have no body",
                        len(tags),
                        0,
                    )
                )
        else:
            body = self._fit("body", parts, shrink, tags, limits.body.max_length, limits, changes)
            if body:
                out["body"] = body
        return out

    @staticmethod
    def _drop_unused(
        texts: dict[str, str], name: str, limits: PlatformLimits, hint: str, changes: list[Change]
    ) -> None:
        if texts[name]:
            changes.append(
                Change(
                    name,
                    "dropped",
                    f"{limits.platform} has no {name} field ({hint})",
                    text_length(texts[name], limits.length_unit),
                    0,
                )
            )
            texts[name] = ""

    @staticmethod
    def _link_text(link: str, limits: PlatformLimits, changes: list[Change]) -> str:
        if not link or limits.links == "clickable":
            return link
        unit = limits.length_unit
        if limits.links == "unclickable" and limits.link_fallback:
            changes.append(
                Change(
                    "link",
                    "replaced",
                    f"links are not clickable on {limits.platform}; "
                    f"replaced by {limits.link_fallback!r}",
                    text_length(link, unit),
                    text_length(limits.link_fallback, unit),
                )
            )
            return limits.link_fallback
        reason = "not allowed" if limits.links == "forbidden" else "not clickable"
        changes.append(
            Change(
                "link",
                "dropped",
                f"links are {reason} on {limits.platform}",
                text_length(link, unit),
                0,
            )
        )
        return ""

    @staticmethod
    def _hashtags(
        src: Mapping[str, Any],
        limits: PlatformLimits,
        texts: Sequence[str],
        changes: list[Change],
    ) -> list[str]:
        raw = [normalize_hashtag(t) for t in src.get("hashtags") or ()]
        given = [t for t in raw if t is not None]
        if not given:
            return []
        if not limits.hashtags:
            changes.append(
                Change(
                    "hashtags",
                    "dropped",
                    f"{limits.platform} does not use hashtags",
                    len(given),
                    0,
                )
            )
            return []
        inline = [t for text in texts for t in find_hashtags(text)]
        seen = {t.casefold() for t in inline}
        tags: list[str] = []
        for tag in given:
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
        if len(tags) != len(given):
            changes.append(
                Change(
                    "hashtags",
                    "deduplicated",
                    "left out hashtags given twice or already in the text",
                    len(given),
                    len(tags),
                )
            )
        if limits.max_hashtags is not None:
            budget = max(0, limits.max_hashtags - len(inline))
            if len(tags) > budget:
                already = f" and the text has {len(inline)}" if inline else ""
                changes.append(
                    Change(
                        "hashtags",
                        "dropped",
                        f"kept the first {budget}: {limits.platform} allows "
                        f"{limits.max_hashtags} per post{already}",
                        len(tags),
                        budget,
                    )
                )
                tags = tags[:budget]
        return tags

    def _fit(
        self,
        field: str,
        parts: list[tuple[str, str]],
        shrink: str,
        tags: list[str],
        max_length: int,
        limits: PlatformLimits,
        changes: list[Change],
    ) -> str:
        """Compose ``parts`` + hashtags into one text of at most ``max_length``."""
        unit = limits.length_unit
        platform = limits.platform

        def compose(values: list[tuple[str, str]], tag_list: Sequence[str]) -> str:
            return _join([*(v for _, v in values), _tagline(tag_list)])

        text = compose(parts, tags)
        if text_length(text, unit) <= max_length:
            return text

        # 1. shorten the main text (description, or the hand-written caption/body)
        index = next((i for i, (name, _) in enumerate(parts) if name == shrink), None)
        if index is not None and parts[index][1]:
            original = parts[index][1]
            without = [(n, v) if n != shrink else (n, "") for n, v in parts]
            fixed = compose(without, tags)
            room = max_length - text_length(fixed, unit) - (len(_SEPARATOR) if fixed else 0)
            cut = (
                truncate_text(original, room, unit, ellipsis=self._ellipsis)
                if room > text_length(self._ellipsis, unit)
                else ""
            )
            if cut == self._ellipsis:
                cut = ""
            changes.append(
                Change(
                    shrink,
                    "truncated" if cut else "dropped",
                    f"{'shortened' if cut else 'left out'} to fit {platform}'s "
                    f"{max_length:,}-character {field}",
                    text_length(original, unit),
                    text_length(cut, unit),
                )
            )
            parts = [(n, v) if n != shrink else (n, cut) for n, v in parts]
            text = compose(parts, tags)
            if text_length(text, unit) <= max_length:
                return text

        # 2. drop hashtags from the end
        if tags:
            kept = list(tags)
            while kept and text_length(compose(parts, kept), unit) > max_length:
                kept.pop()
            changes.append(
                Change(
                    "hashtags",
                    "dropped",
                    f"kept {len(kept)} of {len(tags)} hashtags to fit {platform}'s "
                    f"{max_length:,}-character {field}",
                    len(tags),
                    len(kept),
                )
            )
            text = compose(parts, kept)
            if text_length(text, unit) <= max_length:
                return text

        # 3. cut the whole text
        cut_text = truncate_text(text, max_length, unit, ellipsis=self._ellipsis)
        changes.append(
            Change(
                field,
                "truncated",
                f"shortened to fit {platform}'s {max_length:,}-character {field}",
                text_length(text, unit),
                text_length(cut_text, unit),
            )
        )
        return cut_text

    @staticmethod
    def _media(media: list[str], limits: PlatformLimits, changes: list[Change]) -> list[str]:
        platform = limits.platform
        if not limits.mixed_media:
            kinds = [media_kind(url) for url in media]
            known = [k for k in kinds if k is not None]
            if len(set(known)) > 1:
                first = known[0]
                kept = [url for url, kind in zip(media, kinds) if kind in (first, None)]
                changes.append(
                    Change(
                        "mediaUrls",
                        "dropped",
                        f"{platform} does not mix images and videos in one post; "
                        f"kept the {first}s (the kind of the first item)",
                        len(media),
                        len(kept),
                    )
                )
                media = kept
        if limits.max_videos is not None:
            videos = 0
            kept = []
            for url in media:
                if media_kind(url) == "video":
                    videos += 1
                    if videos > limits.max_videos:
                        continue
                kept.append(url)
            if len(kept) != len(media):
                changes.append(
                    Change(
                        "mediaUrls",
                        "dropped",
                        f"{platform} takes at most {limits.max_videos} video(s) per post; "
                        "kept the first",
                        len(media),
                        len(kept),
                    )
                )
                media = kept
        if len(media) > limits.max_media:
            changes.append(
                Change(
                    "mediaUrls",
                    "truncated",
                    f"{platform} takes at most {limits.max_media} media per post; kept the first",
                    len(media),
                    limits.max_media,
                )
            )
            media = media[: limits.max_media]
        return media


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
