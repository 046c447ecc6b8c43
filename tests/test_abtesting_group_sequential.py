"""The group-sequential policy: Lan-DeMets looks that keep the false-positive rate at alpha."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest

from campaign_core import CampaignCore, FakeClock
from campaign_core.abtesting import (
    DecisionReason,
    MinimumSample,
    VariantCounts,
    decide,
    planned_horizon,
)
from campaign_core.errors import ValidationError
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.stats import alpha_spending_bounds
from campaign_core_memory import InMemoryStore

NO_FLOORS = MinimumSample(0, 0, 0)


def _counts(n: int, ka: int, kb: int) -> list[VariantCounts]:
    return [
        VariantCounts("a", is_control=True, impressions=n, clicks=n, conversions=ka),
        VariantCounts("b", impressions=n, clicks=n, conversions=kb),
    ]


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_a_a_tests_with_four_looks_stay_at_alpha(spending: str) -> None:
    """Four looks at 25/50/75/100 % of the plan: A/A winners ~5 %, not the ~13 % of naive peeks."""
    rng = np.random.default_rng(20 if spending == "pocock" else 21)
    reps, rate, per_arm = 1500, 0.05, 2000
    horizon = 2 * per_arm
    winners = naive = 0
    for _ in range(reps):
        a = rng.binomial(1, rate, per_arm).cumsum()
        b = rng.binomial(1, rate, per_arm).cumsum()
        looks: list[float] = []
        won = peeked = False
        for quarter in (1, 2, 3, 4):
            n = per_arm * quarter // 4
            counts = _counts(n, int(a[n - 1]), int(b[n - 1]))
            decision = decide(
                counts,
                policy="group_sequential",
                planned_horizon=horizon,
                spending=spending,  # type: ignore[arg-type]
                previous_looks=looks,
                min_samples=NO_FLOORS,
                bayesian=False,
            )
            assert decision.information is not None
            looks.append(decision.information)
            won = won or decision.winner_id is not None
            peeked = peeked or decision.comparisons[0].p_value < 0.05
        winners += won
        naive += peeked
    bound = 4.0 * math.sqrt(0.05 * 0.95 / reps)
    assert abs(winners / reps - 0.05) <= bound
    assert naive / reps > 0.08  # what the boundaries protect against


def test_the_boundary_is_lan_demets_at_this_looks_information() -> None:
    """At half the plan the nominal boundary is alpha_spending_bounds([0.5]) (OBF: ~0.003)."""
    horizon = planned_horizon(0.03, 0.2)
    n = horizon // 4
    decision = decide(
        _counts(n, int(n * 0.03), int(n * 0.036)),
        policy="group_sequential",
        planned_horizon=horizon,
        min_samples=NO_FLOORS,
    )
    expected = alpha_spending_bounds([decision.information or 0.0]).nominal_p[-1]
    assert decision.look_p_bound == pytest.approx(expected)
    assert decision.look_p_bound == pytest.approx(0.00305, abs=5e-5)
    assert decision.reason is DecisionReason.NOT_SIGNIFICANT
    assert decision.comparisons[0].p_value < 0.05  # a naive peek would have stopped here


def test_a_large_effect_stops_at_an_early_look() -> None:
    """A strong lift crosses the O'Brien-Fleming boundary at a quarter of the plan."""
    decision = decide(
        _counts(10_000, 300, 480),
        policy="group_sequential",
        planned_horizon=80_000,
        min_samples=NO_FLOORS,
    )
    assert decision.information == pytest.approx(0.25)
    assert (decision.winner_id, decision.reason) == ("b", DecisionReason.SIGNIFICANT)
    assert decision.to_dict()["lookPBound"] == decision.look_p_bound


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({}, "planned_horizon"),
        ({"planned_horizon": 1000, "spending": "linear"}, "spending"),
        ({"planned_horizon": 1000, "previous_looks": [0.5, 0.4]}, "previous_looks[1]"),
        ({"planned_horizon": 1000, "previous_looks": [1.5]}, "previous_looks[0]"),
        ({"planned_horizon": 1000, "previous_looks": [math.nan]}, "previous_looks[0]"),
        ({"planned_horizon": 1000, "previous_looks": "0.5"}, "previous_looks"),
    ],
)
def test_bad_sequential_options_name_their_path(kwargs: dict[str, object], path: str) -> None:
    """A missing horizon, unknown spending or looks that are not increasing fractions are refused."""
    with pytest.raises(ValidationError) as info:
        decide(_counts(1000, 30, 40), policy="group_sequential", **kwargs)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]


def test_previous_looks_are_only_for_this_policy() -> None:
    """previous_looks with another policy is a mistake, named."""
    with pytest.raises(ValidationError) as info:
        decide(_counts(1000, 30, 40), previous_looks=[0.5])
    assert info.value.problems[0].path == "previous_looks"


def _set_counts(core: CampaignCore, ids: dict[str, str], n: int, ka: int, kb: int) -> None:
    with core.store.unit_of_work() as uow:
        for name, k in (("A", ka), ("B", kb)):
            variant = uow.ab_test_variants.get(ids[name])
            assert variant is not None
            uow.ab_test_variants.update(
                attrs.evolve(
                    variant, impressions=n, clicks=n, conversions=k, version=variant.version + 1
                )
            )
        uow.commit()


def test_a_stored_test_records_each_new_look(any_store: Store) -> None:
    """determine_winner records a look per new information fraction, on every store."""
    core = CampaignCore(any_store, clock=FakeClock())
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring", type="promotion")
    details = ws.abtests.create_ab_test(
        campaign.id,
        [{"name": "A", "content": {}}, {"name": "B", "content": {"text": "new"}}],
        policy="group_sequential",
        planned_horizon=8000,
        spending="pocock",
    )
    test_id = details.test.id
    assert (details.test.spending, details.test.looks) == ("pocock", None)
    ids = {v.name: v.id for v in details.variants}
    _set_counts(core, ids, 2000, 60, 64)
    first = ws.abtests.determine_winner(test_id)
    assert first.information == pytest.approx(0.5)
    ws.abtests.determine_winner(test_id)  # nothing new: the same look again
    assert ws.abtests.get_ab_test(test_id).test.looks == [pytest.approx(0.5)]
    _set_counts(core, ids, 4000, 120, 200)
    final = ws.abtests.determine_winner(test_id)
    assert final.information == 1.0
    assert ws.abtests.get_ab_test(test_id).test.looks == [pytest.approx(0.5), 1.0]
    expected = alpha_spending_bounds([0.5, 1.0], spending="pocock").nominal_p[-1]
    assert final.look_p_bound == pytest.approx(expected)
    assert final.winner_id == ids["B"]
    assert ws.abtests.apply_winner(test_id).test.winner_id == ids["B"]


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"policy": "group_sequential"}, "planned_horizon"),
        ({"policy": "group_sequential", "planned_horizon": 8000, "spending": "x"}, "spending"),
        ({"spending": "pocock"}, "spending"),
    ],
)
def test_bad_sequential_tests_are_not_created(options: dict[str, object], path: str) -> None:
    """A sequential test without its size, or spending without the policy, creates nothing."""
    ws = CampaignCore(InMemoryStore(), clock=FakeClock()).for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring", type="promotion")
    with pytest.raises(ValidationError) as info:
        ws.abtests.create_ab_test(
            campaign.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}], **options
        )
    assert path in [p.path for p in info.value.problems]
    assert ws.abtests.list_ab_tests() == []
