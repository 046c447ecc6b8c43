"""Holdouts: a sticky share of fans goes through the workflow without being messaged; the lift."""

from __future__ import annotations

import math
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from campaign_core.jobs.automation import held_out
from campaign_core.models import RunStatus, StepStatus
from campaign_core.stats import difference_interval, two_proportion_ztest
from tests.automation.helpers import CountingMessenger


def _flow(holdout: Any = 20) -> dict[str, Any]:
    return {
        "name": "Win back",
        "trigger": {"type": "event", "event": "go"},
        "settings": {"goal": {"event": "purchase", "within": "7 days"}, "holdout": holdout},
        "actions": [
            {"type": "send_message", "template": "we_miss_you"},
            {"type": "add_to_segment", "segment": "contacted"},
        ],
    }


def test_a_holdout_parses_and_round_trips() -> None:
    workflow = parse_workflow(_flow())
    assert workflow.settings.holdout == 20
    assert parse_workflow(workflow.to_json()) == workflow


@pytest.mark.parametrize(
    ("holdout", "code"), [(0, "out_of_range"), (100, "out_of_range"), ("10%", "invalid_type")]
)
def test_holdout_validation_has_a_path(holdout: Any, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow(holdout))
    assert [(p.path, p.code) for p in caught.value.problems] == [("settings.holdout", code)]


def test_held_out_fans_run_the_workflow_but_are_never_messaged(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Held-out runs skip message steps (recorded as skipped, held out) and do the rest."""
    from tests.automation.helpers import add_segment, members

    add_segment(core.store, "owner-1", "contacted")
    flow = ws.automations.create_workflow(_flow(), activate=True)
    fans = [f"fan-{i}" for i in range(100)]
    for fan in fans:
        ws.fans.record_event(fan, "go")
    core.tick()
    core.tick()
    expected_out = {f for f in fans if held_out(flow.id, f, 20)}
    assert 5 <= len(expected_out) <= 40
    runs = ws.automations.list_runs(flow.id, limit=200)
    assert {r.status for r in runs} == {RunStatus.COMPLETED}
    assert {r.fan_id for r in runs if r.state.get("heldOut")} == expected_out
    messaged = {messenger.delivered[k]["fan_id"] for k in messenger.delivered}
    assert messaged == set(fans) - expected_out
    assert members(core.store, "seg-contacted") == set(fans)  # non-message steps still run
    some = next(r for r in runs if r.fan_id in expected_out)
    [send] = [h for h in ws.automations.get_step_history(some.id) if h.step_id == "step-1"]
    assert (send.status, send.output) == (StepStatus.SKIPPED, {"heldOut": True})
    # lift: treated against held out, with its interval and p-value
    for i, fan in enumerate(fans):
        if (fan in expected_out and i % 5 == 0) or (fan not in expected_out and i % 2 == 0):
            ws.fans.record_event(fan, "purchase")
    stats = ws.automations.get_goal_stats(flow.id)
    n_h = len(expected_out)
    k_h = sum(1 for i, f in enumerate(fans) if f in expected_out and i % 5 == 0)
    k_t = sum(1 for i, f in enumerate(fans) if f not in expected_out and i % 2 == 0)
    assert (stats.held_out_entered, stats.held_out_converted) == (n_h, k_h)
    assert (stats.treated_entered, stats.treated_converted) == (100 - n_h, k_t)
    interval = difference_interval(k_h, n_h, k_t, 100 - n_h)
    assert stats.lift == pytest.approx(k_t / (100 - n_h) - k_h / n_h)
    assert (stats.lift_lower, stats.lift_upper) == pytest.approx((interval.lower, interval.upper))
    test = two_proportion_ztest(k_h, n_h, k_t, 100 - n_h)
    assert stats.lift_p_value == pytest.approx(test.p_value)


def test_the_holdout_share_is_within_binomial_bounds() -> None:
    """Over 5,000 fans, 10% held out within 4.5 standard deviations; sticky by construction."""
    n = 5000
    out = sum(held_out("wf-1", f"fan-{i}", 10) for i in range(n))
    assert abs(out - n * 0.1) <= 4.5 * math.sqrt(n * 0.1 * 0.9)
    assert held_out("wf-1", "fan-1", None) is False
