"""Workflow send_message steps and execute_action render through the one rendering path (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("liquid")

from campaign_core import Actor, CampaignCore, RecordingMessenger, Settings, Workspace
from campaign_core.models import RunStatus
from campaign_core.ports import Store


@pytest.fixture
def messenger() -> RecordingMessenger:
    return RecordingMessenger()


@pytest.fixture
def core(local_store: Store, core_factory: Any, messenger: RecordingMessenger) -> CampaignCore:
    built: CampaignCore = core_factory(
        local_store,
        messenger=messenger,
        settings=Settings(fan_traits={"first_name": "string", "locale": "string"}),
    )
    return built


@pytest.fixture
def ws(core: CampaignCore) -> Workspace:
    return core.for_actor(Actor("acct-1"))


def _flow(template: str) -> dict[str, Any]:
    return {
        "name": "Flow",
        "trigger": {"type": "event", "event": "go"},
        "actions": [{"type": "send_message", "template": template, "personalize": True}],
    }


def test_a_builtin_template_is_rendered_in_the_fans_locale(
    ws: Workspace, messenger: RecordingMessenger
) -> None:
    """The seed's welcome_message is a built-in: the messenger gets the fan's rendered text."""
    ws.fans.upsert_fan("fan-fr", traits={"first_name": "Léa", "locale": "fr-CA"})
    ws.fans.upsert_fan("fan-en", traits={"first_name": "Sam"})
    sent = {}
    for fan in ("fan-fr", "fan-en"):
        result = ws.automations.execute_action(
            {"type": "send_message", "template": "welcome_message"}, {"fanId": fan}
        )
        assert result.status == "completed", result
        sent[fan] = result.output["locale"]
    assert sent == {"fan-fr": "fr", "fan-en": "en"}
    by_fan = {m["fan_id"]: m for m in messenger.messages}
    assert "Léa" in by_fan["fan-fr"]["parts"]["text"]
    assert "Sam" in by_fan["fan-en"]["parts"]["text"]
    assert by_fan["fan-fr"]["template"] == "welcome_message"  # the name still travels


def test_an_accounts_template_overrides_the_builtin_in_workflows(
    core: CampaignCore, ws: Workspace, messenger: RecordingMessenger
) -> None:
    """A workflow step renders the account's own template of that name."""
    ws.messages.create("welcome_message", "dm", {"en": {"text": "Yo {{ fan.first_name }}!"}})
    ws.fans.upsert_fan("fan-1", traits={"first_name": "Kim"})
    ws.automations.create_workflow(_flow("welcome_message"), activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    assert [m["parts"] for m in messenger.messages] == [{"text": "Yo Kim!"}]


def test_a_name_the_library_does_not_know_goes_out_unrendered(
    ws: Workspace, messenger: RecordingMessenger
) -> None:
    """A host that renders its own templates still gets the name and variables, no parts."""
    ws.fans.upsert_fan("fan-1")
    result = ws.automations.execute_action(
        {"type": "send_message", "template": "hosts_own_template"}, {"fanId": "fan-1"}
    )
    assert result.status == "completed"
    assert "locale" not in result.output
    assert messenger.messages[0]["parts"] is None
    assert messenger.messages[0]["template"] == "hosts_own_template"


def test_a_message_that_cannot_render_fails_the_step_once_without_sending(
    core: CampaignCore, ws: Workspace, messenger: RecordingMessenger
) -> None:
    """A fan the template cannot render for: the step fails with the reason, not retried."""
    ws.messages.create("note", "dm", {"en": {"text": "Note: {{ vars.note }}"}})
    ws.fans.upsert_fan("fan-1")
    long = {"note": "x" * 12_000}  # over the DM limit once rendered
    result = ws.automations.execute_action(
        {"type": "send_message", "template": "note", "variables": long}, {"fanId": "fan-1"}
    )
    assert result.status == "failed"
    assert "cannot be rendered" in (result.error or "")
    assert "too_long" in (result.error or "")
    flow = _flow("note")
    flow["actions"][0]["variables"] = long
    workflow = ws.automations.create_workflow(flow, activate=True)
    ws.fans.record_event("fan-1", "go")
    core.tick()
    core.tick()
    assert messenger.messages == []
    [run] = ws.automations.list_runs(workflow.id)
    assert run.status == RunStatus.FAILED
