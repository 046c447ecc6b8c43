"""Platform credentials, encrypted at rest with a key the host supplies.

:class:`CredentialCipher` seals a platform's secrets (API keys, OAuth tokens)
into an opaque token to store, and opens it again. It uses the ``cryptography``
package's Fernet (AES-128-CBC with HMAC-SHA256, authenticated: a wrong key or a
changed token is detected, never decrypted into garbage) and MultiFernet for
key rotation: the first key encrypts, every key decrypts, and
:meth:`CredentialCipher.rotate` re-encrypts a token under the first key.

The token binds the platform (and the owner, when given) inside the encrypted
payload, so a token copied onto another platform's or owner's row is refused
when opened with those expectations.

Opened secrets are :class:`Secret` values whose ``repr``, ``str`` and JSON are
``***``: printing, logging or serializing a credential never shows the secret;
only :meth:`Secret.reveal` does.

``cryptography`` is an optional dependency (extra ``crypto``); it is imported
when a cipher is built.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from campaign_core.clock import Clock, SystemClock
from campaign_core.errors import (
    CampaignCoreError,
    MissingDependencyError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.publishing._platforms import PLATFORMS

__all__ = ["CredentialCipher", "CredentialError", "PlatformCredential", "Secret"]

_MASK: Final = "***"
_VERSION: Final = 1
_MAX_FIELDS = 50
_MAX_NAME = 100
_SECRET_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{_MAX_NAME - 1}}}")
_MAX_VALUE = 16 * 1024
_MAX_TOTAL = 64 * 1024
_MAX_OWNER = 200


class CredentialError(CampaignCoreError):
    """A credential could not be sealed or opened with the keys configured.

    ``reason`` says why, in a stable code:

    - ``no_keys``: the cipher was given no key;
    - ``invalid_key``: a key is not a Fernet key (32 url-safe base64 bytes);
    - ``decryption_failed``: the token was sealed with a key the cipher does not
      have (a wrong or removed key), or it was altered;
    - ``malformed_token``: the token is not a credential token;
    - ``platform_mismatch`` / ``owner_mismatch``: the token belongs to another
      platform or owner than expected.

    Messages never contain a key, a token or a secret.
    """

    code = "credential_error"
    http_status = 500

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message, details={"reason": reason})


class Secret:
    """A secret string that does not show itself.

    ``repr``, ``str``, ``format`` and :meth:`to_json` give ``***``; equality is
    constant-time. :meth:`reveal` returns the value, for the one place that
    sends it to the platform.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise ValidationError.single("secret", "must be a string", "invalid_type")
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Do not log it."""
        return self._value

    def to_json(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __reduce__(self) -> Any:
        # Pickling would write the secret in clear to wherever the pickle goes.
        raise TypeError("a Secret cannot be pickled; seal it with a CredentialCipher instead")


@attrs.frozen(repr=False)
class PlatformCredential:
    """A platform's opened credential: named secrets, shown as ``***``.

    Attributes:
        platform: the platform it is for.
        fields: the secrets, as sorted ``(name, Secret)`` pairs.
        owner_id: the owner it was sealed for, if any.
        sealed_at: when it was sealed (the token's timestamp), aware UTC.
    """

    platform: str
    fields: tuple[tuple[str, Secret], ...]
    owner_id: str | None = None
    sealed_at: datetime | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the secrets (safe to show)."""
        return tuple(name for name, _ in self.fields)

    def __getitem__(self, name: str) -> Secret:
        for key, value in self.fields:
            if key == name:
                return value
        raise ValidationError.single(
            name, f"the {self.platform} credential has no field {name!r}", "unknown_field"
        )

    def reveal(self) -> dict[str, str]:
        """The secrets in clear, for the publisher that sends them. Do not log them."""
        return {name: value.reveal() for name, value in self.fields}

    def to_json(self) -> dict[str, Any]:
        """The credential as JSON with every secret masked."""
        return {
            "platform": self.platform,
            "ownerId": self.owner_id,
            "sealedAt": self.sealed_at.isoformat() if self.sealed_at else None,
            "fields": {name: _MASK for name, _ in self.fields},
        }

    def __repr__(self) -> str:
        return (
            f"PlatformCredential(platform={self.platform!r}, owner_id={self.owner_id!r}, "
            f"fields={list(self.names)!r})"
        )

    __str__ = __repr__


def _check_secret(secret: object) -> dict[str, str]:
    if not isinstance(secret, Mapping):
        raise ValidationError.single(
            "secret", "must be an object of secret names to strings", "invalid_type"
        )
    problems = ProblemCollector()
    if not secret:
        problems.add("secret", "must hold at least one secret", "required")
    if len(secret) > _MAX_FIELDS:
        problems.add("secret", f"must hold at most {_MAX_FIELDS} secrets", "out_of_range")
    clear: dict[str, str] = {}
    total = 0
    for index, (name, value) in enumerate(secret.items()):
        # a problem names the secret by its position, never by its name: a host may have
        # put a secret where a name goes, and names are never echoed either
        path = join_path("secret", index)
        if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
            problems.add(
                path,
                f"a secret's name must be 1 to {_MAX_NAME} letters, digits or '_',"
                " starting with a letter (the name is not shown)",
                "invalid_value",
            )
            continue
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            # never echo the value: it may be a secret of the wrong type
            problems.add(path, "must be a string", "invalid_type")
            continue
        if len(value) > _MAX_VALUE:
            problems.add(path, f"must be at most {_MAX_VALUE:,} characters", "out_of_range")
            continue
        total += len(value)
        clear[name] = value
    if total > _MAX_TOTAL:
        problems.add("secret", f"the secrets must total at most {_MAX_TOTAL:,} characters")
    problems.raise_if_any()
    return clear


def _check_owner(owner_id: object) -> str | None:
    if owner_id is None:
        return None
    if not isinstance(owner_id, str) or not owner_id or len(owner_id) > _MAX_OWNER:
        raise ValidationError.single(
            "owner_id", f"must be a string of 1 to {_MAX_OWNER} characters", "invalid_value"
        )
    return owner_id


def _check_platform(platform: object, known: Collection[str]) -> str:
    if not isinstance(platform, str) or platform not in known:
        # not echoed: a secret passed in the wrong position must not reach an error
        raise ValidationError.single(
            "platform", f"unknown platform (the value is not shown); known: {', '.join(known)}"
        )
    return platform


def _token_bytes(token: object) -> bytes:
    if isinstance(token, str):
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise CredentialError(
                "the stored credential is not a credential token", reason="malformed_token"
            ) from None
    if isinstance(token, bytes):
        return token
    raise ValidationError.single("token", "must be a string", "invalid_type")


class CredentialCipher:
    """Seals and opens platform credentials with host-supplied Fernet keys.

    Args:
        keys: one key, or several with the newest first: the first encrypts,
            all decrypt (so keys can be rotated without downtime). A key is 32
            url-safe base64-encoded bytes as made by :meth:`generate_key`, given
            as ``str``, ``bytes`` or :class:`Secret`.
        clock: the clock that stamps tokens (``sealed_at``); the system clock by default.
        platforms: the platforms credentials may be sealed for (a core passes its
            registry's names); the built-in platforms by default.

    Raises:
        CredentialError: no key, or a key that is not a Fernet key (``reason``
            ``no_keys`` / ``invalid_key``; the message says which key by position).
        MissingDependencyError: ``cryptography`` is not installed (extra ``crypto``).
    """

    def __init__(
        self,
        keys: str | bytes | Secret | Sequence[str | bytes | Secret],
        *,
        clock: Clock | None = None,
        platforms: Collection[str] = PLATFORMS,
    ) -> None:
        try:
            from cryptography.fernet import Fernet, InvalidToken, MultiFernet
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise MissingDependencyError("crypto", "cryptography") from None
        items = list(keys) if isinstance(keys, list | tuple) else [keys]
        if not items:
            raise CredentialError("no encryption key was given", reason="no_keys")
        fernets = []
        ids = []
        for index, key in enumerate(items):
            raw: Any = key.reveal() if isinstance(key, Secret) else key
            try:
                fernets.append(Fernet(raw))
            except (ValueError, TypeError):
                raise CredentialError(
                    f"key {index + 1} of {len(items)} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes); make one with CredentialCipher.generate_key()",
                    reason="invalid_key",
                ) from None
            material = raw.encode() if isinstance(raw, str) else bytes(raw)
            ids.append(hashlib.sha256(material).hexdigest()[:8])
        self._primary = fernets[0]
        self._multi = MultiFernet(fernets)
        self._invalid_token = InvalidToken
        self._key_ids = tuple(ids)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._platforms = tuple(platforms)

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key, as text to keep in the host's secret store.

        Raises:
            MissingDependencyError: ``cryptography`` is not installed (extra ``crypto``).
        """
        try:
            from cryptography.fernet import Fernet
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise MissingDependencyError("crypto", "cryptography") from None
        return Fernet.generate_key().decode("ascii")

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Short fingerprints of the keys (first 8 hex of their SHA-256), newest first; safe to log."""
        return self._key_ids

    def __repr__(self) -> str:
        return f"CredentialCipher(key_ids={list(self._key_ids)!r})"

    def seal(
        self, platform: str, secret: Mapping[str, str | Secret], *, owner_id: str | None = None
    ) -> str:
        """Encrypt a platform's secrets into a token to store.

        Args:
            platform: the platform the secrets are for.
            secret: secret names to values, such as ``{"accessToken": "..."}``.
            owner_id: the owner they belong to; when given, opening the token
                with another ``owner_id`` is refused.

        Returns:
            An ASCII token (url-safe base64). It holds neither the secret nor
            anything from which it could be read without a key.

        Raises:
            ValidationError: unknown platform, or secrets that are not a
                non-empty object of strings (values are never echoed).
        """
        platform = _check_platform(platform, self._platforms)
        owner = _check_owner(owner_id)
        clear = _check_secret(secret)
        payload = json.dumps(
            {"v": _VERSION, "platform": platform, "owner": owner, "secret": clear},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        now = int(self._clock.now().timestamp())
        return self._multi.encrypt_at_time(payload, now).decode("ascii")

    def open(
        self,
        token: str | bytes,
        *,
        platform: str | None = None,
        owner_id: str | None = None,
    ) -> PlatformCredential:
        """Decrypt a token made by :meth:`seal`.

        Args:
            token: the stored token.
            platform: when given, the token must be for this platform.
            owner_id: when given, the token must have been sealed for this owner.

        Returns:
            The credential, its secrets masked until revealed.

        Raises:
            CredentialError: ``decryption_failed`` (wrong key or altered token),
                ``malformed_token``, ``platform_mismatch`` or ``owner_mismatch``.
            ValidationError: ``token`` is not a string.
        """
        raw = _token_bytes(token)
        try:
            payload = self._multi.decrypt(raw)
        except self._invalid_token:
            raise CredentialError(
                "the credential could not be decrypted: it was sealed with a key this cipher "
                f"does not have (keys configured: {', '.join(self._key_ids)}), or it was altered",
                reason="decryption_failed",
            ) from None
        try:
            data = json.loads(payload.decode("utf-8"))
            ok = (
                isinstance(data, dict)
                and data.get("v") == _VERSION
                and data.get("platform") in self._platforms
                and isinstance(data.get("secret"), dict)
                and all(isinstance(v, str) for v in data["secret"].values())
                and (data.get("owner") is None or isinstance(data.get("owner"), str))
            )
        except (UnicodeDecodeError, ValueError):
            ok = False
        if not ok:
            raise CredentialError(
                "the token decrypts but is not a credential sealed by campaign-core",
                reason="malformed_token",
            )
        if platform is not None and data["platform"] != platform:
            raise CredentialError(
                f"the credential is for {data['platform']}, not {platform}",
                reason="platform_mismatch",
            )
        if owner_id is not None and data.get("owner") != owner_id:
            raise CredentialError(
                "the credential was sealed for another owner", reason="owner_mismatch"
            )
        sealed_at = datetime.fromtimestamp(self._multi.extract_timestamp(raw), UTC)
        return PlatformCredential(
            platform=data["platform"],
            fields=tuple(sorted((k, Secret(v)) for k, v in data["secret"].items())),
            owner_id=data.get("owner"),
            sealed_at=sealed_at,
        )

    def rotate(self, token: str | bytes) -> str:
        """Re-encrypt a token under the newest key (its timestamp is kept).

        Run it over every stored token after putting a new key first; once done,
        the old key can be removed.

        Args:
            token: a stored token, sealed with any of the cipher's keys.

        Returns:
            The new token.

        Raises:
            CredentialError: ``decryption_failed`` (no key opens it).
            ValidationError: ``token`` is not a string.
        """
        raw = _token_bytes(token)
        try:
            return self._multi.rotate(raw).decode("ascii")
        except self._invalid_token:
            raise CredentialError(
                "the credential could not be decrypted for rotation: none of the keys "
                f"({', '.join(self._key_ids)}) opens it, or it was altered",
                reason="decryption_failed",
            ) from None

    def needs_rotation(self, token: str | bytes) -> bool:
        """Whether ``token`` was sealed with a key other than the newest.

        Raises:
            CredentialError: ``decryption_failed`` (no key opens it).
            ValidationError: ``token`` is not a string.
        """
        raw = _token_bytes(token)
        try:
            self._primary.decrypt(raw)
        except self._invalid_token:
            pass
        else:
            return False
        try:
            self._multi.decrypt(raw)
        except self._invalid_token:
            raise CredentialError(
                "the credential could not be decrypted: none of the keys "
                f"({', '.join(self._key_ids)}) opens it, or it was altered",
                reason="decryption_failed",
            ) from None
        return True
