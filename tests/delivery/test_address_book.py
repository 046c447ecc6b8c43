"""The AddressBook port: a host keeps fans' addresses; every send path asks it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.models import Fan
from campaign_core.ports import AddressBook, Store, StoredAddresses
from tests.delivery.helpers import (
    OWNER,
    DedupMessenger,
    broadcast_campaign,
    run_until_idle,
    seed_audience,
)


class Crm:
    """A host's address book: phone numbers for some fans; ``down`` makes it fail."""

    def __init__(self, numbers: Mapping[str, str]) -> None:
        self.numbers = dict(numbers)
        self.calls: list[tuple[str, int, tuple[str, ...]]] = []
        self.down = False

    def addresses(
        self, *, owner_id: str, fans: Sequence[Fan], channels: Sequence[str]
    ) -> Mapping[str, Mapping[str, str]]:
        self.calls.append((owner_id, len(fans), tuple(channels)))
        if self.down:
            raise ConnectionError("crm unreachable")
        return {f.fan_id: {"sms": self.numbers[f.fan_id]} for f in fans if f.fan_id in self.numbers}


@pytest.fixture
def messenger() -> DedupMessenger:
    return DedupMessenger()


@pytest.fixture
def make(
    local_store: Store, core_factory: Callable[..., CampaignCore], messenger: DedupMessenger
) -> Callable[..., CampaignCore]:
    def build(book: AddressBook, **settings: Any) -> CampaignCore:
        return core_factory(
            local_store,
            messenger=messenger,
            address_book=book,
            settings=Settings(tick_batch_size=50, messaging=MessagingSettings(**settings)),
        )

    return build


def test_the_default_reads_the_fan_records() -> None:
    """StoredAddresses answers the fans' own addresses, leaving out what they lack."""
    from campaign_core.testing.helpers import T0

    fans = [
        Fan(
            id="a",
            owner_id=OWNER,
            fan_id="a",
            addresses={"email": "a@x.io"},
            created_at=T0,
            updated_at=T0,
        ),
        Fan(id="b", owner_id=OWNER, fan_id="b", created_at=T0, updated_at=T0),
    ]
    book = StoredAddresses()
    assert isinstance(book, AddressBook)
    assert book.addresses(owner_id=OWNER, fans=fans, channels=["email", "sms"]) == {
        "a": {"email": "a@x.io"}
    }


def test_a_broadcast_sends_to_the_books_addresses_and_counts_the_fans_without_one(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """sms numbers come from the host's book (one call per batch); a fan it lacks is no_address."""
    fans = seed_audience(local_store, 4)
    crm = Crm({fid: f"+3361234{i}" for i, fid in enumerate(fans[:3])})
    core = make(crm)
    ws = core.for_actor(Actor(OWNER))
    campaign = broadcast_campaign(ws, channel="sms", topic="updates")
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    assert sorted(m["address"] for m in messenger.delivered.values()) == [
        "+33612340",
        "+33612341",
        "+33612342",
    ]
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.suppressed, status.reasons) == (3, 1, {"no_address": 1})
    assert all(owner == OWNER and count <= 4 for owner, count, _ in crm.calls)


def test_a_failing_book_marks_no_fan_and_the_batch_goes_later(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """The book raising is a tick error: nobody is suppressed; once it answers, everyone gets it."""
    fans = seed_audience(local_store, 3)
    crm = Crm({fid: f"+1555000{i}" for i, fid in enumerate(fans)})
    core = make(crm)
    ws = core.for_actor(Actor(OWNER))
    campaign = broadcast_campaign(ws, channel="sms", topic="updates")
    ws.campaigns.launch_campaign(campaign.id)
    crm.down = True
    report = core.tick()
    assert report.errors
    assert "address book" in report.errors[0].error
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.suppressed, status.failed) == (0, 0, 0)
    crm.down = False
    run_until_idle(core)
    assert ws.campaigns.get_delivery_status(campaign.id).sent == 3


def test_workflows_and_execute_action_ask_the_book(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """A send_message on sms goes to the book's number; a fan the book lacks is skipped (no_address)."""
    fans = seed_audience(local_store, 2)
    core = make(Crm({fans[0]: "+4470000"}))
    ws = core.for_actor(Actor(OWNER))
    step = {"type": "send_message", "template": "welcome_message", "channel": "sms"}
    ws.automations.create_workflow(
        {"name": "sms", "trigger": {"type": "event", "event": "go"}, "actions": [step]},
        activate=True,
    )
    ws.fans.record_event(fans[0], "go")
    core.tick()
    [sent] = messenger.delivered.values()
    assert (sent["fan_id"], sent["channel"], sent["address"]) == (fans[0], "sms", "+4470000")
    lacking = ws.automations.execute_action(step, {"fanId": fans[1]})
    assert (lacking.status, lacking.output["reason"]) == ("suppressed", "no_address")


def test_the_suppression_list_matches_the_books_addresses(
    make: Callable[..., CampaignCore], messenger: DedupMessenger, local_store: Store
) -> None:
    """A suppressed number the book gives keeps its fan out of a broadcast (reason suppressed)."""
    fans = seed_audience(local_store, 2)
    core = make(Crm({fans[0]: "+4470001", fans[1]: "+4470002"}))
    ws = core.for_actor(Actor(OWNER))
    ws.fans.suppress("sms", "+4470002", reason="manual")
    campaign = broadcast_campaign(ws, channel="sms", topic="updates")
    ws.campaigns.launch_campaign(campaign.id)
    run_until_idle(core)
    status = ws.campaigns.get_delivery_status(campaign.id)
    assert (status.sent, status.reasons) == (1, {"suppressed": 1})
