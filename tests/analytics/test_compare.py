"""Comparing campaigns and platforms: a test behind every claim, Holm across pairs, ranking."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from campaign_core.abtesting import MinimumSample
from campaign_core.analytics import (
    CampaignMetrics,
    CampaignSummary,
    MetricTotals,
    PlatformMetrics,
    compare_campaigns,
    compare_platforms,
    top_campaigns,
)
from campaign_core.errors import ValidationError

from .strategies import totals


def summary(cid: str, **counts: float) -> CampaignSummary:
    return CampaignSummary(campaign_id=cid, name=cid.upper(), metrics=totals(**counts))  # type: ignore[arg-type]


def test_large_planted_ctr_difference_is_claimed() -> None:
    """4 % against 6 % CTR on 20,000 impressions each is a significant win for the second."""
    result = compare_campaigns(
        [summary("a", impressions=20000, clicks=800), summary("b", impressions=20000, clicks=1200)]
    )
    test = result.test("ctr", "a", "b")
    assert test is not None
    assert test.outcome == "significant"
    assert test.better == "b"
    assert test.difference == pytest.approx(0.02)
    assert test.relative_difference == pytest.approx(0.5)
    z, p = proportions_ztest([1200, 800], [20000, 20000])
    assert test.statistic == pytest.approx(z)
    assert test.p_value == pytest.approx(p)
    leader = next(lead for lead in result.leaders if lead.metric == "ctr")
    assert (leader.key, leader.claimed) == ("b", True)


def test_small_samples_claim_nothing() -> None:
    """A huge observed difference below the minimum samples is not claimed nor even tested."""
    result = compare_campaigns(
        [summary("a", impressions=100, clicks=1), summary("b", impressions=100, clicks=50)]
    )
    test = result.test("ctr", "a", "b")
    assert test is not None
    assert test.outcome == "below_minimum_sample"
    assert test.better is None
    assert test.p_value is None
    assert not any(lead.claimed for lead in result.leaders)


def test_holm_adjusts_over_the_pairs_of_a_metric() -> None:
    """Adjusted p-values equal statsmodels' Holm over the pairs tested on the metric."""
    result = compare_campaigns(
        [
            summary("a", impressions=5000, clicks=250),
            summary("b", impressions=5000, clicks=290),
            summary("c", impressions=5000, clicks=330),
        ]
    )
    ctr_tests = [t for t in result.tests if t.metric == "ctr"]
    assert [(t.a, t.b) for t in ctr_tests] == [("a", "b"), ("a", "c"), ("b", "c")]
    raw = [t.p_value for t in ctr_tests]
    expected = multipletests(raw, method="holm")[1]
    assert [t.adjusted_p_value for t in ctr_tests] == pytest.approx(list(expected))
    for t in ctr_tests:
        assert (t.outcome == "significant") == (t.adjusted_p_value < 0.05)  # type: ignore[operator]


def test_invalid_data_is_not_tested() -> None:
    """More clicks than impressions cannot enter a proportion test."""
    result = compare_campaigns(
        [summary("a", impressions=2000, clicks=3000), summary("b", impressions=2000, clicks=100)]
    )
    test = result.test("ctr", "a", "b")
    assert test is not None
    assert test.outcome == "invalid_data"


def test_revenue_tests_need_sums_of_squares_and_spend() -> None:
    """Without sums of squares (or spend) the revenue metrics are not available."""
    a = CampaignSummary(
        campaign_id="a",
        metrics=MetricTotals.from_counts(
            impressions=5000, clicks=500, conversions=50, revenue=500.0
        ),
    )
    b = summary("b", impressions=5000, clicks=500, conversions=60, revenue=900.0)
    result = compare_campaigns([a, b])
    outcome = {t.metric: t.outcome for t in result.tests}
    assert outcome["revenue_per_click"] == "not_available"
    assert outcome["roas"] == "not_available"


def test_roas_difference_is_claimed_when_large() -> None:
    """Same traffic and spend, twice the revenue per conversion: B's ROAS is significantly better."""
    a = summary(
        "a",
        impressions=20000,
        clicks=2000,
        conversions=200,
        revenue=2000.0,
        spent=1500.0,
        sumsq=200 * 15.0**2,
    )
    b = summary(
        "b",
        impressions=20000,
        clicks=2000,
        conversions=200,
        revenue=4000.0,
        spent=1500.0,
        sumsq=200 * 25.0**2,
    )
    result = compare_campaigns([a, b])
    roas = result.test("roas", "a", "b")
    rpc = result.test("revenue_per_click", "a", "b")
    assert roas is not None
    assert rpc is not None
    assert roas.value_a == pytest.approx(2000 / 1500)
    assert (roas.outcome, roas.better) == ("significant", "b")
    assert (rpc.outcome, rpc.better) == ("significant", "b")


def test_equal_campaigns_are_not_significant() -> None:
    """Identical numbers: p = 1, no claim."""
    result = compare_campaigns(
        [
            summary("a", impressions=5000, clicks=500, conversions=50, revenue=500.0, spent=400.0),
            summary("b", impressions=5000, clicks=500, conversions=50, revenue=500.0, spent=400.0),
        ]
    )
    for t in result.tests:
        assert t.outcome == "not_significant"
        assert t.p_value == pytest.approx(1.0)


def test_platform_comparison_leaves_out_unattributed_events() -> None:
    """compare_platforms compares named platforms only, sorted."""
    metrics = CampaignMetrics(
        totals=totals(impressions=30000, clicks=1500),
        by_platform=(
            PlatformMetrics(platform="instagram", metrics=totals(impressions=10000, clicks=300)),
            PlatformMetrics(platform="tiktok", metrics=totals(impressions=10000, clicks=700)),
            PlatformMetrics(platform=None, metrics=totals(impressions=10000, clicks=500)),
        ),
    )
    result = compare_platforms(metrics)
    assert [e.key for e in result.entries] == ["instagram", "tiktok"]
    assert result.kind == "platform"
    t = result.test("ctr", "instagram", "tiktok")
    assert t is not None
    assert t.better == "tiktok"


def test_minimums_are_configurable() -> None:
    """Lower floors let smaller samples be tested (never fewer than the test needs)."""
    pair = [summary("a", impressions=200, clicks=10), summary("b", impressions=200, clicks=60)]
    result = compare_campaigns(
        pair, min_samples=MinimumSample(impressions=100, clicks=10, conversions=0)
    )
    t = result.test("ctr", "a", "b")
    assert t is not None
    assert t.outcome == "significant"
    zero = compare_campaigns(
        [summary("a"), summary("b")],
        min_samples=MinimumSample(impressions=0, clicks=0, conversions=0),
    )
    assert all(t.outcome == "below_minimum_sample" for t in zero.tests)


def test_comparison_input_errors() -> None:
    """Duplicates, wrong types, bad alpha and too many entities are refused."""
    with pytest.raises(ValidationError):
        compare_campaigns([summary("a"), summary("a")])
    with pytest.raises(ValidationError):
        compare_campaigns([{"campaign_id": "a"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        compare_campaigns([summary("a")], alpha=1.5)
    with pytest.raises(ValidationError):
        compare_campaigns([summary(f"c{i}") for i in range(201)])
    with pytest.raises(ValidationError):
        compare_platforms("x")  # type: ignore[arg-type]


def test_no_infinite_statistic_leaks_out() -> None:
    """A zero-variance difference gives an infinite z internally and None in the result."""
    result = compare_campaigns(
        [summary("a", impressions=2000, clicks=0), summary("b", impressions=2000, clicks=2000)],
    )
    for t in result.tests:
        assert t.statistic is None or math.isfinite(t.statistic)


def test_top_campaigns_rank_rates_by_their_lower_bound() -> None:
    """1 conversion from 1 click does not beat 300 from 1000; ties break by id."""
    ranked = top_campaigns(
        [
            summary("lucky", clicks=1, conversions=1),
            summary("solid", clicks=1000, conversions=300),
            summary("none", clicks=0),
        ],
        by="conversion_rate",
    )
    assert [r.campaign_id for r in ranked] == ["solid", "lucky"]
    assert ranked[1].value == 1.0
    assert ranked[0].score > ranked[1].score


def test_top_campaigns_by_roi_and_revenue() -> None:
    """ROI ranking skips campaigns without spend; limit applies; ties broken by id."""
    items = [
        summary("a", revenue=300.0, conversions=3, spent=100.0),
        summary("b", revenue=300.0, conversions=3, spent=100.0),
        summary("c", revenue=900.0, conversions=3),
        summary("d", revenue=50.0, conversions=1, spent=100.0),
    ]
    assert [r.campaign_id for r in top_campaigns(items, by="roi")] == ["a", "b", "d"]
    assert [r.campaign_id for r in top_campaigns(items, by="revenue", limit=2)] == ["c", "a"]
    assert [r.rank for r in top_campaigns(items, by="profit")] == [1, 2, 3, 4]
    with pytest.raises(ValidationError):
        top_campaigns(items, by="fame")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        top_campaigns(items, limit=0)
