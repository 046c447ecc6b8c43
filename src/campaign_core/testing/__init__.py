"""Test support shipped with the library: the store contract suite, helpers, strategies.

Every store must pass ``StoreContract``. A store's test module subclasses
it and provides a ``store`` fixture returning an **empty** store::

    import pytest
    from campaign_core.testing import StoreContract
    from campaign_core_memory import InMemoryStore

    class TestInMemoryStore(StoreContract):
        @pytest.fixture
        def store(self):
            return InMemoryStore()

Three parts, three sets of dependencies:

- :mod:`campaign_core.testing.helpers`: record factories, snapshots,
  :class:`FailingStore`; no test framework needed.
- :mod:`campaign_core.testing.strategies`: hypothesis strategies and a state
  machine over the engine (needs hypothesis).
- the contract suite (needs pytest): ``StoreContract``, loaded on first use,
  so ``import campaign_core.testing.helpers`` never imports pytest.

``campaign_core.testing`` is the only package of ``src/`` that imports pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# the helpers' home is campaign_core.testing.helpers; still importable from here
from campaign_core.testing.helpers import (
    FailingStore as FailingStore,
)
from campaign_core.testing.helpers import (
    InjectedFault as InjectedFault,
)
from campaign_core.testing.helpers import (
    make_campaign as make_campaign,
)
from campaign_core.testing.helpers import (
    sample_record as sample_record,
)
from campaign_core.testing.helpers import (
    snapshot as snapshot,
)

if TYPE_CHECKING:
    from campaign_core.testing._contract import StoreContract

__all__ = ["StoreContract"]


def __getattr__(name: str) -> Any:
    # the pytest-using suite is loaded on first use, not by ``import campaign_core.testing``
    if name == "StoreContract":
        from campaign_core.testing._contract import StoreContract

        return StoreContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
