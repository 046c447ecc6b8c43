"""random_split: weighted, sticky per fan (the A/B assignment hashing), recorded in the history."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core import CampaignCore, FakeClock, Workspace
from campaign_core.abtesting import assign_variant
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from tests.automation.helpers import CountingMessenger


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "name": "Experiment",
        "trigger": {"type": "event", "event": "go"},
        "actions": list(actions),
    }
    if settings:
        flow["settings"] = settings
    return flow


SPLIT: dict[str, Any] = {
    "type": "random_split",
    "id": "offer",
    "branches": [
        {"name": "discount", "weight": 30, "then": [{"type": "send_message", "template": "d"}]},
        {"name": "content", "weight": 70, "then": {"type": "send_message", "template": "c"}},
    ],
}


def test_a_random_split_parses_and_round_trips() -> None:
    """Weights are kept on the branches; each branch goes on with the step after the split."""
    workflow = parse_workflow(_flow(SPLIT))
    step = workflow.step("offer")
    assert step is not None
    assert [(b.name, b.weight, b.next) for b in step.split] == [
        ("discount", 30.0, "offer.discount-1"),
        ("content", 70.0, "offer.content-1"),
    ]
    assert parse_workflow(workflow.to_json()) == workflow


@pytest.mark.parametrize(
    ("branches", "expected"),
    [
        (
            [{"weight": 30, "then": []}, {"weight": 60, "then": []}],
            [("actions[0].branches", "out_of_range")],
        ),
        ([{"weight": 100, "then": []}], [("actions[0].branches", "out_of_range")]),
        (
            [{"weight": 0, "then": []}, {"weight": 100, "then": []}],
            [("actions[0].branches[0].weight", "out_of_range")],
        ),
        (
            [{"then": []}, {"weight": 100, "then": []}],
            [("actions[0].branches[0].weight", "required")],
        ),
        (
            [{"weight": "half", "then": []}, {"weight": 50, "then": []}],
            [("actions[0].branches[0].weight", "invalid_type")],
        ),
        (
            [{"weight": 50, "next": "nowhere"}, {"weight": 50, "then": []}],
            [("actions[0].branches[0].next", "unknown_step")],
        ),
    ],
)
def test_random_split_validation_has_paths(
    branches: list[dict[str, Any]], expected: list[tuple[str, str]]
) -> None:
    """Weights must be percentages that sum to 100; targets must exist."""
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow({"type": "random_split", "branches": branches}))
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_paths_are_sticky_and_recorded(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan who enters again takes the same path; the path is in the step's history."""
    flow = ws.automations.create_workflow(_flow(SPLIT, reentry="always"), activate=True)
    fans = [f"fan-{i}" for i in range(40)]
    for _ in range(2):
        for fan in fans:
            ws.fans.record_event(fan, "go")
        core.tick()
        clock.advance("1 minute")
    paths: dict[str, set[str]] = {}
    for run in ws.automations.list_runs(flow.id, limit=200):
        [split] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "offer"]
        paths.setdefault(run.fan_id, set()).add(split.output["branch"])
    assert sorted(paths) == sorted(fans)
    assert all(len(p) == 1 for p in paths.values())
    expected = {
        fan: assign_variant(f"{flow.id}/offer", fan, {"discount": 30, "content": 70})
        for fan in fans
    }
    assert {fan: next(iter(p)) for fan, p in paths.items()} == expected
    assert len(messenger.delivered) == 80


@settings(max_examples=25, derandomize=True, deadline=None)
@given(
    weights=st.lists(st.integers(1, 98), min_size=1, max_size=3).filter(lambda w: sum(w) < 100),
    workflow_id=st.text("abcdef0123456789", min_size=4, max_size=12),
)
def test_random_splits_stay_within_binomial_bounds(weights: list[int], workflow_id: str) -> None:
    """Over 2,000 fans each path's share is within 4.5 binomial standard deviations."""
    split = {f"p{i}": w for i, w in enumerate([*weights, 100 - sum(weights)])}
    n = 2000
    counts = Counter(assign_variant(f"{workflow_id}/split", f"fan-{i}", split) for i in range(n))
    for path, weight in split.items():
        p = weight / 100
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts[path] - n * p) <= 4.5 * sd + 1, (path, counts, split)
