"""The workflow language: the seed's JSON verbatim, the canonical form, and validation with paths."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from campaign_core import ValidationError
from campaign_core.automation import ActionRegistry, parse_workflow
from campaign_core.criteria import FieldRegistry
from tests.automation.helpers import WELCOME, WIN_BACK, welcome, win_back


def _flow(*actions: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": "F",
        "trigger": {"type": "event", "event": "go"},
        "actions": list(actions),
        **extra,
    }


def _problems(data: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        parse_workflow(data, **kwargs)
    return [(p.path, p.code) for p in info.value.problems]


def test_seed_workflows_parse_verbatim() -> None:
    """Both seed workflows are accepted as written, with the steps and branches they mean."""
    w = parse_workflow(WELCOME)
    assert [s.id for s in w.steps] == [
        "step-1",
        "step-2",
        "step-3",
        "step-4",
        "step-5",
        "step-6",
        "step-6.true-1",
    ]
    check = w.step("step-6")
    assert check is not None
    assert (check.if_true, check.if_false, check.next) == ("step-6.true-1", None, None)
    assert w.step("step-1").duration == timedelta(minutes=5)  # type: ignore[union-attr]
    assert w.longest_wait() == timedelta(days=4, minutes=5)
    b = parse_workflow(WIN_BACK)
    assert b.trigger.criteria is not None
    assert b.criteria is not None
    assert [(r.kind, r.ref) for r in b.references()] == [
        ("template", "win_back_offer"),
        ("segment", "at_risk_fans"),
    ]


@pytest.mark.parametrize("seed", [welcome, win_back])
def test_canonical_form_round_trips(seed: Any) -> None:
    """parse(canonical) gives the same workflow; branches become lists and steps get ids."""
    workflow = parse_workflow(seed())
    canonical = workflow.to_json()
    assert parse_workflow(canonical) == workflow
    assert all("id" in a for a in canonical["actions"])
    assert isinstance(
        canonical["actions"][-1].get("ifTrue", canonical["actions"][-1].get("ifFalse")), list
    )


def test_snake_case_keys_and_explicit_ids() -> None:
    """on_error / if_false / include_media are accepted and canonicalized to camelCase."""
    workflow = parse_workflow(
        _flow(
            {
                "id": "hello",
                "type": "send_message",
                "template": "t",
                "include_media": True,
                "on_error": "continue",
            },
            {
                "type": "check_engagement",
                "condition": "engagement >= 2",
                "if_false": [{"type": "send_message", "template": "nudge", "next": "bye"}],
            },
            {"id": "bye", "type": "exit"},
        )
    )
    actions = workflow.to_json()["actions"]
    assert actions[0] == {
        "id": "hello",
        "type": "send_message",
        "template": "t",
        "includeMedia": True,
        "onError": "continue",
    }
    assert actions[1]["ifFalse"][0]["next"] == "bye"
    assert workflow.step("step-2.false-1").next == "bye"  # type: ignore[union-attr]


def test_many_problems_reported_at_once_with_paths() -> None:
    """Every problem is reported, each at the path of the bad node."""
    bad = {
        "name": "",
        "trigger": {"type": "event", "event": "bad name!"},
        "actions": [
            {"type": "wait", "duration": "5 fortnights"},
            {"type": "wait", "duration": "PT0S"},
            {"type": "teleport"},
            {"type": "send_message"},
            {"type": "send_message", "template": "t", "color": "red"},
            {"type": "check_engagement", "condition": "likes > 3", "ifTrue": {"type": "exit"}},
            {"type": "create_campaign", "template": "x", "discount": 1.5},
            {"type": "wait", "duration": float("nan")},
        ],
        "extra": 1,
    }
    assert set(_problems(bad)) == {
        ("name", "required"),
        ("trigger.event", "invalid_value"),
        ("actions[0].duration", "invalid_value"),
        ("actions[1].duration", "out_of_range"),
        ("actions[2].type", "unknown_action"),
        ("actions[3].template", "required"),
        ("actions[4].color", "unknown_field"),
        ("actions[5].condition", "invalid_value"),
        ("actions[6].discount", "out_of_range"),
        ("actions[7].duration", "invalid_type"),
        ("extra", "unknown_field"),
    }


def test_step_cycles_are_rejected() -> None:
    """A jump back that loops is a circular dependency, reported where the jump is written."""
    problems = _problems(
        _flow(
            {"id": "a", "type": "send_message", "template": "t"},
            {
                "type": "check_engagement",
                "condition": "engagement < 1",
                "ifTrue": {"type": "send_message", "template": "u", "next": "a"},
            },
        )
    )
    assert problems == [("actions[1].ifTrue[0].next", "cycle")]
    on_error = _problems(
        _flow({"id": "a", "type": "send_message", "template": "t", "onError": {"goto": "a"}})
    )
    assert on_error == [("actions[0].onError", "cycle")]


def test_unreachable_steps_and_unknown_targets() -> None:
    """Steps after an exit (with nothing jumping to them) and jumps to unknown ids are rejected."""
    assert _problems(_flow({"type": "exit"}, {"type": "send_message", "template": "t"})) == [
        ("actions[1]", "unreachable")
    ]
    assert _problems(_flow({"type": "send_message", "template": "t", "next": "nowhere"})) == [
        ("actions[0].next", "unknown_step")
    ]
    assert _problems(
        _flow(
            {"id": "x", "type": "send_message", "template": "t"},
            {"id": "x", "type": "exit"},
        )
    ) == [("actions[1].id", "duplicate")]


def test_a_jump_over_a_step_reachable_otherwise_is_fine() -> None:
    """A forward jump is allowed when the skipped step is reached another way."""
    parse_workflow(
        _flow(
            {
                "type": "check_engagement",
                "condition": "engagement < 1",
                "ifTrue": {"type": "send_message", "template": "a", "next": "end"},
            },
            {"type": "send_message", "template": "b"},
            {"id": "end", "type": "exit"},
        )
    )


def test_triggers_and_settings_are_validated() -> None:
    """Bad trigger types, crons, zones and settings are reported with paths."""
    assert _problems(
        {"name": "F", "trigger": {"type": "sometimes"}, "actions": [{"type": "exit"}]}
    ) == [("trigger.type", "invalid_value")]
    cron = {
        "name": "F",
        "trigger": {"type": "time", "cron": "61 * * * *", "timeZone": "Mars/Base"},
        "actions": [{"type": "exit"}],
    }
    assert {p for p, _ in _problems(cron)} == {"trigger.cron", "trigger.timeZone"}
    settings = _flow(
        {"type": "exit"},
        settings={
            "reentry": "sometimes",
            "quietHours": {"start": "25:00", "end": "08:00"},
            "frequencyCap": {"max": 0, "per": "day"},
            "overduePolicy": "panic",
        },
    )
    assert {p for p, _ in _problems(settings)} == {
        "settings.reentry",
        "settings.quietHours.start",
        "settings.frequencyCap.max",
        "settings.overduePolicy",
    }


def test_conditions_use_the_criteria_language_and_the_hosts_traits() -> None:
    """Conditions are checked against the field registry (unknown fields rejected)."""
    registry = FieldRegistry.with_traits({"tier": "number"})
    parse_workflow(
        _flow({"type": "exit"}, conditions=[{"field": "tier", "operator": ">", "value": 1}]),
        registry=registry,
    )
    assert _problems(
        _flow({"type": "exit"}, conditions=[{"field": "tier", "operator": ">", "value": 1}])
    ) == [("conditions[0].field", "unknown_field")]


def test_custom_actions_need_registration() -> None:
    """Custom types parse only when registered; their validator adds problems."""
    registry = ActionRegistry()
    registry.register("ping", lambda ctx: None)
    parse_workflow(_flow({"type": "ping", "url": "https://example.com"}), actions=registry)
    assert _problems(_flow({"type": "ping"})) == [("actions[0].type", "unknown_action")]
    with pytest.raises(ValidationError):
        registry.register("wait", lambda ctx: None)


def test_message_templates_can_be_restricted() -> None:
    """With a known set of message templates, others are rejected."""
    assert _problems(welcome(), message_templates=frozenset({"welcome_message"})) == [
        ("actions[3].template", "unknown_template"),
        ("actions[5].ifTrue[0].template", "unknown_template"),
    ]


def test_nonsense_inputs_give_typed_errors() -> None:
    """Wrong types anywhere raise ValidationError, never another exception."""
    for data in (
        None,
        [],
        "x",
        {"name": "F", "trigger": [], "actions": {}},
        _flow(None, 3, "wait"),
        _flow({"type": 7}),
        {
            "name": "F",
            "trigger": {"type": "event"},
            "actions": [{"type": "wait", "duration": 10**30}],
        },
    ):
        with pytest.raises(ValidationError):
            parse_workflow(data)
