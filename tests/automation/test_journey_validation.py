"""The journey checks at save, each with its path, and version pinning of runs inside branches."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import CampaignCore, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from tests.automation.helpers import CountingMessenger


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "name": "Journey",
        "trigger": {"type": "event", "event": "cart.abandoned"},
        "actions": list(actions),
    }
    if settings:
        flow["settings"] = settings
    return flow


SEND = {"type": "send_message", "template": "hello"}

CASES = {
    "unreachable step": (
        _flow({"type": "exit", "id": "done"}, {**SEND, "id": "never"}),
        [("actions[1]", "unreachable")],
    ),
    "a step no branch leads to": (
        _flow(
            {
                "type": "condition_split",
                "id": "who",
                "branches": [{"when": "engagement > 5", "next": "end"}],
                "default": {"next": "end"},
            },
            {**SEND, "id": "orphan"},
            {"type": "exit", "id": "end"},
        ),
        [("actions[1]", "unreachable")],
    ),
    "branches without a default": (
        _flow({"type": "condition_split", "branches": [{"when": "engagement > 5", "then": []}]}),
        [("actions[0].default", "required")],
    ),
    "a cycle through a branch": (
        _flow(
            {**SEND, "id": "again"},
            {
                "type": "condition_split",
                "id": "loop",
                "branches": [{"when": "engagement > 5", "next": "again"}],
                "default": [],
            },
        ),
        [("actions[1].branches[0]", "cycle")],
    ),
    "a cycle through a random path": (
        _flow(
            {**SEND, "id": "again"},
            {
                "type": "random_split",
                "branches": [
                    {"name": "a", "weight": 50, "next": "again"},
                    {"name": "b", "weight": 50, "then": []},
                ],
            },
        ),
        [("actions[1].branches[0]", "cycle")],
    ),
    "a wait inside a branch longer than the workflow timeout": (
        _flow(
            {
                "type": "condition_split",
                "branches": [
                    {
                        "when": "engagement > 5",
                        "then": [{"type": "wait_until", "event": "purchase", "timeout": "20 days"}],
                    }
                ],
                "default": [{"type": "wait", "duration": "1 day"}],
            },
            timeout="14 days",
        ),
        [("settings.timeout", "out_of_range")],
    ),
    "a segment wait longer than the workflow timeout": (
        _flow({"type": "wait_until", "segment": "vips", "timeout": "30 days"}, timeout="7 days"),
        [("settings.timeout", "out_of_range")],
    ),
    "split weights not adding up to 100": (
        _flow(
            {
                "type": "random_split",
                "branches": [{"weight": 60, "then": []}, {"weight": 30, "then": []}],
            }
        ),
        [("actions[0].branches", "out_of_range")],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_journey_problem_is_reported_at_its_path(case: str) -> None:
    """Unreachable steps, a missing default, cycles through branches, waits longer than the
    timeout and weights not adding up to 100: each a ValidationError with its path."""
    flow, expected = CASES[case]
    with pytest.raises(ValidationError) as caught:
        parse_workflow(flow)
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_a_rejected_journey_changes_nothing(ws: Workspace) -> None:
    """Saving a journey with a problem stores no workflow and no version."""
    flow, _ = CASES["a cycle through a branch"]
    with pytest.raises(ValidationError):
        ws.automations.create_workflow(flow)
    assert ws.automations.list_workflows().items == ()


def test_runs_inside_a_branch_finish_the_version_they_started(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """A run waiting inside a branch when the branches change finishes the old version;
    new entrants follow the new one (the pinning rules of the journeys how-to)."""
    old = _flow(
        {
            "type": "condition_split",
            "id": "who",
            "branches": [
                {
                    "name": "fan",
                    "when": "engagement > 5",
                    "then": [
                        {"type": "wait", "duration": "1 day", "id": "pause"},
                        {**SEND, "template": "old_fan_offer", "id": "offer"},
                    ],
                }
            ],
            "default": [],
        },
        reentry="always",
    )
    flow = ws.automations.create_workflow(old, activate=True)
    ws.fans.upsert_fan("ana", engagement=10.0)
    ws.fans.record_event("ana", "cart.abandoned")
    core.tick()
    new = _flow(
        {
            "type": "condition_split",
            "id": "who",
            "branches": [
                {
                    "name": "fan",
                    "when": "engagement > 5",
                    "then": [{**SEND, "template": "new_fan_offer", "id": "offer"}],
                },
                {"name": "quiet", "when": "engagement <= 5", "then": []},
            ],
            "default": [],
        },
        reentry="always",
    )
    updated = ws.automations.update_workflow(flow.id, actions=new["actions"])
    assert updated.workflow_version == 2
    ws.fans.upsert_fan("bo", engagement=10.0)
    ws.fans.record_event("bo", "cart.abandoned")
    core.tick()
    core.clock.advance("1 day")  # type: ignore[attr-defined]
    core.tick()
    sent = sorted((m["fan_id"], m["template"]) for m in messenger.delivered.values())
    assert sent == [("ana", "old_fan_offer"), ("bo", "new_fan_offer")]
    versions = {r.fan_id: r.workflow_version for r in ws.automations.list_runs(flow.id)}
    assert versions == {"ana": 1, "bo": 2}
