"""Idempotency keys: the first response to a POST, replayed for the same key and body.

The app keeps responses behind a small port, :class:`IdempotencyStore`; the default,
:class:`InMemoryIdempotencyStore`, serves one server process (a deployment with several
processes plugs in a shared one).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

import attrs

__all__ = ["IdempotencyStore", "InMemoryIdempotencyStore", "StoredResponse"]


@attrs.frozen
class StoredResponse:
    """A response kept for replay.

    Attributes:
        fingerprint: the SHA-256 of the method, path and body it answered.
        status: its status code.
        content_type: its content type.
        body: its body bytes.
        expires_at: when it may be forgotten.
    """

    fingerprint: str
    status: int
    content_type: str
    body: bytes
    expires_at: datetime


class IdempotencyStore(Protocol):
    """Where responses to idempotent POSTs are kept (thread-safe)."""

    def get(self, key: str, now: datetime) -> StoredResponse | None:
        """The unexpired response stored under ``key``, if any."""
        ...

    def put(self, key: str, response: StoredResponse) -> None:
        """Keep ``response`` under ``key`` (the first one stays if two race)."""
        ...


class InMemoryIdempotencyStore:
    """An :class:`IdempotencyStore` in a dict, for one process; expired entries are dropped."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._entries: dict[str, StoredResponse] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str, now: datetime) -> StoredResponse | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found.expires_at <= now:
                del self._entries[key]
                return None
            return found

    def put(self, key: str, response: StoredResponse) -> None:
        with self._lock:
            if key in self._entries:
                return
            if len(self._entries) >= self._max:
                # the oldest goes first (dicts keep insertion order)
                del self._entries[next(iter(self._entries))]
            self._entries[key] = response
