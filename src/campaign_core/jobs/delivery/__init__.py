"""The broadcast job: a campaign's message delivered to the fans of its segments.

See :mod:`campaign_core.jobs.delivery._broadcast` for the three steps (snapshot,
send, budget); ``tick()`` calls :func:`process_broadcasts`, the campaign service
calls the lifecycle functions.
"""

from campaign_core.jobs.delivery._broadcast import (
    DeliveryCounts as DeliveryCounts,
)
from campaign_core.jobs.delivery._broadcast import (
    DeliveryRun as DeliveryRun,
)
from campaign_core.jobs.delivery._broadcast import (
    broadcast_counts as broadcast_counts,
)
from campaign_core.jobs.delivery._broadcast import (
    cancel_broadcast as cancel_broadcast,
)
from campaign_core.jobs.delivery._broadcast import (
    idempotency_key as idempotency_key,
)
from campaign_core.jobs.delivery._broadcast import (
    process_broadcasts as process_broadcasts,
)
from campaign_core.jobs.delivery._broadcast import (
    start_broadcast as start_broadcast,
)

__all__: list[
    str
] = []  # building blocks of tick() and the services; DeliveryCounts is public in campaign_core.services
