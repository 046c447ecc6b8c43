"""Who is acting: the resolvers a host plugs into :func:`create_app`.

The browser never chooses its actor. Either the host's trusted backend (a Next.js route
handler) signs the actor into the request with a secret it shares with this service
(:class:`SignedActorHeaders`, :func:`sign_actor_headers`), or the service checks a bearer
token through the host's own session check (:class:`BearerTokenResolver`).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import secrets as _secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs

from campaign_core.clock import Clock
from campaign_core.errors import CampaignCoreError
from campaign_core.permissions import Actor
from campaign_core_http._errors import UnauthenticatedError

__all__ = [
    "ActorResolver",
    "BearerTokenResolver",
    "RequestInfo",
    "SignedActorHeaders",
    "resolve_actor",
    "sign_actor_headers",
    "signature_base",
]

ACTOR_ID = "x-actor-id"
ACTOR_ROLE = "x-actor-role"
ACTOR_ACCOUNT = "x-actor-account"
TIMESTAMP = "x-actor-timestamp"
NONCE = "x-actor-nonce"
SIGNATURE = "x-actor-signature"
_VERSION = "v1"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: methods whose signed requests are not remembered: reading twice changes nothing
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@attrs.frozen
class RequestInfo:
    """What a resolver may look at.

    Attributes:
        method: the HTTP method, upper case.
        target: the path and query string exactly as sent (``/campaigns?limit=5``).
        headers: the request's headers, names in lower case.
        body: the raw body bytes (empty when there is none).
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes


class ActorResolver(Protocol):
    """A callable from :class:`RequestInfo` to the :class:`~campaign_core.permissions.Actor`.

    It raises :class:`UnauthenticatedError` (401) when it cannot tell who is acting; it may be
    ``async``. A resolver whose proof can be replayed (a signature) may also have a
    ``replay_key(request) -> (key, until) | None`` method, as :class:`SignedActorHeaders`
    has: the app then serves a request with that key once until ``until``.
    """

    def __call__(self, request: RequestInfo, /) -> Actor | Awaitable[Actor]: ...


async def resolve_actor(resolver: ActorResolver, request: RequestInfo) -> Actor:
    """Run a resolver (sync or async); anything but an Actor is a 401."""
    try:
        result = resolver(request)
        if inspect.isawaitable(result):
            result = await result
    except UnauthenticatedError:
        raise
    except CampaignCoreError as error:  # an Actor the resolver could not build
        raise UnauthenticatedError(f"the actor is invalid: {error.message}") from None
    if not isinstance(result, Actor):
        raise UnauthenticatedError("the request does not say who is acting")
    return result


def signature_base(
    method: str, target: str, body: bytes, actor: Actor, timestamp: int | str, nonce: str
) -> bytes:
    """The bytes the signature covers, one item a line.

    ``v1``, the method, the path with its query, the body's SHA-256 (hex), the actor's user
    id, role and account id, the Unix timestamp in seconds and the nonce.
    """
    lines = (
        _VERSION,
        method.upper(),
        target,
        hashlib.sha256(body).hexdigest(),
        actor.user_id,
        actor.role.value,
        actor.account_id,
        str(timestamp),
        nonce,
    )
    return "\n".join(lines).encode()


def sign_actor_headers(
    secret: bytes | str,
    method: str,
    target: str,
    body: bytes,
    actor: Actor,
    now: datetime,
    *,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers a trusted backend adds to say who is acting.

    Args:
        secret: the secret shared with the service.
        method: the request's method.
        target: the path and query string as sent (``/campaigns/c1/launch``).
        body: the exact body bytes sent (``b""`` for none).
        actor: who is acting.
        now: the signing time (the service refuses signatures outside its window).
        nonce: 16 to 128 letters, digits, ``-`` or ``_``, new for every request (a random
            one by default): the service serves a signed write once, so two identical
            writes in the same second need two nonces.

    Returns:
        ``X-Actor-Id``, ``X-Actor-Role``, ``X-Actor-Account``, ``X-Actor-Timestamp``,
        ``X-Actor-Nonce`` and ``X-Actor-Signature`` (``v1=`` and the HMAC-SHA256 in hex).
    """
    timestamp = int(now.timestamp())
    nonce = _secrets.token_urlsafe(16) if nonce is None else nonce
    if not _NONCE.fullmatch(nonce):
        raise ValueError("a nonce is 16 to 128 letters, digits, '-' or '_'")
    digest = _hmac(_key(secret), signature_base(method, target, body, actor, timestamp, nonce))
    return {
        "X-Actor-Id": actor.user_id,
        "X-Actor-Role": actor.role.value,
        "X-Actor-Account": actor.account_id,
        "X-Actor-Timestamp": str(timestamp),
        "X-Actor-Nonce": nonce,
        "X-Actor-Signature": f"{_VERSION}={digest}",
    }


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _hmac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class SignedActorHeaders:
    """Trusts the actor a backend signed into the request (HMAC-SHA256, shared secret).

    The signature covers, one item a line, ``v1``, the method, the path with its query, the
    body's SHA-256 (hex), the actor's user id, role and account id, the Unix timestamp in
    seconds and a nonce (see :func:`sign_actor_headers`); a timestamp further than ``window``
    from the clock's now, in either direction, is refused, so a captured request cannot be
    replayed later. Anything unsigned, or signed with another secret, is a 401.

    Inside the window, :func:`~campaign_core_http.create_app` serves a signed write (any
    method but GET, HEAD and OPTIONS) once: it keeps the signature in the store until the
    window ends (:meth:`replay_key`), so a second request with it is a 401
    ``replayed_request``, whichever server process it reaches.

    Args:
        secrets: the shared secret, or several (the first signs nothing here; any of them
            verifies, so a secret can be rotated without downtime).
        clock: the core's clock (``core.clock``).
        window: how far a timestamp may be from now (default five minutes).
    """

    def __init__(
        self,
        secrets: bytes | str | Sequence[bytes | str],
        *,
        clock: Clock,
        window: timedelta = timedelta(minutes=5),
    ) -> None:
        keys = [secrets] if isinstance(secrets, bytes | str) else list(secrets)
        self._keys = [_key(k) for k in keys]
        if not self._keys or any(len(k) < 16 for k in self._keys):
            raise ValueError("a signing secret must be at least 16 bytes")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self._clock = clock
        self._window = window

    def __call__(self, request: RequestInfo, /) -> Actor:
        headers = request.headers
        missing = [
            h for h in (ACTOR_ID, ACTOR_ACCOUNT, TIMESTAMP, NONCE, SIGNATURE) if not headers.get(h)
        ]
        if missing:
            raise UnauthenticatedError(
                "the request is not signed (missing " + ", ".join(missing) + ")"
            )
        stamp = headers[TIMESTAMP]
        if not stamp.isdigit() or len(stamp) > 12:
            raise UnauthenticatedError("X-Actor-Timestamp must be Unix seconds")
        now = self._clock.now().timestamp()
        if abs(now - int(stamp)) > self._window.total_seconds():
            raise UnauthenticatedError("the signature is outside the replay window")
        try:
            actor = Actor(
                headers[ACTOR_ID],
                role=headers.get(ACTOR_ROLE) or "owner",
                account_id=headers[ACTOR_ACCOUNT],
            )
        except (CampaignCoreError, ValueError):
            raise UnauthenticatedError("the signed actor is invalid") from None
        nonce = headers[NONCE]
        if not _NONCE.fullmatch(nonce):
            raise UnauthenticatedError("X-Actor-Nonce must be 16 to 128 letters, digits, - or _")
        version, _, given = headers[SIGNATURE].partition("=")
        base = signature_base(request.method, request.target, request.body, actor, stamp, nonce)
        if version != _VERSION or not any(
            hmac.compare_digest(_hmac(key, base), given) for key in self._keys
        ):
            raise UnauthenticatedError("the signature does not match the request")
        return actor

    def replay_key(self, request: RequestInfo, /) -> tuple[str, datetime] | None:
        """What :func:`create_app` keeps to serve a signed write once, and until when.

        Called only for a request this resolver accepted.

        Returns:
            The signature and the end of its window, or None for a read (GET, HEAD,
            OPTIONS), which is not remembered.
        """
        if request.method.upper() in _READS:
            return None
        stamp = int(request.headers[TIMESTAMP])
        until = datetime.fromtimestamp(stamp, UTC) + self._window + timedelta(seconds=1)
        return request.headers[SIGNATURE], until


class BearerTokenResolver:
    """Reads ``Authorization: Bearer <token>`` and asks the host who the token is.

    Args:
        verify: the host's session check, ``token -> Actor`` (or None when the token is not
            valid); it may be ``async``.
    """

    def __init__(self, verify: Callable[[str], Actor | Awaitable[Actor | None] | None]) -> None:
        self._verify = verify

    async def __call__(self, request: RequestInfo, /) -> Actor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("a bearer token is required", details={"scheme": "Bearer"})
        result = self._verify(token)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Actor):
            raise UnauthenticatedError("the token is not valid", details={"scheme": "Bearer"})
        return result
