"""The default ``Repository.update_many`` (what a third-party store inherits) keeps the contract."""

from __future__ import annotations

import attrs
import pytest

from campaign_core.errors import ConflictError
from campaign_core.ports import Repository
from campaign_core.testing import make_campaign
from campaign_core_memory import InMemoryStore


def test_default_update_many_writes_named_fields_and_refuses_stale_records() -> None:
    """Named fields and the version are written; a missing or stale record raises ConflictError."""
    store = InMemoryStore()
    records = [make_campaign(id=f"d{i}", name=f"n{i}", spent=1.0) for i in range(2)]
    with store.unit_of_work() as uow:
        uow.campaigns.add_many(records)
        changed = [attrs.evolve(r, name="new", spent=7.0, version=2) for r in records]
        Repository.update_many(uow.campaigns, changed, fields=["name"])
        got = [uow.campaigns.get(r.id) for r in records]
        assert [(g.name, g.spent, g.version) for g in got if g] == [("new", 1.0, 2)] * 2
        with pytest.raises(ConflictError) as missing:
            Repository.update_many(uow.campaigns, [make_campaign(id="ghost", version=2)])
        assert missing.value.details["reason"] == "stale"
        with pytest.raises(ConflictError):
            Repository.update_many(uow.campaigns, changed, fields=["name"])  # version 2 again
