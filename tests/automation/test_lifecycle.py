"""Pause and resume with overdue policies, version pinning, loops across workflows."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import (
    CampaignCore,
    FakeClock,
    InvalidTransitionError,
    ValidationError,
    Workspace,
)
from campaign_core.models import RunStatus, StepStatus
from tests.automation.helpers import CountingMessenger, add_segment, welcome


def _flow(trigger: dict[str, Any], *actions: dict[str, Any], name: str = "Flow") -> dict[str, Any]:
    return {"name": name, "trigger": trigger, "actions": list(actions)}


def _paused_mid_run(core: CampaignCore, ws: Workspace, clock: FakeClock) -> str:
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()  # welcome sent; waiting 24 hours
    ws.automations.deactivate_workflow(workflow.id)
    clock.advance("2 days")
    core.tick()  # the showcase fell due while paused: held
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.HELD
    return workflow.id


def test_paused_workflow_holds_runs_and_run_late_sends_on_resume(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Paused: nothing is sent; resumed with run_late: the overdue step runs at once."""
    workflow_id = _paused_mid_run(core, ws, clock)
    assert messenger.templates() == ["welcome_message"]
    ws.automations.activate_workflow(workflow_id, overdue_policy="run_late")
    core.tick()
    assert messenger.templates() == ["welcome_message", "content_showcase"]


def test_skip_overdue_skips_the_step_that_fell_due(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """skip_overdue: the late message is skipped (recorded), the run goes on from there."""
    workflow_id = _paused_mid_run(core, ws, clock)
    ws.automations.activate_workflow(workflow_id, overdue_policy="skip_overdue")
    core.tick()
    assert messenger.templates() == ["welcome_message"]
    [run] = ws.automations.list_runs(workflow_id)
    assert run.cursor == "step-5"  # waiting 3 days from the resume
    history = ws.automations.get_step_history(run.id)
    assert [h.step_id for h in history if h.status is StepStatus.SKIPPED] == ["step-4"]
    clock.advance("3 days")
    core.tick()
    assert messenger.templates() == ["welcome_message", "re_engagement"]


def test_cancel_policy_cancels_overdue_runs(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """cancel: runs with an overdue step are cancelled on resume."""
    workflow_id = _paused_mid_run(core, ws, clock)
    ws.automations.activate_workflow(workflow_id, overdue_policy="cancel")
    core.tick()
    [run] = ws.automations.list_runs(workflow_id)
    assert run.status is RunStatus.CANCELLED
    assert messenger.templates() == ["welcome_message"]


def test_paused_workflow_takes_no_new_entries(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """Events for a paused workflow start nothing, and lifecycle moves are checked."""
    workflow = ws.automations.create_workflow(welcome())
    assert workflow.status == "paused"
    ws.fans.record_event("fan-1", "fan.subscribed")
    assert ws.automations.list_runs(workflow.id) == []
    with pytest.raises(InvalidTransitionError):
        ws.automations.deactivate_workflow(workflow.id)
    ws.automations.activate_workflow(workflow.id)
    with pytest.raises(InvalidTransitionError):
        ws.automations.activate_workflow(workflow.id)


def test_runs_finish_the_version_they_started(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Editing a workflow mid-run: running fans keep the old steps, new fans get the new ones."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-old", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    changed = welcome()
    changed["actions"][3]["template"] = "new_showcase"
    updated = ws.automations.update_workflow(workflow.id, actions=changed["actions"])
    assert updated.workflow_version == 2
    ws.fans.record_event("fan-new", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    clock.advance("24 hours")
    core.tick()
    assert messenger.templates("fan-old") == ["welcome_message", "content_showcase"]
    assert messenger.templates("fan-new") == ["welcome_message", "new_showcase"]
    old = ws.automations.get_definition(workflow.id, version=1)
    assert old.step("step-4").params["template"] == "content_showcase"  # type: ignore[union-attr]
    runs = {r.fan_id: r.workflow_version for r in ws.automations.list_runs(workflow.id)}
    assert runs == {"fan-old": 1, "fan-new": 2}


def test_renaming_does_not_bump_the_workflow_version(ws: Workspace) -> None:
    """Only definition changes make a new version."""
    workflow = ws.automations.create_workflow(welcome())
    renamed = ws.automations.update_workflow(workflow.id, name="Hello series")
    assert (renamed.name, renamed.workflow_version) == ("Hello series", 1)


def test_loop_of_emitted_events_is_rejected_at_activation(ws: Workspace) -> None:
    """A emits x which triggers B, B emits y which triggers A: the second activation fails."""
    a = ws.automations.create_workflow(
        _flow({"type": "event", "event": "y"}, {"type": "emit_event", "event": "x"}, name="A"),
        activate=True,
    )
    b = ws.automations.create_workflow(
        _flow({"type": "event", "event": "x"}, {"type": "emit_event", "event": "y"}, name="B")
    )
    with pytest.raises(ValidationError) as info:
        ws.automations.activate_workflow(b.id)
    [problem] = info.value.problems
    assert problem.path == "actions[0].event"
    assert problem.code == "cycle"
    assert "'B' --emit 'y'--> 'A' --emit 'x'--> 'B'" in problem.message
    assert ws.automations.get_workflow(b.id).status == "paused"
    assert ws.automations.get_workflow(a.id).status == "active"


def test_workflow_triggering_itself_is_rejected(ws: Workspace) -> None:
    """Emitting the event that triggers the same workflow is a cycle too."""
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(
            _flow({"type": "event", "event": "x"}, {"type": "emit_event", "event": "x"}),
            activate=True,
        )
    assert info.value.problems[0].code == "cycle"
    assert ws.automations.list_workflows().total == 0


def test_loop_through_segments_is_rejected(core: CampaignCore, ws: Workspace) -> None:
    """A adds to S (by name) which triggers B (by id); B adds to T which triggers A."""
    s = add_segment(core.store, "owner-1", "S")
    add_segment(core.store, "owner-1", "T")
    ws.automations.create_workflow(
        _flow(
            {"type": "segment_entered", "segment": "T"},
            {"type": "add_to_segment", "segment": "S"},
            name="A",
        ),
        activate=True,
    )
    b = ws.automations.create_workflow(
        _flow(
            {"type": "segment_entered", "segment": s.id},
            {"type": "add_to_segment", "segment": "T"},
            name="B",
        )
    )
    with pytest.raises(ValidationError) as info:
        ws.automations.activate_workflow(b.id)
    assert info.value.problems[0].path == "actions[0].segment"


def test_chains_without_a_loop_run_end_to_end(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """emit_event and add_to_segment start other workflows (no loop, so allowed)."""
    add_segment(core.store, "owner-1", "engaged")
    ws.automations.create_workflow(
        _flow(
            {"type": "event", "event": "start"}, {"type": "emit_event", "event": "middle"}, name="A"
        ),
        activate=True,
    )
    ws.automations.create_workflow(
        _flow(
            {"type": "event", "event": "middle"},
            {"type": "add_to_segment", "segment": "engaged"},
            name="B",
        ),
        activate=True,
    )
    ws.automations.create_workflow(
        _flow(
            {"type": "segment_entered", "segment": "engaged"},
            {"type": "send_message", "template": "welcome_to_engaged"},
            name="C",
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "start")
    for _ in range(3):
        core.tick()
    assert messenger.templates() == ["welcome_to_engaged"]
    events = ws.fans.list_events("fan-1")
    assert [e.name for e in events] == ["middle", "start"]
    assert events[0].properties["_automation"]["depth"] == 1
