"""Criteria trees (canonical JSON) and fan populations for the evaluators, as hypothesis strategies.

Values come from small pools shared by the trees and the fans, so leaves often
hit their thresholds exactly (the edge cases evaluators get wrong). Public
through :mod:`campaign_core.testing.strategies`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from campaign_core.criteria import FieldRegistry
from campaign_core.serialization import format_datetime

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REGISTRY = FieldRegistry.with_traits(
    {
        "nickname": "string",
        "score": "number",
        "vip": "boolean",
        "joined": "datetime",
        "tags": "string_list",
    }
)

NUMBER_FIELDS = ["engagement", "lifetime_value", "traits.score"]
DERIVED_DAYS = ["no_activity_days", "days_since_subscribed", "days_since_created"]
ENUMS = {
    "spending_level": ("none", "low", "medium", "high", "vip"),
    "platform": ("onlyfans", "instagram", "tiktok", "reddit"),
    "subscription_status": ("active", "expired", "cancelled", "none"),
}
STRING_FIELDS = ["time_zone", "traits.nickname", "id"]
BOOL_FIELDS = ["opted_out", "traits.vip"]
DATETIME_FIELDS = ["last_activity_at", "subscribed_at", "created_at", "traits.joined"]

NUMBERS = [0, 1, 14, 49.5, 50, 100, -1]
DAY_NUMBERS = [0, 1, 7, 13, 14, 13.5, 30]
STRINGS = ["", "a", "ab", "Ab", "abc", "xyz", "Straße", "İx", "a.c", "x1"]
ADVERSARIAL_PATTERNS = ["a*a*a*a*$", "a{0,100}" * 28 + "$", "(?i)^a+a+a+a+b"]
"""Patterns that backtrack exponentially (or hit PCRE's match limit) in other engines."""
PATTERNS = ["^a", "b$", "(?i)^ab", "[0-9]", "a.c", "ß|x", "^$", *ADVERSARIAL_PATTERNS]
LONG_STRINGS = ["a" * 1000, "a" * 999 + "b", "A" * 998 + "b\n"]
"""Traits of the maximum length (1,000 characters), where the adversarial patterns bite."""
DURATIONS = ["P14D", "P7D", "PT1H", "P30D"]
DAY = timedelta(days=1)
OFFSETS = [
    -40 * DAY,
    -14 * DAY,
    -14 * DAY + timedelta(milliseconds=1),
    -14 * DAY - timedelta(milliseconds=1),
    -7 * DAY,
    -13 * DAY - timedelta(hours=1),
    -timedelta(hours=1),
    timedelta(0),
    DAY,
]
EVENT_NAMES = ["purchase", "message.opened"]
SEGMENTS = ["seg_a", "seg_b"]
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), ZoneInfo("America/New_York")]


def _dt_literal(offset: timedelta) -> str:
    return format_datetime(NOW + offset)


def _relative(offset: timedelta) -> dict[str, str]:
    from campaign_core.durations import format_duration

    return {"now": format_duration(offset)}


number_literal = st.sampled_from(NUMBERS)
time_literal = st.one_of(
    st.sampled_from(OFFSETS).map(_dt_literal), st.sampled_from(OFFSETS).map(_relative)
)


@st.composite
def number_leaf(draw: st.DrawFn) -> dict[str, Any]:
    derived = draw(st.booleans())
    field = draw(st.sampled_from(DERIVED_DAYS if derived else NUMBER_FIELDS))
    pool = DAY_NUMBERS if derived else NUMBERS
    op = draw(
        st.sampled_from(
            [
                "eq",
                "neq",
                "gt",
                "gte",
                "lt",
                "lte",
                "between",
                "in",
                "not_in",
                "is_set",
                "is_not_set",
            ]
        )
    )
    if op in ("is_set", "is_not_set"):
        return {"field": field, "op": op}
    if op == "between":
        low, high = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)))
        return {"field": field, "op": op, "value": [low, high]}
    if op in ("in", "not_in"):
        return {
            "field": field,
            "op": op,
            "value": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)),
        }
    return {"field": field, "op": op, "value": draw(st.sampled_from(pool))}


@st.composite
def enum_leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(ENUMS)))
    members = ENUMS[field]
    ops = ["eq", "neq", "in", "not_in", "is_set", "is_not_set"]
    if field == "spending_level":
        ops += ["gt", "gte", "lt", "lte", "between"]
    op = draw(st.sampled_from(ops))
    if op in ("is_set", "is_not_set"):
        return {"field": field, "op": op}
    if op == "between":
        low, high = sorted(
            draw(st.lists(st.sampled_from(members), min_size=2, max_size=2)), key=members.index
        )
        return {"field": field, "op": op, "value": [low, high]}
    if op in ("in", "not_in"):
        return {
            "field": field,
            "op": op,
            "value": draw(st.lists(st.sampled_from(members), min_size=1, max_size=3)),
        }
    return {"field": field, "op": op, "value": draw(st.sampled_from(members))}


@st.composite
def string_leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(STRING_FIELDS))
    op = draw(
        st.sampled_from(
            [
                "eq",
                "neq",
                "in",
                "not_in",
                "contains",
                "icontains",
                "starts_with",
                "ends_with",
                "regex",
                "is_set",
                "is_not_set",
            ]
        )
    )
    if op in ("is_set", "is_not_set"):
        return {"field": field, "op": op}
    if op == "regex":
        return {"field": field, "op": op, "value": draw(st.sampled_from(PATTERNS))}
    if op in ("in", "not_in"):
        return {
            "field": field,
            "op": op,
            "value": draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=10)),
        }
    return {"field": field, "op": op, "value": draw(st.sampled_from(STRINGS))}


@st.composite
def bool_leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from([*BOOL_FIELDS, "subscribed"]))
    op = draw(st.sampled_from(["eq", "neq", "is_set", "is_not_set"]))
    if op in ("is_set", "is_not_set"):
        return {"field": field, "op": op}
    return {"field": field, "op": op, "value": draw(st.booleans())}


@st.composite
def time_leaf(draw: st.DrawFn, field: str | None = None) -> dict[str, Any]:
    if field is None:
        field = draw(st.sampled_from(DATETIME_FIELDS))
    op = draw(
        st.sampled_from(
            [
                "eq",
                "neq",
                "gt",
                "gte",
                "lt",
                "lte",
                "before",
                "after",
                "between",
                "within_last",
                "not_within_last",
                "is_set",
                "is_not_set",
            ]
        )
    )
    if op in ("is_set", "is_not_set"):
        return {"field": field, "op": op}
    if op in ("within_last", "not_within_last"):
        return {"field": field, "op": op, "value": draw(st.sampled_from(DURATIONS))}
    if op == "between":
        low, high = sorted(draw(st.lists(st.sampled_from(OFFSETS), min_size=2, max_size=2)))
        as_relative = draw(st.booleans())
        make = _relative if as_relative else _dt_literal
        return {"field": field, "op": op, "value": [make(low), make(high)]}
    return {"field": field, "op": op, "value": draw(time_literal)}


@st.composite
def list_leaf(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["contains", "in", "not_in", "is_set", "is_not_set"]))
    if op in ("is_set", "is_not_set"):
        return {"field": "traits.tags", "op": op}
    if op == "contains":
        return {"field": "traits.tags", "op": op, "value": draw(st.sampled_from(STRINGS))}
    return {
        "field": "traits.tags",
        "op": op,
        "value": draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3)),
    }


where_leaf = st.one_of(
    st.builds(
        lambda op, v: {"field": "value", "op": op, "value": v},
        st.sampled_from(["gt", "gte", "lt", "eq", "neq"]),
        st.sampled_from([1, 2.5, 10]),
    ),
    st.builds(
        lambda op, v: {"field": "properties.product", "op": op, "value": v},
        st.sampled_from(["eq", "neq", "contains", "starts_with", "icontains"]),
        st.sampled_from(["a", "ab", "x"]),
    ),
    st.builds(
        lambda v: {"field": "properties.product", "op": "regex", "value": v},
        st.sampled_from(["^a", "b$", "a{0,100}" * 28 + "$"]),
    ),
    st.builds(
        lambda op: {"field": "properties.product", "op": op},
        st.sampled_from(["is_set", "is_not_set"]),
    ),
    st.builds(
        lambda op, v: {"field": "properties.amount", "op": op, "value": v},
        st.sampled_from(["gt", "lte", "eq", "in"]),
        st.sampled_from([1, 5]),
    ).map(lambda leaf: {**leaf, "value": [leaf["value"]]} if leaf["op"] == "in" else leaf),
    st.builds(
        lambda v: {"field": "properties.flag", "op": "eq", "value": v},
        st.booleans(),
    ),
)
where_tree = st.recursive(
    where_leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=3,
)


@st.composite
def event_leaf(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(st.sampled_from(EVENT_NAMES))
    measure = draw(st.sampled_from(["count", "sum", "last_at", "first_at"]))
    if measure in ("count", "sum"):
        op = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "between", "in"]))
        pool = [0, 1, 2, 2.5, 3, 10, 11]
        if op == "between":
            value: Any = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)))
        elif op == "in":
            value = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))
        else:
            value = draw(st.sampled_from(pool))
        leaf: dict[str, Any] = {"event": event, "measure": measure, "op": op, "value": value}
    else:
        inner = draw(time_leaf(field="x"))
        leaf = {"event": event, "measure": measure, "op": inner["op"]}
        if "value" in inner:
            leaf["value"] = inner["value"]
    within = draw(st.sampled_from([None, *DURATIONS]))
    if within is not None:
        leaf["within"] = within
    if draw(st.booleans()):
        leaf["where"] = draw(where_tree)
    return leaf


segment_leaf = st.sampled_from(SEGMENTS).map(lambda s: {"in_segment": s})

leaf = st.one_of(
    number_leaf(),
    enum_leaf(),
    string_leaf(),
    bool_leaf(),
    time_leaf(),
    list_leaf(),
    event_leaf(),
    segment_leaf,
)

trees = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=0, max_size=4).map(lambda c: {"all": c}),
        st.lists(children, min_size=0, max_size=4).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=8,
).map(lambda root: {"version": 1, "root": root})


# -- populations ------------------------------------------------------------------------------

MISSING = object()


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(MISSING), st.just(None), values)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    offset = draw(st.sampled_from(OFFSETS))
    jitter = draw(st.sampled_from([timedelta(0), timedelta(microseconds=700), DAY * 0.5]))
    zone = draw(st.sampled_from(ZONES))
    return (NOW + offset + jitter).astimezone(zone)


@st.composite
def fans(draw: st.DrawFn) -> dict[str, Any]:
    fan: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    number = st.one_of(st.sampled_from(NUMBERS), st.just(float("nan")), st.just(0.25))
    spec: dict[str, st.SearchStrategy[Any]] = {
        "engagement": number,
        "lifetime_value": number,
        "spending_level": st.sampled_from([*ENUMS["spending_level"], "platinum"]),
        "platform": st.sampled_from(ENUMS["platform"]),
        "subscription_status": st.sampled_from(ENUMS["subscription_status"]),
        "time_zone": st.sampled_from(STRINGS),
        "id": st.sampled_from(STRINGS),
        "opted_out": st.booleans(),
        "last_activity_at": instants(),
        "subscribed_at": instants(),
        "created_at": instants(),
    }
    for name, values in spec.items():
        value = draw(_maybe(values))
        if value is not MISSING:
            fan[name] = value
    trait_spec: dict[str, st.SearchStrategy[Any]] = {
        "nickname": st.sampled_from(STRINGS + LONG_STRINGS),
        "score": number,
        "vip": st.booleans(),
        "joined": instants(),
        "tags": st.lists(st.sampled_from(STRINGS), max_size=3),
    }
    for name, values in trait_spec.items():
        value = draw(_maybe(values))
        if value is not MISSING:
            traits[name] = value
    empty_traits: bool = draw(st.booleans())
    if traits or empty_traits:
        fan["traits"] = traits
    return fan


@st.composite
def events_for(draw: st.DrawFn, count: int) -> list[tuple[int, dict[str, Any]]]:
    if count == 0:
        return []
    out: list[tuple[int, dict[str, Any]]] = []
    for _ in range(draw(st.integers(0, 3 * count))):
        properties: dict[str, Any] = {}
        product = draw(_maybe(st.sampled_from(["a", "ab", "x", 3, "a" * 1000 + "b"])))
        if product is not MISSING:
            properties["product"] = product
        amount = draw(_maybe(st.sampled_from([1, 5, 2.5, "5"])))
        if amount is not MISSING:
            properties["amount"] = amount
        flag = draw(_maybe(st.booleans()))
        if flag is not MISSING:
            properties["flag"] = flag
        event = {
            "name": draw(st.sampled_from([*EVENT_NAMES, "other"])),
            "occurred_at": draw(instants()),
            "value": draw(st.sampled_from([None, 1, 2.5, 10, 0.25])),
            "properties": properties,
        }
        out.append((draw(st.integers(0, count - 1)), event))
    return out


@st.composite
def populations(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]], list[set[str]]]:
    people = draw(st.lists(fans(), min_size=0, max_size=12))
    events = draw(events_for(len(people)))
    memberships = [{s for s in SEGMENTS if draw(st.booleans())} for _ in range(len(people))]
    return people, events, memberships
