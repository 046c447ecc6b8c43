"""Platform limits as data, in one place, overridable by the host.

Each supported platform has one :class:`PlatformLimits`: text lengths, hashtag
and mention counts, how links behave, how many media of which types, and the
price rules. ``DEFAULT_PLATFORM_LIMITS`` (in ``_platform_rules``, with
:class:`PlatformRules`) holds the values documented (with their sources) in
``docs/reference/platform-limits.md``; a host changes them
with :meth:`PlatformLimits.with_overrides` or :meth:`PlatformRules.with_overrides`
and passes the resulting :class:`PlatformRules` to the engine.

The four built-in platforms are ``PLATFORMS``; a host declares more through
:class:`~campaign_core.publishing.PlatformRegistry` (``Settings(platforms=...)``),
and a :class:`PlatformRules` then holds their limits too.

Every limits object is validated when built, so a bad override raises
:class:`~campaign_core.errors.ValidationError` (with the path of the bad value)
and never reaches a launch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.publishing._text import LengthUnit

__all__ = [
    "IMAGE_EXTENSIONS",
    "PLATFORMS",
    "PLATFORM_NAME",
    "VIDEO_EXTENSIONS",
    "LinkPolicy",
    "MediaKind",
    "PlatformLimits",
    "PriceRange",
    "TextLimit",
    "media_extension",
    "media_kind",
]

_T = TypeVar("_T")

#: The built-in platforms, in their fixed order (hosts declare more in a registry).
PLATFORMS: Final[tuple[str, ...]] = ("onlyfans", "instagram", "tiktok", "reddit")

#: What a platform's name looks like: lower case, a letter first, at most 32.
PLATFORM_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

MediaKind = Literal["image", "video"]
LinkPolicy = Literal["clickable", "unclickable", "forbidden"]

IMAGE_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "avif", "bmp", "tif", "tiff"}
)
VIDEO_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {"mp4", "m4v", "mov", "webm", "avi", "mkv", "mpeg", "mpg", "3gp", "wmv"}
)

_MEDIA_KINDS: Final[frozenset[str]] = frozenset({"image", "video"})
_LINK_POLICIES: Final[tuple[str, ...]] = ("clickable", "unclickable", "forbidden")
_LENGTH_UNITS: Final[tuple[str, ...]] = ("codepoints", "utf16")
_MAX_TEXT_LENGTH = 10_000_000
_MAX_MEDIA = 1_000
_MAX_COUNT = 10_000
_MAX_PRICE = 1_000_000.0
_MAX_FALLBACK_LENGTH = 200
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EXTENSION = re.compile(r"^[a-z0-9]{1,10}$")
_DEFAULT_PRICE_KEY = "default"


def media_extension(url: str) -> str | None:
    """The lower-cased file extension of a media URL's path, or ``None``.

    The query string and fragment are ignored, so
    ``https://cdn.example/v/clip.MP4?sig=abc`` gives ``"mp4"``.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    ext = name.rsplit(".", 1)[-1].lower()
    return ext or None


def media_kind(url: str) -> MediaKind | None:
    """Whether a media URL is an image or a video, inferred from its extension.

    Args:
        url: the media URL.

    Returns:
        ``"image"``, ``"video"``, or ``None`` when the extension is missing or
        unknown (such media cannot be validated, so validation rejects it).
    """
    ext = media_extension(url)
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@attrs.frozen
class TextLimit:
    """The limit on one text field.

    Attributes:
        max_length: the most the field may measure, in the platform's length unit.
        required: whether the field must be present and not blank.
    """

    max_length: int
    required: bool = False

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        max_length: Any = self.max_length
        required: Any = self.required
        if not _is_int(max_length):
            problems.add("maxLength", "must be an integer", "invalid_type")
        elif not 1 <= max_length <= _MAX_TEXT_LENGTH:
            problems.add("maxLength", f"must be between 1 and {_MAX_TEXT_LENGTH:,}", "out_of_range")
        if not isinstance(required, bool):
            problems.add("required", "must be true or false", "invalid_type")
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        return {"maxLength": self.max_length, "required": self.required}


@attrs.frozen
class PriceRange:
    """The prices a platform accepts for a paid post, inclusive.

    Attributes:
        minimum: the lowest price.
        maximum: the highest price.
        currency: ISO-4217 code of the amounts.
    """

    minimum: float
    maximum: float
    currency: str = "USD"

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        for name, value in (("min", self.minimum), ("max", self.maximum)):
            if not _is_number(value):
                problems.add(name, "must be a number", "invalid_type")
            elif not math.isfinite(value):
                problems.add(name, "must be finite", "not_finite")
            elif not 0 <= value <= _MAX_PRICE:
                problems.add(name, f"must be between 0 and {_MAX_PRICE:,.0f}", "out_of_range")
        if not problems and self.minimum > self.maximum:
            problems.add("min", "must not be greater than max", "out_of_range")
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            problems.add("currency", "must be a three-letter ISO-4217 code such as 'USD'")
        problems.raise_if_any()

    def contains(self, price: float) -> bool:
        """Whether ``price`` is inside the range (both ends included)."""
        return self.minimum <= price <= self.maximum

    def to_json(self) -> dict[str, Any]:
        return {"min": self.minimum, "max": self.maximum, "currency": self.currency}


def _price_ranges_converter(value: Any) -> Any:
    # Convert what can be converted; anything else is left for validation to report.
    if isinstance(value, Mapping):
        return tuple(sorted(value.items(), key=lambda kv: str(kv[0])))
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _frozenset_converter(value: Any) -> Any:
    if isinstance(value, str):
        # a lone string is one item, not its letters
        return frozenset({value})
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        return frozenset(value)
    return value


def _optional_frozenset_converter(value: Any) -> Any:
    return None if value is None else _frozenset_converter(value)


@attrs.frozen
class PlatformLimits:
    """What one platform accepts in a post.

    A platform has one of two layouts. *Caption* platforms (OnlyFans, Instagram,
    TikTok) take one text, ``caption``; *title/body* platforms (Reddit) take a
    ``title`` and an optional ``body``. Exactly one of ``caption`` and ``title``
    is set; ``body`` only goes with ``title``.

    Attributes:
        platform: ``onlyfans``, ``instagram``, ``tiktok``, ``reddit`` or a
            platform the host declares (lower case letters, digits and ``_``).
        caption: the limit on the caption (caption layout), else ``None``.
        title: the limit on the title (title/body layout), else ``None``.
        body: the limit on the body (title/body layout), ``None`` for no body.
        length_unit: how the platform counts length: ``"codepoints"`` or ``"utf16"``.
        hashtags: whether the platform uses hashtags; when ``False`` a
            ``hashtags`` list is left out and ``#`` in text is just text.
        max_hashtags: the most hashtags (in all text of the post), ``None`` for no limit.
        max_mentions: the most ``@mentions``, ``None`` for no limit.
        links: ``"clickable"`` (links are kept), ``"unclickable"`` (the ``link``
            field is replaced by ``link_fallback``; links typed in text stay, as
            plain text) or ``"forbidden"`` (links are removed; any left is an error).
        link_fallback: the text that stands in for the link where links are not
            clickable (``"Link in bio"``); empty to leave the link out.
        media_required: whether a post needs at least one media item.
        max_media: the most media items in one post.
        media_kinds: the kinds accepted: a subset of ``{"image", "video"}``.
        media_extensions: the file extensions accepted (lower case, no dot);
            ``None`` accepts any known image or video extension.
        max_videos: the most videos in one post, ``None`` for no separate limit.
        mixed_media: whether images and videos may be mixed in one post.
        price_ranges: prices accepted for a paid post, by campaign type
            (``"ppv"``, ``"subscription"``...) with ``"default"`` for the rest;
            empty when the platform has no paid posts (a price is then left out).
            Given as a mapping; stored as sorted pairs so limits stay immutable.
        priced_requires_media: whether a paid post must carry media.
    """

    platform: str
    caption: TextLimit | None = None
    title: TextLimit | None = None
    body: TextLimit | None = None
    length_unit: LengthUnit = "codepoints"
    hashtags: bool = True
    max_hashtags: int | None = None
    max_mentions: int | None = None
    links: LinkPolicy = "clickable"
    link_fallback: str = "Link in bio"
    media_required: bool = False
    max_media: int = 10
    media_kinds: frozenset[str] = attrs.field(
        default=frozenset({"image", "video"}), converter=_frozenset_converter
    )
    media_extensions: frozenset[str] | None = attrs.field(
        default=None, converter=_optional_frozenset_converter
    )
    max_videos: int | None = None
    mixed_media: bool = True
    price_ranges: tuple[tuple[str, PriceRange], ...] = attrs.field(
        default=(), converter=_price_ranges_converter
    )
    priced_requires_media: bool = False

    def __attrs_post_init__(self) -> None:
        problems = _limits_problems(self)
        problems.raise_if_any()

    @property
    def layout(self) -> Literal["caption", "title_body"]:
        """``"caption"`` or ``"title_body"`` (see the class docstring)."""
        return "caption" if self.caption is not None else "title_body"

    @property
    def paid_posts(self) -> bool:
        """Whether the platform accepts a price on a post."""
        return bool(self.price_ranges)

    def price_range(self, campaign_type: str | None = None) -> PriceRange | None:
        """The price range for a campaign type (or the default range).

        Args:
            campaign_type: ``ppv``, ``subscription``...; ``None`` for the default.

        Returns:
            The range for ``campaign_type`` if one is set, else the ``"default"``
            range, else ``None`` (the platform has no paid posts).
        """
        ranges = dict(self.price_ranges)
        if campaign_type is not None and campaign_type in ranges:
            return ranges[campaign_type]
        return ranges.get(_DEFAULT_PRICE_KEY)

    def accepts_extension(self, ext: str | None) -> bool:
        """Whether media with file extension ``ext`` may be posted here."""
        if ext is None:
            return False
        if self.media_extensions is not None:
            return ext in self.media_extensions
        return ext in IMAGE_EXTENSIONS or ext in VIDEO_EXTENSIONS

    def with_overrides(
        self, overrides: Mapping[str, Any] | None = None, /, **changes: Any
    ) -> PlatformLimits:
        """A copy with some limits changed; the original is untouched.

        Keys are the attribute names, in snake_case or camelCase (``max_hashtags``
        or ``maxHashtags``). Values may be given as JSON: a text limit as
        ``{"maxLength": 1000, "required": true}`` or just ``1000``; a price range
        as ``{"min": 3, "max": 100, "currency": "USD"}`` (``price_ranges``
        entries are merged into the current ones by key, a missing ``min`` or
        ``max`` keeps the current value, and ``None`` removes the entry);
        ``None`` clears an optional limit.

        Args:
            overrides: the changes as a mapping (for example from a JSON config).
            **changes: the changes as keyword arguments (merged over ``overrides``).

        Returns:
            The new limits.

        Raises:
            ValidationError: an unknown key, a wrong type, a value out of range or
                limits that contradict each other; each problem carries the path
                of the bad value (``caption.maxLength``, ``priceRanges.default.max``).
        """
        given: dict[Any, Any] = {}
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise ValidationError.single(
                    "", "overrides must be a mapping of limit names to values", "invalid_type"
                )
            given.update(overrides)
        given.update(changes)
        return _apply_overrides(self, given)

    @classmethod
    def from_json(cls, platform: str, data: Mapping[str, Any]) -> PlatformLimits:
        """New limits for a platform, from JSON (as :meth:`to_json` gives them).

        Every limit that is not given takes the class default; exactly one of
        ``caption`` (caption layout) and ``title`` (title/body layout) must be
        given, as for the constructor.

        Args:
            platform: the platform's name.
            data: the limits, keys in snake_case or camelCase, values as
                :meth:`with_overrides` accepts them.

        Returns:
            The limits.

        Raises:
            ValidationError: the same problems as :meth:`with_overrides`, with
                the path of each bad value.
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single(
                "", "limits must be a mapping of limit names to values", "invalid_type"
            )
        names = {
            _OVERRIDE_NAMES.get(key)
            for key, value in data.items()
            if isinstance(key, str) and value is not None
        }
        if ("caption" in names) == ("title" in names):
            raise ValidationError.single(
                "caption",
                "exactly one of caption (caption layout) and title (title/body layout) must be set",
            )
        # A placeholder of the chosen layout, replaced by the given value.
        if "caption" in names:
            base = cls(platform=platform, caption=TextLimit(1))
        else:
            base = cls(platform=platform, title=TextLimit(1))
        return _apply_overrides(base, dict(data))

    def to_json(self) -> dict[str, Any]:
        """The limits as JSON (camelCase keys), as accepted by :meth:`with_overrides`."""
        out: dict[str, Any] = {}
        for f in attrs.fields(PlatformLimits):
            value = getattr(self, f.name)
            if isinstance(value, TextLimit):
                value = value.to_json()
            elif f.name == "price_ranges":
                value = {key: rng.to_json() for key, rng in value}
            elif isinstance(value, frozenset):
                value = sorted(value)
            out[_camel(f.name)] = value
        return out


_OVERRIDABLE: Final[tuple[str, ...]] = tuple(
    f.name for f in attrs.fields(PlatformLimits) if f.name != "platform"
)
_CAMEL_NAMES: Final[frozenset[str]] = frozenset(_camel(n) for n in _OVERRIDABLE)
_OVERRIDE_NAMES: Final[dict[str, str]] = {
    **{n: n for n in _OVERRIDABLE},
    **{_camel(n): n for n in _OVERRIDABLE},
}


def _apply_overrides(current: PlatformLimits, given: Mapping[Any, Any]) -> PlatformLimits:
    """``current`` with the JSON-ish changes in ``given``, every problem reported at once."""
    problems = ProblemCollector()
    values: dict[str, Any] = {}
    for key, value in given.items():
        if not isinstance(key, str):
            problems.add("", f"limit names must be strings, got {key!r}", "invalid_type")
            continue
        if key == "platform":
            # allowed so that to_json() output can be fed back; it cannot change
            if value != current.platform:
                problems.add(key, f"cannot change the platform of {current.platform}'s limits")
            continue
        name = _OVERRIDE_NAMES.get(key)
        if name is None:
            problems.add(
                key,
                f"unknown limit {key!r}; known: {', '.join(sorted(_CAMEL_NAMES))}",
                "unknown_field",
            )
            continue
        path = _camel(name)
        try:
            values[name] = _parse_override(current, name, value, path)
        except ValidationError as exc:
            problems.extend(exc)
    fields = {f.name: getattr(current, f.name) for f in attrs.fields(PlatformLimits)}
    fields.update(values)
    try:
        # Built even when some values failed to parse, so that every problem
        # (unknown keys and inconsistent values alike) is reported at once.
        limits = PlatformLimits(**fields)
    except ValidationError as exc:
        problems.extend(exc)
    problems.raise_if_any()
    return limits


def _parse_text_limit(value: Any, path: str) -> TextLimit | None:
    if value is None or isinstance(value, TextLimit):
        return value
    if _is_int(value):
        return _build(TextLimit, path, max_length=value)
    if isinstance(value, Mapping):
        allowed = {"maxLength": "max_length", "max_length": "max_length", "required": "required"}
        kwargs: dict[str, Any] = {}
        problems = ProblemCollector()
        for key, item in value.items():
            if key not in allowed:
                problems.add(
                    join_path(path, str(key)),
                    "unknown key; expected maxLength, required",
                    "unknown_field",
                )
            else:
                kwargs[allowed[key]] = item
        if "max_length" not in kwargs:
            problems.add(join_path(path, "maxLength"), "is required", "required")
            problems.raise_if_any()
        try:
            built = _build(TextLimit, path, **kwargs)
        except ValidationError as exc:
            problems.extend(exc)
        problems.raise_if_any()
        return built
    raise ValidationError.single(
        path, "expected a text limit such as {'maxLength': 1000} or null", "invalid_type"
    )


def _parse_price_range(value: Any, current: PriceRange | None, path: str) -> PriceRange:
    if isinstance(value, PriceRange):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError.single(
            path, "expected a price range such as {'min': 3, 'max': 200}", "invalid_type"
        )
    allowed = {
        "min": "minimum",
        "minimum": "minimum",
        "max": "maximum",
        "maximum": "maximum",
        "currency": "currency",
    }
    kwargs: dict[str, Any] = {}
    problems = ProblemCollector()
    for key, item in value.items():
        if key not in allowed:
            problems.add(
                join_path(path, str(key)),
                "unknown key; expected min, max, currency",
                "unknown_field",
            )
        else:
            kwargs[allowed[key]] = item
    for name, short in (("minimum", "min"), ("maximum", "max")):
        if name not in kwargs:
            if current is None:
                problems.add(join_path(path, short), "is required", "required")
            else:
                kwargs[name] = getattr(current, name)
    if "currency" not in kwargs and current is not None:
        kwargs["currency"] = current.currency
    if "minimum" not in kwargs or "maximum" not in kwargs:
        problems.raise_if_any()
    try:
        built = _build(PriceRange, path, **kwargs)
    except ValidationError as exc:
        problems.extend(exc)
    problems.raise_if_any()
    return built


def _parse_price_ranges(
    limits: PlatformLimits, value: Any, path: str
) -> tuple[tuple[str, PriceRange], ...]:
    if not isinstance(value, Mapping):
        raise ValidationError.single(
            path,
            "expected a mapping of campaign type (or 'default') to price range",
            "invalid_type",
        )
    merged = dict(limits.price_ranges)
    problems = ProblemCollector()
    for key, item in value.items():
        item_path = join_path(path, str(key))
        if not isinstance(key, str) or not key:
            problems.add(item_path, "price range keys must be non-empty strings", "invalid_type")
            continue
        if item is None:
            merged.pop(key, None)
            continue
        try:
            merged[key] = _parse_price_range(item, merged.get(key), item_path)
        except ValidationError as exc:
            problems.extend(exc)
    problems.raise_if_any()
    return tuple(sorted(merged.items()))


def _parse_string_set(value: Any, path: str, *, allow_none: bool) -> frozenset[str] | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError.single(path, "expected a list of strings", "invalid_type")
    items: set[str] = set()
    problems = ProblemCollector()
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(join_path(path, index), "expected a string", "invalid_type")
        else:
            items.add(item.lower().lstrip("."))
    problems.raise_if_any()
    return frozenset(items)


def _parse_override(limits: PlatformLimits, name: str, value: Any, path: str) -> Any:
    """Turn one JSON-ish override value into the attribute's type (checked later as a whole)."""
    if name in ("caption", "title", "body"):
        return _parse_text_limit(value, path)
    if name == "price_ranges":
        return _parse_price_ranges(limits, value, path)
    if name == "media_kinds":
        return _parse_string_set(value, path, allow_none=False)
    if name == "media_extensions":
        return _parse_string_set(value, path, allow_none=True)
    # Scalars are checked by the limits' own validation, with the same paths.
    return value


def _build(cls: type[_T], path: str, **kwargs: Any) -> _T:
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        raise exc.prefixed(path) from None


def _check_optional_count(
    problems: ProblemCollector, path: str, value: object, maximum: int
) -> None:
    if value is None:
        return
    if not _is_int(value):
        problems.add(path, "must be an integer or null", "invalid_type")
    elif not 0 <= cast(int, value) <= maximum:
        problems.add(path, f"must be between 0 and {maximum:,}", "out_of_range")


def _limits_problems(limits: Any) -> ProblemCollector:
    """Every inconsistency in ``limits``, with camelCase paths.

    ``limits`` is typed ``Any`` on purpose: this checks what the type hints
    promise, for callers that did not run a type checker.
    """
    problems = ProblemCollector()
    if not isinstance(limits.platform, str) or not PLATFORM_NAME.match(limits.platform):
        problems.add(
            "platform",
            f"{limits.platform!r} is not a platform name (a lower-case letter, then at most 31 "
            "lower-case letters, digits or '_')",
        )
    for name in ("caption", "title", "body"):
        value = getattr(limits, name)
        if value is not None and not isinstance(value, TextLimit):
            problems.add(name, "must be a TextLimit or null", "invalid_type")
    if (limits.caption is None) == (limits.title is None):
        problems.add(
            "caption",
            "exactly one of caption (caption layout) and title (title/body layout) must be set",
        )
    if limits.caption is not None and limits.body is not None:
        problems.add("body", "a body goes with a title, not with a caption")
    if limits.length_unit not in _LENGTH_UNITS:
        problems.add("lengthUnit", f"must be one of {', '.join(_LENGTH_UNITS)}")
    if limits.links not in _LINK_POLICIES:
        problems.add("links", f"must be one of {', '.join(_LINK_POLICIES)}")
    for name in ("hashtags", "media_required", "mixed_media", "priced_requires_media"):
        if not isinstance(getattr(limits, name), bool):
            problems.add(_camel(name), "must be true or false", "invalid_type")
    if not isinstance(limits.link_fallback, str):
        problems.add("linkFallback", "must be a string", "invalid_type")
    elif len(limits.link_fallback) > _MAX_FALLBACK_LENGTH:
        problems.add(
            "linkFallback", f"must be at most {_MAX_FALLBACK_LENGTH} characters", "out_of_range"
        )
    _check_optional_count(problems, "maxHashtags", limits.max_hashtags, _MAX_COUNT)
    _check_optional_count(problems, "maxMentions", limits.max_mentions, _MAX_COUNT)
    _check_optional_count(problems, "maxVideos", limits.max_videos, _MAX_MEDIA)
    if not _is_int(limits.max_media):
        problems.add("maxMedia", "must be an integer", "invalid_type")
    elif not 0 <= limits.max_media <= _MAX_MEDIA:
        problems.add("maxMedia", f"must be between 0 and {_MAX_MEDIA}", "out_of_range")
    elif limits.media_required and limits.max_media < 1:
        problems.add("maxMedia", "must be at least 1 when media is required", "out_of_range")
    if not isinstance(limits.media_kinds, frozenset):
        problems.add("mediaKinds", "must be a list of image, video", "invalid_type")
    elif not limits.media_kinds or not all(isinstance(k, str) for k in limits.media_kinds):
        problems.add("mediaKinds", "must list at least one of image, video")
    elif not limits.media_kinds <= _MEDIA_KINDS:
        unknown = sorted(limits.media_kinds - _MEDIA_KINDS)
        problems.add("mediaKinds", f"unknown media kinds {unknown}; known: image, video")
    if limits.media_extensions is not None and not isinstance(limits.media_extensions, frozenset):
        problems.add("mediaExtensions", "must be a list of extensions or null", "invalid_type")
    elif limits.media_extensions is not None:
        bad = sorted(
            str(e)
            for e in limits.media_extensions
            if not isinstance(e, str) or not _EXTENSION.match(e)
        )
        if bad:
            problems.add("mediaExtensions", f"not file extensions: {bad}")
        elif not limits.media_extensions:
            problems.add("mediaExtensions", "must not be empty (use null to accept any)")
    if not isinstance(limits.price_ranges, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in limits.price_ranges
    ):
        problems.add("priceRanges", "must map campaign types to price ranges", "invalid_type")
        return problems
    for key, rng in limits.price_ranges:
        if not isinstance(key, str) or not key:
            problems.add("priceRanges", "keys must be non-empty strings", "invalid_type")
        elif not isinstance(rng, PriceRange):
            problems.add(join_path("priceRanges", key), "must be a PriceRange", "invalid_type")
    if limits.priced_requires_media and not limits.price_ranges:
        problems.add("pricedRequiresMedia", "only makes sense on a platform with paid posts")
    return problems
