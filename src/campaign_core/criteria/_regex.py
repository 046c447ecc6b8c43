"""The regular-expression language of the ``regex`` operator, run by RE2.

Every evaluator (per-fan, vectorized, SQLite's registered function, and the
PostgreSQL/MariaDB stores, which evaluate regex leaves outside the database)
matches through :class:`SafeRegex`: Google's RE2 (the ``google-re2`` binding), an
automaton, so a search takes time linear in the text whatever the pattern. The
language is a subset of both Python's ``re`` and RE2 and means the same in both:

- literals, ``.`` (any character but ``\\n``), ``^`` (the start of the text),
  ``$`` (the end of the text, or before a final ``\\n``, as in Python), alternation
  ``|``, groups ``( )`` and ``(?: )``;
- bracket classes ``[abc]``, ``[^a-z0-9_]`` (no nested ``[``, no POSIX ``[:alpha:]``);
- escapes ``\\d \\w \\s`` (and ``\\D \\W \\S`` outside classes), ``\\n \\t`` and any
  escaped punctuation (``\\.``, ``\\+``, ``\\\\``); ``\\d \\w \\s`` are the ASCII classes
  (``[0-9]``, ``[A-Za-z0-9_]``, ASCII whitespace), spelled out before compiling
  (:func:`ascii_classes`);
- quantifiers ``* + ? {m} {m,} {m,n}`` (bounds at most 100), optionally lazy (``*?``);
- a leading ``(?i)`` for case-insensitive matching (Unicode simple case folding).

Refused at validation: back-references and look-arounds (RE2 cannot run them),
named groups, ``\\b``, ``\\A``/``\\Z``, other inline flags; a quantifier on a group that
itself contains a quantifier or an alternation (``(a+)+``, ``(a|a)*``); more than
:data:`MAX_UNBOUNDED_QUANTIFIERS` unbounded quantifiers; patterns longer than
:data:`MAX_REGEX_LENGTH`. The last three bound the size of RE2's automaton (and
keep patterns written for the earlier, backtracking engines valid).

Matching is a *search* (the pattern may match anywhere; anchor with ``^``/``$``),
as ``re.search`` does.
"""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = [
    "MAX_REGEX_LENGTH",
    "MAX_UNBOUNDED_QUANTIFIERS",
    "RegexError",
    "SafeRegex",
    "ascii_classes",
    "check_regex",
    "compile_safe_regex",
]

MAX_REGEX_LENGTH = 256
MAX_UNBOUNDED_QUANTIFIERS = 4
MAX_REPEAT = 100

_CLASS_ESCAPES = set("dws")
_OUTER_ESCAPES = set("dwsDWSnt")
_PUNCT = set("\\.^$|?*+()[]{}-/#&~!\"',:;<=>@_%`")


class RegexError(Exception):
    """A pattern outside the safe subset; ``position`` is the offending index."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.unbounded = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, message: str) -> RegexError:
        return RegexError(message, self.pos)

    # Each parse_* returns (has_quantifier, has_alternation) of what it read.
    def parse_alt(self, depth: int) -> tuple[bool, bool]:
        quantified, alternated = self.parse_seq(depth)
        while self.peek() == "|":
            self.pos += 1
            q, _ = self.parse_seq(depth)
            quantified = quantified or q
            alternated = True
        return quantified, alternated

    def parse_seq(self, depth: int) -> tuple[bool, bool]:
        quantified = alternated = False
        while self.peek() not in ("", "|", ")"):
            atom_q, atom_alt, is_group = self.parse_atom(depth)
            quantified = quantified or atom_q
            alternated = alternated or atom_alt
            if self.parse_quantifier():
                if is_group and (atom_q or atom_alt):
                    raise RegexError(
                        "nested repetition: a quantifier on a group that contains a quantifier"
                        " or an alternation is not allowed",
                        self.pos - 1,
                    )
                quantified = True
        return quantified, alternated

    def parse_atom(self, depth: int) -> tuple[bool, bool, bool]:
        char = self.peek()
        if char == "(":
            if depth >= 10:
                raise self.fail("groups are nested too deeply")
            self.pos += 1
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.peek() == "?":
                raise self.fail(
                    "only plain and (?:...) groups are allowed (no look-arounds, named groups"
                    " or inline flags other than a leading (?i))"
                )
            quantified, alternated = self.parse_alt(depth + 1)
            if self.peek() != ")":
                raise self.fail("missing ')'")
            self.pos += 1
            return quantified, alternated, True
        if char == "[":
            self.parse_class()
            return False, False, False
        if char == "\\":
            self.parse_escape(_OUTER_ESCAPES)
            return False, False, False
        if char in ("*", "+", "?", "{"):
            raise self.fail("nothing to repeat")
        if char == "]" or char == "}":
            raise self.fail(f"unescaped {char!r}")
        self.pos += 1
        return False, False, False

    def parse_escape(self, letters: set[str]) -> None:
        self.pos += 1
        char = self.peek()
        if not char:
            raise self.fail("pattern ends with a backslash")
        if char.isalnum():
            if char not in letters:
                raise self.fail(
                    f"escape \\{char} is not allowed (allowed: "
                    + " ".join("\\" + c for c in sorted(letters))
                    + " and escaped punctuation)"
                )
        elif char not in _PUNCT and char != " ":
            raise self.fail(f"escape \\{char} is not allowed")
        self.pos += 1

    def parse_class(self) -> None:
        start = self.pos
        self.pos += 1
        if self.peek() == "^":
            self.pos += 1
        count = 0
        while True:
            char = self.peek()
            if not char:
                self.pos = start
                raise self.fail("missing ']'")
            if char == "]" and count > 0:
                self.pos += 1
                return
            if char == "]":
                raise self.fail("empty character class")
            if char == "[":
                raise self.fail("'[' inside a character class must be escaped (no [:class:])")
            if char == "\\":
                self.parse_escape(_CLASS_ESCAPES)
            else:
                self.pos += 1
            count += 1

    def parse_quantifier(self) -> bool:
        char = self.peek()
        if char in ("*", "+"):
            self.pos += 1
            self.unbounded += 1
        elif char == "?":
            self.pos += 1
        elif char == "{":
            match = re.compile(r"\{(\d{1,3})(,(\d{0,3}))?\}").match(self.text, self.pos)
            if match is None:
                raise self.fail("'{' must start a repetition such as {2}, {2,} or {2,5}")
            low = int(match.group(1))
            high_text = match.group(3)
            if match.group(2) and not high_text:
                self.unbounded += 1
            high = int(high_text) if high_text else low
            if low > MAX_REPEAT or high > MAX_REPEAT or high < low:
                raise self.fail(f"repetition bounds must satisfy m <= n <= {MAX_REPEAT}")
            self.pos = match.end()
        else:
            return False
        if self.unbounded > MAX_UNBOUNDED_QUANTIFIERS:
            raise RegexError(
                f"at most {MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (*, +, {{m,}})",
                self.pos - 1,
            )
        if self.peek() == "?":
            self.pos += 1
        if self.peek() in ("*", "+", "?", "{"):
            raise self.fail("a quantifier may not follow a quantifier")
        return True


def check_regex(pattern: str) -> None:
    """Check that ``pattern`` is in the subset and that RE2 can run it.

    Args:
        pattern: the regular expression.

    Raises:
        RegexError: the pattern is too long, outside the subset, or too large for RE2.
    """
    compile_safe_regex(pattern)


@functools.lru_cache(maxsize=128)
def compile_safe_regex(pattern: str) -> SafeRegex:
    """Check that ``pattern`` is in the subset and compile it with RE2 for a search.

    Compiled patterns are cached (they are immutable and thread-safe).

    Args:
        pattern: the regular expression.

    Returns:
        The compiled pattern; its ``SafeRegex.search`` runs in time linear in the text.

    Raises:
        RegexError: the pattern is too long, outside the subset, or too large for RE2.
    """
    if not isinstance(pattern, str):
        raise RegexError("the pattern must be a string", 0)
    if len(pattern) > MAX_REGEX_LENGTH:
        raise RegexError(f"a pattern may be at most {MAX_REGEX_LENGTH} characters", 0)
    if not pattern:
        raise RegexError("the pattern is empty", 0)
    ignore_case = pattern.startswith("(?i)")
    body_start = 4 if ignore_case else 0
    parser = _Parser(pattern)
    parser.pos = body_start
    parser.parse_alt(0)
    if parser.pos != len(pattern):
        raise parser.fail("unbalanced ')'")
    try:  # the language is a subset of Python's too (no quantified anchors, no bad ranges)
        re.compile(ascii_classes(pattern[body_start:]))
    except re.error as exc:
        raise RegexError(f"invalid pattern: {exc.msg}", body_start + (exc.pos or 0)) from None
    return SafeRegex(pattern, _re2_pattern(pattern[body_start:]), ignore_case=ignore_case)


class SafeRegex:
    """A pattern of the subset compiled by RE2 (a DFA or NFA: no backtracking).

    Attributes:
        pattern: the pattern as written.
        program: the pattern RE2 runs (shorthand classes spelled out, ``$`` as Python's).
    """

    __slots__ = ("_compiled", "pattern", "program")

    def __init__(self, pattern: str, program: str, *, ignore_case: bool) -> None:
        import re2  # lazily: ``import campaign_core`` stays fast

        options = re2.Options()
        options.log_errors = False
        options.never_capture = True
        options.case_sensitive = not ignore_case
        # room for the DFA of the largest accepted pattern (28 x a{0,100}$ needs ~20 MB;
        # below that RE2 falls back to its NFA: still linear, but ~50x slower)
        options.max_mem = _RE2_MAX_MEM
        self.pattern = pattern
        self.program = program
        try:
            self._compiled = re2.compile(program, options)
        except (re2.error, UnicodeError) as exc:
            detail = exc.args[0] if exc.args else ""
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise RegexError(f"RE2 cannot run this pattern: {detail}", 0) from None

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in ``text``.

        Args:
            text: the text to search (any ``str``; lone surrogates, which no store
                keeps, read as U+FFFD).

        Returns:
            ``True`` when it matches.
        """
        try:
            return self._compiled.search(text) is not None
        except UnicodeEncodeError:
            cleaned = text.encode("utf-8", "replace").decode("utf-8")
            return self._compiled.search(cleaned) is not None

    def __repr__(self) -> str:
        return f"SafeRegex({self.pattern!r})"


_RE2_MAX_MEM: Final = 64 << 20


def _re2_pattern(body: str) -> str:
    """``body`` (of the subset) as RE2 reads it with Python's meaning.

    ``\\d \\w \\s`` become ASCII classes; outside classes ``$`` becomes
    ``(?:\\n?\\z)`` (Python's ``$`` also matches before a final newline; RE2's only at
    the very end, and consuming the newline does not change whether a search
    matches); an escaped ``_`` becomes ``_`` (RE2 refuses escaped word characters).
    ``.`` (no newline) and ``^`` (the start) already mean the same.
    """
    spelled = ascii_classes(body)
    out: list[str] = []
    index = 0
    in_class = False
    while index < len(spelled):
        char = spelled[index]
        if char == "\\":
            escaped = spelled[index + 1 : index + 2]
            out.append("_" if escaped == "_" else spelled[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            if spelled.startswith("^", index):
                out.append("^")
                index += 1
            continue
        elif char == "$":
            char = "(?:\\n?\\z)"
        out.append(char)
        index += 1
    return "".join(out)


# the shorthand classes, spelled out in ASCII for every engine: \x0b, not \v (PCRE's \v is
# a class of vertical spaces), and never a hex escape last (PostgreSQL's \x reads every
# hex digit that follows, so "\x0b" then "a" would be U+00BA)
_SPELLED = {
    "d": "0-9",
    "w": "A-Za-z0-9_",
    "s": " \\x0b\\x0c\\t\\n\\r",
}


def ascii_classes(pattern: str) -> str:
    """``pattern`` (of the safe subset) with ``\\d \\w \\s \\D \\W \\S`` spelled out in ASCII.

    Outside a bracket class ``\\d`` becomes ``[0-9]`` and ``\\D`` ``[^0-9]``; inside one,
    ``\\d`` becomes ``0-9``. Other escapes are kept as they are.
    """
    out: list[str] = []
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            kind = pattern[index + 1]
            spelled = _SPELLED.get(kind.lower())
            if spelled is None:
                out.append(pattern[index : index + 2])
            elif in_class:
                out.append(spelled)  # the subset allows only \d \w \s in classes
            else:
                out.append(f"[^{spelled}]" if kind.isupper() else f"[{spelled}]")
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            if index < len(pattern) and pattern[index] == "^":
                out.append("^")
                index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)
