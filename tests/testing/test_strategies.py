"""The shipped strategies draw what the services accept (or refuse, for the invalid ones)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from campaign_core import Actor, CampaignCore, FakeClock, ValidationError
from campaign_core.analytics import EventBatch
from campaign_core.criteria import normalize
from campaign_core.testing import strategies as cst
from campaign_core_memory import InMemoryStore

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _workspace() -> Any:
    return CampaignCore(InMemoryStore(), clock=FakeClock(cst.T0)).for_actor(Actor("creator-1"))


@QUICK
@given(fields=cst.campaigns())
def test_valid_campaigns_are_created_and_launch(fields: dict[str, Any]) -> None:
    """Every drawn campaign is accepted and launches."""
    ws = _workspace()
    campaign = ws.campaigns.create_campaign(**fields)
    ws.campaigns.launch_campaign(campaign.id)
    assert ws.campaigns.get_campaign(campaign.id).status == "active"


@QUICK
@given(drawn=cst.invalid_campaigns())
def test_invalid_campaigns_are_refused_at_their_path(drawn: tuple[dict[str, Any], str]) -> None:
    """Every drawn mistake raises ValidationError naming the field, and stores nothing."""
    fields, path = drawn
    ws = _workspace()
    with pytest.raises(ValidationError) as raised:
        ws.campaigns.create_campaign(**fields)
    assert any(p.path.split(".")[0].split("[")[0] == path for p in raised.value.problems)
    assert list(ws.campaigns.list_campaigns().items) == []


@QUICK
@given(fan=cst.fans(), bad=cst.invalid_fans())
def test_fans_valid_and_invalid(fan: tuple[str, dict[str, Any]], bad: Any) -> None:
    """Valid fans are stored; each invalid one raises ValidationError at its path."""
    ws = _workspace()
    fan_id, fields = fan
    assert ws.fans.upsert_fan(fan_id, **fields).fan_id == fan_id
    bad_id, bad_fields, path = bad
    with pytest.raises(ValidationError) as raised:
        ws.fans.upsert_fan(bad_id, **bad_fields)
    assert path in [p.path for p in raised.value.problems]


@QUICK
@given(criteria=cst.criteria(), bad=cst.invalid_criteria())
def test_criteria_in_three_forms_normalize_and_invalid_ones_do_not(criteria: Any, bad: Any) -> None:
    """Shorthand, expressions and trees normalize; the invalid ones raise ValidationError."""
    normalize(criteria, registry=cst.CRITERIA_REGISTRY)
    with pytest.raises(ValidationError):
        normalize(bad, registry=cst.CRITERIA_REGISTRY)


@QUICK
@given(workflow=cst.workflows())
def test_workflows_in_the_seed_shape_are_accepted(workflow: dict[str, Any]) -> None:
    """Every drawn workflow is created and activated."""
    assert _workspace().automations.create_workflow(workflow, activate=True).status == "active"


@QUICK
@given(stream=cst.event_streams(), batch=cst.tracking_batches(max_size=30))
def test_event_streams_and_tracking_batches(stream: list[Any], batch: EventBatch) -> None:
    """Event streams are in time order and record; tracking batches are EventBatches."""
    ws = _workspace()
    assert [e[2] for e in stream] == sorted(e[2] for e in stream)
    for fan_id, name, _minutes in stream[:5]:
        ws.fans.record_event(fan_id, name)
    assert isinstance(batch, EventBatch)


class SmallEngineMachine(cst.EngineMachine):
    """The shipped machine on the in-memory store, as a host would subclass it."""


SmallEngineMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=12, deadline=None
)
TestEngineMachine = SmallEngineMachine.TestCase


def test_the_helpers_import_without_pytest_or_hypothesis() -> None:
    """import campaign_core.testing.helpers (and the package) loads neither pytest nor hypothesis."""
    code = (
        "import sys, campaign_core.testing.helpers, campaign_core.testing; "
        "print('pytest' in sys.modules, 'hypothesis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
