"""A worker process for the claim race (imported by spawned children, so it lives in a module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import sqlalchemy as sa

from campaign_core.errors import ConflictError
from campaign_core.query import Eq, Order

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=5)
DONE_TABLE = "race_done"


def work(url: str, name: str, batch: int, start: Any, results: Any) -> None:
    """Claim due jobs in batches until none is left; mark each done and log who did it.

    The log is a table whose primary key is the job id, written in the same
    transaction as the job's version-checked update: a job processed twice
    would fail that insert and be counted as a duplicate.
    """
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(url)
    stats = {"worker": name, "processed": 0, "duplicates": 0, "conflicts": 0, "batches": 0}
    insert = sa.text(f"INSERT INTO {DONE_TABLE} (job_id, worker) VALUES (:job_id, :worker)")
    start.wait(timeout=60)
    try:
        while True:
            with store.unit_of_work() as uow:
                jobs = uow.publish_jobs.claim(
                    Eq("status", "pending"),
                    order_by=[Order("id")],
                    limit=batch,
                    owner=name,
                    until=T0 + LEASE,
                    now=T0,
                )
                uow.commit()
            if not jobs:
                break
            stats["batches"] += 1
            try:
                with store.unit_of_work() as uow:
                    for job in jobs:
                        uow.publish_jobs.update(
                            attrs.evolve(
                                job,
                                status="published",
                                attempts=job.attempts + 1,
                                lease_owner=None,
                                lease_until=None,
                                version=job.version + 1,
                            )
                        )
                    uow.connection.execute(  # type: ignore[attr-defined]
                        insert, [{"job_id": j.id, "worker": name} for j in jobs]
                    )
                    uow.commit()
                stats["processed"] += len(jobs)
            except ConflictError:
                stats["conflicts"] += 1
            except sa.exc.IntegrityError:
                stats["duplicates"] += 1
    finally:
        store.close()
        results.put(stats)
