"""wait_until a segment entry or exit, with a timeout: the membership change wakes the run."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from tests.automation.helpers import CountingMessenger


def _flow(segment: str, state: str = "entered", **extra: Any) -> dict[str, Any]:
    wait: dict[str, Any] = {
        "type": "wait_until",
        "id": "vip",
        "segment": segment,
        "state": state,
        "timeout": "3 days",
        "onSegment": [{"type": "send_message", "template": "welcome_vip"}],
        "onTimeout": [{"type": "send_message", "template": "nudge"}],
        **extra,
    }
    return {
        "name": "Until VIP",
        "trigger": {"type": "event", "event": "trial.started"},
        "actions": [wait],
    }


def _outcomes(ws: Workspace, flow_id: str) -> dict[str, str]:
    out = {}
    for run in ws.automations.list_runs(flow_id, limit=100):
        for wait in ws.automations.get_step_history(run.id):
            if wait.step_id == "vip":  # a run still waiting has no history yet
                out[run.fan_id] = wait.output["outcome"]
    return out


def _sent(messenger: CountingMessenger) -> set[tuple[str, str]]:
    return {(m["fan_id"], m["template"]) for m in messenger.delivered.values()}


def test_a_segment_wait_parses_and_round_trips() -> None:
    """Two branches, segment and timeout; the canonical form parses back equal."""
    workflow = parse_workflow(_flow("vips"))
    step = workflow.step("vip")
    assert step is not None
    assert [b.name for b in step.split] == ["segment", "timeout"]
    assert (step.params["segment"], step.params["state"]) == ("vips", "entered")
    assert [r.path for r in workflow.references()] == ["actions[0].segment"]
    assert parse_workflow(workflow.to_json()) == workflow


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"event": "purchase"}, [("actions[0]", "required")]),
        ({"state": "left"}, [("actions[0].state", "invalid_value")]),
        ({"filter": {"plan": "gold"}}, [("actions[0].filter", "invalid_value")]),
        ({"onEvent": []}, [("actions[0].onEvent", "invalid_value")]),
    ],
)
def test_segment_wait_validation_has_paths(
    extra: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Each problem at its path: one of event or segment, a known state, no event filter."""
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow("vips", **extra))
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_an_unknown_segment_is_rejected_at_save(ws: Workspace) -> None:
    """The segment must exist in the account (the path names the step's segment)."""
    with pytest.raises(ValidationError) as caught:
        ws.automations.create_workflow(_flow("nope"), activate=True)
    assert [p.path for p in caught.value.problems] == ["actions[0].segment"]


def test_entering_wakes_the_run_members_go_on_at_once_others_time_out(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """A fan added to the segment takes onSegment when added; one already in, at once;
    the others onTimeout after three days."""
    for fan in ("ana", "bo", "cy"):
        ws.fans.upsert_fan(fan)
    vips = ws.segments.create_segment(name="vips", type="static", fan_ids=["cy"])
    flow = ws.automations.create_workflow(_flow("vips"), activate=True)
    for fan in ("ana", "bo", "cy"):
        ws.fans.record_event(fan, "trial.started")
    core.tick()
    assert _sent(messenger) == {("cy", "welcome_vip")}  # already a member: at once
    core.clock.advance("1 day")  # type: ignore[attr-defined]
    ws.segments.add_fan_to_segment("ana", vips.id)
    [ana] = [r for r in ws.automations.list_runs(flow.id) if r.fan_id == "ana"]
    assert ana.wake_at == core.clock.now()  # woken by the change, in its transaction
    core.tick()
    assert ("ana", "welcome_vip") in _sent(messenger)
    core.clock.advance("2 days")  # type: ignore[attr-defined]
    core.tick()
    assert _outcomes(ws, flow.id) == {"ana": "segment", "bo": "timeout", "cy": "segment"}
    assert _sent(messenger) == {("cy", "welcome_vip"), ("ana", "welcome_vip"), ("bo", "nudge")}


def test_an_exit_wakes_a_run_waiting_for_it(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """state 'exited': removing the fan from the segment takes onSegment."""
    for fan in ("ana", "bo"):
        ws.fans.upsert_fan(fan)
    trial = ws.segments.create_segment(name="on-trial", type="static", fan_ids=["ana", "bo"])
    flow = ws.automations.create_workflow(_flow(trial.id, "exited"), activate=True)
    for fan in ("ana", "bo"):
        ws.fans.record_event(fan, "trial.started")
    core.tick()
    assert _sent(messenger) == set()
    core.clock.advance("5 hours")  # type: ignore[attr-defined]
    ws.segments.remove_fan_from_segment("bo", trial.id)
    core.tick()
    core.clock.advance("3 days")  # type: ignore[attr-defined]
    core.tick()
    assert _outcomes(ws, flow.id) == {"ana": "timeout", "bo": "segment"}


def test_a_dynamic_segment_wakes_at_its_refresh(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger
) -> None:
    """A dynamic segment's membership changes when it is refreshed: the runs of the fans
    who entered wake then (not when their data changed)."""
    for fan in ("ana", "bo"):
        ws.fans.upsert_fan(fan, engagement=1.0)
    fans_segment = ws.segments.create_segment(name="engaged", criteria="engagement > 50")
    flow = ws.automations.create_workflow(_flow("engaged"), activate=True)
    for fan in ("ana", "bo"):
        ws.fans.record_event(fan, "trial.started")
    core.tick()
    core.clock.advance("1 hour")  # type: ignore[attr-defined]
    ws.fans.upsert_fan("ana", engagement=90.0)
    core.tick()
    assert _sent(messenger) == set()  # not a member until the segment is refreshed
    ws.segments.refresh_segment(fans_segment.id)
    core.tick()
    assert _sent(messenger) == {("ana", "welcome_vip")}
    assert _outcomes(ws, flow.id) == {"ana": "segment"}


def test_waking_reads_only_the_changed_fans_runs(
    core_factory: Any, messenger: CountingMessenger
) -> None:
    """On SQL the hook reads automation runs by owner, the changed fans and status."""
    from sqlalchemy import event as sa_event

    from tests.conftest import make_store

    store = make_store("sqlite")
    core = core_factory(store, messenger=messenger)
    ws = core.for_actor(Actor("owner-1"))
    fans = [f"fan-{i}" for i in range(30)]
    ws.fans.import_fans([{"fan_id": f} for f in fans])
    vips = ws.segments.create_segment(name="vips", type="static")
    ws.automations.create_workflow(_flow("vips"), activate=True)
    for fan in fans:
        ws.fans.record_event(fan, "trial.started")
    core.tick()
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = store.engine  # type: ignore[attr-defined]
    sa_event.listen(engine, "before_cursor_execute", capture)
    try:
        ws.segments.add_fan_to_segment("fan-7", vips.id)
    finally:
        sa_event.remove(engine, "before_cursor_execute", capture)
    reads = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "automation_runs" in s
    ]
    assert len(reads) == 1
    assert '"fanId" IN' in reads[0]
    assert '"ownerId"' in reads[0]
    store.close()
