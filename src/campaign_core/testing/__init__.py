"""Test support shipped with the library: the store contract suite and helpers for hosts.

Every store must pass :class:`StoreContract`. A store's test module subclasses
it and provides a ``store`` fixture returning an **empty** store::

    import pytest
    from campaign_core.testing import StoreContract
    from campaign_core_memory import InMemoryStore

    class TestInMemoryStore(StoreContract):
        @pytest.fixture
        def store(self):
            return InMemoryStore()

This is the only module of ``src/`` that imports pytest.
"""

from campaign_core.testing._contract import StoreContract
from campaign_core.testing._helpers import FailingStore, make_campaign, snapshot

__all__ = ["FailingStore", "StoreContract", "make_campaign", "snapshot"]
