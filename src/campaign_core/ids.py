"""Identifier factories: collision-resistant by default, deterministic for tests.

The default :class:`CuidIds` makes cuid-like ids (``c`` + 24 lowercase base-36
characters: the wall time in milliseconds, a counter and a fingerprint per process, and
41 random bits per id), the shape Prisma's
``@default(cuid())`` produces, so rows written by either side look alike.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["CuidIds", "IdFactory", "SequentialIds"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


@runtime_checkable
class IdFactory(Protocol):
    """Makes new ids.

    Contract: ``new_id(kind)`` returns a string of at most 64 ASCII characters
    (letters, digits, ``-``, ``_``) never returned before by this factory, and
    unique across processes with overwhelming probability. ``kind`` is a hint
    (``"campaign"``, ``"run"``...) a factory may use in the id or ignore.
    """

    def new_id(self, kind: str = "") -> str: ...


class CuidIds:
    """cuid-like ids: sortable-ish by time, unique across processes."""

    def __init__(self) -> None:
        self._counter = itertools.count(secrets.randbelow(36**4))
        self._lock = threading.Lock()
        self._fingerprint = _base36(os.getpid() ^ secrets.randbits(20), 4)

    def new_id(self, kind: str = "") -> str:
        with self._lock:
            count = next(self._counter) % 36**4
        # wall time only orders ids roughly; uniqueness comes from the random part
        millis = time.time_ns() // 1_000_000
        return (
            "c"
            + _base36(millis, 8)
            + _base36(count, 4)
            + self._fingerprint
            + _base36(secrets.randbits(41), 8)
        )


class SequentialIds:
    """Deterministic ids for tests: ``<kind>-000001``, ``<kind>-000002``..."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, kind: str = "") -> str:
        with self._lock:
            n = next(self._counter)
        stem = self._prefix or kind or "id"
        return f"{stem}-{n:06d}"
