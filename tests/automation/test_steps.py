"""The built-in step specs: one spec per type carries its keys, effect and place in the graph."""

from __future__ import annotations

from campaign_core.automation import (
    BUILTIN_STEPS,
    parse_workflow,
)
from campaign_core.automation._settings import BUILTIN_ACTIONS


def test_builtin_actions_are_the_step_specs() -> None:
    """BUILTIN_ACTIONS lists the step specs' types, in order, each spec under its own name."""
    assert tuple(BUILTIN_STEPS) == BUILTIN_ACTIONS
    assert all(spec.name == name for name, spec in BUILTIN_STEPS.items())
    assert {spec.effect for spec in BUILTIN_STEPS.values()} == {"none", "external", "store"}


def test_a_step_takes_its_effect_and_messaging_from_its_spec() -> None:
    """Parsed steps carry their spec's effect and messaging flag."""
    workflow = parse_workflow(
        {
            "name": "All",
            "trigger": {"type": "event", "event": "go"},
            "actions": [
                {"type": "wait", "duration": "1 hour"},
                {"type": "send_message", "template": "hello"},
                {"type": "add_to_segment", "segment": "vip"},
                {"type": "exit"},
            ],
        }
    )
    for step in workflow.steps:
        spec = BUILTIN_STEPS[step.type]
        assert (step.effect, step.messaging) == (spec.effect, spec.messaging)
    assert [r.kind for r in workflow.references()] == ["segment"]
