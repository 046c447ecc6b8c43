"""The core scenario on the store under test: create, launch, tick, a workflow, a segment refresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from campaign_core._core import CampaignCore, RecordingMessenger
from campaign_core.clock import FakeClock
from campaign_core.ids import SequentialIds
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.testing.helpers import T0

__all__ = ["ScenarioContract"]

WELCOME = {
    "name": "Welcome",
    "trigger": {"type": "event", "event": "fan.subscribed"},
    "actions": [
        {"type": "wait", "duration": "5 minutes"},
        {"type": "send_message", "template": "welcome_message", "personalize": True},
        {
            "type": "check_engagement",
            "condition": "engagement < 1",
            "ifTrue": {"type": "send_message", "template": "re_engagement"},
        },
    ],
}


class ScenarioContract:
    """The library's services, end to end, on the store under test.

    Override :meth:`make_core` to build the core with the host's own ports
    (publisher, messenger, settings); the scenario needs a fake clock it can
    move and a messenger that records what it sends.
    """

    def make_core(self, store: Store, clock: FakeClock, **ports: Any) -> CampaignCore:
        """The core the scenario drives: ``store``, ``clock`` and ``ports``, sequential ids."""
        ports.setdefault("ids", SequentialIds())
        return CampaignCore(store, clock=clock, **ports)

    def test_core_scenario(self, store: Store) -> None:
        """Create, schedule, launch by tick, run a workflow to its messages, refresh a segment."""
        clock = FakeClock(T0)
        messenger = RecordingMessenger()
        core = self.make_core(store, clock, messenger=messenger)
        ws = core.for_actor(Actor("creator-1"))

        campaign = ws.campaigns.create_campaign(
            name="Spring drop",
            type="promotion",
            platforms=["instagram"],
            content={"title": "Spring", "description": "New set, 20% off this week"},
            media_urls=["https://cdn.example.com/spring.jpg"],
            budget=100,
        )
        ws.campaigns.schedule_campaign(campaign.id, clock.now() + timedelta(days=1))
        clock.advance("1 day")
        core.tick()
        assert ws.campaigns.get_campaign(campaign.id).status == "active"

        ws.fans.upsert_fan("fan-1", engagement=0.0, spending_level="high")
        ws.fans.upsert_fan("fan-2", engagement=80.0, spending_level="low")
        welcome = ws.automations.create_workflow(WELCOME, activate=True)
        assert welcome.status == "active"
        for fan in ("fan-1", "fan-2"):
            ws.fans.record_event(fan, "fan.subscribed")
        ws.fans.record_event("fan-2", "message.opened")  # fan-2 engages
        clock.advance("5 minutes")
        assert core.tick().automation_runs_finished == 2
        sent = sorted((m["fan_id"], m["template"]) for m in messenger.messages)
        assert sent == [
            ("fan-1", "re_engagement"),
            ("fan-1", "welcome_message"),
            ("fan-2", "welcome_message"),
        ]

        engaged = ws.segments.create_segment(name="Engaged", criteria={"engagement": ">50"})
        assert [m.fan_id for m in ws.segments.get_segment_members(engaged.id).items] == ["fan-2"]
        ws.fans.upsert_fan("fan-3", engagement=99.0)
        ws.fans.upsert_fan("fan-2", engagement=10.0)
        refreshed = ws.segments.refresh_segment(engaged.id)
        assert (refreshed.entered, refreshed.exited) == (("fan-3",), ("fan-2",))
        assert ws.segments.calculate_segment_size({"engagement": ">50"}) == 1
