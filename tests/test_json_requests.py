"""Request bodies in, error bodies out: kwargs_from_json and error_to_json."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_core import Actor, CampaignCore, FakeClock, NotFoundError
from campaign_core._naming import camel
from campaign_core.errors import Problem, ValidationError
from campaign_core.serialization import error_to_json, kwargs_from_json
from campaign_core_memory import InMemoryStore


def test_top_level_keys_become_keyword_names_and_values_stay() -> None:
    body = {"scheduledFor": "2026-01-01T00:00:00Z", "content": {"myKey": 1}, "name": "x"}
    assert kwargs_from_json(body) == {
        "scheduled_for": "2026-01-01T00:00:00Z",
        "content": {"myKey": 1},
        "name": "x",
    }
    assert kwargs_from_json({"isABTest": True, "userID": "u"}) == {
        "is_ab_test": True,
        "user_id": "u",
    }


@pytest.mark.parametrize("body", [None, [], "name", 3])
def test_a_body_that_is_not_an_object_is_a_validation_error(body: Any) -> None:
    with pytest.raises(ValidationError) as info:
        kwargs_from_json(body, path="body")
    assert [(p.path, p.code) for p in info.value.problems] == [("body", "invalid_type")]


@given(st.from_regex(r"[a-z]{1,6}(_[a-z]{2,6}){0,3}", fullmatch=True))
def test_snake_names_round_trip_through_camel_case(name: str) -> None:
    """Every keyword name whose later words have two letters or more (all of the services')."""
    assert kwargs_from_json({camel(name): 1}) == {name: 1}


def test_problem_paths_answer_in_the_request_names() -> None:
    """Only a path's first segment is renamed: keys inside nested JSON are the caller's."""
    error = ValidationError(
        [
            Problem("scheduled_for", "bad", "invalid_value"),
            Problem("segment_ids[2]", "unknown", "invalid_value"),
            Problem("content.my_key", "too long", "out_of_range"),
            Problem("", "whole body", "invalid_type"),
        ]
    )
    body = error_to_json(error)["error"]
    assert body["code"] == "validation_error"
    assert [p["path"] for p in body["details"]["problems"]] == [
        "scheduledFor",
        "segmentIds[2]",
        "content.my_key",
        "",
    ]
    assert body["message"].startswith("scheduledFor: bad; segmentIds[2]: unknown")
    assert error.problems[0].path == "scheduled_for"  # the error itself is unchanged


def test_a_custom_message_and_other_errors_are_kept() -> None:
    custom = ValidationError([Problem("budget_cap", "x")], message="Budget is wrong")
    assert error_to_json(custom)["error"]["message"] == "Budget is wrong"
    missing = NotFoundError("campaign", "cmp-1")
    assert error_to_json(missing) == missing.to_json()


def test_a_service_error_from_a_json_body_names_the_json_fields() -> None:
    ws = CampaignCore(InMemoryStore(), clock=FakeClock()).for_actor(Actor("creator-1"))
    body = {"name": "A", "type": "ppv", "platforms": ["reddit"], "scheduledFor": "soon"}
    with pytest.raises(ValidationError) as info:
        ws.campaigns.create_campaign(**kwargs_from_json(body))
    paths = [p["path"] for p in error_to_json(info.value)["error"]["details"]["problems"]]
    assert "scheduledFor" in paths
    assert ws.campaigns.list_campaigns().total == 0  # nothing was created
