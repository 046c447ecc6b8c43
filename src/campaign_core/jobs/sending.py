"""The message log every send path shares: what frequency caps count.

Every message the core sends is a row of ``message_deliveries``: a broadcast's rows
are its deliveries; a workflow's ``send_message`` (or custom messaging) step and
``execute_action`` log one ``sent`` row per message (:func:`logged_send`), with the
campaign id ``workflow:<hash of the step visit's key>`` (never a campaign's id) and
the step visit's idempotency key. :func:`recent_sends` reads the log for a batch of
fans in one query: broadcasts and workflows count the same messages against the same
caps (:meth:`~campaign_core.delivery.SendPolicy.timing`), so a fan capped by a
broadcast is capped in workflows too, and the other way round.

The rows also carry the provider's message id, so the host's delivery events
(``ws.fans.record_delivery_events``) find workflow messages as they find a
broadcast's: a hard bounce of a workflow message suppresses the address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from campaign_core._runtime import Tx
from campaign_core.models import Delivery, DeliveryStatus
from campaign_core.query import And, Eq, Gte, In

__all__: list[str] = []  # building blocks of the send paths

WORKFLOW_PREFIX: Final = "workflow:"
"""The campaign id prefix of the log rows of workflow and ``execute_action`` sends."""

_SENT: Final = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.OPENED,
    DeliveryStatus.CLICKED,
)
_CHUNK: Final = 5000  # fan ids per IN (...), within every database's parameter limit
_KEY_MAX: Final = 191  # KeyText on MariaDB


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def logged_send(
    *,
    owner_id: str,
    fan_id: str,
    channel: str,
    topic: str | None,
    key: str,
    provider_message_id: str | None,
    now: datetime,
    locale: str | None = None,
) -> Delivery:
    """The log row of one message a workflow step (or ``execute_action``) sent.

    Args:
        key: the step visit's idempotency key (``<run>:<step>:<visit>``), which the
            messenger got: the row's id and campaign id derive from it, so logging
            the same send twice finds the first row.
    """
    digest = _digest(key)
    return Delivery(
        id="dlw" + digest[:28],
        campaign_id=WORKFLOW_PREFIX + digest[:40],
        owner_id=owner_id,
        fan_id=fan_id,
        channel=channel,
        topic=topic,
        status=DeliveryStatus.SENT,
        send_at=now,
        attempts=1,
        idempotency_key=key if len(key) <= _KEY_MAX else "sha256:" + digest,
        provider_message_id=provider_message_id,
        locale=locale,
        created_at=now,
        updated_at=now,
        sent_at=now,
    )


def log_sends(tx: Tx, rows: Sequence[Delivery], *, checked: bool = False) -> None:
    """Write log rows in one batch.

    Args:
        checked: skip the rows already there (``execute_action`` called twice
            with the same idempotency key); the engine's rows are new by
            construction (a step visit is recorded once).
    """
    if checked and rows:
        have = {r.id for r in tx.uow.deliveries.find(In("id", [r.id for r in rows]))}
        rows = [r for r in rows if r.id not in have]
    if rows:
        tx.uow.deliveries.add_many(list(rows))


def recent_sends(
    tx: Tx, owner_id: str, fan_ids: Sequence[str], since: datetime
) -> dict[str, list[datetime]]:
    """When each fan was messaged since ``since``, by any send path (one query per 5,000 fans)."""
    out: dict[str, list[datetime]] = {}
    ids = list(dict.fromkeys(fan_ids))
    for start in range(0, len(ids), _CHUNK):
        for past in tx.uow.deliveries.find(
            And(
                Eq("owner_id", owner_id),
                In("fan_id", ids[start : start + _CHUNK]),
                Gte("sent_at", since),
            )
        ):
            if past.sent_at is not None and past.status in _SENT:
                out.setdefault(past.fan_id, []).append(past.sent_at)
    return out
