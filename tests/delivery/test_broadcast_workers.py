"""Two worker processes deliver the same broadcast on PostgreSQL and MariaDB: no duplicates, no losses."""

from __future__ import annotations

import multiprocessing
import queue

import pytest
import sqlalchemy as sa

from campaign_core import Actor, CampaignCore, FakeClock
from campaign_core.models import DeliveryStatus
from campaign_core.query import Eq
from campaign_core.testing.helpers import T0
from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.conftest import backend_params, make_store
from tests.delivery._broadcast_worker import SENT_TABLE, work
from tests.delivery.helpers import OWNER, broadcast_campaign, seed_audience

FANS = 2000
WORKERS = 2


@pytest.mark.parametrize("backend", backend_params(["postgres", "mariadb"]))
def test_two_workers_deliver_one_broadcast_exactly_once(backend: str) -> None:
    store = make_store(backend)
    assert isinstance(store, SqlAlchemyStore)
    fans = seed_audience(store, FANS)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SENT_TABLE}")
        conn.exec_driver_sql(
            f"CREATE TABLE {SENT_TABLE} (idem_key VARCHAR(191) PRIMARY KEY, "
            "fan_id VARCHAR(191) NOT NULL, worker VARCHAR(32) NOT NULL)"
        )
    core = CampaignCore(store, clock=FakeClock(T0))
    ws = core.for_actor(Actor(OWNER))
    campaign = broadcast_campaign(ws)
    ws.campaigns.launch_campaign(campaign.id)
    url = store.engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=work, args=(url, f"w{i}", campaign.id, start, results))
        for i in range(WORKERS)
    ]
    for p in processes:
        p.start()
    stats = []
    try:
        for _ in processes:
            stats.append(results.get(timeout=300))
    except queue.Empty:
        pytest.fail(f"workers did not finish; got {stats}")
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    assert all(not s["errors"] for s in stats), stats
    assert sum(s["duplicates"] for s in stats) == 0, stats
    assert sum(s["sent"] for s in stats) == FANS, stats
    with store.engine.connect() as conn:
        sent = conn.execute(sa.text(f"SELECT fan_id FROM {SENT_TABLE}")).scalars().all()
        conn.exec_driver_sql(f"DROP TABLE {SENT_TABLE}")
        conn.commit()
    assert sorted(sent) == fans
    with store.unit_of_work() as uow:
        rows = uow.deliveries.find(Eq("campaign_id", campaign.id))
    assert len(rows) == FANS
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.status, status.audience, status.sent) == ("done", FANS, FANS)
    store.close()
