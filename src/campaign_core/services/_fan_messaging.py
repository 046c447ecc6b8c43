"""Consent, suppression, unsubscribe links and delivery feedback for the fans service.

The rules live in :mod:`campaign_core.delivery` (pure) and the loads and writes every
send path shares in :mod:`campaign_core.jobs.consent`; this module checks the
input, scopes it to the actor's account and writes in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import v_bool, v_datetime, v_id, v_int, v_text
from campaign_core.audit import audited, system_action
from campaign_core.delivery import (
    BOUNCE_KINDS,
    FEEDBACK_TYPES,
    ConsentState,
    address_hash,
    check_channel_topic,
    check_mailto,
    check_unsubscribe_url,
    consent_states,
    feedback_changes,
    list_unsubscribe_headers,
    read_unsubscribe_token,
    suppresses,
    unsubscribe_link,
)
from campaign_core.errors import ConflictError, ProblemCollector, ValidationError, join_path
from campaign_core.jobs.consent import (
    fan_addresses,
    mint_token,
    record_consent,
    suppress_address,
    suppression_key,
)
from campaign_core.models import (
    CampaignStatus,
    ConsentEvent,
    Delivery,
    DeliveryEvent,
    Fan,
    FanEvent,
    Suppression,
    SuppressionReason,
    UnsubscribeTokenUse,
)
from campaign_core.permissions import Permission
from campaign_core.query import And, Cond, Eq, In, Lt, Order
from campaign_core.serialization import check_json_value

__all__ = [
    "DeliveryEventsReport",
    "FanMessaging",
    "UnsubscribeResult",
    "list_unsubscribe",
    "mint_token",
    "unsubscribe",
]

_SOURCE: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_EVENTS: Final = 10_000
_CHUNK: Final = 500
_FUTURE_SLACK: Final = timedelta(days=1)
UNSUBSCRIBE_SOURCE: Final = "unsubscribe_link"
FEEDBACK_SOURCE: Final = "provider_feedback"
_ENGAGEMENT: Final = {"opened": "message.opened", "clicked": "message.clicked"}
_NOT_LAUNCHED: Final = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


@attrs.frozen(kw_only=True)
class UnsubscribeResult:
    """What ``core.unsubscribe(token)`` did.

    Attributes:
        account / fan_id / channel: from the token.
        topics: the topics now refused on the channel.
        replayed: the token had been used before; nothing changed this time.
    """

    account: str
    fan_id: str
    channel: str
    topics: tuple[str, ...]
    replayed: bool = False


@attrs.frozen(kw_only=True)
class DeliveryEventsReport:
    """What ``ws.fans.record_delivery_events`` did with a batch.

    Attributes:
        received: events in the batch.
        recorded: new events stored (the rest were duplicates).
        duplicates: events whose ``(provider, providerEventId)`` was seen before.
        unknown: new events whose provider message id matches no delivery of
            the account (stored, not applied).
        unknown_message_ids: those ids (at most 100).
        applied: deliveries whose status moved.
        suppressed: addresses newly suppressed (hard bounces, complaints).
        engagement: opens and clicks recorded as fan events.
        unsubscribed: consents refused through ``unsubscribed`` events.
        tracked: opens and clicks tracked as their launched campaign's
            impressions and clicks (the analytics funnel).
    """

    received: int
    recorded: int
    duplicates: int
    unknown: int
    unknown_message_ids: tuple[str, ...] = ()
    applied: int = 0
    suppressed: int = 0
    engagement: int = 0
    unsubscribed: int = 0
    tracked: int = 0


@attrs.frozen
class _Event:
    index: int
    type: str
    provider: str
    provider_event_id: str
    provider_message_id: str
    at: datetime
    bounce: str | None
    address: str | None
    payload: dict[str, Any]


def _source(value: Any, path: str, problems: ProblemCollector) -> str | None:
    if not isinstance(value, str) or not _SOURCE.match(value):
        problems.add(
            path,
            "expected a source name of lowercase letters, digits and '_'"
            " (preference_center, import, api...)",
        )
        return None
    return value


def _required_id(value: Any, path: str, problems: ProblemCollector) -> None:
    if value is None:
        problems.add(path, "is required", "required")
    else:
        v_id(value, path, problems)


def _topics_for(rt: Runtime, channel: str, topic: str | None) -> tuple[str, ...]:
    """The topic, or (None) every declared topic sent on the channel."""
    if topic is not None:
        return (topic,)
    return tuple(
        name for name, spec in rt.settings.messaging.topics.items() if spec.allows(channel)
    )


class FanMessaging:
    """Consent, suppression, unsubscribe tokens and delivery feedback (mixed into FanService)."""

    _svc: Service
    _rt: Runtime

    @property
    def _account(self) -> str:
        return self._svc.account_id

    def _find(self, tx: Tx, fan_id: str) -> Fan | None:  # FanService's
        raise NotImplementedError

    def _upsert(self, tx: Tx, fan_id: str, clean: Mapping[str, Any]) -> Fan:  # FanService's
        raise NotImplementedError

    def _add_event(
        self, tx: Tx, fan: Fan, name: str, props: dict[str, Any], when: datetime
    ) -> FanEvent:  # FanService's
        raise NotImplementedError

    # ------------------------------------------------------------------ consent
    @audited("fan.set_consent")
    def set_consent(
        self,
        fan_id: str,
        *,
        channel: Any,
        topic: Any,
        granted: Any,
        source: Any,
        reason: Any = None,
    ) -> ConsentState:
        """Record a fan's consent to a topic on a channel (kept with its history, audited).

        The fan is created if the account has not seen them yet. Setting the same
        decision from the same source with the same reason again writes nothing.

        Args:
            fan_id: the fan.
            channel: one of the messaging settings' channels.
            topic: one of the settings' topics, sent on ``channel``.
            granted: True (agrees) or False (refuses).
            source: where the decision comes from (``preference_center``,
                ``import``, ``api``, ``admin``...: lowercase letters, digits, ``_``).
            reason: the fan's or operator's words (at most 500 characters).

        Returns:
            The consent as it now stands.

        Raises:
            ValidationError: an unknown channel or topic (codes ``unknown_channel``,
                ``unknown_topic``, ``topic_not_on_channel``) or a bad argument,
                with its name as path.
        """
        self._svc._require(Permission.FANS)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        check_channel_topic(self._rt.settings.messaging, channel, topic, problems)
        flag = v_bool(granted, "granted", problems)
        origin = _source(source, "source", problems)
        words = v_text(reason, "reason", problems, required=False, max_length=500)
        problems.raise_if_any()
        assert flag is not None and origin is not None
        now = self._rt.now()
        with self._rt.transaction() as tx:
            if self._find(tx, fan_id) is None:
                self._upsert(tx, fan_id, {})
            record, _ = record_consent(
                tx,
                self._rt,
                owner_id=self._account,
                fan_id=fan_id,
                channel=channel,
                topic=topic,
                granted=flag,
                source=origin,
                reason=words,
                actor_id=self._svc.actor.user_id,
                now=now,
            )
        (state,) = consent_states(
            self._rt.settings.messaging, [record], channel=channel, topic=topic
        )
        return state

    def get_consent(
        self, fan_id: str, channel: Any = None, topic: Any = None
    ) -> list[ConsentState]:
        """A fan's consent per channel and topic, explicit records over the topics' defaults.

        Every (channel, topic) pair the messaging settings declare is listed (or
        those of ``channel`` and/or ``topic``). A fan who opted out of everything
        (``opted_out``) shows ``granted=False`` everywhere.

        Raises:
            ValidationError: an unknown channel or topic.
        """
        self._svc._require(Permission.READ)
        settings = self._rt.settings.messaging
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        if channel is not None or topic is not None:
            self._check_filter(channel, topic, problems)
        problems.raise_if_any()
        with self._rt.transaction(read_only=True) as tx:
            fan = self._find(tx, fan_id)
            records = tx.uow.fan_consents.find(
                And(Eq("owner_id", self._account), Eq("fan_id", fan_id))
            )
        states = consent_states(settings, records, channel=channel, topic=topic)
        if fan is not None and fan.opted_out:
            states = [attrs.evolve(s, granted=False) for s in states]
        return states

    def _check_filter(self, channel: Any, topic: Any, problems: ProblemCollector) -> None:
        settings = self._rt.settings.messaging
        if channel is not None and channel not in settings.channels:
            problems.add(
                "channel",
                f"unknown channel {channel!r} (channels: {', '.join(settings.channels)})",
                "unknown_channel",
            )
        if topic is not None and (not isinstance(topic, str) or settings.topic(topic) is None):
            problems.add(
                "topic",
                f"unknown topic {topic!r} (topics: {', '.join(settings.topics)})",
                "unknown_topic",
            )

    def consent_history(
        self, fan_id: str, *, channel: Any = None, topic: Any = None, limit: Any = 100
    ) -> list[ConsentEvent]:
        """Every change of a fan's consent, newest first (time, source, reason, actor)."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        size = v_int(limit, "limit", problems, minimum=1, maximum=10_000)
        conds: list[Cond] = [Eq("owner_id", self._account), Eq("fan_id", fan_id)]
        for value, name in ((channel, "channel"), (topic, "topic")):
            if value is not None:
                if not isinstance(value, str):
                    problems.add(name, "expected a string", "invalid_type")
                else:
                    conds.append(Eq(name, value))
        problems.raise_if_any()
        with self._rt.transaction(read_only=True) as tx:
            return tx.uow.consent_events.find(
                And(*conds), order_by=[Order("at", True), Order("id", True)], limit=size
            )

    # ------------------------------------------------------------------ unsubscribe
    def unsubscribe_token(self, fan_id: str, channel: Any, topic: Any = None) -> str:
        """A signed, expiring unsubscribe token for one fan, channel and topic.

        Put it in the message's unsubscribe link; ``core.unsubscribe(token)`` refuses
        the topic (every topic on the channel when ``topic`` is None) without an actor.

        Raises:
            ValidationError: an unknown channel or topic.
        """
        self._svc._require(Permission.FANS)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        check_channel_topic(
            self._rt.settings.messaging, channel, topic, problems, topic_required=False
        )
        problems.raise_if_any()
        return mint_token(self._rt, self._account, fan_id, channel, topic)

    # ------------------------------------------------------------------ suppression
    def _address_args(self, channel: Any, address: Any, problems: ProblemCollector) -> None:
        settings = self._rt.settings.messaging
        if channel not in settings.channels:
            problems.add(
                "channel",
                f"unknown channel {channel!r} (channels: {', '.join(settings.channels)})",
                "unknown_channel",
            )
        v_text(address, "address", problems, max_length=320)

    @audited("fan.suppress")
    def suppress(
        self, channel: Any, address: Any, *, reason: Any = "manual", fan_id: Any = None
    ) -> Suppression:
        """Put an address on the account's suppression list: nothing is sent to it again.

        The address is kept as a keyed hash only. An address already listed keeps
        its entry (and first reason).

        Args:
            channel: the channel the address is on.
            address: the email address, phone number... (normalized before hashing).
            reason: ``manual`` (default), ``hard_bounce``, ``complaint`` or ``unsubscribe``.
            fan_id: the fan whose address it is, if known.
        """
        self._svc._require(Permission.FANS)
        problems = ProblemCollector()
        self._address_args(channel, address, problems)
        if reason not in SuppressionReason.values():
            problems.add("reason", f"expected one of: {', '.join(SuppressionReason.values())}")
        if fan_id is not None:
            v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            entry, _ = suppress_address(
                tx,
                self._rt,
                owner_id=self._account,
                channel=channel,
                address=address,
                reason=reason,
                fan_id=fan_id,
                source=f"actor:{self._svc.actor.user_id}",
                now=self._rt.now(),
            )
        return entry

    def _listed(self, channel: Any, address: Any) -> Cond:
        """The account's suppression entry of ``address`` on ``channel`` (checked first)."""
        problems = ProblemCollector()
        self._address_args(channel, address, problems)
        problems.raise_if_any()
        digest = address_hash(suppression_key(self._rt), channel, address)
        return And(
            Eq("owner_id", self._account), Eq("channel", channel), Eq("address_hash", digest)
        )

    @audited("fan.unsuppress")
    def unsuppress(self, channel: Any, address: Any) -> bool:
        """Take an address off the suppression list (True if it was on it)."""
        self._svc._require(Permission.FANS)
        where = self._listed(channel, address)
        with self._rt.transaction() as tx:
            return tx.uow.suppressions.delete_where(where) > 0

    def is_suppressed(self, channel: Any, address: Any) -> bool:
        """Whether an address is on the account's suppression list."""
        self._svc._require(Permission.READ)
        where = self._listed(channel, address)
        with self._rt.transaction(read_only=True) as tx:
            return tx.uow.suppressions.count(where) > 0

    # ------------------------------------------------------------------ feedback
    @audited("fan.record_delivery_events")
    def record_delivery_events(self, events: Any) -> DeliveryEventsReport:
        """Apply a batch of the provider's delivery feedback (idempotent per provider event).

        Each event is ``{"type": "delivered" | "bounced" | "complained" | "opened" |
        "clicked" | "unsubscribed", "providerMessageId": ..., "providerEventId": ...,
        "provider"?: "default", "at"?: ISO instant (default now), "bounce"?: "hard" |
        "soft" (required for ``bounced``), "address"?: the recipient (else the fan's
        address on the delivery's channel), ...}``; other keys are kept as the
        event's payload. Each event is matched to the account's delivery with that
        provider message id:

        - ``delivered``/``opened``/``clicked`` move the delivery forward only;
          opens and clicks are also recorded as the fan's ``message.opened`` and
          ``message.clicked`` events (engagement for ``check_engagement`` and
          event triggers), once per delivery each, and, for a launched
          campaign, tracked as its impression and click (the analytics funnel:
          conversions the fan makes later are attributed to that click);
        - a hard bounce fails the delivery and, like a complaint, suppresses the
          address; a soft bounce is only stored;
        - ``unsubscribed`` refuses the delivery's topic on its channel (every
          topic on the channel for a delivery without one).

        An event seen before (same provider and provider event id) changes nothing;
        an event whose message id matches no delivery is stored and counted as
        unknown, never raised.

        Raises:
            ValidationError: every bad event, with its path (``events[3].type``);
                nothing is written then.
        """
        self._svc._require(Permission.FANS)
        parsed = self._parse_events(events)
        if not parsed:
            return DeliveryEventsReport(received=0, recorded=0, duplicates=0, unknown=0)
        counts = {"applied": 0, "suppressed": 0, "engagement": 0, "unsubscribed": 0}
        unknown_ids: list[str] = []
        tracking: list[dict[str, Any]] = []
        recorded = duplicates = 0
        now = self._rt.now()
        with self._rt.transaction() as tx:
            for start in range(0, len(parsed), _CHUNK):
                chunk = parsed[start : start + _CHUNK]
                fresh = self._fresh(tx, chunk)
                duplicates += len(chunk) - len(fresh)
                recorded += len(fresh)
                deliveries = self._deliveries(tx, {e.provider_message_id for e in fresh})
                for event in fresh:
                    delivery = deliveries.get(event.provider_message_id)
                    tx.uow.delivery_events.add(
                        DeliveryEvent(
                            id=self._rt.ids.new_id("dlvev"),
                            owner_id=self._account,
                            provider=event.provider,
                            provider_event_id=event.provider_event_id,
                            type=event.type,
                            provider_message_id=event.provider_message_id,
                            delivery_id=None if delivery is None else delivery.id,
                            at=event.at,
                            payload=event.payload,
                            created_at=now,
                        )
                    )
                    if delivery is None:
                        unknown_ids.append(event.provider_message_id)
                        continue
                    deliveries[event.provider_message_id] = self._apply(
                        tx, delivery, event, counts, now, tracking
                    )
        tracked = self._track(tracking)
        return DeliveryEventsReport(
            received=len(parsed),
            recorded=recorded,
            duplicates=duplicates,
            unknown=len(unknown_ids),
            unknown_message_ids=tuple(dict.fromkeys(unknown_ids))[:100],
            tracked=tracked,
            **counts,
        )

    def _parse_events(self, events: Any) -> list[_Event]:
        problems = ProblemCollector()
        if isinstance(events, str | bytes | Mapping) or not isinstance(events, Sequence):
            raise ValidationError.single("events", "expected a list of events", "invalid_type")
        if len(events) > _MAX_EVENTS:
            raise ValidationError.single(
                "events", f"at most {_MAX_EVENTS} events per call", "too_long"
            )
        now = self._rt.now()
        out: list[_Event] = []
        seen: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(events):
            path = join_path("events", index)
            if not isinstance(raw, Mapping):
                problems.add(path, "expected an object", "invalid_type")
                continue
            data = dict(raw)
            kind = data.pop("type", None)
            if kind not in FEEDBACK_TYPES:
                problems.add(
                    join_path(path, "type"), f"expected one of: {', '.join(FEEDBACK_TYPES)}"
                )
            message_id = data.pop("providerMessageId", data.pop("provider_message_id", None))
            _required_id(message_id, join_path(path, "providerMessageId"), problems)
            event_id = data.pop("providerEventId", data.pop("provider_event_id", None))
            _required_id(event_id, join_path(path, "providerEventId"), problems)
            provider = data.pop("provider", "default")
            v_id(provider, join_path(path, "provider"), problems)
            when_raw = data.pop("at", None)
            when = (
                now if when_raw is None else v_datetime(when_raw, join_path(path, "at"), problems)
            )
            if when is not None and when > now + _FUTURE_SLACK:
                problems.add(
                    join_path(path, "at"), "is more than a day in the future", "out_of_range"
                )
            bounce = data.pop("bounce", None)
            if kind == "bounced" and bounce not in BOUNCE_KINDS:
                problems.add(join_path(path, "bounce"), "expected 'hard' or 'soft'", "required")
            elif kind != "bounced" and bounce is not None:
                problems.add(join_path(path, "bounce"), "only a 'bounced' event has a bounce")
            address = data.pop("address", None)
            if address is not None:
                v_text(address, join_path(path, "address"), problems, max_length=320)
            for problem in check_json_value(data, path):
                problems.add(problem.path, problem.message, problem.code)
            if isinstance(provider, str) and isinstance(event_id, str):
                key = (provider, event_id)
                if key in seen:
                    problems.add(
                        join_path(path, "providerEventId"),
                        f"{event_id!r} appears twice in the batch (events[{seen[key]}])",
                        "duplicate",
                    )
                seen[key] = index
            if len(problems.problems) > 200:
                break
            if problems:
                continue
            assert when is not None
            out.append(
                _Event(
                    index=index,
                    type=str(kind),
                    provider=str(provider),
                    provider_event_id=str(event_id),
                    provider_message_id=str(message_id),
                    at=when,
                    bounce=bounce,
                    address=address,
                    payload=({"bounce": bounce} if bounce else {}) | data,
                )
            )
        problems.raise_if_any()
        return out

    def _fresh(self, tx: Tx, chunk: Sequence[_Event]) -> list[_Event]:
        """The events of ``chunk`` not stored before (per provider and provider event id)."""
        seen: set[tuple[str, str]] = set()
        for provider in {e.provider for e in chunk}:
            ids = [e.provider_event_id for e in chunk if e.provider == provider]
            for row in tx.uow.delivery_events.find(
                And(Eq("provider", provider), In("provider_event_id", ids))
            ):
                seen.add((row.provider, row.provider_event_id))
        return [e for e in chunk if (e.provider, e.provider_event_id) not in seen]

    def _deliveries(self, tx: Tx, message_ids: set[str]) -> dict[str, Delivery]:
        if not message_ids:
            return {}
        rows = tx.uow.deliveries.find(
            And(Eq("owner_id", self._account), In("provider_message_id", sorted(message_ids)))
        )
        return {r.provider_message_id: r for r in rows if r.provider_message_id is not None}

    def _track(self, rows: list[dict[str, Any]]) -> int:
        """Opens and clicks of launched campaigns as the campaigns' impressions and clicks."""
        if not rows:
            return 0
        from campaign_core.services.analytics import AnalyticsService

        ids = sorted({r["campaignId"] for r in rows})
        with self._rt.transaction(read_only=True) as tx:
            launched = {
                c.id: c.started_at
                for c in tx.uow.campaigns.find(And(Eq("user_id", self._account), In("id", ids)))
                if c.started_at is not None and c.status not in _NOT_LAUNCHED
            }
        keep = [
            r
            for r in rows
            if r["campaignId"] in launched and r["occurredAt"] >= launched[r["campaignId"]]
        ]
        if keep:
            AnalyticsService(self._rt, self._svc.actor).track_events(keep)
        return len(keep)

    def _apply(
        self,
        tx: Tx,
        delivery: Delivery,
        event: _Event,
        counts: dict[str, int],
        now: datetime,
        tracking: list[dict[str, Any]],
    ) -> Delivery:
        changes = feedback_changes(delivery, event.type, event.bounce, event.at)
        current = delivery
        if changes:
            current = attrs.evolve(
                delivery, **changes, updated_at=now, version=delivery.version + 1
            )
            tx.uow.deliveries.update(current)
            counts["applied"] += 1
        reason = suppresses(event.type, event.bounce)
        fan = None
        if reason is not None or event.type in _ENGAGEMENT or event.type == "unsubscribed":
            fan = self._find(tx, delivery.fan_id)
        if reason is not None:
            address = event.address or (
                None
                if fan is None
                else fan_addresses(self._rt, self._account, [fan], [delivery.channel])[fan.fan_id][
                    delivery.channel
                ]
            )
            if address:
                _, new = suppress_address(
                    tx,
                    self._rt,
                    owner_id=self._account,
                    channel=delivery.channel,
                    address=address,
                    reason=reason,
                    fan_id=delivery.fan_id,
                    source=f"{event.provider}:{event.provider_event_id}",
                    now=now,
                )
                counts["suppressed"] += int(new)
        name = _ENGAGEMENT.get(event.type)
        stamp = {"opened": "opened_at", "clicked": "clicked_at"}.get(event.type)
        first = stamp is not None and getattr(delivery, stamp) is None  # once per delivery
        if name is not None and fan is not None and first:
            props: dict[str, Any] = {
                "campaignId": delivery.campaign_id,
                "channel": delivery.channel,
                "deliveryId": delivery.id,
            }
            if isinstance(event.payload.get("url"), str):
                props["url"] = event.payload["url"]
            self._add_event(tx, fan, name, props, event.at)
            counts["engagement"] += 1
            tracking.append(
                {
                    "kind": "impression" if event.type == "opened" else "click",
                    "campaignId": delivery.campaign_id,
                    "fanId": delivery.fan_id,
                    "occurredAt": event.at,
                }
            )
        if event.type == "unsubscribed":
            for topic in _topics_for(self._rt, delivery.channel, delivery.topic):
                _, changed = record_consent(
                    tx,
                    self._rt,
                    owner_id=self._account,
                    fan_id=delivery.fan_id,
                    channel=delivery.channel,
                    topic=topic,
                    granted=False,
                    source=FEEDBACK_SOURCE,
                    reason=f"{event.provider}:{event.provider_event_id}",
                    actor_id=self._svc.actor.user_id,
                    now=now,
                )
                counts["unsubscribed"] += int(changed)
        return current


# ---------------------------------------------------------------------- core-level calls
def unsubscribe(rt: Runtime, token: Any) -> UnsubscribeResult:
    """Apply an unsubscribe token: the fan refuses its topic (or every topic) on its channel.

    The token is the authority (no actor). A token is applied once: using it
    again changes nothing and says so (``replayed``).

    Raises:
        InvalidTokenError: a token tampered with, malformed or expired.
    """
    settings = rt.settings.messaging
    now = rt.now()
    claims = read_unsubscribe_token(token, settings.unsubscribe_keys, now)
    topics = _topics_for(rt, claims.channel, claims.topic)
    result = UnsubscribeResult(
        account=claims.account, fan_id=claims.fan_id, channel=claims.channel, topics=topics
    )
    try:
        with system_action("fan.unsubscribe"), rt.transaction() as tx:
            if tx.uow.unsubscribe_token_uses.get(claims.jti) is not None:
                return attrs.evolve(result, replayed=True)
            # uses whose token has expired can go: such a token is refused anyway
            tx.uow.unsubscribe_token_uses.delete_where(Lt("expires_at", now))
            tx.uow.unsubscribe_token_uses.add(
                UnsubscribeTokenUse(
                    id=claims.jti,
                    owner_id=claims.account,
                    used_at=now,
                    expires_at=claims.expires_at,
                )
            )
            for topic in topics:
                record_consent(
                    tx,
                    rt,
                    owner_id=claims.account,
                    fan_id=claims.fan_id,
                    channel=claims.channel,
                    topic=topic,
                    granted=False,
                    source=UNSUBSCRIBE_SOURCE,
                    reason=None,
                    actor_id=None,
                    now=now,
                )
    except ConflictError:
        # the same token applied at the same moment by another request: that one won
        return attrs.evolve(result, replayed=True)
    return result


def list_unsubscribe(
    rt: Runtime,
    owner_id: Any,
    fan_id: Any,
    *,
    channel: Any = "email",
    topic: Any = None,
    url_base: Any,
    mailto: Any = None,
) -> dict[str, str]:
    """The ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` header values (RFC 8058).

    Args:
        owner_id / fan_id: the account and the fan the message goes to.
        channel / topic: what the link unsubscribes from (topic None: every
            topic on the channel).
        url_base: the host's HTTPS endpoint that calls ``core.unsubscribe``
            with the ``token`` query parameter (one-click: it must accept a POST).
        mailto: an address for mail clients that unsubscribe by email
            (the token goes in the subject), optional.

    Returns:
        The two header values by name: ``List-Unsubscribe`` (the URL with the
        token, then the ``mailto:`` when given, each in angle brackets) and
        ``List-Unsubscribe-Post`` (``List-Unsubscribe=One-Click``).

    Raises:
        ValidationError: a bad argument, with its name as path.
    """
    problems = ProblemCollector()
    v_id(owner_id, "owner_id", problems)
    v_id(fan_id, "fan_id", problems)
    check_channel_topic(rt.settings.messaging, channel, topic, problems, topic_required=False)
    check_unsubscribe_url(url_base, "url_base", problems)
    if mailto is not None:
        check_mailto(mailto, "mailto", problems)
    problems.raise_if_any()
    token = mint_token(rt, str(owner_id), str(fan_id), str(channel), topic)
    return list_unsubscribe_headers(unsubscribe_link(str(url_base), token), token, mailto)
