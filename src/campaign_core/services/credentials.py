"""CredentialService: platform API credentials of an account, encrypted at rest.

Secrets are sealed with the host's keys (``CampaignCore(..., credential_keys=[...])``,
Fernet keys, newest first; see :class:`~campaign_core.publishing.CredentialCipher`)
before they reach the store, and never come back out through this API: callers
see only which platforms have credentials and when they were set or rotated.
The engine opens them only to hand them to the :class:`Publisher` (as
:class:`~campaign_core.publishing.PlatformCredential`, whose repr, str and JSON
show ``***``). Only the account's owner may manage them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Runtime, Service
from campaign_core.audit import audited
from campaign_core.errors import NotFoundError, ProblemCollector, ValidationError
from campaign_core.jobs.credentials import require_cipher, wake_credential_waits
from campaign_core.models import PlatformCredentialRecord
from campaign_core.permissions import Actor, Permission
from campaign_core.publishing import CredentialCipher, CredentialError
from campaign_core.query import And, Eq, Order

__all__: list[str] = []


@attrs.frozen
class CredentialInfo:
    """What the API tells about stored credentials: never the secret."""

    platform: str
    fields: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None


def _opens(cipher: CredentialCipher, record: PlatformCredentialRecord) -> bool:
    """Whether ``cipher`` opens a stored credential."""
    try:
        cipher.open(record.sealed, platform=record.platform, owner_id=record.owner_id)
    except CredentialError:
        return False
    return True


class CredentialService:
    """Platform credentials of one account (``core.for_actor(actor).credentials``)."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def actor(self) -> Actor:
        return self._svc.actor

    def _platform(self, platform: Any) -> str:
        registry = self._rt.settings.platforms
        clean = registry.check(platform, "platform", ProblemCollector())
        if clean is None:
            # not the registry's message, which quotes the value: a secret passed in the
            # wrong position must stay out of errors
            raise ValidationError.single(
                "platform",
                f"must be one of: {', '.join(registry.names)} (the value is not shown)",
                "invalid_value" if isinstance(platform, str) else "invalid_type",
            )
        return str(clean)

    def _info(self, record: PlatformCredentialRecord) -> CredentialInfo:
        opened = require_cipher(self._rt).open(
            record.sealed, platform=record.platform, owner_id=record.owner_id
        )
        return CredentialInfo(
            platform=record.platform,
            fields=opened.names,
            created_at=record.created_at,
            updated_at=record.updated_at,
            rotated_at=record.rotated_at,
        )

    @audited("credential.set")
    def set_platform_credentials(self, platform: Any, secret: Mapping[str, Any]) -> CredentialInfo:
        """Store (or replace) the account's credentials for a platform, encrypted.

        Args:
            platform: onlyfans, instagram, tiktok or reddit.
            secret: ``{"access_token": "...", ...}``: names to string values.

        Publish jobs of the account waiting for this platform's credentials
        (the keys could not open the old ones) become due at once.

        Raises:
            ValidationError: a bad platform or secret (the message never echoes a value).
            CredentialError: no keys are configured; or the configured keys cannot
                open the account's credentials for another platform
                (``reason="decryption_failed"``, nothing stored): the core runs
                with another key than the one they were sealed with, and storing
                this one would leave the account sealed under two keys. Configure
                that key (or delete those credentials) first.
        """
        self._svc._require(Permission.CREDENTIALS)
        name = self._platform(platform)
        cipher = require_cipher(self._rt)
        sealed = cipher.seal(name, secret, owner_id=self._svc.account_id)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            records = tx.uow.credentials.find(Eq("owner_id", self._svc.account_id))
            unreadable = sorted(
                r.platform for r in records if r.platform != name and not _opens(cipher, r)
            )
            if unreadable:
                raise CredentialError(
                    f"the account's stored credentials for {', '.join(unreadable)} cannot be "
                    "opened with the configured credential keys (sealed with a key the core "
                    "does not have, or altered): configure that key, or delete them, before "
                    "setting credentials under these keys",
                    reason="decryption_failed",
                )
            found = [r for r in records if r.platform == name]
            if found:
                record = attrs.evolve(
                    found[0], sealed=sealed, updated_at=now, version=found[0].version + 1
                )
                tx.uow.credentials.update(record)
            else:
                record = PlatformCredentialRecord(
                    id=self._rt.ids.new_id("credential"),
                    owner_id=self._svc.account_id,
                    platform=name,
                    sealed=sealed,
                    created_at=now,
                    updated_at=now,
                )
                tx.uow.credentials.add(record)
            wake_credential_waits(tx, self._rt, self._svc.account_id, name)
        return self._info(record)

    def list_platform_credentials(self) -> list[CredentialInfo]:
        """Which platforms have credentials (never the secrets)."""
        self._svc._require(Permission.CREDENTIALS)
        with self._rt.transaction() as tx:
            records = tx.uow.credentials.find(
                Eq("owner_id", self._svc.account_id), order_by=[Order("platform")]
            )
        return [self._info(r) for r in records]

    @audited("credential.delete")
    def delete_platform_credentials(self, platform: Any) -> None:
        """Forget a platform's credentials.

        Raises:
            NotFoundError: none are stored for that platform.
        """
        self._svc._require(Permission.CREDENTIALS)
        name = self._platform(platform)
        with self._rt.transaction() as tx:
            deleted = tx.uow.credentials.delete_where(
                And(Eq("owner_id", self._svc.account_id), Eq("platform", name))
            )
        if not deleted:
            raise NotFoundError("credential", name)

    @audited("credential.rotate")
    def rotate_credentials(self) -> int:
        """Re-encrypt the account's credentials under the newest key; returns how many changed.

        Run it after putting a new key first in ``credential_keys``; once every
        account is rotated the old key can be dropped.
        """
        self._svc._require(Permission.CREDENTIALS)
        cipher = require_cipher(self._rt)
        now = self._rt.now()
        rotated = 0
        with self._rt.transaction() as tx:
            for record in tx.uow.credentials.find(Eq("owner_id", self._svc.account_id)):
                if not cipher.needs_rotation(record.sealed):
                    continue
                tx.uow.credentials.update(
                    attrs.evolve(
                        record,
                        sealed=cipher.rotate(record.sealed),
                        rotated_at=now,
                        updated_at=now,
                        version=record.version + 1,
                    )
                )
                rotated += 1
        return rotated
