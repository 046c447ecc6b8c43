"""The send policy and the messaging settings: one decision per fan, typed errors for bad settings."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from campaign_core import Settings, ValidationError
from campaign_core.delivery import (
    Defer,
    FrequencyCap,
    MessagingSettings,
    QuietHours,
    Send,
    SendPolicy,
    Suppress,
    Topic,
)
from campaign_core.models import Fan

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def fan(**fields: Any) -> Fan:
    base: dict[str, Any] = {
        "id": "f-1",
        "owner_id": "acct",
        "fan_id": "alice",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Fan(**(base | fields))


def policy(**settings: Any) -> SendPolicy:
    return SendPolicy(MessagingSettings(**settings))


def paths(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [p.path for p in error.value.problems]


# ------------------------------------------------------------------ settings


def test_settings_carry_messaging() -> None:
    s = Settings(messaging=MessagingSettings(rate_per_second={"dm": 20}))
    assert s.messaging.rate_per_second == {"dm": 20.0}
    assert Settings().messaging.topics["promotions"].default == "opt_out"


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"channels": []}, "settings.messaging.channels"),
        ({"channels": ["DM!"]}, "settings.messaging.channels[0]"),
        ({"topics": {"promos": {"default": "maybe"}}}, "settings.messaging.topics.promos.default"),
        (
            {"topics": {"promos": {"channels": ["fax"]}}},
            "settings.messaging.topics.promos.channels[0]",
        ),
        ({"default_topic": "nope"}, "settings.messaging.default_topic"),
        ({"rate_per_second": {"dm": 0}}, "settings.messaging.rate_per_second.dm"),
        ({"rate_per_second": {"fax": 3}}, "settings.messaging.rate_per_second.fax"),
        ({"cost_per_message": {"sms": -1}}, "settings.messaging.cost_per_message.sms"),
        (
            {"quiet_hours": {"start": "25:00", "end": "08:00"}},
            "settings.messaging.quiet_hours.start",
        ),
        (
            {"frequency_caps": [{"max": 0, "per": "day"}]},
            "settings.messaging.frequency_caps[0].max",
        ),
        (
            {"frequency_caps": [{"max": 1, "per": "fortnight"}]},
            "settings.messaging.frequency_caps[0].per",
        ),
        ({"unsubscribe_keys": ["short"]}, "settings.messaging.unsubscribe_keys[0]"),
        ({"unsubscribe_ttl": "-1 day"}, "settings.messaging.unsubscribe_ttl"),
        ({"fallback_channels": {"push": ["fax"]}}, "settings.messaging.fallback_channels.push[0]"),
        ({"fallback_on": ["bored"]}, "settings.messaging.fallback_on"),
        ({"snapshot_batch_size": 0}, "settings.messaging.snapshot_batch_size"),
    ],
)
def test_bad_settings_say_where(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as error:
        MessagingSettings(**kwargs)
    assert path in paths(error)


def test_settings_read_json() -> None:
    m = MessagingSettings(
        topics={"promotions": {"default": "opt_in", "channels": ["email"]}},
        default_topic=None,
        quiet_hours={"start": "22:00", "end": "08:00"},
        frequency_caps=[{"max": 2, "per": "day"}, {"max": 3, "per": "12 hours"}],
        cost_per_message={"sms": "0.0075", "email": 0},
        unsubscribe_ttl="7 days",
    )
    assert m.topics["promotions"] == Topic(default="opt_in", channels=("email",))
    assert m.quiet_hours == QuietHours(time(22, 0), time(8, 0))
    assert m.frequency_caps[1] == FrequencyCap(3, "window", timedelta(hours=12))
    assert m.cost("sms") == Decimal("0.0075")
    assert m.cost("dm") == 0
    assert m.unsubscribe_ttl == timedelta(days=7)
    assert m.channel_chain("push", ["email", "push"]) == ("push", "email")


def test_settings_reject_a_wrong_type() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(messaging={"channels": ["dm"]})  # type: ignore[arg-type]
    assert paths(error) == ["settings.messaging"]


# ------------------------------------------------------------------ eligibility


def test_opt_out_topic_sends_without_a_record_and_stops_on_refusal() -> None:
    p = policy()
    assert p.decide(fan=fan(), channels="dm", topic="promotions", now=NOW) == Send("dm", None)
    refused = {("dm", "promotions"): False}
    assert p.decide(
        fan=fan(), channels="dm", topic="promotions", now=NOW, consent=refused
    ) == Suppress("no_consent")


def test_opt_in_topic_needs_a_record() -> None:
    p = policy(topics={"news": Topic(default="opt_in")}, default_topic=None)
    assert p.decide(fan=fan(), channels="dm", topic="news", now=NOW) == Suppress("no_consent")
    granted = {("dm", "news"): True}
    assert p.decide(fan=fan(), channels="dm", topic="news", now=NOW, consent=granted) == Send(
        "dm", None
    )


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"fan": None}, "fan_erased"),
        ({"fan": fan(opted_out=True)}, "opted_out"),
        ({"topic": "gossip"}, "unknown_topic"),
        ({"channels": "fax"}, "unknown_channel"),
        ({"channels": "email"}, "no_address"),
        ({"suppressed": {"dm"}}, "suppressed"),
    ],
)
def test_suppressed_with_a_reason(kwargs: dict[str, Any], reason: str) -> None:
    args: dict[str, Any] = {"fan": fan(), "channels": "dm", "topic": "promotions", "now": NOW}
    assert policy().decide(**(args | kwargs)) == Suppress(reason)


def test_topic_limited_to_channels() -> None:
    p = policy(topics={"promotions": {"channels": ["email"]}}, default_topic=None)
    assert p.decide(fan=fan(), channels="dm", topic="promotions", now=NOW) == Suppress(
        "topic_not_on_channel"
    )


def test_fallback_to_the_next_channel_without_an_address() -> None:
    p = policy()
    chain = ["push", "email"]
    addresses = {"email": "alice@example.com"}
    assert p.decide(
        fan=fan(), channels=chain, topic="updates", now=NOW, addresses=addresses
    ) == Send("email", "alice@example.com")
    # consent refusal is not a fallback reason by default
    refused = {("push", "updates"): False}
    assert p.decide(
        fan=fan(),
        channels=chain,
        topic="updates",
        now=NOW,
        addresses={"push": "tok", **addresses},
        consent=refused,
    ) == Suppress("no_consent")
    p2 = policy(fallback_on=["no_address", "no_consent"])
    assert p2.decide(
        fan=fan(),
        channels=chain,
        topic="updates",
        now=NOW,
        addresses={"push": "tok", **addresses},
        consent=refused,
    ) == Send("email", "alice@example.com")


# ------------------------------------------------------------------ timing


def test_quiet_hours_in_the_fans_zone() -> None:
    p = policy(quiet_hours={"start": "22:00", "end": "08:00"})
    tokyo = fan(time_zone="Asia/Tokyo")  # 12:00 UTC is 21:00 in Tokyo: fine
    assert isinstance(p.decide(fan=tokyo, channels="dm", topic=None, now=NOW), Send)
    late = NOW + timedelta(hours=2)  # 23:00 in Tokyo
    decision = p.decide(fan=tokyo, channels="dm", topic=None, now=late)
    assert decision == Defer(datetime(2026, 6, 1, 23, 0, tzinfo=UTC), "quiet_hours")
    # suppression wins over deferral
    assert p.decide(fan=tokyo, channels="dm", topic=None, now=late, suppressed={"dm"}) == Suppress(
        "suppressed"
    )
    # a workflow's own quiet hours replace them; None turns them off
    assert isinstance(
        p.decide(fan=tokyo, channels="dm", topic=None, now=late, quiet_hours=None), Send
    )


def test_frequency_caps_calendar_and_rolling() -> None:
    p = policy(frequency_caps=[{"max": 2, "per": "day"}])
    one = [NOW - timedelta(hours=1)]
    assert isinstance(
        p.decide(fan=fan(), channels="dm", topic=None, now=NOW, recent_sends=one), Send
    )
    two = [NOW - timedelta(hours=2), NOW - timedelta(hours=1)]
    assert p.decide(fan=fan(), channels="dm", topic=None, now=NOW, recent_sends=two) == Defer(
        datetime(2026, 6, 2, tzinfo=UTC), "frequency_cap"
    )
    # yesterday's sends do not count; pending sends in the batch do
    old = [NOW - timedelta(days=1)] * 5
    assert isinstance(
        p.decide(fan=fan(), channels="dm", topic=None, now=NOW, recent_sends=old), Send
    )
    assert isinstance(
        p.decide(fan=fan(), channels="dm", topic=None, now=NOW, recent_sends=one, pending=1), Defer
    )
    rolling = FrequencyCap(2, "window", timedelta(hours=6))
    sends = [NOW - timedelta(hours=5), NOW - timedelta(hours=4), NOW - timedelta(hours=1)]
    decision = policy().decide(
        fan=fan(), channels="dm", topic=None, now=NOW, recent_sends=sends, frequency_caps=[rolling]
    )
    # the count drops below 2 when the second newest (4 hours ago) leaves the window
    assert decision == Defer(NOW + timedelta(hours=2), "frequency_cap")


def test_address_hash_is_keyed_normalized_and_per_channel() -> None:
    from campaign_core.delivery._addresses import address_hash

    key = b"k" * 16
    assert address_hash(key, "email", " Alice@Example.com ") == address_hash(
        key, "email", "alice@example.com"
    )
    assert address_hash(key, "email", "a@b.c") != address_hash(key, "sms", "a@b.c")
    assert address_hash(key, "email", "a@b.c") != address_hash(b"x" * 16, "email", "a@b.c")
    assert len(address_hash(key, "sms", "+33600000000")) == 64
