"""Broadcasts: a campaign's message delivered to each fan of its segments, through ``tick()``.

1. **Snapshot.** At launch the broadcast's ``snapshot_at`` is set; each ``tick()``
   then copies the next ``settings.messaging.snapshot_batch_size`` members of the
   campaign's segments, in ``fan_id`` order after the broadcast's cursor, into
   ``queued`` delivery rows (``send_at``: now, or the fan's next local
   ``sendAtLocal``) and moves the cursor, in one transaction. Members are the
   segments' stored members, which is what ``in_segment`` means to every audience
   evaluator, read by an indexed range on ``fan_id`` (memory flat in the audience).
   Fans who join a segment after their place in the snapshot was passed are not
   messaged; fans who leave it are still messaged unless the policy refuses them at
   send time (opted out, consent refused, address suppressed, erased).
2. **Send.** Due queued deliveries of active campaigns are claimed with a lease
   (``FOR UPDATE SKIP LOCKED`` where the store has it), the policy decides per fan
   (consent, suppression and recent sends loaded in one query each for the batch),
   the account's channel throttle grants tokens, the messenger is called outside any
   transaction with the idempotency key ``<campaignId>:<fanId>:<channel>``, and the
   outcomes (and the spend) are written in one transaction: per batch, one claim, one
   query each for fans, consent and suppressions, one UPDATE of the outcomes. When
   nothing throttles the batch (an active campaign, no rate for the channel, no budget
   to check), the snapshot writes the rows it makes due now already leased to this
   worker and reads their fans, consent and suppressions in its own transaction, and
   the send in the same ``tick()`` takes them without a claim. A crash between the
   send and the write sends again with the same key once the lease expires: exactly once at a
   deduplicating messenger. Failures retry with the publishing backoff up to
   ``settings.messaging.max_attempts``.
3. **Budget.** Each send adds its channel's ``cost_per_message`` to the campaign's
   spend through :func:`~campaign_core.jobs.budget.apply_spend`, which pauses the
   campaign at its budget; a batch never sends more than the budget left pays for.

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
from campaign_core.jobs.consent import ConsentSnapshot, fan_address, load_consent
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
    handed: _Handed | None = None
    if broadcast.status is B.SNAPSHOTTING:
        broadcast, handed = _snapshot(
            rt, broadcast, campaign, now, run, limit if _may_hand(rt, broadcast, campaign) else 0
        )
    if broadcast.status is B.DELIVERING and not active:
        broadcast = _set_status(rt, broadcast, B.PAUSED)
    elif broadcast.status is B.PAUSED and active:
        broadcast = _set_status(rt, broadcast, B.DELIVERING)
    if not active:
        return
    _send_due(rt, broadcast, campaign, limit, run, handed)
    if broadcast.status is B.DELIVERING:
        with rt.transaction(read_only=True) as tx:
            pending = tx.uow.deliveries.count(
                And(Eq("campaign_id", broadcast.id), In("status", [D.QUEUED, D.SENDING]))
            )
        if not pending:
            _set_status(rt, broadcast, B.DONE)


def _may_hand(rt: Runtime, broadcast: Broadcast, campaign: Campaign) -> bool:
    """Whether the snapshot may lease its due rows to this worker for the send that follows.

    Only when nothing else limits the batch: the campaign is active, its channel has
    no throttle and its sends no budget to check (then the send claims as usual).
    """
    settings = rt.settings.messaging
    channel = str(broadcast.message["channel"])
    if campaign.status is not CampaignStatus.ACTIVE or channel in settings.rate_per_second:
        return False
    return not (float(settings.cost(channel)) > 0 and campaign.budget is not None)


@attrs.frozen
class _Handed:
    """Delivery rows the snapshot wrote already leased to this worker, with their context."""

    rows: Sequence[Delivery]
    context: _Context


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


# -------------------------------------------------------------------------- snapshot


def _snapshot(
    rt: Runtime,
    broadcast: Broadcast,
    campaign: Campaign,
    now: datetime,
    run: _Totals,
    hand: int,
) -> tuple[Broadcast, _Handed | None]:
    """Copy the next batch of the audience into delivery rows and move the cursor (one transaction).

    Up to ``hand`` rows due now are written already leased to this worker, and what
    the policy needs about them is read in the same transaction: the send that
    follows in this tick takes them without a claim. Should the worker stop before
    sending, their lease ends and any worker claims them, as any claimed row.
    """
    lease = (rt.worker_id, now + rt.settings.lease_duration)
    size = rt.settings.messaging.snapshot_batch_size
    message = broadcast.message
    channel = str(message["channel"])
    topic = message.get("topic")
    local = message.get("sendAtLocal")
    at = parse_clock(local, "message.sendAtLocal", ProblemCollector()) if local else None
    policy = SendPolicy(rt.settings.messaging, rt.settings.automation.default_time_zone)
    reference = broadcast.snapshot_at or now
    with rt.transaction() as tx:
        current = tx.uow.broadcasts.get(broadcast.id)
        if current is None or current.version != broadcast.version:
            raise ConflictError("broadcast moved", details={"reason": "stale"})
        where: Any = In("segment_id", list(campaign.segment_ids))
        if current.cursor is not None:
            where = And(where, Gt("fan_id", current.cursor))
        # a fan in several segments has one row per segment: read enough rows for
        # ``size`` fans, and stop at ``size`` (the cursor skips the rest of a fan's rows)
        asked = size * max(1, len(campaign.segment_ids))
        members = (
            tx.uow.segment_members.find(where, order_by=[Order("fan_id")], limit=asked)
            if campaign.segment_ids
            else []
        )
        distinct = list(dict.fromkeys(m.fan_id for m in members))
        fan_ids = distinct[:size]
        exhausted = len(members) < asked and len(distinct) <= size
        # fans are read only for their time zones; an erased fan is found at send time
        fans = _fans(tx, campaign.user_id, fan_ids) if at is not None else {}
        rows = []
        handed: list[Delivery] = []
        for fan_id in fan_ids:
            when = reference
            if at is not None:
                when = send_at_local(reference, at, policy.zone(fans.get(fan_id)))
            key = idempotency_key(campaign.id, fan_id, channel)
            owner, until = lease if len(handed) < hand and when <= now else (None, None)
            rows.append(
                Delivery(
                    id=_delivery_id(key),
                    campaign_id=campaign.id,
                    owner_id=campaign.user_id,
                    fan_id=fan_id,
                    channel=channel,
                    topic=topic,
                    send_at=when,
                    next_attempt_at=when,
                    idempotency_key=key,
                    lease_owner=owner,
                    lease_until=until,
                    created_at=now,
                    updated_at=now,
                )
            )
            if owner is not None:
                handed.append(rows[-1])
        if rows:
            tx.uow.deliveries.add_many(rows)
        context = _load_context(tx, rt, campaign.user_id, message, handed, now) if handed else None
        updated = attrs.evolve(
            current,
            cursor=fan_ids[-1] if fan_ids else current.cursor,
            audience_size=current.audience_size + len(rows),
            status=B.DELIVERING if exhausted else B.SNAPSHOTTING,
            updated_at=now,
            version=current.version + 1,
        )
        tx.uow.broadcasts.update(updated)
    run.enqueued += len(rows)
    run.suppressed += sum(1 for r in rows if r.status is D.SUPPRESSED)
    return updated, (_Handed(handed, context) if context is not None else None)


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
    handed: _Handed | None = None,
) -> None:
    settings = rt.settings.messaging
    message = broadcast.message
    channel = str(message["channel"])
    rate = settings.rate_per_second.get(channel)
    cost = float(settings.cost(channel))
    remaining = limit
    if handed is not None:  # the snapshot's rows, leased and read with it: no claim
        sent, campaign = _send_batch(rt, campaign, message, handed.rows, handed.context, cost, run)
        remaining -= len(handed.rows)
        if sent and cost > 0 and campaign.status is not CampaignStatus.ACTIVE:
            return
    while remaining > 0:
        now = rt.now()
        bucket = f"{campaign.user_id}:{channel}"
        with rt.transaction() as tx:
            # the budget, the claim and what the policy needs, in one transaction
            want = remaining
            if cost > 0 and campaign.budget is not None:
                fresh = tx.uow.campaigns.get(campaign.id)
                if fresh is None or fresh.status is not CampaignStatus.ACTIVE:
                    return
                campaign = fresh
                assert campaign.budget is not None
                affordable = math.floor((campaign.budget - campaign.spent) / cost + 1e-9)
                # the send that reaches the budget goes; then the campaign pauses
                want = min(want, max(affordable, 1))
            if rate is not None:
                want = rt.limiter.messages.take(bucket, rate, want, now)
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
            if rate is not None and len(claimed) < want:
                rt.limiter.messages.refund(bucket, want - len(claimed))
            if not claimed:
                return
            context = _load_context(tx, rt, campaign.user_id, message, claimed, now)
        sent, campaign = _send_batch(rt, campaign, message, claimed, context, cost, run)
        remaining -= len(claimed)
        if sent and cost > 0 and campaign.status is not CampaignStatus.ACTIVE:
            return
        if len(claimed) < want:
            return


@attrs.frozen
class _Context:
    """What the policy needs about a claimed batch, read with the claim."""

    fans: Mapping[str, Fan]
    consent: ConsentSnapshot
    recent: Mapping[str, Sequence[datetime]]


def _load_context(
    tx: Tx,
    rt: Runtime,
    owner: str,
    message: Mapping[str, Any],
    claimed: Sequence[Delivery],
    now: datetime,
) -> _Context:
    """The batch's fans, their consent and suppressions, and their recent sends (one query each)."""
    settings = rt.settings.messaging
    chain = settings.channel_chain(str(message["channel"]), message.get("fallbackChannels"))
    fan_ids = [d.fan_id for d in claimed]
    fans = _fans(tx, owner, fan_ids)
    snapshot = load_consent(tx, rt, owner, list(fans.values()), chain)
    recent: Mapping[str, Sequence[datetime]] = {}
    if settings.frequency_caps:
        # the earliest period any cap counts in, in any zone (UTC less a day covers
        # +14); the policy keeps only what falls in each fan's own periods
        utc = zoneinfo.ZoneInfo("UTC")
        since = min(c.period(now, utc).start for c in settings.frequency_caps) - timedelta(days=1)
        # the message log every send path writes (workflow messages count too)
        recent = recent_sends(tx, owner, fan_ids, since)
    return _Context(fans, snapshot, recent)


def _send_batch(
    rt: Runtime,
    campaign: Campaign,
    message: Mapping[str, Any],
    claimed: Sequence[Delivery],
    context: _Context,
    cost: float,
    run: _Totals,
) -> tuple[int, Campaign]:
    """Decide, send and record one claimed batch; how many were sent, and the campaign after its spend."""
    settings = rt.settings.messaging
    policy = SendPolicy(settings, rt.settings.automation.default_time_zone)
    topic = message.get("topic")
    chain = settings.channel_chain(str(message["channel"]), message.get("fallbackChannels"))
    fans, snapshot, recent = context.fans, context.consent, context.recent
    outcomes: list[Delivery] = []
    sends: list[tuple[Delivery, Fan, Send]] = []
    for delivery in claimed:
        now = rt.now()
        fan = fans.get(delivery.fan_id)
        consent, suppressed = snapshot.for_fan(delivery.fan_id)
        decision = policy.decide(
            fan=fan,
            channels=chain,
            topic=topic,
            now=now,
            consent=consent,
            suppressed=suppressed,
            addresses={c: fan_address(fan, c, settings) for c in chain} if fan else None,
            recent_sends=recent.get(delivery.fan_id, ()),
        )
        if isinstance(decision, Suppress):
            outcomes.append(_written(delivery, now, status=D.SUPPRESSED, reason=decision.reason))
            run.suppressed += 1
        elif isinstance(decision, Defer):
            outcomes.append(
                _written(delivery, now, send_at=decision.until, next_attempt_at=decision.until)
            )
            run.deferred += 1
        else:
            assert fan is not None
            sends.append((delivery, fan, decision))
    shared = {**dict(message.get("variables") or {}), "campaignId": campaign.id}
    template = str(message.get("template") or "inline")
    rendered = _render(rt, campaign, message, [(f, s.channel) for _, f, s in sends], shared)
    sent = 0
    for (delivery, fan, decision), page in zip(sends, rendered, strict=True):
        now = rt.now()
        if page is not None and not page.ok:
            # the template cannot render for this fan (a missing variable, too long...): final
            outcomes.append(
                _written(
                    delivery,
                    now,
                    status=D.FAILED,
                    reason=f"render_{page.reason}",
                    attempts=delivery.attempts + 1,
                    failed_at=now,
                )
            )
            run.failed += 1
            continue
        parts = page.parts if page is not None else message.get("content")
        try:
            provider_id = send_through(
                rt.messenger,
                owner_id=campaign.user_id,
                fan_id=fan.fan_id,
                template=template,
                variables={**shared, "fanId": fan.fan_id},
                idempotency_key=delivery.idempotency_key,
                channel=decision.channel,
                address=decision.address,
                parts=parts,
            )
        except Exception as error:  # any failure is an attempt to retry, never the batch's end
            attempts = delivery.attempts + 1
            run.failed += 1
            text = f"{type(error).__name__}: {error}"[:300]
            if attempts >= settings.max_attempts:
                outcomes.append(
                    _written(
                        delivery,
                        now,
                        status=D.FAILED,
                        reason="send_failed",
                        attempts=attempts,
                        failed_at=now,
                    )
                )
            else:
                retry = now + rt.settings.publish_retry.backoff(attempts)
                outcomes.append(
                    _written(
                        delivery,
                        now,
                        attempts=attempts,
                        send_at=retry,
                        next_attempt_at=retry,
                        reason=text,
                    )
                )
            continue
        sent += 1
        run.sent += 1
        outcomes.append(
            _written(
                delivery,
                now,
                status=D.SENT,
                reason=None if decision.channel == delivery.channel else f"via_{decision.channel}",
                attempts=delivery.attempts + 1,
                provider_message_id=str(provider_id),
                locale=page.locale if page is not None else None,
                cost=float(settings.cost(decision.channel)),
                sent_at=now,
            )
        )
    with rt.transaction() as tx:  # the outcomes and the spend together
        for start in range(0, len(outcomes), _CHUNK):
            tx.uow.deliveries.update_many(outcomes[start : start + _CHUNK], fields=_WRITE_FIELDS)
        if sent and cost > 0:
            current = tx.uow.campaigns.get(campaign.id)
            if current is not None:
                campaign = apply_spend(tx, rt, current, cost * sent)
    return sent, campaign


def _written(delivery: Delivery, now: datetime, **changes: Any) -> Delivery:
    """``delivery`` with its outcome, its lease released and its version bumped."""
    return attrs.evolve(
        delivery,
        lease_owner=None,
        lease_until=None,
        updated_at=now,
        version=delivery.version + 1,
        **changes,
    )


def _render(
    rt: Runtime,
    campaign: Campaign,
    message: Mapping[str, Any],
    targets: Sequence[tuple[Fan, str]],
    variables: Mapping[str, Any],
) -> list[RenderedMessage | None]:
    """Each fan's rendered parts (issue 18's templates), or None when the host renders.

    Inline ``content`` and template names the account does not know (nor the
    built-ins) go to the messenger as they are; so does everything without the
    ``templates`` extra.
    """
    name = message.get("template")
    if not name or not targets:
        return [None] * len(targets)
    with rt.transaction(read_only=True) as tx:
        found = resolve_template(tx.uow, campaign.user_id, str(name))  # once per batch
        if found is None:
            return [None] * len(targets)
        return [
            render_for_send(
                rt,
                tx.uow,
                owner_id=campaign.user_id,
                fan=fan,
                template=found,
                variables=variables,
                campaign=campaign,
            )
            for fan, _channel in targets
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
