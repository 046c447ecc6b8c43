"""Workflow goals: a run whose fan reaches the goal exits and counts as converted; per-path stats."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from campaign_core.models import RunStatus
from campaign_core.stats import two_proportion_ztest
from tests.automation.helpers import CountingMessenger

GOAL = {"event": "purchase", "within": "3 days", "filter": {"plan": "gold"}}


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        "name": "Goal",
        "trigger": {"type": "event", "event": "go"},
        "actions": list(actions),
        "settings": {"goal": GOAL, **settings},
    }


REMIND = [{"type": "wait", "duration": "1 day"}, {"type": "send_message", "template": "remind"}]


def test_a_goal_parses_and_round_trips() -> None:
    workflow = parse_workflow(_flow(*REMIND))
    goal = workflow.settings.goal
    assert goal is not None
    assert (goal.event, goal.within.days, len(goal.filter)) == ("purchase", 3, 1)
    assert parse_workflow(workflow.to_json()) == workflow


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        ({"within": "1 day"}, [("settings.goal.event", "required")]),
        ({"event": "purchase"}, [("settings.goal.within", "required")]),
        ({"event": "purchase", "within": "soon"}, [("settings.goal.within", "invalid_value")]),
        (
            {"event": "purchase", "within": "1 day", "window": 3},
            [("settings.goal.window", "unknown_field")],
        ),
        ("purchase", [("settings.goal", "invalid_type")]),
    ],
)
def test_goal_validation_has_paths(goal: Any, expected: list[tuple[str, str]]) -> None:
    flow = _flow(*REMIND)
    flow["settings"]["goal"] = goal
    with pytest.raises(ValidationError) as caught:
        parse_workflow(flow)
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_reaching_the_goal_exits_the_run_and_counts_as_converted(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A converted fan's run exits before the reminder; conversions after the run ended
    count within the window, not after it; a filtered-out event does not count."""
    flow = ws.automations.create_workflow(_flow(*REMIND), activate=True)
    for fan in ("early", "late", "never", "basic", "too-late"):
        ws.fans.record_event(fan, "go")
    core.tick()
    clock.advance("2 hours")
    ws.fans.record_event("early", "purchase", properties={"plan": "gold"})
    ws.fans.record_event("basic", "purchase", properties={"plan": "basic"})
    clock.advance("1 day")
    core.tick()
    clock.advance("1 day")
    ws.fans.record_event("late", "purchase", properties={"plan": "gold"})
    clock.advance("3 days")
    ws.fans.record_event("too-late", "purchase", properties={"plan": "gold"})
    runs = {r.fan_id: r for r in ws.automations.list_runs(flow.id)}
    assert runs["early"].status is RunStatus.EXITED
    assert "goal" in (runs["early"].outcome or "")
    assert {f: runs[f].status for f in ("late", "never", "basic", "too-late")} == dict.fromkeys(
        ("late", "never", "basic", "too-late"), RunStatus.COMPLETED
    )
    assert len(messenger.delivered) == 4  # everyone but the early converter was reminded
    stats = ws.automations.get_goal_stats(flow.id)
    assert (stats.event, stats.within) == ("purchase", "P3D")
    assert (stats.entered, stats.converted, stats.conversion_rate) == (5, 2, 0.4)


def test_a_workflow_without_a_goal_has_no_goal_stats(ws: Workspace) -> None:
    flow = ws.automations.create_workflow(
        {"name": "x", "trigger": {"type": "event", "event": "go"}, "actions": REMIND}
    )
    with pytest.raises(ValidationError):
        ws.automations.get_goal_stats(flow.id)


def test_goal_conversion_per_random_split_path(
    core: CampaignCore, ws: Workspace, clock: FakeClock
) -> None:
    """Each path's conversion, and the two-proportion test against the first path."""
    split = {
        "type": "random_split",
        "id": "offer",
        "branches": [
            {"name": "a", "weight": 50, "then": []},
            {"name": "b", "weight": 50, "then": []},
        ],
    }
    flow = ws.automations.create_workflow(_flow(split, *REMIND), activate=True)
    fans = [f"fan-{i}" for i in range(60)]
    for fan in fans:
        ws.fans.record_event(fan, "go")
    core.tick()
    paths = {}
    for run in ws.automations.list_runs(flow.id, limit=100):
        [row] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "offer"]
        paths[run.fan_id] = row.output["branch"]
    # path b converts every other fan, path a one fan in five
    converted = {"a": 0, "b": 0}
    seen = {"a": 0, "b": 0}
    for fan in fans:
        seen[paths[fan]] += 1
        if seen[paths[fan]] % (5 if paths[fan] == "a" else 2) == 0:
            ws.fans.record_event(fan, "purchase", properties={"plan": "gold"})
            converted[paths[fan]] += 1
    stats = ws.automations.get_goal_stats(flow.id)
    a, b = stats.paths
    assert (a.branch, a.entered, a.converted, a.p_value) == ("a", seen["a"], converted["a"], None)
    assert (b.branch, b.entered, b.converted) == ("b", seen["b"], converted["b"])
    expected = two_proportion_ztest(converted["a"], seen["a"], converted["b"], seen["b"])
    assert b.p_value == pytest.approx(expected.p_value)
    assert b.difference == pytest.approx(expected.difference)
    assert stats.converted == sum(converted.values())
