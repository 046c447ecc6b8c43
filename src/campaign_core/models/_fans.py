"""Fans (audience members) and their events: our additions to the seed's models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from campaign_core.models._common import StrEnum

__all__ = ["FAN_FIELDS", "Fan", "FanEvent", "SpendingLevel", "SubscriptionStatus", "TraitType"]


class SpendingLevel(StrEnum):
    """Ordered: none < low < medium < high < vip."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VIP = "vip"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NONE = "none"


@attrs.frozen(kw_only=True)
class Fan:
    """An audience member of one creator account (table ``fans``).

    ``fan_id`` is the host's id for the person (the seed's ``userId`` on
    members and conversions); it is unique per ``owner_id``. ``id`` is ours.
    ``traits`` holds custom traits whose types the owner declares.
    ``addresses`` maps a channel to the fan's address on it (``{"email":
    "a@example.com", "sms": "+33..."}``); a host that keeps addresses itself
    leaves it empty and answers through the ``AddressBook`` port.
    """

    id: str
    owner_id: str
    fan_id: str
    platform: str | None = None
    spending_level: str | None = None
    engagement: float | None = None
    lifetime_value: float | None = None
    subscription_status: str | None = None
    subscribed_at: datetime | None = None
    last_activity_at: datetime | None = None
    time_zone: str | None = None
    opted_out: bool = False
    traits: dict[str, Any] = attrs.field(factory=dict)
    addresses: dict[str, str] = attrs.field(factory=dict)
    created_at: datetime
    updated_at: datetime
    version: int = 1


@attrs.frozen(kw_only=True)
class FanEvent:
    """Something a fan did (table ``fan_events``): ``fan.subscribed``, ``purchase``..."""

    id: str
    owner_id: str
    fan_id: str
    name: str
    occurred_at: datetime
    properties: dict[str, Any] = attrs.field(factory=dict)
    value: float | None = None
    created_at: datetime


# the built-in fan fields criteria and workflows read; custom traits may not shadow them
FAN_FIELDS: Final = (
    "platform",
    "spending_level",
    "engagement",
    "lifetime_value",
    "subscription_status",
    "subscribed_at",
    "last_activity_at",
    "time_zone",
    "opted_out",
    "traits",
)


class TraitType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    STRING_LIST = "string_list"
