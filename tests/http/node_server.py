"""The core the Node client test serves: ``campaign-core --core tests.http.node_server:build_core serve``."""

from __future__ import annotations

from campaign_core import CampaignCore
from campaign_core_memory import InMemoryStore


def build_core() -> CampaignCore:
    return CampaignCore(InMemoryStore())
