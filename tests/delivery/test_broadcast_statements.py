"""What one broadcast batch sends to the database: statement counts (deterministic), never times.

The counts are the same for a batch of 20 fans and of 200: nothing is read or
written per fan (see the module docstring of ``campaign_core.jobs.delivery``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.delivery import MessagingSettings
from campaign_core.jobs.delivery import process_broadcasts
from campaign_core.testing.helpers import T0
from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.delivery.helpers import OWNER, DedupMessenger, broadcast_campaign, seed_audience
from tests.storage.test_statements import statements

#: A tick's first pass over a launched broadcast, on SQLite: BEGIN and the open broadcasts with
#: their campaigns (2 SELECTs); the batch's read (BEGIN IMMEDIATE, the broadcast, the batch's
#: members, their fans, the broadcast leased to this worker (UPDATE), their consent, their
#: suppressions and the template: one SELECT each); the messenger; the batch's write (BEGIN
#: IMMEDIATE, the broadcast, its cursor (UPDATE), the delivery rows in their final state
#: (SAVEPOINT, one executemany INSERT, RELEASE)); then BEGIN and the cancelled broadcasts (SELECT).
#: No delivery row is written twice.
SNAPSHOT_AND_SEND_STATEMENTS = 19
#: A send batch of rows queued earlier (here: snapshotted while the campaign was paused): BEGIN
#: IMMEDIATE, the claim (SELECT, one UPDATE), the fans, their consent, their suppressions and the
#: template (one SELECT each); the outcomes (BEGIN IMMEDIATE, SAVEPOINT, one executemany UPDATE,
#: RELEASE).
CLAIMED_BATCH_STATEMENTS = 11
#: The whole pass after a resume: the open broadcasts (BEGIN, 2 SELECTs), the snapshot's last
#: read that finds no more members (BEGIN IMMEDIATE, the broadcast, the members, UPDATE), the
#: claimed batch, the count of what is left (BEGIN, SELECT), the broadcast done (BEGIN IMMEDIATE,
#: SELECT, UPDATE), then BEGIN and the cancelled broadcasts (SELECT).
RESUMED_TICK_STATEMENTS = 25


def _core(tmp_path: Path, fans: int) -> tuple[SqlAlchemyStore, CampaignCore]:
    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'cc.sqlite3'}", create=True)
    seed_audience(store, fans)
    core = CampaignCore(
        store,
        clock=FakeClock(T0),
        messenger=DedupMessenger(),
        settings=Settings(
            tick_batch_size=fans,
            messaging=MessagingSettings(snapshot_batch_size=fans),
        ),
    )
    ws = core.for_actor(Actor(OWNER))
    ws.campaigns.launch_campaign(broadcast_campaign(ws).id)
    return store, core


_DELIVERIES = re.compile(r"\b(FROM|INTO|UPDATE) message_deliveries\b")


def _kinds(seen: list[str]) -> list[str]:
    return [s.split()[0] for s in seen]


@pytest.mark.parametrize("fans", [20, 200])
def test_a_snapshot_batch_and_its_send_are_a_fixed_number_of_statements(
    tmp_path: Path, fans: int
) -> None:
    """Snapshot and send of a batch in one tick: one INSERT of deliveries (their final state) for any size."""
    store, core = _core(tmp_path, fans)
    with statements(store) as seen:
        run = process_broadcasts(core.runtime, fans)
    assert (run.enqueued, run.sent) == (fans, fans)
    deliveries = [s.split()[0] for s in seen if _DELIVERIES.search(s)]
    assert deliveries == ["INSERT"], seen
    for table in ("fans", "fan_consents", "suppressions"):
        assert sum(1 for s in seen if s.startswith("SELECT") and f"FROM {table} " in s) == 1
    assert seen.count("BEGIN IMMEDIATE") == 2
    assert len(seen) == SNAPSHOT_AND_SEND_STATEMENTS, _kinds(seen)
    store.close()


@pytest.mark.parametrize("fans", [20, 200])
def test_a_claimed_send_batch_is_a_fixed_number_of_statements(tmp_path: Path, fans: int) -> None:
    """A batch claimed from the queue: one claim, one query each for fans, consent and suppressions, one UPDATE."""
    store, core = _core(tmp_path, fans)
    ws = core.for_actor(Actor(OWNER))
    campaign = ws.campaigns.list_campaigns().items[0]
    ws.campaigns.pause_campaign(campaign.id)
    paused = process_broadcasts(
        core.runtime, fans
    )  # the snapshot only: nothing leased, nothing sent
    assert (paused.enqueued, paused.sent) == (fans, 0)
    ws.campaigns.resume_campaign(campaign.id)
    with statements(store) as seen:
        run = process_broadcasts(core.runtime, fans)
    assert run.sent == fans
    deliveries = [s.split()[0] for s in seen if _DELIVERIES.search(s)]
    # the claim (SELECT, UPDATE), the outcomes (UPDATE), then the count that closes the broadcast
    assert deliveries == ["SELECT", "UPDATE", "UPDATE", "SELECT"], seen
    for table in ("fans", "fan_consents", "suppressions"):
        assert sum(1 for s in seen if s.startswith("SELECT") and f"FROM {table} " in s) == 1
    claim = next(i for i, s in enumerate(seen) if _DELIVERIES.search(s))
    assert seen[claim - 1] == "BEGIN IMMEDIATE"
    batch = seen[claim - 1 :]
    batch = batch[: batch.index("RELEASE SAVEPOINT sa_savepoint_1") + 1]
    assert len(batch) == CLAIMED_BATCH_STATEMENTS, _kinds(batch)
    assert len(seen) == RESUMED_TICK_STATEMENTS, _kinds(seen)
    store.close()
