"""Text helpers for platform content: counting, truncating, finding tags and links.

Platforms count length differently (TikTok counts UTF-16 code units, the others
count characters), so every length here is measured in a ``unit``. Truncation
cuts at a word boundary when one is close enough, never inside a surrogate pair
or between a character and the combining marks, variation selectors or
zero-width joiners that belong to it, and appends an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = [
    "ELLIPSIS",
    "LengthUnit",
    "find_hashtags",
    "find_links",
    "find_mentions",
    "normalize_hashtag",
    "remove_links",
    "text_length",
    "truncate_text",
]

LengthUnit = Literal["codepoints", "utf16"]

ELLIPSIS = "…"

# A hashtag is '#' followed by word characters (Unicode letters, digits, '_'),
# not glued to a preceding word character, '&' (HTML entities) or another '#'.
_HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
# A mention is '@handle'; the look-behind keeps e-mail addresses out.
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)")
_LINK = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+")
_HASHTAG_BODY = re.compile(r"^\w+$")
_ZWJ = "\u200d"
_MAX_HASHTAG_LENGTH = 100

# How far back from the cut we look for a space before giving up on a clean word
# boundary: beyond this share of the budget, a hard cut loses less text.
_WORD_BOUNDARY_WINDOW = 0.5


def text_length(text: str, unit: LengthUnit = "codepoints") -> int:
    """The length of ``text`` as a platform counts it.

    Args:
        text: the text.
        unit: ``"codepoints"`` (Python ``len``) or ``"utf16"`` (UTF-16 code units:
            characters outside the Basic Multilingual Plane, such as most emoji,
            count twice).

    Returns:
        The length in ``unit``.
    """
    if unit == "utf16":
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return len(text)


def _attaches_to_previous(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (so a cut must not fall before it)."""
    code = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or ch == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (flags of regions)
        or unicodedata.category(ch) == "Me"
    )


def _prefix_within(text: str, budget: int, unit: LengthUnit) -> int:
    """The largest index ``i`` with ``text_length(text[:i]) <= budget``."""
    if unit == "codepoints":
        return min(len(text), budget)
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _splits_flag(text: str, index: int) -> bool:
    """True when ``index`` falls between the two regional indicators of a flag."""
    if not (_is_regional_indicator(text[index]) and _is_regional_indicator(text[index - 1])):
        return False
    run = 0
    while index - run - 1 >= 0 and _is_regional_indicator(text[index - run - 1]):
        run += 1
    return run % 2 == 1


def _safe_cut(text: str, index: int) -> int:
    """Move ``index`` back so that no cluster (base + marks, ZWJ sequence, flag) is split."""
    while 0 < index < len(text) and (
        _attaches_to_previous(text[index]) or text[index - 1] == _ZWJ or _splits_flag(text, index)
    ):
        index -= 1
    return index


def truncate_text(
    text: str, max_length: int, unit: LengthUnit = "codepoints", *, ellipsis: str = ELLIPSIS
) -> str:
    """Shorten ``text`` to at most ``max_length`` (in ``unit``), at a word boundary.

    Text that already fits is returned unchanged. Otherwise the result is a
    prefix of ``text`` cut after the last whole word that fits, with trailing
    spaces and punctuation such as ``,;:`` removed, followed by ``ellipsis``.
    When no space falls in the last half of the budget (one very long word), the
    cut falls inside the word instead. The result never ends in half an emoji
    or a character without its accents.

    Args:
        text: the text to shorten.
        max_length: the most the result may measure (``>= 0``).
        unit: how length is counted (see :func:`text_length`).
        ellipsis: appended when text was cut; dropped when ``max_length`` is
            too small to hold it.

    Returns:
        The shortened text; ``text_length(result, unit) <= max_length`` always.
    """
    if text_length(text, unit) <= max_length:
        return text
    mark = ellipsis if text_length(ellipsis, unit) < max_length else ""
    budget = max_length - text_length(mark, unit)
    cut = _safe_cut(text, _prefix_within(text, budget, unit))
    head = text[:cut]
    # Prefer a word boundary: the cut is inside a word unless the next char is a space.
    if cut < len(text) and not text[cut].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space >= 0 and space >= int(len(head) * _WORD_BOUNDARY_WINDOW):
            head = head[:space]
    head = head.rstrip().rstrip(",;:-–—").rstrip()
    if not head:
        # Nothing meaningful survives: an ellipsis alone says "there was text".
        return mark if mark and text_length(mark, unit) <= max_length else ""
    return head + mark


def find_hashtags(text: str) -> list[str]:
    """Every hashtag in ``text``, in order, without the ``#`` (duplicates kept)."""
    return _HASHTAG.findall(text)


def find_mentions(text: str) -> list[str]:
    """Every ``@mention`` in ``text``, in order, without the ``@``."""
    return _MENTION.findall(text)


def find_links(text: str) -> list[str]:
    """Every web link (``http://``, ``https://`` or ``www.``) in ``text``, in order."""
    return _LINK.findall(text)


def remove_links(text: str) -> tuple[str, int]:
    """``text`` without its web links (and the spaces they leave), and how many were removed."""
    count = 0

    def _drop(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return ""

    stripped = _LINK.sub(_drop, text)
    if count:
        stripped = re.sub(r"[ \t]{2,}", " ", stripped)
        stripped = re.sub(r"[ \t]+\n", "\n", stripped).strip()
    return stripped, count


def normalize_hashtag(tag: str) -> str | None:
    """A hashtag without its leading ``#``, or ``None`` when it is not a valid tag.

    Valid tags are 1 to 100 word characters (Unicode letters, digits and ``_``);
    spaces and punctuation are not allowed, as on every supported platform.
    """
    body = tag[1:] if tag.startswith("#") else tag
    if not body or len(body) > _MAX_HASHTAG_LENGTH or not _HASHTAG_BODY.match(body):
        return None
    return body
