"""Consent and suppression as every send path loads and writes them.

The rules are pure (:mod:`campaign_core.delivery`:
the consent defaults,
:meth:`~campaign_core.delivery.SendPolicy.eligible`); this module loads what they need for a batch of fans
in one query each, and writes consent changes and suppressions. Broadcasts, the
workflow ``send_message`` step, ``execute_action``, the fans service and
``core.unsubscribe`` all go through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.delivery import (
    MessagingSettings,
    Send,
    SendPolicy,
    Suppress,
    UnsubscribeToken,
    address_hash,
    list_unsubscribe_headers,
    sign_unsubscribe_token,
    unsubscribe_link,
)
from campaign_core.errors import CampaignCoreError
from campaign_core.models import ConsentEvent, Fan, FanConsent, Suppression, SuppressionReason
from campaign_core.ports import messenger_accepts
from campaign_core.query import And, Eq, In, Order

__all__: list[str] = []  # building blocks of the send paths and the fans service

_CHUNK = 5000  # ids per IN (...): a batch in one query, within every database's parameter limit


def suppression_key(rt: Runtime) -> bytes:
    """The key the suppression list hashes addresses with (``Settings.pseudonym_key``)."""
    return rt.settings.pseudonym_key


def fan_address(fan: Fan, channel: str, settings: MessagingSettings) -> str | None:
    """The fan's address on ``channel`` from the fan record: their ``addresses`` entry,
    else (on an addressless channel, a platform's DM) their fan id; None when they have none.

    The send paths ask the core's address book instead (:func:`fan_addresses`)."""
    address = fan.addresses.get(channel)
    if address:
        return address
    return fan.fan_id if channel in settings.addressless else None


def fan_addresses(
    rt: Runtime, owner_id: str, fans: Sequence[Fan], channels: Iterable[str]
) -> dict[str, dict[str, str | None]]:
    """Each fan's address per channel, from the core's :class:`~campaign_core.ports.AddressBook`
    (one call for the batch); on an addressless channel the fan id when the book has
    none; None when the fan has no address there.

    Raises:
        CampaignCoreError: the address book failed (the batch is tried again later).
    """
    wanted = tuple(dict.fromkeys(channels))
    if not fans or not wanted:
        return {f.fan_id: dict.fromkeys(wanted) for f in fans}
    try:
        book = rt.address_book.addresses(owner_id=owner_id, fans=list(fans), channels=wanted)
    except Exception as error:  # a host port: never a half-marked batch
        raise CampaignCoreError(
            f"the address book failed: {type(error).__name__}: {error}"[:500],
            details={"port": "address_book"},
        ) from error
    addressless = rt.settings.messaging.addressless
    out: dict[str, dict[str, str | None]] = {}
    for fan in fans:
        known = book.get(fan.fan_id) or {}
        out[fan.fan_id] = {
            c: (
                known.get(c)
                if isinstance(known.get(c), str) and known.get(c)
                else (fan.fan_id if c in addressless else None)
            )
            for c in wanted
        }
    return out


@attrs.frozen
class ConsentSnapshot:
    """What the send policy needs about a batch of fans of one account.

    Attributes:
        consent: per fan, their explicit records ``{(channel, topic): granted}``.
        suppressed: per fan, the channels whose address is on the suppression list.
        addresses: per fan, their address per channel (the address book's).
    """

    consent: Mapping[str, Mapping[tuple[str, str], bool]]
    suppressed: Mapping[str, frozenset[str]]
    addresses: Mapping[str, Mapping[str, str | None]] = attrs.field(factory=dict)

    def for_fan(self, fan_id: str) -> tuple[Mapping[tuple[str, str], bool], frozenset[str]]:
        return self.consent.get(fan_id, {}), self.suppressed.get(fan_id, frozenset())


def load_consent(
    tx: Tx,
    rt: Runtime,
    owner_id: str,
    fans: Sequence[Fan],
    channels: Iterable[str] | None = None,
) -> ConsentSnapshot:
    """The explicit consent and the suppressed channels of ``fans`` (one query each per 5,000 fans).

    ``channels`` limits the suppression lookup to those channels (default: every
    channel of the messaging settings).
    """
    settings = rt.settings.messaging
    wanted = tuple(channels) if channels is not None else settings.channels
    consent: dict[str, dict[tuple[str, str], bool]] = {}
    ids = [f.fan_id for f in fans]
    for start in range(0, len(ids), _CHUNK):
        for record in tx.uow.fan_consents.find(
            And(Eq("owner_id", owner_id), In("fan_id", ids[start : start + _CHUNK]))
        ):
            consent.setdefault(record.fan_id, {})[(record.channel, record.topic)] = record.granted
    key = suppression_key(rt)
    addresses = fan_addresses(rt, owner_id, fans, wanted)
    by_hash: dict[tuple[str, str], list[str]] = {}
    for fan in fans:
        for channel, address in addresses[fan.fan_id].items():
            if address:
                by_hash.setdefault((channel, address_hash(key, channel, address)), []).append(
                    fan.fan_id
                )
    suppressed: dict[str, set[str]] = {}
    hashes = sorted({h for _, h in by_hash})
    for start in range(0, len(hashes), _CHUNK):
        for row in tx.uow.suppressions.find(
            And(Eq("owner_id", owner_id), In("address_hash", hashes[start : start + _CHUNK]))
        ):
            for fan_id in by_hash.get((row.channel, row.address_hash), ()):
                suppressed.setdefault(fan_id, set()).add(row.channel)
    return ConsentSnapshot(
        consent=consent,
        suppressed={k: frozenset(v) for k, v in suppressed.items()},
        addresses=addresses,
    )


def check_send(
    tx: Tx | None,
    rt: Runtime,
    fan: Fan | None,
    channels: Sequence[str] | str,
    topic: str | None,
    *,
    snapshot: ConsentSnapshot | None = None,
) -> Send | Suppress:
    """Whether one fan may be messaged on ``channels`` (then fallbacks) about ``topic``.

    Loads the fan's consent and suppression (unless ``snapshot``, loaded for a batch
    of fans with :func:`load_consent` on at least these channels, already holds them) and asks
    :meth:`~campaign_core.delivery.SendPolicy.eligible`
    (consent, global opt-out, suppression, address); no timing rules.
    """
    policy = SendPolicy(rt.settings.messaging)
    if fan is None:
        return policy.eligible(fan=None, channels=channels, topic=topic)
    chain = (channels,) if isinstance(channels, str) else tuple(channels)
    known = [c for c in chain if c in rt.settings.messaging.channels]
    if snapshot is None:
        assert tx is not None, "check_send reads the fan's consent in tx"
        snapshot = load_consent(tx, rt, fan.owner_id, [fan], known)
    consent, suppressed = snapshot.for_fan(fan.fan_id)
    addresses = snapshot.addresses.get(fan.fan_id, {})
    return policy.eligible(
        fan=fan,
        channels=chain,
        topic=topic,
        consent=consent,
        suppressed=suppressed,
        addresses=addresses,
    )


def mint_token(
    rt: Runtime,
    account: str,
    fan_id: str,
    channel: str,
    topic: str | None,
    *,
    jti: str | None = None,
) -> str:
    """A signed unsubscribe token (expiring after the settings' ``unsubscribe_ttl``).

    ``jti`` is the token's id (a token is applied once); a new id when None.
    """
    settings = rt.settings.messaging
    token = UnsubscribeToken(
        account=account,
        fan_id=fan_id,
        channel=channel,
        topic=topic,
        expires_at=(rt.now() + settings.unsubscribe_ttl).replace(microsecond=0),
        jti=jti or rt.ids.new_id("unsub"),
    )
    return sign_unsubscribe_token(token, settings.unsubscribe_keys)


def message_unsubscribe(
    rt: Runtime, owner_id: str, fan_id: str, channel: str, topic: str | None, key: str
) -> dict[str, str]:
    """One message's unsubscribe data: its own signed token for the fan, account, channel
    and topic, and with ``MessagingSettings.unsubscribe_url`` the link and the
    ``List-Unsubscribe`` headers.

    The token's id derives from the message's idempotency key: a message sent again
    (a retry) carries a token with the same id, and either is applied once.

    Returns:
        ``{"token": ...}``, plus ``"url"``, ``"List-Unsubscribe"`` and
        ``"List-Unsubscribe-Post"`` when the settings give the endpoint.
    """
    settings = rt.settings.messaging
    jti = "msg" + hashlib.sha256(f"{owner_id}\x00{key}".encode()).hexdigest()[:32]
    token = mint_token(rt, owner_id, fan_id, channel, topic, jti=jti)
    out = {"token": token}
    if settings.unsubscribe_url is not None:
        url = unsubscribe_link(settings.unsubscribe_url, token)
        out["url"] = url
        out.update(list_unsubscribe_headers(url, token, settings.unsubscribe_mailto))
    return out


def wants_unsubscribe(rt: Runtime, renders: bool) -> bool:
    """Whether a send needs its unsubscribe data: the messenger takes ``unsubscribe``, or
    the core renders a template and the settings give the link (``unsubscribe_url``)."""
    if renders and rt.settings.messaging.unsubscribe_url is not None:
        return True
    return messenger_accepts(rt.messenger, "unsubscribe")


def record_consent(
    tx: Tx,
    rt: Runtime,
    *,
    owner_id: str,
    fan_id: str,
    channel: str,
    topic: str,
    granted: bool,
    source: str,
    reason: str | None,
    actor_id: str | None,
    now: datetime,
) -> tuple[FanConsent, bool]:
    """Set one consent and keep the change in its history.

    Returns:
        The current record and whether anything changed (the same decision from
        the same source with the same reason writes nothing).
    """
    found = tx.uow.fan_consents.find(
        And(
            Eq("owner_id", owner_id),
            Eq("fan_id", fan_id),
            Eq("channel", channel),
            Eq("topic", topic),
        ),
        limit=1,
    )
    current = found[0] if found else None
    if current is None:
        record = FanConsent(
            id=rt.ids.new_id("consent"),
            owner_id=owner_id,
            fan_id=fan_id,
            channel=channel,
            topic=topic,
            granted=granted,
            source=source,
            reason=reason,
            created_at=now,
            updated_at=now,
        )
        tx.uow.fan_consents.add(record)
    else:
        if (current.granted, current.source, current.reason) == (granted, source, reason):
            return current, False
        record = attrs.evolve(
            current,
            granted=granted,
            source=source,
            reason=reason,
            updated_at=now,
            version=current.version + 1,
        )
        tx.uow.fan_consents.update(record)
    tx.uow.consent_events.add(
        ConsentEvent(
            id=rt.ids.new_id("consentev"),
            owner_id=owner_id,
            fan_id=fan_id,
            channel=channel,
            topic=topic,
            granted=granted,
            source=source,
            reason=reason,
            actor_id=actor_id,
            at=now,
        )
    )
    return record, True


def suppress_address(
    tx: Tx,
    rt: Runtime,
    *,
    owner_id: str,
    channel: str,
    address: str,
    reason: SuppressionReason | str,
    fan_id: str | None = None,
    source: str | None = None,
    now: datetime,
) -> tuple[Suppression, bool]:
    """Put an address on the account's suppression list (kept as a keyed hash).

    Returns:
        The entry and whether it is new (an address already listed keeps its
        first reason).
    """
    digest = address_hash(suppression_key(rt), channel, address)
    found = tx.uow.suppressions.find(
        And(Eq("owner_id", owner_id), Eq("channel", channel), Eq("address_hash", digest)), limit=1
    )
    if found:
        return found[0], False
    entry = Suppression(
        id=rt.ids.new_id("suppr"),
        owner_id=owner_id,
        channel=channel,
        address_hash=digest,
        reason=SuppressionReason(reason),
        fan_id=fan_id,
        source=source,
        created_at=now,
    )
    tx.uow.suppressions.add(entry)
    return entry, True


def erase_consent(tx: Tx, fan: Any, token: str) -> dict[str, int]:
    """A fan's erasure: their consent and its history go; their suppressions stay
    (keyed hashes, so the address is never messaged again) without the fan's id;
    their deliveries keep counting for the campaigns under the erasure token."""
    scope = And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id))
    counts = {
        "consents": tx.uow.fan_consents.delete_where(scope),
        "consent_events": tx.uow.consent_events.delete_where(scope),
    }
    kept = tx.uow.suppressions.find(scope)
    for entry in kept:
        tx.uow.suppressions.update(attrs.evolve(entry, fan_id=None))
    counts["suppressions_anonymized"] = len(kept)
    deliveries = tx.uow.deliveries.find(scope)
    for delivery in deliveries:
        tx.uow.deliveries.update(
            attrs.evolve(
                delivery,
                fan_id=token,
                idempotency_key=f"{delivery.campaign_id}:{token}:{delivery.channel}",
                version=delivery.version + 1,
            )
        )
    counts["deliveries_anonymized"] = len(deliveries)
    return counts


def export_consent(tx: Tx, fan: Any) -> dict[str, Any]:
    """A fan's export: their consent records, its history and their deliveries."""
    from campaign_core.serialization import to_json

    scope = And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id))
    return {
        "consents": to_json(tx.uow.fan_consents.find(scope, order_by=[Order("id")])),
        "consentEvents": to_json(
            tx.uow.consent_events.find(scope, order_by=[Order("at"), Order("id")])
        ),
        "deliveries": to_json(tx.uow.deliveries.find(scope, order_by=[Order("id")])),
    }


def register_consent_hooks(rt: Runtime) -> None:
    """Plug consent, suppressions and deliveries into ``erase_fan`` and ``export_fan`` (idempotent)."""
    if erase_consent in rt.fan_erase_hooks:
        return
    rt.fan_erase_hooks.append(erase_consent)
    rt.fan_export_hooks.append(export_consent)
