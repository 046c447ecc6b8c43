"""Provider feedback on a delivery: which events move it, and where to (pure).

Statuses only move forward (``sent`` < ``delivered`` < ``opened`` < ``clicked``):
an ``opened`` reported after ``clicked`` changes nothing, a ``clicked`` without an
``opened`` before it sets both times. A hard bounce fails a delivery that had not
been opened yet; a soft bounce, a complaint or an unsubscribe leaves its status
(they act on the suppression list and consent instead).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from campaign_core.models import Delivery, DeliveryStatus

__all__ = ["BOUNCE_KINDS", "FEEDBACK_TYPES", "feedback_changes", "suppresses"]

FEEDBACK_TYPES: Final = ("delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
"""The delivery events a host reports (``ws.fans.record_delivery_events``)."""

BOUNCE_KINDS: Final = ("hard", "soft")
"""A ``bounced`` event's ``bounce``: hard (the address is dead) or soft (try later)."""

_TARGET: Final = {
    "delivered": DeliveryStatus.DELIVERED,
    "opened": DeliveryStatus.OPENED,
    "clicked": DeliveryStatus.CLICKED,
}
_STAMP: Final = {
    DeliveryStatus.DELIVERED: "delivered_at",
    DeliveryStatus.OPENED: "opened_at",
    DeliveryStatus.CLICKED: "clicked_at",
}


def suppresses(event_type: str, bounce: str | None) -> str | None:
    """The suppression reason an event puts the address under, if any."""
    if event_type == "bounced" and bounce == "hard":
        return "hard_bounce"
    if event_type == "complained":
        return "complaint"
    return None


def feedback_changes(
    delivery: Delivery, event_type: str, bounce: str | None, at: datetime
) -> dict[str, Any]:
    """The fields of ``delivery`` an event changes (empty: nothing moves).

    Progress events set their status when it is further than the current one and
    stamp every time the delivery skipped (``clicked`` straight after ``sent`` stamps
    ``delivered_at`` and ``opened_at`` too, when unset). A hard bounce fails a
    delivery that was sent or delivered (reason ``hard_bounce``). Deliveries that
    are not out (queued, sending) or already ended (failed, suppressed, cancelled)
    do not move.
    """
    current = delivery.status
    if current.rank < DeliveryStatus.SENT.rank:  # queued, sending, or a final outcome
        return {}
    target = _TARGET.get(event_type)
    if target is not None:
        if target.rank <= current.rank:
            return {}
        changes: dict[str, Any] = {"status": target, "reason": None}
        for status, stamp in _STAMP.items():
            if status.rank <= target.rank and getattr(delivery, stamp) is None:
                changes[stamp] = at
        return changes
    if (
        event_type == "bounced"
        and bounce == "hard"
        and current.rank <= DeliveryStatus.DELIVERED.rank
    ):
        return {"status": DeliveryStatus.FAILED, "reason": "hard_bounce", "failed_at": at}
    return {}
