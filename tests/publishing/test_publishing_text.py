"""Text helpers: lengths per unit, word-boundary truncation, tags, mentions and links."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.publishing._text import (
    find_hashtags,
    find_links,
    find_mentions,
    normalize_hashtag,
    remove_links,
    text_length,
    truncate_text,
)

_PIECES = [
    *"abc xyz,.;:-\n#@",
    "é",
    "e\u0301",
    "💪",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🇫🇷",
    "\u2603\ufe0f",
    "中",
]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)


def test_utf16_counts_astral_characters_twice() -> None:
    """UTF-16 length counts an emoji outside the BMP as two units."""
    assert text_length("ab💪", "codepoints") == 3
    assert text_length("ab💪", "utf16") == 4


def test_text_that_fits_is_unchanged() -> None:
    """Truncating text that already fits returns it as is."""
    assert truncate_text("hello world", 11) == "hello world"


def test_truncation_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    """Text is cut after the last whole word and an ellipsis is added."""
    assert truncate_text("Join my exclusive workout challenge", 20) == "Join my exclusive…"
    assert truncate_text("one, two, three", 10) == "one, two…"


def test_a_single_long_word_is_cut_inside() -> None:
    """Without a nearby space the cut falls inside the word."""
    assert truncate_text("Supercalifragilistic", 6) == "Super…"


def test_tiny_limits_drop_the_ellipsis() -> None:
    """A limit too small for the ellipsis gives a bare prefix (or nothing)."""
    assert truncate_text("hello", 1) == "h"
    assert truncate_text("hello", 0) == ""


def test_truncation_never_splits_an_emoji_sequence() -> None:
    """A family emoji (ZWJ sequence) or a skin-tone emoji is kept whole or dropped whole."""
    family = "👨\u200d👩\u200d👧"
    out = truncate_text("ab" + family + "cd", 5, ellipsis="")
    assert out == "ab"
    out = truncate_text("x👍🏽yz", 2, ellipsis="")
    assert out == "x"
    assert truncate_text("a🇫🇷🇩🇪", 4, ellipsis="") == "a🇫🇷"


@settings(max_examples=300, deadline=None)
@given(
    text=_TEXT,
    limit=st.integers(min_value=0, max_value=60),
    unit=st.sampled_from(["codepoints", "utf16"]),
)
def test_truncation_fits_and_keeps_a_prefix(text: str, limit: int, unit: str) -> None:
    """The result always fits, is a prefix of the text plus an ellipsis, and never orphans a mark."""
    out = truncate_text(text, limit, unit)  # type: ignore[arg-type]
    assert text_length(out, unit) <= limit  # type: ignore[arg-type]
    if text_length(text, unit) <= limit:  # type: ignore[arg-type]
        assert out == text
        return
    head = out[:-1] if out.endswith("…") else out
    assert text.startswith(head)
    if head and len(head) < len(text):
        nxt = text[len(head)]
        assert unicodedata.combining(nxt) == 0
        assert nxt not in "\u200d\ufe0f"
        assert not head.endswith("\u200d")
        indicators = len(head) - len(head.rstrip("🇫🇷"))
        assert indicators % 2 == 0


def test_hashtags_mentions_and_links_are_found() -> None:
    """Tags, mentions and links are recognised; HTML entities and e-mails are not tags."""
    text = (
        "Go #fit and #Gym_2 &#39; mail me@example.com or ping @coach.k https://x.io/a www.y.com/b"
    )
    assert find_hashtags(text) == ["fit", "Gym_2"]
    assert find_mentions(text) == ["coach.k"]
    assert find_links(text) == ["https://x.io/a", "www.y.com/b"]


def test_links_can_be_removed() -> None:
    """Removing links leaves tidy text and counts what went."""
    assert remove_links("see https://x.io/a now  and www.y.com") == ("see now and", 2)
    assert remove_links("no links") == ("no links", 0)


def test_hashtag_normalization() -> None:
    """A tag loses one leading '#'; tags with spaces or punctuation are invalid."""
    assert normalize_hashtag("#fitness") == "fitness"
    assert normalize_hashtag("fitness") == "fitness"
    assert normalize_hashtag("#fit life") is None
    assert normalize_hashtag("#") is None
    assert normalize_hashtag("##x") is None
    assert normalize_hashtag("x" * 101) is None
