"""The store contract suite: what a store must do to run the whole library, as tests.

A store passes when a subclass of ``StoreContract`` with a ``store``
fixture returning an empty store passes. The suite is the definition of a
store: one that passes it runs every service of the library.
"""

from __future__ import annotations

from campaign_core.testing._capability_contract import CapabilityContract
from campaign_core.testing._entity_contract import EntityContract
from campaign_core.testing._error_contract import ErrorParityContract
from campaign_core.testing._link_contract import LinkContract
from campaign_core.testing._repository_contract import RepositoryContract
from campaign_core.testing._scenario_contract import ScenarioContract

__all__ = ["StoreContract"]


class StoreContract(
    EntityContract,
    RepositoryContract,
    ErrorParityContract,
    CapabilityContract,
    LinkContract,
    ScenarioContract,
):
    """Subclass with a ``store`` fixture that returns an empty store.

    What it checks, part by part:

    - every entity of ``campaign_core.entities.ENTITIES`` round-trips with
      every field set; each unique key conflicts; each versioned entity refuses
      stale writes; each counter increments; each leased entity is claimed once
      (a store missing an entity fails here);
    - the repository methods in depth: copies, time zones and milliseconds,
      transactions and rollback, ``update_many``, every condition node of
      :mod:`campaign_core.query` with SQL's null semantics, ordering and pages,
      concurrent increments and claims;
    - the links of the seed's implicit many-to-many (``uow.automation_campaigns``):
      kept once, found by either side, rolled back, refused for a missing side,
      removed with either side;
    - error parity: each bad input raises the reference stores' typed error
      (and code) and changes nothing;
    - each capability :meth:`~campaign_core.ports.Store.capabilities` declares,
      against the reference (audience queries against the per-fan evaluator,
      tracking aggregates against the repository path), and the declared batch
      limits;
    - the core scenario: the services create, launch, tick, run a workflow and
      refresh a segment on the store (override ``make_core`` to pass ports).
    """
