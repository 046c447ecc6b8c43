"""The bounded regex subset: what it accepts, what it refuses, and that it means what re means."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.criteria._regex import RegexError, ascii_classes, compile_safe_regex


@pytest.mark.parametrize(
    "pattern",
    [
        "^abc$",
        "a.c",
        r"^[a-z0-9_]+@(?:gmail|yahoo)\.com$",
        r"\d{3}-\d{4}",
        r"[^\s]+",
        "(?i)^vip",
        "colou?r",
        "a{2,5}",
        "a{2,}",
        "(ab){3}",
        r"\.\*\+\?\(\)\[\]\{\}\|\\\^\$",
        "x*?",
        "[-a]",
    ],
)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    """Ordinary patterns within the subset compile (\\d \\w \\s spelled out in ASCII)."""
    assert compile_safe_regex(pattern).pattern == ascii_classes(pattern.removeprefix("(?i)"))


@pytest.mark.parametrize(
    ("text", "pattern", "matches"),
    [
        ("٣", r"\d", False),  # an Arabic-Indic digit is not \d: ASCII classes on every engine
        ("3", r"\d", True),
        ("é", r"^\w$", False),
        ("é", r"^\W$", True),
        ("a\u00a0b", r"a\sb", False),  # a no-break space is not \s
        ("a\x0bb", r"a\sb", True),
        ("x-_9", r"^[\w-]+$", True),
    ],
)
def test_shorthand_classes_are_ascii(text: str, pattern: str, matches: bool) -> None:
    assert (compile_safe_regex(pattern).search(text) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(a+)+", "catastrophically"),
        ("(a*)*b", "catastrophically"),
        ("(a|aa)+", "catastrophically"),
        ("(?:a|b)*", "catastrophically"),
        ("(x?)*", "catastrophically"),
        ("(?=a)", "look-arounds"),
        ("(?<=a)b", "look-arounds"),
        ("(?P<n>a)", "named groups"),
        (r"(a)\1", "escape"),
        (r"\bword", "escape"),
        (r"\Aa", "escape"),
        ("a(?i)b", "inline flags"),
        ("a**", "quantifier may not follow"),
        ("*a", "nothing to repeat"),
        ("a{101}", "bounds"),
        ("a{5,2}", "bounds"),
        ("[[:alpha:]]", "inside a character class"),
        ("[]", "empty"),
        ("(ab", "missing ')'"),
        ("ab)", "unbalanced"),
        ("a+b+c+d+e+", "unbounded"),
        ("[a", "missing ']'"),
        ("a\\", "backslash"),
        ("x" * 257, "at most"),
        ("", "empty"),
        ("[z-a]", "invalid"),
    ],
)
def test_unsafe_or_unsupported_patterns_are_refused(pattern: str, fragment: str) -> None:
    """Catastrophic shapes, non-portable syntax and malformed patterns are refused."""
    with pytest.raises(RegexError) as caught:
        compile_safe_regex(pattern)
    assert fragment in caught.value.message


_atoms = st.sampled_from(["a", "b", ".", r"\d", "[ab]", "[^a]", "x", r"\.", "^", "$"])
_quantifiers = st.sampled_from(["", "", "?", "*", "+", "{1,2}"])


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(_atoms, _quantifiers), min_size=1, max_size=5),
    text=st.text(alphabet="ab1.x", max_size=12),
)
def test_accepted_patterns_search_like_re(parts: list[tuple[str, str]], text: str) -> None:
    """An accepted pattern matches exactly what re.search matches."""
    pattern = "".join(a + q for a, q in parts)
    try:
        compiled = compile_safe_regex(pattern)
    except RegexError:
        return
    assert (compiled.search(text) is None) == (re.search(pattern, text) is None)
