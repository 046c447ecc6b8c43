"""Fixtures the delivery tests share: a deduplicating messenger and a core factory over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from campaign_core import CampaignCore, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.ports import Messenger, Store
from tests.delivery.helpers import DedupMessenger


@pytest.fixture
def messenger() -> Messenger:
    """The messenger every core ``make`` builds sends through (a test file may override it)."""
    return DedupMessenger()


@pytest.fixture
def make(
    local_store: Store, core_factory: Callable[..., CampaignCore], messenger: Messenger
) -> Callable[..., CampaignCore]:
    """Build a core on ``local_store`` with ``messenger``, batches of 50 and messaging settings."""

    def build(**settings: Any) -> CampaignCore:
        return core_factory(
            local_store,
            messenger=messenger,
            settings=Settings(tick_batch_size=50, messaging=MessagingSettings(**settings)),
        )

    return build
