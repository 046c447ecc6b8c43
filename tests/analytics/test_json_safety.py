"""No NaN or infinity in any output, whatever the (valid) numbers, tiny and huge ones included."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.abtesting import MinimumSample
from campaign_core.analytics import (
    CampaignSummary,
    MetricTotals,
    budget_pacing,
    campaign_roi,
    compare_campaigns,
    conversion_funnel,
    identify_patterns,
    top_campaigns,
)
from campaign_core.serialization import to_json

from .strategies import T0

money = st.one_of(
    st.just(0.0),
    st.floats(min_value=5e-324, max_value=1e-300),  # subnormal and tiny amounts
    st.floats(min_value=0, max_value=1e15, allow_nan=False),
)


@st.composite
def metric_totals(draw: st.DrawFn) -> MetricTotals:
    imp = draw(st.integers(0, 10**7))
    clk = draw(st.integers(0, 10**7))
    conv = draw(st.integers(0, 10**6))
    revenue = draw(money)
    # a sum of squares of subnormal amounts underflows: leave it out there
    # (and revenue without conversions has no per-conversion squares to sum)
    tiny = 0.0 < revenue < 1e-150
    sumsq = None if tiny or not conv or draw(st.booleans()) else revenue * revenue / conv * 1.5
    return MetricTotals.from_counts(
        impressions=imp,
        clicks=clk,
        conversions=conv,
        revenue=revenue if conv or draw(st.booleans()) else 0.0,
        spent=draw(money),
        revenue_sum_squares=sumsq if sumsq is None or sumsq < 1e300 else None,
    )


def strict(value: Any) -> None:
    json.dumps(to_json(value), allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(metric_totals(), min_size=2, max_size=5))
def test_funnel_roi_comparison_ranking_are_json_safe(items: list[MetricTotals]) -> None:
    """Funnels, ROI views, comparisons and rankings of arbitrary totals serialize strictly."""
    floors = MinimumSample(impressions=0, clicks=0, conversions=0)
    summaries = [
        CampaignSummary(campaign_id=f"c{i}", metrics=m, type=("ppv", "promotion")[i % 2])
        for i, m in enumerate(items)
    ]
    for m in items:
        strict(conversion_funnel(m))
        strict(campaign_roi(m, budget=1000.0))
    strict(compare_campaigns(summaries, min_samples=floors))
    for by in ("roi", "ctr", "conversion_rate", "profit"):
        strict(list(top_campaigns(summaries, by=by)))  # type: ignore[arg-type]
    strict(identify_patterns(summaries, min_campaigns=2, min_trials=1, min_successes=0))


@settings(max_examples=150, deadline=None)
@given(money, money, st.integers(1, 10**9), st.booleans())
def test_pacing_is_json_safe(budget: float, spent: float, elapsed_ms: int, with_end: bool) -> None:
    """Pacing of any budget and spend serializes strictly."""
    now = T0 + timedelta(milliseconds=elapsed_ms)
    strict(
        budget_pacing(
            budget=budget,
            spent=spent,
            started_at=T0,
            now=now,
            ends_at=now + timedelta(days=3) if with_end else None,
        )
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(metric_totals(), min_size=1, max_size=4), money, st.integers(1, 10**9))
def test_recommendations_are_json_safe(
    items: list[MetricTotals], budget: float, elapsed_ms: int
) -> None:
    """Recommendations over arbitrary campaigns never fail on extreme numbers and serialize strictly."""
    from campaign_core.analytics._recommendations import (
        RecommendationInputs,
        RecommendationSettings,
        get_recommendations,
    )

    summaries = [
        CampaignSummary(
            campaign_id=f"c{i}",
            metrics=m,
            status="active",
            launched_at=T0,
            budget=budget,
            by_platform=(),
        )
        for i, m in enumerate(items)
    ]
    settings_ = RecommendationSettings(
        min_samples=MinimumSample(impressions=0, clicks=0, conversions=0), min_spend_to_pause=0.0
    )
    recs = get_recommendations(
        RecommendationInputs(
            now=T0 + timedelta(milliseconds=elapsed_ms), campaigns=summaries, settings=settings_
        )
    )
    strict(list(recs))
