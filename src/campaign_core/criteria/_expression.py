"""Expression strings: ``"no_activity_days >= 14 and (engagement < 1 or not opted_out = true)"``.

Grammar (keywords are case-insensitive)::

    expr       := and_expr (("or" | "||") and_expr)*
    and_expr   := not_expr (("and" | "&&") not_expr)*
    not_expr   := ("not" | "!") not_expr | primary
    primary    := "(" expr ")" | "true" | "false" | comparison | event | segment
    comparison := FIELD tail
    tail       := CMP value                      CMP: = == != <> > >= < <=
                | "is" ["not"] ("set" | "null")
                | ["not"] "in" list
                | ["not"] "between" value "and" value
                | ["not"] WORD [value]            WORD: any operator name (contains,
                                                  starts_with, matches, before, within_last...)
    event      := ("count" | "sum" | "last_at" | "first_at") "(" EVENT args ")" tail
                | ("performed" | "never") "(" EVENT args ")"
    args       := ["," "within" duration] ["," "where" expr]   (where: over event fields)
    segment    := "in_segment" "(" ID ")"
    value      := number | "-" number | 'string' | "string" | true | false
                | now [("+" | "-") duration] | list | bare_word (a string)
    list       := "(" value ("," value)* ")" | "[" ... "]"
    duration   := 'string' | number unit (14 days, 14d) | ISO word (P14D)

A bare word on the right-hand side is a string (``spending_level = high``):
the language has no field-to-field comparisons.
"""

from __future__ import annotations

import re
from typing import Final

from campaign_core.criteria._build import INVALID, MAX_EXPRESSION_LENGTH, Builder, Loc, _Invalid
from campaign_core.criteria._model import AllOf, AnyOf, Node, Not

__all__ = ["parse_expression"]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>>=|<=|!=|<>|==|=|>|<|&&|\|\||!)
    |(?P<punct>[(),\[\]+\-])
    |(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
_MEASURE_FUNCS = frozenset({"count", "sum", "last_at", "first_at"})
_SUGAR_FUNCS = frozenset({"performed", "never"})
_COMPARISONS = frozenset({"=", "==", "!=", "<>", ">", ">=", "<", "<="})
_DURATION_OPS = frozenset(
    {"withinlast", "notwithinlast", "inthelast", "inlast", "olderthan", "notinthelast"}
)
_NO_VALUE_WORDS = frozenset(
    {
        "isset",
        "isnotset",
        "exists",
        "notexists",
        "doesnotexist",
        "isnull",
        "isnotnull",
        "notnull",
        "present",
        "missing",
        "notset",
        "hasvalue",
    }
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "between", "is", "true", "false", "now"})
_END: Final = ("end", "", -1)


class _Abort(Exception):
    """Stop parsing: the problem was already recorded."""


class _SyntaxError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "'\"":
                raise _SyntaxError("unterminated string", pos)
            raise _SyntaxError(f"unexpected character {char!r}", pos)
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, builder: Builder, loc: Loc) -> None:
        self.text = text
        self.b = builder
        self.base = loc
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers -------------------------------------------------------------

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        index = self.index + ahead
        return self.tokens[index] if index < len(self.tokens) else _END

    def next(self) -> tuple[str, str, int]:
        token = self.peek()
        self.index += 1
        return token

    def at_word(self, *words: str, ahead: int = 0) -> bool:
        kind, text, _ = self.peek(ahead)
        return kind == "ident" and text.lower() in words

    def at(self, kind: str, *texts: str) -> bool:
        tok_kind, text, _ = self.peek()
        return tok_kind == kind and (not texts or text in texts)

    def pos(self) -> int:
        _, _, position = self.peek()
        return len(self.text) if position < 0 else position

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.at(kind, text):
            raise _SyntaxError(f"expected {what}", self.pos())
        self.index += 1

    def loc(self, position: int) -> Loc:
        snippet = self.text[position : position + 24]
        return Loc(
            self.base.path,
            note=f"{self.base.note}in expression at character {position} ({snippet!r}): ",
            fixed=True,
        )

    # -- grammar -------------------------------------------------------------------

    def parse(self, depth: int, event_scope: bool) -> Node | _Invalid:
        if not self.tokens:
            raise _SyntaxError("the expression is empty", 0)
        node = self.parse_or(depth, event_scope)
        if self.peek() is not _END:
            _, text, position = self.peek()
            raise _SyntaxError(f"unexpected {text!r}; expected 'and', 'or' or the end", position)
        return node

    def _chain(
        self, kind: type[AllOf] | type[AnyOf], words: tuple[str, str], depth: int, event_scope: bool
    ) -> Node | _Invalid:
        start = self.pos()
        parse_part = self.parse_not if kind is AllOf else self.parse_and
        parts = [parse_part(depth, event_scope)]
        while self.at_word(words[0]) or self.at("op", words[1]):
            self.index += 1
            parts.append(parse_part(depth, event_scope))
        if len(parts) == 1:
            return parts[0]
        if not self.b.count_node(self.loc(start)):
            return INVALID
        if any(isinstance(part, _Invalid) for part in parts):
            return INVALID
        return kind(tuple(p for p in parts if not isinstance(p, _Invalid)))

    def parse_or(self, depth: int, event_scope: bool) -> Node | _Invalid:
        return self._chain(AnyOf, ("or", "||"), depth, event_scope)

    def parse_and(self, depth: int, event_scope: bool) -> Node | _Invalid:
        return self._chain(AllOf, ("and", "&&"), depth, event_scope)

    def parse_not(self, depth: int, event_scope: bool) -> Node | _Invalid:
        if self.at_word("not") or self.at("op", "!"):
            start = self.pos()
            self.index += 1
            if not self.b.check_depth(depth + 1, self.loc(start)):
                raise _Abort
            child = self.parse_not(depth + 1, event_scope)
            if not self.b.count_node(self.loc(start)) or isinstance(child, _Invalid):
                return INVALID
            return Not(child)
        return self.parse_primary(depth, event_scope)

    def parse_primary(self, depth: int, event_scope: bool) -> Node | _Invalid:
        kind, text, position = self.peek()
        if kind == "punct" and text == "(":
            self.index += 1
            if not self.b.check_depth(depth + 1, self.loc(position)):
                raise _Abort
            node = self.parse_or(depth + 1, event_scope)
            self.expect("punct", ")", "')'")
            return node
        if kind != "ident":
            shown = text or "the end"
            raise _SyntaxError(f"expected a condition, got {shown!r}", self.pos())
        word = text.lower()
        if word in ("true", "false"):
            self.index += 1
            if not self.b.count_node(self.loc(position)):
                return INVALID
            return AllOf(()) if word == "true" else AnyOf(())
        is_call = self.peek(1)[0] == "punct" and self.peek(1)[1] == "("
        if is_call and word in _MEASURE_FUNCS | _SUGAR_FUNCS:
            if event_scope:
                raise _SyntaxError(
                    "an event condition cannot be nested in an event filter", position
                )
            return self.parse_event(word, position, depth)
        if is_call and word == "in_segment":
            if event_scope:
                raise _SyntaxError("in_segment cannot be used inside an event filter", position)
            self.index += 2
            kind, seg, seg_pos = self.next()
            if kind not in ("str", "ident"):
                raise _SyntaxError("expected a segment id", seg_pos)
            self.expect("punct", ")", "')'")
            return self.b.in_segment(_unquote(seg) if kind == "str" else seg, self.loc(seg_pos))
        if word in _KEYWORDS:
            raise _SyntaxError(f"expected a field name, got the keyword {text!r}", position)
        self.index += 1
        tail: tuple[str, object, bool, int, int]
        if self._at_condition_end():
            # A bare boolean field: "opted_out" means "opted_out = true".
            tail = ("eq", True, True, position, position)
        else:
            tail = self.parse_tail()
        op, value, has_value, op_pos, value_pos = tail
        return self.b.condition(
            text,
            op,
            value,
            has_value=has_value,
            field_loc=self.loc(position),
            op_loc=self.loc(op_pos),
            value_loc=self.loc(value_pos),
            event_scope=event_scope,
        )

    def _at_condition_end(self) -> bool:
        kind, text, _ = self.peek()
        if kind == "end" or (kind == "punct" and text in (")", ",")):
            return True
        return self.at_word("and", "or") or self.at("op", "&&") or self.at("op", "||")

    def parse_tail(self) -> tuple[str, object, bool, int, int]:
        """The operator and value after a field: ``(op, value, has_value, op_pos, value_pos)``."""
        kind, text, position = self.peek()
        if kind == "op" and text in _COMPARISONS:
            self.index += 1
            value_pos = self.pos()
            return text, self.parse_value(), True, position, value_pos
        if kind != "ident":
            shown = text or "the end"
            raise _SyntaxError(f"expected an operator, got {shown!r}", self.pos())
        word = text.lower()
        self.index += 1
        if word == "is":
            negated = False
            if self.at_word("not"):
                self.index += 1
                negated = True
            if not self.at_word("set", "null"):
                raise _SyntaxError("expected 'set' or 'null' after 'is'", self.pos())
            is_set = self.next()[1].lower() == "set"
            return (
                ("is_set" if is_set != negated else "is_not_set"),
                None,
                False,
                position,
                position,
            )
        prefix = ""
        if word == "not":
            kind, text, _ = self.peek()
            if kind != "ident":
                raise _SyntaxError("expected an operator after 'not'", self.pos())
            self.index += 1
            word = text.lower()
            prefix = "not_"
        key = word.replace("_", "")
        value_pos = self.pos()
        if word == "in":
            return prefix + "in", self.parse_list(), True, position, value_pos
        if word == "between":
            low = self.parse_value()
            if not self.at_word("and"):
                raise _SyntaxError("expected 'and' in 'between low and high'", self.pos())
            self.index += 1
            high = self.parse_value()
            return prefix + "between", [low, high], True, position, value_pos
        if key in _NO_VALUE_WORDS:
            return prefix + word, None, False, position, position
        if key in _DURATION_OPS:
            return prefix + word, self.parse_duration(), True, position, value_pos
        return prefix + word, self.parse_value(), True, position, value_pos

    def parse_list(self) -> list[object]:
        if not (self.at("punct", "(") or self.at("punct", "[")):
            raise _SyntaxError("expected a list such as ('a', 'b')", self.pos())
        closing = ")" if self.next()[1] == "(" else "]"
        items: list[object] = []
        if self.at("punct", closing):
            self.index += 1
            return items
        while True:
            items.append(self.parse_value(allow_list=False))
            if self.at("punct", ","):
                self.index += 1
                continue
            self.expect("punct", closing, f"',' or '{closing}'")
            return items

    def parse_value(self, *, allow_list: bool = True) -> object:
        kind, text, position = self.peek()
        if kind == "punct" and text in ("-", "+"):
            self.index += 1
            num_kind, num, num_pos = self.next()
            if num_kind != "num":
                raise _SyntaxError("expected a number after the sign", num_pos)
            return self._number(text + num)
        if kind == "num":
            self.index += 1
            return self._number(text)
        if kind == "str":
            self.index += 1
            return _unquote(text)
        if kind == "punct" and text in ("(", "[") and allow_list:
            return self.parse_list()
        if kind == "ident":
            word = text.lower()
            self.index += 1
            if word in ("true", "false"):
                return word == "true"
            if word == "now":
                if self.at("punct", "-") or self.at("punct", "+"):
                    sign = self.next()[1]
                    return {"now": ("-" if sign == "-" else "") + self.parse_duration()}
                return {"now": "PT0S"}
            if word in ("and", "or", "not"):
                raise _SyntaxError(f"expected a value, got the keyword {text!r}", position)
            return text
        shown = text or "the end"
        raise _SyntaxError(f"expected a value, got {shown!r}", self.pos())

    def parse_duration(self) -> str:
        kind, text, position = self.peek()
        if kind == "str":
            self.index += 1
            return _unquote(text)
        if kind == "num":
            self.index += 1
            unit_kind, unit, _ = self.peek()
            if unit_kind != "ident" or unit.lower() in _KEYWORDS:
                raise _SyntaxError("a duration needs a unit, as in '14 days'", self.pos())
            self.index += 1
            return f"{text} {unit}"
        if kind == "ident" and text[:1] in ("P", "p"):
            self.index += 1
            return text
        raise _SyntaxError("expected a duration such as 14 days, '24 hours' or P14D", position)

    def parse_event(self, func: str, position: int, depth: int) -> Node | _Invalid:
        self.index += 2  # name and "("
        kind, text, name_pos = self.next()
        if kind == "str":
            event = _unquote(text)
        elif kind == "ident":
            event = text
        else:
            raise _SyntaxError("expected an event name", name_pos)
        within: str | None = None
        within_pos = name_pos
        where: Node | None = None
        where_ok = True
        while self.at("punct", ","):
            self.index += 1
            if self.at_word("within") and within is None:
                self.index += 1
                if self.at("op", "="):
                    self.index += 1
                within_pos = self.pos()
                within = self.parse_duration()
            elif self.at_word("where") and where is None and where_ok:
                self.index += 1
                if not self.b.check_depth(depth + 1, self.loc(self.pos())):
                    raise _Abort
                built = self.parse_or(depth + 1, True)
                if isinstance(built, _Invalid):
                    where_ok = False
                else:
                    where = built
            else:
                raise _SyntaxError(
                    "expected 'within <duration>' or 'where <condition>'", self.pos()
                )
        self.expect("punct", ")", "')'")
        if func in _SUGAR_FUNCS:
            op: str = "gte" if func == "performed" else "eq"
            value: object = 1 if func == "performed" else 0
            has_value, op_pos, value_pos, measure = True, position, position, "count"
        else:
            op, value, has_value, op_pos, value_pos = self.parse_tail()
            measure = func
        built_leaf = self.b.event_condition(
            event,
            measure,
            op,
            value,
            has_value=has_value,
            within_raw=within,
            where=where,
            loc=self.loc(position),
            event_loc=self.loc(name_pos),
            measure_loc=self.loc(position),
            op_loc=self.loc(op_pos),
            value_loc=self.loc(value_pos),
            within_loc=self.loc(within_pos),
        )
        return built_leaf if where_ok else INVALID

    def _number(self, text: str) -> int | float:
        if len(text) > 40:
            raise _SyntaxError("a number may have at most 40 characters", self.pos())
        body = text.lstrip("+-")
        if body.isdigit():
            return int(text)
        return float(text)


def parse_expression(
    text: str, builder: Builder, loc: Loc, depth: int, event_scope: bool
) -> Node | _Invalid:
    """Parse an expression string into nodes, recording problems on ``builder``.

    Problems use ``loc``'s path (the string's place in the input) and say the
    character position inside the expression.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        return builder.fail(
            loc, f"an expression may be at most {MAX_EXPRESSION_LENGTH} characters", "too_large"
        )
    try:
        parser = _Parser(text, builder, loc)
        return parser.parse(depth, event_scope)
    except _Abort:
        return INVALID
    except _SyntaxError as exc:
        snippet = text[exc.position : exc.position + 24]
        return builder.fail(
            loc,
            f"in expression at character {exc.position} ({snippet!r}): {exc.message}",
            "syntax_error",
        )
