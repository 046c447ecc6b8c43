"""Fixtures of the automation tests: a core with a counting messenger on each local store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from campaign_core import Actor, CampaignCore, Workspace
from campaign_core.alerts import RecordingAlerter
from campaign_core.ports import Store
from tests.automation.helpers import CountingMessenger


@pytest.fixture
def messenger() -> CountingMessenger:
    return CountingMessenger()


@pytest.fixture
def alerter() -> RecordingAlerter:
    return RecordingAlerter()


@pytest.fixture
def core(
    local_store: Store,
    core_factory: Callable[..., CampaignCore],
    messenger: CountingMessenger,
    alerter: RecordingAlerter,
) -> CampaignCore:
    """A core on a fresh local store (memory and SQLite) with the counting messenger."""
    return core_factory(local_store, messenger=messenger, alerter=alerter)


@pytest.fixture
def ws(core: CampaignCore) -> Workspace:
    return core.for_actor(Actor("owner-1"))
