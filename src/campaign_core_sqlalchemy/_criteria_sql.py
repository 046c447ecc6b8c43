"""Criteria compiled to SQL: who matches, counted and listed by the database.

The canonical criteria tree (:mod:`campaign_core.criteria`) becomes one
SQLAlchemy Core predicate over the ``fans`` table, with correlated subqueries
over ``fan_events`` for behavioural leaves and ``EXISTS`` over
``segment_members`` for ``in_segment``. Every literal is a bound parameter;
field names never reach the SQL text (only names the field registry knows are
fields, and they map to fixed columns or JSON keys passed as parameters).

Semantics are the per-fan evaluator's, exactly (see
``docs/explanation/criteria-language.md``):

- **Three-valued logic without NULL tricks.** Like the vectorized evaluator,
  each node is compiled for a *polarity*: the positive form is TRUE exactly
  where the node is true, the negative form exactly where it is false (both
  are FALSE or NULL where the node is unknown). ``not`` swaps the polarity;
  ``all``/``any`` are ``AND``/``OR`` of their children's forms. A missing value
  therefore never matches, whatever ``NOT`` surrounds it.
- **Enums** are ``IN (accepted members)`` from :func:`enum_accepts` (negative:
  ``IN (the other members)``), so a stored value outside the members is unknown.
- **Derived day counts** (``no_activity_days``...) never compute a difference:
  ``floor((now - t) / 1 day) >= k`` is rewritten as ``t <= now - k days``, exact
  at millisecond precision and able to use an index.
- **Times** are bound as parameters resolved from the evaluation's ``now``.
- **Text** compares code point by code point on every database: PostgreSQL's
  ``=``/``strpos``/``starts_with``/``right``; SQLite's ``=``/``instr``/``substr``
  (never ``LIKE``, which folds ASCII case); MySQL/MariaDB through
  ``CAST(x AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin`` (their
  default collations fold case and ignore trailing spaces).
- **Regex** runs through RE2 (:mod:`campaign_core.criteria._regex`), never the
  database's engine: on SQLite as a registered function; on PostgreSQL and
  MariaDB the distinct stored values of the leaf's field (the owner's) are read
  first, RE2 decides each, and the leaf becomes ``x IN (the values that match)``
  (negative: ``IN`` those that do not). PostgreSQL's engine is not linear in all
  cases and MariaDB's PCRE backtracks and gives up silently at its match limit;
  neither means exactly what RE2 means.
- **Traits and event properties** are read from JSON with a type check per
  dialect: a value of another JSON type than the field's is unknown (NULL).

Known edges (documented in ``docs/howto/segments.md``): ``icontains`` folds case
with each database's ``lower()`` (SQLite uses Python's, so it is exact there);
event ``sum`` adds floats in the database's order, so sums of non-representable
fractions can differ from Python's in the last bit.

Each database's SQL is in ``_sql_dialects``; the store capability that runs the
compiled predicate (``SqlAlchemyAudience``) is in ``_audience_sql``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign_core.clock import ensure_utc
from campaign_core.criteria import (
    DAY_MS,
    AllOf,
    AnyOf,
    Condition,
    Criteria,
    EventCondition,
    FieldRegistry,
    FieldSource,
    FieldSpec,
    FieldType,
    InSegment,
    Measure,
    Node,
    Not,
    Op,
    RelativeTime,
    compile_criteria,
    compile_safe_regex,
    enum_accepts,
    event_property_type,
)
from campaign_core_sqlalchemy._schema import fan_events, fans, segment_members
from campaign_core_sqlalchemy._sql_dialects import (
    _DATETIME,
    _EPOCH,
    _FLOAT,
    _MS,
    _ONE,
    Expr,
    Pred,
    _bind_datetime,
    _bind_key,
    _case,
    _Dialect,
    _dialect,
    _ListValue,
    _literal_text,
    _Time,
    in_instant_range,
    register_sqlite_functions,
)

__all__ = [
    "SQL_OPERATORS",
    "CachedPredicate",
    "cached_criteria_sql",
    "compile_criteria_sql",
    "register_sqlite_functions",
]

_COMPLEMENT: Final = {
    Op.EQ: Op.NEQ,
    Op.NEQ: Op.EQ,
    Op.GT: Op.LTE,
    Op.LTE: Op.GT,
    Op.GTE: Op.LT,
    Op.LT: Op.GTE,
}


_TIME_OPS: Final = {Op.AFTER: Op.GT, Op.BEFORE: Op.LT}


def _ceil(value: float) -> int:
    return -int((-value) // 1)


def _floor(value: float) -> int:
    return int(value // 1)


_N, _S, _B, _D, _L, _E = (
    FieldType.NUMBER,
    FieldType.STRING,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.STRING_LIST,
    FieldType.ENUM,
)


_EQUALITY: Final = frozenset({_N, _S, _B, _D, _E})


_ORDER: Final = frozenset({_N, _D, _E})


_MEMBERSHIP: Final = frozenset({_N, _S, _L, _E})


#: The SQL back end's operator table: operator -> the field types its leaf methods
#: (``number``, ``text``, ``time``, ``days``, ``enum``, ``boolean``, ``subscribed``,
#: ``string_list`` of the compiler) implement it for (see
#: ``campaign_core.criteria._operators``). The compiler refuses anything else.
SQL_OPERATORS: Final[Mapping[Op, frozenset[FieldType]]] = {
    Op.EQ: _EQUALITY,
    Op.NEQ: _EQUALITY,
    Op.GT: _ORDER,
    Op.GTE: _ORDER,
    Op.LT: _ORDER,
    Op.LTE: _ORDER,
    Op.BETWEEN: _ORDER,
    Op.IN: _MEMBERSHIP,
    Op.NOT_IN: _MEMBERSHIP,
    Op.CONTAINS: frozenset({_S, _L}),
    Op.ICONTAINS: frozenset({_S}),
    Op.STARTS_WITH: frozenset({_S}),
    Op.ENDS_WITH: frozenset({_S}),
    Op.REGEX: frozenset({_S}),
    Op.IS_SET: frozenset(FieldType),
    Op.IS_NOT_SET: frozenset(FieldType),
    Op.BEFORE: frozenset({_D}),
    Op.AFTER: frozenset({_D}),
    Op.WITHIN_LAST: frozenset({_D}),
    Op.NOT_WITHIN_LAST: frozenset({_D}),
}


def _require(op: Op, type_: FieldType) -> None:
    if type_ not in SQL_OPERATORS.get(op, ()):
        raise NotImplementedError(f"the SQL back end has no {op.value!r} for {type_.value} values")


class _Compiler:
    """One criteria tree to one predicate over ``fans`` (see the module doc)."""

    def __init__(
        self,
        dialect: _Dialect,
        registry: FieldRegistry,
        now: datetime,
        owned_segments: frozenset[str] | None,
        stored_values: Callable[[sa.Select[Any]], list[str]] | None = None,
        owner_id: str | None = None,
        *,
        named: bool = False,
    ) -> None:
        self.d = dialect
        self.registry = registry
        utc = ensure_utc(now, path="now")
        self.now_ms = (utc - _EPOCH) // _MS
        self.owned_segments = owned_segments
        self.stored_values = stored_values
        self.owner_id = owner_id
        # With ``named``, instants computed from now are parameters named cc_now_<i>, so
        # the predicate can be run again at another now (see _CachedPredicate).
        self.named = named
        self.now_params: list[tuple[str, int, Callable[[int], Any]]] = []
        self.now_checks: list[tuple[int, bool]] = []
        self.read_stored_values = False
        # the rows the text being compiled lives in: fans, or an event leaf's events
        self.scope: tuple[Any, list[Pred]] = (fans, [])

    # structure ---------------------------------------------------------------
    def emit(self, node: Node, positive: bool, event_scope: Any = None) -> Pred:
        if isinstance(node, AllOf | AnyOf):
            conjunction = isinstance(node, AllOf) == positive
            parts = [self.emit(child, positive, event_scope) for child in node.children]
            if not parts:
                return sa.true() if conjunction else sa.false()
            if len(parts) == 1:
                return parts[0]
            return sa.and_(*parts) if conjunction else sa.or_(*parts)
        if isinstance(node, Not):
            return self.emit(node.child, not positive, event_scope)
        if isinstance(node, InSegment):
            member = self.in_segment(node.segment_id)
            return member if positive else sa.not_(member)
        if isinstance(node, EventCondition):
            return self.event(node, positive)
        if event_scope is not None:
            return self.event_field(node, positive, event_scope)
        return self.fan_field(node, positive)

    def in_segment(self, segment_id: str) -> Pred:
        if self.owned_segments is not None and segment_id not in self.owned_segments:
            return sa.false()  # not a segment of this account: nobody is in it
        m = segment_members.alias("cc_members")
        return sa.exists(
            sa.select(_ONE)
            .select_from(m)
            .where(m.c.segmentId == _literal_text(segment_id), m.c.userId == fans.c.fanId)
        )

    # fan fields --------------------------------------------------------------
    def fan_field(self, node: Condition, positive: bool) -> Pred:
        spec = self.registry.resolve(node.field, path="field")
        op, value = node.op, node.value
        _require(op, spec.type)
        if spec.source is FieldSource.DERIVED:
            assert spec.depends_on is not None
            source = self.registry.resolve(spec.depends_on)
            if spec.type is FieldType.BOOLEAN:  # subscribed: status == active
                return self.subscribed(self.column(source), source, op, value, positive)
            return self.days(_Time(self.column(source), _bind_datetime), op, value, positive)
        if spec.source is FieldSource.TRAIT:
            return self.trait(spec, op, value, positive)
        column = self.column(spec)
        if spec.type is FieldType.DATETIME:
            return self.time(_Time(column, _bind_datetime), op, value, positive)
        if spec.type is FieldType.ENUM:
            return self.enum(column, spec, op, value, positive)
        if spec.type is FieldType.BOOLEAN:
            return self.boolean(column, sa.true(), sa.false(), op, value, positive)
        if spec.type is FieldType.NUMBER:
            return self.number(column, op, value, positive)
        return self.text(column, op, value, positive)

    def column(self, spec: FieldSpec) -> Expr:
        name = _COLUMNS.get(spec.name)
        if name is None:  # pragma: no cover - every built-in field has a column
            raise NotImplementedError(f"no column for field {spec.name!r}")
        return fans.c[name]

    def trait(self, spec: FieldSpec, op: Op, value: Any, positive: bool) -> Pred:
        doc = fans.c.traits
        key = spec.key
        camel = next((a for a in spec.aliases if a.startswith("traits.")), None)
        loc = self.d.locator(key)
        if camel is not None:
            # the per-fan reader falls back to the camelCase key when the snake one is absent
            alias = self.d.locator(camel.removeprefix("traits."))
            loc = _case((self.d.json_present(doc, loc), loc), else_=alias)
        kind = spec.type
        if kind is FieldType.NUMBER:
            return self.number(self.d.json_number(doc, loc), op, value, positive)
        if kind is FieldType.STRING:
            return self.text(self.d.json_string(doc, loc), op, value, positive)
        if kind is FieldType.BOOLEAN:
            flag = self.d.json_boolean(doc, loc)
            return self.boolean(flag, sa.literal(1), sa.literal(0), op, value, positive)
        if kind is FieldType.DATETIME:
            key_expr = self.d.instant_key(self.d.json_string(doc, loc))
            return self.time(_Time(key_expr, _bind_key), op, value, positive)
        return self.string_list(self.d.string_list(doc, loc), op, value, positive)

    # event leaves ------------------------------------------------------------
    def event(self, node: EventCondition, positive: bool) -> Pred:
        e = fan_events.alias("cc_events")
        where: list[Pred] = [
            e.c.ownerId == fans.c.ownerId,
            e.c.fanId == fans.c.fanId,
            e.c.name == _literal_text(node.event),
        ]
        if node.within is not None:
            where.append(
                self.from_now(_Time(e.c.occurredAt, _bind_datetime), Op.GTE, -(node.within // _MS))
            )
        if node.where is not None:
            outer, self.scope = self.scope, (e, [e.c.name == _literal_text(node.event)])
            try:
                where.append(self.emit(node.where, True, e))
            finally:
                self.scope = outer
        matching = sa.select(_ONE).select_from(e).where(*where)
        measure = node.measure
        _require(node.op, _N if measure in (Measure.COUNT, Measure.SUM) else _D)
        if measure is Measure.COUNT:
            shortcut = _count_shortcut(node.op, node.value)
            if shortcut is not None:  # "performed" / "never performed": EXISTS
                found = sa.exists(matching)
                return found if shortcut == positive else sa.not_(found)
            count = sa.select(sa.func.count()).select_from(e).where(*where).scalar_subquery()
            return self.number(count, node.op, node.value, positive)
        if measure is Measure.SUM:
            total = (
                sa.select(sa.func.coalesce(sa.func.sum(e.c.value), 0.0))
                .select_from(e)
                .where(*where)
                .scalar_subquery()
            )
            return self.number(total, node.op, node.value, positive)
        reduce = sa.func.max if measure is Measure.LAST_AT else sa.func.min
        when = (
            sa.select(reduce(e.c.occurredAt, type_=_DATETIME))
            .select_from(e)
            .where(*where)
            .scalar_subquery()
        )
        return self.time(_Time(when, _bind_datetime), node.op, node.value, positive)

    def event_field(self, node: Condition, positive: bool, e: Any) -> Pred:
        op, value = node.op, node.value
        if node.field == "value":
            _require(op, FieldType.NUMBER)
            return self.number(e.c.value, op, value, positive)
        kind = event_property_type(node)
        _require(op, FieldType.STRING if kind is None else kind)
        doc = e.c.properties
        loc = self.d.locator(node.field.removeprefix("properties."))
        if kind is None:  # is_set / is_not_set: any non-null value
            present = self.d.json_exists(doc, loc)
            return present if (op is Op.IS_SET) == positive else sa.not_(present)
        if kind is FieldType.NUMBER:
            return self.number(self.d.json_number(doc, loc), op, value, positive)
        if kind is FieldType.BOOLEAN:
            flag = self.d.json_boolean(doc, loc)
            return self.boolean(flag, sa.literal(1), sa.literal(0), op, value, positive)
        return self.text(self.d.json_string(doc, loc), op, value, positive)

    # leaves by type ----------------------------------------------------------
    @staticmethod
    def presence(x: Expr, op: Op, positive: bool) -> Pred:
        wanted_set = (op is Op.IS_SET) == positive
        return x.is_not(None) if wanted_set else x.is_(None)

    def number(self, x: Expr, op: Op, value: Any, positive: bool) -> Pred:
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.presence(x, op, positive)
        if op in (Op.IN, Op.NOT_IN):
            options = [sa.literal(float(v), _FLOAT) for v in value]
            return x.in_(options) if (op is Op.IN) == positive else x.not_in(options)
        if op is Op.BETWEEN:
            low, high = sa.literal(float(value[0]), _FLOAT), sa.literal(float(value[1]), _FLOAT)
            if positive:
                return sa.and_(x >= low, x <= high)
            return sa.or_(x < low, x > high)
        if not positive:
            op = _COMPLEMENT[op]
        bound = sa.literal(float(value), _FLOAT)
        return {
            Op.EQ: lambda: x == bound,
            Op.NEQ: lambda: x != bound,
            Op.GT: lambda: x > bound,
            Op.GTE: lambda: x >= bound,
            Op.LT: lambda: x < bound,
            Op.LTE: lambda: x <= bound,
        }[op]()

    def from_now(self, t: _Time, op: Op, offset: int) -> Pred:
        """``t op (now + offset ms)``; with ``named``, the instant is a named parameter."""
        ms = self.now_ms + offset
        if not self.named:
            return t.compare(op, ms)
        # whether the instant is storable decides the SQL's shape: a cached predicate
        # is reused only at a now where every such answer is the same
        in_range = in_instant_range(ms)
        self.now_checks.append((offset, in_range))
        if not in_range:
            return t.compare(op, ms)  # clamped: no instant to bind
        key = f"cc_now_{len(self.now_params)}"
        self.now_params.append((key, offset, t.bind.value))
        return t.compare(op, ms, key)

    def at(self, t: _Time, op: Op, value: Any) -> Pred:
        """``t op value`` for a datetime literal (absolute, or relative to now)."""
        if isinstance(value, RelativeTime):
            return self.from_now(t, op, value.offset // _MS)
        assert isinstance(value, datetime)
        return t.compare(op, (value - _EPOCH) // _MS)

    def time(self, t: _Time, op: Op, value: Any, positive: bool) -> Pred:
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.presence(t.expr, op, positive)
        if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
            inside = (op is Op.WITHIN_LAST) == positive
            return self.from_now(t, Op.GTE if inside else Op.LT, -(value // _MS))
        if op is Op.BETWEEN:
            low, high = value
            if positive:
                return sa.and_(self.at(t, Op.GTE, low), self.at(t, Op.LTE, high))
            return sa.or_(self.at(t, Op.LT, low), self.at(t, Op.GT, high))
        op = _TIME_OPS.get(op, op)
        return self.at(t, op if positive else _COMPLEMENT[op], value)

    def days(self, t: _Time, op: Op, value: Any, positive: bool) -> Pred:
        """``floor((now - t) / day) op value`` as comparisons of ``t`` with instants."""
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.presence(t.expr, op, positive)

        def at_least(k: int) -> Pred:  # floor(...) >= k  <=>  t <= now - k days
            return self.from_now(t, Op.LTE, -k * DAY_MS)

        def below(k: int) -> Pred:  # floor(...) < k  <=>  t > now - k days
            return self.from_now(t, Op.GT, -k * DAY_MS)

        def equals(c: float, want: bool) -> Pred:
            if float(c) != _floor(c):  # a whole number of days never equals a fraction
                return sa.false() if want else t.expr.is_not(None)
            k = _floor(c)
            if want:
                return sa.and_(at_least(k), below(k + 1))
            return sa.or_(below(k), at_least(k + 1))

        if op in (Op.IN, Op.NOT_IN):
            hit = (op is Op.IN) == positive
            if hit:
                return sa.or_(*(equals(c, True) for c in value))
            return sa.and_(*(equals(c, False) for c in value))
        if op is Op.BETWEEN:
            low, high = _ceil(value[0]), _floor(value[1]) + 1
            if positive:
                return sa.and_(at_least(low), below(high))
            return sa.or_(below(low), at_least(high))
        if op in (Op.EQ, Op.NEQ):
            return equals(value, (op is Op.EQ) == positive)
        if not positive:
            op = _COMPLEMENT[op]
        c = float(value)
        if op is Op.GTE:
            return at_least(_ceil(c))
        if op is Op.GT:
            return at_least(_floor(c) + 1)
        if op is Op.LT:
            return below(_ceil(c))
        return below(_floor(c) + 1)  # LTE

    def enum(self, x: Expr, spec: FieldSpec, op: Op, value: Any, positive: bool) -> Pred:
        members = list(spec.members)
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            known = self.d.text_in(x, members)
            if (op is Op.IS_SET) == positive:
                return known
            return sa.or_(x.is_(None), sa.not_(known))
        accepted = enum_accepts(spec, op, value)
        if positive:
            return self.d.text_in(x, accepted)
        return self.d.text_in(x, [m for m in members if m not in accepted])

    def subscribed(self, status: Expr, spec: FieldSpec, op: Op, value: Any, positive: bool) -> Pred:
        others = [m for m in spec.members if m != "active"]
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.enum(status, spec, op, None, positive)
        want_true = bool(value) == ((op is Op.EQ) == positive)
        return self.d.text_in(status, ["active"] if want_true else others)

    def boolean(self, x: Expr, true: Expr, false: Expr, op: Op, value: Any, positive: bool) -> Pred:
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.presence(x, op, positive)
        want_true = bool(value) == ((op is Op.EQ) == positive)
        return x == (true if want_true else false)

    def text(self, x: Expr, op: Op, value: Any, positive: bool) -> Pred:
        d = self.d
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return self.presence(x, op, positive)
        if op in (Op.EQ, Op.NEQ):
            return d.text_eq(x, value) if (op is Op.EQ) == positive else d.text_ne(x, value)
        if op in (Op.IN, Op.NOT_IN):
            options = list(value)
            hit = (op is Op.IN) == positive
            return d.text_in(x, options) if hit else d.text_not_in(x, options)
        test: Pred | None
        if op is Op.REGEX:
            test = d.regex(x, value)
            if test is None:
                return self.regex_outside(x, value, positive)
        elif value == "":  # every string contains, starts and ends with ""
            return x.is_not(None) if positive else sa.false()
        elif op is Op.CONTAINS:
            test = d.contains(x, value)
        elif op is Op.ICONTAINS:
            test = d.contains(d.lower(x), value.lower())
        elif op is Op.STARTS_WITH:
            test = d.starts_with(x, value)
        else:
            test = d.ends_with(x, value)
        if positive:
            return sa.and_(x.is_not(None), test)
        return sa.and_(x.is_not(None), sa.not_(test))

    def regex_outside(self, x: Expr, pattern: str, positive: bool) -> Pred:
        """``x IN (stored values RE2 matches)`` (negative: those it does not match)."""
        if self.stored_values is None or self.owner_id is None:
            raise NotImplementedError(
                f"regex on {self.d.name} is decided outside the database:"
                " compile with a connection and an owner (the store's audience does)"
            )
        matcher = compile_safe_regex(pattern)
        self.read_stored_values = True  # the SQL depends on the data: never cached
        rows, narrower = self.scope
        query = (
            sa.select(self.d.exact(x))
            .distinct()
            .where(rows.c.ownerId == _literal_text(self.owner_id), x.is_not(None), *narrower)
        )
        chosen = [v for v in self.stored_values(query) if matcher.search(v) is positive]
        return self.d.text_in_many(x, chosen)

    def string_list(self, items: _ListValue, op: Op, value: Any, positive: bool) -> Pred:
        if op in (Op.IS_SET, Op.IS_NOT_SET):
            return items.known if (op is Op.IS_SET) == positive else items.missing
        options = [value] if op is Op.CONTAINS else list(value)
        hit = (op is not Op.NOT_IN) == positive
        return items.has_any(options) if hit else items.has_none(options)


_COLUMNS: Final = {
    "id": "fanId",
    "owner_id": "ownerId",
    "platform": "platform",
    "spending_level": "spendingLevel",
    "engagement": "engagement",
    "lifetime_value": "lifetimeValue",
    "subscription_status": "subscriptionStatus",
    "subscribed_at": "subscribedAt",
    "last_activity_at": "lastActivityAt",
    "time_zone": "timeZone",
    "opted_out": "optedOut",
    "created_at": "createdAt",
}
"""Built-in criteria fields -> ``fans`` columns (``id`` is the host's fan id)."""


def _count_shortcut(op: Op, value: Any) -> bool | None:
    """``True`` when ``count op value`` means "some event", ``False`` for "none"."""
    if op in (Op.IN, Op.NOT_IN, Op.BETWEEN, Op.IS_SET, Op.IS_NOT_SET):
        return None
    c = float(value)
    some = {
        Op.GT: 0 <= c < 1,
        Op.GTE: 0 < c <= 1,
        Op.NEQ: c == 0,
    }
    none = {
        Op.EQ: c == 0,
        Op.LT: 0 < c <= 1,
        Op.LTE: 0 <= c < 1,
    }
    if some.get(op, False):
        return True
    if none.get(op, False):
        return False
    return None


def compile_criteria_sql(
    criteria: Criteria | object,
    *,
    dialect: str,
    now: datetime,
    registry: FieldRegistry | None = None,
    owned_segments: frozenset[str] | None = None,
    connection: Connection | None = None,
    owner_id: str | None = None,
) -> Pred:
    """The predicate over the ``fans`` table that is TRUE for the matching fans.

    Args:
        criteria: a :class:`~campaign_core.criteria.Criteria` or any input form.
        dialect: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``.
        now: the instant relative times, windows and derived fields resolve against.
        registry: the fields (built-ins plus the owner's traits); built-ins when ``None``.
        owned_segments: the segment ids ``in_segment`` may see; others match nobody.
            ``None`` trusts every id (the caller checked them).
        connection: where PostgreSQL and MariaDB read the distinct stored values a
            ``regex`` leaf is decided on (RE2, outside the database); needed there
            only when the criteria have a ``regex`` leaf.
        owner_id: whose stored values those are (with ``connection``).

    Returns:
        A SQLAlchemy boolean expression with bound parameters only. It does not
        restrict the owner: add ``fans.c.ownerId == owner_id``. On SQLite the
        connection needs :func:`register_sqlite_functions` for ``regex``,
        ``icontains`` and datetime traits.

    Raises:
        ValidationError: the criteria are invalid for ``registry``.
        NotImplementedError: an unsupported dialect, or a ``regex`` leaf on PostgreSQL or
            MariaDB without ``connection`` and ``owner_id``.
    """
    compiled = compile_criteria(criteria, registry=registry)

    def stored_values(query: sa.Select[Any]) -> list[str]:
        assert connection is not None
        return [row[0] for row in connection.execute(query)]

    compiler = _Compiler(
        _dialect(dialect),
        compiled.registry,
        now,
        owned_segments,
        stored_values=None if connection is None else stored_values,
        owner_id=owner_id,
    )
    return compiler.emit(compiled.criteria.root, True)


class CachedPredicate:
    """A compiled criteria predicate that runs again at another ``now``.

    The instants computed from now (relative times, windows, day counts) are the
    parameters named ``cc_now_<i>``: :meth:`parameters` gives their values at an
    instant. ``statements`` keeps the statements a caller built around the
    predicate (SQLAlchemy memoizes a statement's cache key, so running the same
    statement object again skips building and walking it).
    """

    __slots__ = ("_checks", "_params", "predicate", "statements")

    def __init__(
        self,
        predicate: Pred,
        params: list[tuple[str, int, Callable[[int], Any]]],
        checks: list[tuple[int, bool]],
    ) -> None:
        self.predicate = predicate
        self._params = tuple(params)
        self._checks = tuple(checks)
        self.statements: dict[str, Any] = {}

    def fits(self, now_ms: int) -> bool:
        """Whether the SQL compiled is the SQL at ``now_ms`` (the same instants storable)."""
        return all(in_instant_range(now_ms + offset) is ok for offset, ok in self._checks)

    def parameters(self, now_ms: int) -> dict[str, Any]:
        """The values of the now parameters at ``now_ms``."""
        return {key: value(now_ms + offset) for key, offset, value in self._params}


_CACHE_SIZE: Final = 256
_cache: OrderedDict[tuple[Any, ...], CachedPredicate] = OrderedDict()
_cache_lock = threading.Lock()


def cached_criteria_sql(
    criteria: Criteria,
    *,
    dialect: str,
    now: datetime,
    registry: FieldRegistry | None = None,
    owned_segments: frozenset[str] | None = None,
    connection: Connection | None = None,
    owner_id: str | None = None,
) -> tuple[CachedPredicate, dict[str, Any]]:
    """:func:`compile_criteria_sql` compiled once per tree, registry, dialect and owned
    segments, with the parameters that bind it to ``now``.

    A predicate whose SQL depends on the stored data (``regex`` on PostgreSQL and
    MariaDB: the values RE2 matches) is compiled every time and not kept.

    Returns:
        The predicate (``.predicate``) and the parameter values to execute it with.

    Raises:
        As :func:`compile_criteria_sql`.
    """
    registry = registry or FieldRegistry.default()
    now_ms = (ensure_utc(now, path="now") - _EPOCH) // _MS
    key = (dialect, criteria, registry, owned_segments)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    if entry is not None and entry.fits(now_ms):
        return entry, entry.parameters(now_ms)
    compiled = compile_criteria(criteria, registry=registry)

    def stored_values(query: sa.Select[Any]) -> list[str]:
        assert connection is not None
        return [row[0] for row in connection.execute(query)]

    compiler = _Compiler(
        _dialect(dialect),
        compiled.registry,
        now,
        owned_segments,
        stored_values=None if connection is None else stored_values,
        owner_id=owner_id,
        named=True,
    )
    entry = CachedPredicate(
        compiler.emit(compiled.criteria.root, True), compiler.now_params, compiler.now_checks
    )
    if not compiler.read_stored_values:
        with _cache_lock:
            _cache[key] = entry
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return entry, entry.parameters(now_ms)
