"""Retention: ``core.tick()`` deletes audit and delivery records older than the settings say.

It also deletes the HTTP layer's expired idempotency records (keys older than
``idempotency_hours``, signed requests past their window), which are always purged.

:class:`~campaign_core.settings.RetentionSettings` gives an age per kind
(``None``, the default, keeps a kind forever). Each tick deletes at most
``batch_size`` rows of each kind, oldest first: per kind one ``SELECT`` of the
ids (``LIMIT batch_size``) and one ``DELETE ... WHERE id IN (...)``, in one
short transaction, so a purge never holds locks for long and a backlog drains
over the following ticks.

What is never purged:

- an audit record younger than ``audit_records_days``;
- a delivery row that is not final (``queued``, ``sending``): it is still work;
- any delivery row of a broadcast that has not finished (``snapshotting``,
  ``delivering``, ``paused``): the rows are what stops the snapshot from
  messaging a fan twice (one row per campaign, fan and channel);
- a delivery row sent inside the longest frequency-cap period of
  ``settings.messaging`` (plus a day for time zones): broadcasts count those
  sends against the caps. Workflows count their own sends from their step
  history, so they need no delivery rows.

Raw tracking events are not purged: the hourly roll-up
(:mod:`campaign_core.jobs.rollup`) recomputes its cumulative snapshots and the
live metrics from them, so a purge would lower both.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Final

import attrs

from campaign_core._runtime import Runtime
from campaign_core.jobs.idempotency import purge_expired_records
from campaign_core.models import BroadcastStatus, DeliveryStatus
from campaign_core.query import And, Cond, In, Lt, NotIn, Order

__all__ = ["RetentionReport", "purge_expired"]

D = DeliveryStatus
#: Delivery statuses no worker changes again (feedback may still mark a sent one opened).
FINAL_DELIVERY: Final = (
    D.SENT,
    D.DELIVERED,
    D.OPENED,
    D.CLICKED,
    D.FAILED,
    D.SUPPRESSED,
    D.CANCELLED,
)
FINISHED_BROADCAST: Final = (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)


@attrs.frozen(kw_only=True)
class RetentionReport:
    """What one retention run deleted (part of ``TickReport``).

    Attributes:
        audit_records: audit records deleted.
        deliveries: delivery rows deleted.
        idempotency_records: expired idempotency keys and signed requests seen deleted.
    """

    audit_records: int = 0
    deliveries: int = 0
    idempotency_records: int = 0


def purge_expired(rt: Runtime, now: datetime) -> RetentionReport:
    """Delete one bounded batch of each expired kind (see the module docs).

    Args:
        rt: the core's runtime (its settings and store).
        now: the tick's instant.

    Returns:
        How many rows of each kind were deleted.
    """
    retention = rt.settings.retention
    audit = deliveries = 0
    if retention.audit_records_days is not None:
        cutoff = now - timedelta(days=retention.audit_records_days)
        audit = _purge_audit(rt, cutoff, retention.batch_size)
    if retention.deliveries_days is not None:
        cutoff = min(now - timedelta(days=retention.deliveries_days), _cap_floor(rt, now))
        deliveries = _purge_deliveries(rt, cutoff, retention.batch_size)
    keys = purge_expired_records(rt, now, retention.batch_size)
    return RetentionReport(audit_records=audit, deliveries=deliveries, idempotency_records=keys)


def _purge_audit(rt: Runtime, cutoff: datetime, batch: int) -> int:
    with rt.transaction() as tx:
        rows = tx.uow.audit_records.find(
            Lt("at", cutoff), order_by=[Order("at"), Order("id")], limit=batch
        )
        if rows:
            tx.uow.audit_records.delete_where(In("id", [r.id for r in rows]))
    return len(rows)


def _cap_floor(rt: Runtime, now: datetime) -> datetime:
    """The earliest send a broadcast's frequency caps still count (``now`` without caps)."""
    caps = rt.settings.messaging.frequency_caps
    if not caps:
        return now
    utc = zoneinfo.ZoneInfo("UTC")
    return min(c.period(now, utc).start for c in caps) - timedelta(days=1)


def _purge_deliveries(rt: Runtime, cutoff: datetime, batch: int) -> int:
    with rt.transaction() as tx:
        running = tx.uow.broadcasts.find(NotIn("status", FINISHED_BROADCAST))
        conds: list[Cond] = [In("status", FINAL_DELIVERY), Lt("updated_at", cutoff)]
        if running:
            conds.append(NotIn("campaign_id", sorted({b.campaign_id for b in running})))
        rows = tx.uow.deliveries.find(
            And(*conds), order_by=[Order("updated_at"), Order("id")], limit=batch
        )
        if rows:
            tx.uow.deliveries.delete_where(In("id", [r.id for r in rows]))
    return len(rows)
