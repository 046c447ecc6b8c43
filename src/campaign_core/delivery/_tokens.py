"""Signed unsubscribe tokens (pure: the keys and ``now`` come in).

A token is ``base64url(JSON claims) + "." + base64url(HMAC-SHA256(key, first part))``
without padding. The claims are ``acct`` (the account), ``fan`` (the host's fan id),
``ch`` (the channel), ``topic`` (None: every topic on the channel), ``exp`` (expiry,
seconds since the epoch) and ``jti`` (the token's id, for replay safety). The first
key of a list signs; every key verifies (rotation: put the new key first, drop the
old one once its tokens have expired). Signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from campaign_core.errors import InvalidTokenError, ProblemCollector

__all__ = [
    "MAX_TOKEN_LENGTH",
    "UnsubscribeToken",
    "check_mailto",
    "check_unsubscribe_url",
    "list_unsubscribe_headers",
    "read_unsubscribe_token",
    "sign_unsubscribe_token",
    "unsubscribe_link",
]

MAX_TOKEN_LENGTH: Final = 2048
"""Longer strings are refused as malformed before any decoding."""


@attrs.frozen(kw_only=True)
class UnsubscribeToken:
    """What an unsubscribe token says (its claims).

    Attributes:
        account: the account (creator) the fan belongs to.
        fan_id: the host's fan id.
        channel: the channel the link came with.
        topic: the topic to refuse; None refuses every topic on the channel.
        expires_at: when the token stops working (aware UTC, whole seconds).
        jti: the token's id; a token is applied once.
    """

    account: str
    fan_id: str
    channel: str
    topic: str | None
    expires_at: datetime
    jti: str

    def claims(self) -> dict[str, Any]:
        """The JSON claims, as signed."""
        return {
            "acct": self.account,
            "fan": self.fan_id,
            "ch": self.channel,
            "topic": self.topic,
            "exp": int(self.expires_at.timestamp()),
            "jti": self.jti,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def sign_unsubscribe_token(token: UnsubscribeToken, keys: Sequence[bytes]) -> str:
    """The token as a string, signed with the first of ``keys``."""
    if not keys:
        raise ValueError("at least one key is needed to sign")
    payload = _b64(
        json.dumps(token.claims(), separators=(",", ":"), sort_keys=True).encode("utf-8")
    )
    return f"{payload}.{_b64(_mac(keys[0], payload))}"


def _malformed() -> InvalidTokenError:
    return InvalidTokenError("malformed", "the unsubscribe token is malformed")


def read_unsubscribe_token(text: Any, keys: Sequence[bytes], now: datetime) -> UnsubscribeToken:
    """The claims of a token signed with one of ``keys`` that has not expired at ``now``.

    Raises:
        InvalidTokenError: ``malformed`` (not a token), ``bad_signature`` (tampered
            with, or signed with a key no longer listed), ``expired``.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_TOKEN_LENGTH:
        raise _malformed()
    payload, dot, signature = text.strip().partition(".")
    if not dot or not payload or not signature:
        raise _malformed()
    try:
        given = _unb64(signature)
        raw = _unb64(payload)
    except (binascii.Error, ValueError):
        raise _malformed() from None
    try:
        expected = [_mac(key, payload) for key in keys]
    except UnicodeEncodeError:
        raise _malformed() from None
    # every key is compared (no early exit), each in constant time
    matched = False
    for mac in expected:
        matched |= hmac.compare_digest(mac, given)
    if not matched:
        raise InvalidTokenError("bad_signature", "the unsubscribe token's signature does not match")
    try:
        claims = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _malformed() from None
    token = _token(claims)
    if token is None:
        raise _malformed()
    if now >= token.expires_at:
        raise InvalidTokenError("expired", "the unsubscribe token has expired")
    return token


def _token(claims: Any) -> UnsubscribeToken | None:
    if not isinstance(claims, dict):
        return None
    strings = [claims.get(k) for k in ("acct", "fan", "ch", "jti")]
    topic = claims.get("topic")
    exp = claims.get("exp")
    if not all(isinstance(v, str) and v for v in strings):
        return None
    if topic is not None and not isinstance(topic, str):
        return None
    if isinstance(exp, bool) or not isinstance(exp, int) or not 0 < exp < 2**37:
        return None
    account, fan_id, channel, jti = (str(v) for v in strings)
    return UnsubscribeToken(
        account=account,
        fan_id=fan_id,
        channel=channel,
        topic=topic,
        expires_at=datetime.fromtimestamp(exp, UTC),
        jti=jti,
    )


def check_unsubscribe_url(value: Any, path: str, problems: ProblemCollector) -> None:
    """An unsubscribe endpoint: an ``https://`` URL (RFC 8058 needs HTTPS) without spaces or ``<>,``."""
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.netloc
        or any(c.isspace() or c in "<>," for c in str(value))
    ):
        problems.add(path, "expected an https:// URL (RFC 8058 needs HTTPS)")


def check_mailto(value: Any, path: str, problems: ProblemCollector) -> None:
    """An address mail clients unsubscribe by (``unsubscribe@example.com``)."""
    if (
        not isinstance(value, str)
        or "@" not in value
        or any(c.isspace() or c in "<>,?" for c in value)
    ):
        problems.add(path, "expected an email address such as 'unsubscribe@example.com'")


def unsubscribe_link(url_base: str, token: str) -> str:
    """The host's unsubscribe endpoint with the ``token`` query parameter."""
    query = urllib.parse.urlencode({"token": token})
    return f"{url_base}{'&' if urllib.parse.urlsplit(url_base).query else '?'}{query}"


def list_unsubscribe_headers(url: str, token: str, mailto: str | None) -> dict[str, str]:
    """The ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` header values (RFC 8058).

    ``List-Unsubscribe`` is the link, then the ``mailto:`` (the token in its subject)
    when given, each in angle brackets; ``List-Unsubscribe-Post`` is one-click.
    """
    values = [f"<{url}>"]
    if mailto is not None:
        values.append(f"<mailto:{mailto}?subject={urllib.parse.quote('unsubscribe ' + token)}>")
    return {
        "List-Unsubscribe": ", ".join(values),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
