"""Per-message unsubscribe: each message carries its own signed token for its fan, channel and topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, ValidationError
from campaign_core.delivery import MessagingSettings
from campaign_core.delivery._tokens import read_unsubscribe_token
from campaign_core.ports import Store
from tests.delivery.helpers import OWNER, broadcast_campaign, run_until_idle, seed_audience

URL = "https://fans.example.com/unsubscribe"


class LinkMessenger:
    """Records each message with its unsubscribe data (its send names ``unsubscribe``)."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Any,
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Any = None,
        unsubscribe: Any = None,
    ) -> str:
        self.sent.setdefault(
            idempotency_key,
            {"fan_id": fan_id, "channel": channel, "parts": parts, "unsubscribe": unsubscribe},
        )
        return f"pm-{idempotency_key}"

    def of(self, fan_id: str) -> dict[str, Any]:
        [found] = [m for m in self.sent.values() if m["fan_id"] == fan_id]
        return found


@pytest.fixture
def messenger() -> LinkMessenger:
    return LinkMessenger()


def _granted(core: CampaignCore, fan_id: str) -> dict[tuple[str, str], bool]:
    states = core.for_actor(Actor(OWNER)).fans.get_consent(fan_id)
    return {(s.channel, s.topic): s.granted for s in states}


def test_a_broadcast_messages_token_unsubscribes_exactly_its_fan_and_topic(
    make: Callable[..., CampaignCore], messenger: LinkMessenger, local_store: Store
) -> None:
    """The token in fan A's email refuses promotions on email for A only; the link is in the parts."""
    core = make(unsubscribe_url=URL, unsubscribe_mailto="leave@example.com")
    ws = core.for_actor(Actor(OWNER))
    first, second = seed_audience(local_store, 2)
    campaign = broadcast_campaign(ws, channel="email", template="we_miss_you", topic="promotions")
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    mine = messenger.of(first)["unsubscribe"]
    theirs = messenger.of(second)["unsubscribe"]
    assert mine["token"] != theirs["token"]
    assert mine["url"] == f"{URL}?token={mine['token']}"
    assert mine["List-Unsubscribe"].startswith(f"<{mine['url']}>, <mailto:leave@example.com?")
    assert mine["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mine["url"] in messenger.of(first)["parts"]["text"]  # {{ unsubscribe_url }}
    claims = read_unsubscribe_token(
        mine["token"], core.settings.messaging.unsubscribe_keys, core.clock.now()
    )
    assert (claims.account, claims.fan_id, claims.channel, claims.topic) == (
        OWNER,
        first,
        "email",
        "promotions",
    )
    before = _granted(core, second)
    result = core.unsubscribe(mine["token"])
    assert (result.fan_id, result.channel, result.topics, result.replayed) == (
        first,
        "email",
        ("promotions",),
        False,
    )
    after = _granted(core, first)
    assert after[("email", "promotions")] is False
    assert after[("email", "updates")] is True
    assert after[("dm", "promotions")] is True
    assert _granted(core, second) == before
    assert core.unsubscribe(mine["token"]).replayed


def test_a_workflow_messages_token_unsubscribes_its_step_topic(
    make: Callable[..., CampaignCore], messenger: LinkMessenger, local_store: Store
) -> None:
    """A send_message's token names the step's channel and topic; its replay changes nothing."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    [fan] = seed_audience(local_store, 1)
    step = {"type": "send_message", "template": "hello", "channel": "email", "topic": "updates"}
    ws.automations.create_workflow(
        {"name": "news", "trigger": {"type": "event", "event": "go"}, "actions": [step]},
        activate=True,
    )
    ws.fans.record_event(fan, "go")
    core.tick()
    unsub = messenger.of(fan)["unsubscribe"]
    assert set(unsub) == {"token"}  # no endpoint configured: the token only
    result = core.unsubscribe(unsub["token"])
    assert result.topics == ("updates",)
    granted = _granted(core, fan)
    assert granted[("email", "updates")] is False
    assert granted[("email", "promotions")] is True
    refused = ws.automations.execute_action(step, {"fanId": fan})
    assert (refused.status, refused.output["reason"]) == ("suppressed", "no_consent")


def test_a_retried_message_carries_a_token_with_the_same_id(
    make: Callable[..., CampaignCore], messenger: LinkMessenger, local_store: Store
) -> None:
    """execute_action twice with one key: both tokens share an id, so only one is ever applied."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    [fan] = seed_audience(local_store, 1)
    action = {"type": "send_message", "template": "hello", "channel": "email"}
    ws.automations.execute_action(action, {"fanId": fan, "idempotencyKey": "k-1"})
    token = messenger.of(fan)["unsubscribe"]["token"]
    keys = core.settings.messaging.unsubscribe_keys
    jti = read_unsubscribe_token(token, keys, core.clock.now()).jti
    messenger.sent.clear()
    ws.automations.execute_action(action, {"fanId": fan, "idempotencyKey": "k-1"})
    again = messenger.of(fan)["unsubscribe"]["token"]
    assert read_unsubscribe_token(again, keys, core.clock.now()).jti == jti


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"unsubscribe_url": "http://fans.example.com/u"}, "settings.messaging.unsubscribe_url"),
        ({"unsubscribe_mailto": "not an address"}, "settings.messaging.unsubscribe_mailto"),
    ],
)
def test_bad_unsubscribe_settings_say_where(kwargs: dict[str, Any], path: str) -> None:
    """The endpoint must be https (RFC 8058); the mailto an address."""
    with pytest.raises(ValidationError) as info:
        MessagingSettings(**kwargs)
    assert info.value.problems[0].path == path
