"""The bayesian decision policy: a winner that is probable and cheap to be wrong about."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest

from campaign_core import CampaignCore, FakeClock
from campaign_core.abtesting import DecisionReason, MinimumSample, VariantCounts, decide
from campaign_core.errors import ValidationError
from campaign_core.permissions import Actor
from campaign_core.stats import expected_loss
from campaign_core_memory import InMemoryStore

NO_FLOORS = MinimumSample(0, 0, 0)


def _pair(a: int, b: int, n: int = 53_211) -> list[VariantCounts]:
    return [
        VariantCounts("a", is_control=True, impressions=n, clicks=n // 10, conversions=a),
        VariantCounts("b", impressions=n, clicks=n // 10, conversions=b),
    ]


def test_a_clear_improvement_wins_with_its_risk_reported() -> None:
    """+20 % at 53k impressions a arm: P(beat) ~ 1 and the treatment's risk is negligible."""
    decision = decide(_pair(1560, 1872), policy="bayesian")
    assert (decision.winner_id, decision.reason) == ("b", DecisionReason.LOW_RISK)
    comparison = decision.comparisons[0]
    loss = expected_loss(1560, 53_211, 1872, 53_211)
    assert comparison.expected_loss_treatment == loss.loss_treatment
    assert comparison.expected_loss_control == loss.loss_control
    assert comparison.prob_beat_control == loss.prob_beat_control
    # the frequentist test is still reported beside it
    assert comparison.p_value < 1e-6


def test_a_small_noisy_difference_is_too_risky_to_call() -> None:
    """+1 % lift: neither choice is safe at the default 0.25 % threshold of caring."""
    decision = decide(_pair(1560, 1580), policy="bayesian")
    assert decision.winner_id is None
    assert decision.reason is DecisionReason.RISK_ABOVE_THRESHOLD
    # a looser threshold of caring and probability accepts the same data
    loose = decide(_pair(1560, 1580), policy="bayesian", risk_threshold=0.5, prob_threshold=0.6)
    assert loose.winner_id == "b"


def test_the_control_wins_when_every_treatment_is_worse() -> None:
    """A treatment that is clearly worse leaves the control as the safe choice."""
    decision = decide(_pair(1560, 1300), policy="bayesian")
    assert (decision.winner_id, decision.reason) == ("a", DecisionReason.LOW_RISK)


def test_floors_and_the_sample_ratio_still_come_first() -> None:
    """The bayesian policy is bound by the same floors and sample-ratio check as the others."""
    small = decide(_pair(3, 10, n=200), policy="bayesian")
    assert small.reason is DecisionReason.BELOW_MINIMUM_SAMPLE
    lopsided = [
        VariantCounts("a", is_control=True, impressions=10_000, clicks=1000, conversions=300),
        VariantCounts("b", impressions=8000, clicks=1000, conversions=400),
    ]
    assert (
        decide(lopsided, policy="bayesian", min_samples=NO_FLOORS).reason
        is DecisionReason.SAMPLE_RATIO_MISMATCH
    )


def test_three_arms_pick_the_best_safe_treatment() -> None:
    """With two safe treatments the larger observed improvement wins."""
    variants = [
        *_pair(1560, 1872),
        VariantCounts("c", impressions=53_211, clicks=5321, conversions=2000),
    ]
    decision = decide(variants, policy="bayesian")
    assert decision.winner_id == "c"
    assert all(c.expected_loss_treatment is not None for c in decision.comparisons)


def test_frequentist_policies_report_no_risk_unless_bayesian() -> None:
    """Risks cost two more exact sums: computed only when the decision uses them."""
    decision = decide(_pair(1560, 1872))
    assert decision.comparisons[0].expected_loss_treatment is None
    assert decision.comparisons[0].prob_beat_control is not None
    assert decide(_pair(1560, 1872), policy="bayesian", bayesian=False).winner_id == "b"


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"risk_threshold": 0.0}, "risk_threshold"),
        ({"risk_threshold": math.nan}, "risk_threshold"),
        ({"risk_threshold": 1.5}, "risk_threshold"),
        ({"prob_threshold": 0.4}, "prob_threshold"),
        ({"prob_threshold": 1.0}, "prob_threshold"),
        ({"prob_threshold": "high"}, "prob_threshold"),
        ({"metric": "revenue_per_impression"}, "metric"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, object], path: str) -> None:
    """Bad thresholds, or a revenue metric under the bayesian policy, are refused by name."""
    with pytest.raises(ValidationError) as info:
        decide(_pair(1560, 1872), policy="bayesian", **kwargs)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]


def test_the_realized_loss_of_bayesian_choices_stays_below_the_threshold() -> None:
    """Over simulated tests with small true effects, the rate lost by wrong calls is tiny.

    What the rule promises: the *expected* loss of a call is at most the
    threshold of caring. Averaged over many tests whose true lifts are drawn
    around zero, the realized loss per call stays within it (Monte Carlo).
    """
    rng = np.random.default_rng(20)
    base, n, threshold = 0.03, 40_000, 0.0025
    lost, calls = 0.0, 0
    for _ in range(400):
        lift = rng.normal(0.0, 0.05)
        rates = (base, base * (1.0 + lift))
        ka, kb = (int(rng.binomial(n, r)) for r in rates)
        decision = decide(
            _pair(ka, kb, n=n), policy="bayesian", min_samples=NO_FLOORS, bayesian=False
        )
        if decision.winner_id is None:
            continue
        calls += 1
        chosen = rates[0] if decision.winner_id == "a" else rates[1]
        lost += max(rates) - chosen
    assert calls > 50
    assert lost / calls <= threshold * base


def test_a_stored_test_decides_and_applies_with_its_bayesian_policy() -> None:
    """The service stores the policy; determine_winner and apply_winner use it."""
    core = CampaignCore(InMemoryStore(), clock=FakeClock())
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring", type="promotion")
    details = ws.abtests.create_ab_test(
        campaign.id,
        [{"name": "A", "content": {}}, {"name": "B", "content": {"text": "new"}}],
        policy="bayesian",
    )
    assert details.test.policy == "bayesian"
    ids = {v.name: v.id for v in details.variants}
    with core.store.unit_of_work() as uow:
        for name, conversions in (("A", 1560), ("B", 1872)):
            variant = uow.ab_test_variants.get(ids[name])
            assert variant is not None
            uow.ab_test_variants.update(
                attrs.evolve(
                    variant,
                    impressions=53_211,
                    clicks=5321,
                    conversions=conversions,
                    version=variant.version + 1,
                )
            )
        uow.commit()
    decision = ws.abtests.determine_winner(details.test.id)
    assert (decision.winner_id, decision.reason) == (ids["B"], DecisionReason.LOW_RISK)
    applied = ws.abtests.apply_winner(details.test.id)
    assert applied.test.winner_id == ids["B"]
    with pytest.raises(ValidationError) as info:
        ws.abtests.create_ab_test(
            campaign.id,
            [{"name": "A", "content": {}}, {"name": "B", "content": {}}],
            policy="bayesian",
            metric="revenue_per_impression",
        )
    assert info.value.problems[0].path == "policy"
