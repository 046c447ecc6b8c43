"""condition_split: the first branch whose criteria the fan meets wins, else the default."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from campaign_core.models import RunStatus, SegmentMember
from tests.automation.helpers import T0, CountingMessenger, add_segment, welcome, win_back


def _split(**extra: Any) -> dict[str, Any]:
    return {
        "type": "condition_split",
        "id": "tier",
        "branches": [
            {
                "name": "vip",
                "when": {
                    "any": [
                        {"in_segment": "seg-vip"},
                        {"field": "lifetime_value", "op": "gte", "value": 500},
                    ]
                },
                "then": [{"type": "send_message", "template": "vip_offer"}],
            },
            {
                "name": "buyer",
                "when": "count(purchase, within 30 days) >= 1",
                "then": {"type": "send_message", "template": "thanks"},
            },
            {"name": "engaged", "when": {"engagement": ">50"}, "next": "bye"},
        ],
        "default": [{"type": "send_message", "template": "generic"}],
        **extra,
    }


def _flow(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Split", "trigger": {"type": "event", "event": "go"}, "actions": list(actions)}


FLOW = _flow(_split(), {"type": "send_message", "template": "bye", "id": "bye"})


def _problems(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow(*actions))
    return [(p.path, p.code) for p in caught.value.problems]


def test_a_split_parses_into_branches_and_round_trips() -> None:
    """Each branch's head is its first action, else its next, else the step after the split."""
    workflow = parse_workflow(FLOW)
    step = workflow.step("tier")
    assert step is not None
    assert [(b.name, b.next) for b in step.split] == [
        ("vip", "tier.vip-1"),
        ("buyer", "tier.buyer-1"),
        ("engaged", "bye"),
        ("default", "tier.default-1"),
    ]
    assert step.split[-1].criteria is None
    assert parse_workflow(workflow.to_json()) == workflow
    # the branch's actions go on with the step after the split
    assert workflow.step("tier.vip-1").next == "bye"  # type: ignore[union-attr]


def test_the_seed_workflows_are_still_accepted_verbatim() -> None:
    """Adding a step type changes nothing for the seed's two workflows."""
    for flow in (welcome(), win_back()):
        assert parse_workflow(flow).name == flow["name"]


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (
            [{"type": "condition_split", "branches": [{"when": "engagement > 1", "then": []}]}],
            [("actions[0].default", "required")],
        ),
        (
            [{"type": "condition_split", "default": []}],
            [("actions[0].branches", "required")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "branches": [{"when": "engagement > 1", "next": "nowhere"}],
                    "default": [],
                }
            ],
            [("actions[0].branches[0].next", "unknown_step")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "id": "loop",
                    "branches": [{"when": "engagement > 1", "next": "loop"}],
                    "default": [],
                }
            ],
            [("actions[0].branches[0]", "cycle")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "branches": [{"when": "engagement > 1", "then": [{"type": "exit"}]}],
                    "default": [{"type": "exit"}],
                },
                {"type": "wait", "duration": "1 day"},
            ],
            [("actions[1]", "unreachable")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "branches": [{"when": {"no_such_field": 1}, "then": []}],
                    "default": [],
                }
            ],
            [("actions[0].branches[0].when.no_such_field", "unknown_field")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "branches": [
                        {"name": "a", "when": "engagement > 1", "then": []},
                        {"name": "a", "when": "engagement > 2", "then": []},
                    ],
                    "default": [],
                }
            ],
            [("actions[0].branches[1].name", "duplicate")],
        ),
        (
            [
                {
                    "type": "condition_split",
                    "branches": [{"when": "engagement > 1"}],
                    "default": {"then": [], "when": "x"},
                }
            ],
            [("actions[0].branches[0]", "required"), ("actions[0].default.when", "unknown_field")],
        ),
    ],
)
def test_split_validation_reports_each_problem_with_its_path(
    actions: list[dict[str, Any]], expected: list[tuple[str, str]]
) -> None:
    """No default, unknown targets, cycles through branches, unreachable steps, bad criteria."""
    assert _problems(actions) == expected


def test_waits_inside_branches_count_towards_the_timeout() -> None:
    """The longest path goes through the branch with the longest wait."""
    flow = _flow(
        {
            "type": "condition_split",
            "branches": [
                {"when": "engagement > 1", "then": [{"type": "wait", "duration": "10 days"}]}
            ],
            "default": [{"type": "wait", "duration": "1 day"}],
        }
    )
    flow["settings"] = {"timeout": "7 days"}
    with pytest.raises(ValidationError) as caught:
        parse_workflow(flow)
    assert caught.value.problems[0].path == "settings.timeout"


def test_the_first_matching_branch_wins_and_is_recorded(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Segment membership, event history, fan fields, default: each fan takes one branch."""
    add_segment(core.store, "owner-1", "vip", segment_id="seg-vip")
    ws.fans.upsert_fan("fan-seg", lifetime_value=10.0)
    ws.fans.upsert_fan("fan-rich", lifetime_value=900.0)
    ws.fans.upsert_fan("fan-buyer", lifetime_value=10.0)
    ws.fans.upsert_fan("fan-engaged", engagement=80.0)
    ws.fans.upsert_fan("fan-none", engagement=1.0)
    with core.store.unit_of_work() as uow:
        uow.segment_members.add(
            SegmentMember(id="m-1", segment_id="seg-vip", fan_id="fan-seg", added_at=T0)
        )
        uow.commit()
    ws.fans.record_event("fan-buyer", "purchase")
    workflow = ws.automations.create_workflow(FLOW, activate=True)
    fans = ["fan-seg", "fan-rich", "fan-buyer", "fan-engaged", "fan-none"]
    for fan in fans:
        ws.fans.record_event(fan, "go")
    for _ in range(5):
        core.tick()
    runs = {r.fan_id: r for r in ws.automations.list_runs(workflow.id)}
    assert all(r.status is RunStatus.COMPLETED for r in runs.values())
    chosen = {}
    for fan, run in runs.items():
        [split] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "tier"]
        chosen[fan] = split.output["branch"]
    assert chosen == {
        "fan-seg": "vip",
        "fan-rich": "vip",
        "fan-buyer": "buyer",
        "fan-engaged": "engaged",
        "fan-none": "default",
    }
    sent = sorted((key.split(":")[1]) for key in messenger.delivered)
    assert sent == sorted(
        ["tier.vip-1", "tier.vip-1", "tier.buyer-1", "tier.default-1"] + ["bye"] * 5
    )
