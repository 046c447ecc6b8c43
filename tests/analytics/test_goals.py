"""Campaign goals: progress toward the seed's ``goals`` in metrics, reports and recommendations."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore
from campaign_core.analytics import (
    CampaignSummary,
    GoalProgress,
    RecommendationKind,
    goal_progress,
    parse_report_csv,
)
from campaign_core.analytics._recommendations import RecommendationInputs, get_recommendations

from .strategies import T0, totals


def test_each_goal_is_read_against_its_metric() -> None:
    """Counts, money, engagement (clicks), profit and rates; unknown keys are not measured."""
    m = totals(impressions=1000, clicks=200, conversions=40, revenue=800.0, spent=400.0)
    goals = {
        "conversions": 50,
        "revenue": 500,
        "engagement": 100,
        "profit": 1000,
        "roi": 0.5,
        "ctr": 0.3,
        "followers": 10,
        "note": "ignored",
    }
    found = {g.metric: g for g in goal_progress(goals, m, budget=1000.0)}
    assert list(found) == sorted(k for k in goals if k != "note")
    assert found["conversions"] == GoalProgress(
        metric="conversions",
        target=50,
        actual=40,
        progress=0.8,
        met=False,
        remaining=10,
        projected_at_budget=pytest.approx(2.0),  # 40 for 400 spent: 100 for 1000
    )
    assert found["revenue"].met
    assert found["revenue"].remaining == 0
    assert found["revenue"].projected_at_budget is None  # met already
    assert found["engagement"].actual == 200
    assert found["engagement"].met
    assert found["profit"].actual == 400
    assert found["profit"].projected_at_budget == 1.0
    assert found["roi"].actual == 1.0
    assert found["roi"].projected_at_budget is None
    assert found["ctr"].actual == pytest.approx(0.2)
    assert not found["ctr"].met
    assert found["followers"] == GoalProgress(metric="followers", target=10)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["conversions", "revenue", "engagement", "profit", "roi", "ctr", "x"]),
        st.floats(0, 1e6, allow_nan=False),
        max_size=5,
    ),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.floats(0, 1e5, allow_nan=False),
    st.floats(0, 1e5, allow_nan=False),
    st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False)),
)
def test_progress_is_consistent_for_any_numbers(
    goals: dict[str, float],
    clicks: int,
    conversions: int,
    revenue: float,
    spent: float,
    budget: float | None,
) -> None:
    """met agrees with actual >= target, remaining with target - actual, everything finite."""
    revenue = revenue if conversions else 0.0  # revenue comes with conversions
    m = totals(
        impressions=clicks * 2, clicks=clicks, conversions=conversions, revenue=revenue, spent=spent
    )
    for g in goal_progress(goals, m, budget=budget):
        assert g.target == goals[g.metric]
        if g.actual is None:
            assert g.met is None
            assert g.progress is None
            assert g.remaining is None
            continue
        assert g.met == (g.actual >= g.target)
        assert g.remaining == pytest.approx(max(0.0, g.target - g.actual))
        if g.progress is not None:
            assert math.isfinite(g.progress)
        if g.projected_at_budget is not None:
            assert not g.met
            assert budget
            assert spent > 0
            assert g.projected_at_budget == pytest.approx(
                g.actual / spent * budget / g.target, rel=1e-9
            )


def _summary(goals: dict[str, float], **m: float) -> CampaignSummary:
    metrics = totals(**m)  # type: ignore[arg-type]
    return CampaignSummary(
        campaign_id="c-1",
        name="Spring",
        status="active",
        launched_at=T0,
        budget=1000.0,
        metrics=metrics,
        goals=goal_progress(goals, metrics, budget=1000.0),
    )


def _kinds(summary: CampaignSummary) -> list[RecommendationKind]:
    recs = get_recommendations(
        RecommendationInputs(now=T0 + timedelta(days=3), campaigns=[summary])
    )
    return [r.kind for r in recs if r.kind.value.startswith("goal")]


def test_a_goal_the_budget_cannot_reach_is_flagged_with_evidence() -> None:
    """Half the budget spent for a fifth of the conversions: about 40% at the end, high priority."""
    summary = _summary({"conversions": 100}, clicks=500, conversions=20, revenue=300.0, spent=500.0)
    recs = get_recommendations(RecommendationInputs(now=T0, campaigns=[summary]))
    [rec] = [r for r in recs if r.kind is RecommendationKind.GOAL_OFF_TRACK]
    assert rec.campaign_id == "c-1"
    assert rec.priority == "high"
    assert rec.evidence["projectedAtBudget"] == pytest.approx(0.4)
    assert rec.evidence["target"] == 100
    assert rec.evidence["actual"] == 20


def test_early_spend_judges_nothing_and_met_goals_are_reported() -> None:
    """Under a quarter of the budget spent: no verdict; every goal met: complete or raise."""
    assert _kinds(_summary({"conversions": 100}, clicks=50, conversions=2, spent=100.0)) == []
    assert _kinds(
        _summary(
            {"conversions": 10, "revenue": 100},
            clicks=50,
            conversions=20,
            revenue=500.0,
            spent=100.0,
        )
    ) == [RecommendationKind.GOAL_MET]
    assert _kinds(_summary({"conversions": 100}, clicks=900, conversions=90, spent=600.0)) == []


def test_the_services_show_goal_progress_in_metrics_reports_and_recommendations(
    core: CampaignCore, owner: Actor
) -> None:
    """get_campaign_metrics, the JSON and CSV reports and get_recommendations carry the goals."""
    ws = core.for_actor(owner)
    campaign = ws.campaigns.create_from_template(
        "tpl_fitness_30_day_workout_challenge",
        {
            "name": "Goals",
            "budget": 100,
            "goals": {"conversions": 10, "revenue": 1000},
            "mediaUrls": ["https://cdn.example.com/a.jpg"],
        },
    )
    ws.campaigns.launch_campaign(campaign.id)
    for i in range(8):
        ws.analytics.track_click(campaign.id, f"fan-{i}", platform="onlyfans")
    for i in range(4):
        ws.analytics.track_conversion(campaign.id, f"fan-{i}", 25.0, platform="onlyfans")
    ws.campaigns.record_spend(campaign.id, 60)
    goals = {g.metric: g for g in ws.analytics.get_campaign_metrics(campaign.id).goals}
    assert goals["conversions"].actual == 4
    assert goals["conversions"].progress == 0.4
    assert goals["revenue"].actual == 100
    assert goals["revenue"].met is False
    assert goals["revenue"].projected_at_budget == pytest.approx(100 / 60 * 100 / 1000)
    report = ws.analytics.generate_report(campaign.id, format="json")
    assert {g["metric"] for g in report["metrics"]["goals"]} == {"conversions", "revenue"}
    tables = parse_report_csv(ws.analytics.generate_report(campaign.id, format="csv"))
    cells = {(r["key"], r["metric"]): r["value"] for r in tables["goal"]}
    assert cells[("conversions", "target")] == "10"
    assert cells[("revenue", "actual")] == "100.00"
    assert cells[("revenue", "met")] == "false"
    recs = ws.analytics.get_recommendations()
    off = [r for r in recs if r.kind is RecommendationKind.GOAL_OFF_TRACK]
    assert {r.evidence["metric"] for r in off} == {"conversions", "revenue"}


def test_the_pdf_report_lists_the_goals() -> None:
    """The budget page shows each goal's actual of target and whether it is met."""
    import attrs
    import pypdfium2 as pdfium

    from campaign_core.analytics import build_report, render_report

    from .test_report import _page_text, sample_campaign, sample_report

    base = sample_report()
    metrics = attrs.evolve(
        base.metrics,
        goals=goal_progress({"conversions": 3, "followers": 5}, base.metrics.totals),
    )
    report = build_report(sample_campaign(), metrics, generated_at=T0)
    document = pdfium.PdfDocument(render_report(report, "pdf"))
    text = _page_text(document, len(document) - 1)
    document.close()
    assert "Goals" in text
    assert "conversions" in text
    assert "followers" in text
    assert "not measured" in text
