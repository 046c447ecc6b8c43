"""Platform limits: the documented defaults, overrides and their validation."""

from __future__ import annotations

import math

import pytest

from campaign_core.errors import ValidationError
from campaign_core.publishing import (
    DEFAULT_PLATFORM_LIMITS,
    PlatformLimits,
    PlatformRules,
    PriceRange,
    TextLimit,
)
from campaign_core.publishing._platforms import (
    PLATFORMS,
    media_extension,
    media_kind,
)


def _paths(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in exc.value.problems}


def test_every_platform_has_default_limits() -> None:
    """The defaults cover exactly the four supported platforms."""
    assert set(DEFAULT_PLATFORM_LIMITS) == set(PLATFORMS)
    rules = PlatformRules.default()
    assert [lim.platform for lim in rules] == list(PLATFORMS)


def test_default_values_match_the_documented_table() -> None:
    """The defaults are the values the reference page documents."""
    rules = PlatformRules.default()
    ig = rules["instagram"]
    assert ig.caption == TextLimit(2200)
    assert (ig.max_hashtags, ig.max_mentions, ig.max_media) == (30, 20, 10)
    assert ig.links == "unclickable"
    assert ig.media_required
    tt = rules["tiktok"]
    assert tt.caption == TextLimit(2200)
    assert tt.length_unit == "utf16"
    assert (tt.max_media, tt.max_videos, tt.mixed_media) == (35, 1, False)
    rd = rules["reddit"]
    assert rd.layout == "title_body"
    assert rd.title == TextLimit(300, required=True)
    assert rd.body == TextLimit(40000)
    assert not rd.hashtags
    assert not rd.paid_posts
    of = rules["onlyfans"]
    assert of.price_range("ppv") == PriceRange(3.0, 200.0)
    assert of.price_range("subscription") == PriceRange(4.99, 49.99)
    assert of.price_range(None) == PriceRange(3.0, 200.0)
    assert of.priced_requires_media


def test_overrides_accept_camel_and_snake_case_and_leave_the_original() -> None:
    """with_overrides returns a new object; keys may be camelCase or snake_case."""
    ig = PlatformRules.default()["instagram"]
    changed = ig.with_overrides({"maxHashtags": 5}, max_media=4, caption={"maxLength": 500})
    assert (changed.max_hashtags, changed.max_media, changed.caption) == (5, 4, TextLimit(500))
    assert ig.max_hashtags == 30
    assert ig.caption == TextLimit(2200)
    assert changed.with_overrides(caption=800).caption == TextLimit(800)


def test_price_range_overrides_merge_by_key() -> None:
    """A partial price range keeps the other bound; null removes a range."""
    of = PlatformRules.default()["onlyfans"]
    capped = of.with_overrides(priceRanges={"default": {"max": 100}})
    assert capped.price_range() == PriceRange(3.0, 100.0)
    assert capped.price_range("subscription") == PriceRange(4.99, 49.99)
    no_sub = of.with_overrides(priceRanges={"subscription": None})
    assert no_sub.price_range("subscription") == PriceRange(3.0, 200.0)
    free = of.with_overrides(
        priceRanges={"default": None, "subscription": None}, pricedRequiresMedia=False
    )
    assert not free.paid_posts


def test_to_json_round_trips_through_overrides() -> None:
    """Every platform's JSON, fed back as overrides, rebuilds equal limits."""
    for limits in PlatformRules.default():
        assert limits.with_overrides(limits.to_json()) == limits


def test_bad_overrides_report_every_problem_with_its_path() -> None:
    """Unknown keys, wrong types and out-of-range values are all reported at once."""
    ig = PlatformRules.default()["instagram"]
    with pytest.raises(ValidationError) as exc:
        ig.with_overrides(
            {
                "maxHashtag": 3,
                "caption": {"maxLength": 0, "color": "red"},
                "links": "sometimes",
                "mediaKinds": ["image", "audio"],
                "maxMedia": -1,
            }
        )
    assert _paths(exc) == {
        "maxHashtag": "unknown_field",
        "caption.color": "unknown_field",
        "caption.maxLength": "out_of_range",
        "links": "invalid_value",
        "mediaKinds": "invalid_value",
        "maxMedia": "out_of_range",
    }
    assert ig.max_media == 10


@pytest.mark.parametrize(
    ("overrides", "path", "code"),
    [
        ({"maxHashtags": True}, "maxHashtags", "invalid_type"),
        ({"maxHashtags": 1.5}, "maxHashtags", "invalid_type"),
        ({"maxMedia": 10**9}, "maxMedia", "out_of_range"),
        ({"caption": 0}, "caption.maxLength", "out_of_range"),
        ({"caption": "long"}, "caption", "invalid_type"),
        ({"mediaRequired": True, "maxMedia": 0}, "maxMedia", "out_of_range"),
        ({"mediaExtensions": []}, "mediaExtensions", "invalid_value"),
        ({"mediaExtensions": "jpg"}, "mediaExtensions", "invalid_type"),
        ({"linkFallback": "x" * 500}, "linkFallback", "out_of_range"),
        ({"lengthUnit": "bytes"}, "lengthUnit", "invalid_value"),
        ({"title": 100}, "caption", "invalid_value"),
        ({"body": 100}, "body", "invalid_value"),
        (
            {"priceRanges": {"default": {"min": 5, "max": 1}}},
            "priceRanges.default.min",
            "out_of_range",
        ),
        (
            {"priceRanges": {"default": {"min": math.nan, "max": 1}}},
            "priceRanges.default.min",
            "not_finite",
        ),
        ({"priceRanges": {"default": {"min": 1}}}, "priceRanges.default.max", "required"),
        (
            {"priceRanges": {"vip": {"min": 1, "max": 2, "currency": "usd"}}},
            "priceRanges.vip.currency",
            "invalid_value",
        ),
        ({"priceRanges": [1, 2]}, "priceRanges", "invalid_type"),
        ({"pricedRequiresMedia": True}, "pricedRequiresMedia", "invalid_value"),
    ],
)
def test_each_bad_override_is_rejected(overrides: dict[str, object], path: str, code: str) -> None:
    """Each kind of bad override value gives a ValidationError at its path."""
    with pytest.raises(ValidationError) as exc:
        PlatformRules.default()["instagram"].with_overrides(overrides)
    assert _paths(exc).get(path) == code, exc.value.problems


def test_limits_need_exactly_one_layout() -> None:
    """A platform has a caption or a title, never both or neither."""
    with pytest.raises(ValidationError):
        PlatformLimits(platform="reddit")
    with pytest.raises(ValidationError):
        PlatformLimits(platform="reddit", caption=TextLimit(10), title=TextLimit(10))
    with pytest.raises(ValidationError) as exc:
        # any platform name is accepted here (a host may declare it); a non-name is not
        PlatformLimits(platform="My Space", caption=TextLimit(10))
    assert "platform" in _paths(exc)


def test_direct_construction_with_wrong_types_is_a_validation_error() -> None:
    """Wrong types given to the constructor raise ValidationError, not TypeError."""
    with pytest.raises(ValidationError):
        PlatformLimits(platform="tiktok", caption=TextLimit(10), media_kinds=5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PlatformLimits(platform="tiktok", caption=TextLimit(10), price_ranges=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TextLimit("ten")  # type: ignore[arg-type]


def test_rules_overrides_prefix_paths_with_the_platform() -> None:
    """PlatformRules.with_overrides reports problems under the platform's name."""
    rules = PlatformRules.default()
    changed = rules.with_overrides({"instagram": {"maxHashtags": 10}, "reddit": None})
    assert changed["instagram"].max_hashtags == 10
    assert rules["instagram"].max_hashtags == 30
    assert changed["reddit"] == rules["reddit"]
    with pytest.raises(ValidationError) as exc:
        rules.with_overrides({"instagram": {"maxHashtags": -1}, "myspace": {}})
    assert _paths(exc) == {"instagram.maxHashtags": "out_of_range", "myspace": "unknown_field"}
    with pytest.raises(ValidationError):
        rules.with_overrides(["instagram"])  # type: ignore[arg-type]


def test_rules_lookup_of_an_unknown_platform_is_a_validation_error() -> None:
    """Looking up an unsupported platform raises ValidationError at path 'platform'."""
    with pytest.raises(ValidationError) as exc:
        PlatformRules.default()["myspace"]
    assert _paths(exc) == {"platform": "invalid_value"}


def test_rules_must_cover_every_platform_once() -> None:
    """A registry missing a platform, or naming one twice, is rejected."""
    with pytest.raises(ValidationError):
        PlatformRules([DEFAULT_PLATFORM_LIMITS["reddit"]])
    limits = list(DEFAULT_PLATFORM_LIMITS.values())
    with pytest.raises(ValidationError):
        PlatformRules([*limits, limits[0]])


@pytest.mark.parametrize(
    ("url", "ext", "kind"),
    [
        ("https://cdn.example/a/photo.JPG", "jpg", "image"),
        ("https://cdn.example/v/clip.mp4?sig=abc#t=3", "mp4", "video"),
        ("https://cdn.example/v/clip.webm", "webm", "video"),
        ("https://cdn.example/doc.pdf", "pdf", None),
        ("https://cdn.example/media/12345", None, None),
        ("https://cdn.example/dir.v2/file", None, None),
    ],
)
def test_media_kind_comes_from_the_extension(url: str, ext: str | None, kind: str | None) -> None:
    """Media kind is inferred from the URL path's extension, ignoring query and fragment."""
    assert media_extension(url) == ext
    assert media_kind(url) == kind
