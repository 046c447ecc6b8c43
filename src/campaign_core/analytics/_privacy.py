"""Privacy: analytics outputs never hold a fan's identifier.

The analytics functions never put fan ids in their results: fans enter only
as codes for counting reach, and leave only as counts. Where a fan must be
referred to (an export of conversions, a support question about "this fan's
journey"), use :func:`pseudonymize`: a keyed hash (HMAC-SHA256) of the id,
truncated to 96 bits, written ``fan_`` + 24 hex digits.

* Without the key nobody can tell which fan a pseudonym is, nor link it to
  the fan's id by hashing candidate ids (a plain hash would allow that).
* The same key gives the same pseudonym every time, so reports can be joined.
  Rotating the key unlinks all earlier reports.
* 96 bits make a collision between two fans negligible (below 1e-15 among
  ten million fans).

:func:`assert_no_fan_ids` is the guard: give it any output (result objects,
dicts, lists, CSV text) and the fan ids involved, and it raises
:class:`PrivacyViolationError` if one of them appears.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from campaign_core.errors import CampaignCoreError, ValidationError, join_path

__all__ = [
    "MIN_KEY_BYTES",
    "PSEUDONYM_PREFIX",
    "PrivacyViolationError",
    "assert_no_fan_ids",
    "find_fan_ids",
    "pseudonymize",
]

PSEUDONYM_PREFIX = "fan_"
MIN_KEY_BYTES = 16
_DIGEST_HEX = 24
#: ids at least this long are also looked for inside longer strings
_SUBSTRING_MIN = 6
_TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9_\-:.@+]+")


class PrivacyViolationError(CampaignCoreError):
    """An output about to leave the library contains a raw fan identifier.

    The message and details name where (the path), never the identifier.
    """

    code = "privacy_violation"
    http_status = 500

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(p or "<output>" for p in paths[:5])
        super().__init__(
            f"a fan identifier appears in an analytics output at {shown}",
            details={"paths": paths[:50]},
        )


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes | bytearray):
        raise ValidationError.single("key", "must be bytes or a string", "invalid_type")
    if len(key) < MIN_KEY_BYTES:
        raise ValidationError.single(
            "key",
            f"must be at least {MIN_KEY_BYTES} bytes (use secrets.token_bytes(32))",
            "out_of_range",
        )
    return bytes(key)


def pseudonymize(fan_id: str, key: bytes | str) -> str:
    """A fan's stable pseudonym: ``fan_`` + the first 24 hex digits of HMAC-SHA256(key, fan_id).

    Args:
        fan_id: the fan's identifier (a non-empty string).
        key: the secret key (at least 16 bytes; a string is UTF-8 encoded).
            Keep it out of the analytics outputs and rotate it to unlink.

    Returns:
        The pseudonym, e.g. ``fan_3f2a...`` (28 characters).

    Raises:
        ValidationError: an empty or non-string id, or a short key.
    """
    if not isinstance(fan_id, str) or not fan_id:
        raise ValidationError.single("fan_id", "must be a non-empty string", "invalid_type")
    digest = hmac.new(_key_bytes(key), fan_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:_DIGEST_HEX]


def _plain(output: Any) -> Any:
    if attrs.has(type(output)):
        from campaign_core.serialization import to_json

        return to_json(output)
    return output


def find_fan_ids(output: Any, fan_ids: Iterable[str]) -> list[str]:
    """Where any of ``fan_ids`` appears in ``output``.

    Strings and mapping keys are checked: equal to an id, containing it as a
    token (split on characters ids do not use), or, for ids of 6 characters
    or more, containing it anywhere. Numbers are not checked (a count is not
    an identifier). Bytes (a PDF) cannot be checked: check the report data
    before rendering it.

    Args:
        output: a result object (converted with ``to_json``), or nested
            dicts, lists, tuples and strings.
        fan_ids: the raw identifiers that must not appear.

    Returns:
        The paths where one appears (``""`` for the output itself), in order;
        a mapping key that is an identifier shows as ``<redacted key>``.

    Raises:
        ValidationError: ``fan_ids`` is a single string instead of a collection.
    """
    if isinstance(fan_ids, str | bytes):
        raise ValidationError.single(
            "fan_ids", "must be a collection of identifiers, not one string", "invalid_type"
        )
    ids = {f for f in fan_ids if isinstance(f, str) and f}
    if not ids:
        return []
    lengths = sorted({len(f) for f in ids if len(f) >= _SUBSTRING_MIN})
    found: list[str] = []

    def leaks(text: str) -> bool:
        if text in ids:
            return True
        if any(token in ids for token in _TOKEN_SPLIT.split(text) if token):
            return True
        for size in lengths:
            if size > len(text):
                break
            for start in range(len(text) - size + 1):
                if text[start : start + size] in ids:
                    return True
        return False

    def walk(value: Any, path: str, depth: int) -> None:
        if depth > 64:
            return
        value = _plain(value)
        if isinstance(value, str):
            if leaks(value):
                found.append(path)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                leaked = isinstance(key, str) and leaks(key)
                # a path must not repeat the identifier it reports
                sub = join_path(path, "<redacted key>" if leaked else str(key))
                if leaked:
                    found.append(sub)
                walk(item, sub, depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, join_path(path, index), depth + 1)

    walk(output, "", 0)
    return found


def assert_no_fan_ids(output: Any, fan_ids: Iterable[str]) -> None:
    """Raise if any of ``fan_ids`` appears in ``output`` (see ``find_fan_ids``).

    Args:
        output: the output about to leave (result objects, dicts, lists, text).
        fan_ids: the raw identifiers of the fans involved.

    Returns:
        None: it returns only when no identifier appears.

    Raises:
        PrivacyViolationError: naming the paths (never the identifiers).
        ValidationError: ``fan_ids`` is a single string.
    """
    paths = find_fan_ids(output, fan_ids)
    if paths:
        raise PrivacyViolationError(paths)
