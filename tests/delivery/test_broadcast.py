"""Broadcasts: a campaign's message reaches each fan of its segments once, through tick()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings, ValidationError
from campaign_core.delivery import MessagingSettings
from campaign_core.delivery._addresses import address_hash
from campaign_core.models import FanConsent, Suppression
from campaign_core.ports import Store
from tests.delivery.helpers import (
    OWNER,
    DedupMessenger,
    broadcast_campaign,
    run_until_idle,
    seed_audience,
)


def test_every_fan_of_the_segment_gets_the_message_once(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    core = make(snapshot_batch_size=40)
    ws = core.for_actor(Actor(OWNER))
    fans = seed_audience(local_store, 120)
    campaign = broadcast_campaign(ws)
    assert ws.campaigns.get_delivery_status(campaign.id).status == "not_launched"
    ws.campaigns.launch_campaign(campaign.id)
    assert run_until_idle(core) == 120
    assert messenger.fans() == dict.fromkeys(fans, 1)
    assert max(messenger.calls.values()) == 1
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.status, status.audience, status.sent, status.queued) == ("done", 120, 120, 0)
    one = next(iter(messenger.delivered.values()))
    assert (one["channel"], one["template"]) == ("dm", "content_showcase")
    assert next(iter(messenger.delivered)) == f"{campaign.id}:fan-00000:dm"


def test_a_campaign_without_a_message_sends_nothing(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 5)
    campaign = ws.campaigns.create_campaign(
        name="Posts only",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "x"},
        segment_ids=["seg-vip"],
    )
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    assert messenger.delivered == {}
    assert ws.campaigns.get_delivery_status(campaign.id).status == "not_launched"


BASE = {"channel": "dm", "template": "content_showcase", "topic": "promotions"}


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (BASE | {"channel": "fax"}, "message.channel"),
        (BASE | {"topic": "gossip"}, "message.topic"),
        ({"channel": "dm"}, "message"),
        (BASE | {"content": {"text": "hi"}}, "message"),
        (BASE | {"sendAtLocal": "9am"}, "message.sendAtLocal"),
        (BASE | {"fallbackChannels": ["pigeon"]}, "message.fallbackChannels[0]"),
        (BASE | {"colour": "red"}, "message.colour"),
        ("hello", "message"),
    ],
)
def test_bad_messages_are_refused_at_save(
    make: Callable[..., CampaignCore], local_store: Store, message: Any, path: str
) -> None:
    ws = make().for_actor(Actor(OWNER))
    seed_audience(local_store, 1)
    with pytest.raises(ValidationError) as error:
        ws.campaigns.create_campaign(
            name="x", type="promotion", segment_ids=["seg-vip"], message=message
        )
    assert path in [p.path for p in error.value.problems]
    assert ws.campaigns.list_campaigns().items == ()


def test_a_message_needs_segments(make: Callable[..., CampaignCore]) -> None:
    ws = make().for_actor(Actor(OWNER))
    with pytest.raises(ValidationError) as error:
        ws.campaigns.create_campaign(name="x", type="promotion", message=BASE)
    assert [p.path for p in error.value.problems] == ["segment_ids"]


def test_update_sets_and_removes_the_message_before_launch(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 3)
    campaign = broadcast_campaign(ws)
    ws.campaigns.update_campaign(campaign.id, message=None)
    ws.campaigns.update_campaign(
        campaign.id, message={"channel": "email", "content": {"text": "hi"}}
    )
    ws.campaigns.launch_campaign(campaign.id)
    with pytest.raises(ValidationError) as error:
        ws.campaigns.update_campaign(campaign.id, message=None)
    assert error.value.problems[0].path == "message"
    run_until_idle(core)
    assert {m["channel"] for m in messenger.delivered.values()} == {"email"}
    assert {m["address"] for m in messenger.delivered.values()} == {
        "fan-00000@example.com",
        "fan-00001@example.com",
        "fan-00002@example.com",
    }


def test_a_duplicated_campaign_carries_its_message(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """duplicate_campaign copies the message (not the delivery state): the copy broadcasts too."""
    core = make()
    ws = core.for_actor(Actor(OWNER))
    fans = seed_audience(local_store, 3)
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    ws.campaigns.cancel_campaign(campaign.id)  # leaves a run-time note on the broadcast
    run_until_idle(core)
    copy = ws.campaigns.duplicate_campaign(campaign.id)
    assert ws.campaigns.get_delivery_status(copy.id).status == "not_launched"
    ws.campaigns.launch_campaign(copy.id)
    run_until_idle(core)
    copied = {k: v for k, v in messenger.delivered.items() if k.startswith(copy.id)}
    assert sorted(m["fan_id"] for m in copied.values()) == sorted(fans)
    assert {m["template"] for m in copied.values()} == {"content_showcase"}
    with pytest.raises(ValidationError) as error:  # as create_campaign: a message needs segments
        ws.campaigns.duplicate_campaign(campaign.id, {"segmentIds": []})
    assert error.value.problems[0].path == "segment_ids"


def test_consent_suppression_and_opt_out_are_suppressed_with_reasons(
    make: Callable[..., CampaignCore],
    messenger: DedupMessenger,
    local_store: Store,
    clock: FakeClock,
) -> None:
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 6)
    ws.fans.upsert_fan("fan-00001", opted_out=True)
    now = clock.now()
    with local_store.unit_of_work() as uow:
        uow.fan_consents.add(
            FanConsent(
                id="c1",
                owner_id=OWNER,
                fan_id="fan-00002",
                channel="dm",
                topic="promotions",
                granted=False,
                source="preference_center",
                created_at=now,
                updated_at=now,
            )
        )
        uow.suppressions.add(
            Suppression(
                id="s1",
                owner_id=OWNER,
                channel="dm",
                address_hash=address_hash(core.settings.pseudonym_key, "dm", "fan-00003"),
                reason="complaint",
                created_at=now,
            )
        )
        uow.commit()
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    assert sorted(messenger.fans()) == ["fan-00000", "fan-00004", "fan-00005"]
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.suppressed) == (3, 3)
    assert status.reasons == {"no_consent": 1, "opted_out": 1, "suppressed": 1}


def test_pause_resume_and_cancel(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    core = make(rate_per_second={"dm": 10})
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 60)
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    core.tick()
    assert len(messenger.delivered) == 10  # the throttle: 10 per second, the clock stands still
    ws.campaigns.pause_campaign(campaign.id)
    core.tick(core.clock.now() + timedelta(seconds=5))
    assert len(messenger.delivered) == 10
    assert ws.campaigns.get_delivery_status(campaign.id).status == "paused"
    ws.campaigns.resume_campaign(campaign.id)
    core.tick(core.clock.now() + timedelta(seconds=2))
    assert len(messenger.delivered) == 20
    ws.campaigns.cancel_campaign(campaign.id)
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.queued, status.cancelled) == (20, 0, 40)
    assert status.reasons == {"campaign_cancelled": 40}
    run_until_idle(core)
    core.tick(core.clock.now() + timedelta(seconds=60))
    assert len(messenger.delivered) == 20
    assert ws.campaigns.get_delivery_status(campaign.id).cancelled == 40


def test_local_send_time_per_fan_zone(
    make: Callable[..., CampaignCore],
    messenger: DedupMessenger,
    local_store: Store,
    clock: FakeClock,
) -> None:
    core = make()
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 2, zones=["Pacific/Kiritimati", "Etc/GMT+12"])
    campaign = broadcast_campaign(ws, sendAtLocal="09:00")
    ws.campaigns.launch_campaign(campaign.id)  # 2026-01-01 00:00 UTC
    core.tick()
    assert messenger.delivered == {}
    core.tick(datetime(2026, 1, 1, 19, 0, tzinfo=UTC))  # 09:00 on Kiritimati (+14)
    assert list(messenger.fans()) == ["fan-00000"]
    core.tick(datetime(2026, 1, 1, 21, 0, tzinfo=UTC))  # 09:00 at UTC-12
    assert sorted(messenger.fans()) == ["fan-00000", "fan-00001"]


def test_budget_pauses_the_broadcast_at_its_budget(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    core = make(cost_per_message={"dm": "0.5"})
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 30)
    campaign = broadcast_campaign(ws)
    ws.campaigns.update_campaign(campaign.id, budget=5)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    assert len(messenger.delivered) == 10
    after = ws.campaigns.get_campaign(campaign.id)
    assert (after.status.value, after.paused_reason, after.spent) == (
        "paused",
        "budget_exhausted",
        5.0,
    )


def test_failures_retry_with_backoff_then_fail_with_a_reason(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    messenger = DedupMessenger(fail={"fan-00000": 2, "fan-00001": 99})
    core = core_factory(
        local_store,
        messenger=messenger,
        settings=Settings(messaging=MessagingSettings(max_attempts=3)),
    )
    ws = core.for_actor(Actor(OWNER))
    seed_audience(local_store, 3)
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    for _ in range(10):
        core.tick()
        clock.advance("10 minutes")
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.failed, status.reasons) == (2, 1, {"send_failed": 1})
    assert sorted(messenger.fans()) == ["fan-00000", "fan-00002"]


def test_scheduled_campaigns_launched_by_tick_start_their_broadcasts(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """The tick's batch of launches starts the broadcasts of the campaigns with a message only."""
    core = make(snapshot_batch_size=40)
    ws = core.for_actor(Actor(OWNER))
    fans = seed_audience(local_store, 60)
    at = core.clock.now() + timedelta(hours=1)
    common: dict[str, Any] = {
        "type": "promotion",
        "platforms": ["onlyfans"],
        "content": {"title": "Spring drop"},
        "segment_ids": ["seg-vip"],
        "scheduled_for": at,
    }
    with_message = ws.campaigns.create_campaign(
        name="Drop", message={"channel": "dm", "template": "content_showcase"}, **common
    )
    without = ws.campaigns.create_campaign(name="Posts only", **common)
    core.clock.set(at + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert run_until_idle(core) == 60
    assert messenger.fans() == dict.fromkeys(fans, 1)
    status = ws.campaigns.get_delivery_status(with_message.id)
    assert (status.status, status.sent) == ("done", 60)
    assert ws.campaigns.get_delivery_status(without.id).status == "not_launched"
    assert ws.campaigns.get_campaign(without.id).status.value == "active"
