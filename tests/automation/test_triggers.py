"""Triggers (event with filters, behaviour sweeps, time over a segment, segment entry), conditions, re-entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings, Workspace
from campaign_core.automation import AutomationSettings
from campaign_core.models import Segment, SegmentMember
from tests.automation.helpers import T0, CountingMessenger, add_segment


def _flow(trigger: dict[str, Any], *actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "Flow",
        "trigger": trigger,
        "actions": list(actions) or [{"type": "send_message", "template": "hi"}],
        **extra,
    }


def test_event_trigger_filters_on_properties(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """Only events whose properties pass the filter start a run."""
    workflow = ws.automations.create_workflow(
        _flow(
            {
                "type": "event",
                "event": "purchase",
                "filter": [
                    {"field": "plan", "operator": "equals", "value": "gold"},
                    {"field": "value", "operator": ">=", "value": 20},
                ],
            }
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "purchase", properties={"plan": "gold"}, value=10)
    ws.fans.record_event("fan-2", "purchase", properties={"plan": "silver"}, value=50)
    ws.fans.record_event("fan-3", "purchase", properties={"plan": "gold"}, value=25)
    ws.fans.record_event("fan-4", "refund", properties={"plan": "gold"}, value=25)
    assert [r.fan_id for r in ws.automations.list_runs(workflow.id)] == ["fan-3"]


def test_seed_config_nesting_is_accepted(ws: Workspace) -> None:
    """{"type": "event", "config": {"event": ...}} (the seed's model comment) works too."""
    workflow = ws.automations.create_workflow(
        _flow({"type": "event", "config": {"event": "fan.subscribed"}})
    )
    assert workflow.trigger == {"type": "event", "event": "fan.subscribed"}


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [
        ({}, 1),
        ({"reentry": "always"}, 3),
        ({"reentry": "once_per_window", "reentryWindow": "2 days"}, 2),
    ],
)
def test_reentry_policies(
    core: CampaignCore,
    ws: Workspace,
    clock: FakeClock,
    reentry: dict[str, Any],
    expected: int,
) -> None:
    """never (default): one run ever; always: one per event; once_per_window: spaced entries."""
    workflow = ws.automations.create_workflow(
        _flow({"type": "event", "event": "go"}, settings=reentry), activate=True
    )
    ws.fans.record_event("fan-1", "go")
    clock.advance("1 day")
    ws.fans.record_event("fan-1", "go")
    clock.advance("2 days")
    ws.fans.record_event("fan-1", "go")
    assert len(ws.automations.list_runs(workflow.id)) == expected


def test_conditions_gate_entry(core: CampaignCore, ws: Workspace) -> None:
    """The seed's conditions list must hold for the fan to enter."""
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "event", "event": "go"},
            conditions=[{"field": "spendingLevel", "operator": "in", "value": ["high", "vip"]}],
        ),
        activate=True,
    )
    ws.fans.upsert_fan("fan-low", spending_level="low")
    ws.fans.upsert_fan("fan-vip", spending_level="vip")
    ws.fans.record_event("fan-low", "go")
    ws.fans.record_event("fan-vip", "go")
    assert [r.fan_id for r in ws.automations.list_runs(workflow.id)] == ["fan-vip"]


def test_behavior_trigger_reenrols_only_after_leaving(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """With reentry always, a fan re-enters after they stopped matching and match again."""
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "behavior", "condition": "no_activity_days >= 14"},
            settings={"reentry": "always"},
        ),
        activate=True,
    )
    ws.fans.upsert_fan("fan-1", last_activity_at=T0 - timedelta(days=20))
    core.tick()
    clock.advance("1 hour")
    core.tick()
    assert len(ws.automations.list_runs(workflow.id)) == 1
    ws.fans.record_event("fan-1", "like")  # active again: stops matching
    clock.advance("1 hour")
    core.tick()
    clock.advance("14 days")
    core.tick()
    assert len(ws.automations.list_runs(workflow.id)) == 2


def test_behavior_trigger_can_skip_fans_already_matching(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """enrolExisting false: the first sweep only records who matches."""
    ws.fans.upsert_fan("fan-old", last_activity_at=T0 - timedelta(days=20))
    ws.fans.upsert_fan("fan-new", last_activity_at=T0)
    workflow = ws.automations.create_workflow(
        _flow({"type": "behavior", "condition": "no_activity_days >= 14", "enrolExisting": False}),
        activate=True,
    )
    core.tick()
    assert ws.automations.list_runs(workflow.id) == []
    clock.advance("14 days")
    core.tick()
    assert [r.fan_id for r in ws.automations.list_runs(workflow.id)] == ["fan-new"]


def test_behavior_sweep_is_paged_and_resumes_across_ticks(
    local_store: Any, core_factory: Any, clock: FakeClock
) -> None:
    """A sweep over more fans than the per-tick budget continues at the next tick."""
    core = core_factory(
        local_store,
        settings=Settings(automation=AutomationSettings(sweep_page_size=3, sweep_fans_per_tick=5)),
    )
    ws = core.for_actor(Actor("owner-1"))
    ws.fans.import_fans(
        [{"fan_id": f"fan-{i:02d}", "last_activity_at": T0 - timedelta(days=30)} for i in range(12)]
    )
    workflow = ws.automations.create_workflow(
        _flow({"type": "behavior", "condition": "no_activity_days >= 14"}), activate=True
    )
    counts = []
    for _ in range(4):
        counts.append(core.tick().automation_runs_enrolled)
    assert counts == [6, 6, 0, 0]
    assert len(ws.automations.list_runs(workflow.id)) == 12


def test_time_trigger_fires_over_a_segment_on_its_cron(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A weekly cron (in the workflow's zone) enrols the segment's members once per fire."""
    segment = add_segment(core.store, "owner-1", "vip")
    for fan in ("fan-1", "fan-2"):
        ws.fans.upsert_fan(fan)
    with core.store.unit_of_work() as uow:
        for fan in ("fan-1", "fan-2"):
            uow.segment_members.add(
                SegmentMember(id=f"m-{fan}", segment_id=segment.id, fan_id=fan, added_at=T0)
            )
        uow.commit()
    ws.fans.upsert_fan("fan-outside")
    # 2026-01-01 is a Thursday; Mondays 09:00 in Paris are 08:00 UTC in winter
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "time", "cron": "0 9 * * mon", "timeZone": "Europe/Paris", "segment": "vip"},
            settings={"reentry": "always"},
        ),
        activate=True,
    )
    core.tick()
    assert messenger.templates() == []
    clock.set(datetime(2026, 1, 5, 7, 59, tzinfo=UTC))
    core.tick()
    assert messenger.templates() == []
    clock.set(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    core.tick()
    assert sorted(m["fan_id"] for m in messenger.delivered.values()) == ["fan-1", "fan-2"]
    clock.advance("1 hour")
    core.tick()
    assert len(messenger.delivered) == 2  # one fire, one entry each
    clock.set(datetime(2026, 1, 12, 8, 0, tzinfo=UTC))
    core.tick()
    assert len(messenger.delivered) == 4
    runs = ws.automations.list_runs(workflow.id)
    assert {r.trigger_data["firedAt"] for r in runs} == {
        "2026-01-05T08:00:00.000Z",
        "2026-01-12T08:00:00.000Z",
    }


def test_time_trigger_on_a_date_fires_once_for_every_fan(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """An 'at' trigger without a segment enrols every fan of the account once."""
    ws.fans.upsert_fan("fan-1")
    ws.fans.upsert_fan("fan-2")
    ws.automations.create_workflow(
        _flow({"type": "time", "at": "2026-02-14T10:00:00Z"}), activate=True
    )
    clock.set(datetime(2026, 2, 14, 10, 0, tzinfo=UTC))
    core.tick()
    clock.advance("7 days")
    core.tick()
    assert len(messenger.delivered) == 2


def test_segment_entered_trigger_fires_from_the_runtime_hook(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """Fans entering a segment (through the runtime's hook) start segment_entered runs."""
    segment = add_segment(core.store, "owner-1", "vip")
    ws.fans.upsert_fan("fan-1")
    workflow = ws.automations.create_workflow(
        _flow({"type": "segment_entered", "segment": "vip"}), activate=True
    )
    rt = core.runtime
    with rt.transaction() as tx:
        stored = tx.uow.segments.get(segment.id)
        assert isinstance(stored, Segment)
        for hook in rt.segment_entered_hooks:
            hook(tx, stored, ["fan-1", "unknown-fan"])
    [run] = ws.automations.list_runs(workflow.id)
    assert run.trigger_data["segmentId"] == segment.id
    core.tick()
    assert messenger.templates() == ["hi"]


def test_exit_on_goal_event_ends_the_run(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """settings.exitOn: a purchase ends the fan's run before the next message."""
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "event", "event": "go"},
            {"type": "wait", "duration": "1 day"},
            {"type": "send_message", "template": "nudge"},
            settings={"exitOn": ["purchase"]},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    ws.fans.record_event("fan-1", "purchase", value=9.99)
    clock.advance("2 days")
    core.tick()
    assert messenger.templates() == []
    [run] = ws.automations.list_runs(workflow.id)
    assert (run.status, run.outcome) == ("exited", "goal reached: purchase")


def test_evaluate_trigger(core: CampaignCore, ws: Workspace, clock: FakeClock) -> None:
    """evaluate_trigger answers for each trigger type without enrolling anyone."""
    event = {"type": "event", "event": "purchase", "filter": {"plan": "gold"}}
    assert ws.automations.evaluate_trigger(
        event, {"event": {"name": "purchase", "properties": {"plan": "gold"}}}
    )
    assert not ws.automations.evaluate_trigger(
        event, {"event": {"name": "purchase", "properties": {"plan": "tin"}}}
    )
    ws.fans.upsert_fan("fan-1", last_activity_at=T0 - timedelta(days=15))
    behavior = {"type": "behavior", "condition": "no_activity_days >= 14"}
    assert ws.automations.evaluate_trigger(behavior, {"fanId": "fan-1"})
    cron = {"type": "time", "cron": "*/15 * * * *"}
    assert ws.automations.evaluate_trigger(cron, {"at": "2026-01-01T10:30:00Z"})
    assert not ws.automations.evaluate_trigger(cron, {"at": "2026-01-01T10:31:00Z"})
    add_segment(core.store, "owner-1", "vip", segment_id="seg-9")
    entered = {"type": "segment_entered", "segment": "vip"}
    assert ws.automations.evaluate_trigger(entered, {"segment": "seg-9"})
