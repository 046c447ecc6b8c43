"""Addresses as the suppression list keeps them: keyed hashes, never in clear."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["address_hash", "normalize_address"]


def normalize_address(channel: str, address: str) -> str:
    """The form an address is compared in: trimmed; e-mail addresses lower-cased."""
    text = address.strip()
    return text.lower() if channel == "email" else text


def address_hash(key: bytes, channel: str, address: str) -> str:
    """The keyed hash of ``address`` on ``channel`` (HMAC-SHA256 hex, 64 characters).

    ``key`` is the host's secret (``Settings.pseudonym_key``): without it, the list
    cannot be matched against a list of known addresses. The same address on two
    channels hashes differently.
    """
    message = f"{channel}\x00{normalize_address(channel, address)}".encode()
    return hmac.digest(key, message, hashlib.sha256).hex()
