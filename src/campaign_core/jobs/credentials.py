"""Opening stored platform credentials: the host's keys and the account's sealed tokens.

The publishing job opens a credential to hand it to the
:class:`~campaign_core.publishing.Publisher`; the credential service seals,
lists and rotates them. Both find the keys and the records here, so the job
never reaches up into the service.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.models import PlatformCredentialRecord, PublishStatus
from campaign_core.publishing import CredentialCipher, CredentialError, PlatformCredential
from campaign_core.query import And, Eq

__all__: list[str] = []


def require_cipher(rt: Runtime) -> CredentialCipher:
    """The cipher built from the host's ``credential_keys``.

    Args:
        rt: the runtime.

    Returns:
        The :class:`~campaign_core.publishing.CredentialCipher` the core runs with.

    Raises:
        CredentialError: no keys are configured (``reason="no_keys"``).
    """
    if rt.cipher is None:
        raise CredentialError(
            "no credential keys configured: pass credential_keys=[...] to CampaignCore "
            "(make one with CredentialCipher.generate_key())",
            reason="no_keys",
        )
    cipher: CredentialCipher = rt.cipher
    return cipher


def open_credential(rt: Runtime, tx: Tx, owner_id: str, platform: str) -> PlatformCredential | None:
    """The account's opened credential for ``platform`` (for the publisher), or None.

    Args:
        rt: the runtime (its cipher opens the token).
        tx: the transaction to read the record in.
        owner_id: the account.
        platform: the platform's name.

    Returns:
        The opened credential, or None when the account stored none for the platform.

    Raises:
        CredentialError: one is stored but cannot be opened (no keys, another key, altered).
    """
    found = tx.uow.credentials.find(
        And(Eq("owner_id", owner_id), Eq("platform", platform)), limit=1
    )
    if not found:
        return None
    return open_stored(rt, found[0])


def open_stored(rt: Runtime, stored: PlatformCredentialRecord) -> PlatformCredential:
    """Open a stored credential record (read by the caller) for the publisher.

    Args:
        rt: the runtime (its cipher opens the token).
        stored: the account's stored credential record for one platform.

    Returns:
        The opened credential.

    Raises:
        CredentialError: it cannot be opened (no keys, another key, altered).
    """
    return require_cipher(rt).open(
        stored.sealed, platform=stored.platform, owner_id=stored.owner_id
    )


def open_found(
    rt: Runtime,
    found: Mapping[tuple[str, str], PlatformCredentialRecord],
    owner_id: str,
    platform: str,
) -> PlatformCredential | None:
    """:func:`open_credential` from records already read (``(owner, platform) -> record``).

    Args:
        rt: the runtime (its cipher opens the token).
        found: the stored credentials read for a batch of jobs.
        owner_id: the account.
        platform: the platform's name.

    Returns:
        The opened credential, or None when the account stored none for the platform.

    Raises:
        CredentialError: one is stored but cannot be opened (no keys, another key, altered).
    """
    stored = found.get((owner_id, platform))
    return None if stored is None else open_stored(rt, stored)


@attrs.frozen
class CredentialWait:
    """A stored credential the configured keys cannot open: the job waits for the fix.

    A configuration error, not the platform's answer: no attempt is spent, the
    job is looked at again every ``Settings.credential_recheck``, and it
    publishes once the keys (or the credential) are fixed.

    Attributes:
        reason: what is wrong and how to fix it (never a key or a secret).
        code: ``credential_keys_missing``, ``credential_undecryptable`` or
            ``credential_unreadable``.
    """

    reason: str
    code: str


#: the start of a waiting job's ``last_error`` (how setting a credential finds the jobs to wake)
WAITING_FOR_CREDENTIALS = "waiting for usable credentials: "


def credential_wait(platform: str, error: CredentialError) -> CredentialWait:
    """Why a stored credential cannot be opened, and what fixes it (no secret in it).

    Args:
        platform: the platform's name.
        error: what the cipher raised.

    Returns:
        The wait, with a reason that starts with :data:`WAITING_FOR_CREDENTIALS`.
    """
    if error.reason == "no_keys":
        reason = (
            f"credentials are stored for {platform} but no credential_keys are "
            "configured on CampaignCore, so they cannot be opened (a configuration error: "
            "pass credential_keys=[...] with the key they were sealed with)"
        )
        code = "credential_keys_missing"
    elif error.reason == "decryption_failed":
        reason = (
            f"the stored {platform} credential cannot be decrypted with the configured "
            "credential keys (it was sealed with a key the core does not have, or altered): "
            "configure that key or set the credential again"
        )
        code = "credential_undecryptable"
    else:
        # malformed_token, platform_mismatch, owner_mismatch: messages never hold a secret
        reason = (
            f"the stored {platform} credential cannot be opened with the configured "
            f"credential keys ({error.reason}): {error.message}"
        )
        code = "credential_unreadable"
    return CredentialWait(reason=WAITING_FOR_CREDENTIALS + reason, code=code)


def wake_credential_waits(tx: Tx, rt: Runtime, owner_id: str, platform: str) -> int:
    """Make an account's jobs waiting for a platform's credentials due now (it set them again).

    Args:
        tx: the transaction that stores the new credential.
        rt: the runtime.
        owner_id: the account.
        platform: the platform's name.

    Returns:
        How many jobs were woken.
    """
    waiting = tx.uow.publish_jobs.find(
        And(
            Eq("owner_id", owner_id),
            Eq("platform", platform),
            Eq("status", PublishStatus.RETRYING),
        )
    )
    now = rt.now()
    woken = 0
    for job in waiting:
        if not (job.last_error or "").startswith(WAITING_FOR_CREDENTIALS):
            continue
        tx.uow.publish_jobs.update(
            attrs.evolve(job, next_attempt_at=now, updated_at=now, version=job.version + 1)
        )
        woken += 1
    return woken
