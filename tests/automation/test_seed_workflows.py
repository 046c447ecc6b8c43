"""The seed's welcome series and win-back workflows, end to end under a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Workspace
from campaign_core.models import RunStatus
from tests.automation.helpers import (
    T0,
    CountingMessenger,
    add_segment,
    members,
    welcome,
    win_back,
)
from tests.conftest import backend_params, make_store


def test_welcome_series_without_engagement(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """5 minutes, 24 hours, 3 days: welcome, showcase, then re-engagement for a silent fan."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    core.tick()
    assert messenger.templates() == []  # nothing before the 5 minutes
    clock.advance("4 minutes 59 seconds")
    core.tick()
    assert messenger.templates() == []
    clock.advance("1 second")
    core.tick()
    assert messenger.templates() == ["welcome_message"]
    clock.advance("23 hours 59 minutes")
    core.tick()
    assert messenger.templates() == ["welcome_message"]
    clock.advance("1 minute")
    core.tick()
    assert messenger.templates() == ["welcome_message", "content_showcase"]
    clock.advance("3 days")
    report = core.tick()
    assert report.automation_runs_finished == 1
    assert messenger.templates() == ["welcome_message", "content_showcase", "re_engagement"]
    assert not messenger.duplicates()
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.status == "success"
    assert execution.fan_id == "fan-1"
    assert [a["stepId"] for a in execution.executed_actions] == [
        "step-1",
        "step-2",
        "step-3",
        "step-4",
        "step-5",
        "step-6",
        "step-6.true-1",
    ]
    assert execution.started_at == T0
    assert execution.duration == int(timedelta(minutes=5, hours=24, days=3).total_seconds() * 1000)
    stored = ws.automations.get_workflow(workflow.id)
    assert (stored.execution_count, stored.success_count, stored.failure_count) == (1, 1, 0)
    assert stored.last_executed_at == T0


def test_welcome_series_with_engagement(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan who opens a message after entering is engaged: no re-engagement message."""
    ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    clock.advance("2 hours")
    ws.fans.record_event("fan-1", "message.opened")
    clock.advance("22 hours")
    core.tick()
    clock.advance("3 days")
    core.tick()
    assert messenger.templates() == ["welcome_message", "content_showcase"]


def test_engagement_before_entry_does_not_count(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Engagement is counted from when the run entered, not over the fan's whole history."""
    ws.fans.record_event("fan-1", "message.opened")
    clock.advance("1 hour")
    ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    for span in ("5 minutes", "24 hours", "3 days"):
        clock.advance(span)
        core.tick()
    assert messenger.templates()[-1] == "re_engagement"


def test_welcome_messages_carry_personalization(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """send_message passes the step's flags and, with personalize, the fan's fields."""
    ws.fans.upsert_fan("fan-1", platform="onlyfans", time_zone="Europe/Paris")
    ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    [message] = messenger.delivered.values()
    assert message["variables"]["personalize"] is True
    assert message["variables"]["fan"]["platform"] == "onlyfans"
    assert message["variables"]["fanId"] == "fan-1"
    assert message["owner_id"] == "owner-1"


def _inactive_fan(ws: Workspace, fan_id: str, *, value: float = 80.0, days: int = 20) -> None:
    ws.fans.upsert_fan(
        fan_id,
        subscription_status="active",
        lifetime_value=value,
        last_activity_at=T0 - timedelta(days=days),
    )


def test_win_back_without_engagement_adds_to_at_risk(
    core: CampaignCore,
    ws: Workspace,
    clock: FakeClock,
    messenger: CountingMessenger,
) -> None:
    """An inactive, valuable, active subscriber gets a 25% offer, then lands in at_risk_fans."""
    segment = add_segment(core.store, "owner-1", "at_risk_fans")
    _inactive_fan(ws, "fan-1")
    _inactive_fan(ws, "fan-cheap", value=10.0)  # fails the seed's lifetime_value >= 50
    ws.fans.upsert_fan(
        "fan-active",
        subscription_status="active",
        lifetime_value=99.0,
        last_activity_at=T0 - timedelta(days=2),
    )
    workflow = ws.automations.create_workflow(win_back(), activate=True)
    report = core.tick()
    assert report.automation_runs_enrolled == 1
    assert messenger.templates() == ["we_miss_you"]
    [message] = messenger.delivered.values()
    offer = message["variables"]["offer"]
    assert offer["discount"] == 0.25
    campaign = ws.campaigns.get_campaign(offer["campaignId"])
    assert campaign.content["price"] == round(9.99 * 0.75, 2)
    assert campaign.template_id is not None
    clock.advance("7 days")
    core.tick()
    assert members(core.store, segment.id) == {"fan-1"}
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.COMPLETED


def test_win_back_with_engagement_stays_out_of_at_risk(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan who clicks within the 7 days is not added to at_risk_fans."""
    segment = add_segment(core.store, "owner-1", "at_risk_fans")
    _inactive_fan(ws, "fan-1")
    ws.automations.create_workflow(win_back(), activate=True)
    core.tick()
    clock.advance("3 days")
    ws.fans.record_event("fan-1", "message.clicked")
    clock.advance("4 days")
    core.tick()
    assert members(core.store, segment.id) == set()


def test_win_back_enrols_once_not_every_tick(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan who keeps matching is enrolled when they start to match, not at every sweep."""
    add_segment(core.store, "owner-1", "at_risk_fans")
    _inactive_fan(ws, "fan-1")
    workflow = ws.automations.create_workflow(win_back(), activate=True)
    for _ in range(10):
        core.tick()
        clock.advance("1 hour")
    assert len(ws.automations.list_runs(workflow.id)) == 1
    assert messenger.templates() == ["we_miss_you"]


def test_win_back_fan_who_starts_matching_later_is_enrolled(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan active today becomes inactive 14 days later and is enrolled by a later sweep."""
    add_segment(core.store, "owner-1", "at_risk_fans")
    ws.fans.upsert_fan(
        "fan-1", subscription_status="active", lifetime_value=60.0, last_activity_at=T0
    )
    ws.automations.create_workflow(win_back(), activate=True)
    core.tick()
    assert messenger.templates() == []
    clock.advance("13 days")
    core.tick()
    assert messenger.templates() == []
    clock.advance("1 day")
    core.tick()
    assert messenger.templates() == ["we_miss_you"]


@pytest.mark.parametrize("backend", backend_params(["postgres", "mariadb"]))
def test_seed_workflows_on_database_servers(backend: str, clock: FakeClock) -> None:
    """Both seed workflows run end to end on PostgreSQL and MariaDB too."""
    store = make_store(backend)
    messenger = CountingMessenger()
    core = CampaignCore(store, clock=clock, messenger=messenger)
    ws = core.for_actor(Actor("owner-1"))
    segment = add_segment(store, "owner-1", "at_risk_fans")
    ws.automations.create_workflow(welcome(), activate=True)
    ws.automations.create_workflow(win_back(), activate=True)
    _inactive_fan(ws, "fan-w")
    ws.fans.record_event("fan-1", "fan.subscribed")
    for span in ("1 minute", "5 minutes", "24 hours", "3 days", "4 days"):
        clock.advance(span)
        core.tick()
    assert sorted(messenger.templates()) == [
        "content_showcase",
        "re_engagement",
        "we_miss_you",
        "welcome_message",
    ]
    assert members(store, segment.id) == {"fan-w"}
    assert not messenger.duplicates()
    store.close()
