"""Per-fan evaluation: the documented semantics, missing values, events, segments, explain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from campaign_core.clock import FakeClock
from campaign_core.criteria import (
    FieldRegistry,
    compile_criteria,
    evaluate,
    explain,
    normalize,
)
from campaign_core.errors import ValidationError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REGISTRY = FieldRegistry.with_traits(
    {"nickname": "string", "tags": "string_list", "score": "number", "joined": "datetime"}
)


def matches(
    criteria: object, fan: dict[str, Any], events: list[Any] | None = None, **kw: Any
) -> bool:
    return evaluate(criteria, fan, events or [], now=NOW, registry=REGISTRY, **kw)


# -- the seed's rules ------------------------------------------------------------------------


def test_seed_shorthand() -> None:
    """{"spendingLevel": "high", "engagement": ">50"} selects high spenders engaged above 50."""
    rule = {"spendingLevel": "high", "engagement": ">50"}
    assert matches(rule, {"spending_level": "high", "engagement": 50.5})
    assert not matches(rule, {"spending_level": "high", "engagement": 50})
    assert not matches(rule, {"spending_level": "vip", "engagement": 90})


def test_seed_win_back_rule() -> None:
    """The seed's win-back trigger and conditions, with fans written in camelCase."""
    rule = [
        "no_activity_days >= 14",
        {"field": "subscription_status", "operator": "equals", "value": "active"},
        {"field": "lifetime_value", "operator": ">=", "value": 50},
    ]
    fan = {"subscriptionStatus": "active", "lifetimeValue": 50, "lastActivityAt": NOW - 14 * DAY}
    assert matches(rule, fan)
    assert not matches(rule, {**fan, "lastActivityAt": NOW - 14 * DAY + timedelta(milliseconds=1)})
    assert not matches(rule, {**fan, "lifetimeValue": 49.99})


# -- missing values: SQL NULL semantics ------------------------------------------------------

# (rule, expected for a fan WITHOUT engagement)
MISSING_TABLE = [
    ("engagement > 5", False),
    ("engagement <= 5", False),
    ("engagement = 5", False),
    ("engagement != 5", False),
    ("engagement in (1, 5)", False),
    ("engagement not in (1, 5)", False),
    ("engagement between 1 and 5", False),
    ("not engagement > 5", False),
    ("not (engagement > 5 and opted_out = false)", False),
    ("engagement is not set", True),
    ("engagement is set", False),
    ("not engagement is set", True),
    ("engagement > 5 or engagement <= 5", False),
    ("engagement > 5 or opted_out = false", True),
    ("engagement > 5 and opted_out = true", False),
    ("not (engagement > 5 and opted_out = true)", True),
    ("not (engagement > 5 or opted_out = false)", False),
    ("not (engagement > 5 or opted_out = true)", False),
]


@pytest.mark.parametrize(("rule", "expected"), MISSING_TABLE)
def test_missing_values_follow_sql_null_semantics(rule: str, expected: bool) -> None:
    """A leaf on a missing field is unknown; not(unknown) is unknown; only TRUE matches."""
    assert matches(rule, {"opted_out": False}) is expected


@pytest.mark.parametrize(
    "fan",
    [
        {},
        {"engagement": None},
        {"engagement": float("nan")},
        {"engagementScore": 7},
    ],
)
def test_what_counts_as_missing(fan: dict[str, Any]) -> None:
    """Absent keys, None and NaN are all missing."""
    assert matches("engagement is not set", fan)
    assert not matches("engagement != 7", fan)


def test_enum_values_outside_the_members_are_missing() -> None:
    """A stored enum value outside the declared members is treated as missing."""
    assert not matches("spending_level != high", {"spending_level": "platinum"})
    assert matches("spending_level is not set", {"spending_level": "platinum"})


def test_empty_groups() -> None:
    """An empty all matches everyone; an empty any matches no one."""
    assert matches({"all": []}, {})
    assert not matches({"any": []}, {})
    assert not matches({"not": {"all": []}}, {})


# -- operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "fan", "expected"),
    [
        ("spending_level > medium", {"spending_level": "high"}, True),
        ("spending_level > medium", {"spending_level": "medium"}, False),
        ("spending_level >= medium", {"spending_level": "medium"}, True),
        ("spending_level < low", {"spending_level": "none"}, True),
        ("spending_level between low and high", {"spending_level": "vip"}, False),
        ("spending_level between low and high", {"spending_level": "low"}, True),
        ("spending_level not in (vip, high)", {"spending_level": "none"}, True),
        ("engagement between 1 and 5", {"engagement": 5}, True),
        ("engagement between 1 and 5", {"engagement": 5.0001}, False),
        ("engagement in (1, 2.5)", {"engagement": 2.5}, True),
        ("engagement = 1", {"engagement": 1.0}, True),
        ("nickname contains 'ob'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname contains 'BO'", {"traits": {"nickname": "Bob"}}, False),
        ("nickname icontains 'BO'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname starts_with 'Bo'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname ends_with 'ob'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname matches '^B.b$'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname matches 'o'", {"traits": {"nickname": "Bob"}}, True),
        ("nickname matches '(?i)^bob$'", {"traits": {"nickname": "BOB"}}, True),
        ("nickname = ''", {"traits": {"nickname": ""}}, True),
        ("tags contains 'vip'", {"traits": {"tags": ["a", "vip"]}}, True),
        ("tags in ('x', 'vip')", {"traits": {"tags": ["a", "vip"]}}, True),
        ("tags not in ('x', 'vip')", {"traits": {"tags": ["a", "vip"]}}, False),
        ("tags not in ('x')", {"traits": {"tags": []}}, True),
        ("tags is set", {"traits": {"tags": []}}, True),
        ("opted_out = false", {"opted_out": False}, True),
        ("opted_out != true", {"opted_out": False}, True),
        ("subscribed", {"subscription_status": "active"}, True),
        ("subscribed = false", {"subscription_status": "expired"}, True),
        ("subscribed is set", {}, False),
    ],
)
def test_operators(rule: str, fan: dict[str, Any], expected: bool) -> None:
    """Each operator behaves as the reference documents."""
    assert matches(rule, fan) is expected


def test_time_operators_and_edges() -> None:
    """within_last includes the boundary instant; not_within_last is strictly older."""
    edge = NOW - 14 * DAY
    for offset, within in [
        (timedelta(0), True),
        (-timedelta(milliseconds=1), False),
        (timedelta(milliseconds=1), True),
        (DAY * 30, True),  # future timestamps count as "within the last"
    ]:
        fan = {"last_activity_at": edge + offset}
        assert matches("last_activity_at within_last 14 days", fan) is within
        assert matches("last_activity_at not_within_last 14 days", fan) is (not within)
    fan = {"last_activity_at": edge}
    assert matches(
        "last_activity_at before now - 14 days",
        {"last_activity_at": edge - timedelta(milliseconds=1)},
    )
    assert not matches("last_activity_at before now - 14 days", fan)
    assert matches("last_activity_at after '2025-12-01T00:00:00Z'", fan)
    assert matches("last_activity_at = now - 14 days", fan)
    assert matches(
        {
            "field": "last_activity_at",
            "op": "between",
            "value": [{"now": "-P15D"}, {"now": "-P14D"}],
        },
        fan,
    )


def test_derived_day_counts_floor() -> None:
    """no_activity_days is floor((now - last_activity_at) / 1 day)."""
    assert matches(
        "no_activity_days = 14", {"last_activity_at": NOW - 14 * DAY - timedelta(hours=23)}
    )
    assert matches(
        "no_activity_days = 13", {"last_activity_at": NOW - 14 * DAY + timedelta(milliseconds=1)}
    )
    assert matches("no_activity_days = -1", {"last_activity_at": NOW + timedelta(hours=1)})
    assert matches("days_since_subscribed >= 0", {"subscribed_at": NOW})
    assert matches("days_since_created is not set", {})


def test_datetimes_in_any_zone_and_milliseconds() -> None:
    """Fan datetimes in any zone compare as instants, truncated to milliseconds."""
    paris = timezone(timedelta(hours=1))
    fan = {"created_at": datetime(2026, 1, 1, 13, 0, 0, 999, tzinfo=paris)}
    assert matches("created_at = '2026-01-01T12:00:00Z'", fan)
    assert matches("created_at = '2026-01-01T07:00:00-05:00'", fan)


def test_relative_times_follow_the_clock() -> None:
    """Relative times resolve against the now given at evaluation (a Clock works too)."""
    clock = FakeClock(NOW)
    compiled = compile_criteria("last_activity_at after now - 1 day")
    fan = {"last_activity_at": NOW - timedelta(hours=12)}
    assert compiled.evaluate(fan, now=clock)
    clock.advance("1 day")
    assert not compiled.evaluate(fan, now=clock)


# -- events --------------------------------------------------------------------------------------


def _event(name: str, ago: timedelta, value: float | None = None, **props: Any) -> dict[str, Any]:
    return {"name": name, "occurred_at": NOW - ago, "value": value, "properties": props}


EVENTS = [
    _event("purchase", 1 * DAY, 10, product="vip_pack"),
    _event("purchase", 10 * DAY, 5.5, product="basic"),
    _event("purchase", 40 * DAY, 100),
    _event("message.opened", 2 * DAY),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("count(purchase) = 3", True),
        ("count(purchase, within 30 days) = 2", True),
        ("count(purchase, within 10 days) = 2", True),  # boundary instant included
        ("count(purchase, within 9 days) = 1", True),
        ("count(purchase, where product = 'vip_pack') = 1", True),
        ("count(purchase, where product != 'vip_pack') = 1", True),  # missing product: unknown
        ("count(purchase, where not product = 'vip_pack') = 1", True),
        ("count(purchase, where product is not set) = 1", True),
        ("sum(purchase) = 115.5", True),
        ("sum(purchase, within 30 days, where value > 6) = 10", True),
        ("sum(tip) = 0", True),
        ("count(tip) = 0", True),
        ("never(tip)", True),
        ("never(purchase)", False),
        ("performed(message.opened, within 3 days)", True),
        ("last_at(purchase) within_last 2 days", True),
        ("first_at(purchase) before now - 30 days", True),
        ("last_at(tip) is not set", True),
        ("last_at(tip) before now", False),
        ("not last_at(tip) before now", False),
        ("last_at(message.opened) not_within_last 1 day", True),
    ],
)
def test_behavioural_leaves(rule: str, expected: bool) -> None:
    """Behavioural leaves count, sum and date a fan's matching events."""
    assert matches(rule, {}, EVENTS) is expected


def test_events_as_objects_and_camel_case() -> None:
    """Events may be objects or camelCase mappings."""

    @attrs.frozen
    class Event:
        name: str
        occurred_at: datetime
        value: float | None = None
        properties: dict[str, Any] = attrs.field(factory=dict)

    events: list[Any] = [
        Event("purchase", NOW - DAY, 3.0),
        {"name": "purchase", "occurredAt": NOW - DAY, "value": 2},
    ]
    assert matches("sum(purchase) = 5", {}, events)


def test_event_property_types_come_from_the_literal() -> None:
    """A property of another type than the literal is missing, so it does not match."""
    events = [_event("purchase", DAY, amount="5"), _event("purchase", DAY, amount=5)]
    assert matches("count(purchase, where amount = 5) = 1", {}, events)
    assert matches("count(purchase, where amount = '5') = 1", {}, events)
    assert matches("count(purchase, where amount > 1) = 1", {}, events)
    assert matches("count(purchase, where amount is set) = 2", {}, events)


# -- segments ------------------------------------------------------------------------------------


def test_in_segment_membership() -> None:
    """in_segment reads the given memberships (a container or a predicate) and is never unknown."""
    assert matches("in_segment(vip)", {}, segments={"vip"})
    assert not matches("in_segment(vip)", {}, segments=set())
    assert matches("not in_segment(vip)", {}, segments=set())
    assert matches("in_segment(vip)", {}, segments=lambda s: s == "vip")


def test_in_segment_requires_memberships() -> None:
    """Criteria that reference a segment need segments= (error at the node's path)."""
    with pytest.raises(ValidationError) as caught:
        matches("engagement > 1 or in_segment(vip)", {"engagement": 0})
    assert caught.value.problems[0].path == "root.any[1].in_segment"
    with pytest.raises(ValidationError):
        matches("in_segment(vip)", {}, segments="vip")


# -- fans ----------------------------------------------------------------------------------------


def test_fan_objects_are_read_by_attribute() -> None:
    """A fan may be an object (the store's attrs Fan) with snake_case attributes and traits."""

    @attrs.frozen
    class Fan:
        spending_level: str | None = None
        engagement: float | None = None
        traits: dict[str, Any] = attrs.field(factory=dict)

    fan = Fan("vip", 80.0, {"nickname": "Ann"})
    assert matches("spending_level = vip and engagement > 50 and nickname = 'Ann'", fan)  # type: ignore[arg-type]
    assert matches("score is not set", fan)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fan", "path"),
    [
        ({"engagement": "high"}, "fan.engagement"),
        ({"engagement": True}, "fan.engagement"),
        ({"created_at": datetime(2026, 1, 1)}, "fan.created_at"),  # noqa: DTZ001
        ({"created_at": "not a date"}, "fan.created_at"),
        ({"spending_level": 3}, "fan.spending_level"),
        ({"traits": {"tags": "a,b"}}, "fan.traits.tags"),
        ({"traits": {"tags": ["a", 1]}}, "fan.traits.tags[1]"),
        ({"traits": ["x"]}, "fan.traits"),
    ],
)
def test_fan_values_of_the_wrong_type_raise(fan: dict[str, Any], path: str) -> None:
    """Fan data of the wrong type raises a ValidationError naming the field."""
    rule = "engagement > 1 or created_at is set or spending_level = vip or tags contains 'a'"
    with pytest.raises(ValidationError) as caught:
        compile_criteria(rule, registry=REGISTRY).explain(fan, now=NOW)
    assert caught.value.problems[0].path == path


def test_bad_events_raise() -> None:
    """Events without a name or an aware time raise with the event's index."""
    with pytest.raises(ValidationError) as caught:
        matches("count(purchase) > 0", {}, [{"name": "purchase"}])
    assert caught.value.problems[0].path == "events[0].occurred_at"
    with pytest.raises(ValidationError) as caught:
        matches("count(purchase) > 0", {}, [{"occurred_at": NOW}])
    assert caught.value.problems[0].path == "events[0].name"
    with pytest.raises(ValidationError) as caught:
        matches("count(purchase) > 0", {}, [{"name": "p", "occurred_at": NOW, "value": "3"}])
    assert caught.value.problems[0].path == "events[0].value"


def test_naive_now_is_rejected() -> None:
    """now must be aware."""
    with pytest.raises(ValidationError):
        evaluate("engagement > 1", {}, now=datetime(2026, 1, 1))  # noqa: DTZ001


def test_compiled_criteria_are_cached_and_rechecked() -> None:
    """compile_criteria caches per tree and registry, and re-checks stored trees."""
    assert compile_criteria("engagement > 1") is compile_criteria("engagement > 1")
    stored = normalize("score > 1", registry=REGISTRY)
    with pytest.raises(ValidationError) as caught:
        compile_criteria(stored)  # the default registry has no 'score' trait
    assert caught.value.problems[0].code == "unknown_field"


# -- explain -------------------------------------------------------------------------------------


def test_explain_traces_values_and_results() -> None:
    """explain() gives every node with the value seen, relative times resolved, and results."""
    rule = (
        "no_activity_days >= 14 and (engagement < 1 or not in_segment(vip))"
        " and last_activity_at before now - 14 days and count(purchase, within 30 days) >= 1"
    )
    fan = {"last_activity_at": NOW - 20 * DAY}
    explanation = explain(rule, fan, EVENTS, now=NOW, segments={"vip"})
    assert explanation.matched is False
    data = explanation.to_json()
    assert data["matched"] is False
    assert data["now"] == "2026-01-15T12:00:00.000Z"
    root = data["trace"]
    assert root["type"] == "all"
    assert root["result"] is None
    first, group, before, count = root["children"]
    assert first == {
        "path": "root.all[0]",
        "type": "condition",
        "result": True,
        "field": "no_activity_days",
        "op": "gte",
        "value": 14,
        "seen": 20.0,
        "missing": False,
    }
    assert group["result"] is None
    assert group["children"][0]["missing"] is True
    assert group["children"][0]["result"] is None
    assert group["children"][1]["type"] == "not"
    assert group["children"][1]["children"][0] == {
        "path": "root.all[1].any[1].not",
        "type": "in_segment",
        "result": True,
        "in_segment": "vip",
    }
    assert before["seen"] == "2025-12-26T12:00:00.000Z"
    assert before["resolved"] == "2026-01-01T12:00:00.000Z"
    assert count["seen"] == 2
    assert count["result"] is True


def test_explain_of_a_match() -> None:
    """A matching fan's explanation says matched and every leaf is true."""
    explanation = explain(
        {"spendingLevel": "high", "engagement": ">50"},
        {"spending_level": "high", "engagement": 60},
        now=NOW,
    )
    assert explanation.matched
    assert [c.result for c in explanation.trace.children] == [True, True]
    assert [c.seen for c in explanation.trace.children] == ["high", 60.0]


def test_hostile_values_are_data_not_code() -> None:
    """Values that look like Python or SQL are compared as data by the compiled evaluator."""
    value = "x'); __import__('os').system('false') #"
    rule = {"any": [{"nickname": value}, {"field": "nickname", "op": "contains", "value": value}]}
    assert matches(rule, {"traits": {"nickname": value}})
    assert not matches(rule, {"traits": {"nickname": "x"}})


def test_bulk_evaluation_with_one_now_object_and_a_clock() -> None:
    """Reusing one now object across fans, then switching to a clock, stays correct."""
    compiled = compile_criteria("last_activity_at within_last 1 day")
    fan = {"last_activity_at": NOW - timedelta(hours=20)}
    assert compiled.evaluate(fan, now=NOW)
    assert not compiled.evaluate(fan, now=NOW + DAY)
    clock = FakeClock(NOW)
    assert compiled.evaluate(fan, now=clock)
    clock.advance("5 hours")
    assert not compiled.evaluate(fan, now=clock)
