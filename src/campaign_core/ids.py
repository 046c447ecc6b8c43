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

__all__ = [
    "CuidIds",
    "SequentialIds",
]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)  # 00 .. zz: two digits a step


def _base36(number: int, width: int) -> str:
    """The last ``width`` base-36 digits of ``number`` (``width`` even)."""
    pairs = []
    for _ in range(width // 2):
        number, rem = divmod(number, 1296)
        pairs.append(_PAIRS[rem])
    return "".join(reversed(pairs))


def _base36_4(number: int) -> str:
    """``_base36(number, 4)`` without the loop (two ids a fan in a bulk import)."""
    return _PAIRS[number // 1296 % 1296] + _PAIRS[number % 1296]


def _base36_8(number: int) -> str:
    """``_base36(number, 8)`` without the loop."""
    high, low = divmod(number % 2821109907456, 1679616)  # 36**8, 36**4
    return _base36_4(high) + _base36_4(low)


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
        self._millis = -1
        self._prefix = ""  # "c" and the base-36 time of the last id's millisecond
        self._random = b""  # the operating system's random bytes, drawn 6 KiB at a time
        self._taken = 0

    def new_id(self, kind: str = "") -> str:
        # wall time only orders ids roughly; uniqueness comes from the random part
        millis = time.time_ns() // 1_000_000
        with self._lock:
            count = next(self._counter) % 36**4
            if millis != self._millis:
                self._millis, self._prefix = millis, "c" + _base36(millis, 8)
            prefix = self._prefix
            if self._taken + 6 > len(self._random):
                self._random, self._taken = secrets.token_bytes(6144), 0
            chunk = self._random[self._taken : self._taken + 6]
            self._taken += 6
        random_bits = int.from_bytes(chunk, "big") >> 7  # 41 of the 48 bits
        return prefix + _base36_4(count) + self._fingerprint + _base36_8(random_bits)


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
