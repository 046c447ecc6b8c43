"""Normalization: every accepted input form into one canonical :class:`Criteria`.

Accepted forms (they may be mixed: a group's children can be written in any form):

- the canonical tree ``{"version": 1, "root": NODE}`` or a bare ``NODE``;
- the seed's shorthand ``{"spendingLevel": "high", "engagement": ">50"}``;
- the seed's condition lists ``[{"field": ..., "operator": ..., "value": ...}, ...]``;
- expression strings ``"no_activity_days >= 14 and not opted_out = true"``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from campaign_core.criteria._build import INVALID, Builder, Loc, _Invalid
from campaign_core.criteria._fields import FieldRegistry, FieldType
from campaign_core.criteria._model import (
    CANONICAL_VERSION,
    AllOf,
    AnyOf,
    Criteria,
    Node,
    Not,
    Op,
)
from campaign_core.errors import Problem, ProblemCollector

__all__ = ["normalize", "validate"]

_NODE_KEYS = frozenset({"all", "any", "not", "field", "event", "in_segment"})
_LEAF_KEYS = frozenset({"field", "op", "operator", "value"})
_EVENT_KEYS = frozenset({"event", "measure", "op", "operator", "value", "within", "where", "never"})
_SHORTHAND_OP = re.compile(r"^\s*(>=|<=|!=|<>|==|=|>|<)\s*(.*)$", re.DOTALL)


def normalize(data: object, *, registry: FieldRegistry | None = None, path: str = "") -> Criteria:
    """Validate criteria written in any accepted form and return the canonical tree.

    Args:
        data: a canonical tree (``{"version": 1, "root": ...}`` or a bare node), the
            seed's shorthand dict, a list of ``{field, operator, value}`` conditions,
            an expression string, or a :class:`Criteria` (re-validated).
        registry: the fields allowed (built-ins plus the owner's traits); the
            built-ins when ``None``.
        path: where ``data`` sits in the caller's input; prefixed to problem paths.

    Returns:
        The canonical :class:`Criteria`. ``normalize(c.to_json()) == c``.

    Raises:
        ValidationError: one problem per bad node, each with the path of the bad
            part (``root.all[1].op``, ``engagement``, ``[0].operator``; for an
            expression string, its own path and the character position).
    """
    registry = registry or FieldRegistry.default()
    key = _input_key(data)
    if key is not None:
        key = (key, registry, path)
        with _cache_lock:
            found = _cache.get(key)
            if found is not None:
                _cache.move_to_end(key)
                return found
    problems = ProblemCollector()
    node = _normalize(data, registry, problems, path)
    problems.raise_if_any()
    assert node is not None
    criteria = Criteria(root=node)
    if key is not None:
        with _cache_lock:
            _cache[key] = criteria
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return criteria


# Normalizing is deterministic and its result immutable, so valid inputs seen before
# (an expression a host sends with every request, a tree re-checked against a registry)
# are answered from here. Keys keep every type: 1, 1.0 and True, lists and tuples differ.
_CACHE_SIZE = 512
_MAX_KEY_DEPTH = 64
_cache: OrderedDict[tuple[Any, ...], Criteria] = OrderedDict()
_cache_lock = threading.Lock()


class _Uncacheable(Exception):
    """The input holds something the cache cannot key exactly (it is normalized anyway)."""


def _input_key(data: object) -> Any:
    """A hashable key that only equal inputs share, or None to skip the cache."""
    kind = type(data)
    if kind is str or kind is Criteria:
        return (kind, data)
    if kind is dict or kind is list:
        try:
            return _frozen(data, 0)
        except _Uncacheable:
            return None
    return None


def _frozen(value: object, depth: int) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))  # -0.0 and nan keyed by their spelling
    if depth > _MAX_KEY_DEPTH:
        raise _Uncacheable
    if kind is dict:
        items = []
        for name, item in value.items():  # type: ignore[attr-defined]
            if type(name) is not str:
                raise _Uncacheable
            items.append((name, _frozen(item, depth + 1)))
        return (kind, tuple(items))
    if kind is list or kind is tuple:
        return (kind, tuple(_frozen(item, depth + 1) for item in value))  # type: ignore[attr-defined]
    raise _Uncacheable


def validate(
    data: object, *, registry: FieldRegistry | None = None, path: str = ""
) -> tuple[Problem, ...]:
    """Every problem of criteria, without raising (empty when valid).

    Args:
        data: any accepted input form (see :func:`normalize`).
        registry: the fields allowed; the built-ins when ``None``.
        path: where ``data`` sits in the caller's input.

    Returns:
        The problems, each with a path, message and code; ``()`` when valid.
    """
    problems = ProblemCollector()
    _normalize(data, registry or FieldRegistry.default(), problems, path)
    return tuple(problems.problems)


def _normalize(
    data: object, registry: FieldRegistry, problems: ProblemCollector, path: str
) -> Node | None:
    builder = Builder(registry, problems)
    if isinstance(data, Criteria):
        data = data.to_json()
    loc = Loc(path)
    if isinstance(data, Mapping) and ("version" in data or "root" in data):
        extra = sorted(str(k) for k in data if k not in ("version", "root"))
        if extra:
            builder.fail(
                loc.at(extra[0]), "unexpected key next to version and root", "unknown_field"
            )
        version = data.get("version")
        if "version" not in data:
            builder.fail(loc.at("version"), "version is required", "required")
        elif isinstance(version, bool) or version != CANONICAL_VERSION:
            builder.fail(
                loc.at("version"),
                f"unsupported criteria version {version!r} (this library reads version"
                f" {CANONICAL_VERSION})",
            )
        if "root" not in data:
            builder.fail(loc.at("root"), "root is required", "required")
            return None
        result = _element(data["root"], builder, loc.at("root"), 1, False)
    else:
        result = _element(data, builder, loc, 1, False)
    if isinstance(result, _Invalid):
        if not problems:  # pragma: no cover - every INVALID records a problem
            builder.fail(loc, "invalid criteria")
        return None
    return result


def _element(raw: object, b: Builder, loc: Loc, depth: int, event_scope: bool) -> Node | _Invalid:
    """Any form of one node: canonical node, shorthand dict, condition list or expression."""
    if not b.check_depth(depth, loc):
        return INVALID
    if isinstance(raw, str):
        from campaign_core.criteria._expression import parse_expression

        return parse_expression(raw, b, loc, depth, event_scope)
    if isinstance(raw, Mapping):
        if any(key in raw for key in _NODE_KEYS):
            return _node(raw, b, loc, depth, event_scope)
        return _shorthand(raw, b, loc, depth, event_scope)
    if isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
        return _group(AllOf, raw, b, loc, depth, event_scope, unwrap=True)
    return b.fail(
        loc,
        "expected criteria: an object, a list of conditions or an expression string,"
        f" got {type(raw).__name__}",
        "invalid_type",
    )


def _group(
    kind: type[AllOf] | type[AnyOf],
    raw: Sequence[object],
    b: Builder,
    loc: Loc,
    depth: int,
    event_scope: bool,
    *,
    unwrap: bool = False,
) -> Node | _Invalid:
    if not b.count_node(loc):
        return INVALID
    children: list[Node] = []
    ok = True
    for index, item in enumerate(raw):
        child = _element(item, b, loc.at(index), depth + 1, event_scope)
        if isinstance(child, _Invalid):
            ok = False
        else:
            children.append(child)
        if len(b.problems.problems) > 100:
            break
    if not ok:
        return INVALID
    if unwrap and len(children) == 1:
        return children[0]
    return kind(tuple(children))


def _node(
    raw: Mapping[Any, Any], b: Builder, loc: Loc, depth: int, event_scope: bool
) -> Node | _Invalid:
    for group_key, kind in (("all", AllOf), ("any", AnyOf)):
        if group_key in raw:
            if not _only_keys(raw, {group_key}, b, loc):
                return INVALID
            items = raw[group_key]
            if isinstance(items, str | Mapping) or not isinstance(items, Sequence):
                return b.fail(
                    loc.at(group_key), f"{group_key!r} takes a list of criteria", "invalid_type"
                )
            return _group(kind, items, b, loc.at(group_key), depth, event_scope)
    if "not" in raw:
        if not _only_keys(raw, {"not"}, b, loc) or not b.count_node(loc):
            return INVALID
        child = _element(raw["not"], b, loc.at("not"), depth + 1, event_scope)
        return child if isinstance(child, _Invalid) else Not(child)
    if "in_segment" in raw:
        if event_scope:
            return b.fail(loc, "in_segment cannot be used inside an event filter", "invalid_value")
        if not _only_keys(raw, {"in_segment"}, b, loc):
            return INVALID
        return b.in_segment(raw["in_segment"], loc.at("in_segment"))
    if "event" in raw:
        if event_scope:
            return b.fail(
                loc, "an event condition cannot be nested in an event filter", "invalid_value"
            )
        return _event(raw, b, loc, depth)
    return _leaf(raw, b, loc, event_scope)


def _only_keys(
    raw: Mapping[Any, Any], allowed: set[str] | frozenset[str], b: Builder, loc: Loc
) -> bool:
    extra = [k for k in raw if k not in allowed]
    if extra:
        key = extra[0]
        shown = str(key) if len(str(key)) <= 40 else str(key)[:37] + "..."
        b.fail(
            loc.at(str(key)),
            f"unexpected key {shown!r} (allowed here: {', '.join(sorted(allowed))})",
            "unknown_field",
        )
        return False
    return True


def _op_key(raw: Mapping[Any, Any], b: Builder, loc: Loc) -> tuple[object, Loc] | _Invalid:
    if "op" in raw and "operator" in raw:
        return b.fail(loc.at("operator"), "give either 'op' or 'operator', not both")
    key = "op" if "op" in raw else "operator"
    if key not in raw:
        return b.fail(loc.at("op"), "an operator ('op') is required", "required")
    return raw[key], loc.at(key)


def _leaf(raw: Mapping[Any, Any], b: Builder, loc: Loc, event_scope: bool) -> Node | _Invalid:
    if not _only_keys(raw, _LEAF_KEYS, b, loc):
        return INVALID
    found = _op_key(raw, b, loc)
    if isinstance(found, _Invalid):
        return found
    op_raw, op_loc = found
    return b.condition(
        raw["field"],
        op_raw,
        raw.get("value"),
        has_value="value" in raw,
        field_loc=loc.at("field"),
        op_loc=op_loc,
        value_loc=loc.at("value"),
        event_scope=event_scope,
    )


def _event(raw: Mapping[Any, Any], b: Builder, loc: Loc, depth: int) -> Node | _Invalid:
    if not _only_keys(raw, _EVENT_KEYS, b, loc):
        return INVALID
    where: Node | None = None
    where_ok = True
    if "where" in raw:
        built = _element(raw["where"], b, loc.at("where"), depth + 1, True)
        if isinstance(built, _Invalid):
            where_ok = False
        else:
            where = built
    measure_raw: object = raw.get("measure", "count")
    has_op = "op" in raw or "operator" in raw
    op_raw: object
    op_loc = loc.at("op")
    value_raw: object = raw.get("value")
    has_value = "value" in raw
    never = raw.get("never")
    if "never" in raw:
        # {"event": "x", "never": true} is sugar for count == 0.
        if not isinstance(never, bool):
            return b.fail(loc.at("never"), "never takes true or false", "invalid_type")
        if has_op or has_value or "measure" in raw:
            return b.fail(loc.at("never"), "never cannot be combined with measure, op or value")
        measure_raw, op_raw, value_raw, has_value = "count", "eq" if never else "gte", 0, True
        if not never:
            value_raw = 1
    elif not has_op and not has_value and "measure" not in raw:
        # {"event": "x"} alone means "performed at least once".
        op_raw, value_raw, has_value = "gte", 1, True
    else:
        found = _op_key(raw, b, loc)
        if isinstance(found, _Invalid):
            return found
        op_raw, op_loc = found
    built_leaf = b.event_condition(
        raw["event"],
        measure_raw,
        op_raw,
        value_raw,
        has_value=has_value,
        within_raw=raw.get("within"),
        where=where,
        loc=loc,
        event_loc=loc.at("event"),
        measure_loc=loc.at("measure"),
        op_loc=op_loc,
        value_loc=loc.at("value"),
        within_loc=loc.at("within"),
    )
    return built_leaf if where_ok else INVALID


def _shorthand(
    raw: Mapping[Any, Any], b: Builder, loc: Loc, depth: int, event_scope: bool
) -> Node | _Invalid:
    """The seed's ``{"field": value-or-"<op>value", ...}``: every entry must hold."""
    if not b.count_node(loc):
        return INVALID
    children: list[Node] = []
    ok = True
    for key, value in raw.items():
        if not isinstance(key, str):
            b.fail(loc, "a field name must be a string", "invalid_type")
            ok = False
            continue
        built = _shorthand_entry(key, value, b, loc.at(key), event_scope)
        if isinstance(built, _Invalid):
            ok = False
        else:
            children.extend(built)
    if not ok:
        return INVALID
    return children[0] if len(children) == 1 else AllOf(tuple(children))


def _shorthand_entry(
    key: str, value: object, b: Builder, loc: Loc, event_scope: bool
) -> list[Node] | _Invalid:
    def leaf(
        op: object, val: object, *, has_value: bool = True, value_loc: Loc = loc
    ) -> Node | _Invalid:
        return b.condition(
            key,
            op,
            val,
            has_value=has_value,
            field_loc=loc,
            op_loc=loc,
            value_loc=value_loc,
            event_scope=event_scope,
        )

    if value is None:
        result = leaf(Op.IS_NOT_SET, None, has_value=False)
        return result if isinstance(result, _Invalid) else [result]
    if isinstance(value, Mapping) and set(value) != {"now"}:
        # {"engagement": {"gt": 50, "lte": 90}}: an operator per key, all must hold.
        if not value:
            return b.fail(loc, "an operator object must not be empty", "required")
        nodes: list[Node] = []
        ok = True
        for op_raw, op_value in value.items():
            sub = loc.at(str(op_raw))
            found = b.operator(op_raw, sub)
            if isinstance(found, _Invalid):
                ok = False
                continue
            built = b.condition(
                key,
                op_raw,
                op_value,
                has_value=True,
                field_loc=loc,
                op_loc=sub,
                value_loc=sub,
                event_scope=event_scope,
            )
            if isinstance(built, _Invalid):
                ok = False
            else:
                nodes.append(built)
        return nodes if ok else INVALID
    if isinstance(value, list | tuple):
        result = leaf(Op.IN, list(value))
        return result if isinstance(result, _Invalid) else [result]
    if isinstance(value, str):
        match = _SHORTHAND_OP.match(value)
        if match is not None:
            symbol, rest = match.groups()
            if not rest.strip():
                return b.fail(loc, f"{value!r} has an operator but no value")
            result = leaf(symbol, _shorthand_text(key, rest, b, event_scope))
        else:
            result = leaf(Op.EQ, value)
        return result if isinstance(result, _Invalid) else [result]
    result = leaf(Op.EQ, value)
    return result if isinstance(result, _Invalid) else [result]


def _shorthand_text(key: str, text: str, b: Builder, event_scope: bool) -> object:
    """The value after a shorthand operator: ``">50"`` -> 50 for numeric fields."""
    spec = None if event_scope else b.registry.get(key)
    if event_scope:
        stripped = text.strip()
        if re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", stripped):
            return float(stripped) if any(c in stripped for c in ".eE") else int(stripped)
        return text
    if spec is not None and spec.type in (FieldType.STRING, FieldType.ENUM):
        return text
    return text.strip()
