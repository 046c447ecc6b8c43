"""Tracking data in the fans' privacy calls: erasure anonymizes it, the export lists it."""

from __future__ import annotations

from typing import Any

from campaign_core._runtime import Runtime, Tx
from campaign_core._tracking_fallback import chunked, tracking_aggregates
from campaign_core.models import TrackingEventRecord
from campaign_core.query import And, Eq, In, Order
from campaign_core.serialization import to_json
from campaign_core.services.analytics._base import forget_cached

__all__ = ["register_analytics_hooks"]


def register_analytics_hooks(rt: Runtime) -> None:
    """Plug tracking data into ``fans.erase_fan`` and ``fans.export_fan`` (idempotent).

    Erasure replaces the fan's id in their tracking events by the erasure
    token (one token per erased fan, so reach, a count of distinct fans,
    stays right); the export lists the fan's tracking events.
    """
    if any(getattr(h, "_campaign_core_analytics", False) for h in rt.fan_erase_hooks):
        return

    def erase(tx: Tx, fan: Any, token: str) -> dict[str, int]:
        ids = [c.id for c in tx.uow.campaigns.find(Eq("user_id", fan.owner_id))]
        changed = tracking_aggregates(tx.uow).anonymize_fan(ids, fan.fan_id, token) if ids else 0
        owner = fan.owner_id
        tx.after_commit.append(lambda: forget_cached(rt, owner, [*ids, "*"]))
        return {"tracking_events_anonymized": changed}

    def export(tx: Tx, fan: Any) -> dict[str, Any]:
        ids = [c.id for c in tx.uow.campaigns.find(Eq("user_id", fan.owner_id))]
        events: list[TrackingEventRecord] = []
        for chunk in chunked(ids):
            events.extend(
                tx.uow.tracking_events.find(
                    And(In("campaign_id", chunk), Eq("fan_id", fan.fan_id)),
                    order_by=[Order("occurred_at"), Order("id")],
                )
            )
        events.sort(key=lambda e: (e.occurred_at, e.id))
        return {"trackingEvents": to_json(events)}

    setattr(erase, "_campaign_core_analytics", True)  # noqa: B010 - a marker on a closure
    rt.fan_erase_hooks.append(erase)
    rt.fan_export_hooks.append(export)
