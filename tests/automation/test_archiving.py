"""Archiving workflows: paused only, no held runs, out of listings and the rules cache, restorable."""

from __future__ import annotations

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    ConflictError,
    FakeClock,
    InvalidTransitionError,
    PermissionDeniedError,
    Workspace,
)
from campaign_core.lifecycle import WORKFLOW_TRANSITIONS, next_workflow_status
from campaign_core.models import AutomationStatus
from campaign_core.testing import snapshot
from tests.automation.helpers import welcome


def test_the_workflow_table() -> None:
    """archive from paused only, restore from archived only, back to paused."""
    assert next_workflow_status("paused", "archive") is AutomationStatus.ARCHIVED
    assert next_workflow_status("archived", "restore") is AutomationStatus.PAUSED
    for status in AutomationStatus:
        for action in ("archive", "restore", "activate", "deactivate"):
            if (status, action) not in WORKFLOW_TRANSITIONS:
                with pytest.raises(InvalidTransitionError) as info:
                    next_workflow_status(status, action)
                assert info.value.details["current"] == status.value


def test_archive_and_restore_a_paused_workflow(core: CampaignCore, ws: Workspace) -> None:
    """Archived: out of the default list, readable by id, not activatable; restored: paused."""
    workflow = ws.automations.create_workflow(welcome())
    other = ws.automations.create_workflow(welcome())
    archived = ws.automations.archive_workflow(workflow.id)
    assert archived.status is AutomationStatus.ARCHIVED
    assert [w.id for w in ws.automations.list_workflows().items] == [other.id]
    assert ws.automations.list_workflows(include_archived=True).total == 2
    assert [w.id for w in ws.automations.list_workflows(status="archived").items] == [workflow.id]
    assert ws.automations.get_workflow(workflow.id).status is AutomationStatus.ARCHIVED
    before = snapshot(core.store)
    with pytest.raises(InvalidTransitionError) as info:
        ws.automations.activate_workflow(workflow.id)
    assert info.value.current == "archived"
    assert snapshot(core.store) == before

    restored = ws.automations.restore_workflow(workflow.id)
    assert restored.status is AutomationStatus.PAUSED
    assert ws.automations.activate_workflow(workflow.id).status is AutomationStatus.ACTIVE
    actions = [r.action for r in ws.audit.list_records(entity="automation", entity_id=workflow.id)]
    assert actions[:3] == ["automation.activate", "automation.restore", "automation.archive"]


def test_an_active_workflow_is_not_archived(core: CampaignCore, ws: Workspace) -> None:
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    before = snapshot(core.store)
    with pytest.raises(InvalidTransitionError) as info:
        ws.automations.archive_workflow(workflow.id)
    assert (info.value.current, info.value.action) == ("active", "archive")
    with pytest.raises(InvalidTransitionError) as restore:
        ws.automations.restore_workflow(workflow.id)
    assert restore.value.current == "active"
    assert snapshot(core.store) == before


def test_a_workflow_with_held_runs_is_not_archived(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """Held runs would never finish: archiving refuses and says how many."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    ws.automations.deactivate_workflow(workflow.id)
    before = snapshot(core.store)
    with pytest.raises(ConflictError) as info:
        ws.automations.archive_workflow(workflow.id)
    assert info.value.details["held_runs"] == 1
    assert snapshot(core.store) == before


def test_archiving_drops_the_compiled_rules(core: CampaignCore, ws: Workspace) -> None:
    workflow = ws.automations.create_workflow(welcome())
    ws.automations.get_definition(workflow.id)
    rules = core.runtime.caches.automation_rules
    key = (workflow.user_id, workflow.id, workflow.workflow_version, workflow.version)
    assert rules.get(key) is not None
    ws.automations.archive_workflow(workflow.id)
    assert rules.get(key) is None


def test_viewers_may_not_archive(core: CampaignCore, ws: Workspace) -> None:
    workflow = ws.automations.create_workflow(welcome())
    viewer = core.for_actor(Actor("viewer-1", role="viewer", account_id="owner-1"))
    with pytest.raises(PermissionDeniedError):
        viewer.automations.archive_workflow(workflow.id)
