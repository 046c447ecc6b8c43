"""Issue 20's defects of the A/B decision, each reproduced (these failed before their fix)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.abtesting import DecisionReason, MinimumSample, VariantCounts, decide
from campaign_core.errors import ValidationError

NO_FLOORS = MinimumSample(0, 0, 0)


# --------------------------------------------------------------------------- inconsistent counts


@pytest.mark.parametrize(
    ("a", "b", "path"),
    [
        # conversions above clicks: the 805 winners under conversion_rate
        ((10_000, 200, 150), (10_000, 200, 300), "variants[1].conversions"),
        # clicks above impressions
        ((10_000, 1000, 300), (10_000, 20_000, 400), "variants[1].clicks"),
    ],
)
def test_counts_that_cannot_be_never_produce_a_winner(
    a: tuple[int, int, int], b: tuple[int, int, int], path: str
) -> None:
    """conversion_rate used to check only conversions <= impressions and named B the winner."""
    variants = [
        VariantCounts("a", is_control=True, impressions=a[0], clicks=a[1], conversions=a[2]),
        VariantCounts("b", impressions=b[0], clicks=b[1], conversions=b[2]),
    ]
    with pytest.raises(ValidationError) as info:
        decide(variants)
    assert path in [p.path for p in info.value.problems]
    decision = decide(variants, inconsistent="no_winner")
    assert decision.winner_id is None
    assert decision.reason is DecisionReason.INCONSISTENT_COUNTS
    for metric in ("click_through_rate", "click_conversion_rate"):
        assert decide(variants, metric=metric, inconsistent="no_winner").winner_id is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000)),
        min_size=2,
        max_size=4,
    ),
    st.sampled_from(["conversion_rate", "click_through_rate", "click_conversion_rate"]),
)
def test_random_counts_win_only_when_they_add_up(
    rows: list[tuple[int, int, int]], metric: str
) -> None:
    """Any counts: a winner only if every variant has conversions <= clicks <= impressions."""
    variants = [
        VariantCounts(f"v{i}", is_control=i == 0, impressions=n, clicks=c, conversions=k)
        for i, (n, c, k) in enumerate(rows)
    ]
    decision = decide(
        variants,
        min_samples=NO_FLOORS,
        min_sample_size=0,
        metric=metric,  # type: ignore[arg-type]
        inconsistent="no_winner",
    )
    consistent = all(k <= c <= n for n, c, k in rows)
    if not consistent:
        assert decision.winner_id is None
        assert decision.reason is DecisionReason.INCONSISTENT_COUNTS


def test_untracked_clicks_only_need_conversions_within_impressions() -> None:
    """With no clicks anywhere (not tracked, as a CSV without a clicks column), the funnel is
    impressions -> conversions."""
    variants = [
        VariantCounts("a", is_control=True, impressions=10_000, conversions=300),
        VariantCounts("b", impressions=10_000, conversions=420),
    ]
    decision = decide(variants, min_samples=MinimumSample(1000, 0, 30))
    assert decision.winner_id == "b"
