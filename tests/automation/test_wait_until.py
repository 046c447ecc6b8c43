"""wait_until: wait for a fan event (with filters) or a timeout; the event wakes the run early."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from campaign_core import CampaignCore, FakeClock, Workspace
from campaign_core.automation import parse_workflow
from campaign_core.errors import ValidationError
from campaign_core.models import RunStatus
from tests.automation.helpers import T0, CountingMessenger

WAIT: dict[str, Any] = {
    "type": "wait_until",
    "id": "bought",
    "event": "purchase",
    "filter": {"plan": "gold"},
    "timeout": "24 hours",
    "onEvent": [{"type": "send_message", "template": "thanks"}],
    "onTimeout": {"type": "send_message", "template": "reminder"},
}


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "name": "Abandoned",
        "trigger": {"type": "event", "event": "cart.abandoned"},
        "actions": list(actions),
    }
    if settings:
        flow["settings"] = settings
    return flow


def test_a_wait_until_parses_into_two_branches_and_round_trips() -> None:
    """The event and timeout branches; both go on with the step after the wait."""
    workflow = parse_workflow(_flow(WAIT, {"type": "exit", "id": "end"}))
    step = workflow.step("bought")
    assert step is not None
    assert step.events == ("purchase",)
    assert step.duration == timedelta(hours=24)
    assert [(b.name, b.next) for b in step.split] == [
        ("event", "bought.event-1"),
        ("timeout", "bought.timeout-1"),
    ]
    assert workflow.step("bought.event-1").next == "end"  # type: ignore[union-attr]
    assert parse_workflow(workflow.to_json()) == workflow
    bare = parse_workflow(_flow({"type": "wait_until", "event": "x", "timeout": "1 hour"}))
    assert [b.next for b in bare.steps[0].split] == [None, None]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"type": "wait_until", "timeout": "1 day"}, [("actions[0].event", "required")]),
        ({"type": "wait_until", "event": "x"}, [("actions[0].timeout", "required")]),
        (
            {"type": "wait_until", "event": "x", "timeout": "soon"},
            [("actions[0].timeout", "invalid_value")],
        ),
        (
            {"type": "wait_until", "event": "x", "timeout": "1 day", "filter": 3},
            [("actions[0].filter", "invalid_type")],
        ),
    ],
)
def test_wait_until_validation_has_paths(
    step: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Each problem is reported at its path."""
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow(step))
    assert [(p.path, p.code) for p in caught.value.problems] == expected


def test_a_wait_longer_than_the_workflow_timeout_is_rejected() -> None:
    """The timeout counts as a wait along the longest path."""
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow({**WAIT, "timeout": "30 days"}, timeout="7 days"))
    assert [p.path for p in caught.value.problems] == ["settings.timeout"]


def test_the_event_wakes_the_waiting_run_and_the_others_time_out(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A matching event makes the fan's run due at once; a filtered-out one and one
    recorded before the wait began do not count; the rest take the timeout branch."""
    flow = ws.automations.create_workflow(_flow(WAIT), activate=True)
    ws.fans.record_event("early", "purchase", properties={"plan": "gold"})
    clock.advance("1 minute")
    for fan in ("gold", "basic", "early", "idle"):
        ws.fans.record_event(fan, "cart.abandoned")
    core.tick()
    clock.advance("2 hours")
    before = {r.fan_id: r for r in ws.automations.list_runs(flow.id)}
    assert {r.wake_at for r in before.values()} == {T0 + timedelta(hours=24, minutes=1)}
    ws.fans.record_event("gold", "purchase", properties={"plan": "gold"})
    ws.fans.record_event("basic", "purchase", properties={"plan": "basic"})
    after = {r.fan_id: r for r in ws.automations.list_runs(flow.id)}
    assert after["gold"].wake_at == clock.now()
    # the other waiting runs were not touched
    assert {f: after[f].version for f in ("basic", "early", "idle")} == {
        f: before[f].version for f in ("basic", "early", "idle")
    }
    core.tick()
    assert [k.split(":")[1] for k in messenger.delivered] == ["bought.event-1"]
    clock.advance("22 hours 1 minute")
    core.tick()
    runs = ws.automations.list_runs(flow.id)
    assert {r.status for r in runs} == {RunStatus.COMPLETED}
    outcomes = {}
    for run in runs:
        [wait] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "bought"]
        outcomes[run.fan_id] = wait.output["outcome"]
    assert outcomes == {"gold": "event", "basic": "timeout", "early": "timeout", "idle": "timeout"}
    assert sorted(k.split(":")[1] for k in messenger.delivered) == [
        "bought.event-1",
        *["bought.timeout-1"] * 3,
    ]


def test_waking_reads_only_the_fans_runs_not_every_waiting_run(
    core_factory: Any, messenger: CountingMessenger
) -> None:
    """On SQL, the event's hook reads automation runs by owner, fan and status (an index),
    so its cost does not grow with the number of waiting runs."""
    from sqlalchemy import event as sa_event

    from campaign_core import Actor
    from tests.conftest import make_store

    store = make_store("sqlite")
    core = core_factory(store, messenger=messenger)
    ws = core.for_actor(Actor("owner-1"))
    flow = ws.automations.create_workflow(_flow(WAIT), activate=True)
    for i in range(30):
        ws.fans.record_event(f"fan-{i}", "cart.abandoned")
    core.tick()
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = store.engine  # type: ignore[attr-defined]
    sa_event.listen(engine, "before_cursor_execute", capture)
    try:
        ws.fans.record_event("fan-7", "purchase", properties={"plan": "gold"})
    finally:
        sa_event.remove(engine, "before_cursor_execute", capture)
    reads = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "automation_runs" in s
    ]
    assert reads
    assert all('"fanId"' in s and '"ownerId"' in s for s in reads), reads
    woken = [
        r for r in ws.automations.list_runs(flow.id, limit=100) if r.wake_at == core.clock.now()
    ]
    assert [r.fan_id for r in woken] == ["fan-7"]
    store.close()
