"""What compiled criteria need from each database: the dialects' SQL for text, JSON, regex and
instants (SQLite, PostgreSQL, MySQL/MariaDB), the SQLite functions behind them, and the
value wrappers the compiler works with (string lists, times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as pg_types

from campaign_core.audience import instant_trait_key
from campaign_core.criteria import Op, compile_safe_regex
from campaign_core_sqlalchemy._types import UtcDateTime

__all__ = ["Expr", "Pred", "register_sqlite_functions"]

Pred = sa.ColumnElement[bool]


Expr = sa.ColumnElement[Any]


_MS: Final = timedelta(milliseconds=1)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


_MIN_MS: Final = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _MS


_MAX_MS: Final = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS


_FLOAT: Final[sa.Double[float]] = sa.Double()


_TEXT: Final = sa.Text()


_DATETIME: Final = UtcDateTime()


_ONE: Final[sa.ColumnClause[Any]] = sa.literal_column("1")


_CANONICAL_SQL: Final = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?Z"
""":data:`~campaign_core.audience.CANONICAL_INSTANT` for the databases' engines."""


def _key_of_ms(ms: int) -> str:
    moment = _EPOCH + ms * _MS
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _sqlite_regexp(pattern: Any, value: Any) -> int | None:
    if value is None or pattern is None:
        return None
    return int(compile_safe_regex(str(pattern)).search(str(value)))


def _sqlite_lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a sqlite3 connection the functions compiled criteria call.

    ``cc_regexp(pattern, text)`` is the RE2 search of :mod:`campaign_core.criteria._regex`,
    ``cc_lower(text)`` Python's ``str.lower`` and ``cc_instant_key(text)``
    :func:`~campaign_core.audience.instant_trait_key`, so SQLite answers exactly as the per-fan evaluator.
    """
    dbapi_connection.create_function("cc_regexp", 2, _sqlite_regexp, deterministic=True)
    dbapi_connection.create_function("cc_lower", 1, _sqlite_lower, deterministic=True)
    dbapi_connection.create_function("cc_instant_key", 1, instant_trait_key, deterministic=True)


def _case(*whens: tuple[Pred, Any], else_: Any = None) -> Expr:
    return sa.case(*whens, else_=else_)


def _literal_text(value: str) -> Expr:
    return sa.literal(value, _TEXT)


class _Dialect:
    """What differs between databases: exact text tests and typed JSON reads.

    JSON is read through a *locator*: a JSON path (``$."name"``) on SQLite and
    MySQL, a key on PostgreSQL; both are bound parameters.
    """

    name = "sqlite"

    # text ------------------------------------------------------------------
    def exact(self, x: Expr) -> Expr:
        """``x`` in a form whose comparisons are code point by code point."""
        return x

    def text_eq(self, x: Expr, value: str) -> Pred:
        return self.exact(x) == _literal_text(value)

    def text_ne(self, x: Expr, value: str) -> Pred:
        return self.exact(x) != _literal_text(value)

    def text_in(self, x: Expr, values: Sequence[str]) -> Pred:
        if not values:
            return sa.false()
        return self.exact(x).in_([_literal_text(v) for v in values])

    def text_not_in(self, x: Expr, values: Sequence[str]) -> Pred:
        if not values:
            return x.is_not(None)
        return self.exact(x).not_in([_literal_text(v) for v in values])

    def contains(self, x: Expr, value: str) -> Pred:
        return sa.func.instr(x, _literal_text(value)) > 0

    def starts_with(self, x: Expr, value: str) -> Pred:
        return sa.func.substr(x, 1, len(value)) == _literal_text(value)

    def ends_with(self, x: Expr, value: str) -> Pred:
        return sa.and_(
            sa.func.length(x) >= len(value),
            sa.func.substr(x, -len(value)) == _literal_text(value),
        )

    def lower(self, x: Expr) -> Expr:
        return sa.func.cc_lower(x, type_=_TEXT)

    def text_in_many(self, x: Expr, values: Sequence[str]) -> Pred:
        """``x IN values`` for a list of any length (the distinct values of a column)."""
        return self.text_in(x, values)

    def regex(self, x: Expr, pattern: str) -> Pred | None:
        """The regex test in SQL, or ``None`` when the compiler must decide the values."""
        return sa.func.cc_regexp(_literal_text(pattern), x) == 1

    def instant_key(self, text: Expr) -> Expr:
        return sa.func.cc_instant_key(text, type_=_TEXT)

    # JSON ------------------------------------------------------------------
    def locator(self, key: str) -> Expr:
        return _literal_text(f'$."{key}"')

    def json_type(self, doc: Expr, loc: Expr) -> Expr:
        return sa.func.json_type(doc, loc, type_=_TEXT)

    def json_present(self, doc: Expr, loc: Expr) -> Pred:
        return self.json_type(doc, loc).is_not(None)

    def json_exists(self, doc: Expr, loc: Expr) -> Pred:
        return sa.func.coalesce(self.json_type(doc, loc), "null") != "null"

    def json_number(self, doc: Expr, loc: Expr) -> Expr:
        return _case(
            (
                self.json_type(doc, loc).in_(["integer", "real"]),
                sa.cast(sa.func.json_extract(doc, loc), _FLOAT),
            )
        )

    def json_string(self, doc: Expr, loc: Expr) -> Expr:
        return _case(
            (self.json_type(doc, loc) == "text", sa.func.json_extract(doc, loc, type_=_TEXT))
        )

    def json_boolean(self, doc: Expr, loc: Expr) -> Expr:
        kind = self.json_type(doc, loc)
        return _case((kind == "true", 1), (kind == "false", 0))

    def string_list(self, doc: Expr, loc: Expr) -> _ListValue:
        elements = sa.func.json_each(doc, loc).table_valued("value", "type")
        return _ListValue(
            is_array=self.json_type(doc, loc) == "array",
            elements=elements,
            element_is_string=elements.c.type == "text",
            element_text=elements.c.value,
            dialect=self,
        )


class _Postgres(_Dialect):
    name = "postgresql"

    def regex(self, x: Expr, pattern: str) -> Pred | None:
        return None

    def contains(self, x: Expr, value: str) -> Pred:
        return sa.func.strpos(x, _literal_text(value)) > 0

    def starts_with(self, x: Expr, value: str) -> Pred:
        return sa.func.starts_with(x, _literal_text(value)).is_(True)

    def ends_with(self, x: Expr, value: str) -> Pred:
        return sa.func.right(x, len(value)) == _literal_text(value)

    def lower(self, x: Expr) -> Expr:
        return sa.func.lower(x, type_=_TEXT)

    def text_in_many(self, x: Expr, values: Sequence[str]) -> Pred:
        if not values:
            return sa.false()
        # one array parameter: a value list may be longer than the driver's parameter limit
        return x == sa.any_(sa.literal(list(values), pg_types.ARRAY(sa.Text())))

    def instant_key(self, text: Expr) -> Expr:
        canonical = text.op("~", is_comparison=True)(_literal_text(_CANONICAL_SQL + "$"))
        return _case((canonical, _instant_key_sql(text, self)))

    def locator(self, key: str) -> Expr:
        return _literal_text(key)

    def _node(self, doc: Expr, loc: Expr) -> Expr:
        return doc.op("->", return_type=pg_types.JSONB())(loc)

    def json_type(self, doc: Expr, loc: Expr) -> Expr:
        return sa.func.jsonb_typeof(self._node(doc, loc), type_=_TEXT)

    def json_present(self, doc: Expr, loc: Expr) -> Pred:
        return self._node(doc, loc).is_not(None)

    def _text(self, doc: Expr, loc: Expr) -> Expr:
        return doc.op("->>", return_type=_TEXT)(loc)

    def json_number(self, doc: Expr, loc: Expr) -> Expr:
        return _case((self.json_type(doc, loc) == "number", sa.cast(self._text(doc, loc), _FLOAT)))

    def json_string(self, doc: Expr, loc: Expr) -> Expr:
        return _case((self.json_type(doc, loc) == "string", self._text(doc, loc)))

    def json_boolean(self, doc: Expr, loc: Expr) -> Expr:
        return _case(
            (
                self.json_type(doc, loc) == "boolean",
                _case((self._text(doc, loc) == "true", 1), else_=0),
            )
        )

    def string_list(self, doc: Expr, loc: Expr) -> _ListValue:
        node = self._node(doc, loc)
        is_array = sa.func.jsonb_typeof(node) == "array"
        # jsonb_array_elements raises on a non-array: feed it [] instead
        safe = _case((is_array, node), else_=sa.cast(_literal_text("[]"), pg_types.JSONB()))
        elements = sa.func.jsonb_array_elements(safe, type_=pg_types.JSONB()).table_valued("value")
        value = elements.c.value
        return _ListValue(
            is_array=is_array,
            elements=elements,
            element_is_string=sa.func.jsonb_typeof(value) == "string",
            element_text=value.op("#>>", return_type=_TEXT)(
                sa.cast(_literal_text("{}"), pg_types.ARRAY(sa.Text()))
            ),
            dialect=self,
        )


class _MySql(_Dialect):
    """MySQL/MariaDB: text through a binary, no-pad utf8mb4 collation; JSON as text."""

    name = "mysql"

    def regex(self, x: Expr, pattern: str) -> Pred | None:
        return None

    def exact(self, x: Expr) -> Expr:
        return sa.collate(sa.cast(x, mysql_types.CHAR(charset="utf8mb4")), "utf8mb4_nopad_bin")

    def text_eq(self, x: Expr, value: str) -> Pred:
        # the plain comparison lets an index narrow the rows; the exact one decides
        return sa.and_(x == _literal_text(value), self.exact(x) == _literal_text(value))

    def text_in(self, x: Expr, values: Sequence[str]) -> Pred:
        if not values:
            return sa.false()
        literals = [_literal_text(v) for v in values]
        return sa.and_(x.in_(literals), self.exact(x).in_(literals))

    def contains(self, x: Expr, value: str) -> Pred:
        return sa.func.locate(_literal_text(value), self.exact(x)) > 0

    def starts_with(self, x: Expr, value: str) -> Pred:
        return sa.func.left(self.exact(x), len(value)) == _literal_text(value)

    def ends_with(self, x: Expr, value: str) -> Pred:
        return sa.func.right(self.exact(x), len(value)) == _literal_text(value)

    def lower(self, x: Expr) -> Expr:
        return sa.func.lower(x, type_=_TEXT)

    def instant_key(self, text: Expr) -> Expr:
        canonical = self.exact(text).op("REGEXP", is_comparison=True)(
            _literal_text(_CANONICAL_SQL + "\\z")
        )
        return _case((canonical, _instant_key_sql(text, self)))

    def _node(self, doc: Expr, loc: Expr) -> Expr:
        return sa.func.json_extract(doc, loc, type_=_TEXT)

    def json_type(self, doc: Expr, loc: Expr) -> Expr:
        return sa.func.json_type(self._node(doc, loc), type_=_TEXT)

    def json_present(self, doc: Expr, loc: Expr) -> Pred:
        return self._node(doc, loc).is_not(None)

    def json_exists(self, doc: Expr, loc: Expr) -> Pred:
        return sa.func.coalesce(self.json_type(doc, loc), "NULL") != "NULL"

    def json_number(self, doc: Expr, loc: Expr) -> Expr:
        number = sa.func.json_value(doc, loc, type_=_FLOAT) + sa.literal_column("0e0", _FLOAT)
        return _case(
            (self.json_type(doc, loc).in_(["INTEGER", "UNSIGNED INTEGER", "DOUBLE"]), number)
        )

    def json_string(self, doc: Expr, loc: Expr) -> Expr:
        return _case(
            (
                self.json_type(doc, loc) == "STRING",
                sa.func.json_unquote(self._node(doc, loc), type_=_TEXT),
            )
        )

    def json_boolean(self, doc: Expr, loc: Expr) -> Expr:
        return _case(
            (
                self.json_type(doc, loc) == "BOOLEAN",
                _case((self._node(doc, loc) == "true", 1), else_=0),
            )
        )

    def string_list(self, doc: Expr, loc: Expr) -> _ListValue:
        node = self._node(doc, loc)
        # JSON_TABLE numbers the elements; each is then read by its own path
        elements = sa.func.json_table(
            node, sa.literal_column("'$[*]' COLUMNS (i FOR ORDINALITY)")
        ).table_valued("i")
        path = sa.func.concat("$[", elements.c.i - 1, "]")
        element = sa.func.json_extract(node, path, type_=_TEXT)
        return _ListValue(
            is_array=sa.func.json_type(node) == "ARRAY",
            elements=elements,
            element_is_string=sa.func.json_type(element) == "STRING",
            element_text=sa.func.json_unquote(element, type_=_TEXT),
            dialect=self,
        )


def _instant_key_sql(text: Expr, dialect: _Dialect) -> Expr:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` from canonical text (see :func:`instant_trait_key`)."""
    length = sa.func.length(text)
    fraction = _case(
        (length > 20, sa.func.substr(text, 21, length - 21, type_=_TEXT)),
        else_=_literal_text(""),
    )
    padded = sa.func.concat(fraction, "000") if dialect.name == "mysql" else fraction + "000"
    millis = sa.func.substr(padded, 1, 3, type_=_TEXT)
    head = sa.func.substr(text, 1, 19, type_=_TEXT)
    if dialect.name == "mysql":
        return sa.func.concat(head, ".", millis, type_=_TEXT)
    return head + "." + millis


_DIALECTS: Final[dict[str, _Dialect]] = {
    "sqlite": _Dialect(),
    "postgresql": _Postgres(),
    "mysql": _MySql(),
    "mariadb": _MySql(),
}


def _dialect(name: str) -> _Dialect:
    try:
        return _DIALECTS[name]
    except KeyError:
        raise NotImplementedError(f"criteria cannot be compiled for dialect {name!r}") from None


class _ListValue:
    """A ``string_list`` value: a JSON array whose elements must all be strings."""

    def __init__(
        self,
        *,
        is_array: Pred,
        elements: Any,
        element_is_string: Pred,
        element_text: Expr,
        dialect: _Dialect,
    ) -> None:
        self.elements = elements
        self.element_is_string = element_is_string
        self.element_text = element_text
        self.dialect = dialect
        not_string = sa.exists(
            sa.select(_ONE).select_from(elements).where(sa.not_(element_is_string))
        )
        # a list with a non-string element is unknown, as the store's sanitizer says
        self.known: Pred = sa.and_(is_array, sa.not_(not_string))
        self.missing: Pred = sa.not_(sa.func.coalesce(self.known, sa.false()))

    def has_any(self, values: Sequence[str]) -> Pred:
        hit = sa.exists(
            sa.select(_ONE)
            .select_from(self.elements)
            .where(self.element_is_string, self.dialect.text_in(self.element_text, values))
        )
        return sa.and_(self.known, hit)

    def has_none(self, values: Sequence[str]) -> Pred:
        hit = sa.exists(
            sa.select(_ONE)
            .select_from(self.elements)
            .where(self.element_is_string, self.dialect.text_in(self.element_text, values))
        )
        return sa.and_(self.known, sa.not_(hit))


class _Bind:
    """How an instant (epoch ms) is bound for one kind of stored value.

    ``value(ms)`` is the parameter's value; calling the binder gives the parameter:
    anonymous, or named ``key`` so a cached statement can be run with another value.
    """

    def __init__(self, value: Callable[[int], Any], type_: Any) -> None:
        self.value = value
        self.type = type_

    def __call__(self, ms: int, key: str | None = None) -> Expr:
        if key is None:
            return sa.literal(self.value(ms), self.type)
        return sa.bindparam(key, self.value(ms), type_=self.type)


def in_instant_range(ms: int) -> bool:
    """Whether ``ms`` is a storable instant (year 1 to 9999)."""
    return _MIN_MS <= ms <= _MAX_MS


class _Time:
    """A datetime value compared with instants in epoch milliseconds.

    ``bind(ms)`` turns an instant into what ``expr`` compares with: a
    ``UtcDateTime`` parameter for columns, key text for datetime traits.
    """

    def __init__(self, expr: Expr, bind: _Bind) -> None:
        self.expr = expr
        self.bind = bind

    def compare(self, op: Op, ms: int, key: str | None = None) -> Pred:
        """TRUE exactly where the value is known and ``value op instant`` holds
        (the instant bound as the parameter named ``key`` when given)."""
        x = self.expr
        known = x.is_not(None)
        if ms < _MIN_MS:  # before any storable instant
            return known if op in (Op.GT, Op.GTE, Op.NEQ) else sa.false()
        if ms > _MAX_MS:
            return known if op in (Op.LT, Op.LTE, Op.NEQ) else sa.false()
        bound = self.bind(ms, key)
        return {
            Op.EQ: lambda: x == bound,
            Op.NEQ: lambda: x != bound,
            Op.GT: lambda: x > bound,
            Op.GTE: lambda: x >= bound,
            Op.LT: lambda: x < bound,
            Op.LTE: lambda: x <= bound,
        }[op]()


_bind_datetime: Final = _Bind(lambda ms: _EPOCH + ms * _MS, _DATETIME)
_bind_key: Final = _Bind(_key_of_ms, _TEXT)
