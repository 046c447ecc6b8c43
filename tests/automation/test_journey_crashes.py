"""Crash at every write across a branching journey: same end, every side effect once.

The journey counts the visit in a trait (update_trait, an expression), calls a
webhook, has an experiment path (a random split), a condition split (fan fields and event history) and a wait for
an event with a timeout (one fan's event wakes it, the others time out) and a
goal exit (one fan converts while waiting); a
:class:`~campaign_core.testing.FailingStore` raises at its k-th write, the
"process" restarts on the same store and the host retries the failed call.
For every k the runs end where the crash-free runs end and each message is
delivered once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, Settings
from campaign_core.abtesting import assign_variant
from campaign_core.automation import RecordingWebhookSender
from campaign_core.models import RunStatus
from campaign_core.ports import Store
from campaign_core.testing import FailingStore
from campaign_core.testing.helpers import InjectedFault
from tests.automation.helpers import T0, CountingMessenger
from tests.conftest import make_store

OWNER = Actor("owner-1")
Messengers = tuple[CountingMessenger, RecordingWebhookSender]
Op = Callable[[CampaignCore, FakeClock], Any]

JOURNEY: dict[str, Any] = {
    "name": "Branching journey",
    "trigger": {"type": "event", "event": "go"},
    "settings": {"goal": {"event": "subscription.upgraded", "within": "3 days"}},
    "actions": [
        {
            "type": "update_trait",
            "id": "count",
            "trait": "visits",
            "value": {"$add": [{"$ref": "fan.traits.visits"}, 1]},
        },
        {
            "type": "webhook",
            "id": "hook",
            "url": "https://hooks.example.com/journey",
            "body": {"fan": {"$ref": "fan.fanId"}, "visits": {"$ref": "fan.traits.visits"}},
        },
        {
            "type": "random_split",
            "id": "arm",
            "branches": [
                {
                    "name": "a",
                    "weight": 50,
                    "then": [{"type": "send_message", "template": "arm_a"}],
                },
                {"name": "b", "weight": 50, "then": []},
            ],
        },
        {
            "type": "condition_split",
            "id": "tier",
            "branches": [
                {
                    "name": "buyer",
                    "when": "count(purchase) >= 1",
                    "then": [{"type": "send_message", "template": "thanks"}],
                },
                {
                    "name": "rich",
                    "when": {"lifetimeValue": ">=500"},
                    "then": [
                        {"type": "wait", "duration": "1 hour"},
                        {"type": "send_message", "template": "vip"},
                    ],
                },
            ],
            "default": [{"type": "send_message", "template": "generic"}],
        },
        {
            "type": "wait_until",
            "id": "bought",
            "event": "purchase",
            "filter": {"plan": "gold"},
            "timeout": "1 day",
            "onEvent": [{"type": "send_message", "template": "welcome_gold"}],
            "onTimeout": [{"type": "send_message", "template": "follow_up", "id": "follow-up"}],
        },
    ],
}


def _advance(span: str) -> Op:
    def op(core: CampaignCore, clock: FakeClock) -> None:
        clock.advance(span)
        core.tick()

    return op


SCRIPT: list[Op] = [
    lambda core, clock: core.for_actor(OWNER).automations.create_workflow(JOURNEY, activate=True),
    lambda core, clock: core.for_actor(OWNER).fans.record_event("fan-b", "purchase"),
    lambda core, clock: core.for_actor(OWNER).fans.record_event("fan-b", "go"),
    lambda core, clock: core.for_actor(OWNER).fans.record_event("fan-r", "go"),
    lambda core, clock: core.for_actor(OWNER).fans.record_event("fan-g", "go"),
    _advance("1 minute"),
    _advance("2 hours"),
    lambda core, clock: core.for_actor(OWNER).fans.record_event(
        "fan-g", "purchase", properties={"plan": "gold"}
    ),
    lambda core, clock: core.for_actor(OWNER).fans.record_event(
        "fan-r", "purchase", properties={"plan": "basic"}
    ),
    lambda core, clock: core.for_actor(OWNER).fans.record_event("fan-r", "subscription.upgraded"),
    _advance("1 minute"),
    _advance("1 day"),
    _advance("1 day"),
]


def _run(fail_at: int | None, backend: str = "memory") -> tuple[Store, Messengers, int, bool]:
    inner = make_store(backend)
    prep = CampaignCore(inner, clock=FakeClock(T0), ids=SequentialIds("prep"))
    prep.for_actor(OWNER).fans.upsert_fan("fan-r", lifetime_value=900.0)
    prep.for_actor(OWNER).fans.upsert_fan("fan-b", lifetime_value=900.0)
    prep.for_actor(OWNER).fans.upsert_fan("fan-g", lifetime_value=5.0)
    clock = FakeClock(T0)
    ids = SequentialIds()
    messenger = CountingMessenger()
    hooks = RecordingWebhookSender()
    settings = Settings(lease_duration=timedelta(minutes=1), fan_traits={"visits": "number"})
    failing = FailingStore(inner, fail_at=fail_at)
    ports: dict[str, Any] = {"messenger": messenger, "webhooks": hooks}
    core = CampaignCore(failing, clock=clock, ids=ids, settings=settings, **ports)
    crashed = False
    for op in SCRIPT:
        try:
            op(core, clock)
        except InjectedFault:
            crashed = True
            clock.advance("2 minutes")
            core = CampaignCore(inner, clock=clock, ids=ids, settings=settings, **ports)
            op(core, clock)
    return inner, (messenger, hooks), failing.writes, crashed


def _ends(store: Store, ports: Messengers) -> tuple[Any, ...]:
    messenger, hooks = ports
    with store.unit_of_work() as uow:
        runs = uow.automation_runs.find()
        history = uow.automation_step_runs.find()
        fans = uow.fans.find()
    by_run = {r.id: r.fan_id for r in runs}
    # the experiment path is the fan's sticky assignment under this store's workflow id
    # (a crash while creating the workflow gives it another id, so other paths)
    with store.unit_of_work() as uow:
        [automation] = uow.automations.find()
    arms = {
        fan: assign_variant(f"{automation.id}/arm", fan, {"a": 50, "b": 50})
        for fan in set(by_run.values())
    }
    for h in history:
        if h.step_id == "arm":
            assert h.output["branch"] == arms[by_run[h.run_id]]
    sent_a = sorted(by_run[k.split(":")[0]] for k in messenger.delivered if ":arm.a-1:" in k)
    assert sent_a == sorted(f for f, arm in arms.items() if arm == "a")
    branches = sorted(
        (by_run[h.run_id], h.step_id, h.output.get("branch") or h.output["outcome"])
        for h in history
        if h.step_id in ("tier", "bought")
    )
    delivered = sorted(
        (by_run[k.split(":")[0]], k.split(":")[1])
        for k in messenger.delivered
        if ":arm.a-1:" not in k
    )
    # the trait is counted once per run whatever the crash; the webhook may be called
    # again after a crash, always with its step visit's key (delivered once per key)
    visits = sorted((f.fan_id, f.traits.get("visits")) for f in fans)
    assert {r.idempotency_key for r in hooks.requests} == set(hooks.delivered)
    calls = sorted(json.loads(r.body)["fan"] for r in hooks.delivered.values())
    bodies = sorted(json.loads(r.body)["visits"] for r in hooks.requests)
    return (
        sorted((r.fan_id, r.status, r.cursor) for r in runs),
        branches,
        delivered,
        visits,
        calls,
        set(bodies),
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres", "mariadb"])
def test_the_crash_free_run_takes_each_branch(backend: str) -> None:
    """Without crashes each fan takes its branch and gets its messages, on every store."""
    store, messenger, total, crashed = _run(None, backend)
    assert not crashed
    assert total > 20
    runs, branches, delivered, visits, calls, bodies = _ends(store, messenger)
    # fan-r reached the workflow's goal while waiting: their run exited there
    assert [(fan, status) for fan, status, _ in runs] == [
        ("fan-b", RunStatus.COMPLETED),
        ("fan-g", RunStatus.COMPLETED),
        ("fan-r", RunStatus.EXITED),
    ]
    # fan-b's purchase came before the wait began
    assert branches == [
        ("fan-b", "bought", "timeout"),
        ("fan-b", "tier", "buyer"),
        ("fan-g", "bought", "event"),
        ("fan-g", "tier", "default"),
        ("fan-r", "tier", "rich"),
    ]
    assert delivered == [
        ("fan-b", "follow-up"),
        ("fan-b", "tier.buyer-1"),
        ("fan-g", "bought.event-1"),
        ("fan-g", "tier.default-1"),
        ("fan-r", "tier.rich-2"),
    ]
    assert visits == [("fan-b", 1), ("fan-g", 1), ("fan-r", 1)]
    assert calls == ["fan-b", "fan-g", "fan-r"]
    assert bodies == {1}


CHUNKS = 2


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_crash_at_every_write_of_a_branching_journey(chunk: int) -> None:
    """For every k, the runs end as without crashes and each message is delivered once."""
    store, messenger, total, _ = _run(None)
    expected = _ends(store, messenger)
    for k in range(1 + chunk, total + 1, CHUNKS):
        store, messenger, _, _ = _run(k)
        # a crash between a send and its record repeats the call with the same
        # idempotency key: the provider delivers it once (``delivered`` is per key)
        assert _ends(store, messenger) == expected, f"crash at write {k}"
