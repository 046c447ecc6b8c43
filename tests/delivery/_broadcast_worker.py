"""A worker process for the two-worker broadcast race (imported by spawned children)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from campaign_core.testing.helpers import T0

SENT_TABLE = "broadcast_race_sent"
NOW = T0 + timedelta(seconds=1)


class TableMessenger:
    """A deduplicating provider whose log is a table keyed by idempotency key.

    A second send with a key already in the table is a duplicate (counted, and
    answered with the first id, as a deduplicating provider would).
    """

    def __init__(self, url: str, worker: str) -> None:
        self.engine = sa.create_engine(url)
        self.worker = worker
        self.sent = 0
        self.duplicates = 0

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Any,
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Any = None,
    ) -> str:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {SENT_TABLE} (idem_key, fan_id, worker) VALUES (:k, :f, :w)"
                    ),
                    {"k": idempotency_key, "f": fan_id, "w": self.worker},
                )
            self.sent += 1
        except sa.exc.IntegrityError:
            self.duplicates += 1
        return f"pm-{idempotency_key}"


def work(url: str, name: str, campaign_id: str, start: Any, results: Any) -> None:
    """Tick until the broadcast is done; report what this worker's messenger saw."""
    from campaign_core import Actor, CampaignCore, FakeClock, Settings
    from campaign_core.delivery import MessagingSettings
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(url)
    messenger = TableMessenger(url, name)
    core = CampaignCore(
        store,
        clock=FakeClock(NOW),
        messenger=messenger,
        settings=Settings(tick_batch_size=50, messaging=MessagingSettings(snapshot_batch_size=200)),
    )
    ws = core.for_actor(Actor("owner-1"))
    stats: dict[str, Any] = {"worker": name, "ticks": 0, "errors": []}
    start.wait(timeout=60)
    try:
        for _ in range(10_000):
            report = core.tick()
            stats["ticks"] += 1
            stats["errors"].extend(str(e) for e in report.errors)
            status = ws.campaigns.get_delivery_status(campaign_id)
            if status.status == "done" and not report.did_work:
                break
    finally:
        stats["sent"] = messenger.sent
        stats["duplicates"] = messenger.duplicates
        messenger.engine.dispose()
        store.close()
        results.put(stats)
