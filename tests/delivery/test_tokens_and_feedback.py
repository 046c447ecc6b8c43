"""Unsubscribe tokens and feedback rules (pure), and the consent check under random changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore, FakeClock, InvalidTokenError, SequentialIds, Settings
from campaign_core.delivery import MessagingSettings, Send, Topic
from campaign_core.delivery._feedback import feedback_changes, suppresses
from campaign_core.delivery._tokens import (
    UnsubscribeToken,
    read_unsubscribe_token,
    sign_unsubscribe_token,
)
from campaign_core.jobs.consent import check_send, load_consent
from campaign_core.models import Delivery, DeliveryStatus
from campaign_core_memory import InMemoryStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEYS = (b"a" * 32, b"b" * 32)


def _token(**changes: Any) -> UnsubscribeToken:
    values: dict[str, Any] = {
        "account": "acct-1",
        "fan_id": "fan-1",
        "channel": "email",
        "topic": "promotions",
        "expires_at": T0 + timedelta(days=1),
        "jti": "j-1",
    }
    values.update(changes)
    return UnsubscribeToken(**values)


def test_a_token_round_trips_and_expires_at_its_instant() -> None:
    token = _token()
    text = sign_unsubscribe_token(token, KEYS)
    assert read_unsubscribe_token(text, KEYS, T0) == token
    assert read_unsubscribe_token(text, KEYS[::-1], T0) == token  # any listed key verifies
    assert (
        read_unsubscribe_token(sign_unsubscribe_token(_token(topic=None), KEYS), KEYS, T0).topic
        is None
    )
    with pytest.raises(InvalidTokenError) as caught:
        read_unsubscribe_token(text, KEYS, T0 + timedelta(days=1))
    assert caught.value.reason == "expired"
    with pytest.raises(InvalidTokenError) as caught:
        read_unsubscribe_token(text, (b"c" * 32,), T0)
    assert caught.value.reason == "bad_signature"


@given(st.text(max_size=300))
def test_random_strings_are_refused_with_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidTokenError):
        read_unsubscribe_token(text, KEYS, T0)


@given(st.integers(min_value=0, max_value=200), st.characters(codec="ascii"))
def test_changing_any_character_of_a_token_is_detected(position: int, char: str) -> None:
    text = sign_unsubscribe_token(_token(), KEYS)
    index = position % len(text)
    changed = text[:index] + char + text[index + 1 :]
    if changed == text:
        return
    try:
        read = read_unsubscribe_token(changed, KEYS, T0)
    except InvalidTokenError:
        return
    # base64 padding bits can absorb a change without changing the bytes
    assert read == _token()


def _delivery(status: DeliveryStatus, **kw: Any) -> Delivery:
    return Delivery(
        id="d",
        campaign_id="c",
        owner_id="o",
        fan_id="f",
        channel="email",
        status=status,
        idempotency_key="c:f:email",
        created_at=T0,
        updated_at=T0,
        **kw,
    )


def test_feedback_only_moves_forward() -> None:
    at = T0 + timedelta(hours=1)
    sent = _delivery(DeliveryStatus.SENT)
    assert feedback_changes(sent, "opened", None, at) == {
        "status": DeliveryStatus.OPENED,
        "reason": None,
        "delivered_at": at,
        "opened_at": at,
    }
    clicked = _delivery(DeliveryStatus.CLICKED, clicked_at=at)
    assert feedback_changes(clicked, "opened", None, at) == {}
    assert feedback_changes(clicked, "bounced", "hard", at) == {}
    assert feedback_changes(sent, "bounced", "soft", at) == {}
    assert feedback_changes(sent, "bounced", "hard", at)["status"] is DeliveryStatus.FAILED
    for never_out in (DeliveryStatus.QUEUED, DeliveryStatus.SUPPRESSED, DeliveryStatus.CANCELLED):
        assert feedback_changes(_delivery(never_out), "delivered", None, at) == {}
    assert suppresses("bounced", "hard") == "hard_bounce"
    assert suppresses("complained", None) == "complaint"
    assert suppresses("bounced", "soft") is None


# ---------------------------------------------------------------------- consent under random changes
MESSAGING = MessagingSettings(
    channels=("dm", "email"),
    topics={
        "promotions": Topic(default="opt_out"),
        "newsletter": Topic(default="opt_in", channels=("email",)),
    },
    default_topic="promotions",
    unsubscribe_keys=["k" * 32],
)
FANS = ("f1", "f2", "f3")
PAIRS = (("dm", "promotions"), ("email", "promotions"), ("email", "newsletter"))

ops = st.one_of(
    st.tuples(st.just("consent"), st.sampled_from(FANS), st.sampled_from(PAIRS), st.booleans()),
    st.tuples(st.just("bounce"), st.sampled_from(FANS), st.sampled_from(("hard", "soft"))),
    st.tuples(st.just("complain"), st.sampled_from(FANS)),
    st.tuples(st.just("unsuppress"), st.sampled_from(FANS)),
    st.tuples(st.just("opt_out"), st.sampled_from(FANS), st.booleans()),
    st.tuples(st.just("unsubscribe"), st.sampled_from(FANS), st.sampled_from(PAIRS)),
    st.tuples(st.just("address"), st.sampled_from(FANS), st.booleans()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=25))
def test_no_send_reaches_an_opted_out_or_suppressed_fan(steps: list[tuple[Any, ...]]) -> None:
    """After any sequence of consent changes, bounces, complaints, opt-outs and unsubscribes,
    the consent check lets a message through exactly when a simple model says it may go."""
    core = CampaignCore(
        InMemoryStore(),
        clock=FakeClock(T0),
        ids=SequentialIds(),
        settings=Settings(messaging=MESSAGING),
    )
    ws = core.for_actor(Actor("o"))
    # the model
    consent: dict[tuple[str, str, str], bool] = {}
    suppressed: set[str] = set()
    opted_out: set[str] = set()
    has_address = dict.fromkeys(FANS, True)
    for fan in FANS:
        ws.fans.upsert_fan(fan, addresses={"email": f"{fan}@example.com"})
    sends = 0
    for step in steps:
        kind, fan = step[0], step[1]
        if kind == "consent":
            (channel, topic), granted = step[2], step[3]
            ws.fans.set_consent(fan, channel=channel, topic=topic, granted=granted, source="api")
            consent[(fan, channel, topic)] = granted
        elif kind in ("bounce", "complain"):
            sends += 1
            record = Delivery(
                id=f"d{sends}",
                campaign_id=f"c{sends}",
                owner_id="o",
                fan_id=fan,
                channel="email",
                topic="promotions",
                status=DeliveryStatus.SENT,
                idempotency_key=f"c{sends}:{fan}:email",
                provider_message_id=f"pm{sends}",
                created_at=T0,
                updated_at=T0,
            )
            with core.store.unit_of_work() as uow:
                uow.deliveries.add(record)
                uow.commit()
            event: dict[str, Any] = {
                "providerMessageId": f"pm{sends}",
                "providerEventId": f"e{sends}",
            }
            if kind == "bounce":
                event |= {"type": "bounced", "bounce": step[2], "address": f"{fan}@example.com"}
            else:
                event |= {"type": "complained", "address": f"{fan}@example.com"}
            ws.fans.record_delivery_events([event])
            if kind == "complain" or step[2] == "hard":
                suppressed.add(fan)
        elif kind == "unsuppress":
            ws.fans.unsuppress("email", f"{fan}@example.com")
            suppressed.discard(fan)
        elif kind == "opt_out":
            ws.fans.upsert_fan(fan, opted_out=step[2])
            (opted_out.add if step[2] else opted_out.discard)(fan)
        elif kind == "unsubscribe":
            channel, topic = step[2]
            core.unsubscribe(ws.fans.unsubscribe_token(fan, channel, topic))
            consent[(fan, channel, topic)] = False
        elif kind == "address":
            ws.fans.upsert_fan(fan, addresses={"email": f"{fan}@example.com" if step[2] else None})
            has_address[fan] = step[2]
    with core.runtime.transaction(read_only=True) as tx:
        fans = {f.fan_id: f for f in tx.uow.fans.find()}
        snapshot = load_consent(tx, core.runtime, "o", list(fans.values()))
        for fan in FANS:
            for channel, topic in PAIRS:
                verdict = check_send(tx, core.runtime, fans[fan], channel, topic)
                default = MESSAGING.topics[topic].default == "opt_out"
                allowed = (
                    fan not in opted_out
                    and consent.get((fan, channel, topic), default)
                    and not (channel == "email" and (fan in suppressed or not has_address[fan]))
                )
                assert isinstance(verdict, Send) is bool(allowed), (fan, channel, topic, verdict)
                # the batch loader agrees with the one-fan check
                explicit, channels = snapshot.for_fan(fan)
                assert ("email" in channels) is (fan in suppressed and has_address[fan])
                assert explicit.get((channel, topic), default) == consent.get(
                    (fan, channel, topic), default
                )
