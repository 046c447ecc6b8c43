"""Crash at every write of a 1,000-fan broadcast: every fan gets the message exactly once.

A :class:`~campaign_core.testing.FailingStore` raises at its k-th write (a repository
write or a commit). The script creates the campaign, launches it and ticks until the
broadcast is done; when a call crashes, the "process" restarts (a new core on the same
store, a little later so the dead worker's leases have expired) and the host retries
the call. For every k, the deduplicating messenger must hold exactly one message per fan
and the store must say every fan was sent to once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.models import DeliveryStatus
from campaign_core.ports import Store
from campaign_core.query import Eq
from campaign_core.testing import FailingStore
from campaign_core.testing.helpers import T0, InjectedFault
from tests.conftest import make_store, truncate
from tests.delivery.helpers import OWNER, DedupMessenger, broadcast_campaign, seed_audience

FANS = 1000
Op = Callable[[CampaignCore, FakeClock], Any]


def _create(core: CampaignCore, clock: FakeClock) -> None:
    ws = core.for_actor(Actor(OWNER))
    if not ws.campaigns.list_campaigns().items:
        broadcast_campaign(ws)


def _launch(core: CampaignCore, clock: FakeClock) -> None:
    ws = core.for_actor(Actor(OWNER))
    campaign = ws.campaigns.list_campaigns().items[0]
    if campaign.status.value == "draft":
        ws.campaigns.launch_campaign(campaign.id)


def _tick(core: CampaignCore, clock: FakeClock) -> None:
    clock.advance("1 second")
    core.tick()


SCRIPT: list[Op] = [_create, _launch, *([_tick] * 5)]

_STORES: dict[str, Store] = {}


def _fresh(backend: str) -> Store:
    if backend == "memory":
        return make_store(backend)
    store = _STORES.get(backend)
    if store is None:
        store = _STORES[backend] = make_store(backend)
    else:
        truncate(store)
    return store


def _run(backend: str, fail_at: int | None) -> tuple[Store, DedupMessenger, int, bool]:
    inner = _fresh(backend)
    seed_audience(inner, FANS)
    clock = FakeClock(T0)
    ids = SequentialIds()
    messenger = DedupMessenger()
    settings = Settings(
        lease_duration=timedelta(minutes=1),
        tick_batch_size=400,
        messaging=MessagingSettings(snapshot_batch_size=400),
    )
    failing = FailingStore(inner, fail_at=fail_at)
    core = CampaignCore(failing, clock=clock, ids=ids, messenger=messenger, settings=settings)
    crashed = False
    for op in [*SCRIPT, lambda core, clock: (clock.advance("5 minutes"), core.tick()), _tick]:
        try:
            op(core, clock)
        except InjectedFault:
            crashed = True
            clock.advance("2 minutes")
            core = CampaignCore(inner, clock=clock, ids=ids, messenger=messenger, settings=settings)
            op(core, clock)
    return inner, messenger, failing.writes, crashed


def _check(store: Store, messenger: DedupMessenger) -> None:
    assert len(messenger.delivered) == FANS
    assert set(messenger.fans().values()) == {1}
    with store.unit_of_work() as uow:
        rows = uow.deliveries.find(Eq("owner_id", OWNER))
        broadcasts = uow.broadcasts.find()
    assert len(rows) == FANS
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    assert len({r.fan_id for r in rows}) == FANS
    assert [b.status.value for b in broadcasts] == ["done"]
    assert broadcasts[0].audience_size == FANS


CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_crash_at_every_write(backend: str, chunk: int) -> None:
    """For every k, a crash at the k-th write loses no fan and messages none twice."""
    store, messenger, total, crashed = _run(backend, None)
    assert not crashed
    _check(store, messenger)
    assert max(messenger.calls.values()) == 1  # without crashes nothing is even called twice
    assert total > 40
    for k in range(1 + chunk, total + 1, CHUNKS):
        store, messenger, _, _crashed = _run(backend, k)
        try:
            _check(store, messenger)
        except AssertionError as error:
            raise AssertionError(f"crash at write {k}: {error}") from error
