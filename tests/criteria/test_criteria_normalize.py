"""Normalization of every input form into the one canonical tree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from campaign_core.criteria import (
    AllOf,
    AnyOf,
    Condition,
    Criteria,
    EventCondition,
    FieldRegistry,
    InSegment,
    Measure,
    Not,
    Op,
    RelativeTime,
    normalize,
    validate,
)
from campaign_core.errors import ValidationError

REGISTRY = FieldRegistry.with_traits({"favorite_color": "string", "tags": "string_list"})


def canon(data: object) -> dict[str, Any]:
    return normalize(data, registry=REGISTRY).to_json()["root"]


# -- the seed's shorthand --------------------------------------------------------------------


def test_seed_shorthand_becomes_all_of_leaves() -> None:
    """The seed's {"spendingLevel": "high", "engagement": ">50"} is an all of two leaves."""
    assert canon({"spendingLevel": "high", "engagement": ">50"}) == {
        "all": [
            {"field": "spending_level", "op": "eq", "value": "high"},
            {"field": "engagement", "op": "gt", "value": 50},
        ]
    }


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        (">50", "gt", 50),
        (">= 50", "gte", 50),
        ("<1", "lt", 1),
        ("<=2.5", "lte", 2.5),
        ("!=3", "neq", 3),
        ("<>3", "neq", 3),
        ("==3", "eq", 3),
        ("=3", "eq", 3),
        ("7", "eq", 7),
        ("1e2", "eq", 100.0),
    ],
)
def test_shorthand_operator_prefixes(text: str, op: str, value: float) -> None:
    """A leading operator in a shorthand string sets the operator; the rest is the value."""
    assert canon({"engagement": text}) == {"field": "engagement", "op": op, "value": value}


def test_shorthand_single_entry_is_a_bare_leaf() -> None:
    """One shorthand entry normalizes to the leaf itself, not a one-child group."""
    assert canon({"optedOut": False}) == {"field": "opted_out", "op": "eq", "value": False}


def test_shorthand_lists_mean_in() -> None:
    """A list value means 'in', for enums and for list traits ('has any of')."""
    assert canon({"spendingLevel": ["high", "VIP"]}) == {
        "field": "spending_level",
        "op": "in",
        "value": ["high", "vip"],
    }
    assert canon({"tags": ["a", "b"]}) == {"field": "traits.tags", "op": "in", "value": ["a", "b"]}


def test_shorthand_null_means_not_set() -> None:
    """A null shorthand value means the field is not set."""
    assert canon({"platform": None}) == {"field": "platform", "op": "is_not_set"}


def test_shorthand_operator_objects() -> None:
    """{"engagement": {"gt": 10, "lte": 90}} is the conjunction of both operators."""
    assert canon({"engagement": {"gt": 10, "lte": 90}}) == {
        "all": [
            {"field": "engagement", "op": "gt", "value": 10},
            {"field": "engagement", "op": "lte", "value": 90},
        ]
    }


def test_shorthand_ordered_enum_and_relative_times() -> None:
    """Shorthand operators work on ordered enums and datetimes (with relative times)."""
    assert canon({"spendingLevel": ">=high", "lastActivityAt": "<now - 14 days"}) == {
        "all": [
            {"field": "spending_level", "op": "gte", "value": "high"},
            {"field": "last_activity_at", "op": "lt", "value": {"now": "-P14D"}},
        ]
    }


def test_shorthand_strings_after_operator_keep_inner_spaces() -> None:
    """For string fields the text after the operator is the value (leading blanks dropped)."""
    assert canon({"favorite_color": "!= dark blue"}) == {
        "field": "traits.favorite_color",
        "op": "neq",
        "value": "dark blue",
    }


def test_empty_shorthand_matches_everyone() -> None:
    """An empty object is an empty all, which every fan satisfies."""
    assert canon({}) == {"all": []}


# -- the seed's condition lists --------------------------------------------------------------


def test_seed_condition_list() -> None:
    """The seed's win-back conditions normalize to an all of two leaves."""
    conditions = [
        {"field": "subscription_status", "operator": "equals", "value": "active"},
        {"field": "lifetime_value", "operator": ">=", "value": 50},
    ]
    assert canon(conditions) == {
        "all": [
            {"field": "subscription_status", "op": "eq", "value": "active"},
            {"field": "lifetime_value", "op": "gte", "value": 50},
        ]
    }


@pytest.mark.parametrize(
    ("spelling", "op"),
    [
        ("equals", "eq"),
        ("==", "eq"),
        ("not_equals", "neq"),
        ("notEquals", "neq"),
        ("!=", "neq"),
        (">", "gt"),
        ("greaterThan", "gt"),
        (">=", "gte"),
        ("greater_than_or_equal", "gte"),
        ("<", "lt"),
        ("less than", "lt"),
        ("<=", "lte"),
        ("lessThanOrEqual", "lte"),
        ("GTE", "gte"),
    ],
)
def test_condition_operator_spellings(spelling: str, op: str) -> None:
    """Operator spellings of the seed and common UIs map to canonical operators."""
    assert canon([{"field": "engagement", "operator": spelling, "value": 5}]) == {
        "field": "engagement",
        "op": op,
        "value": 5,
    }


def test_negated_spellings_become_not_nodes() -> None:
    """not_contains and friends normalize to a not around the positive leaf."""
    assert canon([{"field": "time_zone", "operator": "not_contains", "value": "Europe"}]) == {
        "not": {"field": "time_zone", "op": "contains", "value": "Europe"}
    }


def test_existence_spellings_with_boolean_values() -> None:
    """{"operator": "exists", "value": false} reads as is_not_set."""
    assert canon([{"field": "platform", "operator": "exists", "value": False}]) == {
        "field": "platform",
        "op": "is_not_set",
    }
    assert canon([{"field": "platform", "operator": "exists", "value": True}]) == {
        "field": "platform",
        "op": "is_set",
    }


def test_numeric_strings_are_numbers_for_number_fields() -> None:
    """A form that sends "50" for a number field gets the number 50."""
    assert canon([{"field": "lifetime_value", "op": "gte", "value": "50"}]) == {
        "field": "lifetime_value",
        "op": "gte",
        "value": 50,
    }


# -- expressions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no_activity_days >= 14", {"field": "no_activity_days", "op": "gte", "value": 14}),
        ("engagement < 1", {"field": "engagement", "op": "lt", "value": 1}),
        ("engagement > 0", {"field": "engagement", "op": "gt", "value": 0}),
        ("engagement > -1.5", {"field": "engagement", "op": "gt", "value": -1.5}),
        ("spendingLevel = high", {"field": "spending_level", "op": "eq", "value": "high"}),
        (
            "platform in ('tiktok', reddit)",
            {"field": "platform", "op": "in", "value": ["tiktok", "reddit"]},
        ),
        ("platform not in [tiktok]", {"field": "platform", "op": "not_in", "value": ["tiktok"]}),
        ("engagement between 1 and 5", {"field": "engagement", "op": "between", "value": [1, 5]}),
        ("platform is set", {"field": "platform", "op": "is_set"}),
        ("platform is not set", {"field": "platform", "op": "is_not_set"}),
        ("platform is null", {"field": "platform", "op": "is_not_set"}),
        ("opted_out", {"field": "opted_out", "op": "eq", "value": True}),
        (
            "time_zone starts_with 'Europe/'",
            {"field": "time_zone", "op": "starts_with", "value": "Europe/"},
        ),
        (
            'time_zone matches "^Europe/"',
            {"field": "time_zone", "op": "regex", "value": "^Europe/"},
        ),
        (
            "time_zone not contains 'Paris'",
            {"not": {"field": "time_zone", "op": "contains", "value": "Paris"}},
        ),
        (
            "last_activity_at within_last 14 days",
            {"field": "last_activity_at", "op": "within_last", "value": "P14D"},
        ),
        (
            "last_activity_at not_within_last P1W",
            {"field": "last_activity_at", "op": "not_within_last", "value": "P7D"},
        ),
        (
            "last_activity_at before now - 14d",
            {"field": "last_activity_at", "op": "before", "value": {"now": "-P14D"}},
        ),
        (
            "last_activity_at after now",
            {"field": "last_activity_at", "op": "after", "value": {"now": "PT0S"}},
        ),
        (
            "created_at >= '2025-06-01T00:00:00+02:00'",
            {"field": "created_at", "op": "gte", "value": "2025-05-31T22:00:00.000Z"},
        ),
        ("tags contains 'vip'", {"field": "traits.tags", "op": "contains", "value": "vip"}),
        ("in_segment('vip-fans')", {"in_segment": "vip-fans"}),
        ("true", {"all": []}),
        ("false", {"any": []}),
    ],
)
def test_expressions(text: str, expected: dict[str, Any]) -> None:
    """Expression strings normalize to the canonical leaves."""
    assert canon(text) == expected


def test_expression_precedence_and_parentheses() -> None:
    """and binds tighter than or; not binds tightest; parentheses group; chains flatten."""
    assert canon("engagement > 1 or engagement < 0 and not opted_out or platform is set") == {
        "any": [
            {"field": "engagement", "op": "gt", "value": 1},
            {
                "all": [
                    {"field": "engagement", "op": "lt", "value": 0},
                    {"not": {"field": "opted_out", "op": "eq", "value": True}},
                ]
            },
            {"field": "platform", "op": "is_set"},
        ]
    }
    assert canon("(engagement > 1 OR engagement < 0) AND NOT (opted_out)") == {
        "all": [
            {
                "any": [
                    {"field": "engagement", "op": "gt", "value": 1},
                    {"field": "engagement", "op": "lt", "value": 0},
                ]
            },
            {"not": {"field": "opted_out", "op": "eq", "value": True}},
        ]
    }


def test_expression_events() -> None:
    """Behavioural functions: count/sum/last_at/first_at with within and where; performed/never."""
    assert canon("count(purchase, within 30 days, where value >= 10) >= 3") == {
        "event": "purchase",
        "measure": "count",
        "op": "gte",
        "value": 3,
        "within": "P30D",
        "where": {"field": "value", "op": "gte", "value": 10},
    }
    assert canon("sum('purchase') > 100") == {
        "event": "purchase",
        "measure": "sum",
        "op": "gt",
        "value": 100,
    }
    assert canon("last_at(message.opened) not_within_last 7 days") == {
        "event": "message.opened",
        "measure": "last_at",
        "op": "not_within_last",
        "value": "P7D",
    }
    assert canon("never(purchase)") == {
        "event": "purchase",
        "measure": "count",
        "op": "eq",
        "value": 0,
    }
    assert canon("performed(fan.subscribed, within 'PT1H', where product = 'x' or amount > 2)") == {
        "event": "fan.subscribed",
        "measure": "count",
        "op": "gte",
        "value": 1,
        "within": "PT1H",
        "where": {
            "any": [
                {"field": "properties.product", "op": "eq", "value": "x"},
                {"field": "properties.amount", "op": "gt", "value": 2},
            ]
        },
    }


def test_string_escapes_in_expressions() -> None:
    """Quoted strings support backslash escapes and either quote."""
    assert canon(r"time_zone = 'it\'s \"x\"'")["value"] == 'it\'s "x"'


# -- canonical form --------------------------------------------------------------------------


def test_canonical_event_sugar() -> None:
    """{"event": x} means performed at least once; never: true means count == 0."""
    assert canon({"event": "purchase"}) == {
        "event": "purchase",
        "measure": "count",
        "op": "gte",
        "value": 1,
    }
    assert canon({"event": "purchase", "never": True, "within": "14 days"}) == {
        "event": "purchase",
        "measure": "count",
        "op": "eq",
        "value": 0,
        "within": "P14D",
    }


def test_groups_may_mix_input_forms() -> None:
    """Children of a canonical group can be shorthand, condition objects or expressions."""
    assert canon(
        {
            "any": [
                "engagement > 5",
                {"spendingLevel": "vip"},
                {"field": "platform", "operator": "equals", "value": "tiktok"},
                [{"field": "opted_out", "op": "eq", "value": False}],
            ]
        }
    ) == {
        "any": [
            {"field": "engagement", "op": "gt", "value": 5},
            {"field": "spending_level", "op": "eq", "value": "vip"},
            {"field": "platform", "op": "eq", "value": "tiktok"},
            {"field": "opted_out", "op": "eq", "value": False},
        ]
    }


def test_structure_is_kept_as_written() -> None:
    """Canonicalization does not simplify: single-child groups and double negation stay."""
    tree = {"all": [{"not": {"not": {"field": "platform", "op": "is_set"}}}]}
    assert canon(tree) == tree


def test_canonical_round_trip_of_a_rich_tree() -> None:
    """A tree using every node kind round-trips through JSON text unchanged."""
    tree = {
        "version": 1,
        "root": {
            "all": [
                {"field": "spending_level", "op": "between", "value": ["medium", "vip"]},
                {"field": "traits.tags", "op": "not_in", "value": ["spam"]},
                {"field": "time_zone", "op": "regex", "value": "(?i)^europe/"},
                {
                    "field": "last_activity_at",
                    "op": "between",
                    "value": [{"now": "-P30D"}, "2026-01-01T00:00:00.000Z"],
                },
                {
                    "any": [
                        {"in_segment": "seg_1"},
                        {
                            "event": "purchase",
                            "measure": "last_at",
                            "op": "is_set",
                            "within": "P7DT12H",
                            "where": {
                                "not": {"field": "properties.refunded", "op": "eq", "value": True}
                            },
                        },
                    ]
                },
            ]
        },
    }
    criteria = normalize(json.loads(json.dumps(tree)), registry=REGISTRY)
    assert criteria.to_json() == tree
    assert Criteria.from_json(criteria.to_json(), registry=REGISTRY) == criteria
    assert hash(criteria) == hash(Criteria.from_json(tree, registry=REGISTRY))


def test_typed_nodes() -> None:
    """The canonical tree holds typed, immutable nodes."""
    criteria = normalize(
        "spending_level = vip and (last_activity_at after now - 1 day or not in_segment(s1))"
        " and count(purchase, within 7 days) > 2"
    )
    root = criteria.root
    assert isinstance(root, AllOf)
    first, second, third = root.children
    assert first == Condition("spending_level", Op.EQ, "vip")
    assert isinstance(second, AnyOf)
    assert second.children[0] == Condition(
        "last_activity_at", Op.AFTER, RelativeTime(timedelta(days=-1))
    )
    assert second.children[1] == Not(InSegment("s1"))
    assert third == EventCondition("purchase", Measure.COUNT, Op.GT, 2, within=timedelta(days=7))
    assert criteria.fields() == {"spending_level", "last_activity_at"}
    assert criteria.segment_ids() == {"s1"}
    assert criteria.event_names() == {"purchase"}


def test_datetime_values_are_utc_milliseconds() -> None:
    """Aware datetimes in any zone become UTC strings truncated to milliseconds."""
    when = datetime(2026, 3, 1, 10, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=-5)))
    assert canon({"createdAt": when}) == {
        "field": "created_at",
        "op": "eq",
        "value": "2026-03-01T15:00:00.123Z",
    }
    assert normalize({"createdAt": when}).root == Condition(
        "created_at", Op.EQ, datetime(2026, 3, 1, 15, 0, 0, 123_000, tzinfo=UTC)
    )


def test_criteria_object_is_accepted_and_revalidated() -> None:
    """normalize() accepts a Criteria and re-checks it against the registry given."""
    criteria = normalize("favorite_color = 'red'", registry=REGISTRY)
    assert normalize(criteria, registry=REGISTRY) == criteria
    assert validate(criteria)[0].code == "unknown_field"


def test_base_path_prefixes_problems() -> None:
    """The path argument places problems inside the caller's input."""
    problems = validate({"engagement": "high"}, path="segment.criteria")
    assert [p.path for p in problems] == ["segment.criteria.engagement"]


def test_repeated_inputs_normalize_to_the_same_tree() -> None:
    """An input seen before gives the same tree; one that differs only in a value's type
    (True and 1, a list and a tuple) is normalized on its own."""
    flag = {"field": "opted_out", "op": "eq", "value": True}
    first = normalize(flag)
    assert normalize(dict(flag)) == first
    with pytest.raises(ValidationError):
        normalize({"field": "opted_out", "op": "eq", "value": 1})
    rule = {"field": "engagement", "op": "in", "value": [1, 2]}
    assert normalize(rule).root == Condition("engagement", Op.IN, (1.0, 2.0))
    rule["value"] = [3]  # the caller's dict changed: the answer follows it
    assert normalize(rule).root == Condition("engagement", Op.IN, (3.0,))
    text = "engagement > 50"
    assert normalize(text) == normalize(text) == normalize(text, path="criteria")
    for _ in range(2):  # errors are not remembered: raised every time, with the path
        with pytest.raises(ValidationError, match=r"segment\.criteria"):
            normalize("engagement > 'high'", path="segment.criteria")
