"""Bad criteria are rejected up front with a typed error at the path of the bad node."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from campaign_core.criteria import (
    FieldRegistry,
    normalize,
    validate,
)
from campaign_core.criteria._build import (
    MAX_DEPTH,
    MAX_LIST_LENGTH,
    MAX_NODES,
)
from campaign_core.errors import ValidationError

REGISTRY = FieldRegistry.with_traits({"nickname": "string", "tags": "string_list"})


def problems_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        normalize(data, registry=REGISTRY)
    return [(p.path, p.code) for p in caught.value.problems]


def only_problem(data: object) -> tuple[str, str, str]:
    with pytest.raises(ValidationError) as caught:
        normalize(data, registry=REGISTRY)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    return problem.path, problem.code, problem.message


# -- malformed shorthand -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "code"),
    [
        ({"engagement": ">abc"}, "engagement", "invalid_type"),
        ({"engagement": ">"}, "engagement", "invalid_value"),
        ({"engagement": ">>5"}, "engagement", "invalid_type"),
        ({"engagement": True}, "engagement", "invalid_type"),
        ({"spendingLevel": "platinum"}, "spendingLevel", "invalid_value"),
        ({"spendingLevel": []}, "spendingLevel", "required"),
        ({"optedOut": "maybe"}, "optedOut", "invalid_type"),
        ({"lastActivityAt": "yesterday"}, "lastActivityAt", "invalid_type"),
        ({"lastActivityAt": "2026-01-01T00:00:00"}, "lastActivityAt", "invalid_value"),
        ({"engagement": {"bigger": 5}}, "engagement.bigger", "unknown_operator"),
        ({"engagement": {}}, "engagement", "required"),
        ({"engagement": {"gt": "x"}}, "engagement.gt", "invalid_type"),
        ({"platform": ["tiktok", "myspace"]}, "platform[1]", "invalid_value"),
    ],
)
def test_malformed_shorthand(data: dict[str, Any], path: str, code: str) -> None:
    """Bad shorthand values are reported at the key that holds them."""
    assert only_problem(data)[:2] == (path, code)


def test_every_problem_is_reported() -> None:
    """All bad entries are reported at once, not just the first."""
    assert problems_of({"engagement": ">abc", "nope": 1, "platform": "myspace"}) == [
        ("engagement", "invalid_type"),
        ("nope", "unknown_field"),
        ("platform", "invalid_value"),
    ]


# -- unknown fields and operators ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"field": "engagemnt", "op": "gt", "value": 1}, "field"),
        (
            {"version": 1, "root": {"all": [{"field": "x", "op": "eq", "value": 1}]}},
            "root.all[0].field",
        ),
        ([{"field": "score", "operator": "equals", "value": 1}], "[0].field"),
        ({"traits.unknown": 1}, "traits.unknown"),
    ],
)
def test_unknown_fields(data: object, path: str) -> None:
    """Fields outside the registry are rejected with the path of the field name."""
    assert only_problem(data)[:2] == (path, "unknown_field")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"field": "engagement", "op": "greater", "value": 1}, ""),
        ({"field": "engagement", "op": "approximately", "value": 1}, "op"),
        ([{"field": "engagement", "operator": "~=", "value": 1}], "[0].operator"),
        ({"field": "engagement", "op": 5, "value": 1}, "op"),
    ],
)
def test_unknown_operators(data: object, path: str) -> None:
    """Operators outside the language are rejected with the path of the operator."""
    if path == "":
        normalize(data)  # "greater" is a known spelling of gt
        return
    got_path, code, _ = only_problem(data)
    assert got_path == path
    assert code in ("unknown_operator", "invalid_type")


def test_operator_given_twice() -> None:
    """A leaf may not carry both op and operator."""
    path, _, message = only_problem(
        {"field": "engagement", "op": "gt", "operator": "lt", "value": 1}
    )
    assert path == "operator"
    assert "not both" in message


# -- operator/type mismatches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"field": "time_zone", "op": "gt", "value": "a"}, "op"),
        ({"field": "platform", "op": "gt", "value": "tiktok"}, "op"),
        ({"field": "engagement", "op": "contains", "value": "1"}, "op"),
        ({"field": "opted_out", "op": "in", "value": [True]}, "op"),
        ({"field": "created_at", "op": "contains", "value": "2026"}, "op"),
        ({"field": "engagement", "op": "within_last", "value": "P1D"}, "op"),
        ({"field": "traits.tags", "op": "eq", "value": "a"}, "op"),
        ({"event": "purchase", "measure": "count", "op": "is_set"}, "op"),
        ({"event": "purchase", "measure": "last_at", "op": "gt", "value": 3}, "value"),
        ({"event": "purchase", "measure": "sum", "op": "before", "value": {"now": "-P1D"}}, "op"),
    ],
)
def test_operator_type_mismatches(data: object, path: str) -> None:
    """An operator that does not apply to the field's type is rejected at the operator."""
    got_path, code, _ = only_problem(data)
    assert got_path == path
    assert code in ("operator_type_mismatch", "invalid_type")


def test_mismatch_message_lists_allowed_operators() -> None:
    """The mismatch message names the type and the operators that would be accepted."""
    _, code, message = only_problem("time_zone > 'a'")
    assert code == "operator_type_mismatch"
    assert "string" in message
    assert "starts_with" in message


@pytest.mark.parametrize(
    ("data", "path", "code"),
    [
        ({"field": "engagement", "op": "between", "value": [5, 1]}, "value", "invalid_value"),
        ({"field": "engagement", "op": "between", "value": [1]}, "value", "invalid_type"),
        (
            {"field": "spending_level", "op": "between", "value": ["vip", "low"]},
            "value",
            "invalid_value",
        ),
        ({"field": "engagement", "op": "in", "value": 5}, "value", "invalid_type"),
        ({"field": "engagement", "op": "is_set", "value": 5}, "value", "invalid_value"),
        ({"field": "engagement", "op": "gt"}, "value", "required"),
        (
            {"field": "last_activity_at", "op": "within_last", "value": "-P1D"},
            "value",
            "out_of_range",
        ),
        (
            {"field": "last_activity_at", "op": "within_last", "value": "PT0S"},
            "value",
            "out_of_range",
        ),
        (
            {"field": "last_activity_at", "op": "within_last", "value": "P1M"},
            "value",
            "invalid_value",
        ),
        (
            {"field": "last_activity_at", "op": "after", "value": {"now": "soon"}},
            "value.now",
            "invalid_value",
        ),
        (
            {"field": "last_activity_at", "op": "after", "value": {"then": "-P1D"}},
            "value",
            "invalid_value",
        ),
        (
            {"field": "last_activity_at", "op": "after", "value": 1767225600},
            "value",
            "invalid_type",
        ),
    ],
)
def test_bad_values(data: object, path: str, code: str) -> None:
    """Values of the wrong shape or range are rejected at the value."""
    assert only_problem(data)[:2] == (path, code)


def test_naive_datetime_values_are_rejected() -> None:
    """Naive datetime objects are ambiguous and rejected."""
    assert only_problem({"createdAt": datetime(2026, 1, 1)})[:1] == ("createdAt",)  # noqa: DTZ001


# -- NaN, infinities, huge values ----------------------------------------------------------------


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers(number: float) -> None:
    """NaN and infinities are not numbers a criterion can hold."""
    assert only_problem({"field": "engagement", "op": "gt", "value": number})[:2] == (
        "value",
        "not_finite",
    )


def test_non_finite_number_strings() -> None:
    """'nan' and 'inf' strings are not numbers either."""
    assert only_problem({"engagement": ">nan"})[:2] == ("engagement", "invalid_type")
    assert only_problem({"engagement": "inf"})[:2] == ("engagement", "invalid_type")


def test_huge_numbers() -> None:
    """Numbers beyond 1e15 are rejected (they would lose precision in some back ends)."""
    assert only_problem({"engagement": 10**16})[:2] == ("engagement", "out_of_range")


def test_huge_lists() -> None:
    """In-lists are bounded."""
    data = {"field": "nickname", "op": "in", "value": ["x"] * (MAX_LIST_LENGTH + 1)}
    assert only_problem(data)[:2] == ("value", "too_large")


def test_huge_strings() -> None:
    """String values are bounded."""
    assert only_problem({"nickname": "x" * 5000})[:2] == ("nickname", "too_large")


def test_depth_limit() -> None:
    """Trees nested deeper than MAX_DEPTH are rejected, without recursing further."""
    tree: dict[str, Any] = {"field": "engagement", "op": "gt", "value": 1}
    for _ in range(MAX_DEPTH + 5):
        tree = {"not": tree}
    path, code, _ = only_problem(tree)
    assert code == "too_deep"
    assert path.startswith("not.not")
    deep = "(" * 200 + "engagement > 1" + ")" * 200
    assert only_problem(deep)[1] in ("too_deep", "syntax_error")
    very_deep: Any = "engagement > 1"
    for _ in range(5000):
        very_deep = [very_deep]
    assert only_problem(very_deep)[1] == "too_deep"


def test_node_limit() -> None:
    """Trees with more than MAX_NODES nodes are rejected once, not per extra node."""
    tree = {"any": [{"field": "engagement", "op": "gt", "value": i} for i in range(MAX_NODES + 10)]}
    assert [code for _, code in problems_of(tree)] == ["too_large"]


def test_long_expressions() -> None:
    """Expression strings are bounded."""
    assert only_problem("engagement > 1 or " * 2000 + "engagement > 2")[1] == "too_large"


# -- regexes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a|a)*", "(a*)*", "(?=x)", r"(\w)\1", "[", "a{1000}", "x" * 300, ""],
)
def test_bad_regexes(pattern: str) -> None:
    """Catastrophic, unsupported or malformed patterns are rejected at the value."""
    path, code, _ = only_problem({"field": "nickname", "op": "regex", "value": pattern})
    assert (path, code) == ("value", "unsafe_regex")


# -- expressions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "engagement >",
        "engagement > 1 and",
        "(engagement > 1",
        "engagement > 1)",
        "engagement 5",
        "engagement > 'unterminated",
        "engagement > 1 ; drop table fans",
        "and engagement > 1",
        "engagement between 1 or 2",
        "count(purchase, within 5) > 1",
        "count(purchase, whenever 5 days) > 1",
        "platform is maybe",
    ],
)
def test_expression_syntax_errors(text: str) -> None:
    """Syntax errors in expressions are reported with the character position."""
    path, code, message = only_problem(text)
    assert path == ""
    assert code in ("syntax_error", "unknown_operator")
    assert "at character" in message


def test_expression_problem_positions() -> None:
    """A semantic problem inside an expression names the character position of the part."""
    path, code, message = only_problem("engagement > 1 and platfrm = 'x'")
    assert (path, code) == ("", "unknown_field")
    assert "at character 19" in message


def test_expression_path_inside_conditions() -> None:
    """An expression inside a list reports at the list index."""
    assert problems_of([{"engagement": ">1"}, "nope > 1"]) == [("[1]", "unknown_field")]


# -- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "code"),
    [
        ({"version": 2, "root": {"all": []}}, "version", "invalid_value"),
        ({"version": "1", "root": {"all": []}}, "version", "invalid_value"),
        ({"version": 1}, "root", "required"),
        ({"version": 1, "root": {"all": []}, "extra": 1}, "extra", "unknown_field"),
        ({"all": {"field": "engagement"}}, "all", "invalid_type"),
        ({"all": [], "any": []}, "any", "unknown_field"),
        ({"field": "engagement", "op": "gt", "value": 1, "vaule": 2}, "vaule", "unknown_field"),
        ({"not": [1]}, "not[0]", "invalid_type"),
        (42, "", "invalid_type"),
        ({"in_segment": 5}, "in_segment", "invalid_type"),
        ({"in_segment": "x; DROP TABLE segments"}, "in_segment", "invalid_value"),
        ({"event": ""}, "event", "required"),
        (
            {"event": "purchase", "measure": "median", "op": "gt", "value": 1},
            "measure",
            "invalid_value",
        ),
        ({"event": "purchase", "never": "yes"}, "never", "invalid_type"),
        ({"event": "purchase", "where": {"in_segment": "s"}}, "where", "invalid_value"),
        ({"event": "purchase", "where": {"event": "x"}}, "where", "invalid_value"),
        (
            {"event": "purchase", "where": {"field": "properties.a-b", "op": "is_set"}},
            "where.field",
            "unknown_field",
        ),
        (
            {
                "event": "purchase",
                "where": {"field": "amount", "op": "within_last", "value": "P1D"},
            },
            "where.op",
            "operator_type_mismatch",
        ),
    ],
)
def test_structural_problems(data: object, path: str, code: str) -> None:
    """Structural mistakes in the canonical form are reported where they are."""
    assert only_problem(data)[:2] == (path, code)


def test_validate_returns_problems_without_raising() -> None:
    """validate() lists problems (empty when valid) instead of raising."""
    assert validate({"engagement": ">5"}) == ()
    problems = validate({"engagement": ">x"})
    assert [(p.path, p.code) for p in problems] == [("engagement", "invalid_type")]
    assert problems[0].to_json()["path"] == "engagement"


# -- injection attempts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "engagement; DROP TABLE fans; --",
        "engagement OR 1=1",
        'engagement") OR ("1"="1',
        "traits.x'); DELETE FROM fans; --",
        "__class__",
        "traits.__dict__",
        "spending_level\x00",
        "../../etc/passwd",
        "",
    ],
)
def test_injection_in_field_names_is_an_unknown_field(field: str) -> None:
    """Only registry names are fields, so anything else is an unknown field."""
    assert only_problem({"field": field, "op": "eq", "value": 1})[:2] == ("field", "unknown_field")
    assert only_problem({field: 1})[:2] == (field, "unknown_field")


def test_injection_in_expression_field_names() -> None:
    """In expressions an injected tail is a syntax error or an unknown field."""
    for text in ("engagement > 1; DROP TABLE fans", "engagement' > 1", "x = 1 -- comment"):
        codes = {code for _, code in problems_of(text)}
        assert codes <= {"syntax_error", "unknown_field"}


def test_injection_in_values_stays_a_value() -> None:
    """A hostile string value for a string field is just a string (bound as a parameter)."""
    value = "x'; DROP TABLE fans; --"
    criteria = normalize({"nickname": value}, registry=REGISTRY)
    assert criteria.to_json()["root"] == {"field": "traits.nickname", "op": "eq", "value": value}
    assert only_problem({"engagement": value})[:2] == ("engagement", "invalid_type")
    assert only_problem({"createdAt": value})[:2] == ("createdAt", "invalid_type")


def test_errors_are_validation_errors_with_json() -> None:
    """The error is a ValidationError (422) whose JSON lists each problem."""
    with pytest.raises(ValidationError) as caught:
        normalize({"nope": 1})
    error = caught.value
    assert error.http_status == 422
    assert error.to_json()["error"]["details"]["problems"][0]["path"] == "nope"
    assert isinstance(error, ValueError)


def test_absurdly_long_numbers_are_rejected_cleanly() -> None:
    """Number literals with thousands of digits are a typed error, not a crash."""
    digits = "9" * 5000
    assert only_problem(f"engagement > {digits}")[1] == "syntax_error"
    assert only_problem({"engagement": ">" + digits})[:2] == ("engagement", "invalid_type")
    assert only_problem({"engagement": int(digits[:400])})[:2] == ("engagement", "out_of_range")


def test_largest_allowed_trees_compile_and_evaluate() -> None:
    """A tree at the depth limit and one near the node limit compile and evaluate."""
    from datetime import UTC, datetime

    from campaign_core.criteria import compile_criteria

    now = datetime(2026, 1, 1, tzinfo=UTC)
    deep: Any = {"field": "engagement", "op": "gt", "value": 1}
    for level in range(MAX_DEPTH - 1):
        deep = {("all" if level % 2 else "any"): [deep, {"field": "opted_out", "op": "is_not_set"}]}
    assert compile_criteria(deep).evaluate({"engagement": 2.0}, now=now)
    wide = {"any": [{"field": "engagement", "op": "eq", "value": i} for i in range(MAX_NODES - 1)]}
    compiled = compile_criteria(wide)
    assert compiled.evaluate({"engagement": float(MAX_NODES - 2)}, now=now)
    assert not compiled.evaluate({"engagement": -1.0}, now=now)
