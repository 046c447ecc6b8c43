"""The built-in content adapter: generic content reshaped and trimmed to fit one platform."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from campaign_core.errors import ValidationError, join_path
from campaign_core.publishing._adapt_model import AdaptationRequest, AdaptationResult, Change
from campaign_core.publishing._content import GENERIC_FIELDS, check_content
from campaign_core.publishing._platforms import PlatformLimits, media_kind
from campaign_core.publishing._text import (
    ELLIPSIS,
    find_hashtags,
    normalize_hashtag,
    remove_links,
    text_length,
    truncate_text,
)

__all__ = ["BuiltinContentAdapter"]

_SEPARATOR = "\n\n"


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
