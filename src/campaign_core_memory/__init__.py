"""In-memory store for campaign-core: reference semantics, thread-safe, no dependencies.

Use it in tests, demos and notebooks::

    from campaign_core import CampaignCore
    from campaign_core_memory import InMemoryStore, FakeClock

    clock = FakeClock()
    core = CampaignCore(InMemoryStore(), clock=clock)
"""

from campaign_core.clock import FakeClock
from campaign_core_memory._store import InMemoryRepository, InMemoryStore, InMemoryUnitOfWork

__all__ = ["FakeClock", "InMemoryRepository", "InMemoryStore", "InMemoryUnitOfWork"]
