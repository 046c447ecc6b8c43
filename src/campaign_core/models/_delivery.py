"""Audience delivery records: broadcasts, per-fan deliveries, consent, suppression, feedback.

These are our additions (not seed tables). A *broadcast* is a campaign's
message going to its audience; each fan and channel gets one *delivery* row,
exactly once (unique on campaign, fan and channel). Consent is kept per fan,
channel and topic, with its history; the suppression list keeps addresses as
keyed hashes only; provider feedback is stored once per provider event id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum

__all__ = [
    "Broadcast",
    "BroadcastStatus",
    "ConsentEvent",
    "Delivery",
    "DeliveryEvent",
    "DeliveryStatus",
    "FanConsent",
    "Suppression",
    "SuppressionReason",
    "UnsubscribeTokenUse",
]


class BroadcastStatus(StrEnum):
    """Where a campaign's broadcast is.

    ``snapshotting``: the audience is being copied into delivery rows (batch by
    batch); ``delivering``: the snapshot is complete and queued rows are being
    sent; ``paused`` waits for ``resume_campaign``; ``done`` and ``cancelled``
    are final.
    """

    SNAPSHOTTING = "snapshotting"
    DELIVERING = "delivering"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)


class DeliveryStatus(StrEnum):
    """Where one message to one fan is.

    The progress statuses are ordered (``queued`` < ``sending`` < ``sent`` <
    ``delivered`` < ``opened`` < ``clicked``): provider feedback only moves a
    delivery forward. ``failed``, ``suppressed`` and ``cancelled`` are final
    outcomes with a reason.
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        """The position in the progress order; -1 for the final outcomes without progress."""
        return _RANK.get(self, -1)

    @property
    def pending(self) -> bool:
        """Not handed to the messenger yet (``queued`` or ``sending``)."""
        return self in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.OPENED: 4,
    DeliveryStatus.CLICKED: 5,
}


class SuppressionReason(StrEnum):
    """Why an address is on an account's suppression list."""

    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    UNSUBSCRIBE = "unsubscribe"


@attrs.frozen(kw_only=True)
class Broadcast:
    """A campaign's message going to its audience (table ``broadcasts``).

    ``id`` is the campaign's id (one broadcast per campaign, found by primary key).

    Attributes:
        id: the campaign's id.
        campaign_id: the campaign (same as ``id``).
        owner_id: the campaign's account.
        message: the message spec (``channel``, ``template`` or content,
            ``topic``, ``variables``, ``sendAtLocal``, ``fallbackChannels``).
        status: see :class:`BroadcastStatus`.
        cursor: the key of the last fan enqueued by the snapshot (None before
            the first batch); the next batch starts after it.
        audience_size: fans enqueued so far (the audience once the snapshot is done).
        snapshot_at: when the snapshot started (membership is as of then).
        audience_criteria: the campaign's audience as criteria (the segments'
            criteria language, canonical JSON) instead of its segments; None:
            the segments' members.
        lease_owner / lease_until: the worker snapshotting it right now.
        created_at / updated_at: when the row was made and last changed.
        version: the row version.
    """

    id: str
    campaign_id: str
    owner_id: str
    message: dict[str, Any] = attrs.field(factory=dict)
    status: BroadcastStatus = attrs.field(
        default=BroadcastStatus.SNAPSHOTTING, converter=BroadcastStatus
    )
    cursor: str | None = None
    audience_size: int = 0
    snapshot_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    audience_criteria: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Delivery:
    """One message to one fan on one channel (table ``message_deliveries``).

    Unique on (``campaign_id``, ``fan_id``, ``channel``): a fan gets a
    campaign's message at most once per channel. The table is the message log of
    every send path (what frequency caps count): a workflow step's or
    ``execute_action``'s message is a ``sent`` row whose ``campaign_id`` is
    ``workflow:<hash of the step visit's key>`` (never a campaign's id).

    Attributes:
        id: the delivery's id.
        campaign_id / owner_id / fan_id: the campaign, its account, the fan
            (the host's fan id).
        channel: ``dm``, ``email``, ``sms``, ``push``...
        topic: the subscription topic the message belongs to, if any.
        status: see :class:`DeliveryStatus`.
        reason: why it failed, was suppressed or cancelled (``no_consent``,
            ``suppressed``, ``no_address``, ``hard_bounce``...).
        send_at: when it is due (the fan's local send time resolved to UTC).
        attempts: send attempts so far.
        next_attempt_at: when a failed attempt is retried.
        lease_owner / lease_until: the worker sending it right now.
        idempotency_key: ``<campaignId>:<fanId>:<channel>``, passed to the messenger.
        provider_message_id: the messenger's id for the message once sent.
        locale: the locale the message was rendered in.
        cost: what the send cost (counted toward the campaign's budget).
        created_at / updated_at: when the row was made and last changed.
        sent_at / delivered_at / opened_at / clicked_at / failed_at: when it
            reached each status.
        version: the row version.
    """

    id: str
    campaign_id: str
    owner_id: str
    fan_id: str
    channel: str
    topic: str | None = None
    status: DeliveryStatus = attrs.field(default=DeliveryStatus.QUEUED, converter=DeliveryStatus)
    reason: str | None = None
    send_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    idempotency_key: str
    provider_message_id: str | None = None
    locale: str | None = None
    cost: float | None = None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    failed_at: datetime | None = None
    version: int = 1


@attrs.frozen(kw_only=True)
class FanConsent:
    """A fan's current consent for one channel and topic (table ``fan_consents``).

    Unique on (``owner_id``, ``fan_id``, ``channel``, ``topic``). A fan without
    a record has the topic's default (opt-in: refused, opt-out: granted).

    Attributes:
        source: where the decision came from (``preference_center``,
            ``unsubscribe_link``, ``import``, ``api``, ``admin``...).
        reason: the fan's or operator's words, if any.
    """

    id: str
    owner_id: str
    fan_id: str
    channel: str
    topic: str
    granted: bool
    source: str
    reason: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One change of a fan's consent, kept as history (table ``consent_events``).

    ``actor_id`` is who made the change (None for an unsubscribe link, where
    the signed token is the authority).
    """

    id: str
    owner_id: str
    fan_id: str
    channel: str
    topic: str
    granted: bool
    source: str
    reason: str | None = None
    actor_id: str | None = None
    at: datetime


@attrs.frozen(kw_only=True)
class Suppression:
    """An address nothing is sent to (table ``suppressions``).

    Unique on (``owner_id``, ``channel``, ``address_hash``). The address is
    kept as a keyed hash (HMAC with the host's key), never in clear.

    Attributes:
        reason: see :class:`SuppressionReason`.
        fan_id: the fan whose address it was, when known.
        source: what put it there (a provider event id, an actor), if known.
    """

    id: str
    owner_id: str
    channel: str
    address_hash: str
    reason: SuppressionReason = attrs.field(converter=SuppressionReason)
    fan_id: str | None = None
    source: str | None = None
    created_at: datetime


@attrs.frozen(kw_only=True)
class UnsubscribeTokenUse:
    """An unsubscribe token already used (table ``unsubscribe_token_uses``).

    ``id`` is the token's ``jti``; a second use of the token changes nothing.
    Rows can be purged once ``expires_at`` has passed (the token is refused then anyway).
    """

    id: str
    owner_id: str
    used_at: datetime
    expires_at: datetime


@attrs.frozen(kw_only=True)
class DeliveryEvent:
    """One piece of provider feedback (table ``delivery_events``).

    Unique on (``provider``, ``provider_event_id``): a provider's event
    reported twice is stored and applied once.

    Attributes:
        type: ``delivered``, ``bounced``, ``complained``, ``opened``,
            ``clicked`` or ``unsubscribed``.
        provider_message_id: the message it is about.
        delivery_id: the delivery it was matched to (None: no delivery has
            that provider message id).
        at: when it happened (the provider's time, aware UTC).
        payload: the rest of the event (bounce kind, link, user agent...).
    """

    id: str
    owner_id: str
    provider: str
    provider_event_id: str
    type: str
    provider_message_id: str | None = None
    delivery_id: str | None = None
    at: datetime
    payload: dict[str, Any] = attrs.field(factory=dict)
    created_at: datetime
