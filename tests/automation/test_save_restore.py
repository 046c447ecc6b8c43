"""Save and restore: a run's whole state lives in the store, so moving it between steps changes nothing.

After every tick the complete state is serialized to JSON, loaded into a brand
new store of the other kind (memory <-> SQLite) and a brand new core carries
on. The result must equal an uninterrupted run, record for record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds, from_json, to_json
from campaign_core.entities import ENTITIES
from campaign_core.jobs.automation._state import ROUND_FIELDS, RunState
from campaign_core.models import AutomationRun, RunStatus
from campaign_core.ports import Store
from campaign_core.testing.helpers import snapshot
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
            if name == "automation_campaigns":  # link pairs, not records
                for a, b in rows:
                    uow.automation_campaigns.link(a, b)
                continue
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


def test_the_batch_write_covers_every_field_a_round_changes() -> None:
    """What RunState.record sets is what the batch write (update_many of ROUND_FIELDS) stores.

    Every field of the working state is changed; every field of the recorded
    run that differs from the claimed one must be among the written fields.
    """
    run = AutomationRun(
        id="run-1",
        automation_id="wf-1",
        owner_id="owner-1",
        fan_id="fan-1",
        workflow_version=1,
        entry_key="once",
        trigger_type="manual",
        cursor="step-1",
        wake_at=T0,
        entered_at=T0,
        updated_at=T0,
        lease_owner="worker",
        lease_until=T0 + timedelta(minutes=5),
        version=2,
    )
    st = RunState.of(run)
    st.status = RunStatus.FAILED
    st.cursor = "step-2"
    st.wake_at = T0 + timedelta(days=1)
    st.attempts = 3
    st.step_entered_at = T0 + timedelta(hours=1)
    st.step_count = 4
    st.variables["x"] = 1
    st.state["visits"]["step-1"] = 1
    st.executed.append({"stepId": "step-1"})
    st.errors.append({"error": "e"})
    st.finished_at = T0 + timedelta(days=2)
    st.outcome = "failed"
    recorded = st.record(T0 + timedelta(days=3))
    changed = {
        f.name
        for f in attrs.fields(AutomationRun)
        if getattr(run, f.name) != getattr(recorded, f.name)
    }
    assert changed <= set(ROUND_FIELDS)
    assert changed == set(ROUND_FIELDS)  # and nothing is written that a round never changes
