"""A/B test domain logic: variants, sticky assignment, traffic splits and the winner decision."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from campaign_core.abtesting import (
    DecisionReason,
    MinimumSample,
    VariantCounts,
    assign_variant,
    decide,
    planned_horizon,
)
from campaign_core.abtesting._assign import validate_traffic_split
from campaign_core.abtesting._counts import SEED_MIN_SAMPLE
from campaign_core.errors import ValidationError
from campaign_core.stats import (
    adjust_pvalues,
    calculate_significance,
    srm_test,
    two_proportion_ztest,
    welch_ttest_from_stats,
)

NO_FLOORS = MinimumSample(0, 0, 0)


def variant(
    vid: str,
    impressions: int,
    conversions: int,
    *,
    control: bool = False,
    clicks: int | None = None,
) -> VariantCounts:
    return VariantCounts(
        vid,
        is_control=control,
        impressions=impressions,
        clicks=max(conversions, 100) if clicks is None else clicks,
        conversions=conversions,
    )


# --------------------------------------------------------------------------- VariantCounts


def test_variant_defaults_and_json_round_trip() -> None:
    """A variant's name defaults to its id and its JSON form round-trips."""
    v = VariantCounts("v1", impressions=10, clicks=3, conversions=1, revenue=9.5)
    assert v.name == "v1"
    assert VariantCounts.from_json(v.to_json()) == v
    camel = VariantCounts.from_json({"id": "x", "isControl": True, "revenueSumSquares": 4.0})
    assert camel.is_control
    assert camel.revenue_sum_squares == 4.0


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"id": ""}, "id"),
        ({"id": "a", "impressions": -1}, "impressions"),
        ({"id": "a", "clicks": 1.5}, "clicks"),
        ({"id": "a", "conversions": True}, "conversions"),
        ({"id": "a", "is_control": "yes"}, "is_control"),
        ({"id": "a", "revenue": float("nan")}, "revenue"),
        ({"id": "a", "revenue_sum_squares": -1.0}, "revenue_sum_squares"),
    ],
)
def test_bad_variant_fields_are_rejected(kwargs: dict[str, object], path: str) -> None:
    """Each bad field raises ValidationError naming it."""
    with pytest.raises(ValidationError) as info:
        VariantCounts(**kwargs)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]


def test_variant_json_errors_carry_the_callers_path() -> None:
    """from_json reports unknown and missing keys under the given path."""
    with pytest.raises(ValidationError) as info:
        VariantCounts.from_json({"name": "x", "views": 3}, path="variants[1]")
    assert {p.path for p in info.value.problems} == {"variants[1].views", "variants[1].id"}
    with pytest.raises(ValidationError) as info:
        VariantCounts.from_json({"id": "x", "impressions": -3}, path="variants[0]")
    assert info.value.problems[0].path == "variants[0].impressions"


# --------------------------------------------------------------------------- assignment


def test_assignment_is_pinned_across_versions() -> None:
    """Known fans land in known variants: the hash scheme must never change silently."""
    split = {"variantA": 50, "variantB": 50}
    assert [assign_variant("test_1", f"fan_{i}", split) for i in range(8)] == [
        "variantA", "variantB", "variantB", "variantB", "variantA", "variantB", "variantB", "variantA",
    ]  # fmt: skip
    three = {"control": 34, "b": 33, "c": 33}
    assert [assign_variant("ab_42", f"fan_{i}", three) for i in range(8)] == [
        "c", "c", "c", "c", "c", "b", "control", "c",
    ]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_assignment_is_sticky_and_order_insensitive(test_id: str, fan_id: str) -> None:
    """The same fan always gets the same variant, whatever the split's key order."""
    split = {"a": 20.0, "b": 30.0, "c": 50.0}
    reordered = {"c": 50.0, "a": 20.0, "b": 30.0}
    first = assign_variant(test_id, fan_id, split)
    assert (
        first
        == assign_variant(test_id, fan_id, split)
        == assign_variant(test_id, fan_id, reordered)
    )


@pytest.mark.parametrize(
    "split",
    [
        {"A": 50, "B": 50},
        {"A": 90, "B": 10},
        {"control": 34, "b": 33, "c": 33},
        {"a": 10, "b": 20, "c": 30, "d": 40},
        {"a": 0.25, "b": 0.75},
    ],
)
def test_empirical_shares_converge_to_the_split(split: dict[str, float]) -> None:
    """Over 40,000 fans each variant's share is within 1 point of its weight, and SRM passes."""
    fans = 40_000
    counts = Counter(assign_variant("exp-7", f"fan-{i}", split) for i in range(fans))
    total = sum(split.values())
    for key, weight in split.items():
        assert abs(counts[key] / fans - weight / total) < 0.01
    assert srm_test({k: counts[k] for k in split}, split).p_value > 0.001


def test_zero_weight_variants_get_nobody() -> None:
    """A variant with weight 0 is never assigned."""
    split = {"a": 50, "off": 0, "b": 50}
    assert all(assign_variant("t", f"f{i}", split) != "off" for i in range(5000))


def test_assignments_are_independent_across_tests() -> None:
    """Being in B of one test says nothing about another test."""
    split = {"A": 50, "B": 50}
    both = sum(
        assign_variant("t1", f"f{i}", split) == "B" and assign_variant("t2", f"f{i}", split) == "B"
        for i in range(20_000)
    )
    assert abs(both / 20_000 - 0.25) < 0.015


def test_growing_a_share_keeps_its_fans() -> None:
    """Moving a 50/50 split to 60/40 moves fans only from B to A."""
    before = {f"f{i}": assign_variant("t", f"f{i}", {"A": 50, "B": 50}) for i in range(5000)}
    after = {f: assign_variant("t", f, {"A": 60, "B": 40}) for f in before}
    assert all(after[f] == "A" for f, v in before.items() if v == "A")
    moved = sum(before[f] != after[f] for f in before)
    assert 0.07 < moved / 5000 < 0.13


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("", "f", {"A": 100}), "test_id"),
        (("t", 5, {"A": 100}), "fan_id"),
        (("t", "f", {}), "split"),
        (("t", "f", {"A": -1, "B": 101}), "split.A"),
        (("t", "f", {"A": 0, "B": 0}), "split"),
        (("t", "f", {"A": float("inf")}), "split.A"),
    ],
)
def test_bad_assignment_input_is_rejected(args: tuple[object, ...], path: str) -> None:
    """Bad ids or splits raise ValidationError naming where."""
    with pytest.raises(ValidationError) as info:
        assign_variant(*args)  # type: ignore[arg-type]
    assert info.value.problems[0].path == path


# --------------------------------------------------------------------------- traffic split


def test_valid_split_is_returned_in_variant_order() -> None:
    """A valid split comes back as floats in the variants' order."""
    third = 100 / 3
    out = validate_traffic_split({"c": third, "a": third, "b": third}, ["a", "b", "c"])
    assert list(out) == ["a", "b", "c"]
    assert all(isinstance(v, float) for v in out.values())


@pytest.mark.parametrize(
    ("split", "paths"),
    [
        ({"variantA": 50, "variantB": 49.5}, {"traffic_split"}),
        ({"variantA": 50}, {"traffic_split.variantB"}),
        ({"variantA": 50, "variantB": 50, "variantC": 0}, {"traffic_split.variantC"}),
        ({"variantA": 150, "variantB": -50}, {"traffic_split.variantB"}),
        ({"variantA": float("nan"), "variantB": 50}, {"traffic_split.variantA"}),
        ({"variantA": True, "variantB": 50}, {"traffic_split.variantA"}),
        ({"variantA": "50", "variantB": 50}, {"traffic_split.variantA"}),
        ([50, 50], {"traffic_split"}),
    ],
)
def test_bad_splits_name_every_problem(split: object, paths: set[str]) -> None:
    """Each rule violation is reported with the path of the offending entry."""
    with pytest.raises(ValidationError) as info:
        validate_traffic_split(split, ["variantA", "variantB"])
    assert {p.path for p in info.value.problems} == paths


def test_split_sum_tolerance_is_tight() -> None:
    """A sum off by more than 1e-9 is rejected; rounding noise is not."""
    validate_traffic_split(
        {"a": 33.333333333333336, "b": 33.33333333333333, "c": 33.33333333333333}, "abc"
    )
    with pytest.raises(ValidationError):
        validate_traffic_split({"a": 50, "b": 50.000001}, ["a", "b"])


# --------------------------------------------------------------------------- decide


def test_seed_flow_b_wins() -> None:
    """Enough data and a clear lift: B wins with the pooled z-test's p-value as significance."""
    variants = [variant("a", 10_000, 300, control=True), variant("b", 10_100, 390)]
    decision = decide(variants, expected_split={"a": 50, "b": 50})
    assert decision.winner_id == "b"
    assert decision.reason is DecisionReason.SIGNIFICANT
    assert decision.policy == "fixed_horizon"
    expected_p = two_proportion_ztest(300, 10_000, 390, 10_100).p_value
    assert decision.p_value == pytest.approx(expected_p, rel=1e-12)
    assert decision.significance == pytest.approx(1 - expected_p)
    comparison = decision.comparisons[0]
    assert comparison.difference_lower > 0
    assert comparison.prob_beat_control is not None
    assert comparison.prob_beat_control > 0.99
    assert comparison.interval_kind == "confidence_interval"
    assert sum(v.prob_best or 0 for v in decision.variants) == pytest.approx(1.0)
    assert decision.variants[0].lower < 0.03 < decision.variants[0].upper


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 20_000),
    st.integers(1, 20_000),
    st.floats(0.001, 0.5),
    st.floats(-0.5, 0.5),
    st.randoms(use_true_random=False),
)
def test_two_variant_fixed_horizon_agrees_with_the_seed(
    na: int, nb: int, rate: float, lift: float, random: object
) -> None:
    """Without floors, the A/B decision is the seed's: winner iff significant, by the higher rate."""
    ka = int(na * rate)
    kb = min(nb, max(0, int(nb * rate * (1 + lift))))
    assume(0 < ka + kb < na + nb)
    seed = calculate_significance(
        {"impressions": na, "conversions": ka}, {"impressions": nb, "conversions": kb}
    )
    assume(abs(seed.p_value - 0.05) > 1e-9)
    decision = decide(
        [variant("A", na, ka, control=True, clicks=0), variant("B", nb, kb, clicks=0)],
        min_samples=NO_FLOORS,
        min_sample_size=0,
        expected_split=None,  # the sizes are drawn freely, not by a split
    )
    if seed.significant and seed.winner != "tie":
        assert decision.winner_id == seed.winner
        assert decision.reason is DecisionReason.SIGNIFICANT
    else:
        assert decision.winner_id is None
        assert decision.reason is DecisionReason.NOT_SIGNIFICANT


def test_below_the_seed_minimums() -> None:
    """Too few clicks or conversions: no winner, with each shortfall listed."""
    variants = [
        VariantCounts("a", is_control=True, impressions=5000, clicks=90, conversions=20),
        VariantCounts("b", impressions=5000, clicks=300, conversions=60),
    ]
    decision = decide(variants)
    assert decision.winner_id is None
    assert decision.reason is DecisionReason.BELOW_MINIMUM_SAMPLE
    assert {(s.variant_id, s.counter, s.required) for s in decision.shortfalls} == {
        ("a", "clicks", 100),
        ("a", "conversions", 30),
    }
    assert decision.comparisons  # the evidence is still reported
    assert MinimumSample(1000, 100, 30) == SEED_MIN_SAMPLE


def test_tests_min_sample_size_raises_the_impressions_floor() -> None:
    """A test's minSampleSize above 1000 impressions is enforced."""
    variants = [variant("a", 3000, 300, control=True), variant("b", 3000, 400)]
    decision = decide(variants, min_sample_size=5000)
    assert decision.reason is DecisionReason.BELOW_MINIMUM_SAMPLE
    assert {s.required for s in decision.shortfalls} == {5000}


def test_sample_ratio_mismatch_blocks_a_winner() -> None:
    """A significant result on a 50/50 test that delivered 10k/8k is blocked."""
    variants = [variant("a", 10_000, 300, control=True), variant("b", 8000, 400)]
    decision = decide(variants, expected_split={"a": 50, "b": 50})
    assert decision.winner_id is None
    assert decision.reason is DecisionReason.SAMPLE_RATIO_MISMATCH
    assert decision.srm_p_value is not None
    assert decision.srm_p_value < 0.001
    assert decision.comparisons[0].adjusted_p_value < 0.05


def test_expected_split_may_use_variant_names() -> None:
    """A split keyed by names (the seed's {variantA: 50, ...}) is matched to ids."""
    variants = [
        VariantCounts("id1", "variantA", True, 10_000, 900, 300),
        VariantCounts("id2", "variantB", False, 10_000, 900, 310),
    ]
    assert decide(variants, expected_split={"variantA": 50, "variantB": 50}).srm_p_value == 1.0
    with pytest.raises(ValidationError) as info:
        decide(variants, expected_split={"variantA": 50, "other": 50})
    assert {p.path for p in info.value.problems} == {
        "expected_split.other",
        "expected_split.variantB",
    }


def test_the_horizon_blocks_a_fixed_horizon_winner_but_not_an_always_valid_one() -> None:
    """Planned for +5 %, a big early lift is peeking under fixed horizon, fine under always-valid."""
    variants = [variant("a", 10_000, 300, control=True), variant("b", 10_000, 600)]
    horizon = planned_horizon(0.03, 0.05)
    fixed = decide(variants, planned_mde=0.05, planned_horizon=horizon)
    assert fixed.reason is DecisionReason.BEFORE_HORIZON
    assert fixed.winner_id is None
    assert fixed.power is not None
    assert fixed.power < 0.8
    valid = decide(variants, planned_mde=0.05, planned_horizon=horizon, policy="always_valid")
    assert valid.winner_id == "b"
    assert valid.comparisons[0].interval_kind == "confidence_sequence"
    no_plan = decide(variants)
    assert no_plan.winner_id == "b"
    assert no_plan.power is None


def test_well_powered_plan_allows_the_winner() -> None:
    """With the planned sample reached, the fixed-horizon winner stands."""
    variants = [variant("a", 60_000, 1800, control=True), variant("b", 60_000, 2100)]
    decision = decide(variants, planned_mde=0.2)
    assert decision.power is not None
    assert decision.power > 0.8
    assert decision.winner_id == "b"


def test_always_valid_not_significant_but_underpowered() -> None:
    """Under always-valid, a null result on too small a sample says 'underpowered'."""
    variants = [variant("a", 2000, 60, control=True), variant("b", 2000, 62)]
    decision = decide(variants, planned_mde=0.1, policy="always_valid")
    assert decision.reason is DecisionReason.UNDERPOWERED
    assert decide(variants).reason is DecisionReason.NOT_SIGNIFICANT


def test_control_wins_when_every_treatment_is_worse() -> None:
    """If all treatments are significantly worse, the control is the winner."""
    variants = [
        variant("a", 10_000, 500, control=True),
        variant("b", 10_000, 300),
        variant("c", 10_000, 320),
    ]
    decision = decide(variants)
    assert decision.winner_id == "a"
    assert decision.p_value == max(c.adjusted_p_value for c in decision.comparisons)


def test_abn_uses_holm_and_picks_the_best_significant_treatment() -> None:
    """With three treatments, p-values are Holm-adjusted and the best significant one wins."""
    variants = [
        variant("ctl", 20_000, 600, control=True),
        variant("b", 20_000, 700),
        variant("c", 20_000, 760),
        variant("d", 20_000, 610),
    ]
    decision = decide(variants)
    raw = [c.p_value for c in decision.comparisons]
    np.testing.assert_allclose(
        [c.adjusted_p_value for c in decision.comparisons], adjust_pvalues(raw, "holm")
    )
    assert all(c.adjusted_p_value >= c.p_value for c in decision.comparisons)
    assert decision.winner_id == "c"
    assert [c.variant_id for c in decision.comparisons] == ["b", "c", "d"]


def test_holm_can_remove_a_marginal_winner() -> None:
    """A raw p just under 0.05 among three comparisons is not significant after Holm."""
    variants = [
        variant("ctl", 10_000, 300, control=True),
        variant("b", 10_000, 350),
        variant("c", 10_000, 301),
        variant("d", 10_000, 299),
    ]
    decision = decide(variants)
    b = decision.comparisons[0]
    assert b.p_value < 0.05 < b.adjusted_p_value
    assert decision.reason is DecisionReason.NOT_SIGNIFICANT


def test_revenue_per_impression_uses_welch() -> None:
    """The revenue metric compares means with Welch's t-test on the running sums."""
    variants = [
        VariantCounts("a", is_control=True, impressions=20_000, clicks=2000, conversions=600, revenue=6000.0, revenue_sum_squares=6000.0 * 25),
        VariantCounts("b", impressions=20_000, clicks=2000, conversions=720, revenue=7200.0, revenue_sum_squares=7200.0 * 25),
    ]  # fmt: skip
    decision = decide(variants, metric="revenue_per_impression")
    welch = welch_ttest_from_stats(20_000, 6000.0, 150_000.0, 20_000, 7200.0, 180_000.0)
    assert decision.comparisons[0].p_value == pytest.approx(welch.p_value, rel=1e-12)
    assert decision.variants[1].value == pytest.approx(0.36)
    assert decision.variants[0].prob_best is None
    assert decision.comparisons[0].prob_beat_control is None
    valid = decide(variants, metric="revenue_per_impression", policy="always_valid", tau=0.05)
    assert valid.comparisons[0].interval_kind == "confidence_sequence"


def test_revenue_metric_needs_sums_of_squares() -> None:
    """Without revenue_sum_squares the revenue metric cannot be tested."""
    variants = [
        VariantCounts(
            "a", is_control=True, impressions=2000, revenue=10.0, revenue_sum_squares=100.0
        ),
        VariantCounts("b", impressions=2000, revenue=10.0),
    ]
    with pytest.raises(ValidationError) as info:
        decide(variants, metric="revenue_per_impression")
    assert info.value.problems[0].path == "variants[1].revenue_sum_squares"


def test_other_proportion_metrics() -> None:
    """CTR uses clicks/impressions; click conversion uses conversions/clicks and checks them."""
    variants = [
        VariantCounts("a", is_control=True, impressions=10_000, clicks=1000, conversions=100),
        VariantCounts("b", impressions=10_000, clicks=1200, conversions=100),
    ]
    ctr = decide(variants, metric="click_through_rate")
    assert ctr.variants[1].value == pytest.approx(0.12)
    assert ctr.winner_id == "b"
    conv = decide(variants, metric="click_conversion_rate")
    assert conv.variants[0].value == pytest.approx(0.1)
    with pytest.raises(ValidationError) as info:
        decide(
            [VariantCounts("a", is_control=True, clicks=5, conversions=6), variants[1]],
            metric="click_conversion_rate",
        )
    assert "variants[0].conversions" in {p.path for p in info.value.problems}


def test_inconsistent_counts_raise_or_decide_no_winner() -> None:
    """Successes above trials, or a sum of squares too small: an error, or a no-winner decision."""
    proportions = [
        VariantCounts("a", is_control=True, impressions=5000, clicks=900, conversions=50),
        VariantCounts("b", impressions=2, clicks=900, conversions=3),
    ]
    with pytest.raises(ValidationError) as info:
        decide(proportions)
    assert "variants[1].clicks" in {p.path for p in info.value.problems}
    decision = decide(proportions, inconsistent="no_winner")
    assert (decision.winner_id, decision.reason) == (None, DecisionReason.INCONSISTENT_COUNTS)
    assert (decision.variants, decision.comparisons, decision.p_value) == ((), (), None)
    assert json.loads(json.dumps(decision.to_dict(), allow_nan=False))["reason"] == (
        "inconsistent_counts"
    )
    revenue = [
        VariantCounts("a", is_control=True, impressions=10, revenue=100.0, revenue_sum_squares=1),
        VariantCounts("b", impressions=10, revenue=10.0, revenue_sum_squares=10.0),
    ]
    decided = decide(revenue, metric="revenue_per_impression", inconsistent="no_winner")
    assert decided.reason is DecisionReason.INCONSISTENT_COUNTS
    assert decided.message.startswith("inconsistent counts for revenue_per_impression: a: ")
    # other bad input still raises, whatever ``inconsistent`` says
    with pytest.raises(ValidationError):
        decide([proportions[0]], inconsistent="no_winner")
    with pytest.raises(ValidationError) as bad_option:
        decide(proportions, inconsistent="ignore")  # type: ignore[arg-type]
    assert bad_option.value.problems[0].path == "inconsistent"


def test_zero_data_is_below_minimum_not_an_error() -> None:
    """A fresh test with no impressions reports the shortfall and no comparisons."""
    decision = decide(
        [VariantCounts("a", is_control=True), VariantCounts("b")],
        min_samples=NO_FLOORS,
        min_sample_size=0,
    )
    assert decision.reason is DecisionReason.BELOW_MINIMUM_SAMPLE
    assert decision.comparisons == ()
    assert decision.p_value is None
    assert {(s.counter, s.required) for s in decision.shortfalls} == {("impressions", 1)}


def test_to_dict_is_strict_json_with_camel_case() -> None:
    """The decision serializes with camelCase keys and no NaN or infinity (they become null)."""
    variants = [
        {"id": "a", "isControl": True, "impressions": 50, "clicks": 10, "conversions": 0},
        {"id": "b", "impressions": 50, "clicks": 10, "conversions": 5},
    ]
    decision = decide(variants, min_samples=NO_FLOORS, min_sample_size=0, lift_method="fieller")
    text = json.dumps(decision.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["reason"] == decision.reason.value
    comparison = data["comparisons"][0]
    assert comparison["liftUpper"] is None
    assert comparison["liftBounded"] is False
    assert {"winnerId", "pValue", "significance", "srmPValue", "shortfalls"} <= set(data)
    assert {"isControl", "probBest", "lower", "upper"} <= set(data["variants"][0])


@pytest.mark.parametrize(
    ("variants", "kwargs", "path"),
    [
        ([VariantCounts("a", is_control=True)], {}, "variants"),
        ([VariantCounts("a", is_control=True), VariantCounts("a")], {}, "variants[1].id"),
        ([VariantCounts("a"), VariantCounts("b")], {}, "variants"),
        (
            [VariantCounts("a", is_control=True), VariantCounts("b", is_control=True)],
            {},
            "variants",
        ),
        (
            [VariantCounts("a", is_control=True), {"id": "b", "impressions": -1}],
            {},
            "variants[1].impressions",
        ),
        ([VariantCounts("a", is_control=True), VariantCounts("b")], {"policy": "bayes"}, "policy"),
        ([VariantCounts("a", is_control=True), VariantCounts("b")], {"metric": "ctr"}, "metric"),
        (
            [VariantCounts("a", is_control=True), VariantCounts("b")],
            {"confidence_level": 95},
            "confidence_level",
        ),
        (
            [VariantCounts("a", is_control=True), VariantCounts("b")],
            {"planned_mde": 0},
            "planned_mde",
        ),
        ([VariantCounts("a", is_control=True), VariantCounts("b")], {"tau": -1.0}, "tau"),
        ([VariantCounts("a", is_control=True, conversions=5)], {}, "variants"),
        ("ab", {}, "variants"),
    ],
)
def test_bad_decision_input_is_rejected(
    variants: object, kwargs: dict[str, object], path: str
) -> None:
    """Bad variants or options raise ValidationError naming where."""
    with pytest.raises(ValidationError) as info:
        decide(variants, **kwargs)  # type: ignore[arg-type]
    assert path in [p.path for p in info.value.problems]
