"""A/B tests through the campaign service: creation, assignment, tracking, decisions, winners."""

from __future__ import annotations

import random
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from campaign_core.testing.helpers import snapshot


def paths(error: ValidationError) -> set[str]:
    return {p.path for p in error.problems}


def campaign(ws: Any) -> Any:
    return ws.campaigns.create_campaign(
        name="Spring",
        type="ppv",
        platforms=["onlyfans"],
        content={"title": "Spring drop", "price": 20},
        media_urls=["https://cdn.example/a.jpg"],
    )


VARIANTS = [
    {"name": "A", "content": {"title": "Spring drop"}, "isControl": True},
    {"name": "B", "content": {"title": "Last chance: spring drop"}},
]


def simulate(ws: Any, test: Any, rates: dict[str, float], fans: int, seed: int = 7) -> None:
    """Send ``fans`` fans through the test: sticky assignment, then Bernoulli conversions."""
    rng = random.Random(seed)
    totals = {
        v.name: {"impressions": 0, "clicks": 0, "conversions": 0, "revenue": 0.0}
        for v in test.variants
    }
    for i in range(fans):
        v = ws.campaigns.get_variant_for_fan(test.id, f"fan-{i}") if i < 200 else None
        name = v.name if v else _assign(test, f"fan-{i}")
        t = totals[name]
        t["impressions"] += 1
        if rng.random() < 0.3:
            t["clicks"] += 1
        if rng.random() < rates[name]:
            t["conversions"] += 1
            t["revenue"] += 20.0
    for variant in test.variants:
        ws.campaigns.track_variant_performance(variant.id, totals[variant.name])


def _assign(test: Any, fan: str) -> str:
    from campaign_core.abtesting import assign_variant

    return assign_variant(test.id, fan, test.test.traffic_split)


def test_seed_flow_2_create_run_decide_apply(core: CampaignCore, owner: Actor) -> None:
    """The seed's flow 2: create a test, run it, determine the winner, apply it."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    test = ws.campaigns.create_ab_test(c.id, VARIANTS, {"A": 50, "B": 50})
    assert [v.name for v in test.variants] == ["A", "B"]
    assert ws.campaigns.get_campaign(c.id).ab_test_id == test.id
    early = ws.campaigns.determine_winner(test.id)
    assert (early.winner_id, early.reason) == (None, "below_minimum_sample")
    simulate(ws, test, {"A": 0.05, "B": 0.09}, fans=12_000)
    decision = ws.campaigns.determine_winner(test.id)
    b = test.variant("B")
    assert decision.winner_id == b.id, decision.message
    assert decision.reason == "significant"
    done = ws.campaigns.apply_winner(test.id)
    assert (done.test.status, done.test.winner_id) == ("completed", b.id)
    assert done.test.significance == pytest.approx(decision.significance)
    applied = ws.campaigns.get_campaign(c.id)
    assert applied.content["title"] == "Last chance: spring drop"
    assert applied.content["price"] == 20  # the rest of the content stays
    assert applied.content_version == 2
    # later traffic feeds the validation holdout, never the decided test's counters
    before = ws.campaigns.get_ab_test(test.id).variant("B").impressions
    ws.campaigns.track_variant_performance(b.id, {"impressions": 1})
    assert ws.campaigns.get_ab_test(test.id).variant("B").impressions == before


def test_no_winner_cannot_be_applied(core: CampaignCore, owner: Actor) -> None:
    """Applying without a significant winner is a conflict that names the reason; nothing changes."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    test = ws.campaigns.create_ab_test(c.id, VARIANTS)
    for variant in test.variants:
        ws.campaigns.track_variant_performance(
            variant.id, impressions=4000, clicks=900, conversions=200
        )
    before = snapshot(core.store)
    with pytest.raises(ConflictError) as info:
        ws.campaigns.apply_winner(test.id)
    assert info.value.details["reason"] == "not_significant"
    assert snapshot(core.store) == before


def test_conversions_ahead_of_impressions_are_a_decision_not_an_error(
    core: CampaignCore, owner: Actor
) -> None:
    """Tracked counts that do not add up yet: no winner, a reason, and every reader still works."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    test = ws.campaigns.create_ab_test(c.id, VARIANTS)
    ws.campaigns.track_variant_performance(test.variant("A").id, impressions=10, conversions=1)
    ws.campaigns.track_variant_performance(test.variant("B").id, impressions=1, conversions=3)
    for metric in ("conversion_rate", "click_conversion_rate"):
        decision = ws.campaigns.determine_winner(test.id, metric=metric)
        assert (decision.winner_id, decision.reason) == (None, "inconsistent_counts")
        assert "B has 3 conversions for" in decision.message
        assert decision.to_dict()["reason"] == "inconsistent_counts"
    before = snapshot(core.store)
    with pytest.raises(ConflictError) as info:
        ws.campaigns.apply_winner(test.id)
    assert info.value.details["reason"] == "inconsistent_counts"
    assert snapshot(core.store) == before
    ws.analytics.get_recommendations()  # reads every running test's decision: no error
    # once the impressions arrive, the test is decided as usual
    ws.campaigns.track_variant_performance(test.variant("B").id, impressions=9)
    assert ws.campaigns.determine_winner(test.id).reason == "below_minimum_sample"


def test_sample_ratio_mismatch_blocks_a_winner(core: CampaignCore, owner: Actor) -> None:
    """Traffic far from the configured split is a sample-ratio mismatch: no winner."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS, {"A": 50, "B": 50})
    ws.campaigns.track_variant_performance(
        test.variant("A").id, impressions=5000, clicks=900, conversions=200
    )
    ws.campaigns.track_variant_performance(
        test.variant("B").id, impressions=8000, clicks=1500, conversions=800
    )
    decision = ws.campaigns.determine_winner(test.id)
    assert (decision.winner_id, decision.reason) == (None, "sample_ratio_mismatch")


def test_assignment_is_sticky_and_follows_the_split(core: CampaignCore, owner: Actor) -> None:
    """A fan always gets the same variant; shares approach the split."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(
        campaign(ws).id, [*VARIANTS, {"name": "C", "content": {}}], {"A": 20, "B": 30, "C": 50}
    )
    first = [ws.campaigns.get_variant_for_fan(test.id, f"f{i}").name for i in range(300)]
    again = [ws.campaigns.get_variant_for_fan(test.id, f"f{i}").name for i in range(300)]
    assert first == again
    counts = dict.fromkeys("ABC", 0)
    for i in range(5000):
        counts[_assign(test, f"g{i}")] += 1
    assert abs(counts["C"] / 5000 - 0.5) < 0.03
    assert abs(counts["A"] / 5000 - 0.2) < 0.03


@pytest.mark.parametrize(
    ("variants", "split", "bad"),
    [
        ([VARIANTS[0]], None, "variants"),
        ("AB", None, "variants"),
        ([VARIANTS[0], {"name": "A", "content": {}}], None, "variants[1].name"),
        ([VARIANTS[0], {"name": "", "content": {}}], None, "variants[1].name"),
        ([VARIANTS[0], {"name": "B", "content": [], "x": 1}], None, "variants[1].x"),
        (
            [VARIANTS[0], {"name": "B", "content": {"price": float("nan")}}],
            None,
            "variants[1].content.price",
        ),
        ([VARIANTS[0], {**VARIANTS[1], "isControl": True}], None, "variants"),
        (VARIANTS, {"A": 60, "B": 60}, "traffic_split"),
        (VARIANTS, {"A": 50, "Z": 50}, "traffic_split.Z"),
        (VARIANTS, {"A": float("inf"), "B": 50}, "traffic_split.A"),
        (VARIANTS, {"A": -10, "B": 110}, "traffic_split.A"),
    ],
)
def test_bad_tests_are_rejected_and_store_nothing(
    core: CampaignCore, owner: Actor, variants: Any, split: Any, bad: str
) -> None:
    """Malformed variants and splits give a ValidationError with the path; nothing is stored."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.create_ab_test(c.id, variants, split)
    assert bad in paths(info.value)
    assert snapshot(core.store) == before


def test_bad_settings_and_counts(core: CampaignCore, owner: Actor) -> None:
    """Bad confidence levels, policies and counts are validation errors naming the field."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    with pytest.raises(ValidationError) as info:
        ws.campaigns.create_ab_test(
            c.id, VARIANTS, confidence_level=1.5, policy="bayes", min_sample_size=0, x=1
        )
    assert paths(info.value) == {"confidence_level", "policy", "min_sample_size", "x"}
    test = ws.campaigns.create_ab_test(c.id, VARIANTS)
    variant = test.variant("A")
    for bad in (
        {"impressions": -1},
        {"clicks": 1.5},
        {"revenue": float("nan")},
        {"impressions": 10**13},
        {"views": 3},
        {"conversions": True},
    ):
        with pytest.raises(ValidationError):
            ws.campaigns.track_variant_performance(variant.id, bad)
    assert ws.campaigns.get_ab_test(test.id).variant("A").impressions == 0
    with pytest.raises(ConflictError):
        ws.campaigns.create_ab_test(c.id, VARIANTS)


def test_tests_are_private_and_role_checked(core: CampaignCore, owner: Actor) -> None:
    """Another account cannot see or track a test; a viewer cannot create one."""
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS)
    other = core.for_actor(Actor("owner-2"))
    with pytest.raises(NotFoundError):
        other.campaigns.get_ab_test(test.id)
    with pytest.raises(NotFoundError):
        other.campaigns.track_variant_performance(test.variant("A").id, {"impressions": 5})
    viewer = core.for_actor(Actor("v", role="viewer", account_id="owner-1"))
    with pytest.raises(PermissionDeniedError):
        viewer.campaigns.create_ab_test(campaign(ws).id, VARIANTS)
    assert viewer.campaigns.determine_winner(test.id).winner_id is None


def test_cancel_and_list(core: CampaignCore, owner: Actor) -> None:
    """A cancelled test stops; tests list per campaign and status."""
    ws = core.for_actor(owner)
    c = campaign(ws)
    test = ws.campaigns.create_ab_test(c.id, VARIANTS)
    assert ws.campaigns.cancel_ab_test(test.id).status == "cancelled"
    with pytest.raises(InvalidTransitionError):
        ws.campaigns.cancel_ab_test(test.id)
    second = ws.campaigns.create_ab_test(c.id, VARIANTS)
    assert [t.id for t in ws.campaigns.list_ab_tests(campaign_id=c.id)] == [second.id, test.id]
    assert [t.id for t in ws.campaigns.list_ab_tests(status="running")] == [second.id]


def test_concurrent_tracking_is_exact(core_factory: Any, any_store: Any, owner: Actor) -> None:
    """Counters from several threads add up exactly, on every store."""
    import threading

    core = core_factory(any_store)
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS)
    variant = test.variant("B")

    def work() -> None:
        for _ in range(25):
            ws.campaigns.track_variant_performance(
                variant.id, impressions=2, conversions=1, revenue=1.5
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = ws.campaigns.get_ab_test(test.id).variant("B")
    assert (got.impressions, got.conversions, got.revenue) == (200, 100, 150.0)


def test_winner_decisions_are_validated_on_a_holdout(
    core_factory: Any, local_store: Any, owner: Actor
) -> None:
    """After apply_winner a holdout keeps the baseline; tick() judges the decision and emits accuracy."""
    from campaign_core import FakeClock
    from campaign_core.metrics import InMemoryMetrics

    sink = InMemoryMetrics()
    core = core_factory(local_store, metrics=sink)
    clock: FakeClock = core.clock
    ws = core.for_actor(owner)
    test = ws.campaigns.create_ab_test(campaign(ws).id, VARIANTS)
    ws.campaigns.track_variant_performance(
        test.variant("A").id, impressions=4000, clicks=800, conversions=150
    )
    ws.campaigns.track_variant_performance(
        test.variant("B").id, impressions=4000, clicks=800, conversions=260
    )
    ws.campaigns.apply_winner(test.id)
    # fans keep being assigned: ~10% see the baseline A, the rest the winner B
    seen = [ws.campaigns.get_variant_for_fan(test.id, f"h{i}").name for i in range(400)]
    assert 0.05 < seen.count("A") / 400 < 0.16
    ws.campaigns.track_variant_performance(test.variant("A").id, impressions=300, conversions=10)
    ws.campaigns.track_variant_performance(test.variant("B").id, impressions=2700, conversions=200)
    # the decision-time counters are frozen
    assert ws.campaigns.get_ab_test(test.id).variant("B").impressions == 4000
    assert core.tick().winners_validated == 0
    clock.advance("7 days")
    assert core.tick().winners_validated == 1
    sink.assert_emitted("WinnerDeterminationAccuracy", value=100.0, unit="Percent")
    with pytest.raises(InvalidTransitionError):
        ws.campaigns.track_variant_performance(test.variant("B").id, impressions=1)


def test_abtests_is_the_service_the_campaigns_delegate_to(core: CampaignCore, owner: Actor) -> None:
    """``ws.abtests`` and ``ws.campaigns`` reach the same tests, audited once under the A/B action."""
    from campaign_core.services import ABTestService

    ws = core.for_actor(owner)
    assert isinstance(ws.abtests, ABTestService)
    c = campaign(ws)
    test = ws.abtests.create_ab_test(c.id, VARIANTS, {"A": 50, "B": 50})
    assert ws.campaigns.get_ab_test(test.id) == ws.abtests.get_ab_test(test.id)
    variant = test.variant("B")
    tracked = ws.campaigns.track_variant_performance(variant.id, impressions=10, conversions=2)
    assert (tracked.impressions, tracked.conversions) == (10, 2)
    assert ws.abtests.list_ab_tests(campaign_id=c.id) == ws.campaigns.list_ab_tests(
        campaign_id=c.id
    )
    decision = ws.campaigns.determine_winner(test.id)
    assert decision == ws.abtests.determine_winner(test.id)
    cancelled = ws.campaigns.cancel_ab_test(test.id)
    assert cancelled.status.value == "cancelled"
    records = ws.audit.list_records(entity="ab_test", entity_id=test.id)
    assert [r.action for r in reversed(records)] == ["ab_test.create", "ab_test.cancel"]
