"""Content adaptation per platform and validation of what comes out."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from campaign_core.errors import ValidationError
from campaign_core.ports import ContentGenerator
from campaign_core.publishing import (
    AdaptationRequest,
    AdaptationResult,
    BuiltinContentAdapter,
    PlatformRules,
    adapt_for_platform,
    adapt_for_platforms,
    resolve_platform_content,
)
from campaign_core.publishing._adapt import validate_platform_content
from campaign_core.publishing._platforms import PLATFORMS
from campaign_core.publishing._text import find_hashtags, find_mentions, text_length

SEED_TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    (
        "ppv",
        {
            "title": "Transform Your Body in 30 Days! 💪",
            "description": "Join my exclusive 30-day workout challenge with daily routines, meal plans, and personal coaching.",
            "cta": "Start Your Transformation",
            "price": 49.99,
        },
    ),
    (
        "subscription",
        {
            "title": "Weekly Meal Plans + Recipes 🥗",
            "description": "Get personalized meal plans every week with macro tracking and shopping lists.",
            "cta": "Subscribe Now",
            "price": 29.99,
        },
    ),
    (
        "subscription",
        {
            "title": "VIP Stream Access 🎮",
            "description": "Get exclusive access to private streams, behind-the-scenes content, and gaming sessions.",
            "cta": "Join VIP",
            "price": 19.99,
        },
    ),
    (
        "ppv",
        {
            "title": "Master [Game Name] - Pro Tips 🏆",
            "description": "Learn advanced strategies and techniques from a pro player.",
            "cta": "Get Tutorial",
            "price": 14.99,
        },
    ),
    (
        "subscription",
        {
            "title": "VIP Access - Exclusive Content 💎",
            "description": "Get access to exclusive content, custom requests, and priority messaging.",
            "cta": "Upgrade to VIP",
            "price": 49.99,
        },
    ),
    (
        "ppv",
        {
            "title": "Custom Content Just for You ✨",
            "description": "Request personalized content tailored to your preferences.",
            "cta": "Request Custom",
            "price": 99.99,
        },
    ),
]
IMAGE = "https://cdn.example/media/cover.jpg"
VIDEO = "https://cdn.example/media/clip.mp4"
RULES = PlatformRules.default()


def _codes(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in exc.value.problems}


@pytest.mark.parametrize(("campaign_type", "content"), SEED_TEMPLATES)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_seed_templates_fit_every_platform(
    campaign_type: str, content: dict[str, Any], platform: str
) -> None:
    """Every seed template, with one image, adapts and validates on every platform."""
    result = adapt_for_platform(content, platform, media_urls=[IMAGE], campaign_type=campaign_type)
    assert result.platform == platform
    assert result.media_urls == (IMAGE,)


def test_instagram_caption_is_composed_from_the_generic_fields() -> None:
    """Title, description, cta, link fallback and hashtags make the Instagram caption."""
    content = {
        "title": "Title",
        "description": "Body text.",
        "cta": "Join now",
        "link": "https://onlyfans.com/me",
        "hashtags": ["fit", "#gym"],
        "price": 9.99,
    }
    result = adapt_for_platform(content, "instagram", media_urls=[IMAGE])
    assert result.content == {
        "caption": "Title\n\nBody text.\n\nJoin now\n\nLink in bio\n\n#fit #gym"
    }
    assert [(c.field, c.action) for c in result.changes] == [
        ("link", "replaced"),
        ("price", "dropped"),
    ]


def test_onlyfans_keeps_the_link_and_the_price() -> None:
    """OnlyFans gets a caption with the clickable link and the price."""
    content = {"title": "T", "link": "https://x.example/a", "price": 10}
    result = adapt_for_platform(content, "onlyfans", media_urls=[VIDEO])
    assert result.content == {"caption": "T\n\nhttps://x.example/a", "price": 10}
    assert not result.changed


def test_reddit_gets_title_and_body_and_pass_through_fields() -> None:
    """Reddit gets a title and a body; hashtags are dropped; extra fields pass through."""
    content = {
        "title": "Title",
        "description": "Desc",
        "cta": "Go",
        "hashtags": ["a"],
        "platforms": {"reddit": {"subreddit": "fitness", "flair": {"id": "x"}}},
    }
    result = adapt_for_platform(content, "reddit")
    assert result.content == {
        "title": "Title",
        "body": "Desc\n\nGo",
        "subreddit": "fitness",
        "flair": {"id": "x"},
    }
    assert [(c.field, c.action, c.before, c.after) for c in result.changes] == [
        ("hashtags", "dropped", 1, 0)
    ]


def test_a_hand_written_caption_replaces_title_description_and_cta() -> None:
    """A caption field is used instead of composing title, description and cta."""
    content = {"title": "T", "description": "D", "caption": "My own caption", "hashtags": ["x"]}
    result = adapt_for_platform(content, "tiktok", media_urls=[VIDEO])
    assert result.content == {"caption": "My own caption\n\n#x"}


def test_long_description_is_cut_at_a_word_and_reported() -> None:
    """A too-long description is shortened at a word boundary; title, cta and tags stay."""
    description = "word " * 600
    content = {"title": "Title", "description": description, "cta": "Join", "hashtags": ["a", "b"]}
    result = adapt_for_platform(content, "instagram", media_urls=[IMAGE])
    caption = result.content["caption"]
    assert len(caption) <= 2200
    assert caption.startswith("Title\n\nword word")
    assert caption.endswith("word…\n\nJoin\n\n#a #b")
    (change,) = result.changes
    assert (change.field, change.action, change.before) == ("description", "truncated", 3000)
    assert change.after == len(caption.split("\n\n")[1])


def test_hashtags_are_trimmed_to_the_platform_maximum() -> None:
    """Instagram keeps at most 30 hashtags, counting those typed in the text."""
    content = {"description": "Love #fit and #gym", "hashtags": [f"t{i}" for i in range(40)]}
    result = adapt_for_platform(content, "instagram", media_urls=[IMAGE])
    tags = find_hashtags(result.content["caption"])
    assert len(tags) == 30
    assert tags[:3] == ["fit", "gym", "t0"]
    (change,) = result.changes
    assert (change.field, change.action, change.before, change.after) == (
        "hashtags",
        "dropped",
        40,
        28,
    )


def test_duplicate_hashtags_are_left_out() -> None:
    """Hashtags given twice, or already in the text, appear once."""
    content = {"description": "Go #Fit", "hashtags": ["fit", "gym", "#GYM", "yoga"]}
    result = adapt_for_platform(content, "instagram", media_urls=[IMAGE])
    assert result.content["caption"] == "Go #Fit\n\n#gym #yoga"
    (change,) = result.changes
    assert (change.action, change.before, change.after) == ("deduplicated", 4, 2)


def test_reddit_without_a_title_is_rejected() -> None:
    """Reddit needs a title: the adapter does not invent one and validation says so."""
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform({"description": "only a body"}, "reddit")
    assert _codes(exc) == {"content.reddit.title": "required"}


def test_long_reddit_title_is_cut() -> None:
    """A Reddit title longer than 300 characters is cut at a word with an ellipsis."""
    title = "Very long title " * 30
    result = adapt_for_platform({"title": title}, "reddit")
    assert len(result.content["title"]) <= 300
    assert result.content["title"].endswith("Very long…")
    assert result.changes[0].field == "title"


@pytest.mark.parametrize(
    ("price", "campaign_type", "code"),
    [
        (2.5, "ppv", "out_of_range"),
        (250, None, "out_of_range"),
        (99.99, "subscription", "out_of_range"),
    ],
)
def test_onlyfans_price_out_of_range_is_rejected(
    price: float, campaign_type: str | None, code: str
) -> None:
    """A price outside OnlyFans's range for the campaign type is rejected at content.onlyfans.price."""
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform(
            {"title": "t", "price": price},
            "onlyfans",
            media_urls=[IMAGE],
            campaign_type=campaign_type,
        )
    assert _codes(exc) == {"content.onlyfans.price": code}


def test_paid_onlyfans_post_needs_media() -> None:
    """A priced OnlyFans post without media is rejected at content.onlyfans.mediaUrls."""
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform({"title": "t", "price": 10}, "onlyfans")
    assert _codes(exc) == {"content.onlyfans.mediaUrls": "required"}


def test_price_is_rounded_to_cents() -> None:
    """A price with more than two decimals is rounded, and the rounding reported."""
    result = adapt_for_platform({"price": 9.999}, "onlyfans", media_urls=[IMAGE])
    assert result.content["price"] == 10.0
    assert [(c.field, c.action) for c in result.changes] == [("price", "rounded")]


def test_instagram_needs_media_of_a_type_it_takes() -> None:
    """Instagram rejects a post without media, PNG images and URLs of unknown type."""
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform({"title": "t"}, "instagram")
    assert _codes(exc) == {"content.instagram.mediaUrls": "required"}
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform(
            {"title": "t"},
            "instagram",
            media_urls=[IMAGE, "https://cdn.example/a.png", "https://cdn.example/media/123"],
        )
    assert _codes(exc) == {
        "content.instagram.mediaUrls[1]": "unsupported",
        "content.instagram.mediaUrls[2]": "unsupported",
    }


def test_per_platform_media_replaces_the_campaign_media() -> None:
    """A mediaUrls field in a platform's content replaces the campaign's media there."""
    content = {"title": "t", "platforms": {"tiktok": {"mediaUrls": [VIDEO]}}}
    result = adapt_for_platform(content, "tiktok", media_urls=[IMAGE])
    assert result.media_urls == (VIDEO,)
    assert "mediaUrls" not in result.content


def test_media_is_reshaped_to_the_platform() -> None:
    """Extra media is dropped; TikTok keeps one kind and one video."""
    ig = adapt_for_platform({"title": "t"}, "instagram", media_urls=[IMAGE] * 12)
    assert len(ig.media_urls) == 10
    assert [(c.field, c.action, c.before, c.after) for c in ig.changes] == [
        ("mediaUrls", "truncated", 12, 10)
    ]
    tt = adapt_for_platform({"title": "t"}, "tiktok", media_urls=[VIDEO, IMAGE, VIDEO])
    assert tt.media_urls == (VIDEO,)
    assert [(c.before, c.after) for c in tt.changes] == [(3, 2), (2, 1)]


def test_forbidden_links_are_removed_everywhere() -> None:
    """Where links are forbidden, the link field and links typed in text are removed."""
    rules = RULES.with_overrides({"reddit": {"links": "forbidden"}})
    content = {
        "title": "See https://x.io now",
        "description": "Go to www.y.com today",
        "link": "https://z.io",
    }
    result = adapt_for_platform(content, "reddit", rules=rules)
    assert result.content == {"title": "See now", "body": "Go to today"}
    assert {(c.field, c.action) for c in result.changes} == {
        ("title", "dropped"),
        ("description", "dropped"),
        ("link", "dropped"),
    }
    with pytest.raises(ValidationError) as exc:
        validate_platform_content({"title": "https://x.io"}, "reddit", rules["reddit"])
    assert _codes(exc) == {"content.reddit.title": "unsupported"}


def test_tiktok_counts_utf16_units() -> None:
    """TikTok captions are measured in UTF-16 units, so emoji count twice."""
    content = {"description": "💪" * 1500}
    result = adapt_for_platform(content, "tiktok", media_urls=[VIDEO])
    caption = result.content["caption"]
    assert text_length(caption, "utf16") <= 2200 < text_length(caption, "utf16") + 3
    assert result.changes[0].before == 3000


def test_overridden_limits_are_honoured() -> None:
    """A host's tighter limits are what adaptation fits to."""
    rules = RULES.with_overrides({"instagram": {"caption": 40, "maxHashtags": 1}})
    content = {
        "title": "A title",
        "description": "A description that is long enough",
        "hashtags": ["a", "b"],
    }
    result = adapt_for_platform(content, "instagram", rules=rules, media_urls=[IMAGE])
    assert len(result.content["caption"]) <= 40
    assert result.content["caption"].endswith("#a")


def test_validation_rejects_content_that_was_not_adapted() -> None:
    """Generic fields left in a platform's content are reported as unknown there."""
    with pytest.raises(ValidationError) as exc:
        validate_platform_content(
            {"title": "t", "description": "d"}, "instagram", RULES["instagram"], media_urls=[IMAGE]
        )
    assert _codes(exc) == {
        "content.instagram.title": "unknown_field",
        "content.instagram.description": "unknown_field",
    }


def test_validation_reports_too_long_text_and_too_many_tags() -> None:
    """Validation checks lengths, hashtags and mentions of the adapted text."""
    caption = " ".join(f"#t{i} @u{i}" for i in range(31)) + "x" * 2000
    with pytest.raises(ValidationError) as exc:
        validate_platform_content(
            {"caption": caption}, "instagram", RULES["instagram"], media_urls=[IMAGE]
        )
    messages = [p.message for p in exc.value.problems]
    assert all(p.path == "content.instagram.caption" for p in exc.value.problems)
    assert len(messages) == 3


def test_adapt_for_platforms_reports_every_platform_at_once() -> None:
    """Problems of several platforms come in one ValidationError."""
    with pytest.raises(ValidationError) as exc:
        adapt_for_platforms({"description": "d", "price": 500}, ["onlyfans", "instagram", "reddit"])
    assert _codes(exc) == {
        "content.onlyfans.price": "out_of_range",
        "content.onlyfans.mediaUrls": "required",
        "content.instagram.mediaUrls": "required",
        "content.reddit.title": "required",
    }
    with pytest.raises(ValidationError) as exc:
        adapt_for_platforms({}, ["reddit", "reddit", "myspace"])
    assert set(_codes(exc)) == {"platforms[1]", "platforms[2]"}


def test_adapt_for_platforms_returns_each_platform() -> None:
    """adapt_for_platforms returns the adapted content per platform, in order."""
    results = adapt_for_platforms({"title": "t"}, ["reddit", "tiktok"], media_urls=[VIDEO])
    assert list(results) == ["reddit", "tiktok"]


class _TooLong:
    def adapt(self, request: AdaptationRequest) -> AdaptationResult:
        return AdaptationResult(request.platform, {"caption": "x" * 5000}, request.media_urls)


class _Broken:
    def adapt(self, request: AdaptationRequest) -> Any:
        return {"caption": "x"}


def test_a_custom_generator_is_still_validated() -> None:
    """Content from a host's generator is validated like the built-in adapter's."""
    assert isinstance(_TooLong(), ContentGenerator)
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform({"title": "t"}, "instagram", media_urls=[IMAGE], generator=_TooLong())
    assert _codes(exc) == {"content.instagram.caption": "out_of_range"}
    with pytest.raises(ValidationError) as exc:
        adapt_for_platform({"title": "t"}, "instagram", media_urls=[IMAGE], generator=_Broken())
    assert _codes(exc) == {"content.instagram": "invalid_type"}


def test_the_adapter_rejects_limits_of_another_platform() -> None:
    """Asking the adapter to use one platform's limits for another is an error."""
    with pytest.raises(ValidationError):
        BuiltinContentAdapter().adapt(AdaptationRequest("reddit", {}, RULES["instagram"]))


def test_idempotency_key_depends_on_campaign_platform_and_content() -> None:
    """The key is stable for the same inputs and changes with any of them."""
    a = adapt_for_platform({"title": "t"}, "reddit")
    b = adapt_for_platform({"title": "t"}, "reddit")
    c = adapt_for_platform({"title": "u"}, "reddit")
    assert a.idempotency_key("c1") == b.idempotency_key("c1")
    assert a.idempotency_key("c1") != a.idempotency_key("c2")
    assert a.idempotency_key("c1") != c.idempotency_key("c1")
    assert len(a.idempotency_key("c1")) < 64


# ---- properties -------------------------------------------------------------

_WORDS = st.lists(
    st.sampled_from(
        [
            *"abcdefghij XYZ,.!?\n",
            "é",
            "💪",
            "中",
            "#tag",
            "@me",
            "word ",
            "www.x.io",
            "http://y.io/p",
        ]
    ),
    max_size=300,
).map("".join)
_TAGS = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True), max_size=40)
_MEDIA = st.lists(
    st.sampled_from(
        [f"https://cdn.example/m/{i}.{ext}" for i in range(3) for ext in ("jpg", "mp4")]
    ),
    min_size=1,
    max_size=40,
)


@st.composite
def _content(draw: st.DrawFn) -> dict[str, Any]:
    content: dict[str, Any] = {
        "title": draw(st.text(alphabet="abc XYZ💪", min_size=1, max_size=500).filter(str.strip))
    }
    for field in ("description", "cta"):
        if draw(st.booleans()):
            content[field] = draw(_WORDS)
    if draw(st.booleans()):
        content["hashtags"] = draw(_TAGS)
    if draw(st.booleans()):
        content["link"] = draw(st.sampled_from(["https://of.example/me", "https://x.io/a?b=c"]))
    if draw(st.booleans()):
        content["price"] = draw(st.floats(min_value=4.99, max_value=49.99))
    return content


_LIMIT_OVERRIDES = st.fixed_dictionaries(
    {},
    optional={
        "caption": st.integers(min_value=1, max_value=3000),
        "maxHashtags": st.integers(min_value=0, max_value=40),
        "maxMedia": st.integers(min_value=1, max_value=12),
        "links": st.sampled_from(["clickable", "unclickable", "forbidden"]),
    },
)


def _fits_before_adaptation(content: dict[str, Any], platform: str, rules: PlatformRules) -> bool:
    """The preconditions that adaptation cannot fix (the author must)."""
    limits = rules[platform]
    text = " ".join(str(content.get(f, "")) for f in ("title", "description", "cta"))
    if (
        limits.max_hashtags is not None
        and limits.hashtags
        and len(find_hashtags(text)) > limits.max_hashtags
    ):
        return False
    return not (limits.max_mentions is not None and len(find_mentions(text)) > limits.max_mentions)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=_content(),
    media=_MEDIA,
    platform=st.sampled_from(PLATFORMS),
    overrides=_LIMIT_OVERRIDES,
    campaign_type=st.sampled_from(["ppv", "subscription", None]),
)
def test_adapted_content_always_passes_validation(
    content: dict[str, Any],
    media: list[str],
    platform: str,
    overrides: dict[str, Any],
    campaign_type: str | None,
) -> None:
    """Generic content that can fit always adapts into content that validates."""
    if platform == "reddit":
        overrides = {k: v for k, v in overrides.items() if k != "caption"}
    rules = RULES.with_overrides({platform: overrides})
    assume(_fits_before_adaptation(content, platform, rules))
    result = adapt_for_platform(
        content, platform, media_urls=media, rules=rules, campaign_type=campaign_type
    )
    validate_platform_content(
        result.content,
        platform,
        rules[platform],
        media_urls=result.media_urls,
        campaign_type=campaign_type,
    )


@settings(max_examples=100, deadline=None)
@given(content=_content(), media=_MEDIA, platform=st.sampled_from(PLATFORMS))
def test_adaptation_is_deterministic_and_leaves_its_input(
    content: dict[str, Any], media: list[str], platform: str
) -> None:
    """Adapting twice gives the same result and never changes the request."""
    resolved = resolve_platform_content(content, platform)
    before = copy.deepcopy(resolved)
    request = AdaptationRequest(platform, resolved, RULES[platform], media)
    first = BuiltinContentAdapter().adapt(request)
    second = BuiltinContentAdapter().adapt(request)
    assert first == second
    assert resolved == before


def _naive_caption(content: dict[str, Any]) -> str:
    """What the caption would be if nothing had to change."""
    tags = " ".join(f"#{t.lstrip('#')}" for t in content.get("hashtags", []))
    parts = [content.get(f, "") for f in ("title", "description", "cta", "link")] + [tags]
    return "\n\n".join(p for p in parts if p)


@settings(max_examples=150, deadline=None)
@given(
    content=_content(),
    media=st.lists(st.just("https://cdn.example/m/a.jpg"), min_size=1, max_size=3),
    max_length=st.integers(min_value=5, max_value=600),
)
def test_change_report_matches_what_changed(
    content: dict[str, Any], media: list[str], max_length: int
) -> None:
    """No change is reported exactly when the caption is the plain composition; sizes add up."""
    content.pop("price", None)
    rules = RULES.with_overrides({"onlyfans": {"caption": max_length}})
    request = AdaptationRequest("onlyfans", content, rules["onlyfans"], media)
    result = BuiltinContentAdapter().adapt(request)
    caption = result.content.get("caption", "")
    naive = _naive_caption(content)
    assert (caption == naive) == (not result.changes)
    for change in result.changes:
        assert change.before is not None
        assert change.after is not None
        assert change.after < change.before
        if change.field == "caption":
            assert change.after == len(caption)
    if len(naive) > max_length:
        assert len(caption) <= max_length
        assert result.changes
