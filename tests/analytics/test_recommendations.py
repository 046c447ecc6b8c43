"""Recommendations for planted situations, each with evidence, in a deterministic order."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import attrs
import pytest

from campaign_core.abtesting import VariantCounts, decide
from campaign_core.analytics import (
    CampaignSummary,
    PlatformMetrics,
    RecommendationKind,
)
from campaign_core.analytics._recommendations import (
    ABTestSummary,
    RecommendationInputs,
    RecommendationSettings,
    SegmentStats,
    get_recommendations,
)
from campaign_core.errors import ValidationError
from campaign_core.serialization import to_json

from .strategies import T0, totals

NOW = T0 + timedelta(days=3)


def winner_test() -> ABTestSummary:
    decision = decide(
        [
            VariantCounts(id="a", is_control=True, impressions=20000, clicks=2000, conversions=400),
            VariantCounts(id="b", impressions=20000, clicks=2000, conversions=560),
        ]
    )
    assert decision.winner_id == "b"
    return ABTestSummary(test_id="t-win", campaign_id="c-ab", name="Headline", decision=decision)


def small_test() -> ABTestSummary:
    decision = decide(
        [
            VariantCounts(id="a", is_control=True, impressions=300, clicks=30, conversions=3),
            VariantCounts(id="b", impressions=300, clicks=31, conversions=5),
        ]
    )
    return ABTestSummary(test_id="t-small", decision=decision)


def srm_test() -> ABTestSummary:
    decision = decide(
        [
            VariantCounts(id="a", is_control=True, impressions=20000, clicks=2000, conversions=400),
            VariantCounts(id="b", impressions=14000, clicks=1400, conversions=300),
        ],
        expected_split={"a": 50, "b": 50},
    )
    return ABTestSummary(test_id="t-srm", decision=decision)


def loser() -> CampaignSummary:
    # 10,000 impressions, 1,000 spent, 20 conversions of 10: ROI -0.8
    return CampaignSummary(
        campaign_id="c-loss",
        name="Loser",
        status="active",
        launched_at=T0,
        metrics=totals(impressions=10000, clicks=500, conversions=20, revenue=200.0, spent=1000.0),
    )


def runner() -> CampaignSummary:
    # profitable (ROAS 3), 600 of 1000 spent in 3 days, ends in 10 days: runs dry on day 5
    return CampaignSummary(
        campaign_id="c-run",
        name="Runner",
        status="active",
        launched_at=T0,
        ends_at=T0 + timedelta(days=10),
        budget=1000.0,
        metrics=totals(impressions=30000, clicks=3000, conversions=90, revenue=1800.0, spent=600.0),
    )


def two_platforms() -> CampaignSummary:
    tiktok = totals(impressions=20000, clicks=2000, conversions=200, revenue=4000.0, spent=1000.0)
    reddit = totals(impressions=20000, clicks=2000, conversions=200, revenue=1200.0, spent=1000.0)
    return CampaignSummary(
        campaign_id="c-plat",
        name="Split",
        status="active",
        metrics=totals(
            impressions=40000, clicks=4000, conversions=400, revenue=5200.0, spent=2000.0
        ),
        by_platform=(
            PlatformMetrics(platform="reddit", metrics=reddit),
            PlatformMetrics(platform="tiktok", metrics=tiktok),
        ),
    )


def inputs(**fields: object) -> RecommendationInputs:
    base: dict[str, object] = {
        "now": NOW,
        "campaigns": [loser(), runner(), two_platforms()],
        "ab_tests": [winner_test(), small_test(), srm_test()],
        "segments": [
            SegmentStats(
                segment_id="s-quiet",
                name="Lapsed",
                members=1000,
                inactive_members=600,
                avg_revenue=4.0,
            ),
            SegmentStats(segment_id="s-ok", members=1000, inactive_members=100),
            SegmentStats(segment_id="s-tiny", members=20, inactive_members=20),
        ],
    }
    base.update(fields)
    return RecommendationInputs(**base)  # type: ignore[arg-type]


def test_each_planted_situation_gets_its_recommendation() -> None:
    """Winner, SRM, loss, early exhaustion, platform gap, quiet segment and small test are all found."""
    recs = get_recommendations(inputs())
    kinds = {(r.kind, r.campaign_id or r.test_id or r.segment_id) for r in recs}
    assert (RecommendationKind.APPLY_AB_WINNER, "c-ab") in kinds
    assert (RecommendationKind.CHECK_AB_TRAFFIC_SPLIT, "t-srm") in kinds
    assert (RecommendationKind.PAUSE_CAMPAIGN, "c-loss") in kinds
    assert (RecommendationKind.RAISE_BUDGET, "c-run") in kinds
    assert (RecommendationKind.REENGAGE_SEGMENT, "s-quiet") in kinds
    assert (RecommendationKind.EXTEND_AB_TEST, "t-small") in kinds
    shifts = [r for r in recs if r.kind == RecommendationKind.SHIFT_BUDGET]
    platform_shift = next(r for r in shifts if r.platform is not None)
    assert (
        platform_shift.campaign_id,
        platform_shift.platform,
        platform_shift.target_platform,
    ) == (
        "c-plat",
        "reddit",
        "tiktok",
    )
    assert platform_shift.evidence["roasFrom"] == pytest.approx(1.2)
    assert platform_shift.evidence["roasTo"] == pytest.approx(4.0)
    assert platform_shift.evidence["adjustedPValue"] < 0.05
    assert platform_shift.impact == pytest.approx(0.2 * 1000 * (4.0 - 1.2))
    # nothing for healthy or tiny segments
    assert not any(r.segment_id in ("s-ok", "s-tiny") for r in recs)


def test_evidence_carries_the_numbers() -> None:
    """A pause says how much was spent and earned, and the test behind it."""
    pause = next(
        r for r in get_recommendations(inputs()) if r.kind == RecommendationKind.PAUSE_CAMPAIGN
    )
    assert pause.evidence["roi"] == pytest.approx(-0.8)
    assert pause.evidence["spent"] == 1000.0
    assert pause.evidence["pValueRoasBelow1"] < 0.05
    assert pause.impact == round(800.0 / 3, 2)  # lost per day over 3 days, to the cent
    raise_ = next(
        r for r in get_recommendations(inputs()) if r.kind == RecommendationKind.RAISE_BUDGET
    )
    assert raise_.evidence["spendRatePerDay"] == pytest.approx(200.0)
    assert raise_.evidence["projectedExhaustionAt"] == "2026-03-07T00:00:00.000Z"  # day 5


def test_order_is_by_priority_then_impact_and_deterministic() -> None:
    """High before medium before low; shuffled inputs give the same list."""
    recs = get_recommendations(inputs())
    ranks = [{"high": 0, "medium": 1, "low": 2}[r.priority] for r in recs]
    assert ranks == sorted(ranks)
    assert recs[-1].kind == RecommendationKind.EXTEND_AB_TEST
    shuffled = inputs()
    rng = random.Random(5)
    campaigns, tests, segments = (
        list(shuffled.campaigns),
        list(shuffled.ab_tests),
        list(shuffled.segments),
    )
    rng.shuffle(campaigns)
    rng.shuffle(tests)
    rng.shuffle(segments)
    again = get_recommendations(
        attrs.evolve(shuffled, campaigns=campaigns, ab_tests=tests, segments=segments)
    )
    assert again == recs


def test_no_claim_without_evidence() -> None:
    """Small losses, applied winners, paused campaigns and small gaps get no recommendation."""
    small_loss = attrs.evolve(
        loser(), metrics=totals(impressions=500, clicks=20, conversions=1, revenue=5.0, spent=50.0)
    )
    paused = attrs.evolve(loser(), campaign_id="c-paused", status="paused")
    applied = attrs.evolve(winner_test(), applied=True)
    recs = get_recommendations(
        inputs(campaigns=[small_loss, paused], ab_tests=[applied], segments=[])
    )
    assert recs == ()


def test_losing_campaign_whose_loss_is_noise_is_not_paused() -> None:
    """ROI below 0 but a ROAS test that cannot tell it from 1 (a few huge orders): no pause."""
    lumpy = attrs.evolve(
        loser(),
        metrics=totals(
            impressions=10000,
            clicks=500,
            conversions=3,
            revenue=900.0,
            spent=1000.0,
            sumsq=3 * 300.0**2,
        ),
    )
    recs = get_recommendations(inputs(campaigns=[lumpy], ab_tests=[], segments=[]))
    assert all(r.kind != RecommendationKind.PAUSE_CAMPAIGN for r in recs)


def test_campaign_shift_between_campaigns() -> None:
    """Two active campaigns with very different ROAS: shift from the weaker to the stronger."""
    strong = CampaignSummary(
        campaign_id="c-strong",
        status="active",
        metrics=totals(
            impressions=20000, clicks=2000, conversions=200, revenue=5000.0, spent=1000.0
        ),
    )
    weak = CampaignSummary(
        campaign_id="c-weak",
        status="active",
        metrics=totals(
            impressions=20000, clicks=2000, conversions=200, revenue=1500.0, spent=1000.0
        ),
    )
    recs = get_recommendations(inputs(campaigns=[strong, weak], ab_tests=[], segments=[]))
    shift = next(r for r in recs if r.kind == RecommendationKind.SHIFT_BUDGET)
    assert (shift.campaign_id, shift.target_campaign_id) == ("c-weak", "c-strong")


def test_recommendations_are_json_safe() -> None:
    """The JSON form has camelCase keys and no NaN."""
    data = to_json(list(get_recommendations(inputs())))
    text = json.dumps(data, allow_nan=False)
    assert '"targetPlatform"' in text


def test_bad_inputs_are_reported_with_paths() -> None:
    """Malformed inputs come back with every problem's path."""
    with pytest.raises(ValidationError):
        get_recommendations({"now": NOW})  # type: ignore[arg-type]
    bad = RecommendationInputs(
        now=NOW.replace(tzinfo=None),
        campaigns=["x"],  # type: ignore[list-item]
        segments=[SegmentStats(segment_id="s", members=5, inactive_members=9)],
        ab_tests=[ABTestSummary(test_id="t", decision="yes")],  # type: ignore[arg-type]
        settings=RecommendationSettings(alpha=2.0, min_segment_members=0),
    )
    with pytest.raises(ValidationError) as info:
        get_recommendations(bad)
    assert {p.path for p in info.value.problems} >= {
        "now",
        "campaigns[0]",
        "segments[0].inactive_members",
        "ab_tests[0].decision",
        "settings.alpha",
        "settings.min_segment_members",
    }
