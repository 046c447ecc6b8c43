"""Claims with leases: concurrent worker processes take every due item exactly once; expired leases are taken over."""

from __future__ import annotations

import multiprocessing
import queue
from datetime import timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from campaign_core.errors import ConflictError
from campaign_core.models import PublishJob
from campaign_core.query import Eq, Order
from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.conftest import backend_params, make_store
from tests.storage._race_worker import DONE_TABLE, LEASE, T0, work

ITEMS = 10_000
DEAD_LEASES = 1_000  # leased by a worker that died: expired, to be taken over
LIVE_LEASES = 100  # leased by a worker elsewhere that is still running: left alone
WORKERS = 4


def _job(i: int, **changes: Any) -> PublishJob:
    return PublishJob(
        id=f"job-{i:05d}",
        campaign_id=f"camp-{i % 97}",
        owner_id="owner-1",
        platform="instagram",
        content_version=1,
        idempotency_key=f"camp-{i}:instagram:v1",
        created_at=T0,
        updated_at=T0,
        **changes,
    )


def _seed(store: SqlAlchemyStore) -> tuple[set[str], set[str]]:
    jobs = []
    for i in range(ITEMS + LIVE_LEASES):
        if i < DEAD_LEASES:
            jobs.append(_job(i, lease_owner="dead-worker", lease_until=T0 - timedelta(minutes=1)))
        elif i >= ITEMS:
            jobs.append(_job(i, lease_owner="busy-elsewhere", lease_until=T0 + timedelta(hours=1)))
        else:
            jobs.append(_job(i))
    with store.unit_of_work() as uow:
        uow.publish_jobs.add_many(jobs)
        uow.commit()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {DONE_TABLE}")
        conn.exec_driver_sql(
            f"CREATE TABLE {DONE_TABLE} (job_id VARCHAR(191) PRIMARY KEY, worker VARCHAR(191) NOT NULL)"
        )
    due = {j.id for j in jobs[:ITEMS]}
    held = {j.id for j in jobs[ITEMS:]}
    return due, held


@pytest.mark.parametrize("backend", backend_params(["postgres", "mariadb"]))
def test_four_worker_processes_process_every_due_item_exactly_once(backend: str) -> None:
    """4 spawned processes claim 10,000 due jobs in leased batches: none twice, none lost, live leases untouched."""
    store = make_store(backend)
    assert isinstance(store, SqlAlchemyStore)
    due, held = _seed(store)
    url = store.engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=work, args=(url, f"w{i}", 50, start, results)) for i in range(WORKERS)
    ]
    for p in processes:
        p.start()
    stats = []
    try:
        for _ in processes:
            stats.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"workers did not finish in time; got {stats}")
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    assert sum(s["duplicates"] for s in stats) == 0
    assert sum(s["conflicts"] for s in stats) == 0
    assert sum(s["processed"] for s in stats) == ITEMS
    assert all(s["processed"] > 0 for s in stats), stats  # they really ran side by side
    with store.engine.connect() as conn:
        done = conn.execute(sa.text(f"SELECT job_id FROM {DONE_TABLE}")).scalars().all()
        conn.exec_driver_sql(f"DROP TABLE {DONE_TABLE}")
        conn.commit()
    assert len(done) == ITEMS
    assert set(done) == due
    with store.unit_of_work() as uow:
        assert uow.publish_jobs.count(Eq("status", "published")) == ITEMS
        untouched = uow.publish_jobs.find(Eq("lease_owner", "busy-elsewhere"))
    assert {j.id for j in untouched} == held
    assert all(j.status == "pending" and j.version == 1 for j in untouched)
    store.close()


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgres", "mariadb"]))
def test_expired_lease_is_taken_over_and_the_stale_holder_cannot_finish(backend: str) -> None:
    """After a lease expires another worker takes the job; the first holder's late write is a ConflictError."""
    store = make_store(backend)
    with store.unit_of_work() as uow:
        uow.publish_jobs.add(_job(1))
        uow.commit()

    def claim(owner: str, now: Any) -> list[PublishJob]:
        with store.unit_of_work() as uow:
            got = uow.publish_jobs.claim(
                Eq("status", "pending"),
                order_by=[Order("id")],
                limit=10,
                owner=owner,
                until=now + LEASE,
                now=now,
            )
            uow.commit()
        return got

    (first,) = claim("a", T0)
    assert claim("b", T0 + LEASE / 2) == []  # the lease still holds
    (second,) = claim("b", T0 + LEASE)  # expired exactly now: free
    assert (second.lease_owner, second.version) == ("b", first.version + 1)
    with store.unit_of_work() as uow:
        with pytest.raises(ConflictError) as late:
            uow.publish_jobs.update(
                attrs.evolve(first, status="published", version=first.version + 1)
            )
        uow.publish_jobs.update(
            attrs.evolve(second, status="published", version=second.version + 1)
        )
        uow.commit()
    assert late.value.details["reason"] == "stale"
    with store.unit_of_work() as uow:
        stored = uow.publish_jobs.get(first.id)
    assert stored is not None
    assert (stored.status, stored.lease_owner) == ("published", "b")
    store.close()


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgres", "mariadb"]))
def test_claim_limits_and_orders(backend: str) -> None:
    """A claim takes at most `limit` due items in order, and a zero limit takes nothing."""
    store = make_store(backend)
    with store.unit_of_work() as uow:
        uow.publish_jobs.add_many([_job(i) for i in (3, 1, 2)])
        uow.commit()
    with store.unit_of_work() as uow:
        assert (
            uow.publish_jobs.claim(
                Eq("status", "pending"),
                order_by=[Order("id")],
                limit=0,
                owner="w",
                until=T0 + LEASE,
                now=T0,
            )
            == []
        )
        got = uow.publish_jobs.claim(
            Eq("status", "pending"),
            order_by=[Order("id", descending=True)],
            limit=2,
            owner="w",
            until=T0 + LEASE,
            now=T0,
        )
    assert [j.id for j in got] == ["job-00003", "job-00002"]
    store.close()
