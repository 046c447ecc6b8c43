"""One policy on every send path: broadcasts, workflow send_message steps and execute_action.

Frequency caps count one message log (``message_deliveries``), whichever path sent;
a workflow's ``send_message`` names its channel and topic, checked when saved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, ValidationError, Workspace
from campaign_core.models import DeliveryStatus, RunStatus
from campaign_core.ports import Store
from campaign_core.query import Eq
from tests.delivery.helpers import (
    OWNER,
    DedupMessenger,
    broadcast_campaign,
    run_until_idle,
    seed_audience,
)

FAN = "fan-00000"


def _flow(*actions: dict[str, Any], event: str = "go") -> dict[str, Any]:
    return {
        "name": f"flow {event}",
        "trigger": {"type": "event", "event": event},
        "actions": list(actions),
    }


def _log(store: Store, fan_id: str = FAN) -> list[Any]:
    with store.unit_of_work() as uow:
        return sorted(
            (r for r in uow.deliveries.find(Eq("fan_id", fan_id)) if r.sent_at is not None),
            key=lambda r: r.sent_at,
        )


def _broadcast(core: CampaignCore, ws: Workspace) -> str:
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    return campaign.id


def test_a_fan_capped_by_a_broadcast_is_capped_in_workflows(
    make: Callable[..., CampaignCore],
    messenger: DedupMessenger,
    local_store: Store,
    clock: FakeClock,
) -> None:
    """After a broadcast, a workflow message over the daily cap waits for the fan's next day."""
    core = make(frequency_caps=[{"max": 1, "per": "day"}])
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    _broadcast(core, ws)
    workflow = ws.automations.create_workflow(
        _flow({"type": "send_message", "template": "welcome_message"}), activate=True
    )
    ws.fans.record_event(FAN, "go")
    core.tick()
    assert [m["template"] for m in messenger.delivered.values()] == ["content_showcase"]
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.ACTIVE
    assert run.wake_at == datetime(2026, 1, 2, tzinfo=UTC)  # the fan's (UTC) midnight
    clock.set(datetime(2026, 1, 2, tzinfo=UTC))
    core.tick()
    assert sorted(m["template"] for m in messenger.delivered.values()) == [
        "content_showcase",
        "welcome_message",
    ]


def test_a_fan_capped_by_a_workflow_is_capped_in_broadcasts(
    make: Callable[..., CampaignCore],
    messenger: DedupMessenger,
    local_store: Store,
    clock: FakeClock,
) -> None:
    """A workflow message counts toward the cap a broadcast checks: the broadcast defers that fan."""
    core = make(frequency_caps=[{"max": 1, "per": "day"}])
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 2)
    ws.automations.create_workflow(
        _flow({"type": "send_message", "template": "welcome_message"}), activate=True
    )
    ws.fans.record_event(FAN, "go")
    core.tick()
    [logged] = _log(local_store)
    assert logged.campaign_id.startswith("workflow:")
    assert (logged.channel, logged.topic, logged.status) == ("dm", "updates", DeliveryStatus.SENT)
    campaign_id = _broadcast(core, ws)
    status = ws.campaigns.get_delivery_status(campaign_id)
    assert (status.sent, status.queued) == (1, 1)  # the other fan got it; this one waits
    clock.set(datetime(2026, 1, 2, tzinfo=UTC))
    run_until_idle(core)
    assert ws.campaigns.get_delivery_status(campaign_id).sent == 2


def test_execute_action_counts_and_is_counted(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """execute_action waits over a broadcast's cap; its sends are logged once per key and counted."""
    core = make(frequency_caps=[{"max": 2, "per": "day"}])
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    action = {"type": "send_message", "template": "welcome_message"}
    context = {"fanId": FAN, "idempotencyKey": "hello-1"}
    first = ws.automations.execute_action(action, context)
    again = ws.automations.execute_action(action, context)  # the same key: logged once
    assert (first.status, again.status) == ("completed", "completed")
    assert len(_log(local_store)) == 1
    _broadcast(core, ws)
    assert len(_log(local_store)) == 2
    late = ws.automations.execute_action(action, {"fanId": FAN, "idempotencyKey": "hello-2"})
    assert late.status == "waiting"
    assert late.output == {"reason": "frequency_cap"}
    assert late.until == datetime(2026, 1, 2, tzinfo=UTC)


def test_quiet_hours_of_the_settings_hold_every_path(
    make: Callable[..., CampaignCore],
    messenger: DedupMessenger,
    local_store: Store,
    clock: FakeClock,
) -> None:
    """The settings' quiet hours defer a broadcast, a workflow step and execute_action alike."""
    core = make(quiet_hours={"start": "22:00", "end": "08:00"})
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    clock.set(datetime(2026, 1, 1, 23, 0, tzinfo=UTC))
    workflow = ws.automations.create_workflow(
        _flow({"type": "send_message", "template": "welcome_message"}), activate=True
    )
    ws.fans.record_event(FAN, "go")
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    acted = ws.automations.execute_action(
        {"type": "send_message", "template": "welcome_message"}, {"fanId": FAN}
    )
    assert messenger.delivered == {}
    eight = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert (acted.status, acted.until) == ("waiting", eight)
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == eight
    clock.set(eight)
    run_until_idle(core)
    assert len(messenger.delivered) == 2


def test_send_message_goes_on_its_channel_under_its_topic(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """channel email uses the fan's email address; a refusal of that topic on email suppresses."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 2)
    step = {"type": "send_message", "template": "welcome_message", "channel": "email"}
    ws.automations.create_workflow(_flow({**step, "topic": "promotions"}), activate=True)
    ws.fans.set_consent(
        "fan-00001", channel="email", topic="promotions", granted=False, source="preferences"
    )
    ws.fans.set_consent(
        "fan-00001", channel="dm", topic="promotions", granted=True, source="preferences"
    )
    for fan_id in (FAN, "fan-00001"):
        ws.fans.record_event(fan_id, "go")
    core.tick()
    [sent] = messenger.delivered.values()
    assert sent == {
        "fan_id": FAN,
        "channel": "email",
        "address": f"{FAN}@example.com",
        "template": "welcome_message",
    }
    [logged] = _log(local_store)
    assert (logged.channel, logged.topic) == ("email", "promotions")
    refused = ws.automations.execute_action({**step, "topic": "promotions"}, {"fanId": "fan-00001"})
    assert (refused.status, refused.output["reason"]) == ("suppressed", "no_consent")


def test_send_message_falls_back_to_the_next_channel(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """A fan without an sms number gets the step's message by email (the fallback policy)."""
    core = make(fallback_channels={"sms": ["email"]})
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    done = ws.automations.execute_action(
        {"type": "send_message", "template": "welcome_message", "channel": "sms"}, {"fanId": FAN}
    )
    assert done.status == "completed"
    assert done.output["channel"] == "email"
    [sent] = messenger.delivered.values()
    assert (sent["channel"], sent["address"]) == ("email", f"{FAN}@example.com")
    no_fallback = make()
    lone = no_fallback.for_actor(Actor(OWNER)).automations.execute_action(
        {"type": "send_message", "template": "welcome_message", "channel": "sms"}, {"fanId": FAN}
    )
    assert (lone.status, lone.output["reason"]) == ("suppressed", "no_address")


@pytest.mark.parametrize(
    ("params", "path", "code"),
    [
        ({"channel": "fax"}, "actions[0].channel", "unknown_channel"),
        ({"topic": "gossip"}, "actions[0].topic", "unknown_topic"),
        ({"channel": 3}, "actions[0].channel", "invalid_type"),
        ({"channel": "sms", "topic": "promotions"}, "actions[0].topic", "topic_not_on_channel"),
    ],
)
def test_unknown_channel_or_topic_is_refused_at_save(
    make: Callable[..., CampaignCore], params: dict[str, Any], path: str, code: str
) -> None:
    """A send_message's channel and topic are checked against the messaging settings when saved."""
    core = make(topics={"promotions": {"channels": ["dm", "email"]}, "updates": {}})
    ws = core.for_actor(Actor(OWNER))
    step = {"type": "send_message", "template": "welcome_message", **params}
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(_flow(step))
    assert [(p.path, p.code) for p in info.value.problems] == [(path, code)]
    with pytest.raises(ValidationError):
        ws.automations.execute_action(step, {"fanId": FAN})
    assert not ws.automations.list_workflows().items


def test_workflow_messages_take_delivery_feedback(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """A hard bounce of a workflow email (its provider id is in the log) suppresses the address."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    step = {"type": "send_message", "template": "welcome_message", "channel": "email"}
    done = ws.automations.execute_action(step, {"fanId": FAN, "idempotencyKey": "k1"})
    report = ws.fans.record_delivery_events(
        [
            {
                "type": "bounced",
                "bounce": "hard",
                "provider": "ses",
                "providerEventId": "ev-1",
                "providerMessageId": done.output["messageId"],
                "at": "2026-01-01T00:00:00Z",
            }
        ]
    )
    assert report.suppressed == 1
    again = ws.automations.execute_action(step, {"fanId": FAN, "idempotencyKey": "k2"})
    assert (again.status, again.output["reason"]) == ("suppressed", "suppressed")
