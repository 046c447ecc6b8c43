"""AutomationService: CRUD, listing, permissions, scoping, manual execution, history and stats."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    Workspace,
    to_json,
)
from campaign_core.models import RunStatus
from campaign_core.testing.helpers import snapshot
from tests.automation.helpers import CountingMessenger, welcome, win_back


def test_create_get_update_list_delete(core: CampaignCore, ws: Workspace) -> None:
    """The seed's workflow CRUD, with the canonical definition stored."""
    created = ws.automations.create_workflow(welcome())
    assert created.status == "paused"
    assert created.actions[0] == {"id": "step-1", "type": "wait", "duration": "5 minutes"}
    assert ws.automations.get_workflow(created.id) == created
    updated = ws.automations.update_workflow(created.id, description="Say hi")
    assert updated.description == "Say hi"
    other = ws.automations.create_workflow(
        name="Ping",
        trigger={"type": "event", "event": "ping"},
        actions=[{"type": "send_message", "template": "pong"}],
    )
    page = ws.automations.list_workflows()
    assert [w.id for w in page.items] == [other.id, created.id] or page.total == 2
    assert ws.automations.list_workflows(trigger_type="event", limit=1).next_cursor == "1"
    ws.automations.delete_workflow(created.id)
    with pytest.raises(NotFoundError):
        ws.automations.get_workflow(created.id)
    assert ws.automations.list_workflows().total == 1


def test_bad_workflow_stores_nothing(core: CampaignCore, ws: Workspace) -> None:
    """A malformed workflow raises ValidationError with paths and leaves the store unchanged."""
    before = snapshot(core.store)
    bad = welcome()
    bad["actions"][2]["duration"] = "24 hourz"
    bad["actions"].append({"type": "add_to_segment", "segment": "nope"})
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(bad, activate=True)
    assert [p.path for p in info.value.problems] == ["actions[2].duration"]
    bad["actions"][2]["duration"] = "24 hours"
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(bad)
    assert [(p.path, p.code) for p in info.value.problems] == [
        ("actions[6].segment", "unknown_segment")
    ]
    with pytest.raises(ValidationError):
        ws.automations.create_workflow(welcome(), colour="blue")
    assert snapshot(core.store) == before


def test_update_with_bad_input_changes_nothing(core: CampaignCore, ws: Workspace) -> None:
    """A rejected update leaves the workflow and its versions as they were."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        ws.automations.update_workflow(workflow.id, actions=[{"type": "wait"}])
    assert info.value.problems[0].path == "actions[0]"
    with pytest.raises(ValidationError):
        ws.automations.register_trigger(workflow.id, {"type": "event"})
    assert snapshot(core.store) == before


def test_register_trigger_replaces_the_trigger(ws: Workspace) -> None:
    """register_trigger swaps the trigger and makes a new version."""
    workflow = ws.automations.create_workflow(welcome())
    changed = ws.automations.register_trigger(
        workflow.id, {"type": "event", "event": "fan.resubscribed"}
    )
    assert changed.trigger == {"type": "event", "event": "fan.resubscribed"}
    assert changed.workflow_version == 2


def test_accounts_are_isolated_and_roles_enforced(core: CampaignCore, ws: Workspace) -> None:
    """Another account sees nothing; a viewer can read but not write or activate."""
    workflow = ws.automations.create_workflow(welcome())
    stranger = core.for_actor(Actor("owner-2"))
    with pytest.raises(NotFoundError):
        stranger.automations.get_workflow(workflow.id)
    with pytest.raises(NotFoundError):
        stranger.automations.activate_workflow(workflow.id)
    viewer = core.for_actor(Actor("viewer-1", role="viewer", account_id="owner-1"))
    assert viewer.automations.get_workflow(workflow.id).id == workflow.id
    with pytest.raises(PermissionDeniedError):
        viewer.automations.create_workflow(welcome())
    with pytest.raises(PermissionDeniedError):
        viewer.automations.activate_workflow(workflow.id)
    editor = core.for_actor(Actor("editor-1", role="editor", account_id="owner-1"))
    with pytest.raises(PermissionDeniedError):
        editor.automations.delete_workflow(workflow.id)


def test_events_of_one_account_do_not_trigger_anothers_workflows(
    core: CampaignCore, ws: Workspace
) -> None:
    """Event triggers are scoped to the owner."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    core.for_actor(Actor("owner-2")).fans.record_event("fan-1", "fan.subscribed")
    assert ws.automations.list_runs(workflow.id) == []


def test_execute_workflow_runs_due_steps_now(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """execute_workflow starts a run and runs its steps up to the first wait."""
    workflow = ws.automations.create_workflow(
        {
            "name": "Now",
            "trigger": {"type": "event", "event": "never"},
            "actions": [
                {"type": "send_message", "template": "a"},
                {"type": "send_message", "template": "b"},
                {"type": "wait", "duration": "1 day"},
                {"type": "send_message", "template": "c"},
            ],
        },
        activate=True,
    )
    ws.fans.upsert_fan("fan-1")
    result = ws.automations.execute_workflow(
        workflow.id, "fan-1", {"reason": "test"}, entry_key="k1"
    )
    assert result.entered
    assert messenger.templates() == ["a", "b"]
    assert result.run is not None
    assert result.run.cursor == "step-3"
    assert result.run.trigger_data == {"type": "manual", "context": {"reason": "test"}}
    again = ws.automations.execute_workflow(workflow.id, "fan-1", entry_key="k1")
    assert (again.entered, again.reason, again.status) == (False, "re-entry policy", "not_entered")
    assert to_json(result)["run"]["cursor"] == "step-3"


def test_execute_workflow_explains_why_not(core: CampaignCore, ws: Workspace) -> None:
    """Conditions, opt-out and lifecycle are reported."""
    flow = win_back()
    flow["actions"] = [{"type": "send_message", "template": "x"}]
    workflow = ws.automations.create_workflow(flow)
    ws.fans.upsert_fan("fan-1", subscription_status="expired")
    with pytest.raises(InvalidTransitionError):
        ws.automations.execute_workflow(workflow.id, "fan-1")
    ws.automations.activate_workflow(workflow.id)
    assert ws.automations.execute_workflow(workflow.id, "fan-1").reason == "conditions not met"
    ws.fans.upsert_fan("fan-2", opted_out=True)
    assert ws.automations.execute_workflow(workflow.id, "fan-2").reason == "fan opted out"
    with pytest.raises(NotFoundError):
        ws.automations.execute_workflow(workflow.id, "nobody")


def test_enroll_fans_in_bulk_and_cancel_a_run(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """enroll_fans starts many runs; cancel_run stops one."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.import_fans([{"fan_id": f"fan-{i}"} for i in range(5)])
    assert ws.automations.enroll_fans(workflow.id, [f"fan-{i}" for i in range(5)] + ["ghost"]) == 5
    assert ws.automations.enroll_fans(workflow.id, ["fan-1"]) == 0
    run = ws.automations.list_runs(workflow.id, fan_id="fan-0")[0]
    cancelled = ws.automations.cancel_run(run.id)
    assert cancelled.status is RunStatus.CANCELLED
    with pytest.raises(InvalidTransitionError):
        ws.automations.cancel_run(run.id)
    clock.advance("5 minutes")
    core.tick()
    assert len(messenger.delivered) == 4


def test_stats_per_workflow_and_step(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Entered, completed, waiting, success rate and durations, per workflow and per step."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    for fan in ("fan-1", "fan-2", "fan-3"):
        ws.fans.record_event(fan, "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    ws.fans.upsert_fan("fan-3", opted_out=True)
    stats = ws.automations.get_execution_stats(workflow.id)
    assert (stats.entered, stats.active, stats.cancelled, stats.waiting) == (3, 2, 1, 2)
    steps = {s.step_id: s for s in stats.steps}
    assert steps["step-2"].completed == 3
    assert steps["step-3"].waiting == 2
    clock.advance("24 hours")
    core.tick()
    clock.advance("3 days")
    core.tick()
    stats = ws.automations.get_execution_stats(workflow.id)
    assert (stats.completed, stats.success, stats.partial) == (2, 2, 1)
    assert stats.success_rate == pytest.approx(2 / 3)
    steps = {s.step_id: s for s in stats.steps}
    assert steps["step-3"].avg_duration_ms == 24 * 3600 * 1000
    assert steps["step-6.true-1"].completed == 2
    assert steps["step-6.true-1"].success_rate == 1.0
    json_stats: Any = to_json(stats)
    assert json_stats["steps"][0]["stepId"] == "step-1"


def test_history_filters(core: CampaignCore, ws: Workspace, clock: FakeClock) -> None:
    """get_execution_history filters by status and fan and pages."""
    workflow = ws.automations.create_workflow(
        {
            "name": "Quick",
            "trigger": {"type": "event", "event": "go"},
            "actions": [{"type": "send_message", "template": "x"}],
        },
        activate=True,
    )
    for fan in ("fan-1", "fan-2"):
        ws.fans.record_event(fan, "go")
    core.tick()
    history = ws.automations.get_execution_history(workflow.id)
    assert len(history) == 2
    assert [
        e.fan_id for e in ws.automations.get_execution_history(workflow.id, fan_id="fan-2")
    ] == ["fan-2"]
    assert ws.automations.get_execution_history(workflow.id, status="failure") == []
    assert len(ws.automations.get_execution_history(workflow.id, limit=1)) == 1
    with pytest.raises(ValidationError):
        ws.automations.get_execution_history(workflow.id, status="meh")


def test_workflow_changes_are_audited(core: CampaignCore, ws: Workspace, clock: FakeClock) -> None:
    """Creating, activating and updating a workflow leave audit records; engine writes are 'system'."""
    workflow = ws.automations.create_workflow(
        {
            "name": "Tagger",
            "trigger": {"type": "event", "event": "go"},
            "actions": [{"type": "update_fan", "fields": {"engagement": 10}}],
        },
        activate=True,
    )
    ws.automations.update_workflow(workflow.id, name="Tagger 2")
    records = ws.audit.list_records(entity="automation", entity_id=workflow.id)
    assert [r.action for r in reversed(records)] == [
        "automation.create",
        "automation.create",
        "automation.update",
    ]
    ws.fans.record_event("fan-1", "go")
    core.tick()
    fan_records = ws.audit.list_records(entity="fan", fan_id="fan-1")
    assert fan_records[0].action == "automation.run"
    assert fan_records[0].actor_id == "system"


def test_automation_run_limit_throttles_starts(
    local_store: Any, core_factory: Any, clock: FakeClock
) -> None:
    """With a per-account automation-run limit, runs over it start later instead of being dropped."""
    from datetime import timedelta

    from campaign_core import Settings
    from campaign_core.ratelimit import Limit, RateLimits

    messenger = CountingMessenger()
    core = core_factory(
        local_store,
        messenger=messenger,
        settings=Settings(rate_limits=RateLimits(automation_runs=Limit(2, timedelta(hours=1)))),
    )
    ws = core.for_actor(Actor("owner-1"))
    ws.automations.create_workflow(
        {
            "name": "Hi",
            "trigger": {"type": "event", "event": "go"},
            "actions": [{"type": "send_message", "template": "hi"}],
        },
        activate=True,
    )
    for fan in ("fan-1", "fan-2", "fan-3"):
        ws.fans.record_event(fan, "go")
    core.tick()
    assert len(messenger.delivered) == 2
    clock.advance("1 hour")
    core.tick()
    assert len(messenger.delivered) == 3
