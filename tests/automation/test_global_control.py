"""The global control group: a sticky share of each account's fans no workflow or broadcast messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.delivery import MessagingSettings, SendPolicy, Suppress, in_global_control
from campaign_core.errors import ValidationError
from campaign_core.models import Fan, StepStatus
from campaign_core.ports import Store
from campaign_core.testing.helpers import T0
from tests.automation.helpers import CountingMessenger

OWNER = Actor("owner-1")


@pytest.mark.parametrize("value", [-1, 100, 150, float("nan"), "10", True])
def test_the_percentage_is_checked_with_its_path(value: Any) -> None:
    """global_control is a percentage from 0 to below 100."""
    with pytest.raises(ValidationError) as caught:
        MessagingSettings(global_control=value)
    assert caught.value.problems[0].path == "settings.messaging.global_control"


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1.0, 5.0, 10.0, 33.0, 50.0]), st.text(min_size=1, max_size=12))
def test_membership_is_sticky_per_account_and_within_binomial_bounds(
    percent: float, owner: str
) -> None:
    """About percent % of 2,000 fans (within 4.5 standard deviations), the same every time."""
    fans = [f"fan-{i}" for i in range(2000)]
    inside = [f for f in fans if in_global_control(owner, f, percent)]
    p = percent / 100
    sd = (2000 * p * (1 - p)) ** 0.5
    assert abs(len(inside) - 2000 * p) <= 4.5 * sd
    assert inside == [f for f in fans if in_global_control(owner, f, percent)]
    # a larger group keeps everyone the smaller one had
    assert set(inside) <= {f for f in fans if in_global_control(owner, f, min(99.0, percent * 2))}


def test_the_send_policy_suppresses_the_control_group() -> None:
    """Every send path asks the policy: a control fan is suppressed with the reason."""
    policy = SendPolicy(MessagingSettings(global_control=50))
    reasons = set()
    for i in range(40):
        fan = Fan(id=f"f{i}", owner_id="o", fan_id=f"fan-{i}", created_at=T0, updated_at=T0)
        verdict = policy.eligible(fan=fan, channels="dm", topic=None)
        expected = in_global_control("o", fan.fan_id, 50)
        assert isinstance(verdict, Suppress) == expected
        reasons |= {verdict.reason} if isinstance(verdict, Suppress) else set()
    assert reasons == {"global_control"}


FLOW: dict[str, Any] = {
    "name": "Win back",
    "trigger": {"type": "event", "event": "go"},
    "settings": {"goal": {"event": "purchase", "within": "7 days"}, "holdout": 10},
    "actions": [
        {"type": "send_message", "template": "we_miss_you"},
        {"type": "emit_event", "event": "went.through"},
    ],
}


def test_control_fans_run_workflows_unmessaged_and_the_global_lift_is_reported(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """Control fans skip every message (recorded), run the other steps, and form their own group."""
    messenger = CountingMessenger()
    core = core_factory(
        local_store,
        messenger=messenger,
        settings=Settings(messaging=MessagingSettings(global_control=20)),
    )
    ws = core.for_actor(OWNER)
    flow = ws.automations.create_workflow(FLOW, activate=True)
    fans = [f"fan-{i}" for i in range(150)]
    for fan in fans:
        ws.fans.record_event(fan, "go")
    for _ in range(3):
        core.tick()
    control = {f for f in fans if in_global_control("owner-1", f, 20)}
    assert 10 <= len(control) <= 55
    messaged = {m["fan_id"] for m in messenger.delivered.values()}
    assert not messaged & control
    with core.store.unit_of_work() as uow:
        runs = uow.automation_runs.find()
        rows = uow.automation_step_runs.find()
        emitted = {e.fan_id for e in uow.fan_events.find() if e.name == "went.through"}
    assert emitted == set(fans)  # the other steps ran for everyone
    by_run = {r.id: r for r in runs}
    for row in rows:
        run = by_run[row.run_id]
        if row.action_type == "send_message" and run.fan_id in control:
            assert row.status is StepStatus.SKIPPED
            assert row.output == {"heldOut": True, "globalControl": True}
    assert {r.fan_id for r in runs if r.state.get("globalControl")} == control
    clock.advance("1 day")
    for i, fan in enumerate(fans):
        if i % (2 if fan not in control else 5) == 0:
            ws.fans.record_event(fan, "purchase")
    stats = ws.automations.get_goal_stats(flow.id)
    assert stats.global_control == 20
    assert stats.global_control_entered == len(control)
    assert stats.global_control_converted == sum(
        1 for i, f in enumerate(fans) if f in control and i % 5 == 0
    )
    assert stats.treated_entered + stats.held_out_entered + len(control) == len(fans)
    assert stats.global_lift is not None
    assert stats.global_lift_lower <= stats.global_lift <= stats.global_lift_upper
    assert 0 <= stats.global_lift_p_value <= 1


def test_without_a_control_group_nothing_changes(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """global_control 0 (the default): no fan is in it, no global lift."""
    core = core_factory(local_store)
    ws = core.for_actor(OWNER)
    flow = ws.automations.create_workflow(FLOW, activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    stats = ws.automations.get_goal_stats(flow.id)
    assert stats.global_control is None
    assert stats.global_control_entered == 0
    assert stats.global_lift is None


def test_broadcasts_skip_the_control_group(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """A broadcast suppresses control fans with the reason global_control."""
    from tests.delivery.helpers import (
        OWNER as BROADCAST_OWNER,
    )
    from tests.delivery.helpers import (
        DedupMessenger,
        broadcast_campaign,
        run_until_idle,
        seed_audience,
    )

    messenger = DedupMessenger()
    core = core_factory(
        local_store,
        messenger=messenger,
        settings=Settings(messaging=MessagingSettings(global_control=25)),
    )
    ws = core.for_actor(Actor(BROADCAST_OWNER))
    fans = seed_audience(local_store, 80)
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    control = {f for f in fans if in_global_control(BROADCAST_OWNER, f, 25)}
    assert control
    assert set(messenger.fans()) == set(fans) - control
    with core.store.unit_of_work() as uow:
        rows = uow.deliveries.find()
    suppressed = {r.fan_id for r in rows if r.status == "suppressed"}
    assert suppressed == control
    assert {r.reason for r in rows if r.status == "suppressed"} == {"global_control"}


def test_an_account_may_have_its_own_percentage() -> None:
    """global_control_accounts replaces the default for the accounts it names, checked with paths."""
    settings = MessagingSettings(global_control=10, global_control_accounts={"big": 30, "none": 0})
    assert settings.global_control_of("big") == 30
    assert settings.global_control_of("none") == 0
    assert settings.global_control_of("other") == 10
    fans = [f"fan-{i}" for i in range(300)]
    assert not any(settings.in_global_control("none", f) for f in fans)
    big = {f for f in fans if settings.in_global_control("big", f)}
    assert big == {f for f in fans if in_global_control("big", f, 30)}
    with pytest.raises(ValidationError) as caught:
        MessagingSettings(global_control_accounts={"a": 100, "b": "5"})
    assert [p.path for p in caught.value.problems] == [
        "settings.messaging.global_control_accounts.a",
        "settings.messaging.global_control_accounts.b",
    ]
