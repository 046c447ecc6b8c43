"""Save and restore: a run's whole state lives in the store, so moving it between steps changes nothing.

After every tick the complete state is serialized to JSON, loaded into a brand
new store of the other kind (memory <-> SQLite) and a brand new core carries
on. The result must equal an uninterrupted run, record for record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, from_json, to_json
from campaign_core.entities import ENTITIES
from campaign_core.models import AutomationRun
from campaign_core.ports import Store
from campaign_core.testing import snapshot
from tests.automation.helpers import T0, CountingMessenger, add_segment, welcome, win_back
from tests.conftest import make_store

OWNER = Actor("owner-1")
SPANS = ["1 minute", "5 minutes", "2 hours", "22 hours", "1 day", "2 days", "4 days"]


def _setup(core: CampaignCore) -> None:
    add_segment(core.store, "owner-1", "at_risk_fans")
    ws = core.for_actor(OWNER)
    ws.automations.create_workflow(welcome(), activate=True)
    ws.automations.create_workflow(win_back(), activate=True)
    ws.fans.upsert_fan(
        "fan-w",
        subscription_status="active",
        lifetime_value=70.0,
        last_activity_at=T0 - timedelta(days=20),
    )
    ws.fans.record_event("fan-1", "fan.subscribed")
    ws.fans.record_event("fan-2", "fan.subscribed")


def _events(core: CampaignCore, index: int) -> None:
    if index == 2:
        core.for_actor(OWNER).fans.record_event("fan-2", "message.opened")


def _copy(source: Store, backend: str) -> Store:
    """Every record of ``source``, through JSON, into a fresh store of ``backend``."""
    data = snapshot(source)
    target = make_store(backend)
    with target.unit_of_work() as uow:
        for name, rows in data.items():
            records = [from_json(ENTITIES[name].record, row) for row in rows]
            uow.repository(name).add_many(records)
        uow.commit()
    return target


def _comparable(store: Store) -> dict[str, Any]:
    data = snapshot(store)
    for row in data["automation_runs"]:
        row["state"].pop("processingMs", None)  # wall-clock processing time
    return data


def test_runs_round_trip_between_steps(local_store: Store) -> None:
    """Moving the whole state between stores at every tick gives the same outcome."""
    clock = FakeClock(T0)
    messenger = CountingMessenger()
    straight = CampaignCore(local_store, clock=clock, ids=SequentialIds(), messenger=messenger)
    _setup(straight)
    for index, span in enumerate(SPANS):
        _events(straight, index)
        clock.advance(span)
        straight.tick()

    clock2 = FakeClock(T0)
    messenger2 = CountingMessenger()
    ids = SequentialIds()
    backends = ["memory", "sqlite"]
    store = make_store(backends[0])
    core = CampaignCore(store, clock=clock2, ids=ids, messenger=messenger2)
    _setup(core)
    for index, span in enumerate(SPANS):
        _events(core, index)
        clock2.advance(span)
        core.tick()
        with core.store.unit_of_work() as uow:
            for run in uow.automation_runs.find():
                assert from_json(AutomationRun, to_json(run)) == run
        store = _copy(core.store, backends[(index + 1) % 2])
        core = CampaignCore(store, clock=clock2, ids=ids, messenger=messenger2)

    assert len(messenger.delivered) == 6  # 3 + 2 welcome messages, 1 win-back
    assert messenger2.delivered == messenger.delivered
    assert not messenger2.duplicates()
    assert _comparable(core.store) == _comparable(straight.store)
