"""identify_patterns: effect sizes, support, tests; nothing claimed from tiny or over-dispersed samples."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from campaign_core.analytics import CampaignSummary, PlatformMetrics, identify_patterns
from campaign_core.errors import ValidationError

from .strategies import totals


def campaign(cid: str, clicks: int, conversions: int, **fields: object) -> CampaignSummary:
    return CampaignSummary(
        campaign_id=cid,
        metrics=totals(impressions=clicks * 10, clicks=clicks, conversions=conversions),
        **fields,  # type: ignore[arg-type]
    )


def test_planted_large_effect_is_claimed_with_its_numbers() -> None:
    """PPV converting at 20 % against subscriptions at 10 % is found, in both directions."""
    items = [campaign(f"p{i}", 2000, 400, type="ppv") for i in range(6)]
    items += [campaign(f"s{i}", 2000, 200, type="subscription") for i in range(6)]
    analysis = identify_patterns(items)
    assert {(p.value, p.direction) for p in analysis.patterns} == {
        ("ppv", "better"),
        ("subscription", "worse"),
    }
    ppv = next(p for p in analysis.patterns if p.value == "ppv")
    assert ppv.dimension == "type"
    assert (ppv.rate, ppv.rest_rate) == (0.2, 0.1)
    assert ppv.difference == pytest.approx(0.1)
    assert ppv.relative_lift == pytest.approx(1.0)
    assert ppv.cohens_h == pytest.approx(2 * np.arcsin(np.sqrt(0.2)) - 2 * np.arcsin(np.sqrt(0.1)))
    assert (ppv.campaigns, ppv.trials, ppv.successes, ppv.rest_campaigns) == (6, 12000, 2400, 6)
    assert ppv.overdispersion == 1.0  # identical campaigns within each side
    assert ppv.adjusted_p_value < 0.05
    assert ppv.significant
    assert "ppv campaigns have a higher conversion rate" in ppv.description


def test_tiny_samples_are_not_claimed() -> None:
    """Three campaigns a side, or a few clicks, is below the minimums: skipped, not reported."""
    few = [campaign(f"p{i}", 2000, 400, type="ppv") for i in range(3)]
    few += [campaign(f"s{i}", 2000, 200, type="subscription") for i in range(3)]
    analysis = identify_patterns(few)
    assert analysis.patterns == ()
    assert analysis.tested == ()
    assert {s.reason for s in analysis.skipped} == {"too_few_campaigns"}
    small = [campaign(f"p{i}", 20, 10, type="ppv") for i in range(6)]
    small += [campaign(f"s{i}", 20, 1, type="subscription") for i in range(6)]
    assert {s.reason for s in identify_patterns(small).skipped} == {"too_few_trials"}


def test_over_dispersed_campaigns_do_not_make_a_pattern() -> None:
    """A tiny mean difference hidden in large campaign-to-campaign spread is not significant."""
    spread_a = [0.10, 0.30, 0.12, 0.28, 0.15, 0.25]
    spread_b = [0.11, 0.29, 0.13, 0.27, 0.16, 0.26]
    items = [
        campaign(f"a{i}", 100_000, int(r * 100_000), type="ppv") for i, r in enumerate(spread_a)
    ]
    items += [
        campaign(f"b{i}", 100_000, int(r * 100_000), type="promotion")
        for i, r in enumerate(spread_b)
    ]
    analysis = identify_patterns(items)
    assert analysis.patterns == ()
    tested = analysis.tested[0]
    assert tested.overdispersion > 100
    # the naive pooled test would have claimed it
    naive_z = tested.statistic * np.sqrt(tested.overdispersion)
    assert abs(naive_z) > 3


def test_no_effect_rarely_claims_anything() -> None:
    """Over 40 datasets without any effect, Holm keeps false claims rare."""
    rng = np.random.default_rng(11)
    claims = 0
    for _ in range(40):
        items = []
        for i in range(24):
            clicks = 3000
            items.append(
                CampaignSummary(
                    campaign_id=f"c{i}",
                    metrics=totals(
                        impressions=30000, clicks=clicks, conversions=int(rng.binomial(clicks, 0.1))
                    ),
                    type=("ppv", "promotion", "subscription")[i % 3],
                    niche=("fitness", "gaming")[i % 2],
                    launched_at=datetime(2026, 3, 2 + i % 7, 9 + i % 12, tzinfo=UTC),
                    price=float(5 + 7 * (i % 8)),
                )
            )
        claims += len(identify_patterns(items, min_campaigns=3).patterns) > 0
    assert claims <= 6, claims


def test_dimensions_platform_weekday_daypart_price() -> None:
    """Every dimension reads its value: platforms per campaign, local weekday and daypart, price band."""
    items = []
    for i in range(10):
        good = i % 2 == 0
        items.append(
            CampaignSummary(
                campaign_id=f"c{i}",
                metrics=totals(impressions=40000, clicks=4000, conversions=600 if good else 300),
                launched_at=datetime(
                    2026, 3, 6 if good else 3, 23, 30, tzinfo=UTC
                ),  # Fri / Tue 23:30 UTC
                price=60.0 if good else 9.99,
                by_platform=(
                    PlatformMetrics(
                        platform="tiktok",
                        metrics=totals(impressions=20000, clicks=2000, conversions=500),
                    ),
                    PlatformMetrics(
                        platform="reddit",
                        metrics=totals(impressions=20000, clicks=2000, conversions=100),
                    ),
                ),
            )
        )
    analysis = identify_patterns(items, timezone="Europe/Paris")
    found = {(p.dimension, p.value, p.direction) for p in analysis.patterns}
    # 23:30 UTC is 00:30 the next day in Paris: Saturday / Wednesday night
    assert ("launch_weekday", "saturday", "better") in found
    assert ("price_band", "50+", "better") in found
    assert ("price_band", "<10", "worse") in found
    assert ("platform", "tiktok", "better") in found
    assert all(p.dimension != "launch_daypart" for p in analysis.tested)  # one value only
    assert any(
        s.dimension == "launch_daypart" and s.reason == "single_value" for s in analysis.skipped
    )
    assert all(p.dimension != "type" for p in analysis.tested)  # unknown type: left out


def test_patterns_are_sorted_by_effect_size() -> None:
    """The significant patterns come largest |h| first."""
    items = [campaign(f"p{i}", 2000, 600, type="ppv") for i in range(6)]
    items += [campaign(f"s{i}", 2000, 300, type="subscription") for i in range(6)]
    items += [campaign(f"r{i}", 2000, 340, type="retention") for i in range(6)]
    patterns = identify_patterns(items).patterns
    hs = [abs(p.cohens_h) for p in patterns]
    assert hs == sorted(hs, reverse=True)


def test_metric_choice_and_validation() -> None:
    """Other rates can be compared; bad options are refused with their path."""
    items = [campaign(f"p{i}", 2000, 400, type="ppv") for i in range(6)]
    items += [campaign(f"s{i}", 4000, 200, type="subscription") for i in range(6)]
    ctr = identify_patterns(items, metric="ctr")
    assert ctr.metric == "ctr"
    assert ctr.patterns == ()  # both at 10 % CTR
    for kwargs, path in (
        ({"metric": "roi"}, "metric"),
        ({"min_campaigns": 1}, "min_campaigns"),
        ({"price_bands": (10, 5)}, "price_bands"),
        ({"dimensions": ["colour"]}, "dimensions"),
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"alpha": 0}, "alpha"),
    ):
        with pytest.raises(ValidationError) as info:
            identify_patterns(items, **kwargs)  # type: ignore[arg-type]
        assert info.value.problems[0].path == path
