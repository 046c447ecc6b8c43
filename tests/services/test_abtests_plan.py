"""A/B tests keep their plan (issue 20): metric, planned horizon, mixing tau, running minima."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, ValidationError
from campaign_core.abtesting import planned_horizon
from campaign_core.testing.helpers import snapshot

VARIANTS = [
    {"name": "A", "content": {"title": "Spring drop"}, "isControl": True},
    {"name": "B", "content": {"title": "Last chance: spring drop"}},
]


def campaign(ws: Any) -> Any:
    return ws.campaigns.create_campaign(
        name="Spring",
        type="ppv",
        platforms=["onlyfans"],
        content={"title": "Spring drop", "price": 20},
        media_urls=["https://cdn.example/a.jpg"],
    )


def track(ws: Any, test: Any, name: str, **counts: int) -> None:
    ws.campaigns.track_variant_performance(test.variant(name).id, counts)


def test_apply_winner_decides_on_the_tests_own_metric(core: CampaignCore, owner: Actor) -> None:
    """A click-through test: apply_winner used conversion_rate and found no winner."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS, metric="click_through_rate")
    assert test.test.metric == "click_through_rate"
    # B gets far more clicks, the same conversions
    track(ws, test, "A", impressions=10_000, clicks=1000, conversions=300)
    track(ws, test, "B", impressions=10_000, clicks=1300, conversions=300)
    decision = ws.campaigns.determine_winner(test.id)
    assert decision.metric == "click_through_rate"
    assert decision.winner_id == test.variant("B").id
    side_look = ws.campaigns.determine_winner(test.id, metric="conversion_rate")
    assert side_look.winner_id is None
    done = ws.campaigns.apply_winner(test.id)
    assert done.test.winner_id == test.variant("B").id
    with pytest.raises(ValidationError) as info:
        ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS, metric="ctr")
    assert {p.path for p in info.value.problems} == {"metric"}


def test_a_fixed_horizon_test_stores_its_planned_size_and_waits_for_it(
    core: CampaignCore, owner: Actor
) -> None:
    """The planned size is computed once at creation; before it no winner, at it the one look."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(
        campaign(ws).id, VARIANTS, planned_mde=0.10, baseline_rate=0.03
    )
    assert test.test.planned_horizon == planned_horizon(0.03, 0.10) == 106_422
    assert test.test.baseline_rate == 0.03
    track(ws, test, "A", impressions=20_000, clicks=2000, conversions=600)
    track(ws, test, "B", impressions=20_000, clicks=2000, conversions=900)
    early = ws.campaigns.determine_winner(test.id)
    assert (early.winner_id, early.reason) == (None, "before_horizon")
    track(ws, test, "A", impressions=33_211, clicks=3321, conversions=960)
    track(ws, test, "B", impressions=33_211, clicks=3321, conversions=972)
    at_horizon = ws.campaigns.determine_winner(test.id)  # 53,211 each: 1560 against 1872
    assert at_horizon.winner_id == test.variant("B").id
    assert ws.campaigns.apply_winner(test.id).test.winner_id == test.variant("B").id


def test_planning_input_is_checked(core: CampaignCore, owner: Actor) -> None:
    """Bad planning input is a ValidationError naming the field; nothing is stored."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    before = snapshot(core.store)
    for kwargs, path in [
        ({"baseline_rate": 1.5}, "baseline_rate"),
        ({"baseline_rate": 0.0}, "baseline_rate"),
        ({"baseline_rate": 0.1, "metric": "revenue_per_impression"}, "baseline_rate"),
        ({"baseline_rate": 0.1, "planned_horizon": 1000}, "planned_horizon"),
        ({"planned_horizon": 0}, "planned_horizon"),
        ({"baseline_rate": 0.95, "planned_mde": 0.5}, "planned_mde"),  # 1.425 is no rate
    ]:
        with pytest.raises(ValidationError) as info:
            ws.campaigns.create_ab_test(c.id, VARIANTS, **kwargs)
        assert path in {p.path for p in info.value.problems}, kwargs
    assert snapshot(core.store) == before
    direct = ws.campaigns.create_ab_test(c.id, VARIANTS, planned_horizon=5000)
    assert direct.test.planned_horizon == 5000


def test_an_always_valid_test_fixes_tau_at_creation_and_keeps_its_winner(
    core: CampaignCore, owner: Actor
) -> None:
    """tau from the plan, stored; the running minimum p-value stored after each look."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(
        campaign(ws).id, VARIANTS, policy="always_valid", planned_mde=0.1, baseline_rate=0.03
    )
    assert test.test.mixing_tau == pytest.approx(0.003)
    assert test.test.planned_horizon is None  # always-valid tests have no horizon
    track(ws, test, "A", impressions=20_000, clicks=2000, conversions=600)
    track(ws, test, "B", impressions=20_000, clicks=2000, conversions=760)
    first = ws.campaigns.determine_winner(test.id)
    b = test.variant("B").id
    assert first.winner_id == b
    stored = ws.campaigns.get_ab_test(test.id).test
    assert stored.min_p_values == {b: pytest.approx(first.comparisons[0].p_value)}
    assert stored.mixing_tau == pytest.approx(0.003)  # unchanged by the look
    track(ws, test, "A", impressions=20_000, clicks=2000, conversions=600)
    track(ws, test, "B", impressions=20_000, clicks=2000, conversions=570)  # the lift shrank
    later = ws.campaigns.determine_winner(test.id)
    assert later.winner_id == b  # it used to disappear (this look alone: p = 0.14)
    assert later.comparisons[0].p_value == pytest.approx(first.comparisons[0].p_value)
    assert ws.campaigns.apply_winner(test.id).test.winner_id == b


def test_without_a_baseline_tau_is_fixed_at_the_first_look(
    core: CampaignCore, owner: Actor
) -> None:
    """tau was recomputed from the observed control at every look; now once, then kept."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS, policy="always_valid")
    assert test.test.mixing_tau is None
    track(ws, test, "A", impressions=10, clicks=2, conversions=1)
    track(ws, test, "B", impressions=10, clicks=2, conversions=1)
    ws.campaigns.determine_winner(test.id)  # below the floors: not a recorded look
    assert ws.campaigns.get_ab_test(test.id).test.mixing_tau is None
    track(ws, test, "A", impressions=9990, clicks=998, conversions=399)
    track(ws, test, "B", impressions=9990, clicks=998, conversions=420)
    ws.campaigns.determine_winner(test.id)
    first = ws.campaigns.get_ab_test(test.id).test
    assert first.mixing_tau == pytest.approx(0.1 * 400 / 10_000)
    track(ws, test, "A", impressions=10_000, clicks=1000, conversions=100)
    track(ws, test, "B", impressions=10_000, clicks=1000, conversions=100)
    ws.campaigns.determine_winner(test.id)
    assert ws.campaigns.get_ab_test(test.id).test.mixing_tau == first.mixing_tau
