"""Broadcasts: a campaign's message delivered to each fan of its segments, through ``tick()``.

1. **Snapshot and send.** At launch the broadcast's ``snapshot_at`` is set; each
   ``tick()`` then takes the next ``settings.messaging.snapshot_batch_size`` members
   of the campaign's segments, in ``fan_id`` order after the broadcast's cursor.
   Members are the segments' stored members, which is what ``in_segment`` means to
   every audience evaluator, read by an indexed range on ``fan_id`` (memory flat in
   the audience). Fans who join a segment after their place in the snapshot was
   passed are not messaged; fans who leave it are still messaged unless the policy
   refuses them at send time (opted out, consent refused, address suppressed, erased).
   When the campaign is active and fans of the batch are due now (``send_at``: the
   launch, or the fan's next local ``sendAtLocal``), one transaction reads the batch
   with its fans, consent, suppressions (and recent sends, with frequency caps: one
   query each), reserves the batch's budget and throttle tokens, and leases the
   broadcast to this worker; the policy decides per fan, the messenger is called
   outside any transaction with the idempotency key
   ``<campaignId>:<fanId>:<channel>``, and a second transaction writes each fan's
   delivery row once, in its final state (``sent``, ``suppressed``, ``failed``; or
   ``queued`` when deferred, due later, retried or past the batch's quota), moves
   the cursor, releases the lease and adds the spend. A crash between the two leaves
   the cursor where it was: once the lease expires the batch is read and sent again
   with the same keys, exactly once at a deduplicating messenger. Otherwise (a
   paused campaign, nothing due, no quota left) one transaction writes the batch's
   rows ``queued`` and moves the cursor.
2. **Queued sends.** Due queued deliveries of active campaigns are claimed with a
   lease (``FOR UPDATE SKIP LOCKED`` where the store has it) with the batch's budget,
   throttle tokens, fans, consent and suppressions in one transaction, sent, and
   their outcomes (and the spend) written in one more: one claim, one query each,
   one UPDATE of the outcomes per batch. Failures retry with the publishing backoff
   up to ``settings.messaging.max_attempts``.
3. **Throttle and budget.** ``settings.messaging.rate_per_second`` is a token bucket
   per account and channel kept in the store (``rate_limits``), so every worker draws
   from the same one; a batch reserves its tokens at once and gives back what it did
   not use. Each send adds its channel's ``cost_per_message`` to the campaign's spend
   through :func:`~campaign_core.jobs.budget.apply_spend`, which pauses the campaign
   at its budget; a batch never sends more than the budget left pays for.

A paused campaign's deliveries wait (its snapshot goes on); a cancelled or
completed campaign's queued deliveries are cancelled.
"""

from __future__ import annotations

import hashlib
import logging
import math
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.audience import audience_for, registry_for
from campaign_core.criteria import Criteria
from campaign_core.delivery import (
    Defer,
    Send,
    SendPolicy,
    Suppress,
    parse_clock,
    send_at_local,
)
from campaign_core.errors import CampaignCoreError, ConflictError, ProblemCollector
from campaign_core.jobs.budget import apply_spend
from campaign_core.jobs.consent import (
    ConsentSnapshot,
    load_consent,
    message_unsubscribe,
    wants_unsubscribe,
)
from campaign_core.jobs.messages import render_for_send, resolve_template
from campaign_core.jobs.sending import recent_sends
from campaign_core.messages import RenderedMessage
from campaign_core.models import (
    Broadcast,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Fan,
    MessageTemplate,
)
from campaign_core.ports import send_through
from campaign_core.query import And, Eq, Gt, In, Lte, Order

__all__ = [
    "DeliveryCounts",
    "DeliveryRun",
    "broadcast_counts",
    "cancel_broadcast",
    "idempotency_key",
    "process_broadcasts",
    "start_broadcast",
]

_log = logging.getLogger("campaign_core.delivery")

B = BroadcastStatus
D = DeliveryStatus
_OPEN: Final = (B.SNAPSHOTTING, B.DELIVERING, B.PAUSED)
_SENT: Final = (D.SENT, D.DELIVERED, D.OPENED, D.CLICKED)
#: ids per IN (...) and rows per update_many: a whole batch in one statement, within
#: every database's parameter limit (SQLite 32,766, PostgreSQL and MariaDB 65,535)
_CHUNK: Final = 5000
_WRITE_FIELDS: Final = (
    "status",
    "reason",
    "send_at",
    "attempts",
    "next_attempt_at",
    "lease_owner",
    "lease_until",
    "provider_message_id",
    "cost",
    "locale",
    "updated_at",
    "sent_at",
    "failed_at",
)


def idempotency_key(campaign_id: str, fan_id: str, channel: str) -> str:
    """The messenger's idempotency key of one broadcast message: ``<campaignId>:<fanId>:<channel>``."""
    return f"{campaign_id}:{fan_id}:{channel}"


@attrs.frozen
class DeliveryCounts:
    """Where a campaign's broadcast is (``ws.campaigns.get_delivery_status``).

    Attributes:
        campaign_id: the campaign.
        status: the broadcast's status (``snapshotting``, ``delivering``,
            ``paused``, ``done``, ``cancelled``), or ``not_launched``.
        audience: fans in the snapshot so far (all of them once it is done).
        queued: waiting to be sent (due later, deferred, paused or retrying).
        sent / delivered / opened / clicked: how far each message got (a message
            counts once, at the furthest step; ``sent`` counts every message the
            messenger accepted, the others are included in it).
        failed: messages that failed after every retry.
        suppressed: fans not messaged (``reasons`` says why).
        cancelled: messages cancelled before they were sent.
        reasons: suppressed, failed and cancelled messages per reason.
    """

    campaign_id: str
    status: str
    audience: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    reasons: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class DeliveryRun:
    """What one ``tick()`` did to broadcasts.

    Attributes:
        enqueued: delivery rows the snapshots wrote.
        sent: messages the messenger accepted.
        suppressed: messages the policy refused.
        deferred: messages moved later (quiet hours, frequency caps).
        failed: attempts that failed (retried or given up).
        errors: (campaign id, message) of broadcasts that failed this tick.
    """

    enqueued: int = 0
    sent: int = 0
    suppressed: int = 0
    deferred: int = 0
    failed: int = 0
    errors: tuple[tuple[str, str], ...] = ()


# -------------------------------------------------------------------------- lifecycle


def start_broadcast(tx: Tx, rt: Runtime, campaign: Campaign) -> None:
    """At launch: the campaign's broadcast (if it has a message) starts its snapshot."""
    broadcast = tx.uow.broadcasts.get(campaign.id)
    if broadcast is None or broadcast.snapshot_at is not None or broadcast.status.finished:
        return
    now = rt.now()
    tx.uow.broadcasts.update(
        attrs.evolve(
            broadcast,
            status=B.SNAPSHOTTING,
            snapshot_at=now,
            updated_at=now,
            version=broadcast.version + 1,
        )
    )


def cancel_broadcast(tx: Tx, rt: Runtime, campaign_id: str, reason: str) -> None:
    """The broadcast stops for good; its queued deliveries are cancelled by the next ticks."""
    broadcast = tx.uow.broadcasts.get(campaign_id)
    if broadcast is None or broadcast.status.finished:
        return
    tx.uow.broadcasts.update(
        attrs.evolve(
            broadcast,
            status=B.CANCELLED,
            cursor=broadcast.cursor,
            message={**broadcast.message, "_cancelReason": reason},
            updated_at=rt.now(),
            version=broadcast.version + 1,
        )
    )


def broadcast_counts(tx: Tx, campaign_id: str) -> DeliveryCounts:
    """The campaign's delivery counts (one count query per status and per reason present)."""
    broadcast = tx.uow.broadcasts.get(campaign_id)
    if broadcast is None:
        return DeliveryCounts(campaign_id, "not_launched")
    rows = tx.uow.deliveries
    mine = Eq("campaign_id", campaign_id)
    by_status = {s: rows.count(And(mine, Eq("status", s))) for s in D}
    reasons: dict[str, int] = {}
    for status in (D.SUPPRESSED, D.FAILED, D.CANCELLED):
        if by_status[status]:
            for row in _distinct_reasons(tx, campaign_id, status):
                reasons[row] = reasons.get(row, 0) + rows.count(
                    And(mine, Eq("status", status), Eq("reason", row))
                )
    queued = by_status[D.QUEUED] + by_status[D.SENDING]
    cancelled = by_status[D.CANCELLED]
    if broadcast.status is B.CANCELLED and queued:
        # cancelled at once; the rows are marked by the next ticks
        reason = str(broadcast.message.get("_cancelReason") or "campaign_cancelled")
        reasons[reason] = reasons.get(reason, 0) + queued
        cancelled, queued = cancelled + queued, 0
    state = broadcast.status.value if broadcast.snapshot_at is not None else "not_launched"
    return DeliveryCounts(
        campaign_id=campaign_id,
        status=state,
        audience=broadcast.audience_size,
        queued=queued,
        sent=sum(by_status[s] for s in _SENT),
        delivered=sum(by_status[s] for s in (D.DELIVERED, D.OPENED, D.CLICKED)),
        opened=by_status[D.OPENED] + by_status[D.CLICKED],
        clicked=by_status[D.CLICKED],
        failed=by_status[D.FAILED],
        suppressed=by_status[D.SUPPRESSED],
        cancelled=cancelled,
        reasons=dict(sorted(reasons.items())),
    )


def _distinct_reasons(tx: Tx, campaign_id: str, status: DeliveryStatus) -> list[str]:
    """The reasons present among a campaign's deliveries in ``status`` (walked reason by reason)."""
    out: list[str] = []
    rows = tx.uow.deliveries
    where: Any = And(Eq("campaign_id", campaign_id), Eq("status", status))
    last: str | None = None
    while True:
        cond = where if last is None else And(where, Gt("reason", last))
        page = rows.find(cond, order_by=[Order("reason")], limit=1)
        if not page or page[0].reason is None:
            if not page:
                return out
            # a row without a reason sorts first: skip it by asking for reasons after ""
            if last is None:
                last = ""
                continue
            return out
        last = page[0].reason
        out.append(last)


# -------------------------------------------------------------------------- the tick


def process_broadcasts(rt: Runtime, limit: int) -> DeliveryRun:
    """One tick's work on every open broadcast: snapshot batches, then sends, then closing.

    ``limit`` bounds the sends per broadcast (the tick's batch size); a broadcast
    that fails is reported in ``errors`` and the others go on.
    """
    now = rt.now()
    with rt.transaction(read_only=True) as tx:
        open_ = tx.uow.broadcasts.find(
            In("status", list(_OPEN)), order_by=[Order("created_at"), Order("id")]
        )
        campaigns = _campaigns(tx, [b.campaign_id for b in open_])
    run = _Totals()
    for broadcast in open_:
        if broadcast.snapshot_at is None:
            continue  # not launched yet
        try:
            _advance(rt, broadcast, campaigns.get(broadcast.campaign_id), limit, now, run)
        except ConflictError:
            continue  # another worker moved it meanwhile: its turn
        except CampaignCoreError as error:  # one broadcast never stops the others
            _log.warning("broadcast %s failed: %s", broadcast.id, error)
            run.errors.append((broadcast.campaign_id, f"{type(error).__name__}: {error}"))
    with rt.transaction(read_only=True) as tx:
        cancelled = tx.uow.broadcasts.find(
            And(Eq("status", B.CANCELLED)), order_by=[Order("id")], limit=50
        )
    for broadcast in cancelled:
        try:
            _cancel_queued(rt, broadcast, limit * 10)
        except ConflictError:
            continue
    return run.result()


@attrs.define
class _Totals:
    enqueued: int = 0
    sent: int = 0
    suppressed: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = attrs.field(factory=list)

    def result(self) -> DeliveryRun:
        return DeliveryRun(
            self.enqueued,
            self.sent,
            self.suppressed,
            self.deferred,
            self.failed,
            tuple(self.errors),
        )


def _campaigns(tx: Tx, ids: Sequence[str]) -> dict[str, Campaign]:
    out: dict[str, Campaign] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _CHUNK):
        for campaign in tx.uow.campaigns.find(In("id", unique[start : start + _CHUNK])):
            out[campaign.id] = campaign
    return out


def _advance(
    rt: Runtime,
    broadcast: Broadcast,
    campaign: Campaign | None,
    limit: int,
    now: datetime,
    run: _Totals,
) -> None:
    if campaign is None or campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
        reason = "campaign_deleted" if campaign is None else f"campaign_{campaign.status.value}"
        with rt.transaction() as tx:
            cancel_broadcast(tx, rt, broadcast.id, reason)
        return
    active = campaign.status is CampaignStatus.ACTIVE
    if broadcast.status is B.SNAPSHOTTING:
        broadcast, limit = _snapshot(rt, broadcast, campaign, now, run, limit)
    if broadcast.status is B.DELIVERING and not active:
        broadcast = _set_status(rt, broadcast, B.PAUSED)
    elif broadcast.status is B.PAUSED and active:
        broadcast = _set_status(rt, broadcast, B.DELIVERING)
    if not active:
        return
    _send_due(rt, broadcast, campaign, limit, run)
    if broadcast.status is B.DELIVERING:
        with rt.transaction(read_only=True) as tx:
            pending = tx.uow.deliveries.count(
                And(Eq("campaign_id", broadcast.id), In("status", [D.QUEUED, D.SENDING]))
            )
        if not pending:
            _set_status(rt, broadcast, B.DONE)


def _set_status(rt: Runtime, broadcast: Broadcast, status: BroadcastStatus) -> Broadcast:
    with rt.transaction() as tx:
        current = tx.uow.broadcasts.get(broadcast.id)
        if current is None or current.status is not broadcast.status:
            return current or broadcast
        updated = attrs.evolve(
            current, status=status, updated_at=rt.now(), version=current.version + 1
        )
        tx.uow.broadcasts.update(updated)
        return updated


# -------------------------------------------------------------------------- quota


def _quota(
    tx: Tx, rt: Runtime, campaign: Campaign, channel: str, want: int, now: datetime
) -> tuple[int, Campaign]:
    """How many of ``want`` messages this batch may send: the budget left, then the throttle.

    Reads the campaign afresh when its sends cost something against a budget (a
    campaign no longer active sends nothing), and reserves the tokens of the
    account's channel throttle for the whole batch at once (one write, shared by
    every worker through the store); :func:`_give_back` returns what the batch
    did not use.
    """
    settings = rt.settings.messaging
    cost = float(settings.cost(channel))
    if want > 0 and cost > 0 and campaign.budget is not None:
        fresh = tx.uow.campaigns.get(campaign.id)
        if fresh is None or fresh.status is not CampaignStatus.ACTIVE:
            return 0, campaign
        campaign = fresh
        assert campaign.budget is not None
        affordable = math.floor((campaign.budget - campaign.spent) / cost + 1e-9)
        # the send that reaches the budget goes; then the campaign pauses
        want = min(want, max(affordable, 1))
    rate = settings.rate_per_second.get(channel)
    if want > 0 and rate is not None:
        want = rt.limiter.take_messages(tx, campaign.user_id, channel, rate, want, now)
    return want, campaign


def _give_back(tx: Tx, rt: Runtime, owner_id: str, channel: str, unused: int) -> None:
    """Return the throttle tokens a batch reserved and did not use (nothing without a throttle)."""
    rate = rt.settings.messaging.rate_per_second.get(channel)
    if unused > 0 and rate is not None:
        rt.limiter.refund_messages(tx, owner_id, channel, rate, unused)


def _spend(tx: Tx, rt: Runtime, campaign: Campaign, cost: float, sent: int) -> Campaign:
    """Add the batch's sends to the campaign's spend (which pauses it at its budget)."""
    if not sent or cost <= 0:
        return campaign
    current = tx.uow.campaigns.get(campaign.id)
    return campaign if current is None else apply_spend(tx, rt, current, cost * sent)


# -------------------------------------------------------------------------- snapshot


def _snapshot(
    rt: Runtime,
    broadcast: Broadcast,
    campaign: Campaign,
    now: datetime,
    run: _Totals,
    limit: int,
) -> tuple[Broadcast, int]:
    """The next batch of the audience: each fan decided, sent when due, and written once.

    Returns the broadcast after the batch and how many more messages the tick may
    send (``limit`` less those the batch handed to the messenger; none when the
    budget or the throttle cut the batch).

    When the campaign is active and some of the batch is due now, the first
    transaction reads the members after the cursor (fan ids only), their fans,
    consent and suppressions, reserves the batch's budget and throttle, and leases
    the broadcast to this worker; the messenger is called outside any transaction;
    the second writes one delivery row per fan in its final state (``sent``,
    ``suppressed``, ``failed``, or ``queued`` when deferred, due later, retried or
    past the batch's quota), moves the cursor and releases the lease. A crash
    between the two leaves the cursor where it was: once the lease expires the
    batch is read and sent again with the same idempotency keys. Otherwise (a
    paused campaign, nothing due now, no quota) one transaction writes the batch's
    rows ``queued``.
    """
    settings = rt.settings.messaging
    size = settings.snapshot_batch_size
    message = broadcast.message
    channel = str(message["channel"])
    local = message.get("sendAtLocal")
    at = parse_clock(local, "message.sendAtLocal", ProblemCollector()) if local else None
    policy = SendPolicy(settings, rt.settings.automation.default_time_zone)
    reference = broadcast.snapshot_at or now
    active = campaign.status is CampaignStatus.ACTIVE
    owner = campaign.user_id
    with rt.transaction() as tx:
        current = tx.uow.broadcasts.get(broadcast.id)
        if current is None or current.version != broadcast.version:
            raise ConflictError("broadcast moved", details={"reason": "stale"})
        if (
            current.lease_owner not in (None, rt.worker_id)
            and current.lease_until is not None
            and current.lease_until > now
        ):
            return current, limit  # another worker is sending its next batch
        fan_ids, exhausted = _members(tx, rt, campaign, current, size)
        fans = _fans(tx, owner, fan_ids) if fan_ids and (active or at is not None) else {}
        if at is None:
            when: list[datetime] = [reference] * len(fan_ids)
        else:
            when = [send_at_local(reference, at, policy.zone(fans.get(f))) for f in fan_ids]
        due = [i for i, w in enumerate(when) if w <= now] if active else []
        quota = 0
        if due:
            quota, campaign = _quota(tx, rt, campaign, channel, min(len(due), limit), now)
            if quota < min(len(due), limit):
                limit = 0  # the budget or the throttle cut the batch: nothing more this tick
        keys = [idempotency_key(campaign.id, f, channel) for f in fan_ids]
        if not quota:
            rows = [
                _new_row(campaign, message, f, k, w, now, {})
                for f, k, w in zip(fan_ids, keys, when, strict=True)
            ]
            updated = _moved(current, fan_ids, exhausted, len(rows), now)
            tx.uow.broadcasts.update(updated)
            if rows:
                tx.uow.deliveries.add_many(rows)
            run.enqueued += len(rows)
            return updated, limit
        leased = attrs.evolve(
            current,
            lease_owner=rt.worker_id,
            lease_until=now + rt.settings.lease_duration,
            updated_at=now,
            version=current.version + 1,
        )
        tx.uow.broadcasts.update(leased)
        context = _load_context(tx, rt, owner, message, [fan_ids[i] for i in due], now, fans)
    targets = [(fan_ids[i], keys[i], 0) for i in due]
    outcomes, sent, used = _decide_and_send(rt, campaign, message, targets, context, quota, run)
    changes: list[Mapping[str, Any]] = [{}] * len(fan_ids)
    for i, outcome in zip(due, outcomes, strict=True):
        if outcome is not None:
            changes[i] = outcome
    rows = [
        _new_row(campaign, message, f, k, w, now, c)
        for f, k, w, c in zip(fan_ids, keys, when, changes, strict=True)
    ]
    cost = float(settings.cost(channel))
    with rt.transaction() as tx:
        current = tx.uow.broadcasts.get(broadcast.id)
        if (
            current is None
            or current.lease_owner != rt.worker_id
            or current.cursor != leased.cursor
        ):
            # the lease expired and another worker took the batch: its rows are its own
            raise ConflictError("broadcast lease lost", details={"reason": "stale"})
        updated = _moved(current, fan_ids, exhausted, len(rows), now)
        tx.uow.broadcasts.update(updated)
        tx.uow.deliveries.add_many(rows)
        _give_back(tx, rt, owner, channel, quota - used)
        _spend(tx, rt, campaign, cost, sent)
    run.enqueued += len(rows)
    return updated, limit - used if limit else 0


def _members(
    tx: Tx, rt: Runtime, campaign: Campaign, broadcast: Broadcast, size: int
) -> tuple[list[str], bool]:
    """The next ``size`` fan ids of the audience after the cursor, and whether they are the last.

    The audience is the broadcast's ``audience_criteria`` when it has them (the
    fans matching them, evaluated at the snapshot's start, walked from the cursor
    by the store's audience queries), else the campaign's segments' members.
    """
    cursor = broadcast.cursor
    if broadcast.audience_criteria:
        criteria = Criteria.from_json(
            broadcast.audience_criteria, registry=registry_for(rt.settings)
        )
        found = audience_for(tx.uow).fan_ids_matching(
            campaign.user_id,
            criteria,
            now=broadcast.snapshot_at or rt.now(),
            registry=registry_for(rt.settings),
            limit=size + 1,
            after=cursor,
        )
        return found[:size], len(found) <= size
    if not campaign.segment_ids:
        return [], True
    where: Any = In("segment_id", list(campaign.segment_ids))
    if cursor is not None:
        where = And(where, Gt("fan_id", cursor))
    # a fan in several segments has one row per segment: read enough rows for
    # ``size`` fans, and stop at ``size`` (the cursor skips the rest of a fan's rows)
    asked = size * max(1, len(campaign.segment_ids))
    members = tx.uow.segment_members.find(where, order_by=[Order("fan_id")], limit=asked)
    distinct = list(dict.fromkeys(m.fan_id for m in members))
    return distinct[:size], len(members) < asked and len(distinct) <= size


def _moved(
    current: Broadcast, fan_ids: Sequence[str], exhausted: bool, written: int, now: datetime
) -> Broadcast:
    """The broadcast after a batch: the cursor past it, the lease released, done snapshotting when exhausted."""
    status = current.status
    if exhausted and status is B.SNAPSHOTTING:
        status = B.DELIVERING
    return attrs.evolve(
        current,
        cursor=fan_ids[-1] if fan_ids else current.cursor,
        audience_size=current.audience_size + written,
        status=status,
        lease_owner=None,
        lease_until=None,
        updated_at=now,
        version=current.version + 1,
    )


def _new_row(
    campaign: Campaign,
    message: Mapping[str, Any],
    fan_id: str,
    key: str,
    when: datetime,
    now: datetime,
    changes: Mapping[str, Any],
) -> Delivery:
    """A fan's delivery row as the snapshot writes it: ``queued`` at ``when``, or its outcome."""
    fields: dict[str, Any] = {
        "id": _delivery_id(key),
        "campaign_id": campaign.id,
        "owner_id": campaign.user_id,
        "fan_id": fan_id,
        "channel": str(message["channel"]),
        "topic": message.get("topic"),
        "send_at": when,
        "next_attempt_at": when,
        "idempotency_key": key,
        "created_at": now,
        "updated_at": now,
    }
    fields.update(changes)
    return Delivery(**fields)


def _delivery_id(key: str) -> str:
    """A delivery's id, derived from its idempotency key (one per campaign, fan and channel)."""
    return "dlv" + hashlib.sha256(key.encode()).hexdigest()[:28]


def _fans(tx: Tx, owner_id: str, fan_ids: Sequence[str]) -> dict[str, Fan]:
    out: dict[str, Fan] = {}
    for start in range(0, len(fan_ids), _CHUNK):
        chunk = list(fan_ids[start : start + _CHUNK])
        for fan in tx.uow.fans.find(And(Eq("owner_id", owner_id), In("fan_id", chunk))):
            out[fan.fan_id] = fan
    return out


# -------------------------------------------------------------------------- send


def _send_due(
    rt: Runtime,
    broadcast: Broadcast,
    campaign: Campaign,
    limit: int,
    run: _Totals,
) -> None:
    """Queued deliveries that are due (deferred, retried, due later, paused, past a quota), claimed in batches."""
    settings = rt.settings.messaging
    message = broadcast.message
    channel = str(message["channel"])
    cost = float(settings.cost(channel))
    remaining = limit
    while remaining > 0:
        now = rt.now()
        with rt.transaction() as tx:
            # the budget, the throttle, the claim and what the policy needs, in one transaction
            asked = remaining
            want, campaign = _quota(tx, rt, campaign, channel, asked, now)
            if want <= 0:
                return
            claimed = tx.uow.deliveries.claim(
                And(
                    Eq("campaign_id", campaign.id),
                    Eq("status", D.QUEUED),
                    Lte("send_at", now),
                ),
                order_by=[Order("send_at"), Order("fan_id")],
                limit=want,
                owner=rt.worker_id,
                until=now + rt.settings.lease_duration,
                now=now,
            )
            _give_back(tx, rt, campaign.user_id, channel, want - len(claimed))
            if not claimed:
                return
            fan_ids = [d.fan_id for d in claimed]
            context = _load_context(tx, rt, campaign.user_id, message, fan_ids, now)
        targets = [(d.fan_id, d.idempotency_key, d.attempts) for d in claimed]
        outcomes, sent, used = _decide_and_send(
            rt, campaign, message, targets, context, len(claimed), run
        )
        written = [_written(d, c) for d, c in zip(claimed, outcomes, strict=True) if c is not None]
        with rt.transaction() as tx:  # the outcomes, the unused tokens and the spend together
            for start in range(0, len(written), _CHUNK):
                tx.uow.deliveries.update_many(written[start : start + _CHUNK], fields=_WRITE_FIELDS)
            _give_back(tx, rt, campaign.user_id, channel, len(claimed) - used)
            campaign = _spend(tx, rt, campaign, cost, sent)
        remaining -= len(claimed)
        if sent and cost > 0 and campaign.status is not CampaignStatus.ACTIVE:
            return
        if len(claimed) < want or want < asked:
            return  # the queue is dry, or the budget or the throttle cut the batch


@attrs.frozen
class _Context:
    """What the policy needs about a batch, read in one transaction."""

    fans: Mapping[str, Fan]
    consent: ConsentSnapshot
    recent: Mapping[str, Sequence[datetime]]
    template: MessageTemplate | None


def _load_context(
    tx: Tx,
    rt: Runtime,
    owner: str,
    message: Mapping[str, Any],
    fan_ids: Sequence[str],
    now: datetime,
    fans: Mapping[str, Fan] | None = None,
) -> _Context:
    """The batch's fans (unless given), their consent and suppressions, their recent sends, the template.

    One query each for the batch.
    """
    settings = rt.settings.messaging
    chain = settings.channel_chain(str(message["channel"]), message.get("fallbackChannels"))
    if fans is None:
        fans = _fans(tx, owner, fan_ids)
    mine = [fans[f] for f in fan_ids if f in fans]
    snapshot = load_consent(tx, rt, owner, mine, chain)
    recent: Mapping[str, Sequence[datetime]] = {}
    if settings.frequency_caps:
        # the earliest period any cap counts in, in any zone (UTC less a day covers
        # +14); the policy keeps only what falls in each fan's own periods
        utc = zoneinfo.ZoneInfo("UTC")
        since = min(c.period(now, utc).start for c in settings.frequency_caps) - timedelta(days=1)
        # the message log every send path writes (workflow messages count too)
        recent = recent_sends(tx, owner, fan_ids, since)
    name = message.get("template")
    template = resolve_template(tx.uow, owner, str(name)) if name else None  # once per batch
    return _Context(fans, snapshot, recent, template)


def _decide_and_send(
    rt: Runtime,
    campaign: Campaign,
    message: Mapping[str, Any],
    targets: Sequence[tuple[str, str, int]],
    context: _Context,
    quota: int,
    run: _Totals,
) -> tuple[list[dict[str, Any] | None], int, int]:
    """Decide, render and send a batch of (fan id, idempotency key, attempts so far).

    Returns each target's outcome (the fields its delivery row takes; None when it
    stays queued and due because the batch's ``quota`` of messages was used up), how
    many the messenger accepted, and how many of the quota were used (sends tried).
    """
    settings = rt.settings.messaging
    policy = SendPolicy(settings, rt.settings.automation.default_time_zone)
    topic = message.get("topic")
    chain = settings.channel_chain(str(message["channel"]), message.get("fallbackChannels"))
    fans, snapshot, recent = context.fans, context.consent, context.recent
    outcomes: list[dict[str, Any] | None] = [None] * len(targets)
    sends: list[tuple[int, Fan, Send]] = []
    now = rt.now()  # the batch's decisions are taken now; each send notes its own time
    for index, (fan_id, _key, _attempts) in enumerate(targets):
        if len(sends) >= quota:
            break
        fan = fans.get(fan_id)
        consent, suppressed = snapshot.for_fan(fan_id)
        decision = policy.decide(
            fan=fan,
            channels=chain,
            topic=topic,
            now=now,
            consent=consent,
            suppressed=suppressed,
            addresses=snapshot.addresses.get(fan_id),  # the address book's
            recent_sends=recent.get(fan_id, ()),
        )
        if isinstance(decision, Suppress):
            outcomes[index] = {"status": D.SUPPRESSED, "reason": decision.reason, "updated_at": now}
            run.suppressed += 1
        elif isinstance(decision, Defer):
            outcomes[index] = {
                "send_at": decision.until,
                "next_attempt_at": decision.until,
                "updated_at": now,
            }
            run.deferred += 1
        else:
            assert fan is not None
            sends.append((index, fan, decision))
    shared = {**dict(message.get("variables") or {}), "campaignId": campaign.id}
    name = str(message.get("template") or "inline")
    # each message's own unsubscribe token (for the fan, account, channel and topic)
    wants = wants_unsubscribe(rt, context.template is not None)
    unsubs = [
        message_unsubscribe(rt, campaign.user_id, f.fan_id, d.channel, topic, targets[i][1])
        if wants
        else None
        for i, f, d in sends
    ]
    links = [u.get("url") if u is not None else None for u in unsubs]
    rendered = _render(rt, campaign, context.template, [f for _, f, _ in sends], shared, links)
    sent = 0
    for (index, fan, decision), page, unsub in zip(sends, rendered, unsubs, strict=True):
        _fan_id, key, attempts = targets[index]
        now = rt.now()
        if page is not None and not page.ok:
            # the template cannot render for this fan (a missing variable, too long...): final
            outcomes[index] = {
                "status": D.FAILED,
                "reason": f"render_{page.reason}",
                "attempts": attempts + 1,
                "failed_at": now,
                "updated_at": now,
            }
            run.failed += 1
            continue
        parts = page.parts if page is not None else message.get("content")
        try:
            provider_id = send_through(
                rt.messenger,
                owner_id=campaign.user_id,
                fan_id=fan.fan_id,
                template=name,
                variables={**shared, "fanId": fan.fan_id},
                idempotency_key=key,
                channel=decision.channel,
                address=decision.address,
                parts=parts,
                unsubscribe=unsub,
            )
        except Exception as error:  # any failure is an attempt to retry, never the batch's end
            run.failed += 1
            if attempts + 1 >= settings.max_attempts:
                outcomes[index] = {
                    "status": D.FAILED,
                    "reason": "send_failed",
                    "attempts": attempts + 1,
                    "failed_at": now,
                    "updated_at": now,
                }
            else:
                retry = now + rt.settings.publish_retry.backoff(attempts + 1)
                outcomes[index] = {
                    "attempts": attempts + 1,
                    "send_at": retry,
                    "next_attempt_at": retry,
                    "reason": f"{type(error).__name__}: {error}"[:300],
                    "updated_at": now,
                }
            continue
        sent += 1
        run.sent += 1
        outcomes[index] = {
            "status": D.SENT,
            "reason": None if decision.channel == message["channel"] else f"via_{decision.channel}",
            "attempts": attempts + 1,
            "provider_message_id": str(provider_id),
            "locale": page.locale if page is not None else None,
            "cost": float(settings.cost(decision.channel)),
            "sent_at": now,
            "updated_at": now,
        }
    return outcomes, sent, len(sends)


def _written(delivery: Delivery, changes: Mapping[str, Any]) -> Delivery:
    """A claimed ``delivery`` with its outcome, its lease released and its version bumped."""
    return attrs.evolve(
        delivery, lease_owner=None, lease_until=None, version=delivery.version + 1, **changes
    )


def _render(
    rt: Runtime,
    campaign: Campaign,
    template: MessageTemplate | None,
    fans: Sequence[Fan],
    variables: Mapping[str, Any],
    links: Sequence[str | None],
) -> list[RenderedMessage | None]:
    """Each fan's rendered parts (issue 18's templates), or None when the host renders.

    Inline ``content`` and template names the account does not know (nor the
    built-ins) go to the messenger as they are; so does everything without the
    ``templates`` extra. The template was looked up with the batch.
    """
    if template is None:
        return [None] * len(fans)
    return [
        render_for_send(
            rt,
            None,
            owner_id=campaign.user_id,
            fan=fan,
            template=template,
            variables=variables,
            campaign=campaign,
            unsubscribe_url=link,
        )
        for fan, link in zip(fans, links, strict=True)
    ]


def _cancel_queued(rt: Runtime, broadcast: Broadcast, limit: int) -> None:
    reason = str(broadcast.message.get("_cancelReason") or "campaign_cancelled")
    with rt.transaction() as tx:
        rows = tx.uow.deliveries.find(
            And(Eq("campaign_id", broadcast.id), Eq("status", D.QUEUED)),
            order_by=[Order("fan_id")],
            limit=limit,
        )
        now = rt.now()
        changed = [
            attrs.evolve(
                d,
                status=D.CANCELLED,
                reason=reason,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
                version=d.version + 1,
            )
            for d in rows
        ]
        for start in range(0, len(changed), _CHUNK):
            tx.uow.deliveries.update_many(
                changed[start : start + _CHUNK],
                fields=("status", "reason", "lease_owner", "lease_until", "updated_at"),
            )
