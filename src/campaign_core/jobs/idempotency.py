"""Requests answered once, kept in the store: idempotency keys and signed requests seen.

The HTTP layer (``campaign_core_http``) calls these; the rules live here, the store only
keeps the rows (``idempotency_records``, :class:`~campaign_core.models.IdempotencyRecord`).

**Idempotency keys.** A POST with an ``Idempotency-Key`` first *claims* the key: one
short transaction inserts a row without a response. The row's id is a digest of the
scope, the account, the user and the key, so the insert is what decides, on every store
and across server processes, which of two concurrent first uses runs: the other finds the
row in progress and is answered 409 ``idempotency_key_in_use`` (it may retry; it does not
wait). When the service has answered, the row is *completed* with the response, which is
then replayed for the same key and request, and refused (422) for another request. A
response that should not be replayed (5xx, 429) *releases* the key instead. A row left in
progress longer than :data:`PENDING_TIMEOUT` (its server died mid-request) is taken over
by the next request with the key, as is an expired one the purge has not reached yet.

**Signed requests.** A signed write is *marked seen* under its signature until its replay
window ends; a second request with the same signature finds the row and is refused.

**Expiry.** ``core.tick()`` deletes expired rows in bounded batches
(``settings.retention``, see :mod:`campaign_core.jobs.retention`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

import attrs

from campaign_core.errors import ConflictError
from campaign_core.models import IdempotencyRecord
from campaign_core.query import And, Eq, In, IsNull, Lte, Order

if TYPE_CHECKING:
    from campaign_core._runtime import Runtime

__all__: list[str] = []

IDEMPOTENCY: Final = "idempotency"
SIGNATURE: Final = "signature"
PENDING_TIMEOUT: Final = timedelta(minutes=5)
"""How long a claimed key may stay without a response before another request takes it over."""


def record_id(scope: str, owner_id: str, actor_id: str, key: str) -> str:
    """The row's id: SHA-256 (hex) of the scope, account, user and key, one a line."""
    return hashlib.sha256("\n".join((scope, owner_id, actor_id, key)).encode()).hexdigest()


@attrs.frozen
class Claim:
    """What claiming an idempotency key found.

    Attributes:
        outcome: ``run`` (the key is this request's: run it, then complete or release),
            ``replay`` (answered before: ``record`` holds the response), ``busy`` (the
            first request with the key is still running), ``mismatch`` (the key was used
            with another request).
        record: this request's row (``run``) or the stored one.
    """

    outcome: Literal["run", "replay", "busy", "mismatch"]
    record: IdempotencyRecord


def claim_key(
    rt: Runtime,
    *,
    owner_id: str,
    actor_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
) -> Claim:
    """Claim ``key`` for this request, or say why not (see the module docs).

    Args:
        rt: the core's runtime (store, clock, settings).
        owner_id: the acting account.
        actor_id: the acting user.
        key: the client's ``Idempotency-Key``.
        method: the request's method.
        path: the request's path and query string.
        request_hash: SHA-256 (hex) of the method, path and body.

    Returns:
        The :class:`Claim`.
    """
    now = rt.now()
    mine = IdempotencyRecord(
        id=record_id(IDEMPOTENCY, owner_id, actor_id, key),
        scope=IDEMPOTENCY,
        owner_id=owner_id,
        actor_id=actor_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        created_at=now,
        expires_at=now + timedelta(hours=rt.settings.retention.idempotency_hours),
    )
    for _ in range(2):  # a stale row taken over once; a second clash is another request's
        if _insert(rt, mine):
            return Claim("run", mine)
        with rt.store.unit_of_work() as uow:
            stored = uow.idempotency_records.get(mine.id)
            if stored is None:  # released or purged meanwhile: try again
                continue
            stale = stored.expires_at <= now or (
                stored.status is None and stored.created_at + PENDING_TIMEOUT <= now
            )
            if not stale:
                if stored.request_hash != request_hash:
                    return Claim("mismatch", stored)
                return Claim("replay" if stored.status is not None else "busy", stored)
            # only the request that deletes the stale row (the one it read) takes it over
            taken = uow.idempotency_records.delete_where(
                And(Eq("id", stored.id), Eq("created_at", stored.created_at))
            )
            uow.commit()
        if not taken:
            continue
    return Claim("busy", mine)


def _insert(rt: Runtime, record: IdempotencyRecord) -> bool:
    """Insert ``record`` in its own transaction; False if its id exists (committed by another)."""
    try:
        with rt.store.unit_of_work() as uow:
            uow.idempotency_records.add(record)
            uow.commit()
    except ConflictError:
        return False
    return True


def complete_key(
    rt: Runtime, claimed: IdempotencyRecord, status: int, body: str, headers: dict[str, str]
) -> None:
    """Keep the response to the request that claimed ``claimed`` (if the row is still its own)."""
    with rt.store.unit_of_work() as uow:
        stored = uow.idempotency_records.get(claimed.id)
        if stored is None or stored.created_at != claimed.created_at or stored.status is not None:
            return  # taken over after PENDING_TIMEOUT: the later request's answer stays
        uow.idempotency_records.update(
            attrs.evolve(stored, status=status, response_body=body, response_headers=headers)
        )
        uow.commit()


def release_key(rt: Runtime, claimed: IdempotencyRecord) -> None:
    """Forget the claim (the response is not to be replayed): the key may be used again."""
    with rt.store.unit_of_work() as uow:
        uow.idempotency_records.delete_where(
            And(Eq("id", claimed.id), Eq("created_at", claimed.created_at), IsNull("status"))
        )
        uow.commit()


def mark_seen(
    rt: Runtime,
    *,
    owner_id: str,
    actor_id: str,
    signature: str,
    method: str,
    path: str,
    request_hash: str,
    expires_at: datetime,
) -> bool:
    """Remember a signed request until ``expires_at``; False if it was seen before.

    Args:
        rt: the core's runtime.
        owner_id: the signed account.
        actor_id: the signed user.
        signature: the request's signature (what a replay repeats).
        method: the request's method.
        path: the request's path and query string.
        request_hash: SHA-256 (hex) of the method, path and body.
        expires_at: the end of the signature's window (the row may be purged then).

    Returns:
        True the first time, False for a replay.
    """
    now = rt.now()
    seen = IdempotencyRecord(
        id=record_id(SIGNATURE, owner_id, actor_id, signature),
        scope=SIGNATURE,
        owner_id=owner_id,
        actor_id=actor_id,
        key=signature,
        method=method,
        path=path,
        request_hash=request_hash,
        status=0,
        created_at=now,
        expires_at=expires_at,
    )
    if _insert(rt, seen):
        return True
    with rt.store.unit_of_work() as uow:
        # a row past its expiry the purge has not reached: the signature's window has ended,
        # so its timestamp refuses such a request before it gets here (a clock moved back)
        gone = uow.idempotency_records.delete_where(And(Eq("id", seen.id), Lte("expires_at", now)))
        uow.commit()
    return bool(gone) and _insert(rt, seen)


def purge_expired_records(rt: Runtime, now: datetime, batch: int) -> int:
    """Delete up to ``batch`` expired rows, oldest expiry first; returns how many."""
    with rt.store.unit_of_work() as uow:
        rows = uow.idempotency_records.find(
            Lte("expires_at", now), order_by=[Order("expires_at"), Order("id")], limit=batch
        )
        if rows:
            uow.idempotency_records.delete_where(In("id", [r.id for r in rows]))
        uow.commit()
    return len(rows)
