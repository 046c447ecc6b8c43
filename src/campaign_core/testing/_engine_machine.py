"""A hypothesis state machine that drives the core on a host's store and ports."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from campaign_core._core import CampaignCore, RecordingMessenger
from campaign_core.clock import FakeClock
from campaign_core.ids import SequentialIds
from campaign_core.permissions import Actor
from campaign_core.ports import Store
from campaign_core.testing.helpers import T0

__all__ = ["EngineMachine"]

OWNER = "creator-1"


class EngineMachine(RuleBasedStateMachine):
    """Fans, events, workflows, campaigns, time and ``tick()`` in any order; guarantees checked.

    After every step: no message went out twice (the engine's idempotency keys
    are unique), every message went to a fan of the account, ``tick()``
    reported no error, and every scheduled campaign that came due is active.

    A host subclasses it to run the engine on its own store and ports::

        from campaign_core.testing.strategies import EngineMachine

        class MyStoreEngine(EngineMachine):
            def make_store(self):
                return MyStore()

        TestMyStoreEngine = MyStoreEngine.TestCase

    Override :meth:`make_store` (default: a new in-memory store) and
    :meth:`make_core` (default: the core with a recording messenger and
    sequential ids) to plug in your own.
    """

    def __init__(self) -> None:
        super().__init__()
        # imported here: the strategies module is importable without the machine's store
        from campaign_core.testing.strategies import campaigns, fans, workflows

        self._campaigns, self._fans, self._workflows = campaigns, fans, workflows
        self.clock = FakeClock(T0)
        self.messenger = RecordingMessenger()
        self.store = self.make_store()
        self.core = self.make_core(self.store, self.clock, self.messenger)
        self.ws = self.core.for_actor(Actor(OWNER))
        self.known_fans: set[str] = set()
        self.workflow_count = 0
        self.scheduled: dict[str, Any] = {}
        self.errors: list[Any] = []

    # -- what a host overrides -------------------------------------------------------------
    def make_store(self) -> Store:
        """The store under test (a new, empty one per example)."""
        from campaign_core_memory import InMemoryStore

        return InMemoryStore()

    def make_core(
        self, store: Store, clock: FakeClock, messenger: RecordingMessenger
    ) -> CampaignCore:
        """The core the machine drives; keep ``clock`` and ``messenger`` (the checks read them)."""
        return CampaignCore(store, clock=clock, messenger=messenger, ids=SequentialIds())

    def teardown(self) -> None:
        """Close the store."""
        self.store.close()

    # -- rules -----------------------------------------------------------------------------
    @rule(data=st.data())
    def add_fan(self, data: st.DataObject) -> None:
        """A fan is created or updated with valid fields."""
        fan_id, fields = data.draw(self._fans())
        self.ws.fans.upsert_fan(fan_id, **fields)
        self.known_fans.add(fan_id)

    @rule(
        fan=st.sampled_from(("fan-1", "fan-2", "fan-3")),
        name=st.sampled_from(("fan.subscribed", "message.opened", "purchase")),
    )
    def record_event(self, fan: str, name: str) -> None:
        """A fan does something (the fan is created if new); event triggers fire."""
        self.ws.fans.record_event(fan, name)
        self.known_fans.add(fan)

    @precondition(lambda self: self.workflow_count < 3)
    @rule(data=st.data())
    def create_workflow(self, data: st.DataObject) -> None:
        """An active workflow in the seed's shape is created."""
        self.ws.automations.create_workflow(data.draw(self._workflows()), activate=True)
        self.workflow_count += 1

    @precondition(lambda self: len(self.scheduled) < 3)
    @rule(data=st.data(), hours=st.integers(1, 48))
    def schedule_campaign(self, data: st.DataObject, hours: int) -> None:
        """A valid campaign is created and scheduled for later."""
        campaign = self.ws.campaigns.create_campaign(**data.draw(self._campaigns()))
        when = self.clock.now() + timedelta(hours=hours)
        self.ws.campaigns.schedule_campaign(campaign.id, when)
        self.scheduled[campaign.id] = when

    @rule(minutes=st.sampled_from((1, 5, 60, 24 * 60, 3 * 24 * 60)))
    def advance_and_tick(self, minutes: int) -> None:
        """Time passes and a worker ticks."""
        self.clock.advance(timedelta(minutes=minutes))
        self.errors.extend(self.core.tick().errors)

    # -- guarantees ------------------------------------------------------------------------
    @invariant()
    def no_message_is_sent_twice(self) -> None:
        """Every idempotency key went out once."""
        keys = Counter(m["idempotency_key"] for m in self.messenger.messages)
        assert not [k for k, n in keys.items() if n > 1], keys

    @invariant()
    def messages_go_to_the_accounts_fans(self) -> None:
        """Every message went to a fan this account has."""
        for message in self.messenger.messages:
            assert message["owner_id"] == OWNER
            assert message["fan_id"] in self.known_fans

    @invariant()
    def ticks_report_no_errors(self) -> None:
        """tick() logged no failure."""
        assert not self.errors, self.errors

    @invariant()
    def due_campaigns_are_launched(self) -> None:
        """A scheduled campaign whose time has come (and a tick since) is active."""
        for campaign_id, when in self.scheduled.items():
            # the clock only moves in advance_and_tick, which ticks: a due campaign had its tick
            if when <= self.clock.now():
                assert self.ws.campaigns.get_campaign(campaign_id).status == "active"
