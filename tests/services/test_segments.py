"""The segment service: CRUD, segment types, refresh, hooks, cache, numbers, scoping and bad input.

Every test runs on the in-memory store (criteria evaluated in Python) and on
SQLite (criteria compiled to SQL), so both paths give the same answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportions_ztest

from campaign_core import (
    Actor,
    CampaignCore,
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Settings,
    ValidationError,
)
from campaign_core.audience import (
    EXCLUDE_KEY,
    segment_criteria,
    segment_exclusions,
)
from campaign_core.criteria import normalize
from campaign_core.jobs.segments import (
    refresh_due_segments,
    segment_size_cache,
)
from campaign_core.models import CampaignConversion, Fan, MemberSource
from campaign_core.query import Eq
from campaign_core.services.segments import MAX_EXCLUSIONS
from campaign_core.stats import adjust_pvalues
from campaign_core.testing.helpers import snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TRAITS = {"favorite_game": "string", "tags": "string_list"}

# fan-0 .. fan-9: engagement 0, 10, ... 90; levels low/high/vip in turn;
# lifetime value 0, 5, ... 45; odd fans tagged vip; fan-i last active i days ago
LEVELS = ["low", "high", "vip"]


@pytest.fixture
def core(local_store: Any, core_factory: Any) -> CampaignCore:
    return core_factory(local_store, settings=Settings(fan_traits=TRAITS))


@pytest.fixture
def ws(core: CampaignCore, owner: Actor) -> Any:
    workspace = core.for_actor(owner)
    workspace.fans.import_fans(
        {
            "fan_id": f"fan-{i}",
            "engagement": i * 10,
            "spending_level": LEVELS[i % 3],
            "lifetime_value": i * 5.0,
            "last_activity_at": T0 - timedelta(days=i),
            "traits": {"tags": ["vip"] if i % 2 else [], "favorite_game": f"game{i % 2}"},
        }
        for i in range(10)
    )
    return workspace


@pytest.fixture
def entered(core: CampaignCore) -> list[tuple[str, list[str]]]:
    """Every call of the segment_entered hook: (segment id, fan ids)."""
    calls: list[tuple[str, list[str]]] = []
    core.runtime.segment_entered_hooks.append(
        lambda tx, segment, fan_ids: calls.append((segment.id, list(fan_ids)))
    )
    return calls


def member_ids(ws: Any, segment_id: str) -> list[str]:
    page = ws.segments.get_segment_members(segment_id, limit=200)
    return [fan.fan_id for fan in page.items]


def paths(error: ValidationError) -> set[str]:
    return {p.path for p in error.problems}


BIG_SPENDERS = ["fan-4", "fan-5", "fan-7", "fan-8"]  # high or vip, engagement > 30


# -- CRUD and input forms -----------------------------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [
        {"spendingLevel": ">=high", "engagement": ">30"},
        [
            {"field": "spending_level", "operator": "greater_than_or_equal", "value": "high"},
            {"field": "engagement", "operator": ">", "value": 30},
        ],
        "spending_level >= high and engagement > 30",
        {
            "version": 1,
            "root": {
                "all": [
                    {"field": "spending_level", "op": "gte", "value": "high"},
                    {"field": "engagement", "op": "gt", "value": 30},
                ]
            },
        },
    ],
    ids=["shorthand", "conditions", "expression", "canonical"],
)
def test_every_input_form_is_stored_canonical(ws: Any, criteria: Any) -> None:
    """Shorthand, condition lists, expressions and the canonical tree give the same segment."""
    segment = ws.segments.create_segment(name="Big spenders", criteria=criteria)
    assert segment.criteria == normalize("spending_level >= high and engagement > 30").to_json()
    assert segment.member_count == 4
    assert member_ids(ws, segment.id) == BIG_SPENDERS
    assert segment.avg_engagement == pytest.approx(60.0)
    assert segment.avg_revenue == pytest.approx(30.0)
    assert segment.last_refreshed_at == T0


def test_get_update_list_delete(ws: Any) -> None:
    """A segment can be read, renamed, listed with filters and pages, and deleted."""
    first = ws.segments.create_segment(name="Gamers", criteria={"favoriteGame": "game1"})
    second = ws.segments.create_segment(
        name="Hand-picked", type="static", fan_ids=["fan-1"], description="VIP list"
    )
    third = ws.segments.create_segment(name="Quiet", criteria="no_activity_days >= 7")
    assert ws.segments.get_segment(first.id) == first
    renamed = ws.segments.update_segment(first.id, name="Odd gamers", description="odd")
    assert (renamed.name, renamed.description, renamed.version) == ("Odd gamers", "odd", 3)
    assert renamed.member_count == first.member_count == 5

    page = ws.segments.list_segments(limit=2)
    assert page.total == 3
    assert [s.id for s in page.items] == [third.id, second.id]
    rest = ws.segments.list_segments(limit=2, cursor=page.next_cursor)
    assert [s.id for s in rest.items] == [first.id]
    assert rest.next_cursor is None
    assert [s.id for s in ws.segments.list_segments(type="static").items] == [second.id]
    assert [s.id for s in ws.segments.list_segments(search="vip").items] == [second.id]

    ws.segments.delete_segment(third.id)
    with pytest.raises(NotFoundError):
        ws.segments.get_segment(third.id)
    assert ws.segments.list_segments().total == 2


def test_members_are_paginated_fan_records(ws: Any) -> None:
    """get_segment_members pages through fan records in fan id order."""
    segment = ws.segments.create_segment(name="All", criteria="engagement >= 0")
    first = ws.segments.get_segment_members(segment.id, limit=4)
    assert first.total == 10
    assert first.next_offset == 4
    assert [f.fan_id for f in first.items] == ["fan-0", "fan-1", "fan-2", "fan-3"]
    assert all(isinstance(f, Fan) for f in first.items)
    last = ws.segments.get_segment_members(segment.id, limit=4, offset=8)
    assert [f.fan_id for f in last.items] == ["fan-8", "fan-9"]
    assert last.next_offset is None
    with pytest.raises(ValidationError) as caught:
        ws.segments.get_segment_members(segment.id, limit=0, offset=-1)
    assert paths(caught.value) == {"limit", "offset"}


# -- segment types --------------------------------------------------------------------------


def test_static_segments_change_only_by_hand(ws: Any, entered: list[Any]) -> None:
    """A static segment keeps its hand-picked members through refreshes."""
    segment = ws.segments.create_segment(name="Picked", type="static", fan_ids=["fan-2", "fan-3"])
    assert segment.criteria == {}
    assert segment.member_count == 2
    assert entered == [(segment.id, ["fan-2", "fan-3"])]
    assert ws.segments.add_fan_to_segment("fan-9", segment.id) is True
    assert ws.segments.add_fan_to_segment("fan-9", segment.id) is False
    assert entered[-1] == (segment.id, ["fan-9"])
    assert ws.segments.remove_fan_from_segment("fan-2", segment.id) is True
    assert ws.segments.remove_fan_from_segment("fan-2", segment.id) is False
    result = ws.segments.refresh_segment(segment.id)
    assert (result.entered, result.exited) == ((), ())
    assert member_ids(ws, segment.id) == ["fan-3", "fan-9"]
    assert ws.segments.get_segment(segment.id).member_count == 2
    assert result.segment.avg_engagement == pytest.approx(60.0)


def test_dynamic_segments_take_members_from_criteria_only(ws: Any) -> None:
    """Adding or removing a fan by hand is refused for a dynamic segment."""
    segment = ws.segments.create_segment(name="Engaged", criteria="engagement > 50")
    with pytest.raises(InvalidTransitionError):
        ws.segments.add_fan_to_segment("fan-0", segment.id)
    with pytest.raises(InvalidTransitionError):
        ws.segments.remove_fan_from_segment("fan-9", segment.id)
    assert member_ids(ws, segment.id) == ["fan-6", "fan-7", "fan-8", "fan-9"]


def test_hybrid_segments_pin_and_exclude(ws: Any, entered: list[Any]) -> None:
    """Hybrid: criteria matches, plus pinned fans, minus excluded fans, across refreshes."""
    segment = ws.segments.create_segment(
        name="VIP+", type="hybrid", criteria="tags contains 'vip'", fan_ids=["fan-0"]
    )
    assert member_ids(ws, segment.id) == ["fan-0", "fan-1", "fan-3", "fan-5", "fan-7", "fan-9"]
    assert entered == [(segment.id, ["fan-0", "fan-1", "fan-3", "fan-5", "fan-7", "fan-9"])]

    assert ws.segments.remove_fan_from_segment("fan-3", segment.id) is True
    stored = ws.segments.get_segment(segment.id)
    assert segment_exclusions(stored) == ("fan-3",)
    assert stored.criteria[EXCLUDE_KEY] == ["fan-3"]
    assert segment_criteria(stored, ws.segments.registry) == normalize(
        "tags contains 'vip'", registry=ws.segments.registry
    )
    result = ws.segments.refresh_segment(segment.id)
    assert "fan-3" not in member_ids(ws, segment.id)
    assert (result.entered, result.exited) == ((), ())

    # fan-5 loses the tag but was pinned by hand: stays; fan-7 loses it: leaves
    ws.segments.add_fan_to_segment("fan-5", segment.id)
    ws.fans.upsert_fan("fan-5", traits={"tags": []})
    ws.fans.upsert_fan("fan-7", traits={"tags": []})
    result = ws.segments.refresh_segment(segment.id)
    assert result.exited == ("fan-7",)
    assert member_ids(ws, segment.id) == ["fan-0", "fan-1", "fan-5", "fan-9"]

    # adding an excluded fan back forgets the exclusion
    assert ws.segments.add_fan_to_segment("fan-3", segment.id) is True
    assert segment_exclusions(ws.segments.get_segment(segment.id)) == ()
    with ws.segments._rt.transaction() as tx:
        rows = tx.uow.segment_members.find(Eq("segment_id", segment.id))
    sources = {row.fan_id: row.source for row in rows}
    assert sources["fan-3"] is MemberSource.MANUAL
    assert sources["fan-1"] is MemberSource.CRITERIA


def test_refresh_records_who_entered_and_exited(
    ws: Any, core: CampaignCore, entered: list[Any]
) -> None:
    """Fans entering and leaving show up in the refresh result and the entered hook."""
    segment = ws.segments.create_segment(name="Lapsing", criteria="no_activity_days >= 7")
    assert member_ids(ws, segment.id) == ["fan-7", "fan-8", "fan-9"]
    core.clock.advance("2 days")  # type: ignore[attr-defined]
    ws.fans.record_event("fan-9", "message.opened")
    result = ws.segments.refresh_segment(segment.id)
    assert result.entered == ("fan-5", "fan-6")
    assert result.exited == ("fan-9",)
    assert (result.entered_count, result.exited_count) == (2, 1)
    assert entered[-1] == (segment.id, ["fan-5", "fan-6"])
    stored = ws.segments.get_segment(segment.id)
    assert stored.member_count == 4
    assert stored.last_refreshed_at == T0 + timedelta(days=2)
    assert stored.avg_revenue == pytest.approx((25 + 30 + 35 + 40) / 4)


def test_update_criteria_or_type_recomputes(ws: Any) -> None:
    """New criteria recompute the members; turning static keeps them and drops the criteria."""
    segment = ws.segments.create_segment(name="S", criteria="engagement > 80")
    assert member_ids(ws, segment.id) == ["fan-9"]
    changed = ws.segments.update_segment(segment.id, criteria={"engagement": ">=70"})
    assert changed.member_count == 3
    static = ws.segments.update_segment(segment.id, type="static")
    assert static.criteria == {}
    assert static.member_count == 3
    with pytest.raises(ValidationError) as caught:
        ws.segments.update_segment(segment.id, type="hybrid")
    assert paths(caught.value) == {"criteria"}
    hybrid = ws.segments.update_segment(segment.id, type="hybrid", criteria="engagement < 10")
    assert member_ids(ws, hybrid.id) == ["fan-0"]


def test_behaviour_and_segment_references(ws: Any) -> None:
    """Events and in_segment leaves work through the service on both stores."""
    ws.fans.record_event("fan-1", "purchase", value=30, occurred_at=T0 - timedelta(days=3))
    ws.fans.record_event("fan-1", "purchase", value=5, occurred_at=T0 - timedelta(days=40))
    ws.fans.record_event("fan-2", "purchase", value=8, properties={"product": "vip_pack"})
    buyers = ws.segments.create_segment(
        name="Recent buyers", criteria="count(purchase, within 30 days) >= 1"
    )
    assert member_ids(ws, buyers.id) == ["fan-1", "fan-2"]
    assert ws.segments.calculate_segment_size("sum(purchase) > 20") == 1
    assert (
        ws.segments.calculate_segment_size("count(purchase, where product starts_with 'vip') = 1")
        == 1
    )
    nested = ws.segments.create_segment(
        name="Buyers not engaged",
        criteria={"all": [{"in_segment": buyers.id}, "engagement < 15"]},
    )
    assert member_ids(ws, nested.id) == ["fan-1"]
    assert ws.segments.calculate_segment_size({"not": {"in_segment": buyers.id}}) == 8


# -- the entered hook and the daily refresh ------------------------------------------------


def test_refresh_due_segments_for_tick(ws: Any, core: CampaignCore, entered: list[Any]) -> None:
    """tick()'s daily refresh takes stale dynamic/hybrid segments, dependencies first."""
    base = ws.segments.create_segment(name="Base", criteria="engagement >= 50")
    child = ws.segments.create_segment(
        name="Child", criteria={"all": [{"in_segment": base.id}, "tags contains 'vip'"]}
    )
    ws.segments.create_segment(name="Static", type="static", fan_ids=["fan-0"])
    assert refresh_due_segments(core.runtime) == []
    core.clock.advance("23 hours")  # type: ignore[attr-defined]
    assert refresh_due_segments(core.runtime) == []
    ws.fans.upsert_fan("fan-1", engagement=99)
    core.clock.advance("1 hour")  # type: ignore[attr-defined]
    entered.clear()
    done = refresh_due_segments(core.runtime)
    assert sorted(done) == sorted([base.id, child.id])
    assert done.index(base.id) < done.index(child.id)
    assert entered == [(base.id, ["fan-1"]), (child.id, ["fan-1"])]
    assert refresh_due_segments(core.runtime) == []
    assert refresh_due_segments(core.runtime, now=T0 + timedelta(days=3), limit=1) == [base.id]


# -- sizes and the cache --------------------------------------------------------------------


def test_size_is_cached_for_five_minutes(ws: Any, core: CampaignCore, local_store: Any) -> None:
    """calculate_segment_size answers from cache for the seed's TTL, then recomputes."""
    assert ws.segments.calculate_segment_size("engagement >= 50") == 5
    with local_store.unit_of_work() as uow:  # a write this core does not see
        uow.fans.add(
            Fan(
                id="outsider",
                owner_id="owner-1",
                fan_id="fan-x",
                engagement=77.0,
                created_at=T0,
                updated_at=T0,
            )
        )
        uow.commit()
    assert ws.segments.calculate_segment_size({"engagement": ">=50"}) == 5
    core.clock.advance("4 minutes")  # type: ignore[attr-defined]
    assert ws.segments.calculate_segment_size("engagement >= 50") == 5
    core.clock.advance("1 minute")  # type: ignore[attr-defined]
    assert ws.segments.calculate_segment_size("engagement >= 50") == 6


def test_writes_through_the_core_invalidate_sizes(ws: Any) -> None:
    """Events recorded and segment changes in this core drop the cached sizes."""
    assert ws.segments.calculate_segment_size("count(purchase) >= 1") == 0
    ws.fans.record_event("fan-3", "purchase")
    assert ws.segments.calculate_segment_size("count(purchase) >= 1") == 1
    picked = ws.segments.create_segment(name="P", type="static", fan_ids=["fan-1"])
    assert ws.segments.calculate_segment_size({"in_segment": picked.id}) == 1
    ws.segments.add_fan_to_segment("fan-2", picked.id)
    assert ws.segments.calculate_segment_size({"in_segment": picked.id}) == 2


def test_cache_is_bounded_and_per_account(ws: Any, core: CampaignCore) -> None:
    """The cache keeps at most its bound and never shares sizes between accounts."""
    cache = segment_size_cache(core.runtime)
    cache.max_entries = 30
    for threshold in range(50):
        ws.segments.calculate_segment_size(f"engagement >= {threshold}")
    assert len(cache) == 30
    other = core.for_actor(Actor("owner-2"))
    assert other.segments.calculate_segment_size("engagement >= 0") == 0


# -- one fan ---------------------------------------------------------------------------------


def test_evaluate_criteria_explains(ws: Any) -> None:
    """evaluate_criteria returns the verdict and the value seen at every node."""
    ws.fans.record_event("fan-4", "purchase", value=12)
    result = ws.segments.evaluate_criteria(
        "fan-4", "spending_level >= high and engagement > 50 or count(purchase) >= 1"
    )
    assert result.matched is True
    trace = result.explanation.trace
    assert trace.type == "any"
    left, right = trace.children
    assert [c.seen for c in left.children] == ["high", 40.0]
    assert left.result is False
    assert right.seen == 1
    assert right.result is True
    assert result.to_json()["explanation"]["matched"] is True
    with pytest.raises(NotFoundError):
        ws.segments.evaluate_criteria("fan-404", "engagement > 1")


def test_evaluate_criteria_sees_memberships_and_traits(ws: Any) -> None:
    """A fan's segment memberships and declared traits are part of the evaluation."""
    picked = ws.segments.create_segment(name="P", type="static", fan_ids=["fan-1"])
    rule = {"all": [{"in_segment": picked.id}, {"favoriteGame": "game1"}]}
    assert ws.segments.evaluate_criteria("fan-1", rule).matched is True
    assert ws.segments.evaluate_criteria("fan-3", rule).matched is False


# -- performance and comparison ------------------------------------------------------------


def _conversions(core: CampaignCore, ws: Any, values: dict[str, list[float]]) -> None:
    campaign = ws.campaigns.create_campaign(name="Promo", type="promotion")
    foreign = core.for_actor(Actor("owner-2")).campaigns.create_campaign(
        name="Theirs", type="promotion"
    )
    with core.store.unit_of_work() as uow:
        n = 0
        for fan_id, amounts in values.items():
            for amount in amounts:
                n += 1
                for camp in (campaign, foreign):
                    uow.campaign_conversions.add(
                        CampaignConversion(
                            id=f"conv-{camp.id}-{n}",
                            campaign_id=camp.id,
                            fan_id=fan_id,
                            type="purchase",
                            value=amount,
                            platform="onlyfans",
                            converted_at=T0,
                        )
                    )
        uow.commit()


def test_segment_performance_numbers(ws: Any, core: CampaignCore) -> None:
    """Members, engagement, lifetime value, conversions and rates on hand-built data."""
    _conversions(core, ws, {"fan-5": [10.0, 20.0], "fan-7": [5.0], "fan-0": [99.0]})
    segment = ws.segments.create_segment(
        name="Big", criteria="spending_level >= high and engagement > 30"
    )
    perf = ws.segments.get_segment_performance(segment.id)
    assert perf.members == 4
    assert perf.avg_engagement == pytest.approx(60.0)
    assert perf.total_lifetime_value == pytest.approx(20 + 25 + 35 + 40)
    assert perf.avg_lifetime_value == pytest.approx(30.0)
    assert (perf.conversions, perf.converters) == (3, 2)  # fan-0 is not a member
    assert perf.conversion_revenue == pytest.approx(35.0)
    assert perf.conversion_rate == pytest.approx(0.5)
    assert perf.revenue_per_member == pytest.approx(35.0 / 4)
    empty = ws.segments.create_segment(name="Nobody", criteria="engagement > 1000")
    nothing = ws.segments.get_segment_performance(empty.id)
    assert (nothing.members, nothing.avg_engagement, nothing.conversion_rate) == (0, None, None)


def test_compare_segments_against_scipy_and_statsmodels(ws: Any, core: CampaignCore) -> None:
    """Overlap, Jaccard, Welch and z-tests match the reference implementations."""
    _conversions(core, ws, {"fan-1": [10.0], "fan-3": [4.0, 6.0], "fan-8": [7.0]})
    low = ws.segments.create_segment(name="Low", criteria="engagement < 50")
    high = ws.segments.create_segment(name="High", criteria="engagement >= 30")
    odd = ws.segments.create_segment(name="Odd", criteria="tags contains 'vip'")
    result = ws.segments.compare_segments([low.id, high.id, odd.id])
    assert [p.members for p in result.segments] == [5, 7, 5]
    first = result.pairs[0]
    assert (first.segment_a, first.segment_b) == (low.id, high.id)
    assert (first.overlap, first.only_a, first.only_b) == (2, 3, 5)
    assert first.jaccard == pytest.approx(2 / 10)

    engagement = {i: i * 10.0 for i in range(10)}
    a = [engagement[i] for i in range(5)]
    b = [engagement[i] for i in range(3, 10)]
    expected = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert first.engagement is not None
    assert first.engagement.difference == pytest.approx(np.mean(b) - np.mean(a))
    assert first.engagement.t == pytest.approx(expected.statistic)
    assert first.engagement.p_value == pytest.approx(expected.pvalue)

    assert first.conversion_rate is not None
    z, p = proportions_ztest([2, 2], [5, 7])  # low: fan-1, fan-3; high: fan-3, fan-8
    assert first.conversion_rate.z == pytest.approx(-z)
    assert first.conversion_rate.p_value == pytest.approx(p)

    revenue_a = [0, 10, 0, 10, 0]
    revenue_b = [10, 0, 0, 0, 0, 7, 0]
    expected_rev = scipy_stats.ttest_ind(revenue_b, revenue_a, equal_var=False)
    assert first.revenue_per_member is not None
    assert first.revenue_per_member.p_value == pytest.approx(expected_rev.pvalue)

    raw = [pair.engagement.p_value for pair in result.pairs if pair.engagement is not None]
    adjusted = [pair.engagement.p_value_adjusted for pair in result.pairs if pair.engagement]
    assert adjusted == pytest.approx(adjust_pvalues(np.array(raw), "holm").tolist())
    assert first.engagement.significant == (first.engagement.p_value_adjusted < 0.05)


def test_compare_needs_two_to_ten_known_segments(ws: Any) -> None:
    """compare_segments validates its list and scopes every id."""
    one = ws.segments.create_segment(name="One", criteria="engagement > 1")
    with pytest.raises(ValidationError):
        ws.segments.compare_segments([one.id])
    with pytest.raises(ValidationError):
        ws.segments.compare_segments([one.id, one.id])
    with pytest.raises(NotFoundError):
        ws.segments.compare_segments([one.id, "segment-nope"])


# -- scoping and roles ---------------------------------------------------------------------


def test_other_accounts_see_nothing(ws: Any, core: CampaignCore) -> None:
    """Another account's segments are not found, and its fans and segments never count."""
    segment = ws.segments.create_segment(name="Mine", criteria="engagement >= 0")
    other = core.for_actor(Actor("owner-2"))
    other.fans.upsert_fan("fan-0", engagement=500)
    for call in (
        lambda: other.segments.get_segment(segment.id),
        lambda: other.segments.update_segment(segment.id, name="x"),
        lambda: other.segments.delete_segment(segment.id),
        lambda: other.segments.refresh_segment(segment.id),
        lambda: other.segments.get_segment_members(segment.id),
        lambda: other.segments.get_segment_performance(segment.id),
        lambda: other.segments.add_fan_to_segment("fan-0", segment.id),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert other.segments.list_segments().total == 0
    assert other.segments.calculate_segment_size("engagement >= 0") == 1
    assert ws.segments.calculate_segment_size("engagement >= 0") == 10
    with pytest.raises(ValidationError) as caught:
        other.segments.calculate_segment_size({"in_segment": segment.id})
    assert caught.value.problems[0].code == "not_found"
    assert caught.value.problems[0].path == "criteria.root.in_segment"


def test_team_roles(ws: Any, core: CampaignCore) -> None:
    """Viewers read, editors write but may not delete, admins delete."""
    segment = ws.segments.create_segment(name="S", criteria="engagement > 1")
    viewer = core.for_actor(Actor("v", role="viewer", account_id="owner-1"))
    editor = core.for_actor(Actor("e", role="editor", account_id="owner-1"))
    admin = core.for_actor(Actor("a", role="admin", account_id="owner-1"))
    assert viewer.segments.get_segment(segment.id).id == segment.id
    assert viewer.segments.calculate_segment_size("engagement > 1") == 9
    for call in (
        lambda: viewer.segments.create_segment(name="x", criteria="engagement > 1"),
        lambda: viewer.segments.refresh_segment(segment.id),
        lambda: viewer.segments.delete_segment(segment.id),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    editor.segments.update_segment(segment.id, name="renamed")
    with pytest.raises(PermissionDeniedError):
        editor.segments.delete_segment(segment.id)
    admin.segments.delete_segment(segment.id)


def test_delete_refuses_segments_in_use(ws: Any) -> None:
    """A segment referenced by another segment or a live campaign cannot be deleted."""
    base = ws.segments.create_segment(name="Base", criteria="engagement > 1")
    ws.segments.create_segment(name="Uses it", criteria={"in_segment": base.id})
    with pytest.raises(ConflictError):
        ws.segments.delete_segment(base.id)
    target = ws.segments.create_segment(name="Target", type="static")
    ws.campaigns.create_campaign(name="C", type="promotion", segment_ids=[target.id])
    with pytest.raises(ConflictError) as caught:
        ws.segments.delete_segment(target.id)
    assert "campaign" in str(caught.value)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "path", "code"),
    [
        ({"engagement": ">lots"}, "criteria.engagement", "invalid_type"),
        ({"spendingLevel": "platinum"}, "criteria.spendingLevel", "invalid_value"),
        (
            [{"field": "engagement", "operator": "roughly", "value": 5}],
            "criteria[0].operator",
            "unknown_operator",
        ),
        ({"field": "time_zone", "op": "gt", "value": "a"}, "criteria.op", "operator_type_mismatch"),
        (
            {"field": "time_zone", "op": "regex", "value": "(a+)+$"},
            "criteria.value",
            "unsafe_regex",
        ),
        (
            {"field": "engagement; DROP TABLE fans", "op": "eq", "value": 1},
            "criteria.field",
            "unknown_field",
        ),
        ({"nickname": "x"}, "criteria.nickname", "unknown_field"),
        ("engagement >", "criteria", "syntax_error"),
        (
            {"field": "engagement", "op": "eq", "value": float("nan")},
            "criteria.value",
            "not_finite",
        ),
    ],
)
def test_bad_criteria_are_rejected_with_their_path(
    ws: Any, core: CampaignCore, criteria: Any, path: str, code: str
) -> None:
    """Malformed shorthand, unknown operators, type mismatches, injections: typed error, no write."""
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as caught:
        ws.segments.create_segment(name="Bad", criteria=criteria)
    assert (caught.value.problems[0].path, caught.value.problems[0].code) == (path, code)
    with pytest.raises(ValidationError):
        ws.segments.calculate_segment_size(criteria)
    assert snapshot(core.store) == before


def test_injection_in_values_is_stored_as_text(ws: Any) -> None:
    """A value that looks like SQL is only ever a value."""
    hostile = "'; DROP TABLE fans; --"
    segment = ws.segments.create_segment(name=hostile, criteria={"favoriteGame": hostile})
    assert segment.member_count == 0
    assert ws.segments.get_segment(segment.id).name == hostile
    assert ws.segments.calculate_segment_size("engagement >= 0") == 10


def test_segment_cycles_are_rejected(ws: Any, core: CampaignCore) -> None:
    """A reference chain coming back to the segment is refused at the in_segment node."""
    a = ws.segments.create_segment(name="A", criteria="engagement > 1")
    b = ws.segments.create_segment(name="B", criteria={"in_segment": a.id})
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as caught:
        ws.segments.update_segment(a.id, criteria={"any": ["engagement > 5", {"in_segment": b.id}]})
    problem = caught.value.problems[0]
    assert (problem.path, problem.code) == ("criteria.root.any[1].in_segment", "segment_cycle")
    assert a.id in problem.message
    assert b.id in problem.message
    with pytest.raises(ValidationError) as own:
        ws.segments.update_segment(a.id, criteria={"in_segment": a.id})
    assert own.value.problems[0].code == "segment_cycle"
    assert snapshot(core.store) == before


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"name": "", "criteria": "engagement > 1"}, {"name"}),
        ({"name": "x"}, {"criteria"}),
        ({"name": "x", "type": "static", "criteria": "engagement > 1"}, {"criteria"}),
        ({"name": "x", "type": "weekly", "criteria": "engagement > 1"}, {"type"}),
        ({"name": "x", "criteria": "engagement > 1", "fan_ids": ["fan-1"]}, {"fan_ids"}),
        ({"name": "x", "type": "static", "fan_ids": ["fan-1", "nobody"]}, {"fan_ids[1]"}),
        ({"name": "x", "type": "static", "fan_ids": "fan-1"}, {"fan_ids"}),
        ({"name": "x", "criteria": "engagement > 1", "color": "red"}, {"color"}),
    ],
)
def test_bad_segment_fields(
    ws: Any, core: CampaignCore, kwargs: dict[str, Any], bad: set[str]
) -> None:
    """Every bad field is reported with its path and nothing is stored."""
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as caught:
        ws.segments.create_segment(**kwargs)
    assert paths(caught.value) == bad
    assert snapshot(core.store) == before


def test_exclusions_are_bounded(ws: Any, core: CampaignCore) -> None:
    """A hybrid segment refuses to exclude more than MAX_EXCLUSIONS fans."""
    segment = ws.segments.create_segment(name="H", type="hybrid", criteria="engagement > 1")
    with core.store.unit_of_work() as uow:
        stored = uow.segments.get(segment.id)
        assert stored is not None
        crowded = dict(stored.criteria)
        crowded[EXCLUDE_KEY] = [f"x{i}" for i in range(MAX_EXCLUSIONS)]
        uow.segments.update(attrs.evolve(stored, criteria=crowded, version=stored.version + 1))
        uow.commit()
    with pytest.raises(ConflictError):
        ws.segments.remove_fan_from_segment("fan-2", segment.id)
    assert "fan-2" in member_ids(ws, segment.id)


def test_daily_refresh_skips_a_segment_that_cannot_refresh(
    ws: Any, core: CampaignCore, local_store: Any, core_factory: Any, caplog: Any
) -> None:
    """A segment whose criteria use a trait no longer declared is logged and skipped."""
    games = ws.segments.create_segment(name="Go players", criteria="favoriteGame = 'go'")
    engaged = ws.segments.create_segment(name="Engaged", criteria="engagement > 50")
    later = core_factory(local_store, settings=Settings(fan_traits={"tags": "string_list"}))
    with caplog.at_level("WARNING", logger="campaign_core.segments"):
        done = refresh_due_segments(later.runtime, now=T0 + timedelta(days=2))
    assert done == [engaged.id]
    assert games.id in caplog.text


def test_traits_criteria_cannot_address_are_left_out(local_store: Any, core_factory: Any) -> None:
    """A declared trait named like '_internal' is not a criteria field; the rest work."""
    core = core_factory(
        local_store, settings=Settings(fan_traits={"_internal": "string", "tier": "number"})
    )
    ws = core.for_actor(Actor("owner-1"))
    ws.fans.upsert_fan("fan-1", traits={"_internal": "x", "tier": 2})
    assert ws.segments.calculate_segment_size("tier >= 2") == 1
    with pytest.raises(ValidationError) as caught:
        ws.segments.calculate_segment_size({"_internal": "x"})
    assert caught.value.problems[0].code == "unknown_field"


def test_sql_store_sizes_segments_in_the_database() -> None:
    """Through the auditing unit of work, the SQL store's audience capability is used."""
    from campaign_core import FakeClock
    from campaign_core.audience import audience_for
    from campaign_core_sqlalchemy import SqlAlchemyStore

    core = CampaignCore(SqlAlchemyStore("sqlite://", create=True), clock=FakeClock())
    with core.runtime.transaction() as tx:
        assert type(audience_for(tx.uow)).__name__ == "SqlAlchemyAudience"
