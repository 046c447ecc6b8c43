"""The analytics service: tracking, attribution, metrics, comparisons, trends, insights, reports, roll-ups."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    SequentialIds,
    ValidationError,
)
from campaign_core.alerts import AlertKind
from campaign_core.analytics import (
    DataQualityFlag,
    EventBatch,
    PrivacyViolationError,
    assert_no_fan_ids,
    compute_metrics,
    parse_report_csv,
)
from campaign_core.models import Fan, Segment, SegmentMember
from campaign_core.ports import Store
from campaign_core.query import Eq
from campaign_core.serialization import to_json
from campaign_core.services.analytics._input import MAX_TRACKING_BATCH
from campaign_core.testing.helpers import snapshot
from tests.conftest import ALL_BACKENDS, LOCAL_BACKENDS, backend_params, make_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def paths(error: ValidationError) -> set[str]:
    return {p.path for p in error.problems}


def launched(
    ws: Any,
    *,
    platforms: tuple[str, ...] = ("instagram", "tiktok"),
    name: str = "Spring",
    type: str = "ppv",
    budget: float | None = None,
    price: float = 20,
) -> Any:
    """A campaign of the workspace's account, launched (so it can be tracked)."""
    c = ws.campaigns.create_campaign(
        name=name,
        type=type,
        platforms=list(platforms),
        content={"title": name, "price": price},
        media_urls=["https://cdn.example/a.jpg"],
        budget=budget,
    )
    ws.campaigns.launch_campaign(c.id)
    return ws.campaigns.get_campaign(c.id)


def tracking_rows(store: Store) -> list[Any]:
    with store.unit_of_work() as uow:
        return list(uow.tracking_events.iter_all())


@pytest.fixture
def ws(core: CampaignCore, owner: Actor, clock: FakeClock) -> Any:
    workspace = core.for_actor(owner)
    return workspace


# ---------------------------------------------------------------------- definitions, by hand


def test_hand_computed_metrics_per_platform_and_variant(core: CampaignCore, ws: Any) -> None:
    """A small case computed by hand: totals, per platform and per variant follow the definitions."""
    c = launched(ws)
    test = ws.campaigns.create_ab_test(
        c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    a, b = test.variant("A").id, test.variant("B").id
    core.clock.advance("1 hour")  # type: ignore[attr-defined]
    an = ws.analytics
    an.track_impression(c.id, "fan-1", platform="instagram", variant_id=a, occurred_at=at(1))
    an.track_impression(c.id, "fan-1", platform="instagram", variant_id=a, occurred_at=at(2))
    an.track_impression(c.id, "fan-2", platform="tiktok", variant_id=b, occurred_at=at(3))
    an.track_impression(c.id, "fan-1", platform="tiktok", variant_id=b, occurred_at=at(4))
    an.track_impression(c.id, None, platform="tiktok", variant_id=b, occurred_at=at(5))
    an.track_click(c.id, "fan-1", platform="instagram", variant_id=a, occurred_at=at(6))
    an.track_click(c.id, "fan-2", platform="tiktok", variant_id=b, occurred_at=at(7))
    receipt = an.track_conversion(c.id, "fan-2", 30.0, variant_id=b, occurred_at=at(10))
    an.track_spend(c.id, 5.0, platform="instagram", occurred_at=at(11))
    an.track_spend(c.id, 15.0, platform="tiktok", occurred_at=at(11))

    m = an.get_campaign_metrics(c.id)
    t = m.totals
    assert (t.impressions, t.reach, t.clicks, t.conversions) == (5, 2, 2, 1)
    assert (t.revenue, t.spent) == (30.0, 20.0)
    assert (t.ctr, t.conversion_rate, t.roi, t.cpa) == (0.4, 0.5, 0.5, 20.0)
    ig, tk = m.platform("instagram"), m.platform("tiktok")
    assert ig is not None
    assert tk is not None
    assert (ig.impressions, ig.reach, ig.clicks, ig.conversions, ig.spent) == (2, 1, 1, 0, 5.0)
    assert (tk.impressions, tk.reach, tk.clicks, tk.conversions, tk.spent) == (3, 2, 1, 1, 15.0)
    assert ig.roi == -1.0
    assert tk.roi == 1.0
    assert ig.cpa is None
    va, vb = m.variant(a), m.variant(b)
    assert va is not None
    assert vb is not None
    assert (va.impressions, va.reach, vb.impressions, vb.reach) == (2, 1, 3, 2)
    assert m.variant(None) is not None
    assert m.variant(None).spent == 20.0
    # the conversion took its click's platform and was credited to it
    assert receipt.platform == "tiktok"
    assert (receipt.clicked_at, receipt.time_to_convert) == (at(7), 180)
    assert m.first_event_at == at(1)
    assert m.last_event_at == at(11)


def test_zero_denominators_are_none_and_the_funnel_and_roi_follow(ws: Any) -> None:
    """Without impressions, clicks, conversions or spend the rates are None, never NaN."""
    c = launched(ws)
    m = ws.analytics.get_campaign_metrics(c.id)
    assert (m.totals.ctr, m.totals.conversion_rate, m.totals.roi, m.totals.cpa) == (None,) * 4
    assert m.totals.reach == 0
    funnel = ws.analytics.get_conversion_funnel(c.id)
    assert [s.count for s in funnel.steps] == [0, 0, 0]
    assert funnel.overall_rate is None
    roi = ws.analytics.get_campaign_roi(c.id)
    assert (roi.roi, roi.roas, roi.cpa, roi.profitable) == (None, None, None, False)


def test_funnel_roi_and_pacing(ws: Any, clock: FakeClock) -> None:
    """The funnel's step rates and drop-offs, the ROI view and budget pacing from tracked data."""
    c = launched(ws, budget=1000.0)
    clock.advance("2 days")
    ws.analytics.track_events(
        [{"kind": "impression", "campaignId": c.id, "fanId": f"f{i}"} for i in range(100)]
        + [
            {"kind": "click", "campaignId": c.id, "fanId": f"f{i}", "platform": "instagram"}
            for i in range(20)
        ]
        + [
            {"kind": "conversion", "campaignId": c.id, "fanId": f"f{i}", "value": 25.0}
            for i in range(5)
        ]
        + [{"kind": "spend", "campaignId": c.id, "value": 50.0, "platform": "tiktok"}]
    )
    funnel = ws.analytics.get_conversion_funnel(c.id)
    assert [(s.name, s.count) for s in funnel.steps] == [
        ("impressions", 100),
        ("clicks", 20),
        ("conversions", 5),
    ]
    assert funnel.steps[1].rate_from_previous == 0.2
    assert funnel.steps[1].drop_off == 80
    assert funnel.steps[2].rate_from_previous == 0.25
    assert funnel.steps[2].drop_off_rate == 0.75
    assert funnel.overall_rate == 0.05
    assert funnel.reach == 100
    roi = ws.analytics.get_campaign_roi(c.id)
    assert (roi.revenue, roi.spent, roi.profit, roi.roi, roi.roas) == (125.0, 50.0, 75.0, 1.5, 2.5)
    assert roi.budget == 1000.0
    assert roi.budget_remaining == 950.0
    pacing = ws.analytics.get_budget_pacing(c.id)
    assert (pacing.spent, pacing.overspend_ratio, pacing.exhausted) == (50.0, 0.05, False)
    assert pacing.spend_rate_per_day == pytest.approx(25.0)
    tiktok = ws.analytics.get_conversion_funnel(c.id, platform="tiktok")
    assert [s.count for s in tiktok.steps] == [0, 0, 0]


# ---------------------------------------------------------------------- definitions, by hypothesis


@pytest.fixture(scope="module", params=backend_params(LOCAL_BACKENDS))
def shared_core(request: pytest.FixtureRequest) -> Iterator[CampaignCore]:
    """One core per backend for the property tests (each example uses a new campaign)."""
    store = make_store(request.param)
    core = CampaignCore(store, clock=FakeClock(T0 + timedelta(days=11)), ids=SequentialIds())
    yield core
    store.close()


PLATFORMS = ("instagram", "tiktok", "reddit")


@st.composite
def service_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random valid tracking input: fans on clicks and conversions, none on spend."""
    out = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(("impression", "impression", "click", "conversion", "spend")))
        event: dict[str, Any] = {
            "kind": kind,
            "occurredAt": T0 + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60))),
            "platform": draw(
                st.sampled_from((*PLATFORMS, None) if kind != "conversion" else PLATFORMS)
            ),
            "variantId": draw(st.sampled_from(("A", "B", None))),
        }
        if kind in ("click", "conversion"):
            event["fanId"] = draw(st.sampled_from(("f1", "f2", "f3", "f4")))
        elif kind == "impression":
            event["fanId"] = draw(st.sampled_from(("f1", "f2", "f3", "f4", None)))
        if kind in ("conversion", "spend"):
            low = 0.0 if kind == "conversion" else 0.01
            event["value"] = round(draw(st.floats(low, 500.0)), 2)
        out.append(event)
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=service_events())
def test_metrics_match_the_definitions_and_the_pure_computation(
    shared_core: CampaignCore, events: list[dict[str, Any]]
) -> None:
    """Through the service: totals are the sum of the parts, rates are in range, and the numbers
    equal the pure computation over the same events."""
    ws = shared_core.for_actor(Actor("prop-owner"))
    clock = shared_core.clock
    assert isinstance(clock, FakeClock)
    now = clock.now()
    clock.set(T0)  # launched before every event, then tracked 11 days later
    c = launched(ws, platforms=PLATFORMS)
    clock.set(now)
    test = ws.campaigns.create_ab_test(
        c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    ids = {"A": test.variant("A").id, "B": test.variant("B").id, None: None}
    rows = [{**e, "campaignId": c.id, "variantId": ids[e["variantId"]]} for e in events]
    ws.analytics.track_events(rows)
    m = ws.analytics.get_campaign_metrics(c.id)
    oracle = compute_metrics(
        EventBatch.from_events(
            [
                {k: v for k, v in r.items() if k != "campaignId"} | {"fanId": r.get("fanId")}
                for r in rows
            ]
        ),
        campaign_id=c.id,
    )
    t = m.totals
    for name in ("impressions", "clicks", "conversions", "reach"):
        assert getattr(t, name) == (getattr(oracle.totals, name) or 0)
    for name in ("revenue", "spent"):
        assert getattr(t, name) == pytest.approx(getattr(oracle.totals, name), abs=1e-6)
    for parts in (m.by_platform, m.by_variant):
        for name in ("impressions", "clicks", "conversions"):
            assert getattr(t, name) == sum(getattr(p.metrics, name) for p in parts)
        for name in ("revenue", "spent"):
            assert getattr(t, name) == pytest.approx(
                math.fsum(getattr(p.metrics, name) for p in parts), abs=1e-6
            )
        reaches = [p.metrics.reach or 0 for p in parts]
        assert max(reaches, default=0) <= (t.reach or 0) <= sum(reaches)
    assert {p.platform for p in m.by_platform} == {p.platform for p in oracle.by_platform}
    for group in (t, *(p.metrics for p in m.by_platform), *(v.metrics for v in m.by_variant)):
        assert (group.ctr is None) == (group.impressions == 0)
        assert (group.conversion_rate is None) == (group.clicks == 0)
        assert (group.roi is None) == (group.spent == 0)
        assert (group.cpa is None) == (group.conversions == 0)
        if DataQualityFlag.CLICKS_EXCEED_IMPRESSIONS not in group.flags and group.ctr is not None:
            assert 0.0 <= group.ctr <= 1.0
        if group.roi is not None:
            assert group.roi >= -1.0
        assert group.reach is None or group.reach <= group.impressions
    json.dumps(to_json(m), allow_nan=False)


# ---------------------------------------------------------------------- attribution


def test_conversion_is_credited_to_the_fans_last_click_on_the_campaign(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Last click at or before the conversion, same fan and campaign, within 30 days."""
    c = launched(ws, platforms=("instagram", "tiktok"))
    other = launched(ws, name="Other")
    clock.advance("40 days")
    now = clock.now()
    an = ws.analytics
    an.track_click(c.id, "fan-1", platform="instagram", occurred_at=now - timedelta(days=35))
    an.track_click(c.id, "fan-1", platform="tiktok", occurred_at=now - timedelta(hours=3))
    an.track_click(other.id, "fan-1", platform="instagram", occurred_at=now - timedelta(hours=1))
    an.track_click(c.id, "fan-2", platform="instagram", occurred_at=now - timedelta(hours=1))
    late = an.track_conversion(c.id, "fan-1", 10.0, occurred_at=now - timedelta(hours=2))
    assert late.clicked_at == now - timedelta(hours=3)
    assert late.time_to_convert == 3600
    assert late.platform == "tiktok"
    # a click after the conversion does not count; one older than 30 days neither
    an.track_click(c.id, "fan-3", platform="instagram", occurred_at=now)
    early = an.track_conversion(
        c.id, "fan-3", 5.0, platform="reddit", occurred_at=now - timedelta(minutes=1)
    )
    assert (early.clicked_at, early.time_to_convert, early.platform) == (None, None, "reddit")
    with core.store.unit_of_work() as uow:
        rows = {r.id: r for r in uow.campaign_conversions.find(Eq("campaign_id", c.id))}
    assert rows[late.conversion_id].clicked_at == now - timedelta(hours=3)
    assert rows[late.conversion_id].time_to_convert == 3600
    assert rows[late.conversion_id].fan_id == "fan-1"
    assert rows[late.conversion_id].type == "purchase"
    assert rows[early.conversion_id].clicked_at is None


def test_batch_attribution_uses_batch_and_stored_clicks(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """In a batch, conversions find their click in the batch or among the stored ones."""
    c = launched(ws, platforms=("instagram", "tiktok"))
    clock.advance("1 day")
    now = clock.now()
    ws.analytics.track_click(
        c.id, "stored", platform="instagram", occurred_at=now - timedelta(hours=5)
    )
    report = ws.analytics.track_events(
        [
            {
                "kind": "conversion",
                "campaignId": c.id,
                "fanId": "stored",
                "value": 1.0,
                "occurredAt": now - timedelta(hours=4),
            },
            {
                "kind": "click",
                "campaignId": c.id,
                "fanId": "batch",
                "platform": "tiktok",
                "occurredAt": now - timedelta(minutes=30),
            },
            {
                "kind": "conversion",
                "campaignId": c.id,
                "fanId": "batch",
                "value": 2.0,
                "occurredAt": now - timedelta(minutes=20),
            },
            {
                "kind": "conversion",
                "campaignId": c.id,
                "fanId": "nobody",
                "value": 3.0,
                "platform": "instagram",
                "occurredAt": now - timedelta(minutes=10),
            },
        ]
    )
    assert (report.received, report.conversions, report.attributed_conversions) == (4, 3, 2)
    with core.store.unit_of_work() as uow:
        rows = {r.fan_id: r for r in uow.campaign_conversions.find(Eq("campaign_id", c.id))}
    assert (rows["stored"].time_to_convert, rows["stored"].platform) == (3600, "instagram")
    assert (rows["batch"].time_to_convert, rows["batch"].platform) == (600, "tiktok")
    assert rows["nobody"].clicked_at is None
    assert rows["nobody"].platform == "instagram"


def test_conversion_platform_must_be_known(ws: Any, clock: FakeClock) -> None:
    """Without a platform, a click's or the campaign's only platform is used; else it is an error."""
    multi = launched(ws, platforms=("instagram", "tiktok"))
    single = launched(ws, platforms=("reddit",), name="Solo")
    clock.advance("1 hour")
    assert ws.analytics.track_conversion(single.id, "f", 1.0).platform == "reddit"
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_conversion(multi.id, "f", 1.0)
    assert paths(caught.value) == {"platform"}


# ---------------------------------------------------------------------- spend and budgets


def test_spend_goes_through_the_budget_rule_and_the_overspend_alarm_fires_once(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Reaching the budget pauses (record_spend's rule); passing 110 % alerts once per budget."""
    c = launched(ws, budget=100.0)
    clock.advance("1 hour")
    an = ws.analytics
    assert an.track_spend(c.id, 60.0, platform="instagram").status == "active"
    paused = an.track_spend(c.id, 40.0, platform="tiktok")
    assert (paused.status, paused.paused_reason, paused.spent) == (
        "paused",
        "budget_exhausted",
        100.0,
    )
    assert len(core.alerter.of_kind(AlertKind.BUDGET_EXHAUSTED)) == 1  # type: ignore[attr-defined]
    an.track_spend(c.id, 5.0)  # 105 %: no alarm yet
    assert core.alerter.of_kind(AlertKind.BUDGET_OVERSPEND) == []  # type: ignore[attr-defined]
    an.track_spend(c.id, 10.0)  # 115 %
    an.track_events([{"kind": "spend", "campaignId": c.id, "value": 10.0}])  # 125 %
    alarms = core.alerter.of_kind(AlertKind.BUDGET_OVERSPEND)  # type: ignore[attr-defined]
    assert len(alarms) == 1
    assert alarms[0].entity_id == c.id
    assert alarms[0].data["overspendRatio"] == pytest.approx(1.15)
    # a new budget re-arms the alarm
    ws.campaigns.update_campaign(c.id, budget=110.0)
    an.track_spend(c.id, 1.0)
    assert len(core.alerter.of_kind(AlertKind.BUDGET_OVERSPEND)) == 2  # type: ignore[attr-defined]
    m = an.get_campaign_metrics(c.id)
    assert m.totals.spent == pytest.approx(126.0)
    assert m.platform("instagram").spent == 60.0  # type: ignore[union-attr]


def test_spend_recorded_outside_tracking_is_unattributed_but_counted(
    ws: Any, clock: FakeClock
) -> None:
    """campaigns.record_spend has no platform or time: it shows in the unattributed group."""
    c = launched(ws)
    clock.advance("1 hour")
    ws.analytics.track_spend(c.id, 10.0, platform="instagram")
    ws.campaigns.record_spend(c.id, 30.0)
    m = ws.analytics.get_campaign_metrics(c.id)
    assert m.totals.spent == 40.0
    assert m.platform(None).spent == 30.0  # type: ignore[union-attr]
    assert m.platform("instagram").spent == 10.0  # type: ignore[union-attr]


def test_a_spend_batch_is_atomic_with_the_budget_rule(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """A bad event anywhere in a batch leaves spend, budget state and events untouched."""
    c = launched(ws, budget=10.0)
    clock.advance("1 hour")
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events(
            [
                {"kind": "spend", "campaignId": c.id, "value": 50.0},
                {"kind": "click", "campaignId": c.id},
            ]
        )
    assert paths(caught.value) == {"events[1].fanId"}
    assert snapshot(core.store) == before


# ---------------------------------------------------------------------- A/B tests


def test_tracking_with_a_variant_feeds_the_ab_counters(ws: Any, clock: FakeClock) -> None:
    """Impressions, clicks, conversions, revenue and its sum of squares reach the variant."""
    c = launched(ws)
    test = ws.campaigns.create_ab_test(
        c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    b = test.variant("B").id
    clock.advance("1 hour")
    an = ws.analytics
    an.track_impression(c.id, "f1", variant_id=b, platform="instagram")
    an.track_events(
        [
            {"kind": "impression", "campaignId": c.id, "fanId": "f2", "variantId": b},
            {
                "kind": "click",
                "campaignId": c.id,
                "fanId": "f2",
                "variantId": b,
                "platform": "tiktok",
            },
            {"kind": "conversion", "campaignId": c.id, "fanId": "f2", "variantId": b, "value": 3.0},
            {"kind": "conversion", "campaignId": c.id, "fanId": "f2", "variantId": b, "value": 4.0},
        ]
    )
    variant = ws.campaigns.get_ab_test(test.id).variant("B")
    assert (variant.impressions, variant.clicks, variant.conversions) == (2, 1, 2)
    assert (variant.revenue, variant.revenue_sum_squares) == (7.0, 25.0)
    assert ws.campaigns.get_ab_test(test.id).variant("A").impressions == 0
    # once the test is over its counters stay as decided; the events are still tracked
    ws.campaigns.cancel_ab_test(test.id)
    an.track_impression(c.id, "f3", variant_id=b)
    assert ws.campaigns.get_ab_test(test.id).variant("B").impressions == 2
    assert ws.analytics.get_campaign_metrics(c.id).variant(b).impressions == 3  # type: ignore[union-attr]


def test_a_variant_of_another_campaign_is_refused(ws: Any, clock: FakeClock) -> None:
    """Variants must belong to a test of the tracked campaign."""
    c = launched(ws)
    other = launched(ws, name="Other")
    test = ws.campaigns.create_ab_test(
        other.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_impression(c.id, variant_id=test.variant("A").id)
    assert paths(caught.value) == {"variant_id"}
    with pytest.raises(NotFoundError):
        ws.analytics.track_impression(c.id, variant_id="no-such-variant")
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events(
            [{"kind": "impression", "campaignId": c.id, "variantId": test.variant("B").id}]
        )
    assert paths(caught.value) == {"events[0].variantId"}


# ---------------------------------------------------------------------- bad input, scope, roles


@pytest.mark.parametrize(
    ("call", "bad_path"),
    [
        (lambda an, c: an.track_click(c, None), "fan_id"),
        (lambda an, c: an.track_click(c, ""), "fan_id"),
        (lambda an, c: an.track_click(c, 42), "fan_id"),
        (lambda an, c: an.track_impression(c, platform="myspace"), "platform"),
        (lambda an, c: an.track_impression(c, occurred_at=datetime(2026, 1, 1)), "occurred_at"),  # noqa: DTZ001
        (lambda an, c: an.track_impression(c, occurred_at="yesterday"), "occurred_at"),
        (lambda an, c: an.track_impression(c, occurred_at=T0 + timedelta(days=3)), "occurred_at"),
        (
            lambda an, c: an.track_impression(c, occurred_at=datetime(1999, 1, 1, tzinfo=UTC)),
            "occurred_at",
        ),
        (lambda an, c: an.track_conversion(c, "f", float("nan"), platform="tiktok"), "value"),
        (lambda an, c: an.track_conversion(c, "f", float("inf"), platform="tiktok"), "value"),
        (lambda an, c: an.track_conversion(c, "f", -1, platform="tiktok"), "value"),
        (lambda an, c: an.track_conversion(c, "f", 1e13, platform="tiktok"), "value"),
        (lambda an, c: an.track_conversion(c, "f", True, platform="tiktok"), "value"),
        (lambda an, c: an.track_conversion(c, "f", 1, type="refund", platform="tiktok"), "type"),
        (lambda an, c: an.track_spend(c, 0), "amount"),
        (lambda an, c: an.track_spend(c, float("nan")), "amount"),
        (lambda an, c: an.track_impression(c, "bad id with spaces"), "fan_id"),
        (lambda an, c: an.track_impression(5), "campaign_id"),
    ],
)
def test_bad_tracking_input_is_refused_with_its_path_and_nothing_is_stored(
    core: CampaignCore, ws: Any, call: Any, bad_path: str
) -> None:
    """Each bad argument raises a ValidationError naming it; the store is unchanged."""
    c = launched(ws)
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as caught:
        call(ws.analytics, c.id)
    assert bad_path in paths(caught.value)
    assert snapshot(core.store) == before


def test_bad_batches_report_every_row_and_store_nothing(core: CampaignCore, ws: Any) -> None:
    """Batch problems carry paths like events[42].kind, for every bad row; nothing is stored."""
    c = launched(ws)
    good = {"kind": "impression", "campaignId": c.id}
    before = snapshot(core.store)
    bad = [
        good,
        {"kind": "view", "campaignId": c.id},
        {"kind": "click", "campaignId": c.id},
        {"kind": "impression", "campaignId": c.id, "colour": "red"},
        {"kind": "conversion", "campaignId": c.id, "fanId": "f", "platform": "tiktok"},
        {"kind": "impression"},
        "not an event",
        {"kind": "impression", "campaignId": c.id, "value": 3},
        {"kind": "spend", "campaignId": c.id, "value": 2, "fanId": "f"},
        {"kind": "impression", "campaignId": c.id, "type": "purchase"},
        {"kind": "conversion", "campaignId": c.id, "fanId": "f", "value": float("nan")},
        {"kind": "impression", "campaign_id": c.id, "occurred_at": "2026-13-01T00:00:00Z"},
        {"kind": "impression", "campaignId": c.id, "campaign_id": c.id},
        {"kind": "impression", "campaignId": c.id, "platform": "myspace"},
        {"kind": "impression", "campaignId": c.id, "fanId": "no spaces allowed"},
    ]
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events(bad)
    assert paths(caught.value) == {
        "events[1].kind",
        "events[2].fanId",
        "events[3].colour",
        "events[4].value",
        "events[5].campaignId",
        "events[6]",
        "events[7].value",
        "events[8].fanId",
        "events[9].type",
        "events[10].value",
        "events[11].occurredAt",
        "events[12].campaign_id",
        "events[13].platform",
        "events[14].fanId",
    }
    assert snapshot(core.store) == before
    # references are checked next: unknown campaigns, by row
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events([good, {"kind": "impression", "campaignId": "nope"}])
    assert paths(caught.value) == {"events[1].campaignId"}
    for not_a_batch in ("events", {"kind": "impression"}, 5, None):
        with pytest.raises(ValidationError) as caught:
            ws.analytics.track_events(not_a_batch)
        assert paths(caught.value) == {"events"}
    assert ws.analytics.track_events([]).received == 0
    assert snapshot(core.store) == before


def test_events_must_fit_their_campaign(core: CampaignCore, ws: Any, clock: FakeClock) -> None:
    """Not before the launch (5 minutes of clock skew allowed); impressions and clicks only on
    the campaign's platforms (a conversion may happen elsewhere, such as OnlyFans)."""
    clock.advance("1 hour")
    c = launched(ws, platforms=("instagram", "tiktok"))
    launch = clock.now()
    clock.advance("1 hour")
    before = snapshot(core.store)
    an = ws.analytics
    with pytest.raises(ValidationError) as single:
        an.track_impression(c.id, "f", occurred_at=launch - timedelta(minutes=6))
    assert paths(single.value) == {"occurred_at"}
    with pytest.raises(ValidationError) as elsewhere:
        an.track_click(c.id, "f", platform="reddit")
    assert paths(elsewhere.value) == {"platform"}
    assert "does not run on 'reddit'" in str(elsewhere.value)
    with pytest.raises(ValidationError) as batch:
        an.track_events(
            [
                {"kind": "impression", "campaignId": c.id, "platform": "instagram"},
                {
                    "kind": "impression",
                    "campaignId": c.id,
                    "occurredAt": launch - timedelta(days=1),
                },
                {"kind": "click", "campaignId": c.id, "fanId": "f", "platform": "reddit"},
            ]
        )
    assert paths(batch.value) == {"events[1].occurredAt", "events[2].platform"}
    assert snapshot(core.store) == before
    an.track_impression(c.id, "f", occurred_at=launch - timedelta(minutes=4))  # clock skew
    an.track_click(c.id, "f", platform="tiktok")
    receipt = an.track_conversion(c.id, "f", 20.0, platform="onlyfans")
    assert receipt.platform == "onlyfans"
    assert ws.analytics.get_campaign_metrics(c.id).totals.conversions == 1


def test_many_bad_rows_are_reported_up_to_a_cap(ws: Any) -> None:
    """A batch with thousands of bad rows reports the first 20 of each problem."""
    c = launched(ws)
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events([{"kind": "click", "campaignId": c.id}] * 5000)
    assert len(caught.value.problems) == 20
    assert caught.value.problems[0].path == "events[0].fanId"


def test_a_batch_above_the_limit_is_refused(ws: Any) -> None:
    """More than MAX_TRACKING_BATCH events in one call is refused before any work."""
    c = launched(ws)
    event = {"kind": "impression", "campaignId": c.id}
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events([event] * (MAX_TRACKING_BATCH + 1))
    assert paths(caught.value) == {"events"}


def test_unknown_campaigns_in_a_batch_are_named_by_row(ws: Any) -> None:
    """A batch naming a campaign of another account reports the row, like a missing one."""
    c = launched(ws)
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events(
            [
                {"kind": "impression", "campaignId": c.id},
                {"kind": "impression", "campaignId": "x-1"},
            ]
        )
    assert paths(caught.value) == {"events[1].campaignId"}
    assert caught.value.problems[0].code == "not_found"


def test_other_accounts_campaigns_behave_like_missing_ones(core: CampaignCore, ws: Any) -> None:
    """Tracking or reading another account's campaign raises NotFoundError."""
    c = launched(ws)
    stranger = core.for_actor(Actor("someone-else")).analytics
    for call in (
        lambda: stranger.track_impression(c.id),
        lambda: stranger.track_click(c.id, "f"),
        lambda: stranger.track_spend(c.id, 1.0),
        lambda: stranger.get_campaign_metrics(c.id),
        lambda: stranger.get_campaign_roi(c.id),
        lambda: stranger.get_conversion_funnel(c.id),
        lambda: stranger.compare_platforms(c.id),
        lambda: stranger.generate_report(c.id),
        lambda: stranger.get_performance_trends("7d", campaign_id=c.id),
        lambda: stranger.get_budget_pacing(c.id),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(NotFoundError):
        ws.analytics.get_campaign_metrics("no-such-campaign")


def test_a_campaign_that_never_launched_cannot_be_tracked(ws: Any) -> None:
    """Drafts (and scheduled campaigns) have nothing to track yet."""
    draft = ws.campaigns.create_campaign(name="Draft", type="ppv")
    with pytest.raises(InvalidTransitionError):
        ws.analytics.track_impression(draft.id)
    with pytest.raises(ValidationError) as caught:
        ws.analytics.track_events([{"kind": "impression", "campaignId": draft.id}])
    assert caught.value.problems[0].code == "invalid_transition"


def test_roles_decide_who_tracks_spends_and_reads(core: CampaignCore, ws: Any) -> None:
    """Viewers read only; editors track but do not record spend; admins do both."""
    c = launched(ws)
    viewer = core.for_actor(Actor("v", role="viewer", account_id="owner-1")).analytics
    editor = core.for_actor(Actor("e", role="editor", account_id="owner-1")).analytics
    admin = core.for_actor(Actor("a", role="admin", account_id="owner-1")).analytics
    with pytest.raises(PermissionDeniedError):
        viewer.track_impression(c.id)
    with pytest.raises(PermissionDeniedError):
        viewer.track_events([{"kind": "impression", "campaignId": c.id}])
    assert viewer.get_campaign_metrics(c.id).totals.impressions == 0
    editor.track_impression(c.id)
    with pytest.raises(PermissionDeniedError):
        editor.track_spend(c.id, 1.0)
    with pytest.raises(PermissionDeniedError):
        editor.track_events([{"kind": "spend", "campaignId": c.id, "value": 1.0}])
    admin.track_spend(c.id, 1.0)
    assert viewer.get_campaign_metrics(c.id).totals.impressions == 1


def test_tracking_is_not_audited_but_spend_and_the_budget_pause_are(
    core: CampaignCore, ws: Any
) -> None:
    """Tracking tables are not audited; tracked spend and the pause it causes are, under its action."""
    c = launched(ws, budget=5.0)
    before = len(ws.audit.list_records(limit=1000))
    ws.analytics.track_impression(c.id, "f")
    assert len(ws.audit.list_records(limit=1000)) == before
    ws.analytics.track_spend(c.id, 5.0)
    records = ws.audit.list_records(action="analytics.track_spend")  # newest first
    assert [r.entity for r in records] == ["campaign", "campaign"]
    pause, spend = records
    assert (spend.before["spent"], spend.after["spent"]) == (0.0, 5.0)
    assert (pause.before["status"], pause.after["status"]) == ("active", "paused")


# ---------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("backend", backend_params(ALL_BACKENDS))
def test_concurrent_tracking_counts_exactly(backend: str) -> None:
    """Threads tracking the same campaign at once: every count, reach and A/B counter is exact."""
    store = make_store(backend)
    try:
        clock = FakeClock(T0)
        core = CampaignCore(store, clock=clock)
        ws = core.for_actor(Actor("owner-c"))
        c = launched(ws)
        test = ws.campaigns.create_ab_test(
            c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
        )
        b = test.variant("B").id
        threads, rounds = 6, 15
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads)

        def work(n: int) -> None:
            an = core.for_actor(Actor("owner-c")).analytics
            barrier.wait()
            try:
                for i in range(rounds):
                    fan = f"t{n}-f{i % 5}"
                    an.track_impression(c.id, fan, platform="instagram", variant_id=b)
                    an.track_click(c.id, fan, platform="instagram", variant_id=b)
                    an.track_conversion(c.id, fan, 2.5, variant_id=b)
                    an.track_events(
                        [
                            {
                                "kind": "impression",
                                "campaignId": c.id,
                                "fanId": fan,
                                "platform": "tiktok",
                            }
                        ]
                    )
            except BaseException as error:  # collected and asserted below
                errors.append(error)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        total = threads * rounds
        m = ws.analytics.get_campaign_metrics(c.id)
        assert (m.totals.impressions, m.totals.clicks, m.totals.conversions) == (
            2 * total,
            total,
            total,
        )
        assert m.totals.revenue == pytest.approx(2.5 * total)
        assert m.totals.reach == threads * 5
        assert m.platform("tiktok").reach == threads * 5  # type: ignore[union-attr]
        variant = ws.campaigns.get_ab_test(test.id).variant("B")
        assert (variant.impressions, variant.clicks, variant.conversions) == (total, total, total)
        assert variant.revenue == pytest.approx(2.5 * total)
        with store.unit_of_work() as uow:
            assert uow.campaign_conversions.count(Eq("campaign_id", c.id)) == total
            assert uow.campaign_analytics_state.count(Eq("campaign_id", c.id)) == 1
    finally:
        store.close()


# ---------------------------------------------------------------------- comparisons and insights


def test_compare_platforms_claims_only_significant_differences(ws: Any, clock: FakeClock) -> None:
    """A large, real CTR gap is significant; a small sample claims nothing."""
    c = launched(ws, platforms=("instagram", "tiktok"))
    small = launched(ws, platforms=("instagram", "tiktok"), name="Small")
    clock.advance("1 hour")
    events: list[dict[str, Any]] = []
    for platform, clicks in (("instagram", 300), ("tiktok", 100)):
        events += [{"kind": "impression", "campaignId": c.id, "platform": platform}] * 3000
        events += [
            {"kind": "click", "campaignId": c.id, "fanId": "f", "platform": platform}
        ] * clicks
    events += [{"kind": "impression", "campaignId": small.id, "platform": "instagram"}] * 20
    events += [{"kind": "impression", "campaignId": small.id, "platform": "tiktok"}] * 20
    events += [{"kind": "click", "campaignId": small.id, "fanId": "f", "platform": "tiktok"}] * 10
    ws.analytics.track_events(events)
    big = ws.analytics.compare_platforms(c.id)
    ctr = big.test("ctr", "instagram", "tiktok")
    assert ctr is not None
    assert ctr.outcome == "significant"
    assert ctr.better == "instagram"
    leader = next(lead for lead in big.leaders if lead.metric == "ctr")
    assert (leader.key, leader.claimed) == ("instagram", True)
    tiny = ws.analytics.compare_platforms(small.id).test("ctr", "instagram", "tiktok")
    assert tiny is not None
    assert tiny.outcome == "below_minimum_sample"
    assert tiny.better is None
    both = ws.analytics.compare_campaigns([c.id, small.id])
    assert [e.key for e in both.entries] == [c.id, small.id]
    with pytest.raises(ValidationError) as caught:
        ws.analytics.compare_campaigns([c.id, c.id])
    assert paths(caught.value) == {"campaign_ids[1]"}
    with pytest.raises(ValidationError):
        ws.analytics.compare_campaigns([c.id])
    with pytest.raises(NotFoundError):
        ws.analytics.compare_campaigns([c.id, "someone-elses"])
    with pytest.raises(ValidationError):
        ws.analytics.compare_platforms(c.id, alpha=2)


def test_trends_bucket_the_timeframe_and_compare_with_the_previous_period(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Daily buckets over 7 days, with the change against the 7 days before; snapshots agree."""
    c = launched(ws)
    clock.set(T0 + timedelta(days=14))
    events = []
    for day in range(14):
        n = 10 if day < 7 else 20
        events += [
            {
                "kind": "impression",
                "campaignId": c.id,
                "fanId": f"f{i}",
                "platform": "instagram",
                "occurredAt": T0 + timedelta(days=day, hours=12),
            }
            for i in range(n)
        ]
    ws.analytics.track_events(events)
    trend = ws.analytics.get_performance_trends("7d")
    assert trend.bucket == "day"
    assert len(trend.buckets) == 7
    assert [b.metrics.impressions for b in trend.buckets] == [20] * 7
    change = next(ch for ch in trend.changes if ch.metric == "impressions")
    assert (change.current, change.previous, change.relative) == (140, 70, 1.0)
    assert trend.totals.reach == 20
    one = ws.analytics.get_performance_trends(campaign_id=c.id, timeframe="24h", bucket="hour")
    assert one.totals.impressions == 20
    assert len(one.buckets) == 24
    explicit = ws.analytics.get_performance_trends(
        None, start=T0 + timedelta(days=7), end=T0 + timedelta(days=14)
    )
    assert explicit.totals.impressions == 140
    with pytest.raises(ValidationError):
        ws.analytics.get_performance_trends("7d", source="guess")
    with pytest.raises(ValidationError):
        ws.analytics.get_performance_trends("7d", bucket="minute")
    with pytest.raises(ValidationError):
        ws.analytics.get_performance_trends("7d", start=T0)


def test_trends_from_snapshots(core: CampaignCore, ws: Any, clock: FakeClock) -> None:
    """The snapshot source buckets the hourly roll-ups' increments."""
    c = launched(ws)
    for hour in range(3):
        clock.set(at(hour * 60 + 10))
        ws.analytics.track_events(
            [{"kind": "impression", "campaignId": c.id, "platform": "instagram"}] * (hour + 1)
        )
        clock.set(at(hour * 60 + 61))
        core.tick()
    trend = ws.analytics.get_performance_trends(
        start=at(0), end=at(180), bucket="hour", source="snapshots"
    )
    assert [b.metrics.impressions for b in trend.buckets] == [1, 2, 3]
    assert trend.totals.reach is None


def test_top_campaigns_patterns_and_recommendations(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Ranking, patterns across campaigns and recommendations come with their evidence."""
    clock.set(T0 + timedelta(hours=1))
    winners = [launched(ws, name=f"PPV {i}", type="ppv") for i in range(6)]
    others = [launched(ws, name=f"Sub {i}", type="subscription") for i in range(6)]
    loser = launched(ws, name="Loser", type="promotion", platforms=("reddit",))
    clock.advance("2 hours")
    events: list[dict[str, Any]] = []
    for group, conversions in ((winners, 400), (others, 200)):
        for i, c in enumerate(group):
            events += [
                {"kind": "click", "campaignId": c.id, "fanId": "f", "platform": "instagram"}
            ] * 2000
            events += [
                {
                    "kind": "conversion",
                    "campaignId": c.id,
                    "fanId": "f",
                    "platform": "instagram",
                    "value": 10.0,
                }
            ] * (conversions + i)
            events.append({"kind": "spend", "campaignId": c.id, "value": 100.0})
    events += [{"kind": "impression", "campaignId": loser.id}] * 2000
    events.append({"kind": "spend", "campaignId": loser.id, "value": 500.0})
    ws.analytics.track_events(events)
    top = ws.analytics.get_top_performing_campaigns(3)
    assert [r.campaign_id for r in top] == [winners[5].id, winners[4].id, winners[3].id]
    assert top[0].rank == 1
    assert (
        ws.analytics.get_top_performing_campaigns(1, by="conversions")[0].campaign_id
        == winners[5].id
    )
    with pytest.raises(ValidationError):
        ws.analytics.get_top_performing_campaigns(0)
    analysis = ws.analytics.identify_patterns()
    assert {(p.dimension, p.value) for p in analysis.patterns} >= {
        ("type", "ppv"),
        ("type", "subscription"),
    }
    ppv = next(p for p in analysis.patterns if p.value == "ppv")
    assert ppv.direction == "better"
    assert ppv.campaigns == 6
    assert ppv.adjusted_p_value < 0.05
    recommendations = ws.analytics.get_recommendations()
    pause = [r for r in recommendations if r.kind == "pause_campaign"]
    assert [r.campaign_id for r in pause] == [loser.id]
    assert pause[0].evidence
    assert pause[0].priority == "high"


def test_recommendations_use_ab_tests_and_segments(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """A decided A/B test suggests applying its winner; a segment of inactive fans, re-engaging it."""
    c = launched(ws)
    test = ws.campaigns.create_ab_test(
        c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    clock.advance("1 hour")
    counts = {"A": (5000, 600, 150), "B": (5000, 600, 260)}
    for name, (impressions, clicks, conversions) in counts.items():
        vid = test.variant(name).id
        ws.analytics.track_events(
            [{"kind": "impression", "campaignId": c.id, "variantId": vid}] * impressions
            + [{"kind": "click", "campaignId": c.id, "variantId": vid, "fanId": "f"}] * clicks
            + [
                {
                    "kind": "conversion",
                    "campaignId": c.id,
                    "variantId": vid,
                    "fanId": "f",
                    "value": 5.0,
                    "platform": "tiktok",
                }
            ]
            * conversions
        )
    now = clock.now()
    with core.store.unit_of_work() as uow:
        uow.segments.add(
            Segment(
                id="seg-1",
                user_id="owner-1",
                name="Lapsed",
                type="static",
                member_count=150,
                created_at=now,
                updated_at=now,
            )
        )
        for i in range(150):
            uow.segment_members.add(
                SegmentMember(id=f"m{i}", segment_id="seg-1", fan_id=f"fan-{i}", added_at=now)
            )
            active = now - timedelta(days=1 if i < 50 else 60)
            uow.fans.add(
                Fan(
                    id=f"fan-row-{i}",
                    owner_id="owner-1",
                    fan_id=f"fan-{i}",
                    last_activity_at=active,
                    created_at=now,
                    updated_at=now,
                )
            )
        uow.commit()
    kinds = {r.kind: r for r in ws.analytics.get_recommendations()}
    assert kinds["apply_ab_winner"].test_id == test.id
    segment = kinds["reengage_segment"]
    assert segment.segment_id == "seg-1"
    assert segment.evidence["members"] == 150
    assert segment.evidence["inactiveMembers"] == 100


# ---------------------------------------------------------------------- reports


@pytest.fixture
def reported(ws: Any, clock: FakeClock) -> Any:
    """A campaign with a day of traffic on two platforms."""
    c = launched(ws, budget=500.0)
    clock.advance("1 day")
    events: list[dict[str, Any]] = []
    for i in range(200):
        platform = ("instagram", "tiktok")[i % 2]
        when = clock.now() - timedelta(minutes=5 * i + 10)
        events.append(
            {
                "kind": "impression",
                "campaignId": c.id,
                "fanId": f"fan-{i % 70}",
                "platform": platform,
                "occurredAt": when,
            }
        )
        if i % 5 == 0:
            events.append(
                {
                    "kind": "click",
                    "campaignId": c.id,
                    "fanId": f"fan-{i % 70}",
                    "platform": platform,
                    "occurredAt": when + timedelta(minutes=1),
                }
            )
        if i % 20 == 0:
            events.append(
                {
                    "kind": "conversion",
                    "campaignId": c.id,
                    "fanId": f"fan-{i % 70}",
                    "value": 12.5,
                    "occurredAt": when + timedelta(minutes=2),
                }
            )
    events.append({"kind": "spend", "campaignId": c.id, "value": 40.0, "platform": "tiktok"})
    ws.analytics.track_events(events)
    return c


FANS_USED = [f"fan-{i}" for i in range(70)]


def test_json_report_is_json_safe_and_complete(ws: Any, reported: Any) -> None:
    """The JSON report passes json.dumps(allow_nan=False) and holds every section."""
    data = ws.analytics.generate_report(reported.id, format="json")
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back["campaign"]["id"] == reported.id
    assert back["metrics"]["totals"]["impressions"] == 200
    assert back["metrics"]["totals"]["conversions"] == 10
    assert [s["name"] for s in back["funnel"]["steps"]] == ["impressions", "clicks", "conversions"]
    assert back["roi"]["spent"] == 40.0
    assert back["pacing"]["budget"] == 500.0
    assert back["trend"]["buckets"]
    assert back["platforms"]["kind"] == "platform"
    assert_no_fan_ids(back, FANS_USED)


def test_csv_report_parses_back(ws: Any, reported: Any) -> None:
    """The CSV report reads back with the csv module and with parse_report_csv."""
    text = ws.analytics.generate_report(reported.id, format="csv")
    assert isinstance(text, str)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["table", "key", "metric", "value", "unit"]
    tables = parse_report_csv(text)
    impressions = {
        row["key"]: row["value"] for row in tables["platform"] if row["metric"] == "impressions"
    }
    assert set(impressions) >= {"instagram", "tiktok"}
    assert int(impressions["instagram"]) == 100
    assert_no_fan_ids(text, FANS_USED)


def test_pdf_report_renders_to_a_non_blank_image(ws: Any, reported: Any) -> None:
    """The PDF report opens, renders every page, and the pages are not blank."""
    pdfium = pytest.importorskip("pypdfium2")
    pytest.importorskip("matplotlib")
    data = ws.analytics.generate_report(reported.id, format="pdf")
    assert isinstance(data, bytes)
    assert data.startswith(b"%PDF")
    document = pdfium.PdfDocument(data)
    assert len(document) >= 2
    for index in range(len(document)):
        image = document[index].render(scale=0.5).to_pil().convert("L")
        low, high = image.getextrema()
        assert high - low > 100  # ink on paper, not a blank page
        histogram = image.histogram()
        assert sum(histogram[:200]) > 0.005 * sum(histogram)
    document.close()


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, as pdfium extracts it (the raw bytes are compressed)."""
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in document)
    finally:
        document.close()


def test_pdf_report_text_names_no_fan(ws: Any, reported: Any) -> None:
    """The PDF report's text (campaign, totals, charts' labels) holds no fan id."""
    pytest.importorskip("matplotlib")
    text = pdf_text(ws.analytics.generate_report(reported.id, format="pdf"))
    assert "Key figures" in text  # the text was read
    assert "Spring" in text
    assert_no_fan_ids(text, FANS_USED)


def test_pdf_text_check_finds_a_fan_id_in_the_report(ws: Any, reported: Any) -> None:
    """The check above can fail: a campaign named after a fan puts the id in the PDF's text."""
    pytest.importorskip("matplotlib")
    named = launched(ws, name="Thanks fan-7")
    data = ws.analytics.generate_report(named.id, format="pdf")
    assert b"fan-7" not in data  # compressed: the raw bytes alone would pass any check
    with pytest.raises(PrivacyViolationError):
        assert_no_fan_ids(pdf_text(data), FANS_USED)


def test_report_format_is_checked_first(core: CampaignCore, ws: Any) -> None:
    """An unknown format is a ValidationError on 'format', checked before any work."""
    c = launched(ws)
    with pytest.raises(ValidationError) as caught:
        ws.analytics.generate_report(c.id, format="docx")
    assert paths(caught.value) == {"format"}


def test_report_period_is_the_campaigns_own_life_not_the_days_before_now(
    ws: Any, reported: Any, clock: FakeClock
) -> None:
    """Months after its last event, a report still covers the campaign's activity, not empty days."""
    clock.advance("270 days")
    data = ws.analytics.generate_report(reported.id, format="json")
    start = datetime.fromisoformat(data["periodStart"])
    end = datetime.fromisoformat(data["periodEnd"])
    assert start == reported.started_at.replace(minute=0, second=0, microsecond=0)
    assert end - start <= timedelta(days=2)  # the day of traffic, not 270 days of nothing
    assert data["trend"]["totals"]["impressions"] == 200
    assert sum(b["metrics"]["impressions"] for b in data["trend"]["buckets"]) == 200


def test_report_since_until_choose_the_period_and_its_previous_one(
    ws: Any, reported: Any, clock: FakeClock
) -> None:
    """since/until restrict the key figures; the previous period has the same length, just before."""
    now = clock.now()
    since, until = now - timedelta(hours=6), now
    data = ws.analytics.generate_report(
        reported.id, format="json", since=since.isoformat(), until=until
    )
    assert data["periodStart"] == to_json(since.replace(minute=0, second=0, microsecond=0))
    trend = data["trend"]
    inside = trend["totals"]["impressions"]
    before = trend["previous"]["impressions"]
    assert 0 < inside < 200
    assert 0 < before < 200
    assert inside + before <= 200
    tables = parse_report_csv(
        ws.analytics.generate_report(reported.id, format="csv", since=since, csv_dialect="excel")
    )
    assert {r["metric"]: r["value"] for r in tables["summary"]}["impressions"] == str(inside)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"since": "not a date"}, "since"),
        ({"until": datetime(2026, 1, 1)}, "until"),  # noqa: DTZ001 - naive on purpose
        (
            {"since": datetime(2026, 3, 2, tzinfo=UTC), "until": datetime(2026, 3, 1, tzinfo=UTC)},
            "until",
        ),
        ({"csv_dialect": "tsv"}, "csv_dialect"),
    ],
)
def test_report_period_and_dialect_are_checked(
    ws: Any, reported: Any, kwargs: dict[str, Any], path: str
) -> None:
    """A bad date, an empty period or an unknown dialect is a ValidationError with its path."""
    with pytest.raises(ValidationError) as caught:
        ws.analytics.generate_report(reported.id, format="csv", **kwargs)
    assert paths(caught.value) == {path}


# ---------------------------------------------------------------------- privacy


def test_no_analytics_output_names_a_fan(ws: Any, reported: Any) -> None:
    """Every analytics result, serialized, holds no fan id."""
    an = ws.analytics
    receipt = an.track_conversion(reported.id, "fan-1", 3.0, platform="tiktok")
    batch = an.track_events([{"kind": "impression", "campaignId": reported.id, "fanId": "fan-2"}])
    outputs = [
        receipt,
        batch,
        an.get_campaign_metrics(reported.id),
        an.get_campaign_roi(reported.id),
        an.get_conversion_funnel(reported.id),
        an.get_budget_pacing(reported.id),
        an.compare_platforms(reported.id),
        an.get_performance_trends("24h"),
        an.get_top_performing_campaigns(),
        an.identify_patterns(),
        an.get_recommendations(),
    ]
    for output in outputs:
        assert_no_fan_ids(to_json(output), FANS_USED)


def test_erasing_a_fan_keeps_the_totals_and_removes_the_id(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """erase_fan replaces the fan's id in tracking events by a token: reach and totals stay."""
    c = launched(ws)
    clock.advance("1 hour")
    for fan in ("keep", "erase-me"):
        ws.fans.upsert_fan(fan)
        ws.analytics.track_impression(c.id, fan, platform="instagram")
        ws.analytics.track_click(c.id, fan, platform="instagram")
        ws.analytics.track_conversion(c.id, fan, 5.0)
    before = ws.analytics.get_campaign_metrics(c.id)
    exported = ws.fans.export_fan("erase-me")
    assert {e["kind"] for e in exported["trackingEvents"]} == {"impression", "click", "conversion"}
    counts = ws.fans.erase_fan("erase-me")
    assert counts["tracking_events_anonymized"] == 3
    after = ws.analytics.get_campaign_metrics(c.id)
    assert after.totals == before.totals
    assert after.by_platform == before.by_platform
    stored = tracking_rows(core.store)
    assert "erase-me" not in {r.fan_id for r in stored}
    assert len({r.fan_id for r in stored if r.fan_id and r.fan_id.startswith("erased-")}) == 1
    assert_no_fan_ids(snapshot(core.store)["tracking_events"], ["erase-me"])


# ---------------------------------------------------------------------- cache and stores


def test_metrics_are_cached_for_a_minute_and_dropped_by_own_writes(
    core_factory: Any, clock: FakeClock
) -> None:
    """This core's tracking is read back at once; another process's appears within the TTL."""
    from campaign_core_memory import InMemoryStore

    store = InMemoryStore()
    mine, other = core_factory(store), core_factory(store)
    ws = mine.for_actor(Actor("owner-1"))
    c = launched(ws)
    assert ws.analytics.get_campaign_metrics(c.id).totals.impressions == 0
    ws.analytics.track_impression(c.id)
    assert ws.analytics.get_campaign_metrics(c.id).totals.impressions == 1
    other.for_actor(Actor("owner-1")).analytics.track_impression(c.id)
    assert ws.analytics.get_campaign_metrics(c.id).totals.impressions == 1  # cached
    clock.advance("61 seconds")
    assert ws.analytics.get_campaign_metrics(c.id).totals.impressions == 2


def test_sql_aggregates_and_the_repository_path_agree(clock: FakeClock) -> None:
    """SQLite's GROUP BY capability and the Python path give the same metrics."""
    from campaign_core.testing.helpers import FailingStore
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore("sqlite://", create=True)
    plain = FailingStore(store)  # wraps the unit of work: no capability, the repository path
    sql = CampaignCore(store, clock=clock, ids=SequentialIds("a"))
    python = CampaignCore(plain, clock=clock, ids=SequentialIds("b"))
    ws = sql.for_actor(Actor("owner-1"))
    c = launched(ws, platforms=("instagram", "tiktok", "reddit"))
    test = ws.campaigns.create_ab_test(
        c.id, [{"name": "A", "content": {}}, {"name": "B", "content": {}}]
    )
    clock.advance("11 hours")  # every event below is after the launch
    import random

    rng = random.Random(5)
    events = []
    for _ in range(600):
        kind = rng.choice(["impression"] * 6 + ["click"] * 2 + ["conversion", "spend"])
        event: dict[str, Any] = {
            "kind": kind,
            "campaignId": c.id,
            "platform": rng.choice(["instagram", "tiktok", "reddit", None]),
            "variantId": rng.choice([test.variant("A").id, test.variant("B").id, None]),
            "occurredAt": clock.now() - timedelta(minutes=rng.randrange(600)),
        }
        if kind in ("click", "conversion") or (kind == "impression" and rng.random() < 0.8):
            event["fanId"] = f"f{rng.randrange(40)}"
        if kind == "conversion":
            event["value"] = round(rng.uniform(0, 50), 2)
            event["platform"] = event["platform"] or "tiktok"
        if kind == "spend":
            event["value"] = round(rng.uniform(1, 20), 2)
        events.append(event)
    ws.analytics.track_events(events)
    a = ws.analytics.get_campaign_metrics(c.id)
    b = python.for_actor(Actor("owner-1")).analytics.get_campaign_metrics(c.id)
    assert a.totals.reach == b.totals.reach
    assert [(p.platform, p.metrics.impressions, p.metrics.reach) for p in a.by_platform] == [
        (p.platform, p.metrics.impressions, p.metrics.reach) for p in b.by_platform
    ]
    assert [(v.variant_id, v.metrics.reach, v.metrics.conversions) for v in a.by_variant] == [
        (v.variant_id, v.metrics.reach, v.metrics.conversions) for v in b.by_variant
    ]
    assert a.totals.revenue == pytest.approx(b.totals.revenue)
    assert a.first_event_at == b.first_event_at
    assert a.last_event_at == b.last_event_at
    store.close()


def test_batches_take_camel_snake_iso_text_and_tracking_events(ws: Any, clock: FakeClock) -> None:
    """Rows may use camelCase or snake_case keys, ISO-8601 text, or TrackingEvent objects."""
    from campaign_core.analytics import TrackingEvent

    c = launched(ws)
    clock.advance("1 hour")
    report = ws.analytics.track_events(
        [
            {"kind": "impression", "campaignId": c.id, "occurredAt": "2026-01-01T00:30:00Z"},
            {
                "kind": "click",
                "campaign_id": c.id,
                "fan_id": "f",
                "platform": "tiktok",
                "occurred_at": "2026-01-01T01:31:00+01:00",
            },
            {"kind": "impression", "campaignId": c.id, "userId": "f"},
            TrackingEvent(
                kind="conversion",
                occurred_at=at(40),
                fan_id="f",
                value=9.0,
                campaign_id=c.id,
                platform="tiktok",
            ),
        ]
    )
    assert (report.received, report.impressions, report.clicks, report.conversions) == (4, 2, 1, 1)
    m = ws.analytics.get_campaign_metrics(c.id)
    assert m.first_event_at == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    assert (m.last_event_at or m.first_event_at) >= datetime(2026, 1, 1, 0, 31, tzinfo=UTC)
    assert m.totals.reach == 1
    assert m.totals.revenue == 9.0
