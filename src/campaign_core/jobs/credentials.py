"""Opening stored platform credentials: the host's keys and the account's sealed tokens.

The publishing job opens a credential to hand it to the
:class:`~campaign_core.publishing.Publisher`; the credential service seals,
lists and rotates them. Both find the keys and the records here, so the job
never reaches up into the service.
"""

from __future__ import annotations

from campaign_core._runtime import Runtime, Tx
from campaign_core.publishing import CredentialCipher, CredentialError, PlatformCredential
from campaign_core.query import And, Eq

__all__ = ["open_credential", "require_cipher"]


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
    return require_cipher(rt).open(found[0].sealed, platform=platform, owner_id=owner_id)
