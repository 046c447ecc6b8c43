"""Requests answered once: idempotency keys and signed requests already seen (our addition)."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["IdempotencyRecord"]


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """A request the HTTP layer must not run twice (table ``idempotency_records``).

    Two kinds, told apart by ``scope``:

    - ``idempotency``: a POST sent with an ``Idempotency-Key``. The row is written before
      the service runs (``status`` None: in progress) and completed with the response,
      which later requests with the same key and body get back.
    - ``signature``: a signed request already served; a second one with the same signature
      is a replay.

    ``id`` is a digest of the scope, account, user and key, so the primary key is what
    makes two first uses of one key conflict, on every store and across processes.

    Attributes:
        scope: ``idempotency`` or ``signature``.
        owner_id: the account acting.
        actor_id: the user acting.
        key: the client's ``Idempotency-Key``, or the signature.
        method: the request's method.
        path: the request's path and query string.
        request_hash: SHA-256 (hex) of the method, path and body.
        status: the response's status; None while the first request runs.
        response_body: the response's body (UTF-8 text; empty when it had none).
        response_headers: the response's headers to replay (``content-type``...).
        created_at: when the first request arrived.
        expires_at: when the row may be purged (``core.tick()`` does, in batches).
    """

    id: str
    scope: str
    owner_id: str
    actor_id: str
    key: str
    method: str
    path: str
    request_hash: str
    status: int | None = None
    response_body: str = ""
    response_headers: dict[str, str] = attrs.field(factory=dict)
    created_at: datetime
    expires_at: datetime
