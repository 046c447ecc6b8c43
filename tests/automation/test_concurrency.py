"""Two engines ticking the same database at once never advance one run twice: zero duplicate sends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.models import RunStatus
from campaign_core.ports import Store
from campaign_core.query import In
from tests.automation.helpers import T0, CountingMessenger
from tests.conftest import backend_params, make_store, server_url

FANS = 120
FLOW = {
    "name": "Burst",
    "trigger": {"type": "event", "event": "never"},
    "settings": {"reentry": "always"},
    "actions": [
        {"type": "send_message", "template": "one"},
        {"type": "send_message", "template": "two"},
        {"type": "wait", "duration": "1 minute"},
        {"type": "send_message", "template": "three"},
    ],
}


def _stores(backend: str, tmp_path: Path) -> tuple[Store, Store]:
    from campaign_core_sqlalchemy import SqlAlchemyStore

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return SqlAlchemyStore(url, create=True), SqlAlchemyStore(url)
    first = make_store(backend)
    return first, SqlAlchemyStore(server_url(backend))


def _open_runs(store: Store) -> int:
    with store.unit_of_work() as uow:
        return uow.automation_runs.count(In("status", [RunStatus.ACTIVE, RunStatus.HELD]))


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgres"]))
def test_two_engines_never_send_twice(backend: str, tmp_path: Path) -> None:
    """Threads ticking two cores on one database deliver every message exactly once."""
    store_a, store_b = _stores(backend, tmp_path)
    clock = FakeClock(T0)
    messenger = CountingMessenger()
    settings = Settings(tick_batch_size=10)
    core_a = CampaignCore(store_a, clock=clock, messenger=messenger, settings=settings)
    core_b = CampaignCore(store_b, clock=clock, messenger=messenger, settings=settings)
    assert core_a.runtime.worker_id != core_b.runtime.worker_id
    ws = core_a.for_actor(Actor("owner-1"))
    workflow = ws.automations.create_workflow(FLOW, activate=True)
    ws.fans.import_fans([{"fan_id": f"fan-{i:03d}"} for i in range(FANS)])
    assert ws.automations.enroll_fans(workflow.id, [f"fan-{i:03d}" for i in range(FANS)]) == FANS
    errors: list[BaseException] = []
    reports: dict[str, list[Any]] = {"a": [], "b": []}

    barrier = threading.Barrier(2)

    def work(name: str, core: CampaignCore) -> None:
        barrier.wait()
        try:
            for _ in range(200):
                reports[name].append(core.tick())
                if _open_runs(core.store) == 0:
                    return
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def phase() -> None:
        threads = [
            threading.Thread(target=work, args=("a", core_a)),
            threading.Thread(target=work, args=("b", core_b)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    phase()
    clock.advance("1 minute")
    phase()
    assert not errors, errors
    assert _open_runs(store_a) == 0
    assert messenger.duplicates() == {}
    assert len(messenger.delivered) == 3 * FANS
    # every step ran exactly once, whichever engine ran it
    steps = sum(r.automation_steps for r in reports["a"] + reports["b"])
    assert steps == 4 * FANS
    store_b.close()
    store_a.close()


JOURNEY = {
    "name": "Journey burst",
    "trigger": {"type": "event", "event": "never"},
    "settings": {"reentry": "always"},
    "actions": [
        {
            "type": "condition_split",
            "id": "who",
            "branches": [
                {
                    "name": "big",
                    "when": {"lifetimeValue": ">=100"},
                    "then": [{"type": "send_message", "template": "big_offer"}],
                }
            ],
            "default": [{"type": "send_message", "template": "small_offer"}],
        },
        {
            "type": "random_split",
            "id": "path",
            "branches": [
                {"name": "a", "weight": 50, "then": [{"type": "send_message", "template": "a"}]},
                {"name": "b", "weight": 50, "then": [{"type": "send_message", "template": "b"}]},
            ],
        },
        {
            "type": "wait_until",
            "id": "bought",
            "event": "purchase",
            "timeout": "1 day",
            "onEvent": [{"type": "send_message", "template": "thanks"}],
            "onTimeout": [{"type": "send_message", "template": "reminder"}],
        },
    ],
}


def _due(store: Store, now: Any) -> int:
    from campaign_core.query import And, Eq, Lte

    with store.unit_of_work() as uow:
        return uow.automation_runs.count(And(Eq("status", RunStatus.ACTIVE), Lte("wake_at", now)))


@pytest.mark.parametrize("backend", backend_params(["sqlite", "postgres"]))
def test_two_engines_run_a_branching_journey_without_duplicates(
    backend: str, tmp_path: Path
) -> None:
    """Two cores tick one database while purchases wake waiting runs: a condition split, a
    random split and a wait for an event with timeout, every message exactly once."""
    store_a, store_b = _stores(backend, tmp_path)
    clock = FakeClock(T0)
    messenger = CountingMessenger()
    settings = Settings(tick_batch_size=10)
    core_a = CampaignCore(store_a, clock=clock, messenger=messenger, settings=settings)
    core_b = CampaignCore(store_b, clock=clock, messenger=messenger, settings=settings)
    ws = core_a.for_actor(Actor("owner-1"))
    workflow = ws.automations.create_workflow(JOURNEY, activate=True)
    fans = [f"fan-{i:03d}" for i in range(FANS)]
    ws.fans.import_fans(
        [{"fan_id": f, "lifetime_value": 200.0 if i % 2 else 10.0} for i, f in enumerate(fans)]
    )
    assert ws.automations.enroll_fans(workflow.id, fans) == FANS
    buyers = fans[::3]
    errors: list[BaseException] = []
    recording = threading.Event()

    def work(core: CampaignCore) -> None:
        try:
            for _ in range(400):
                core.tick()
                if not recording.is_set() and _due(core.store, clock.now()) == 0:
                    return
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def phase(purchases: list[str]) -> None:
        if purchases:
            recording.set()
        threads = [threading.Thread(target=work, args=(c,)) for c in (core_a, core_b)]
        for thread in threads:
            thread.start()
        buyer_ws = core_b.for_actor(Actor("owner-1"))
        for fan in purchases:  # purchases land while both engines advance runs
            buyer_ws.fans.record_event(fan, "purchase", value=5.0)
        recording.clear()
        for thread in threads:
            thread.join()

    phase([])
    clock.advance("1 hour")
    phase(buyers)
    clock.advance("1 day")
    phase([])
    assert not errors, errors
    assert _open_runs(store_a) == 0
    assert messenger.duplicates() == {}
    templates: dict[str, list[str]] = {}
    for message in messenger.delivered.values():
        templates.setdefault(message["fan_id"], []).append(message["template"])
    assert len(templates) == FANS
    for i, fan in enumerate(fans):
        sent = sorted(templates[fan])
        assert len(sent) == 3, (fan, sent)
        assert ("big_offer" if i % 2 else "small_offer") in sent
        assert ("thanks" if fan in buyers else "reminder") in sent
    store_b.close()
    store_a.close()
