"""The seed's failure semantics: retries with backoff, onError, alerts, timeouts, budgets, opt-outs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings, ValidationError, Workspace
from campaign_core.alerts import RecordingAlerter
from campaign_core.automation import ActionContext, ActionFailed, AutomationSettings
from campaign_core.models import RunStatus, StepStatus
from campaign_core.ports import Store
from tests.automation.helpers import T0, CountingMessenger, add_segment, welcome


def _flow(*actions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "name": "Test flow",
        "trigger": {"type": "event", "event": "go"},
        "actions": list(actions),
    }
    if settings:
        flow["settings"] = settings
    return flow


def test_failed_send_is_retried_with_exponential_backoff(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Two failures, then success: attempts at +0, +1 min, +3 min (1 min then 2 min backoff)."""
    messenger.fail["hello"] = 2
    workflow = ws.automations.create_workflow(
        _flow({"type": "send_message", "template": "hello"}), activate=True
    )
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert (run.attempts, run.wake_at) == (1, T0 + timedelta(minutes=1))
    clock.advance("59 seconds")
    core.tick()
    assert messenger.templates() == []
    clock.advance("1 second")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert (run.attempts, run.wake_at) == (2, T0 + timedelta(minutes=3))
    clock.advance("2 minutes")
    core.tick()
    assert messenger.templates() == ["hello"]
    history = ws.automations.get_step_history(run.id)
    assert [(h.status, h.attempt) for h in history] == [
        (StepStatus.RETRYING, 1),
        (StepStatus.RETRYING, 2),
        (StepStatus.COMPLETED, 3),
    ]
    assert ws.automations.get_run(run.id).status is RunStatus.COMPLETED


def _exhaust(core: CampaignCore, clock: FakeClock) -> None:
    for _ in range(6):
        core.tick()
        clock.advance("10 minutes")


def test_exhausted_retries_alert_and_exit_by_default(
    core: CampaignCore,
    ws: Workspace,
    clock: FakeClock,
    messenger: CountingMessenger,
    alerter: RecordingAlerter,
) -> None:
    """After 3 retries (4 attempts) the owner is alerted and the run fails (onError exit)."""
    messenger.fail["hello"] = 100
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "send_message", "template": "hello"},
            {"type": "send_message", "template": "after"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    _exhaust(core, clock)
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.FAILED
    assert sum(messenger.calls.values()) == 4
    [alert] = alerter.of_kind("automation_failed")
    assert alert.entity_id == workflow.id
    assert alert.owner_id == "owner-1"
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.status == "failure"
    assert execution.errors[0]["stepId"] == "step-1"
    assert execution.errors[0]["attempts"] == 4
    stored = ws.automations.get_workflow(workflow.id)
    assert (stored.success_count, stored.failure_count) == (0, 1)


def test_on_error_continue_goes_on_and_ends_partial(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """onError continue moves to the next step; the execution is partial."""
    messenger.fail["hello"] = 100
    workflow = ws.automations.create_workflow(
        _flow(
            {"type": "send_message", "template": "hello", "onError": "continue"},
            {"type": "send_message", "template": "after"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    _exhaust(core, clock)
    assert messenger.templates() == ["after"]
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.status == "partial"


def test_on_error_goto_jumps(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """onError {"goto": id} continues at that step, skipping the ones between."""
    messenger.fail["hello"] = 100
    ws.automations.create_workflow(
        _flow(
            {"type": "send_message", "template": "hello", "onError": {"goto": "fallback"}},
            {"type": "send_message", "template": "skipped"},
            {"type": "exit"},
            {"id": "fallback", "type": "send_message", "template": "fallback"},
        ),
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    _exhaust(core, clock)
    assert messenger.templates() == ["fallback"]


def test_non_retryable_failure_skips_retries(
    core: CampaignCore, ws: Workspace, clock: FakeClock, alerter: RecordingAlerter
) -> None:
    """A custom action raising ActionFailed(retryable=False) goes straight to onError."""
    calls: list[int] = []

    def broken(ctx: ActionContext) -> None:
        calls.append(ctx.attempt)
        raise ActionFailed("bad request", retryable=False)

    core.automation_actions.register("broken", broken)
    workflow = ws.automations.create_workflow(_flow({"type": "broken"}), activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    assert calls == [1]
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.FAILED
    assert len(alerter.of_kind("automation_failed")) == 1


@pytest.fixture
def tuned(
    local_store: Store,
    core_factory: Callable[..., CampaignCore],
    messenger: CountingMessenger,
    alerter: RecordingAlerter,
) -> Callable[..., CampaignCore]:
    def build(**automation: Any) -> CampaignCore:
        return core_factory(
            local_store,
            messenger=messenger,
            alerter=alerter,
            settings=Settings(automation=AutomationSettings(**automation)),
        )

    return build


def test_run_past_its_timeout_is_cancelled_and_owner_notified(
    tuned: Callable[..., CampaignCore], clock: FakeClock, alerter: RecordingAlerter
) -> None:
    """A run still retrying at its deadline times out, and its owner gets an alert."""
    core = tuned(retry_base=timedelta(minutes=40), action_retries=5)
    ws = core.for_actor(Actor("owner-1"))
    core.automation_actions.register("flaky", lambda ctx: (_ for _ in ()).throw(RuntimeError("x")))
    workflow = ws.automations.create_workflow(
        _flow({"type": "flaky"}, timeout="1 hour"), activate=True
    )
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.deadline == T0 + timedelta(hours=1)
    clock.advance("40 minutes")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.wake_at == T0 + timedelta(hours=1)  # the backoff is capped by the deadline
    clock.advance("20 minutes")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.TIMED_OUT
    [alert] = alerter.of_kind("automation_timeout")
    assert alert.entity_id == workflow.id
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.status == "failure"


def test_waits_longer_than_the_timeout_are_rejected(ws: Workspace) -> None:
    """A workflow whose waits outlast its timeout cannot be saved."""
    with pytest.raises(ValidationError) as info:
        ws.automations.create_workflow(
            _flow({"type": "wait", "duration": "3 days"}, timeout="2 days")
        )
    assert [p.path for p in info.value.problems] == ["settings.timeout"]


def test_step_budget_stops_runaway_runs(
    tuned: Callable[..., CampaignCore], alerter: RecordingAlerter
) -> None:
    """A run that executes more steps than the budget fails (and alerts)."""
    core = tuned(max_steps_per_run=3)
    ws = core.for_actor(Actor("owner-1"))
    steps = [
        {"type": "check_engagement", "condition": "engagement > 5", "ifTrue": {"type": "exit"}}
    ] * 5
    workflow = ws.automations.create_workflow(_flow(*steps), activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.FAILED
    assert run.step_count == 3
    assert "budget" in (run.outcome or "")
    assert alerter.of_kind("automation_failed")


def test_opt_out_cancels_pending_sends(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """A fan who opts out while waiting never gets the next message."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    clock.advance("5 minutes")
    core.tick()
    ws.fans.upsert_fan("fan-1", opted_out=True)
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.CANCELLED
    assert run.outcome == "fan opted out"
    clock.advance("5 days")
    core.tick()
    assert messenger.templates() == ["welcome_message"]
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.status == "partial"


class _OptsOutFan3(CountingMessenger):
    """Opts fan-3 out (another transaction) while the first message of a batch is sent."""

    ws: Workspace | None = None

    def send(self, **message: Any) -> str:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            ws.fans.upsert_fan("fan-3", opted_out=True)
        return super().send(**message)


def test_run_changed_during_its_batch_keeps_its_change_and_the_batch_is_written(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """A run cancelled after its batch was claimed stays cancelled; the batch's other runs advance.

    The batch write finds the run's version moved on and writes nothing; the
    runs are then written one by one, and the cancelled one's plan is dropped.
    """
    messenger = _OptsOutFan3()
    core = core_factory(local_store, messenger=messenger)
    ws = core.for_actor(Actor("owner-1"))
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    for fan_id in ("fan-1", "fan-2", "fan-3"):
        ws.fans.record_event(fan_id, "fan.subscribed")
    clock.advance("5 minutes")
    messenger.ws = ws
    report = core.tick()
    assert report.automation_runs_advanced == 2
    runs = {r.fan_id: r for r in ws.automations.list_runs(workflow.id)}
    assert (runs["fan-3"].status, runs["fan-3"].outcome) == (RunStatus.CANCELLED, "fan opted out")
    for fan_id in ("fan-1", "fan-2"):
        assert runs[fan_id].status is RunStatus.ACTIVE
        assert (runs[fan_id].cursor, runs[fan_id].step_count) == ("step-3", 2)
        assert runs[fan_id].lease_owner is None
    for _ in range(2):
        clock.advance("5 days")
        core.tick()
    runs = {r.fan_id: r for r in ws.automations.list_runs(workflow.id)}
    assert [runs[f].status for f in ("fan-1", "fan-2")] == [RunStatus.COMPLETED] * 2
    assert runs["fan-3"].step_count == 0


def test_opted_out_fans_do_not_enter(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """An opted-out fan's events start no run."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.upsert_fan("fan-1", opted_out=True)
    ws.fans.record_event("fan-1", "fan.subscribed")
    assert ws.automations.list_runs(workflow.id) == []


def test_erasure_cancels_and_anonymizes_runs(
    core: CampaignCore, ws: Workspace, clock: FakeClock, messenger: CountingMessenger
) -> None:
    """Erasing a fan cancels their runs and replaces their id in the run history."""
    workflow = ws.automations.create_workflow(welcome(), activate=True)
    ws.fans.record_event("fan-1", "fan.subscribed", properties={"email": "a@b.c"})
    clock.advance("5 minutes")
    core.tick()
    exported = ws.fans.export_fan("fan-1")
    assert exported["automationRuns"][0]["workflowId"] == workflow.id
    counts = ws.fans.erase_fan("fan-1")
    assert counts["automation_runs_anonymized"] == 1
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.CANCELLED
    assert run.fan_id.startswith("erased-")
    assert "email" not in str(run.trigger_data)
    [execution] = ws.automations.get_execution_history(workflow.id)
    assert execution.fan_id == run.fan_id
    for row in ws.automations.get_step_history(run.id):
        assert row.fan_id == run.fan_id
    clock.advance("5 days")
    core.tick()
    assert messenger.templates() == ["welcome_message"]


def test_a_broken_workflow_does_not_break_events_or_other_workflows(
    core: CampaignCore, ws: Workspace, messenger: CountingMessenger, caplog: Any
) -> None:
    """Trigger evaluation failure is logged and skipped: the event is recorded, others enrol."""
    good = ws.automations.create_workflow(welcome(), activate=True)
    bad = ws.automations.create_workflow(welcome(), activate=True)
    with core.store.unit_of_work() as uow:
        row = uow.automations.get(bad.id)
        assert row is not None
        import attrs

        uow.automations.update(
            attrs.evolve(
                row, actions=({"type": "wait", "duration": "soon"},), version=row.version + 1
            )
        )
        uow.commit()
    ws.fans.record_event("fan-1", "fan.subscribed")
    assert len(ws.automations.list_runs(good.id)) == 1
    assert ws.automations.list_runs(bad.id) == []
    assert any("unreadable" in r.getMessage() for r in caplog.records)


def test_unknown_segment_at_run_time_fails_the_step(
    core: CampaignCore, ws: Workspace, clock: FakeClock, alerter: RecordingAlerter
) -> None:
    """A segment deleted after activation fails add_to_segment without retries."""
    segment = add_segment(core.store, "owner-1", "vip")
    workflow = ws.automations.create_workflow(
        _flow({"type": "add_to_segment", "segment": "vip"}), activate=True
    )
    with core.store.unit_of_work() as uow:
        uow.segments.delete(segment.id)
        uow.commit()
    ws.fans.record_event("fan-1", "go")
    core.tick()
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status is RunStatus.FAILED
    assert "not found" in run.errors[0]["error"]
