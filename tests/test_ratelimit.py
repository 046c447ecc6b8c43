"""Rate limits per account: API calls and launches, in memory and shared through the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from campaign_core import (
    Actor,
    CampaignCore,
    FakeClock,
    RateLimitedError,
    SequentialIds,
    Settings,
    ValidationError,
)
from campaign_core.ratelimit import Limit, RateLimits
from campaign_core.testing.helpers import snapshot


def make(store: Any, clock: FakeClock, limits: RateLimits, prefix: str = "") -> CampaignCore:
    return CampaignCore(
        store, clock=clock, ids=SequentialIds(prefix), settings=Settings(rate_limits=limits)
    )


def launchable(ws: Any) -> Any:
    return ws.campaigns.create_campaign(
        name="C", type="ppv", platforms=["reddit"], content={"title": "t"}
    )


@pytest.mark.parametrize("shared", [False, True])
def test_launch_throttle_refuses_and_changes_nothing(
    local_store: Any, clock: FakeClock, shared: bool
) -> None:
    """The third launch within the hour is refused with retry_after; the campaign stays a draft."""
    core = make(local_store, clock, RateLimits(launches=Limit(2, "1 hour"), shared=shared))
    ws = core.for_actor(Actor("o1"))
    campaigns = [launchable(ws) for _ in range(3)]
    ws.campaigns.launch_campaign(campaigns[0].id)
    clock.advance("10 minutes")
    ws.campaigns.launch_campaign(campaigns[1].id)
    before = snapshot(core.store)
    with pytest.raises(RateLimitedError) as info:
        ws.campaigns.launch_campaign(campaigns[2].id)
    assert info.value.http_status == 429
    assert info.value.retry_after == pytest.approx(50 * 60)
    assert snapshot(core.store) == before
    clock.advance("50 minutes")
    assert ws.campaigns.launch_campaign(campaigns[2].id).campaign.status == "active"
    other = core.for_actor(Actor("o2"))
    other.campaigns.launch_campaign(launchable(other).id)  # another account has its own budget


def test_api_limit_counts_every_call_per_account(local_store: Any, clock: FakeClock) -> None:
    """The API limit counts calls per account and frees up as the window slides."""
    core = make(local_store, clock, RateLimits(api=Limit(3, timedelta(minutes=1))))
    ws = core.for_actor(Actor("o1"))
    for _ in range(3):
        ws.campaigns.list_campaigns()
    with pytest.raises(RateLimitedError):
        ws.campaigns.list_campaigns()
    core.for_actor(Actor("o2")).campaigns.list_campaigns()
    clock.advance("1 minute")
    ws.campaigns.list_campaigns()


def test_in_memory_limits_forget_idle_accounts(local_store: Any, clock: FakeClock) -> None:
    """Thousands of accounts counted once are swept out once their window has passed."""
    from campaign_core.ratelimit import _PRUNE_EVERY

    core = make(local_store, clock, RateLimits(api=Limit(5, timedelta(minutes=1)), shared=False))
    limiter = core.runtime.limiter
    for n in range(3000):
        limiter.hit(f"acct-{n}", "api")
    assert len(limiter._memory) == 3000
    for _ in range(_PRUNE_EVERY):  # one busy account, within its limit, past a sweep
        clock.advance("13 seconds")
        limiter.hit("busy", "api")
    assert set(limiter._memory) == {("busy", "api")}
    clock.advance("61 seconds")
    for _ in range(5):  # the limit itself is unchanged
        limiter.hit("busy", "api")
    with pytest.raises(RateLimitedError):
        limiter.hit("busy", "api")


def test_shared_limits_are_shared_between_cores(local_store: Any, clock: FakeClock) -> None:
    """Two cores (two processes' worth) on one store share a shared limit."""
    limits = RateLimits(api=Limit(2, "1 minute"), shared=True)
    first, second = make(local_store, clock, limits, "a"), make(local_store, clock, limits, "b")
    first.for_actor(Actor("o1")).campaigns.list_campaigns()
    second.for_actor(Actor("o1")).campaigns.list_campaigns()
    with pytest.raises(RateLimitedError):
        first.for_actor(Actor("o1")).campaigns.list_campaigns()


def test_bad_limits_are_rejected() -> None:
    """Limits need a positive count and window."""
    with pytest.raises(ValidationError):
        Limit(0, "1 minute")
    with pytest.raises(ValidationError):
        Limit(5, "0 seconds")
    with pytest.raises(ValidationError):
        Limit(5, "soon")
    assert RateLimits.recommended().launches == Limit(10, "1 hour")


def _wide_pool(store: Any) -> Any:
    """The store with a connection per thread on servers (the default pool holds 15)."""
    if getattr(store, "dialect", "sqlite") == "sqlite":
        return store
    import sqlalchemy as sa

    from campaign_core_sqlalchemy import SqlAlchemyStore

    return SqlAlchemyStore(sa.create_engine(store.engine.url, pool_size=20, max_overflow=0))


def _hammer(core: CampaignCore, account: str, calls: int, threads: int) -> list[str]:
    """``threads`` threads making ``calls`` read-only calls each; the outcome of each call."""
    import threading

    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        ws = core.for_actor(Actor(account))
        start.wait()
        for _ in range(calls):
            try:
                ws.campaigns.list_campaigns()
                outcome = "ok"
            except RateLimitedError:
                outcome = "limited"
            except Exception as exc:  # every other error is a failure of the test
                outcome = f"{type(exc).__name__}: {exc}"
            with lock:
                outcomes.append(outcome)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def test_a_shared_limit_under_contention_never_conflicts(any_store: Any, clock: FakeClock) -> None:
    """16 threads of one account: every read-only call succeeds, none sees a conflict."""
    store = _wide_pool(any_store)
    core = make(store, clock, RateLimits(api=Limit(10_000, "1 minute"), shared=True))
    outcomes = _hammer(core, "busy", calls=8, threads=16)
    assert [o for o in outcomes if o != "ok"] == []


def test_a_shared_limit_under_contention_still_holds(any_store: Any, clock: FakeClock) -> None:
    """16 threads of one account against a limit of 100: exactly 100 calls pass, the rest
    are refused as rate limited, and nothing else goes wrong."""
    store = _wide_pool(any_store)
    core = make(store, clock, RateLimits(api=Limit(100, "1 minute"), shared=True))
    outcomes = _hammer(core, "busy", calls=8, threads=16)
    assert sorted(set(outcomes)) == ["limited", "ok"]
    assert outcomes.count("ok") == 100


def test_first_launches_at_once_create_one_row(any_store: Any, clock: FakeClock) -> None:
    """Concurrent first launches of one account share one counter: none conflicts."""
    import threading

    store = _wide_pool(any_store)
    core = make(store, clock, RateLimits(launches=Limit(100, "1 hour"), shared=True))
    ws = core.for_actor(Actor("acct"))
    campaigns = [launchable(ws) for _ in range(8)]
    errors: list[Exception] = []
    start = threading.Barrier(len(campaigns))

    def launch(campaign_id: str) -> None:
        start.wait()
        try:
            core.for_actor(Actor("acct")).campaigns.launch_campaign(campaign_id)
        except Exception as exc:
            errors.append(exc)

    workers = [threading.Thread(target=launch, args=(c.id,)) for c in campaigns]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert {c.status for c in ws.campaigns.list_campaigns().items} == {"active"}
