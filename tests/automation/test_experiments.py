"""Experiment paths: a random_split in experiment mode decides a winner by its policy, then routes."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from campaign_core import CampaignCore, Workspace
from campaign_core.abtesting import planned_horizon
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from campaign_core.models import ABTestStatus

EXPERIMENT: dict[str, Any] = {
    "name": "Which offer sells",
    "trigger": {"type": "event", "event": "cart.abandoned"},
    "settings": {"goal": {"event": "purchase", "within": "1 day"}, "reentry": "always"},
    "actions": [
        {
            "type": "random_split",
            "id": "offer",
            "experiment": {
                "policy": "fixed_horizon",
                "baselineRate": 0.2,
                "mde": 1.0,
                "minPerPath": 50,
            },
            "branches": [
                {"name": "reminder", "weight": 50, "then": []},
                {"name": "discount", "weight": 50, "then": []},
            ],
        },
    ],
}


def _flow(**experiment: Any) -> dict[str, Any]:
    flow = copy.deepcopy(EXPERIMENT)
    if experiment:
        flow["actions"][0]["experiment"] = experiment
    return flow


def _buys(fan: str, branch: str) -> bool:
    """A deterministic coin: discount buyers 60%, reminder buyers 15%."""
    digest = hashlib.sha256(fan.encode()).digest()[0] / 256
    return digest < (0.6 if branch == "discount" else 0.15)


def _enter(core: CampaignCore, ws: Workspace, flow_id: str, fans: list[str]) -> dict[str, str]:
    """The fans enter; those who buy (by their path) buy the next hour; path per fan."""
    for fan in fans:
        ws.fans.record_event(fan, "cart.abandoned")
    core.tick()
    paths = {}
    for run in ws.automations.list_runs(flow_id, limit=1000):
        if run.fan_id not in fans:
            continue
        [split] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "offer"]
        paths[run.fan_id] = split.output["branch"]
    core.clock.advance("1 hour")  # type: ignore[attr-defined]
    for fan in fans:
        if _buys(fan, paths[fan]):
            ws.fans.record_event(fan, "purchase", value=10.0)
    return paths


def test_an_experiment_parses_and_round_trips() -> None:
    """The plan is part of the canonical definition and parses back equal."""
    workflow = parse_workflow(EXPERIMENT)
    step = workflow.step("offer")
    assert step is not None
    assert step.experiment is not None
    assert step.experiment.policy == "fixed_horizon"
    assert step.experiment.min_per_path == 50
    assert parse_workflow(workflow.to_json()) == workflow


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"settings": {}}, [("actions[0].experiment", "required")]),
        (
            {"experiment": {"policy": "fixed_horizon", "mde": 0.2}},
            [("actions[0].experiment", "required")],
        ),
        ({"experiment": {"policy": "always_valid"}}, [("actions[0].experiment", "required")]),
        (
            {"experiment": {"policy": "always_valid", "tau": 0.02, "plannedHorizon": 100}},
            [("actions[0].experiment.plannedHorizon", "invalid_value")],
        ),
        (
            {"experiment": {"baselineRate": 0.6, "mde": 1.0}},
            [("actions[0].experiment.mde", "out_of_range")],
        ),
        (
            {"experiment": {"plannedHorizon": 100, "peek": True}},
            [("actions[0].experiment.peek", "unknown_field")],
        ),
        ({"experiment": {"policy": "naive"}}, [("actions[0].experiment.policy", "invalid_value")]),
        ({"experiment": "yes"}, [("actions[0].experiment", "invalid_type")]),
    ],
)
def test_experiment_validation_has_paths(
    change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Each bad plan is reported at its path; a plan needs the workflow's goal."""
    flow = copy.deepcopy(EXPERIMENT)
    if "settings" in change:
        flow["settings"] = change["settings"]
    if "experiment" in change:
        flow["actions"][0]["experiment"] = change["experiment"]
    with pytest.raises(ValidationError) as caught:
        parse_workflow(flow)
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_saving_fixes_the_plan_in_an_ab_test_record(core: CampaignCore, ws: Workspace) -> None:
    """The planned horizon is computed once, at save, over the weights; stats show it."""
    flow = ws.automations.create_workflow(EXPERIMENT, activate=True)
    [experiment] = ws.automations.get_goal_stats(flow.id).experiments
    assert experiment.status == "running"
    assert experiment.winner is None
    assert experiment.planned_horizon == planned_horizon(0.2, 1.0, shares=[50, 50])
    details = ws.abtests.get_ab_test(experiment.experiment_id)
    assert [v.name for v in details.variants] == ["reminder", "discount"]
    assert details.test.campaign_id is None


def test_a_fixed_horizon_experiment_is_read_once_at_its_size_then_routes(
    core: CampaignCore, ws: Workspace
) -> None:
    """Before the planned size no look decides (however clear the data); at it, the
    winner is recorded with when, and new entrants all take the winning path."""
    flow = ws.automations.create_workflow(EXPERIMENT, activate=True)
    [plan] = ws.automations.get_goal_stats(flow.id).experiments
    horizon = plan.planned_horizon
    assert horizon is not None
    early = [f"early-{i}" for i in range(horizon // 2)]
    _enter(core, ws, flow.id, early)
    core.clock.advance("2 days")  # type: ignore[attr-defined]
    core.tick()
    [look] = ws.automations.get_goal_stats(flow.id).experiments
    assert look.status == "running"
    assert look.winner is None
    assert look.last_look_at == core.clock.now()
    late = [f"late-{i}" for i in range(horizon)]
    _enter(core, ws, flow.id, late)
    core.clock.advance("2 days")  # type: ignore[attr-defined]
    core.tick()
    [decided] = ws.automations.get_goal_stats(flow.id).experiments
    assert decided.status == "completed"
    assert decided.winner == "discount"
    assert decided.decided_at == core.clock.now()
    assert decided.significance is not None
    assert decided.significance > 0.95
    test = ws.abtests.get_ab_test(decided.experiment_id)
    assert sum(v.impressions for v in test.variants) >= horizon
    # new entrants: all routed to the winner, recorded as such, not counted
    newcomers = [f"new-{i}" for i in range(20)]
    for fan in newcomers:
        ws.fans.record_event(fan, "cart.abandoned")
    core.tick()
    for run in ws.automations.list_runs(flow.id, limit=2000):
        if run.fan_id in newcomers:
            [split] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "offer"]
            assert split.output["branch"] == "discount"
            assert split.output["routed"] == "winner"


def test_an_always_valid_experiment_decides_at_a_look_once_significant(
    core: CampaignCore, ws: Workspace
) -> None:
    """The mSPRT with the tau fixed at save: a clear winner is routed to at the next look."""
    flow = ws.automations.create_workflow(
        _flow(policy="always_valid", baselineRate=0.2, mde=1.0, minPerPath=50), activate=True
    )
    [plan] = ws.automations.get_goal_stats(flow.id).experiments
    assert plan.mixing_tau == pytest.approx(0.2)
    assert plan.planned_horizon is None
    _enter(core, ws, flow.id, [f"fan-{i}" for i in range(400)])
    core.clock.advance("2 days")  # type: ignore[attr-defined]
    core.tick()
    [decided] = ws.automations.get_goal_stats(flow.id).experiments
    assert (decided.status, decided.winner) == ("completed", "discount")
    test = ws.abtests.get_ab_test(decided.experiment_id).test
    assert test.min_p_values  # the running minimum the always-valid policy keeps


def test_a_new_plan_is_a_new_experiment_and_the_old_one_is_cancelled(
    core: CampaignCore, ws: Workspace
) -> None:
    """Changing the weights starts another experiment; the next look cancels the old one."""
    flow = ws.automations.create_workflow(EXPERIMENT, activate=True)
    [old] = ws.automations.get_goal_stats(flow.id).experiments
    changed = copy.deepcopy(EXPERIMENT)
    changed["actions"][0]["branches"][0]["weight"] = 40
    changed["actions"][0]["branches"][1]["weight"] = 60
    ws.automations.update_workflow(flow.id, actions=changed["actions"])
    [new] = ws.automations.get_goal_stats(flow.id).experiments
    assert new.experiment_id != old.experiment_id
    core.clock.advance("2 hours")  # type: ignore[attr-defined]
    core.tick()
    assert ws.abtests.get_ab_test(old.experiment_id).test.status is ABTestStatus.CANCELLED
    assert ws.abtests.get_ab_test(new.experiment_id).test.status is ABTestStatus.RUNNING
    ws.automations.delete_workflow(flow.id)
    assert not ws.abtests.list_ab_tests()
