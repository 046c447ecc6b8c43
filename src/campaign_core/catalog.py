"""The built-in template catalog: the seed's templates by niche, plus a general set.

Built-in templates are read-only and visible to every account; their ids are
stable (``tpl_<niche>_<slug>``) and their ``key`` is the slug workflows use
(``create_campaign`` with ``template: "win_back_offer"``). A template's content
is customized, and a winning A/B variant's content applied, by ``deep_merge``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from campaign_core.models import CampaignTemplate

__all__ = [
    "BUILTIN_TEMPLATES",
    "builtin_template",
]

_CATALOG_DATE = datetime(2025, 10, 29, tzinfo=UTC)


def _t(
    niche: str,
    key: str,
    name: str,
    type_: str,
    content: dict[str, Any],
    goals: dict[str, Any],
    estimated_roi: float,
    description: str,
    platforms: list[str],
) -> CampaignTemplate:
    return CampaignTemplate(
        id=f"tpl_{niche}_{key}",
        key=key,
        name=name,
        description=description,
        niche=niche,
        type=type_,
        content=content,
        default_settings={"goals": goals, "estimatedROI": estimated_roi, "platforms": platforms},
        created_at=_CATALOG_DATE,
        updated_at=_CATALOG_DATE,
    )


BUILTIN_TEMPLATES: Final[tuple[CampaignTemplate, ...]] = (
    # -- fitness (seed) --
    _t(
        "fitness",
        "30_day_workout_challenge",
        "30-Day Workout Challenge",
        "ppv",
        {
            "title": "Transform Your Body in 30 Days! 💪",
            "description": "Join my exclusive 30-day workout challenge with daily routines, meal plans, and personal coaching.",
            "cta": "Start Your Transformation",
            "price": 49.99,
        },
        {"conversions": 50, "revenue": 2500},
        3.2,
        "A paid 30-day programme with daily routines and coaching.",
        ["onlyfans", "instagram", "tiktok"],
    ),
    _t(
        "fitness",
        "meal_plan_bundle",
        "Meal Plan Bundle",
        "subscription",
        {
            "title": "Weekly Meal Plans + Recipes 🥗",
            "description": "Get personalized meal plans every week with macro tracking and shopping lists.",
            "cta": "Subscribe Now",
            "price": 29.99,
        },
        {"conversions": 100, "revenue": 3000},
        2.8,
        "A weekly meal-plan subscription.",
        ["onlyfans", "instagram"],
    ),
    # -- gaming (seed) --
    _t(
        "gaming",
        "exclusive_stream_access",
        "Exclusive Stream Access",
        "subscription",
        {
            "title": "VIP Stream Access 🎮",
            "description": "Get exclusive access to private streams, behind-the-scenes content, and gaming sessions.",
            "cta": "Join VIP",
            "price": 19.99,
        },
        {"conversions": 200, "revenue": 4000},
        4.5,
        "A VIP tier for private streams.",
        ["onlyfans", "tiktok", "reddit"],
    ),
    _t(
        "gaming",
        "game_tutorial_series",
        "Game Tutorial Series",
        "ppv",
        {
            "title": "Master [Game Name] - Pro Tips 🏆",
            "description": "Learn advanced strategies and techniques from a pro player.",
            "cta": "Get Tutorial",
            "price": 14.99,
        },
        {"conversions": 150, "revenue": 2250},
        3.8,
        "A paid tutorial series.",
        ["onlyfans", "reddit", "tiktok"],
    ),
    # -- adult (seed) --
    _t(
        "adult",
        "vip_subscription_tier",
        "VIP Subscription Tier",
        "subscription",
        {
            "title": "VIP Access - Exclusive Content 💎",
            "description": "Get access to exclusive content, custom requests, and priority messaging.",
            "cta": "Upgrade to VIP",
            "price": 49.99,
        },
        {"conversions": 100, "revenue": 5000},
        5.2,
        "A premium subscription tier.",
        ["onlyfans"],
    ),
    _t(
        "adult",
        "custom_content_offer",
        "Custom Content Offer",
        "ppv",
        {
            "title": "Custom Content Just for You ✨",
            "description": "Request personalized content tailored to your preferences.",
            "cta": "Request Custom",
            "price": 99.99,
        },
        {"conversions": 50, "revenue": 5000},
        6.8,
        "Personalized pay-per-view content.",
        ["onlyfans"],
    ),
    # -- general (ours: what the seed's workflows and flows refer to) --
    _t(
        "general",
        "win_back_offer",
        "Win-Back Offer",
        "retention",
        {
            "title": "We Miss You! Here's Something Special 💌",
            "description": "Come back and enjoy a special discount on everything you missed.",
            "cta": "Claim My Offer",
            "price": 9.99,
        },
        {"conversions": 30, "revenue": 300},
        2.5,
        "A discount offer for inactive fans (used by the win-back workflow).",
        ["onlyfans"],
    ),
    _t(
        "general",
        "welcome_discount",
        "New Fan Welcome Discount",
        "subscription",
        {
            "title": "Welcome! Your First Month Is On Me 🎉",
            "description": "Thanks for following: enjoy a discounted first month of exclusive content.",
            "cta": "Claim Welcome Offer",
            "price": 4.99,
        },
        {"conversions": 80, "revenue": 400},
        3.0,
        "A first-month discount for new followers.",
        ["onlyfans", "instagram"],
    ),
    _t(
        "general",
        "flash_sale",
        "48-Hour Flash Sale",
        "promotion",
        {
            "title": "48-Hour Flash Sale ⚡",
            "description": "Everything 40% off for the next 48 hours only.",
            "cta": "Shop the Sale",
            "price": 11.99,
        },
        {"conversions": 120, "revenue": 1400},
        2.2,
        "A short promotion across platforms.",
        ["onlyfans", "instagram", "tiktok", "reddit"],
    ),
    _t(
        "general",
        "engagement_poll",
        "Fan Engagement Poll",
        "engagement",
        {
            "title": "You Decide What I Post Next 🗳️",
            "description": "Vote in my poll and the winning idea drops this weekend.",
            "cta": "Vote Now",
        },
        {"engagement": 1000},
        1.5,
        "A free engagement campaign to wake up the audience.",
        ["instagram", "tiktok", "reddit"],
    ),
)

_BY_ID: Final = {t.id: t for t in BUILTIN_TEMPLATES}
_BY_KEY: Final = {t.key: t for t in BUILTIN_TEMPLATES}


def builtin_template(id_or_key: object) -> CampaignTemplate | None:
    """The built-in template with this id or key, or None (for anything but a string too)."""
    if not isinstance(id_or_key, str):
        return None
    return _BY_ID.get(id_or_key) or _BY_KEY.get(id_or_key)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``; nested objects merge, the rest replaces.

    Args:
        base: the content (or settings) to start from; not changed.
        override: what to put over it; not changed.

    Returns:
        A new, deep-copied mapping.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
