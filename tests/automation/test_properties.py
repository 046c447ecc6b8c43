"""Hypothesis: random workflows and event sequences never crash the engine, never leave a run stuck.

Workflows are drawn from the whole language (valid and invalid pieces mixed,
condition and random splits, experiment paths, and waits for events and for segment
entries and exits included); the fans do random things (events, opt-outs, joining and
leaving segments) while time moves in random steps. Invariants:

- public calls raise nothing but :class:`~campaign_core.CampaignCoreError`;
- ``tick()`` never raises;
- after every tick, every open run is either waiting for a future instant or
  held by a paused workflow (nothing due is left behind);
- in the end, once workflows are active again and time has moved past every
  deadline, every run that entered before it has finished;
- no message is ever sent for a held-out run (``settings.holdout``), nor to a fan of the
  account's global control group (``MessagingSettings.global_control``);
- webhook steps (answers scripted: 200, 503, 404) and update_trait steps never stall a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaign_core import (
    Actor,
    CampaignCore,
    CampaignCoreError,
    FakeClock,
    SequentialIds,
    Settings,
)
from campaign_core.automation import ActionContext, ActionFailed, RecordingWebhookSender
from campaign_core.delivery import MessagingSettings, in_global_control
from campaign_core.models import AutomationStatus, RunStatus, SegmentMember
from campaign_core.query import In
from campaign_core_memory import InMemoryStore
from tests.automation.helpers import T0, CountingMessenger, add_segment

EVENTS = ["e1", "e2", "e3"]
FANS = ["fan-a", "fan-b", "fan-c"]

# mostly valid pieces, sometimes invalid ones (a workflow with one is rejected as a whole)
durations = st.sampled_from(["1 minute", "30 minutes", "PT2H", "1 day", "3 days"] * 6 + ["bogus"])
templates = st.sampled_from(["hello", "promo", "flaky_template"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda d: {"type": "wait", "duration": d}, durations),
        st.builds(
            lambda t: {"type": "wait", "until": t},
            st.sampled_from(["09:00", "23:30"] * 8 + ["25:00"]),
        ),
        st.builds(lambda t: {"type": "send_message", "template": t}, templates),
        st.builds(
            lambda t, d: {"type": "create_campaign", "template": t, "discount": d},
            st.sampled_from(["win_back_offer"] * 8 + ["missing"]),
            st.sampled_from([0.1, 0.5] * 8 + [2]),
        ),
        st.builds(
            lambda s: {"type": "add_to_segment", "segment": s},
            st.sampled_from(["s1", "s2"] * 8 + ["zz"]),
        ),
        st.builds(
            lambda s: {"type": "remove_from_segment", "segment": s}, st.sampled_from(["s1", "s2"])
        ),
        st.builds(
            lambda f: {"type": "update_fan", "fields": f},
            st.sampled_from(
                [{"engagement": 5}, {"spending_level": "vip"}] * 8 + [{"colour": "red"}]
            ),
        ),
        st.builds(
            lambda e: {"type": "emit_event", "event": e}, st.sampled_from(["e2", "e3", "e4"])
        ),
        st.just({"type": "exit"}),
        st.just({"type": "flaky"}),
        st.builds(
            lambda v: {"type": "update_trait", "trait": "visits", "value": v},
            st.sampled_from(
                [{"$add": [{"$ref": "fan.traits.visits"}, 1]}, 3, {"$ref": "event.value"}]
            ),
        ),
        st.builds(
            lambda url: {"type": "webhook", "url": url, "timeout": "5 seconds"},
            st.sampled_from(["https://hooks.example.com/a"] * 8 + ["http://hooks.example.com/"]),
        ),
    )


def _with_error(action: dict[str, Any], on_error: Any) -> dict[str, Any]:
    if on_error is not None and action["type"] not in ("wait", "exit"):
        action = {**action, "onError": on_error}
    return action


def _exit_last(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cut a list after its first exit (steps after one are unreachable, rejected)."""
    for index, item in enumerate(items):
        if item.get("type") == "exit":
            return items[: index + 1]
    return items


actions = st.recursive(
    st.lists(
        st.builds(_with_error, _leaf(), st.sampled_from([None, "continue", "exit"])),
        min_size=1,
        max_size=4,
    ).map(_exit_last),
    lambda inner: st.lists(
        st.one_of(
            st.builds(_with_error, _leaf(), st.sampled_from([None, "continue"])),
            st.builds(
                lambda c, t, f: {
                    "type": "check_engagement",
                    "condition": c,
                    "ifTrue": t,
                    "ifFalse": f,
                },
                st.sampled_from(["engagement < 1", "engagement >= 2"] * 8 + ["likes > 1"]),
                inner,
                inner,
            ),
            st.builds(
                lambda whens, thens, d: {
                    "type": "condition_split",
                    "branches": [
                        {"when": w, "then": t} for w, t in zip(whens, thens, strict=False)
                    ],
                    "default": d,
                },
                st.lists(
                    st.sampled_from(
                        ["engagement > 3", "count(e1) >= 1", "count(e2, within 1 day) >= 2"] * 8
                        + ["in_segment(s1)", "nope > 1"]
                    ),
                    min_size=1,
                    max_size=3,
                ),
                st.lists(inner, min_size=1, max_size=3),
                st.one_of(inner, st.just([])),
            ),
            st.builds(
                lambda w, a, b, x: {
                    "type": "random_split",
                    "branches": [{"weight": w, "then": a}, {"weight": 100 - w, "then": b}],
                    **({"experiment": x} if x else {}),
                },
                st.sampled_from([50, 10, 90] * 5 + [0]),
                inner,
                inner,
                st.sampled_from(
                    [None] * 3
                    + [
                        {"policy": "always_valid", "baselineRate": 0.2, "minPerPath": 1},
                        {"plannedHorizon": 2, "minPerPath": 1},
                    ]
                ),
            ),
            st.builds(
                lambda seg, state, t, a, b: {
                    "type": "wait_until",
                    "segment": seg,
                    "state": state,
                    "timeout": t,
                    "onSegment": a,
                    "onTimeout": b,
                },
                st.sampled_from(["s1", "s2"]),
                st.sampled_from(["entered", "exited"]),
                durations,
                inner,
                inner,
            ),
            st.builds(
                lambda e, t, a, b: (
                    {
                        "type": "wait_until",
                        "event": e,
                        "timeout": t,
                        "filter": {"k": 1},
                        "onEvent": a,
                        "onTimeout": b,
                    }
                    if e == "e2"
                    else {
                        "type": "wait_until",
                        "event": e,
                        "timeout": t,
                        "onEvent": a,
                        "onTimeout": b,
                    }
                ),
                st.sampled_from(["e1", "e2", "like"]),
                durations,
                inner,
                inner,
            ),
        ),
        min_size=1,
        max_size=4,
    ).map(_exit_last),
    max_leaves=8,
)

triggers = st.one_of(
    st.builds(lambda e: {"type": "event", "event": e}, st.sampled_from(["e1", "e1", "e2", "e4"])),
    st.builds(
        lambda n: {"type": "behavior", "condition": f"no_activity_days >= {n}"}, st.integers(0, 3)
    ),
    st.builds(lambda s: {"type": "segment_entered", "segment": s}, st.sampled_from(["s1", "s2"])),
    st.just({"type": "time", "cron": "0 * * * *", "segment": "s1"}),
)

workflow_settings = st.fixed_dictionaries(
    {},
    optional={
        "reentry": st.sampled_from(["never", "always"]),
        "timeout": st.sampled_from(["2 days", "30 days"]),
        "quietHours": st.just({"start": "22:00", "end": "07:00"}),
        "frequencyCap": st.sampled_from([{"max": 1, "per": "day"}, {"max": 2, "per": "2 hours"}]),
        "overduePolicy": st.sampled_from(["run_late", "skip_overdue", "cancel"]),
        "exitOn": st.just(["e3"]),
        "holdout": st.sampled_from([10, 50, 90]),
        "goal": st.just({"event": "e2", "within": "1 day"}),
    },
)


def _experiment_goal(workflow: dict[str, Any]) -> dict[str, Any]:
    """An experiment needs a goal: most workflows with one get it (some stay invalid)."""
    text = json.dumps(workflow)
    if '"experiment"' in text and "goal" not in workflow["settings"] and len(text) % 4:
        workflow["settings"]["goal"] = {"event": "e2", "within": "1 day"}
    return workflow


workflows = st.builds(
    lambda t, a, s: {"name": "W", "trigger": t, "actions": a, "settings": s},
    triggers,
    actions,
    workflow_settings,
).map(_experiment_goal)

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("event"), st.sampled_from(FANS), st.sampled_from([*EVENTS, "e1", "like"])
        ),
        st.tuples(
            st.just("advance"),
            st.sampled_from(["1 minute", "10 minutes", "3 hours", "1 day", "4 days"]),
        ),
        st.tuples(st.just("tick")),
        st.tuples(st.just("toggle"), st.integers(0, 3)),
        st.tuples(st.just("opt_out"), st.sampled_from(FANS)),
        st.tuples(
            st.sampled_from(["join", "leave"]), st.sampled_from(FANS), st.sampled_from(["s1", "s2"])
        ),
    ),
    min_size=5,
    max_size=30,
)


def _flaky(ctx: ActionContext) -> dict[str, Any]:
    digest = hashlib.sha256(f"{ctx.idempotency_key}:{ctx.attempt}".encode()).digest()
    if digest[0] % 3 == 0:
        raise ActionFailed("flaky says no", retryable=digest[1] % 2 == 0)
    if digest[0] % 3 == 1:
        raise RuntimeError("unexpected")
    return {"ok": True}


def _open(core: CampaignCore) -> list[Any]:
    with core.store.unit_of_work() as uow:
        return uow.automation_runs.find(In("status", [RunStatus.ACTIVE, RunStatus.HELD]))


def _no_run_stuck(core: CampaignCore) -> None:
    now = core.clock.now()
    with core.store.unit_of_work() as uow:
        paused = {a.id for a in uow.automations.find() if a.status is not AutomationStatus.ACTIVE}
    for run in _open(core):
        if run.status is RunStatus.HELD:
            assert run.automation_id in paused, run  # held only while the workflow is paused
            continue
        assert run.wake_at is not None, run
        assert run.wake_at > now, (run, now)  # nothing due is left behind


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    definitions=st.lists(workflows, min_size=1, max_size=4),
    ops=operations,
    control=st.sampled_from([0, 0, 40]),
    hook_answers=st.lists(st.sampled_from([200, 200, 503, 404]), max_size=4),
)
def test_random_workflows_never_crash_or_stall(
    definitions: list[dict[str, Any]],
    ops: list[tuple[Any, ...]],
    control: int,
    hook_answers: list[int],
) -> None:
    """Whatever the workflows and events, only typed errors escape and no run is left stuck."""
    clock = FakeClock(T0)
    messenger = CountingMessenger(fail={"flaky_template": 2})
    store = InMemoryStore()
    core = CampaignCore(
        store,
        clock=clock,
        ids=SequentialIds(),
        messenger=messenger,
        webhooks=RecordingWebhookSender(hook_answers),
        settings=Settings(
            fan_traits={"visits": "number"},
            messaging=MessagingSettings(global_control=control),
        ),
    )
    core.automation_actions.register("flaky", _flaky, messaging=True)
    s1 = add_segment(store, "owner-1", "s1")
    s2 = add_segment(store, "owner-1", "s2")
    segments = {"s1": s1.id, "s2": s2.id}
    with store.unit_of_work() as uow:
        for fan in FANS[:2]:
            uow.segment_members.add(
                SegmentMember(id=f"m-{fan}", segment_id=s1.id, fan_id=fan, added_at=T0)
            )
        uow.commit()
    ws = core.for_actor(Actor("owner-1"))
    for fan in FANS:
        ws.fans.upsert_fan(fan, last_activity_at=T0 - timedelta(days=2), time_zone="Europe/Paris")
    ids: list[str] = []
    for definition in definitions:
        try:
            ids.append(ws.automations.create_workflow(definition, activate=True).id)
        except CampaignCoreError:
            with contextlib.suppress(CampaignCoreError):
                ids.append(ws.automations.create_workflow(definition).id)
    event(f"workflows stored: {len(ids)}")
    for target in ids:
        kinds = {step.type for step in ws.automations.get_definition(target).steps}
        definition = ws.automations.get_definition(target)
        for kind in sorted(kinds & {"condition_split", "random_split", "wait_until"}):
            event(f"stored a {kind}")
        if any(s.experiment is not None for s in definition.steps):
            event("stored an experiment")
        if any("segment" in s.params for s in definition.steps if s.type == "wait_until"):
            event("stored a segment wait")
    for fan, name in zip(FANS, ["e1", "e2", "e4"]):
        ws.fans.record_event(fan, name)
    for op in ops:
        try:
            if op[0] == "event":
                ws.fans.record_event(op[1], op[2])
            elif op[0] == "advance":
                clock.advance(op[1])
            elif op[0] == "tick":
                core.tick()
                _no_run_stuck(core)
            elif op[0] == "toggle" and ids:
                target = ids[op[1] % len(ids)]
                if ws.automations.get_workflow(target).status is AutomationStatus.ACTIVE:
                    ws.automations.deactivate_workflow(target)
                else:
                    ws.automations.activate_workflow(target)
            elif op[0] == "opt_out":
                ws.fans.upsert_fan(op[1], opted_out=True)
            elif op[0] == "join":
                ws.segments.add_fan_to_segment(op[1], segments[op[2]])
            elif op[0] == "leave":
                ws.segments.remove_fan_from_segment(op[1], segments[op[2]])
        except CampaignCoreError:
            pass
    # wake everything up and let time pass every deadline
    for target in ids:
        try:
            if ws.automations.get_workflow(target).status is not AutomationStatus.ACTIVE:
                ws.automations.activate_workflow(target)
        except CampaignCoreError:
            pass
    for _ in range(8):
        core.tick()
        _no_run_stuck(core)
        clock.advance("15 days")
    core.tick()
    with store.unit_of_work() as uow:
        runs = uow.automation_runs.count()
    event(f"runs: {'0' if not runs else '1-5' if runs <= 5 else '6+'}")
    # recurring triggers keep enrolling; everything older than any timeout has ended
    horizon = clock.now() - timedelta(days=91)
    assert [r for r in _open(core) if r.entered_at <= horizon] == []
    assert not messenger.duplicates()
    # a held-out fan is never messaged
    with store.unit_of_work() as uow:
        held = {r.id for r in uow.automation_runs.find() if r.state.get("heldOut")}
    event(f"held-out runs: {'0' if not held else '1+'}")
    assert not [k for k in messenger.successes if k.split(":")[0] in held]
    # nor is a fan of the account's global control group, by anything
    assert not [
        m
        for m in messenger.delivered.values()
        if in_global_control("owner-1", m["fan_id"], control)
    ]
