"""Consent, suppression, unsubscribe links and delivery feedback through the fans service."""

from __future__ import annotations

import base64
import json
import urllib.parse
from datetime import timedelta
from typing import Any

import attrs
import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    InvalidTokenError,
    PermissionDeniedError,
    Settings,
    ValidationError,
)
from campaign_core.delivery import MessagingSettings, Topic
from campaign_core.models import Delivery, DeliveryStatus
from campaign_core.query import Eq
from tests.conftest import T0

SETTINGS = Settings(
    messaging=MessagingSettings(
        channels=("dm", "email", "sms"),
        topics={
            "promotions": Topic(default="opt_out", channels=("dm", "email")),
            "newsletter": Topic(default="opt_in", channels=("email",)),
            "updates": Topic(),
        },
        unsubscribe_keys=["k" * 32, "old-key-" * 4],
        unsubscribe_ttl="7 days",
    )
)


@pytest.fixture
def core(local_store: Any, core_factory: Any) -> CampaignCore:
    return core_factory(local_store, settings=SETTINGS)


def paths(error: ValidationError) -> dict[str, str]:
    return {p.path: p.code for p in error.problems}


def state(ws: Any, fan: str, channel: str, topic: str) -> bool:
    (only,) = ws.fans.get_consent(fan, channel=channel, topic=topic)
    return bool(only.granted)


# ---------------------------------------------------------------------- consent
def test_defaults_then_explicit_consent_with_history(core: CampaignCore, owner: Actor) -> None:
    """Without a record the topic's default applies; set_consent overrides it and is kept as history."""
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("alice")
    states = {(s.channel, s.topic): s for s in ws.fans.get_consent("alice")}
    # topic x channel pairs the settings declare, and only those
    assert set(states) == {
        ("dm", "promotions"),
        ("email", "promotions"),
        ("email", "newsletter"),
        ("dm", "updates"),
        ("email", "updates"),
        ("sms", "updates"),
    }
    assert states[("email", "promotions")].granted is True  # opt-out topic
    assert states[("email", "newsletter")].granted is False  # opt-in topic
    assert not any(s.explicit for s in states.values())

    refused = ws.fans.set_consent(
        "alice",
        channel="email",
        topic="promotions",
        granted=False,
        source="preference_center",
        reason="too many emails",
    )
    assert (refused.granted, refused.explicit, refused.source) == (
        False,
        True,
        "preference_center",
    )
    core.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    ws.fans.set_consent(
        "alice", channel="email", topic="newsletter", granted=True, source="signup_form"
    )
    assert state(ws, "alice", "email", "promotions") is False
    assert state(ws, "alice", "dm", "promotions") is True  # another channel keeps its default
    assert state(ws, "alice", "email", "newsletter") is True
    # the same decision again writes nothing new
    ws.fans.set_consent(
        "alice",
        channel="email",
        topic="promotions",
        granted=False,
        source="preference_center",
        reason="too many emails",
    )
    history = ws.fans.consent_history("alice")
    assert [(e.topic, e.granted, e.actor_id) for e in history] == [
        ("newsletter", True, "owner-1"),
        ("promotions", False, "owner-1"),
    ]
    assert history[1].reason == "too many emails"
    # audited, with the fan under their pseudonym only
    records = ws.audit.list_records(entity="fan_consent")
    assert len(ws.audit.list_records(fan_id="alice")) == len(records) + 1  # + the upsert
    assert {r.action for r in records} == {"fan.set_consent"}
    assert all("alice" not in json.dumps(r.after) for r in records)


def test_global_opt_out_shows_everything_refused(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("bob", opted_out=True)
    assert not any(s.granted for s in ws.fans.get_consent("bob"))


def test_unknown_channel_or_topic_is_a_typed_error_and_writes_nothing(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    with pytest.raises(ValidationError) as caught:
        ws.fans.set_consent(
            "carol", channel="fax", topic="gossip", granted="yes", source="Bad Source"
        )
    assert paths(caught.value) == {
        "channel": "unknown_channel",
        "topic": "unknown_topic",
        "granted": "invalid_type",
        "source": "invalid_value",
    }
    with pytest.raises(ValidationError) as caught:
        ws.fans.set_consent("carol", channel="sms", topic="promotions", granted=False, source="api")
    assert paths(caught.value) == {"topic": "topic_not_on_channel"}
    with pytest.raises(ValidationError) as caught:
        ws.fans.get_consent("carol", channel="fax")
    assert paths(caught.value) == {"channel": "unknown_channel"}
    with core.store.unit_of_work() as uow:
        assert uow.fan_consents.count() == 0
        assert uow.fans.count() == 0


def test_viewers_may_read_but_not_change_consent(core: CampaignCore, owner: Actor) -> None:
    core.for_actor(owner).fans.upsert_fan("dan")
    viewer = core.for_actor(Actor("v-1", role="viewer", account_id="owner-1"))
    assert viewer.fans.get_consent("dan")
    with pytest.raises(PermissionDeniedError):
        viewer.fans.set_consent("dan", channel="dm", topic="updates", granted=False, source="api")


def test_fan_addresses_are_validated_and_merged(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    fan = ws.fans.upsert_fan("erin", addresses={"email": " erin@example.com ", "sms": "+336"})
    assert fan.addresses == {"email": "erin@example.com", "sms": "+336"}
    fan = ws.fans.upsert_fan("erin", addresses={"sms": None})
    assert fan.addresses == {"email": "erin@example.com"}
    with pytest.raises(ValidationError) as caught:
        ws.fans.upsert_fan("erin", addresses={"fax": "1", "email": "not an email"})
    assert paths(caught.value) == {
        "addresses.fax": "unknown_channel",
        "addresses.email": "invalid_value",
    }


def test_erasure_removes_consent_and_keeps_suppressions_anonymous(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("fay", addresses={"email": "fay@example.com"})
    ws.fans.set_consent("fay", channel="email", topic="promotions", granted=False, source="api")
    ws.fans.suppress("email", "fay@example.com", fan_id="fay")
    exported = ws.fans.export_fan("fay")
    assert [c["topic"] for c in exported["consents"]] == ["promotions"]
    counts = ws.fans.erase_fan("fay")
    assert counts["consents"] == 1
    assert counts["consent_events"] == 1
    assert counts["suppressions_anonymized"] == 1
    assert ws.fans.is_suppressed("email", "FAY@example.com")  # the address stays blocked
    with core.store.unit_of_work() as uow:
        assert uow.fan_consents.count() == 0
        assert [s.fan_id for s in uow.suppressions.find()] == [None]
        assert uow.audit_records.count(Eq("entity", "fan_consent")) == 0


# ---------------------------------------------------------------------- suppression
def test_suppression_keeps_a_keyed_hash_only(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    entry = ws.fans.suppress("email", "Gus@Example.com ")
    assert "gus" not in entry.address_hash.lower()
    assert len(entry.address_hash) == 64
    assert ws.fans.is_suppressed("email", "gus@example.com")
    assert not ws.fans.is_suppressed("sms", "gus@example.com")
    again = ws.fans.suppress("email", "gus@example.com", reason="complaint")
    assert again.id == entry.id
    assert again.reason == "manual"
    # another account does not see it
    assert not core.for_actor(Actor("owner-2")).fans.is_suppressed("email", "gus@example.com")
    assert ws.fans.unsuppress("email", "gus@example.com") is True
    assert ws.fans.unsuppress("email", "gus@example.com") is False
    with pytest.raises(ValidationError) as caught:
        ws.fans.suppress("fax", "", reason="because")
    assert set(paths(caught.value)) == {"channel", "address", "reason"}


# ---------------------------------------------------------------------- unsubscribe
def test_unsubscribe_token_refuses_the_topic_once(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("hal")
    token = ws.fans.unsubscribe_token("hal", "email", "promotions")
    result = core.unsubscribe(token)
    assert (result.fan_id, result.channel, result.topics, result.replayed) == (
        "hal",
        "email",
        ("promotions",),
        False,
    )
    (now,) = ws.fans.get_consent("hal", channel="email", topic="promotions")
    assert (now.granted, now.source) == (False, "unsubscribe_link")
    (event,) = ws.fans.consent_history("hal")
    assert event.actor_id is None
    assert event.source == "unsubscribe_link"
    # the fan opts in again; a replayed link changes nothing
    ws.fans.set_consent(
        "hal", channel="email", topic="promotions", granted=True, source="preference_center"
    )
    assert core.unsubscribe(token).replayed is True
    assert state(ws, "hal", "email", "promotions") is True


def test_a_token_without_topic_refuses_every_topic_of_its_channel(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    token = ws.fans.unsubscribe_token("ida", "email")
    assert core.unsubscribe(token).topics == ("promotions", "newsletter", "updates")
    assert not any(s.granted for s in ws.fans.get_consent("ida", channel="email"))
    assert all(s.granted for s in ws.fans.get_consent("ida", channel="dm"))


def _tamper(token: str, **claims: Any) -> str:
    payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


def test_tampered_malformed_and_expired_tokens_are_refused(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    token = ws.fans.unsubscribe_token("jay", "email", "promotions")
    for bad, reason in [
        (_tamper(token, fan="someone-else"), "bad_signature"),
        (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "bad_signature"),
        ("not-a-token", "malformed"),
        ("", "malformed"),
        ("a." * 2000, "malformed"),
        (12, "malformed"),
    ]:
        with pytest.raises(InvalidTokenError) as caught:
            core.unsubscribe(bad)  # type: ignore[arg-type]
        assert caught.value.reason == reason
        assert caught.value.http_status == 400
    clock: FakeClock = core.clock  # type: ignore[assignment]
    clock.advance(timedelta(days=7))
    with pytest.raises(InvalidTokenError) as caught:
        core.unsubscribe(token)
    assert caught.value.reason == "expired"
    with core.store.unit_of_work() as uow:
        assert uow.fan_consents.count() == 0
        assert uow.unsubscribe_token_uses.count() == 0


def test_key_rotation_old_keys_verify_the_first_signs(
    local_store: Any, core_factory: Any, owner: Actor
) -> None:
    old = core_factory(
        local_store,
        settings=Settings(messaging=MessagingSettings(unsubscribe_keys=["old-key-" * 4])),
    )
    token = old.for_actor(owner).fans.unsubscribe_token("kim", "email", "promotions")
    rotated = core_factory(local_store, settings=SETTINGS)  # new key first, old one still listed
    assert rotated.unsubscribe(token).replayed is False
    dropped = core_factory(
        local_store, settings=Settings(messaging=MessagingSettings(unsubscribe_keys=["k" * 32]))
    )
    with pytest.raises(InvalidTokenError):
        dropped.unsubscribe(token)


def test_list_unsubscribe_headers(core: CampaignCore, owner: Actor) -> None:
    headers = core.list_unsubscribe(
        "owner-1",
        "lea",
        channel="email",
        topic="newsletter",
        url_base="https://example.com/u?src=mail",
        mailto="unsub@example.com",
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url, mail = headers["List-Unsubscribe"].split(", ")
    assert url.startswith("<https://example.com/u?src=mail&token=")
    assert url.endswith(">")
    assert mail.startswith("<mailto:unsub@example.com?subject=unsubscribe%20")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url[1:-1]).query)["token"][0]
    assert core.unsubscribe(token).topics == ("newsletter",)
    with pytest.raises(ValidationError) as caught:
        core.list_unsubscribe(
            "owner-1", "lea", channel="fax", url_base="http://example.com", mailto="x y"
        )
    assert set(paths(caught.value)) == {"channel", "url_base", "mailto"}


# ---------------------------------------------------------------------- feedback
def _delivery(core: CampaignCore, n: int, fan: str, channel: str = "email", **kw: Any) -> Delivery:
    record = Delivery(
        id=f"dl-{n}",
        campaign_id="camp-1",
        owner_id="owner-1",
        fan_id=fan,
        channel=channel,
        topic=kw.pop("topic", "promotions"),
        status=kw.pop("status", DeliveryStatus.SENT),
        idempotency_key=f"camp-1:{fan}:{channel}",
        provider_message_id=f"pm-{n}",
        created_at=T0,
        updated_at=T0,
        sent_at=T0,
        **kw,
    )
    with core.store.unit_of_work() as uow:
        uow.deliveries.add(record)
        uow.commit()
    return record


def _get(core: CampaignCore, delivery_id: str) -> Delivery:
    with core.store.unit_of_work() as uow:
        found = uow.deliveries.get(delivery_id)
    assert found is not None
    return found


def test_feedback_moves_deliveries_forward_only_and_records_engagement(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("mia", addresses={"email": "mia@example.com"})
    _delivery(core, 1, "mia")
    at = (T0 + timedelta(minutes=5)).isoformat()
    report = ws.fans.record_delivery_events(
        [
            {
                "type": "clicked",
                "providerMessageId": "pm-1",
                "providerEventId": "e1",
                "at": at,
                "url": "https://example.com/offer",
            },
            {"type": "opened", "providerMessageId": "pm-1", "providerEventId": "e2", "at": at},
            {"type": "delivered", "providerMessageId": "pm-1", "providerEventId": "e3"},
            {"type": "opened", "providerMessageId": "pm-404", "providerEventId": "e4"},
        ]
    )
    assert (report.received, report.recorded, report.duplicates, report.unknown) == (4, 4, 0, 1)
    assert report.unknown_message_ids == ("pm-404",)
    assert report.applied == 1
    assert report.engagement == 1
    delivery = _get(core, "dl-1")
    assert delivery.status is DeliveryStatus.CLICKED  # an open after a click does not go back
    assert delivery.delivered_at is not None
    assert delivery.opened_at is not None
    events = ws.fans.list_events("mia")
    assert [e.name for e in events] == ["message.clicked"]
    assert events[0].properties["campaignId"] == "camp-1"
    # the same events again: duplicates, nothing changes
    again = ws.fans.record_delivery_events(
        [{"type": "clicked", "providerMessageId": "pm-1", "providerEventId": "e1"}]
    )
    assert (again.recorded, again.duplicates, again.engagement) == (0, 1, 0)


def test_hard_bounce_and_complaint_suppress_soft_bounce_does_not(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("ned", addresses={"email": "ned@example.com"})
    ws.fans.upsert_fan("ola", addresses={"email": "ola@example.com"})
    ws.fans.upsert_fan("pat", addresses={"email": "pat@example.com"})
    _delivery(core, 1, "ned")
    _delivery(core, 2, "ola")
    _delivery(core, 3, "pat", status=DeliveryStatus.DELIVERED)
    report = ws.fans.record_delivery_events(
        [
            {
                "type": "bounced",
                "bounce": "soft",
                "providerMessageId": "pm-1",
                "providerEventId": "b1",
            },
            {
                "type": "bounced",
                "bounce": "hard",
                "providerMessageId": "pm-2",
                "providerEventId": "b2",
            },
            {"type": "complained", "providerMessageId": "pm-3", "providerEventId": "c3"},
        ]
    )
    assert report.suppressed == 2
    assert _get(core, "dl-1").status is DeliveryStatus.SENT
    failed = _get(core, "dl-2")
    assert (failed.status, failed.reason) == (DeliveryStatus.FAILED, "hard_bounce")
    assert _get(core, "dl-3").status is DeliveryStatus.DELIVERED
    assert not ws.fans.is_suppressed("email", "ned@example.com")
    assert ws.fans.is_suppressed("email", "ola@example.com")
    assert ws.fans.is_suppressed("email", "pat@example.com")
    with core.store.unit_of_work() as uow:
        reasons = sorted(s.reason for s in uow.suppressions.find())
    assert reasons == ["complaint", "hard_bounce"]


def test_unsubscribed_feedback_refuses_the_delivery_topic(core: CampaignCore, owner: Actor) -> None:
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("quin")
    _delivery(core, 1, "quin", topic="promotions")
    report = ws.fans.record_delivery_events(
        [
            {
                "type": "unsubscribed",
                "providerMessageId": "pm-1",
                "providerEventId": "u1",
                "provider": "ses",
            }
        ]
    )
    assert report.unsubscribed == 1
    (now,) = ws.fans.get_consent("quin", channel="email", topic="promotions")
    assert (now.granted, now.source) == (False, "provider_feedback")
    assert state(ws, "quin", "email", "updates") is True


def test_bad_feedback_says_what_and_where_and_writes_nothing(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    with pytest.raises(ValidationError) as caught:
        ws.fans.record_delivery_events(
            [
                {"type": "opened", "providerMessageId": "pm-1", "providerEventId": "x"},
                {"type": "exploded", "providerMessageId": "pm-1", "providerEventId": "y"},
                {"type": "bounced", "providerMessageId": "pm-1", "providerEventId": "z"},
                {"type": "opened", "providerEventId": "w", "at": "yesterday"},
                {"type": "opened", "providerMessageId": "pm-1", "providerEventId": "x"},
                "nope",
            ]
        )
    assert paths(caught.value) == {
        "events[1].type": "invalid_value",
        "events[2].bounce": "required",
        "events[3].providerMessageId": "required",
        "events[3].at": "invalid_value",
        "events[4].providerEventId": "duplicate",
        "events[5]": "invalid_type",
    }
    with pytest.raises(ValidationError):
        ws.fans.record_delivery_events({"type": "opened"})
    with core.store.unit_of_work() as uow:
        assert uow.delivery_events.count() == 0


def test_opens_and_clicks_feed_the_launched_campaign_funnel(
    core: CampaignCore, owner: Actor
) -> None:
    ws = core.for_actor(owner)
    campaign = ws.campaigns.create_campaign(
        name="Drop",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "Spring drop", "description": "New set"},
    )
    ws.campaigns.launch_campaign(campaign.id)
    for n, fan in enumerate(("rae", "sam", "tia"), start=1):
        ws.fans.upsert_fan(fan)
        record = _delivery(core, n, fan)
        with core.store.unit_of_work() as uow:
            uow.deliveries.update(
                attrs.evolve(record, campaign_id=campaign.id, version=record.version + 1)
            )
            uow.commit()
    core.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    report = ws.fans.record_delivery_events(
        [
            {"type": "opened", "providerMessageId": "pm-1", "providerEventId": "o1"},
            {"type": "opened", "providerMessageId": "pm-2", "providerEventId": "o2"},
            {"type": "clicked", "providerMessageId": "pm-2", "providerEventId": "c2"},
            {"type": "opened", "providerMessageId": "pm-2", "providerEventId": "o2b"},  # again
        ]
    )
    assert report.tracked == 3
    funnel = ws.analytics.get_conversion_funnel(campaign.id)
    counts = {step.name: step.count for step in funnel.steps}
    assert counts["impressions"] == 2
    assert counts["clicks"] == 1


def test_consent_suppression_and_feedback_on_every_store(
    any_store: Any, core_factory: Any, owner: Actor
) -> None:
    """The whole flow on memory, SQLite, PostgreSQL and MariaDB (unique keys, JSON, booleans)."""
    core = core_factory(any_store, settings=SETTINGS)
    ws = core.for_actor(owner)
    ws.fans.upsert_fan("uma", addresses={"email": "uma@example.com"})
    ws.fans.set_consent("uma", channel="email", topic="newsletter", granted=True, source="api")
    token = ws.fans.unsubscribe_token("uma", "email", "promotions")
    assert core.unsubscribe(token).replayed is False
    assert core.unsubscribe(token).replayed is True
    granted = {(s.channel, s.topic): s.granted for s in ws.fans.get_consent("uma")}
    assert granted[("email", "newsletter")] is True
    assert granted[("email", "promotions")] is False
    _delivery(core, 1, "uma")
    events = [
        {"type": "bounced", "bounce": "hard", "providerMessageId": "pm-1", "providerEventId": "b"}
    ]
    assert ws.fans.record_delivery_events(events).suppressed == 1
    assert ws.fans.record_delivery_events(events).duplicates == 1
    assert ws.fans.is_suppressed("email", "UMA@example.com")
    assert _get(core, "dl-1").status is DeliveryStatus.FAILED
    assert len(ws.fans.consent_history("uma")) == 2


def test_the_same_link_clicked_twice_at_once_applies_once(
    any_store: Any, core_factory: Any, owner: Actor
) -> None:
    """Two requests with one token at the same moment: one applies it, the other is a replay."""
    import threading

    core = core_factory(any_store, settings=SETTINGS)
    token = core.for_actor(owner).fans.unsubscribe_token("vic", "email", "promotions")
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def click() -> None:
        barrier.wait()
        try:
            results.append(core.unsubscribe(token).replayed)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, True]
    with core.store.unit_of_work() as uow:
        assert uow.consent_events.count() == 1
        assert uow.unsubscribe_token_uses.count() == 1
