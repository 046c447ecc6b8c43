"""Guardrail metrics (non-inferiority, scipy/statsmodels oracles) and secondary metrics."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import test_proportions_2indep as wald_two_proportions

from campaign_core import CampaignCore, FakeClock
from campaign_core.abtesting import DecisionReason, Guardrail, MinimumSample, VariantCounts, decide
from campaign_core.abtesting._guardrails import check_guardrails
from campaign_core.errors import ConflictError, ValidationError
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.stats import adjust_pvalues
from campaign_core_memory import InMemoryStore

NO_FLOORS = MinimumSample(0, 0, 0)


def _variants(clicks_b: int = 4800, conversions_b: int = 1872) -> list[VariantCounts]:
    return [
        VariantCounts("a", is_control=True, impressions=53_211, clicks=5321, conversions=1560),
        VariantCounts("b", impressions=53_211, clicks=clicks_b, conversions=conversions_b),
    ]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(50, 10**6),
    st.integers(50, 10**6),
    st.floats(0.01, 0.6),
    st.floats(0.01, 0.6),
    st.floats(0.001, 0.5),
    st.sampled_from([0.9, 0.95, 0.99]),
)
def test_rate_guardrails_match_statsmodels_wald_non_inferiority(
    na: int, nb: int, ra: float, rb: float, margin: float, level: float
) -> None:
    """The rate guardrail's p-value is statsmodels' Wald test of diff > -margin."""
    ka, kb = round(na * ra), round(nb * rb)
    control = VariantCounts("a", is_control=True, impressions=na, clicks=ka)
    treatment = VariantCounts("b", impressions=nb, clicks=kb)
    guardrail = Guardrail("click_through_rate", margin, relative=False)
    (result,) = check_guardrails([guardrail], control, [treatment], 1.0 - level)
    with np.errstate(all="ignore"):  # statsmodels also computes ratios, undefined at 0
        oracle = wald_two_proportions(
            kb, nb, ka, na, value=-margin, method="wald", compare="diff", alternative="larger"
        )
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-8, abs=1e-12)
    assert result.passed == (result.lower > -margin)
    if abs(result.p_value - (1.0 - level)) > 1e-9:
        assert result.passed == (result.p_value < 1.0 - level)


def test_revenue_guardrails_match_scipys_shifted_welch_test() -> None:
    """The revenue guardrail is Welch's one-sided test of mean_b + margin > mean_a."""
    rng = np.random.default_rng(7)
    a = rng.exponential(2.0, 3000)
    b = rng.exponential(1.95, 2800)

    def counts(vid: str, x: np.ndarray, control: bool = False) -> VariantCounts:
        return VariantCounts(
            vid,
            is_control=control,
            impressions=len(x),
            revenue=float(x.sum()),
            revenue_sum_squares=float((x**2).sum()),
        )

    (result,) = check_guardrails(
        [Guardrail("revenue_per_impression", 0.05)],
        counts("a", a, True),
        [counts("b", b)],
        0.05,
    )
    margin = 0.05 * a.mean()
    oracle = stats.ttest_ind(b + margin, a, equal_var=False, alternative="greater")
    assert result.margin == pytest.approx(margin, rel=1e-12)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-8)


def test_a_winner_that_degrades_a_guardrail_is_blocked() -> None:
    """+20 % conversions but -10 % clicks: blocked at a 2 % click-through margin."""
    decision = decide(_variants(), guardrails=[{"metric": "click_through_rate", "margin": 0.02}])
    assert decision.winner_id is None
    assert decision.reason is DecisionReason.GUARDRAIL_FAILED
    assert "click_through_rate" in decision.message
    (result,) = decision.guardrails
    assert not result.passed
    assert decision.to_dict()["guardrails"][0]["passed"] is False


def test_a_margin_wide_enough_lets_the_winner_through() -> None:
    """At a 15 % margin the -10 % click-through drop is shown non-inferior."""
    decision = decide(_variants(), guardrails=[{"metric": "click_through_rate", "margin": 0.15}])
    assert (decision.winner_id, decision.reason) == ("b", DecisionReason.SIGNIFICANT)
    assert decision.guardrails[0].passed


def test_the_next_treatment_wins_when_the_best_fails_a_guardrail() -> None:
    """With two significant treatments, the one that keeps its guardrails wins."""
    variants = [
        *_variants(),
        VariantCounts("c", impressions=53_211, clicks=5600, conversions=1800),
    ]
    decision = decide(variants, guardrails=[{"metric": "click_through_rate", "margin": 0.05}])
    assert decision.winner_id == "c"
    assert [g.passed for g in decision.guardrails] == [False, True]


def test_guardrails_do_not_block_the_control() -> None:
    """Keeping the control needs no guardrail: the control never degrades itself."""
    decision = decide(
        _variants(clicks_b=4000, conversions_b=1300),
        guardrails=[{"metric": "click_through_rate", "margin": 0.01}],
    )
    assert (decision.winner_id, decision.reason) == ("a", DecisionReason.SIGNIFICANT)


def test_a_a_guardrails_pass_at_the_designed_rate() -> None:
    """When the treatment is worse by exactly the margin, the guardrail passes ~alpha of the time."""
    rng = np.random.default_rng(11)
    reps, n, base, margin = 3000, 20_000, 0.1, 0.01
    ka = rng.binomial(n, base, reps)
    kb = rng.binomial(n, base - margin, reps)
    passed = 0
    for a, b in zip(ka, kb):
        control = VariantCounts("a", is_control=True, impressions=n, clicks=int(a))
        treatment = VariantCounts("b", impressions=n, clicks=int(b))
        (result,) = check_guardrails(
            [Guardrail("click_through_rate", margin, relative=False)],
            control,
            [treatment],
            0.05,
        )
        passed += result.passed
    assert abs(passed / reps - 0.05) <= 4.0 * math.sqrt(0.05 * 0.95 / reps)


def test_secondary_metrics_are_reported_holm_adjusted_and_never_decide() -> None:
    """Secondary metrics carry Holm-adjusted p-values over all of them; the winner is unchanged."""
    variants = [
        *_variants(),
        VariantCounts("c", impressions=53_211, clicks=5330, conversions=1800),
    ]
    plain = decide(variants)
    decision = decide(variants, secondary_metrics=["click_through_rate", "click_conversion_rate"])
    assert (decision.winner_id, decision.reason) == (plain.winner_id, plain.reason)
    assert len(decision.secondary) == 4
    assert {s.comparisons for s in decision.secondary} == {4}
    expected = adjust_pvalues([s.p_value for s in decision.secondary], "holm")
    assert [s.adjusted_p_value for s in decision.secondary] == pytest.approx(list(expected))


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"guardrails": {"metric": "click_through_rate"}}, "guardrails"),
        ({"guardrails": [{"metric": "ctr", "margin": 0.1}]}, "guardrails[0].metric"),
        ({"guardrails": [{"metric": "click_through_rate"}]}, "guardrails[0].margin"),
        (
            {"guardrails": [{"metric": "click_through_rate", "margin": math.nan}]},
            "guardrails[0].margin",
        ),
        ({"guardrails": [{"metric": "click_through_rate", "margin": 1.5}]}, "guardrails[0].margin"),
        (
            {"guardrails": [{"metric": "click_through_rate", "margin": 0.1, "x": 1}]},
            "guardrails[0].x",
        ),
        (
            {"guardrails": [{"metric": "click_through_rate", "margin": 0.1, "relative": "no"}]},
            "guardrails[0].relative",
        ),
        (
            {
                "guardrails": [
                    {"metric": "click_through_rate", "margin": 0.1},
                    {"metric": "click_through_rate", "margin": 0.2},
                ]
            },
            "guardrails[1].metric",
        ),
        (
            {"guardrails": [{"metric": "revenue_per_impression", "margin": 0.1}]},
            "variants[0].revenue_sum_squares",
        ),
        ({"secondary_metrics": ["conversion_rate"]}, "secondary_metrics[0]"),
        ({"secondary_metrics": ["nope"]}, "secondary_metrics[0]"),
        ({"secondary_metrics": "click_through_rate"}, "secondary_metrics"),
    ],
)
def test_bad_guardrails_and_secondary_metrics_name_their_path(
    kwargs: dict[str, object], path: str
) -> None:
    """Every malformed guardrail or secondary metric is a ValidationError at its path."""
    with pytest.raises(ValidationError) as info:
        decide(_variants(), **kwargs)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]


# --------------------------------------------------------------------------- stored with the test


def _running_test(store: Store, **options: object) -> tuple[Any, Any, dict[str, str]]:
    core = CampaignCore(store, clock=FakeClock())
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring", type="promotion")
    details = ws.abtests.create_ab_test(
        campaign.id,
        [{"name": "A", "content": {}}, {"name": "B", "content": {"text": "new"}}],
        **options,
    )
    return core, ws, {v.name: v.id for v in details.variants}


def _set_counts(core: Any, ids: dict[str, str], counts: dict[str, tuple[int, int, int]]) -> None:
    with core.store.unit_of_work() as uow:
        for name, (impressions, clicks, conversions) in counts.items():
            variant = uow.ab_test_variants.get(ids[name])
            assert variant is not None
            uow.ab_test_variants.update(
                attrs.evolve(
                    variant,
                    impressions=impressions,
                    clicks=clicks,
                    conversions=conversions,
                    version=variant.version + 1,
                )
            )
        uow.commit()


def test_a_tests_guardrails_are_stored_and_block_its_winner(any_store: Store) -> None:
    """Guardrails given at creation are kept by every store and enforced by determine/apply."""
    core, ws, ids = _running_test(
        any_store, guardrails=[{"metric": "click_through_rate", "margin": 0.02}]
    )
    test_id = ws.abtests.list_ab_tests()[0].test.id
    stored = ws.abtests.get_ab_test(test_id).test
    assert stored.guardrails == [{"metric": "click_through_rate", "margin": 0.02, "relative": True}]
    _set_counts(core, ids, {"A": (53_211, 5321, 1560), "B": (53_211, 4800, 1872)})
    decision = ws.abtests.determine_winner(test_id, secondary_metrics=["click_conversion_rate"])
    assert decision.reason is DecisionReason.GUARDRAIL_FAILED
    assert len(decision.secondary) == 1
    with pytest.raises(ConflictError) as info:
        ws.abtests.apply_winner(test_id)
    assert info.value.details["reason"] == "guardrail_failed"


def test_a_bayesian_tests_thresholds_are_stored_and_used(any_store: Store) -> None:
    """A looser stored threshold of caring lets a small lift win that the default refuses."""
    core, ws, ids = _running_test(
        any_store, policy="bayesian", risk_threshold=0.05, prob_threshold=0.6
    )
    test_id = ws.abtests.list_ab_tests()[0].test.id
    test = ws.abtests.get_ab_test(test_id).test
    assert (test.risk_threshold, test.prob_threshold) == (0.05, 0.6)
    _set_counts(core, ids, {"A": (53_211, 5321, 1560), "B": (53_211, 5321, 1580)})
    assert ws.abtests.determine_winner(test_id).winner_id == ids["B"]


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"guardrails": [{"metric": "ctr", "margin": 0.1}]}, "guardrails[0].metric"),
        ({"guardrails": "click_through_rate"}, "guardrails"),
        ({"risk_threshold": 0.01}, "risk_threshold"),  # not a bayesian test
        ({"policy": "bayesian", "risk_threshold": 0}, "risk_threshold"),
        ({"policy": "bayesian", "prob_threshold": 1.0}, "prob_threshold"),
        ({"policy": "bayesian", "prob_threshold": math.nan}, "prob_threshold"),
    ],
)
def test_bad_test_options_change_nothing(options: dict[str, object], path: str) -> None:
    """A bad guardrail or threshold is a ValidationError at its path; no test is created."""
    store = InMemoryStore()
    ws = CampaignCore(store, clock=FakeClock()).for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_campaign(name="Spring", type="promotion")
    with pytest.raises(ValidationError) as info:
        ws.abtests.create_ab_test(
            campaign.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}], **options
        )
    assert path in [p.path for p in info.value.problems]
    assert ws.abtests.list_ab_tests() == []
