"""The canonical criteria tree: operators, node classes and the versioned :class:`Criteria`.

Every input form (the seed's shorthand, condition lists, expression strings and
the canonical JSON itself) is normalized into these immutable nodes; every
evaluator (per fan, vectorized, SQL) walks them. The JSON form is produced by
:meth:`Criteria.to_json` and is what a store keeps in ``Segment.criteria``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from campaign_core.durations import format_duration

if TYPE_CHECKING:
    from campaign_core.criteria._fields import FieldRegistry

__all__ = [
    "CANONICAL_VERSION",
    "AllOf",
    "AnyOf",
    "Condition",
    "Criteria",
    "EventCondition",
    "InSegment",
    "Measure",
    "Node",
    "Not",
    "Op",
    "RelativeTime",
    "Value",
]

CANONICAL_VERSION = 1
"""The version written into every canonical tree (``{"version": 1, "root": ...}``)."""


class Op(enum.StrEnum):
    """The operators of a leaf; the value is the canonical JSON spelling."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    ICONTAINS = "icontains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    REGEX = "regex"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    BEFORE = "before"
    AFTER = "after"
    WITHIN_LAST = "within_last"
    NOT_WITHIN_LAST = "not_within_last"


class Measure(enum.StrEnum):
    """What a behavioural leaf measures over a fan's matching events.

    ``count`` and ``sum`` are never missing (0 without events); ``last_at`` and
    ``first_at`` are missing when no event matches.
    """

    COUNT = "count"
    SUM = "sum"
    LAST_AT = "last_at"
    FIRST_AT = "first_at"


@attrs.frozen
class RelativeTime:
    """An instant relative to the evaluation's ``now``: JSON ``{"now": "-P14D"}``.

    Attributes:
        offset: added to ``now`` (negative for the past); whole milliseconds.
    """

    offset: timedelta

    def resolve(self, now: datetime) -> datetime:
        """The instant this stands for when the clock says ``now``."""
        return now + self.offset

    def to_json(self) -> dict[str, str]:
        return {"now": format_duration(self.offset)}


Scalar: TypeAlias = bool | int | float | str | datetime | RelativeTime | timedelta
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None
"""A leaf's value: a scalar, a tuple (``in``/``not_in``/``between``) or ``None``
(``is_set``/``is_not_set``). Datetimes are aware UTC at millisecond precision;
durations (``within_last``) are positive ``timedelta`` of whole milliseconds."""


@attrs.frozen
class AllOf:
    """True when every child is true (SQL ``AND``); an empty group is true."""

    children: tuple[Node, ...]


@attrs.frozen
class AnyOf:
    """True when some child is true (SQL ``OR``); an empty group is false."""

    children: tuple[Node, ...]


@attrs.frozen
class Not:
    """Negation with SQL ``NOT`` semantics: unknown stays unknown."""

    child: Node


@attrs.frozen
class Condition:
    """A property leaf: ``field`` ``op`` ``value``.

    Attributes:
        field: the canonical field name (``engagement``, ``traits.favorite_color``;
            inside an event filter ``value`` or ``properties.<name>``).
        op: the operator.
        value: the typed value (see ``Value``).
    """

    field: str
    op: Op
    value: Value = None


@attrs.frozen
class EventCondition:
    """A behavioural leaf over the fan's events.

    The fan's events named ``event``, restricted to ``occurred_at >= now - within``
    when ``within`` is given and to those for which ``where`` is true, are reduced
    to ``measure``; the leaf is ``measure op value``.

    Attributes:
        event: the event name (``purchase``, ``fan.subscribed``).
        measure: count, sum (of the events' ``value``), last_at, first_at.
        op: the operator applied to the measure.
        value: the operator's value.
        within: the window, or ``None`` for all time.
        where: a filter over the event (fields ``value`` and ``properties.<name>``).
    """

    event: str
    measure: Measure
    op: Op
    value: Value
    within: timedelta | None = None
    where: Node | None = None


@attrs.frozen
class InSegment:
    """True when the fan is a member of the segment ``segment_id`` (never unknown)."""

    segment_id: str


Node: TypeAlias = AllOf | AnyOf | Not | Condition | EventCondition | InSegment


def format_datetime(value: datetime) -> str:
    """The canonical JSON text of an instant: ISO-8601 UTC with milliseconds and ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def value_to_json(value: Value) -> Any:
    """The canonical JSON form of a leaf value."""
    if isinstance(value, tuple):
        return [value_to_json(item) for item in value]
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, RelativeTime):
        return value.to_json()
    if isinstance(value, timedelta):
        return format_duration(value)
    return value


def node_to_json(node: Node) -> dict[str, Any]:
    """The canonical JSON form of a node (keys in a fixed order)."""
    if isinstance(node, AllOf):
        return {"all": [node_to_json(child) for child in node.children]}
    if isinstance(node, AnyOf):
        return {"any": [node_to_json(child) for child in node.children]}
    if isinstance(node, Not):
        return {"not": node_to_json(node.child)}
    if isinstance(node, Condition):
        out: dict[str, Any] = {"field": node.field, "op": node.op.value}
        if node.op not in (Op.IS_SET, Op.IS_NOT_SET):
            out["value"] = value_to_json(node.value)
        return out
    if isinstance(node, EventCondition):
        event: dict[str, Any] = {
            "event": node.event,
            "measure": node.measure.value,
            "op": node.op.value,
        }
        if node.op not in (Op.IS_SET, Op.IS_NOT_SET):
            event["value"] = value_to_json(node.value)
        if node.within is not None:
            event["within"] = format_duration(node.within)
        if node.where is not None:
            event["where"] = node_to_json(node.where)
        return event
    return {"in_segment": node.segment_id}


def iter_nodes(node: Node, path: str = "root") -> Iterator[tuple[str, Node]]:
    """Every node of the tree with its canonical path, parents before children.

    Event filters (``where``) are included; their paths end in ``.where...``.
    """
    yield path, node
    if isinstance(node, AllOf | AnyOf):
        key = "all" if isinstance(node, AllOf) else "any"
        for index, child in enumerate(node.children):
            yield from iter_nodes(child, f"{path}.{key}[{index}]")
    elif isinstance(node, Not):
        yield from iter_nodes(node.child, f"{path}.not")
    elif isinstance(node, EventCondition) and node.where is not None:
        yield from iter_nodes(node.where, f"{path}.where")


@attrs.frozen(cache_hash=True)  # a key of the compiled caches: hashed once
class Criteria:
    """A normalized, validated criteria tree; immutable and hashable.

    Build one with :func:`~campaign_core.criteria.normalize` or
    :meth:`Criteria.from_json` (which accept every input form); store
    :meth:`to_json`. ``Criteria.from_json(c.to_json()) == c`` always holds.

    Attributes:
        root: the root node.
        version: the canonical format's version (1).
    """

    root: Node
    version: int = CANONICAL_VERSION
    _segment_ids: frozenset[str] | None = attrs.field(
        init=False, default=None, eq=False, hash=False, repr=False
    )

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON tree: ``{"version": 1, "root": {...}}``."""
        return {"version": self.version, "root": node_to_json(self.root)}

    @classmethod
    def from_json(
        cls, data: object, *, registry: FieldRegistry | None = None, path: str = ""
    ) -> Criteria:
        """Normalize any accepted input form (canonical, shorthand, conditions, expression).

        Args:
            data: the input (see :func:`~campaign_core.criteria.normalize`).
            registry: the :class:`~campaign_core.criteria.FieldRegistry` declaring
                the owner's custom traits; the built-in fields when ``None``.
            path: where ``data`` sits in the caller's input, prefixed to problem paths.

        Returns:
            The canonical tree.

        Raises:
            ValidationError: the input is not valid criteria; one problem per bad node.
        """
        from campaign_core.criteria._normalize import normalize

        return normalize(data, registry=registry, path=path)

    def nodes(self) -> Iterator[tuple[str, Node]]:
        """Every node with its canonical path (``root``, ``root.all[0]``...)."""
        return iter_nodes(self.root)

    def fields(self) -> frozenset[str]:
        """The canonical names of the fan fields the tree reads (not event properties)."""
        found: set[str] = set()
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, AllOf | AnyOf):
                stack.extend(node.children)
            elif isinstance(node, Not):
                stack.append(node.child)
            elif isinstance(node, Condition):
                found.add(node.field)
        return frozenset(found)

    def segment_ids(self) -> frozenset[str]:
        """The ids of the segments referenced by ``in_segment`` leaves."""
        found = self._segment_ids
        if found is None:  # computed once: every size and refresh asks
            found = frozenset(n.segment_id for _, n in self.nodes() if isinstance(n, InSegment))
            object.__setattr__(self, "_segment_ids", found)
        return found

    def event_names(self) -> frozenset[str]:
        """The names of the events behavioural leaves look at."""
        return frozenset(n.event for _, n in self.nodes() if isinstance(n, EventCondition))
