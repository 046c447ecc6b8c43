"""The two end-to-end journeys of the docs: the abandoned purchase and a decided win-back.

- Abandoned purchase: wait for ``purchase`` up to 24 hours, else remind. Half the fans buy
  at random instants: each buyer's run wakes at the purchase and takes the event branch
  (never reminded); the others are reminded once, exactly at the timeout.
- Win-back: two experiment paths (always valid) and a 10% holdout. Held-out fans go
  through the journey but are never messaged; the experiment decides on goal conversion
  and routes later entrants to the winner; the lift over the holdout is reported.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta
from typing import Any

from campaign_core import Actor, CampaignCore, FakeClock
from campaign_core.jobs.automation import held_out
from campaign_core.models import RunStatus
from campaign_core_memory import InMemoryStore
from tests.automation.helpers import T0, CountingMessenger

ABANDONED_PURCHASE: dict[str, Any] = {
    "name": "Abandoned purchase",
    "trigger": {"type": "event", "event": "checkout.started"},
    "actions": [
        {
            "type": "wait_until",
            "id": "purchased",
            "event": "purchase",
            "timeout": "24 hours",
            "onTimeout": [{"type": "send_message", "template": "complete_your_purchase"}],
        },
    ],
}

WIN_BACK: dict[str, Any] = {
    "name": "Win back, two offers decided, 10% holdout",
    "trigger": {"type": "event", "event": "fan.lapsed"},
    "settings": {
        "goal": {"event": "purchase", "within": "3 days"},
        "holdout": 10,
        "reentry": "always",
    },
    "actions": [
        {
            "type": "random_split",
            "id": "offer",
            "experiment": {"policy": "always_valid", "baselineRate": 0.1, "minPerPath": 100},
            "branches": [
                {
                    "name": "content",
                    "weight": 50,
                    "then": [{"type": "send_message", "template": "what_you_missed"}],
                },
                {
                    "name": "discount",
                    "weight": 50,
                    "then": [{"type": "send_message", "template": "come_back_discount"}],
                },
            ],
        },
    ],
}


def _core(messenger: CountingMessenger) -> CampaignCore:
    return CampaignCore(InMemoryStore(), clock=FakeClock(T0), messenger=messenger)


def test_abandoned_purchase_buyers_wake_at_their_purchase_the_rest_are_reminded() -> None:
    """400 fans, half buying at random instants within the day, ticks every hour."""
    messenger = CountingMessenger()
    core = _core(messenger)
    clock = core.clock
    assert isinstance(clock, FakeClock)
    ws = core.for_actor(Actor("owner-1"))
    flow = ws.automations.create_workflow(ABANDONED_PURCHASE, activate=True)
    fans = [f"fan-{i:03d}" for i in range(400)]
    for fan in fans:
        ws.fans.record_event(fan, "checkout.started")
    core.tick()
    rng = random.Random(19)
    buyers = dict(
        sorted(
            ((fan, timedelta(minutes=rng.randrange(1, 24 * 60))) for fan in rng.sample(fans, 200)),
            key=lambda item: item[1],
        )
    )
    pending = list(buyers.items())
    for hour in range(1, 25):
        while pending and pending[0][1] < timedelta(hours=hour):
            fan, at = pending.pop(0)
            clock.set(T0 + at)
            ws.fans.record_event(fan, "purchase", value=20.0)
        clock.set(T0 + timedelta(hours=hour))
        core.tick()
    runs = {r.fan_id: r for r in ws.automations.list_runs(flow.id, limit=1000)}
    assert {r.status for r in runs.values()} == {RunStatus.COMPLETED}
    for fan, run in runs.items():
        [wait] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "purchased"]
        if fan in buyers:
            assert wait.output["outcome"] == "event"
            # woken by the purchase: finished at the first tick after it, not at the timeout
            assert run.finished_at is not None
            assert run.finished_at - (T0 + buyers[fan]) <= timedelta(hours=1)
        else:
            assert wait.output["outcome"] == "timeout"
            assert run.finished_at == T0 + timedelta(hours=24)
    reminded = sorted(m["fan_id"] for m in messenger.delivered.values())
    assert reminded == sorted(set(fans) - set(buyers))
    assert messenger.duplicates() == {}


def _converts(fan: str, branch: str | None) -> bool:
    """A deterministic coin: discount 45%, content 15%, held out 8%."""
    rate = {"discount": 0.45, "content": 0.15}.get(branch or "", 0.08)
    return hashlib.sha256(fan.encode()).digest()[0] / 256 < rate


def test_win_back_with_two_experiment_paths_and_a_ten_percent_holdout() -> None:
    """Held-out fans are never messaged; the experiment decides and routes; lift reported."""
    messenger = CountingMessenger()
    core = _core(messenger)
    clock = core.clock
    assert isinstance(clock, FakeClock)
    ws = core.for_actor(Actor("owner-1"))
    flow = ws.automations.create_workflow(WIN_BACK, activate=True)
    lapsed = [f"lapsed-{i:04d}" for i in range(1000)]
    for fan in lapsed:
        ws.fans.record_event(fan, "fan.lapsed")
    core.tick()
    runs = ws.automations.list_runs(flow.id, limit=2000)
    held = {r.fan_id for r in runs if r.state.get("heldOut")}
    assert held == {f for f in lapsed if held_out(flow.id, f, 10)}
    # 10% within 4.5 standard deviations of the binomial
    assert abs(len(held) - 100) <= 4.5 * math.sqrt(1000 * 0.1 * 0.9)
    messaged = {m["fan_id"] for m in messenger.delivered.values()}
    assert not held & messaged
    assert messaged == set(lapsed) - held
    paths = {}
    for run in runs:
        [split] = [h for h in ws.automations.get_step_history(run.id) if h.step_id == "offer"]
        paths[run.fan_id] = split.output["branch"]
        assert split.output["experiment"]  # counted in the experiment
    clock.advance("1 day")
    for fan in lapsed:
        if _converts(fan, None if fan in held else paths[fan]):
            ws.fans.record_event(fan, "purchase", value=15.0)
    clock.advance("3 days")  # every conversion window has ended
    core.tick()
    stats = ws.automations.get_goal_stats(flow.id)
    [experiment] = stats.experiments
    assert (experiment.status, experiment.winner) == ("completed", "discount")
    assert experiment.decided_at == clock.now()
    assert stats.lift is not None
    assert stats.lift_lower is not None
    assert stats.lift_lower > 0  # treated fans came back more than held-out ones
    assert stats.held_out_entered == len(held)
    # later entrants: the treated ones all get the winning offer, held-out ones nothing
    before = set(messenger.delivered)
    newcomers = [f"new-{i:03d}" for i in range(100)]
    for fan in newcomers:
        ws.fans.record_event(fan, "fan.lapsed")
    core.tick()
    new_messages = [messenger.delivered[k] for k in set(messenger.delivered) - before]
    assert {m["template"] for m in new_messages} == {"come_back_discount"}
    assert {m["fan_id"] for m in new_messages} == {
        f for f in newcomers if not held_out(flow.id, f, 10)
    }
    assert messenger.duplicates() == {}
