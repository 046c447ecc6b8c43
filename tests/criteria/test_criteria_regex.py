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
    compiled = compile_safe_regex(pattern)
    assert compiled.pattern == pattern
    assert compiled.program.startswith(ascii_classes(pattern.removeprefix("(?i)")).split("$")[0])
    assert "\\d" not in compiled.program


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
    """The shorthand classes are ASCII-only."""
    assert compile_safe_regex(pattern).search(text) is matches


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(a+)+", "nested repetition"),
        ("(a*)*b", "nested repetition"),
        ("(a|aa)+", "nested repetition"),
        ("(?:a|b)*", "nested repetition"),
        ("(x?)*", "nested repetition"),
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


_atoms = st.sampled_from(
    ["a", "b", ".", r"\d", "[ab]", "[^a]", "x", r"\.", "^", "$", r"\_", r"[\s\_]", r"\n", "(?:a|b)"]
)
_quantifiers = st.sampled_from(["", "", "?", "*", "+", "{1,2}"])


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(_atoms, _quantifiers), min_size=1, max_size=5),
    text=st.text(alphabet="ab1.x_ \n", max_size=12),
)
def test_accepted_patterns_search_like_re(parts: list[tuple[str, str]], text: str) -> None:
    """An accepted pattern matches exactly what re.search matches."""
    pattern = "".join(a + q for a, q in parts)
    try:
        compiled = compile_safe_regex(pattern)
    except RegexError:
        return
    assert compiled.search(text) == (re.search(pattern, text) is not None)


@pytest.mark.parametrize(
    "pattern",
    ["(?i)^VIP", "(?i)stra(?:ss|ß)e", "(?i)kelvin", "é+$", "[^x]$", "a\\n$"],
)
@pytest.mark.parametrize(
    "text", ["vip", "VIP x", "Straße", "STRASSE", "\u212aelvin", "éé\n", "a\n", "a\n\n", "x"]
)
def test_case_folding_and_newlines_as_re(pattern: str, text: str) -> None:
    """Case folding, non-ASCII literals and a final newline read as Python's re reads them."""
    flags = re.IGNORECASE if pattern.startswith("(?i)") else 0
    expected = re.search(pattern.removeprefix("(?i)"), text, flags) is not None
    assert compile_safe_regex(pattern).search(text) is expected


ADVERSARIAL = ["a*a*a*a*$", "a{0,100}" * 28 + "$", "(?:a{0,100})" * 18, "[ab]{0,100}" * 20 + "c"]


@pytest.mark.parametrize("pattern", ADVERSARIAL)
def test_adversarial_patterns_run_on_long_traits(pattern: str) -> None:
    """Patterns that backtrack exponentially in re are accepted and answer like re's theory:
    RE2 runs them on 1,000 characters (the benchmark measures how fast)."""
    compiled = compile_safe_regex(pattern)
    for text in ("a" * 1000, "a" * 999 + "b", "ab" * 500):
        # compare with re on a short prefix only: re itself is what takes exponential time
        assert isinstance(compiled.search(text), bool)
    assert compiled.search("a" * 10) == (
        re.search(compiled.program.replace("\\z", "\\Z"), "a" * 10) is not None
    )


@pytest.mark.parametrize("text", ["ab\udc00c", "\ud800"])
def test_lone_surrogates_read_as_a_replacement_character(text: str) -> None:
    """A lone surrogate (which no store keeps) is matched as one character, as re would."""
    assert compile_safe_regex("^a?b?.c?$").search(text) == (
        re.search("^a?b?.c?$", text) is not None
    )


def test_a_pattern_too_large_for_re2_is_refused_as_a_regex_error() -> None:
    """What RE2 refuses is a RegexError, so validation reports it with the leaf's path."""
    with pytest.raises(RegexError) as caught:
        compile_safe_regex("(?:(?:[a-z]{0,100}){0,100}){0,100}")
    assert "nested repetition" in caught.value.message
