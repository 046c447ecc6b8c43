"""update_trait and value expressions: checked with paths at save time, applied once per step."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.automation import (
    ExpressionError,
    Scope,
    evaluate,
    parse_expression,
    parse_workflow,
)
from campaign_core.criteria import FieldRegistry
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.models import RunStatus, StepStatus
from campaign_core.ports import Store

OWNER = Actor("owner-1")
TRAITS = {
    "visits": "number",
    "tier": "string",
    "last_seen": "datetime",
    "vip": "boolean",
    "tags": "string_list",
}
REGISTRY = FieldRegistry.with_traits(TRAITS)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _flow(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "Count visits",
        "trigger": {"type": "event", "event": "visit"},
        "actions": list(steps),
    }


def _problems(*steps: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_workflow(_flow(*steps), registry=REGISTRY)
    return [(p.path, p.code) for p in caught.value.problems]


@pytest.mark.parametrize(
    "value",
    [
        5,
        "gold",
        None,
        ["a", "b"],
        {"$add": [{"$ref": "fan.traits.visits"}, 1]},
        {"$now": True},
        {"$now": "7 days"},
        {"$ref": "event.properties.plan"},
        {"$coalesce": [{"$ref": "variables.offer.price"}, 0]},
        {"$concat": ["vip-", {"$ref": "fan.platform"}]},
        {"$literal": ["x"]},
    ],
)
def test_trait_values_that_parse(value: Any) -> None:
    """Literals and expressions parse (their type is checked against the trait where known)."""
    trait = {
        int: "visits",
        str: "tier",
        type(None): "tier",
        list: "tags",
    }.get(type(value), "tier")
    if isinstance(value, dict):
        op = next(iter(value))
        trait = {
            "$add": "visits",
            "$now": "last_seen",
            "$coalesce": "visits",
            "$literal": "tags",
        }.get(op, "tier")
    workflow = parse_workflow(
        _flow({"type": "update_trait", "trait": trait, "value": value}), registry=REGISTRY
    )
    assert parse_workflow(workflow.to_json(), registry=REGISTRY) == workflow


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"trait": "nope", "value": 1}, [("actions[0].trait", "unknown_field")]),
        ({"trait": "platform", "value": "x"}, [("actions[0].trait", "unknown_field")]),
        ({"value": 1}, [("actions[0].trait", "required")]),
        ({"trait": "visits"}, [("actions[0].value", "required")]),
        ({"trait": "visits", "value": "ten"}, [("actions[0].value", "invalid_value")]),
        ({"trait": "tier", "value": {"$now": True}}, [("actions[0].value", "invalid_value")]),
        (
            {"trait": "visits", "value": {"$add": [1, "x"]}},
            [("actions[0].value.$add[1]", "invalid_value")],
        ),
        ({"trait": "visits", "value": {"$add": [1]}}, [("actions[0].value.$add", "out_of_range")]),
        (
            {"trait": "visits", "value": {"$ref": "fan.traits.nope"}},
            [("actions[0].value.$ref", "unknown_field")],
        ),
        (
            {"trait": "visits", "value": {"$ref": "fan.noActivityDays"}},
            [("actions[0].value.$ref", "invalid_value")],
        ),
        (
            {"trait": "visits", "value": {"$ref": "secrets.key"}},
            [("actions[0].value.$ref", "invalid_value")],
        ),
        (
            {"trait": "visits", "value": {"$eval": "1"}},
            [("actions[0].value.$eval", "invalid_value")],
        ),
        (
            {"trait": "visits", "value": {"$add": [1, 2], "$sub": [1, 2]}},
            [("actions[0].value", "invalid_value")],
        ),
        ({"trait": "visits", "value": {"a": 1}}, [("actions[0].value.a", "invalid_value")]),
        ({"trait": "visits", "value": math.inf}, [("actions[0].value", "out_of_range")]),
        (
            {"trait": "last_seen", "value": {"$now": "soon"}},
            [("actions[0].value.$now", "invalid_value")],
        ),
        ({"trait": "tags", "value": [1, 2]}, [("actions[0].value", "invalid_type")]),
        ({"trait": "visits", "value": 1, "extra": 2}, [("actions[0].extra", "unknown_field")]),
    ],
)
def test_bad_update_trait_steps_have_their_paths(
    step: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Unknown traits, type mismatches, unknown paths and operators are refused where they are."""
    assert _problems({"type": "update_trait", **step}) == expected


def test_expressions_are_bounded_in_depth_and_size() -> None:
    """Nesting past MAX_DEPTH and more than MAX_NODES parts are refused."""
    deep: Any = 1
    for _ in range(6):
        deep = {"$add": [deep, 1]}
    problems = ProblemCollector()
    assert parse_expression(deep, "v", problems) is None
    assert any(p.code == "too_deep" for p in problems.problems)
    wide = {"$add": [{"$add": [1] * 10}] * 10}
    problems = ProblemCollector()
    assert parse_expression(wide, "v", problems) is None
    assert [p.code for p in problems.problems] == ["too_long"]


def _scope(**kw: Any) -> Scope:
    base: dict[str, Any] = {
        "now": NOW,
        "fan": {"fan_id": "f", "lifetime_value": 10.0, "traits": {"visits": 2}},
        "trigger": {"event": {"name": "visit", "properties": {"plan": "gold"}, "value": 3}},
        "variables": {"offer": {"price": 7}},
    }
    base.update(kw)
    return Scope(**base)


def test_evaluation_reads_the_run_and_computes() -> None:
    """$ref reads the scope, $add treats null as 0, $now is ISO text, $coalesce and $concat."""
    scope = _scope()
    assert evaluate({"$add": [{"$ref": "fan.traits.visits"}, 1]}, scope) == 3
    assert evaluate({"$add": [{"$ref": "fan.traits.none"}, 1]}, scope) == 1
    assert evaluate({"$sub": [{"$ref": "fan.lifetimeValue"}, 2.5]}, scope) == 7.5
    assert evaluate({"$mul": [{"$ref": "variables.offer.price"}, 2]}, scope) == 14
    assert evaluate({"$mul": [{"$ref": "variables.none"}, 2]}, scope) is None
    assert evaluate({"$now": True}, scope) == "2026-01-01T12:00:00.000Z"
    assert evaluate({"$now": "1 day"}, scope) == "2026-01-02T12:00:00.000Z"
    assert evaluate({"$ref": "event.properties.plan"}, scope) == "gold"
    assert evaluate({"$ref": "event.properties.plan.deeper"}, scope) is None
    assert evaluate({"$coalesce": [None, {"$ref": "event.value"}]}, scope) == 3
    assert evaluate({"$concat": ["n=", 1, True, None]}, scope) == "n=1true"
    with pytest.raises(ExpressionError):
        evaluate({"$add": [{"$ref": "event.properties.plan"}, 1]}, scope)
    with pytest.raises(ExpressionError):
        evaluate({"$mul": [1e10, 1e10]}, scope)


_leaf = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.none(),
    st.sampled_from(
        [{"$ref": "fan.traits.visits"}, {"$ref": "variables.n"}, {"$ref": "event.value"}]
    ),
)
_numeric = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$add": xs}, st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda a, b: {"$sub": [a, b]}, inner, inner),
        st.builds(lambda xs: {"$coalesce": xs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=8,
)


def _oracle(expr: Any, scope: dict[str, Any]) -> Any:
    if not isinstance(expr, dict):
        return expr
    [(op, arg)] = expr.items()
    if op == "$ref":
        return scope[arg]
    values = [_oracle(a, scope) for a in arg]
    if op == "$coalesce":
        return next((v for v in values if v is not None), None)
    nums = [0 if v is None else v for v in values]
    return sum(nums) if op == "$add" else nums[0] - nums[1]


@settings(max_examples=200, deadline=None)
@given(
    _numeric,
    st.one_of(st.none(), st.integers(-50, 50)),
    st.one_of(st.none(), st.integers(-50, 50)),
    st.one_of(st.none(), st.floats(-100, 100, allow_nan=False)),
)
def test_numeric_expressions_agree_with_a_python_oracle(
    expr: Any, visits: int | None, n: int | None, value: float | None
) -> None:
    """Every generated numeric expression parses, and evaluates as plain arithmetic would."""
    problems = ProblemCollector()
    checked = parse_expression(expr, "v", problems, registry=REGISTRY)
    if checked is None:  # only the size bounds may refuse a generated expression
        assert {p.code for p in problems.problems} <= {"too_deep", "too_long"}
        return
    scope = _scope(
        fan={"fan_id": "f", "traits": {"visits": visits}},
        variables={"n": n},
        trigger={"event": {"value": value}},
    )
    expected = _oracle(
        expr,
        {"fan.traits.visits": visits, "variables.n": n, "event.value": value},
    )
    assert evaluate(expr, scope) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=10,
    )
)
def test_any_json_is_refused_or_evaluates_without_surprises(value: Any) -> None:
    """Arbitrary JSON either parses with problems at paths, or evaluates to JSON without raising."""
    problems = ProblemCollector()
    checked = parse_expression(value, "v", problems, registry=REGISTRY)
    if checked is None:
        assert problems.problems
        assert all(p.path.startswith("v") for p in problems.problems)
    else:
        with contextlib.suppress(ExpressionError):
            evaluate(value, _scope())


def _core(store: Store, factory: Callable[..., CampaignCore]) -> CampaignCore:
    return factory(store, settings=Settings(fan_traits=TRAITS))


def _fan_traits(core: CampaignCore, fan_id: str) -> dict[str, Any]:
    fan = core.for_actor(OWNER).fans.get_fan(fan_id)
    return dict(fan.traits)


def test_update_trait_steps_set_traits_once_per_visit(
    local_store: Store, core_factory: Callable[..., CampaignCore], clock: FakeClock
) -> None:
    """Each run adds one visit (even a new fan's), stamps now and copies an event property."""
    core = _core(local_store, core_factory)
    ws = core.for_actor(OWNER)
    ws.fans.upsert_fan("fan-1")
    ws.automations.create_workflow(
        {
            **_flow(
                {
                    "type": "update_trait",
                    "trait": "visits",
                    "value": {"$add": [{"$ref": "fan.traits.visits"}, 1]},
                },
                {"type": "update_trait", "trait": "last_seen", "value": {"$now": True}},
                {
                    "type": "update_trait",
                    "trait": "tier",
                    "value": {"$ref": "event.properties.plan"},
                },
                {"type": "update_trait", "trait": "tags", "value": ["seen"]},
            ),
            "settings": {"reentry": "always"},
        },
        activate=True,
    )
    ws.fans.record_event("fan-1", "visit", properties={"plan": "gold"})
    for _ in range(6):
        core.tick()
    assert _fan_traits(core, "fan-1") == {
        "visits": 1,
        "last_seen": "2026-01-01T00:00:00Z",
        "tier": "gold",
        "tags": ["seen"],
    }
    clock.advance("1 hour")
    ws.fans.record_event("fan-1", "visit", properties={"plan": "silver"})
    for _ in range(6):
        core.tick()
    traits = _fan_traits(core, "fan-1")
    assert traits["visits"] == 2
    assert traits["tier"] == "silver"
    assert traits["last_seen"] == "2026-01-01T01:00:00Z"
    with core.store.unit_of_work() as uow:
        rows = [r for r in uow.automation_step_runs.find() if r.action_type == "update_trait"]
    assert len(rows) == 8
    assert all(r.status is StepStatus.COMPLETED for r in rows)
    assert {"trait": "visits", "value": 2} in [r.output for r in rows]


def test_a_value_that_does_not_fit_fails_the_step_without_retries(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """An event property that is not a number cannot go into a number trait: failed at once."""
    core = _core(local_store, core_factory)
    ws = core.for_actor(OWNER)
    ws.automations.create_workflow(
        _flow({"type": "update_trait", "trait": "visits", "value": {"$ref": "event.properties.n"}}),
        activate=True,
    )
    ws.fans.record_event("fan-1", "visit", properties={"n": "many"})
    core.tick()
    with core.store.unit_of_work() as uow:
        [run] = uow.automation_runs.find()
        [row] = uow.automation_step_runs.find()
    assert run.status is RunStatus.FAILED
    assert row.status is StepStatus.FAILED
    assert "visits" in (row.error or "")


def test_increments_planned_in_one_batch_all_count(
    local_store: Store, core_factory: Callable[..., CampaignCore]
) -> None:
    """Three workflows planned from the same copy of the fan add three: each write reads the stored fan."""
    core = _core(local_store, core_factory)
    ws = core.for_actor(OWNER)
    ws.fans.upsert_fan("fan-1", traits={"visits": 10})
    for n in range(3):
        ws.automations.create_workflow(
            {
                "name": f"Counter {n}",
                "trigger": {"type": "event", "event": "visit"},
                "actions": [
                    {
                        "type": "update_trait",
                        "trait": "visits",
                        "value": {"$add": [{"$ref": "fan.traits.visits"}, 1]},
                    }
                ],
            },
            activate=True,
        )
    ws.fans.record_event("fan-1", "visit")
    report = core.tick()
    assert report.automation_steps == 3
    assert _fan_traits(core, "fan-1")["visits"] == 13
    with core.store.unit_of_work() as uow:
        planned = sorted(r.output["value"] for r in uow.automation_step_runs.find())
    assert planned == [11, 11, 11]  # the history keeps what each run planned
