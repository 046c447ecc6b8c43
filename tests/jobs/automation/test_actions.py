"""Built-in actions: one registered action per step spec, dispatched like custom actions, ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, ValidationError
from campaign_core.automation import (
    BUILTIN_STEPS,
    ActionRegistry,
    CustomAction,
)
from campaign_core.automation._settings import BUILTIN_ACTIONS
from campaign_core.errors import ProblemCollector
from campaign_core.jobs.automation._engine import Engine
from campaign_core.jobs.automation._ports import AutomationPorts
from campaign_core.jobs.automation.actions import (
    BUILTINS,
    lookup,
    messaging_types,
)
from campaign_core.services._automation_ports import automation_ports


def _noop(context: Any) -> None:
    return None


def test_every_builtin_step_spec_has_one_registered_builtin_action() -> None:
    """The built-in registry holds exactly the step specs' types, each marked built-in."""
    assert set(BUILTINS.names()) == set(BUILTIN_STEPS) == set(BUILTIN_ACTIONS)
    for name, spec in BUILTIN_STEPS.items():
        action = BUILTINS.get(name)
        assert action is not None
        assert action.builtin
        assert action.messaging is spec.messaging


def test_lookup_finds_builtins_and_the_hosts_actions_in_one_way() -> None:
    """A step type is looked up among the built-ins, then the host's registry; unknown is None."""
    host = ActionRegistry()
    crm_sync = host.register("crm_sync", _noop)
    assert lookup("crm_sync", host) == crm_sync
    assert not crm_sync.builtin
    wait = lookup("wait", host)
    assert wait is not None
    assert wait.builtin
    assert lookup("nothing_registered", host) is None


def test_of_builtins_accepts_only_builtin_step_types() -> None:
    """A built-in registry refuses a name no step spec defines; hosts cannot take a built-in name."""
    with pytest.raises(ValidationError):
        ActionRegistry.of_builtins([CustomAction("crm_sync", _noop)])
    with pytest.raises(ValidationError):
        ActionRegistry().register("wait", _noop)


def test_messaging_types_are_send_message_and_the_hosts_messaging_actions() -> None:
    """Frequency caps count every messaging step type, built-in or the host's."""
    host = ActionRegistry()
    host.register("sms", _noop, messaging=True)
    host.register("crm_sync", _noop)
    assert messaging_types(host) == ["send_message", "sms"]


class _RecordingCampaigns:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_from_template(
        self,
        *,
        owner_id: str,
        campaign_id: str,
        template: str,
        customization: Mapping[str, Any],
        content: Mapping[str, Any],
        workflow_id: str | None = None,
    ) -> None:
        self.calls.append(
            {
                "workflow_id": workflow_id,
                "owner_id": owner_id,
                "campaign_id": campaign_id,
                "template": template,
                "customization": dict(customization),
                "content": dict(content),
            }
        )


def test_create_campaign_goes_through_the_campaigns_port(core: CampaignCore) -> None:
    """The engine creates campaigns through the port it was given, with a stable id per visit."""
    ws = core.for_actor(Actor("owner-1"))
    ws.fans.upsert_fan("fan-1")
    flow = ws.automations.create_workflow(
        {
            "name": "Offer",
            "trigger": {"type": "event", "event": "go"},
            "actions": [
                {
                    "type": "create_campaign",
                    "template": "win_back_offer",
                    "discount": 0.25,
                    "customization": {"settings": {"goal": "return"}},
                }
            ],
        },
        activate=True,
    )
    ws.fans.record_event("fan-1", "go")
    services = automation_ports(core.runtime)
    campaigns = _RecordingCampaigns()
    ports = AutomationPorts(campaigns=campaigns, fans=services.fans, segments=services.segments)
    report = Engine(core.runtime, ports).process_due_runs()
    assert report.runs_finished == 1
    [call] = campaigns.calls
    assert call["owner_id"] == "owner-1"
    assert call["workflow_id"] == flow.id
    assert call["template"] == "win_back_offer"
    assert call["campaign_id"].startswith("cmp-")
    assert call["customization"] == {"settings": {"goal": "return"}}
    assert call["content"]["discount"] == 0.25
    assert ws.campaigns.list_campaigns().total == 0  # the services' factory was not called


def test_a_created_campaign_is_linked_to_its_workflow_until_either_is_deleted(
    core: CampaignCore,
) -> None:
    """The seed's Automation.campaigns: the step's campaign is linked to the workflow, once."""
    ws = core.for_actor(Actor("owner-1"))
    flows = [
        ws.automations.create_workflow(
            {
                "name": f"Offer {i}",
                "trigger": {"type": "event", "event": "go"},
                "actions": [{"type": "create_campaign", "template": "win_back_offer"}],
            },
            activate=True,
        ).id
        for i in range(2)
    ]
    for fan in ("fan-1", "fan-2"):
        ws.fans.upsert_fan(fan)
        ws.fans.record_event(fan, "go")
    assert core.tick().automation_runs_finished == 4
    with core.runtime.store.unit_of_work() as uow:
        links = uow.automation_campaigns.find()
    campaigns = {c.id for c in ws.campaigns.list_campaigns().items}
    assert len(campaigns) == 4
    assert {b for _, b in links} == campaigns
    assert sorted(a for a, _ in links) == sorted(flows * 2)
    ws.campaigns.delete_campaign(links[0][1])
    ws.automations.delete_workflow(flows[1])
    with core.runtime.store.unit_of_work() as uow:
        left = uow.automation_campaigns.find()
    assert left == [p for p in links[1:] if p[0] != flows[1]]
    assert len(left) == 1


def test_the_services_fan_port_checks_fields_like_the_fans_service(core: CampaignCore) -> None:
    """The fans port reports an unknown field with its path, as the fans service does."""
    ports = automation_ports(core.runtime)
    problems = ProblemCollector()
    clean = ports.fans.clean_fields("owner-1", {"nickname": "x"}, problems, "fields")
    assert clean == {}
    assert [p.path for p in problems.problems] == ["fields.nickname"]
