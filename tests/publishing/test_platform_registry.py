"""The platform registry: the built-in platforms plus those a host declares as data."""

from __future__ import annotations

import pytest

from campaign_core.errors import ValidationError
from campaign_core.models import Campaign, Platform, PublishJob
from campaign_core.publishing import (
    DEFAULT_PLATFORM_LIMITS,
    PlatformLimits,
    PlatformRegistry,
    PlatformRules,
    PlatformSpec,
    TextLimit,
    adapt_for_platform,
)
from campaign_core.publishing._content import check_content
from campaign_core.publishing._platforms import PLATFORMS
from campaign_core.settings import Settings

THREADS = {
    "limits": {"caption": {"maxLength": 40}, "maxHashtags": 1, "links": "clickable"},
    "metricDimension": "threads_app",
}


def _paths(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in exc.value.problems}


def test_the_default_registry_holds_the_built_in_platforms_with_their_limits() -> None:
    """The default registry is the four built-ins, in order, with the documented limits."""
    registry = PlatformRegistry.default()
    assert registry.names == PLATFORMS
    assert registry.rules == PlatformRules.default()
    assert registry.criteria_values == PLATFORMS
    assert registry.metric_dimensions == {p: p for p in PLATFORMS}
    assert all(registry[p].limits == DEFAULT_PLATFORM_LIMITS[p] for p in PLATFORMS)


def test_a_declared_platform_joins_the_built_ins() -> None:
    """Declaring a platform as JSON adds it after the built-ins, limits parsed."""
    registry = PlatformRegistry.declare({"threads": THREADS})
    assert registry.names == (*PLATFORMS, "threads")
    spec = registry["threads"]
    assert spec.limits.caption == TextLimit(40)
    assert spec.limits.max_hashtags == 1
    assert spec.metric_dimension == "threads_app"
    assert spec.criteria_value == "threads"
    assert "threads" in registry.rules
    assert PlatformSpec.from_json("threads", spec.to_json()) == spec


def test_bad_declarations_are_reported_with_their_paths() -> None:
    """Bad names, limits, keys and clashes are reported under platforms.<name>."""
    with pytest.raises(ValidationError) as exc:
        PlatformRegistry.declare(
            {
                "tiktok": THREADS,
                "Bad Name": THREADS,
                "title": THREADS,
                "mastodon": {"limits": {"caption": 0}, "colour": "red"},
                "bluesky": {"limits": {"maxHashtags": 3}},
            }
        )
    assert _paths(exc) == {
        "platforms.tiktok": "duplicate",
        "platforms.Bad Name.name": "invalid_value",
        "platforms.title.name": "invalid_value",
        "platforms.mastodon.colour": "unknown_field",
        "platforms.mastodon.limits.caption.maxLength": "out_of_range",
        "platforms.bluesky.limits.caption": "invalid_value",
    }
    with pytest.raises(ValidationError) as exc:
        PlatformRegistry.declare({"lemmy": {"limits": {"title": 100}, "criteriaValue": "reddit"}})
    assert _paths(exc) == {"platforms.lemmy.criteriaValue": "duplicate"}


def test_a_registry_cannot_lose_a_built_in_platform() -> None:
    """The built-in platforms are always there."""
    with pytest.raises(ValidationError) as exc:
        PlatformRegistry([PlatformRegistry.default()["reddit"]])
    assert _paths(exc) == {"platforms": "required"}


def test_settings_declare_platforms_and_keep_one_set_of_limits() -> None:
    """Settings' registry takes platform_rules' limits, and the rules cover declared platforms."""
    rules = PlatformRules.default().with_overrides({"instagram": {"maxHashtags": 5}})
    settings = Settings(platforms={"threads": THREADS}, platform_rules=rules)
    assert settings.platforms["instagram"].limits.max_hashtags == 5
    assert settings.platform_rules["threads"] == settings.platforms["threads"].limits
    tighter = settings.platform_rules.with_overrides({"threads": {"caption": 20}})
    again = Settings(platforms=settings.platforms, platform_rules=tighter)
    assert again.platforms["threads"].limits.caption == TextLimit(20)
    with pytest.raises(ValidationError) as exc:
        Settings(platforms={"threads": {"limits": {}}})
    assert "settings.platforms.threads.limits.caption" in _paths(exc)
    with pytest.raises(ValidationError) as exc:
        Settings(platform_rules=tighter)
    assert _paths(exc) == {"settings.platform_rules.threads": "unknown_field"}


def test_content_and_adaptation_know_a_declared_platform() -> None:
    """Overrides for a declared platform are content, and adaptation applies its limits."""
    registry = PlatformRegistry.declare({"threads": THREADS})
    content = {"description": "x" * 100, "platforms": {"threads": {"hashtags": ["a", "b"]}}}
    with pytest.raises(ValidationError):
        check_content(content)
    check_content(content, platforms=registry.names)
    result = adapt_for_platform(content, "threads", rules=registry.rules)
    assert len(result.content["caption"]) <= 40
    assert result.changed


def test_records_hold_any_platform_name_and_built_ins_as_their_enum() -> None:
    """Campaign and PublishJob keep a built-in as Platform and a declared one as its name."""
    assert PlatformLimits.from_json("threads", {"title": 10}).layout == "title_body"
    from campaign_core.models._campaigns import to_platforms

    built, declared = to_platforms(["tiktok", "threads"])
    assert built is Platform.TIKTOK
    assert declared == "threads"
    assert type(declared) is str
    assert Campaign.__attrs_attrs__.platforms.converter is to_platforms  # type: ignore[attr-defined]
    assert PublishJob.__attrs_attrs__.platform.converter is not None  # type: ignore[attr-defined]
