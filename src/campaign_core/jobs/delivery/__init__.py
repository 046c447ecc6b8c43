"""The broadcast job: a campaign's message delivered to the fans of its segments.

See :mod:`campaign_core.jobs.delivery._broadcast` for the three steps (snapshot,
send, budget); ``tick()`` calls :func:`process_broadcasts`, the campaign service
calls the lifecycle functions.
"""

from campaign_core.jobs.delivery._broadcast import (
    DeliveryCounts,
    DeliveryRun,
    broadcast_counts,
    cancel_broadcast,
    idempotency_key,
    process_broadcasts,
    start_broadcast,
)

__all__ = [
    "DeliveryCounts",
    "DeliveryRun",
    "broadcast_counts",
    "cancel_broadcast",
    "idempotency_key",
    "process_broadcasts",
    "start_broadcast",
]
