"""The hourly roll-up job as tick() runs it: snapshots, idempotence, workers, gauges, the overspend alarm."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds
from campaign_core.alerts import AlertKind
from campaign_core.jobs.rollup import ENGINE_ROW_ID
from campaign_core.metrics import InMemoryMetrics
from campaign_core.ports import Store
from campaign_core.query import Eq
from campaign_core.serialization import to_json
from campaign_core.testing.helpers import snapshot
from tests.services.test_analytics import at, launched


@pytest.fixture
def ws(core: CampaignCore, owner: Actor, clock: FakeClock) -> Any:
    return core.for_actor(owner)


def test_rollup_writes_hourly_snapshots_once_and_is_idempotent(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """tick() after the hour writes one aggregated row and one per platform; again, nothing new."""
    c = launched(ws, platforms=("instagram", "tiktok"))
    clock.set(at(9 * 60 + 10))
    for minute in (10, 20, 30):
        ws.analytics.track_impression(
            c.id, f"f{minute}", platform="instagram", occurred_at=at(9 * 60 + minute)
        )
    ws.analytics.track_click(c.id, "f10", platform="instagram", occurred_at=at(9 * 60 + 40))
    ws.analytics.track_spend(c.id, 4.0, platform="tiktok", occurred_at=at(9 * 60 + 45))
    clock.set(at(9 * 60 + 50))
    assert core.tick().metric_snapshots == 0  # the hour is not over
    clock.set(at(10 * 60 + 5))
    report = core.tick()
    assert (report.campaigns_rolled_up, report.metric_snapshots) == (1, 3)
    with core.store.unit_of_work() as uow:
        rows = {r.platform: r for r in uow.campaign_metrics.find(Eq("campaign_id", c.id))}
    assert set(rows) == {None, "instagram", "tiktok"}
    agg = rows[None]
    assert (agg.impressions, agg.reach, agg.clicks, agg.spent) == (3, 3, 1, 4.0)
    assert agg.ctr == pytest.approx(1 / 3)
    assert agg.roi == -1.0
    assert agg.period_start == at(9 * 60)
    assert agg.recorded_at == at(10 * 60)
    assert rows["tiktok"].impressions == 0
    assert rows["tiktok"].spent == 4.0
    before = snapshot(core.store)["campaign_metrics"]
    assert core.tick().metric_snapshots == 0  # nothing due
    # the same hour rolled up again (a worker that crashed before releasing): one row set
    with core.store.unit_of_work() as uow:
        state = uow.campaign_analytics_state.get(c.id)
        uow.campaign_analytics_state.update(
            attrs.evolve(
                state, last_rolled_hour=None, next_rollup_at=at(10 * 60), version=state.version + 1
            )
        )
        uow.commit()
    clock.set(at(10 * 60 + 6))
    assert core.tick().metric_snapshots == 3
    assert snapshot(core.store)["campaign_metrics"] == before


def test_rollup_is_cumulative_and_heals_late_events(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Each snapshot holds the numbers as of its hour's end; late events land in the next one."""
    c = launched(ws, platforms=("reddit",))
    clock.set(at(30))
    ws.analytics.track_impression(c.id, "f1", occurred_at=at(10))
    clock.set(at(65))
    core.tick()
    ws.analytics.track_impression(c.id, "f2", occurred_at=at(50))  # late: belongs to hour 0
    ws.analytics.track_impression(c.id, "f3", occurred_at=at(70))
    clock.set(at(125))
    core.tick()
    with core.store.unit_of_work() as uow:
        rows = uow.campaign_metrics.find(Eq("campaign_id", c.id))
    aggregates = sorted((r for r in rows if r.platform is None), key=lambda r: r.period_start)
    assert [(r.period_start, r.impressions, r.reach) for r in aggregates] == [
        (at(0), 1, 1),
        (at(60), 3, 3),
    ]


def test_two_workers_roll_up_each_campaign_once(core_factory: Any, clock: FakeClock) -> None:
    """Two cores (workers) on one store: each campaign's hour is written by one of them."""
    from campaign_core_memory import InMemoryStore

    store = InMemoryStore()
    first, second = core_factory(store), core_factory(store)
    ws = first.for_actor(Actor("owner-1"))
    ids = [launched(ws, name=f"C{i}").id for i in range(4)]
    clock.set(at(20))
    ws.analytics.track_events(
        [{"kind": "impression", "campaignId": cid, "platform": "instagram"} for cid in ids]
    )
    clock.set(at(65))
    reports = [first.tick(), second.tick()]
    assert sum(r.campaigns_rolled_up for r in reports) == 4
    with store.unit_of_work() as uow:
        assert uow.campaign_metrics.count() == 4 * 3


def test_rollup_emits_roi_budget_utilization_and_status_counts_hourly(
    local_store: Store, clock: FakeClock
) -> None:
    """After a roll-up: CampaignROI and BudgetUtilization per campaign; CampaignsByStatus once an hour."""
    sink = InMemoryMetrics()
    core = CampaignCore(local_store, clock=clock, metrics=sink, ids=SequentialIds())
    ws = core.for_actor(Actor("owner-1"))
    c = launched(ws, budget=200.0)
    ws.campaigns.create_campaign(name="Draft", type="ppv")
    clock.set(at(10))
    ws.analytics.track_events(
        [
            {
                "kind": "conversion",
                "campaignId": c.id,
                "fanId": "f",
                "value": 30.0,
                "platform": "tiktok",
            },
            {"kind": "spend", "campaignId": c.id, "value": 20.0},
        ]
    )
    assert sink.total("CampaignConversions", Platform="tiktok") == 1
    sink.clear()
    clock.set(at(61))
    core.tick()
    assert sink.values("CampaignROI", CampaignType="ppv") == [0.5]
    assert sink.values("BudgetUtilization", CampaignType="ppv") == [10.0]
    assert sink.values("CampaignsByStatus", Status="active") == [1]
    assert sink.values("CampaignsByStatus", Status="draft") == [1]
    clock.set(at(70))
    core.tick()
    assert len(sink.values("CampaignsByStatus", Status="active")) == 1  # once an hour
    with core.store.unit_of_work() as uow:
        assert uow.campaign_analytics_state.get(ENGINE_ROW_ID).next_rollup_at == at(120)  # type: ignore[union-attr]


def test_tick_checks_the_overspend_alarm_for_spend_recorded_outside_tracking(
    core: CampaignCore, ws: Any, clock: FakeClock
) -> None:
    """Spend through campaigns.record_spend past 110 % is caught by the next roll-up, once."""
    c = launched(ws, budget=100.0)
    clock.set(at(5))
    ws.analytics.track_impression(c.id)
    ws.campaigns.record_spend(c.id, 100.0)
    ws.campaigns.record_spend(c.id, 20.0)
    assert core.alerter.of_kind(AlertKind.BUDGET_OVERSPEND) == []  # type: ignore[attr-defined]
    clock.set(at(65))
    assert core.tick().overspend_alerts == 1
    clock.set(at(125))
    assert core.tick().overspend_alerts == 0
    assert len(core.alerter.of_kind(AlertKind.BUDGET_OVERSPEND)) == 1  # type: ignore[attr-defined]


def test_tick_report_counts_roll_ups_in_json(core: CampaignCore, ws: Any, clock: FakeClock) -> None:
    """The tick report's roll-up counters show in its JSON and in did_work."""
    c = launched(ws)
    clock.set(at(10))
    ws.analytics.track_impression(c.id, platform="instagram")
    clock.set(at(61))
    report = core.tick()
    body = to_json(report)
    assert (body["campaignsRolledUp"], body["metricSnapshots"], body["overspendAlerts"]) == (
        1,
        3,
        0,
    )
    assert report.did_work
