"""In-memory store for campaign-core: reference semantics, thread-safe, no dependencies.

Use it in tests, demos and notebooks::

    from campaign_core import CampaignCore
    from campaign_core_memory import InMemoryStore, FakeClock

    clock = FakeClock()
    core = CampaignCore(InMemoryStore(), clock=clock)
"""

# the fake clock's home is campaign_core.clock; still importable from here
from campaign_core.clock import FakeClock as FakeClock
from campaign_core_memory._store import InMemoryRepository, InMemoryStore, InMemoryUnitOfWork

__all__ = [
    "InMemoryRepository",
    "InMemoryStore",
    "InMemoryUnitOfWork",
]
