"""The message throttle holds across workers: two workers with their own stores on one database
draw from one token bucket per account and channel, so together they send at most the rate."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.ports import Store
from campaign_core.testing.helpers import T0
from tests.conftest import backend_params, make_store, server_url
from tests.delivery.helpers import (
    OWNER,
    DedupMessenger,
    broadcast_campaign,
    run_until_idle,
    seed_audience,
)

FANS = 300
RATE = 20


class _Clocked(DedupMessenger):
    """A deduplicating messenger that notes the clock's whole second of each first send."""

    def __init__(self, clock: FakeClock, log: Counter[int], mine: Counter[str], name: str) -> None:
        super().__init__()
        self._clock, self._log, self._mine, self._name = clock, log, mine, name

    def send(self, **kwargs: Any) -> str:
        first = kwargs["idempotency_key"] not in self.delivered
        answer = super().send(**kwargs)
        if first:
            self._log[int((self._clock.now() - T0).total_seconds())] += 1
            self._mine[self._name] += 1
        return answer


def _stores(backend: str, tmp_path: Path) -> tuple[Store, Store]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if backend == "memory":
        store = make_store("memory")
        return store, store
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'cc.sqlite3'}"
        return SqlAlchemyStore(url, create=True), SqlAlchemyStore(url)
    first = make_store(backend)
    return first, SqlAlchemyStore(server_url(backend))


@pytest.mark.parametrize("backend", backend_params(["memory", "sqlite", "postgres", "mariadb"]))
def test_two_workers_send_at_most_the_rate_together(backend: str, tmp_path: Path) -> None:
    """Per second of the FakeClock the two workers' sends add up to at most the rate, and reach it."""
    store_a, store_b = _stores(backend, tmp_path)
    seed_audience(store_a, FANS)
    clock = FakeClock(T0)
    settings = Settings(
        tick_batch_size=100,
        messaging=MessagingSettings(snapshot_batch_size=100, rate_per_second={"dm": RATE}),
    )
    per_second: Counter[int] = Counter()
    per_worker: Counter[str] = Counter()
    workers = [
        CampaignCore(
            store,
            clock=clock,
            messenger=_Clocked(clock, per_second, per_worker, name),
            settings=settings,
        )
        for store, name in ((store_a, "a"), (store_b, "b"))
    ]
    ws = workers[0].for_actor(Actor(OWNER))
    ws.campaigns.launch_campaign(broadcast_campaign(ws).id)
    seconds = 0
    while sum(per_second.values()) < FANS and seconds < 100:
        # both workers tick every second, taking turns to go first
        for core in workers if seconds % 2 == 0 else workers[::-1]:
            core.tick()
        clock.advance("1 second")
        seconds += 1
    assert sum(per_second.values()) == FANS
    assert max(per_second.values()) <= RATE, per_second
    # the bucket is the bottleneck: every second but the last sends the whole rate
    assert sorted(per_second.values())[1:] == [RATE] * (len(per_second) - 1)
    assert per_worker["a"] > 0, per_worker
    assert per_worker["b"] > 0, per_worker
    for core in workers:
        run_until_idle(core)
    status = ws.campaigns.get_delivery_status(ws.campaigns.list_campaigns().items[0].id)
    assert (status.status, status.sent) == ("done", FANS)
    for store in {id(store_a): store_a, id(store_b): store_b}.values():
        store.close()


def test_a_batch_reserves_its_tokens_in_one_write(tmp_path: Path) -> None:
    """One reservation per batch: the bucket's row is locked and written once for a batch's tokens, not per message."""
    from campaign_core_sqlalchemy import SqlAlchemyStore
    from tests.storage.test_statements import statements

    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'cc.sqlite3'}", create=True)
    seed_audience(store, 50)
    core = CampaignCore(
        store,
        clock=FakeClock(T0),
        messenger=DedupMessenger(),
        settings=Settings(
            tick_batch_size=50,
            messaging=MessagingSettings(snapshot_batch_size=50, rate_per_second={"dm": 30}),
        ),
    )
    ws = core.for_actor(Actor(OWNER))
    ws.campaigns.launch_campaign(broadcast_campaign(ws).id)
    locks = "UPDATE rate_limits SET version=(rate_limits.version + ?)"
    with statements(store) as seen:
        report = core.tick()
    assert report.messages_sent == 30  # the snapshot's batch: 30 sent, 20 queued
    assert sum(1 for s in seen if s.startswith(locks)) == 1
    with statements(store) as seen:
        report = core.tick(core.clock.now() + timedelta(milliseconds=500))
    assert report.messages_sent == 15  # a claimed batch: half a second's tokens
    # one reservation (lock, read, write) for the batch; every token used, none given back
    assert sum(1 for s in seen if s.startswith(locks)) == 1
    assert sum(1 for s in seen if s.startswith("UPDATE rate_limits SET")) == 2
    store.close()
