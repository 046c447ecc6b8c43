"""The content model: base plus per-platform overrides, resolved and type-checked."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from campaign_core.errors import ValidationError
from campaign_core.publishing import resolve_platform_content
from campaign_core.publishing._content import check_content

BASE: dict[str, Any] = {
    "title": "VIP Stream Access 🎮",
    "description": "Get exclusive access to private streams.",
    "cta": "Join VIP",
    "price": 19.99,
    "hashtags": ["gaming"],
    "platforms": {
        "reddit": {"title": "Private streams for VIPs", "subreddit": "gaming", "price": None}
    },
    "instagram": {"hashtags": ["gaming", "stream"]},
}


def _codes(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in exc.value.problems}


def test_base_fields_apply_to_every_platform() -> None:
    """A platform without an override gets the base fields only."""
    resolved = resolve_platform_content(BASE, "tiktok")
    assert resolved == {
        "title": "VIP Stream Access 🎮",
        "description": "Get exclusive access to private streams.",
        "cta": "Join VIP",
        "price": 19.99,
        "hashtags": ["gaming"],
    }


def test_nested_override_replaces_and_null_removes() -> None:
    """An override under platforms.<name> replaces fields whole; null removes one."""
    resolved = resolve_platform_content(BASE, "reddit")
    assert resolved["title"] == "Private streams for VIPs"
    assert resolved["subreddit"] == "gaming"
    assert "price" not in resolved
    assert resolved["description"] == BASE["description"]


def test_top_level_override_keyed_by_platform_name() -> None:
    """An override may sit directly under the platform's name, as the seed's JSON does."""
    assert resolve_platform_content(BASE, "instagram")["hashtags"] == ["gaming", "stream"]


def test_resolution_copies_and_changes_nothing() -> None:
    """The resolved dict is a deep copy: changing it leaves the campaign content intact."""
    before = copy.deepcopy(BASE)
    resolved = resolve_platform_content(BASE, "instagram")
    resolved["hashtags"].append("x")
    assert before == BASE


def test_both_override_forms_for_one_platform_conflict() -> None:
    """Giving a platform's override both nested and top-level is rejected."""
    content = {"title": "t", "reddit": {"title": "a"}, "platforms": {"reddit": {"title": "b"}}}
    with pytest.raises(ValidationError) as exc:
        resolve_platform_content(content, "reddit")
    assert _codes(exc) == {"content.reddit": "conflict"}


def test_unknown_platform_is_rejected() -> None:
    """Resolving for, or overriding, an unknown platform is an error with its path."""
    with pytest.raises(ValidationError) as exc:
        resolve_platform_content(BASE, "myspace")
    assert _codes(exc) == {"platform": "invalid_value"}
    with pytest.raises(ValidationError) as exc:
        check_content({"platforms": {"instagarm": {}}})
    assert _codes(exc) == {"content.platforms.instagarm": "unknown_field"}


@pytest.mark.parametrize(
    ("content", "path", "code"),
    [
        ([1, 2], "content", "invalid_type"),
        ({"title": 3}, "content.title", "invalid_type"),
        ({"price": math.nan}, "content.price", "not_finite"),
        ({"price": math.inf}, "content.price", "not_finite"),
        ({"price": True}, "content.price", "invalid_type"),
        ({"price": -1}, "content.price", "out_of_range"),
        ({"hashtags": "fitness"}, "content.hashtags", "invalid_type"),
        ({"hashtags": ["ok", "not ok"]}, "content.hashtags[1]", "invalid_value"),
        ({"hashtags": ["ok", 5]}, "content.hashtags[1]", "invalid_type"),
        ({"link": "javascript:alert(1)"}, "content.link", "invalid_value"),
        ({"mediaUrls": ["ftp://x/y.jpg"]}, "content.mediaUrls[0]", "invalid_value"),
        ({"nsfw": {1, 2}}, "content.nsfw", "invalid_type"),
        ({"extra": {"deep": math.nan}}, "content.extra.deep", "not_finite"),
        ({"platforms": []}, "content.platforms", "invalid_type"),
        ({"platforms": {"reddit": "title"}}, "content.platforms.reddit", "invalid_type"),
        ({"platforms": {"reddit": {"title": 1}}}, "content.platforms.reddit.title", "invalid_type"),
        ({"reddit": {"instagram": {}}}, "content.reddit.instagram", "invalid_value"),
        ({"tiktok": 5}, "content.tiktok", "invalid_type"),
    ],
)
def test_malformed_content_is_reported_where_it_was_written(
    content: Any, path: str, code: str
) -> None:
    """Each malformed field gives a problem at the path the caller wrote."""
    with pytest.raises(ValidationError) as exc:
        check_content(content)
    assert _codes(exc).get(path) == code, exc.value.problems


def test_every_problem_is_reported_at_once() -> None:
    """check_content lists all problems, not just the first."""
    with pytest.raises(ValidationError) as exc:
        check_content({"title": 1, "cta": 2, "platforms": {"reddit": {"body": 3}}})
    assert set(_codes(exc)) == {"content.title", "content.cta", "content.platforms.reddit.body"}


def test_seed_templates_are_valid_content() -> None:
    """The seed's template content shape passes as is."""
    check_content(
        {
            "title": "Transform Your Body in 30 Days! 💪",
            "description": "Join my exclusive 30-day workout challenge.",
            "cta": "Start Your Transformation",
            "price": 49.99,
        }
    )
