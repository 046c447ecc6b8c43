"""Scheduled launches in tick(): a campaign that cannot launch never holds back the ones due after it.

Every due campaign a tick reads leaves the due set in that tick: launched,
returned to draft (it cannot launch: the owner is alerted), or deferred to when
the launch throttle lets its owner launch again. Scheduling checks up front
what launching checks.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    SequentialIds,
    Settings,
    ValidationError,
)
from campaign_core.alerts import AlertKind, RecordingAlerter
from campaign_core.metrics import InMemoryMetrics
from campaign_core.ports import Store
from campaign_core.query import Eq
from campaign_core.ratelimit import Limit, RateLimits
from campaign_core.testing.helpers import snapshot
from tests.conftest import backend_params, make_store, server_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VALID: dict[str, Any] = {
    "type": "promotion",
    "platforms": ["instagram", "reddit"],
    "content": {"title": "Spring", "description": "20% off"},
    "media_urls": ["https://cdn.example/spring.jpg"],
}


def scheduled(ws: Any, at: datetime, name: str = "Valid", **changes: Any) -> Any:
    """A campaign scheduled at ``at``, then edited with ``changes`` (scheduled campaigns are editable)."""
    campaign = ws.campaigns.create_campaign(name=name, **VALID, budget=100)
    ws.campaigns.schedule_campaign(campaign.id, at)
    if changes:
        ws.campaigns.update_campaign(campaign.id, **changes)
    return ws.campaigns.get_campaign(campaign.id)


def unlaunchable(ws: Any, at: datetime, why: str, name: str = "Broken") -> Any:
    """A scheduled campaign that can no longer launch, for the reason ``why``."""
    if why == "no_platforms":
        return scheduled(ws, at, name, platforms=[])
    if why == "content_rejected":  # Instagram needs media
        return scheduled(ws, at, name, media_urls=[])
    assert why == "budget_spent"
    campaign = scheduled(ws, at, name)
    ws.campaigns.record_spend(campaign.id, 100)
    return ws.campaigns.get_campaign(campaign.id)


def failures(sink: InMemoryMetrics) -> tuple[float, float]:
    """(launch attempts, launch failures), totals."""
    return sink.total("CampaignLaunchAttempts"), sink.total("CampaignLaunchFailures")


# -- starvation ----------------------------------------------------------------------------------
def test_a_full_batch_of_unlaunchable_campaigns_does_not_starve_a_later_one(
    core: CampaignCore, owner: Actor, clock: FakeClock
) -> None:
    """100 due campaigns without platforms (the batch size) + 1 valid one due later: it launches."""
    ws = core.for_actor(owner)
    broken = [
        unlaunchable(ws, T0 + timedelta(hours=1, seconds=n), "no_platforms", f"Broken {n}")
        for n in range(core.settings.tick_batch_size)
    ]
    valid = scheduled(ws, T0 + timedelta(hours=2))
    clock.advance("3 hours")

    first = core.tick()
    assert first.campaigns_launched == ()
    assert [e.entity_id for e in first.errors] == [c.id for c in broken]
    assert all("returned to draft" in e.error for e in first.errors)

    second = core.tick()
    assert second.campaigns_launched == (valid.id,)
    assert second.errors == ()
    assert ws.campaigns.get_campaign(valid.id).status == "active"
    assert {ws.campaigns.get_campaign(c.id).status for c in broken} == {"draft"}
    assert core.tick().did_work is False  # nothing is tried again


@pytest.mark.parametrize("why", ["no_platforms", "content_rejected", "budget_spent"])
def test_a_campaign_that_cannot_launch_returns_to_draft_with_one_alert(
    core_factory: Any, local_store: Store, owner: Actor, clock: FakeClock, why: str
) -> None:
    """Refused for good: back to draft, one launch_failed alert, one failed attempt, never retried."""
    sink = InMemoryMetrics()
    core = core_factory(local_store, metrics=sink)
    ws = core.for_actor(owner)
    at = T0 + timedelta(hours=1)
    campaign = unlaunchable(ws, at, why)
    clock.advance("2 hours")
    report = core.tick()
    assert [e.entity_id for e in report.errors] == [campaign.id]
    after = ws.campaigns.get_campaign(campaign.id)
    assert (after.status, after.scheduled_for) == ("draft", None)
    [alert] = core.alerter.of_kind(AlertKind.LAUNCH_FAILED)
    assert (alert.owner_id, alert.entity, alert.entity_id) == ("owner-1", "campaign", campaign.id)
    assert alert.data["scheduledFor"] == "2026-01-01T01:00:00.000Z"
    with pytest.raises(ValidationError) as info:
        ws.campaigns.launch_campaign(campaign.id)  # the alert says what launching says
    assert alert.data["problems"] == [p.to_json() for p in info.value.problems]
    assert failures(sink) == (2, 2)  # the tick's attempt, then this launch_campaign
    for _ in range(3):
        clock.advance("1 minute")
        assert core.tick().errors == ()
    assert failures(sink) == (2, 2)
    assert len(core.alerter.of_kind(AlertKind.LAUNCH_FAILED)) == 1


# -- the launch throttle: deferred, not failed --------------------------------------------------
@pytest.mark.parametrize("shared", [False, True])
def test_throttled_launches_are_deferred_to_the_next_allowed_time(
    core_factory: Any, local_store: Store, owner: Actor, clock: FakeClock, shared: bool
) -> None:
    """Over the launch limit: scheduledFor moves to the limiter's retry time; one failed attempt per owner and tick."""
    sink = InMemoryMetrics()
    limits = RateLimits(launches=Limit(2, "1 hour"), shared=shared)
    core = core_factory(local_store, metrics=sink, settings=Settings(rate_limits=limits))
    ws = core.for_actor(owner)
    mine = [scheduled(ws, T0 + timedelta(minutes=30, seconds=n), f"Mine {n}") for n in range(5)]
    other_ws = core.for_actor(Actor("owner-2"))
    other = scheduled(other_ws, T0 + timedelta(minutes=40), "Other")
    clock.advance("1 hour")

    report = core.tick()
    assert report.campaigns_launched == (mine[0].id, mine[1].id, other.id)
    slot = T0 + timedelta(hours=2)  # the first two launches leave the window
    for campaign in mine[2:]:
        after = ws.campaigns.get_campaign(campaign.id)
        assert (after.status, after.scheduled_for) == ("scheduled", slot)
    assert [e.entity_id for e in report.errors] == [c.id for c in mine[2:]]
    assert failures(sink) == (3 + 1, 1)  # one refused attempt; the other two were not tried
    assert core.alerter.of_kind(AlertKind.LAUNCH_FAILED) == []

    clock.advance(timedelta(minutes=59, seconds=59))
    quiet = core.tick()
    assert (quiet.campaigns_launched, quiet.errors) == ((), ())
    assert failures(sink) == (4, 1)  # nothing is tried before the slot

    clock.advance("1 second")
    report = core.tick()
    assert report.campaigns_launched == (mine[2].id, mine[3].id)
    assert ws.campaigns.get_campaign(mine[4].id).scheduled_for == T0 + timedelta(hours=3)
    clock.advance("1 hour")
    assert core.tick().campaigns_launched == (mine[4].id,)


def test_a_full_batch_of_throttled_campaigns_does_not_starve_other_owners(
    core_factory: Any, local_store: Store, owner: Actor, clock: FakeClock
) -> None:
    """One owner over the limit with a whole batch due: another owner's later campaign launches next tick."""
    limits = RateLimits(launches=Limit(1, "1 day"))
    core = core_factory(local_store, settings=Settings(rate_limits=limits, tick_batch_size=10))
    ws = core.for_actor(owner)
    for n in range(11):
        scheduled(ws, T0 + timedelta(minutes=10, seconds=n), f"Mine {n}")
    other_ws = core.for_actor(Actor("owner-2"))
    other = scheduled(other_ws, T0 + timedelta(minutes=20), "Other")
    clock.advance("1 hour")
    first = core.tick()
    assert (len(first.campaigns_launched), len(first.errors)) == (1, 9)
    second = core.tick()
    assert other.id in second.campaigns_launched


@pytest.mark.parametrize("shared", [False, True])
def test_a_batch_that_fails_is_launched_one_by_one_without_counting_twice(
    core_factory: Any,
    local_store: Store,
    owner: Actor,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    shared: bool,
) -> None:
    """The launches' one transaction fails (another worker came first): nothing of it is kept,
    each campaign is launched on its own, and the throttle counts each launch once."""
    from campaign_core.errors import ConflictError
    from campaign_core.jobs import launches

    sink = InMemoryMetrics()
    limits = RateLimits(launches=Limit(2, "1 hour"), shared=shared)
    core = core_factory(local_store, metrics=sink, settings=Settings(rate_limits=limits))
    ws = core.for_actor(owner)
    due = [scheduled(ws, T0 + timedelta(minutes=30, seconds=n), f"Mine {n}") for n in range(2)]
    clock.advance("1 hour")
    real = launches.enqueue_launch_jobs
    calls: list[int] = []

    def fail_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ConflictError("changed by someone else", details={"reason": "stale"})
        return real(*args)

    monkeypatch.setattr(launches, "enqueue_launch_jobs", fail_once)
    report = core.tick()
    assert report.campaigns_launched == (due[0].id, due[1].id)
    assert report.errors == ()
    assert failures(sink) == (2, 0)
    assert [ws.campaigns.get_campaign(c.id).status for c in due] == ["active", "active"]


# -- scheduling checks what launching checks ------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"platforms": []}, {"platforms"}),
        ({"content": {}}, {"content"}),
        ({"media_urls": []}, {"content.instagram.mediaUrls"}),
    ],
)
def test_scheduling_refuses_what_could_not_launch(
    core: CampaignCore, owner: Actor, changes: dict[str, Any], expected: set[str]
) -> None:
    """schedule_campaign and create_campaign(scheduled_for=...) report launch_campaign's problems."""
    ws = core.for_actor(owner)
    draft = ws.campaigns.create_campaign(name="Draft", **{**VALID, **changes})
    with pytest.raises(ValidationError) as launching:
        ws.campaigns.launch_campaign(draft.id)
    assert {p.path for p in launching.value.problems} == expected
    before = snapshot(core.store)
    with pytest.raises(ValidationError) as scheduling:
        ws.campaigns.schedule_campaign(draft.id, T0 + timedelta(days=1))
    assert scheduling.value.problems == launching.value.problems
    with pytest.raises(ValidationError) as creating:
        ws.campaigns.create_campaign(
            name="Draft", **{**VALID, **changes}, scheduled_for=T0 + timedelta(days=1)
        )
    assert creating.value.problems == launching.value.problems
    assert snapshot(core.store) == before


def test_rescheduling_a_campaign_whose_budget_is_spent_is_refused(
    core: CampaignCore, owner: Actor
) -> None:
    """The budget check applies when rescheduling too (spend is recorded on scheduled campaigns)."""
    ws = core.for_actor(owner)
    campaign = unlaunchable(ws, T0 + timedelta(hours=1), "budget_spent")
    with pytest.raises(ValidationError) as info:
        ws.campaigns.schedule_campaign(campaign.id, T0 + timedelta(hours=2))
    assert [p.path for p in info.value.problems] == ["budget"]
    assert ws.campaigns.get_campaign(campaign.id).scheduled_for == T0 + timedelta(hours=1)


# -- several workers -----------------------------------------------------------------------------
def _two_stores(backend: str, tmp_path: Path) -> tuple[Store, Store]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if backend == "memory":
        from campaign_core_memory import InMemoryStore

        shared = InMemoryStore()
        return shared, shared
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return SqlAlchemyStore(url, create=True), SqlAlchemyStore(url)
    return make_store(backend), SqlAlchemyStore(server_url(backend))


@pytest.mark.parametrize("backend", backend_params(["memory", "sqlite", "postgres", "mariadb"]))
def test_workers_racing_for_due_campaigns_handle_each_once(backend: str, tmp_path: Path) -> None:
    """Threads ticking two cores at once: each campaign launched or returned to draft once, one alert, one metric."""
    first, second = _two_stores(backend, tmp_path)
    clock = FakeClock(T0)
    sink, alerter = InMemoryMetrics(), RecordingAlerter()
    settings = Settings(tick_batch_size=5)
    cores = [
        CampaignCore(store, clock=clock, metrics=sink, alerter=alerter, settings=settings, ids=ids)
        for store, ids in ((first, SequentialIds("a")), (second, SequentialIds("b")))
    ]
    ws = cores[0].for_actor(Actor("owner-1"))
    at = T0 + timedelta(minutes=5)
    good = {scheduled(ws, at + timedelta(seconds=n), f"Good {n}").id for n in range(8)}
    bad = {unlaunchable(ws, at, "no_platforms", f"Bad {n}").id for n in range(8)}
    clock.advance("1 hour")
    sink.clear()
    launched: list[str] = []
    errors: list[Any] = []
    failed: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(core: CampaignCore) -> None:
        barrier.wait()
        try:
            for _ in range(10):
                report = core.tick()
                launched.extend(report.campaigns_launched)
                errors.extend(report.errors)
        except BaseException as error:  # pragma: no cover - reported below
            failed.append(error)

    threads = [threading.Thread(target=work, args=(core,)) for core in cores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert sorted(launched) == sorted(good)
    assert sorted(e.entity_id for e in errors) == sorted(bad)
    assert sorted(a.entity_id for a in alerter.of_kind(AlertKind.LAUNCH_FAILED)) == sorted(bad)
    assert failures(sink) == (len(good) + len(bad), len(bad))
    with first.unit_of_work() as uow:
        assert {c.id for c in uow.campaigns.find(Eq("status", "active"))} == good
        assert {c.id for c in uow.campaigns.find(Eq("status", "draft"))} == bad
        assert uow.publish_jobs.count() == 2 * len(good)
    for core in cores:
        core.close()
