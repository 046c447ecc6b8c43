"""Shared pieces of the broadcast tests: an audience, a campaign with a message, a messenger."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from campaign_core import CampaignCore, Workspace
from campaign_core.models import Campaign, Fan, Segment, SegmentMember
from campaign_core.ports import Store

OWNER = "owner-1"


class DedupMessenger:
    """A deduplicating provider that counts calls; ``fail`` fails the first calls of some fans."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.delivered: dict[str, dict[str, Any]] = {}
        self.fail = dict(fail or {})

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
        with self._lock:
            self.calls[idempotency_key] += 1
            if self.fail.get(fan_id, 0) > 0:
                self.fail[fan_id] -= 1
                raise RuntimeError(f"provider refused {fan_id}")
            if idempotency_key not in self.delivered:
                self.delivered[idempotency_key] = {
                    "fan_id": fan_id,
                    "channel": channel,
                    "address": address,
                    "template": template,
                }
            return f"pm-{idempotency_key}"

    def fans(self) -> Counter[str]:
        return Counter(m["fan_id"] for m in self.delivered.values())


def seed_audience(
    store: Store, count: int, *, segment_id: str = "seg-vip", zones: list[str] | None = None
) -> list[str]:
    """``count`` fans (``fan-00001``...) in one static segment, written straight to the store."""
    from campaign_core.testing.helpers import T0

    ids = [f"fan-{i:05d}" for i in range(count)]
    with store.unit_of_work() as uow:
        uow.segments.add(
            Segment(
                id=segment_id,
                user_id=OWNER,
                name=segment_id,
                type="static",
                member_count=count,
                created_at=T0,
                updated_at=T0,
            )
        )
        uow.fans.add_many(
            [
                Fan(
                    id=f"f-{fid}",
                    owner_id=OWNER,
                    fan_id=fid,
                    time_zone=zones[i % len(zones)] if zones else None,
                    addresses={"email": f"{fid}@example.com"},
                    created_at=T0,
                    updated_at=T0,
                )
                for i, fid in enumerate(ids)
            ]
        )
        uow.segment_members.add_many(
            [
                SegmentMember(id=f"m-{fid}", segment_id=segment_id, fan_id=fid, added_at=T0)
                for fid in ids
            ]
        )
        uow.commit()
    return ids


def broadcast_campaign(ws: Workspace, *, segment_id: str = "seg-vip", **message: Any) -> Campaign:
    spec = {"channel": "dm", "template": "content_showcase", "topic": "promotions", **message}
    return ws.campaigns.create_campaign(
        name="Spring drop",
        type="promotion",
        platforms=["onlyfans"],
        content={"title": "Spring drop", "description": "New set"},
        segment_ids=[segment_id],
        message=spec,
    )


def run_until_idle(core: CampaignCore, *, ticks: int = 1000) -> int:
    """Tick until a tick does nothing; returns the messages sent."""
    sent = 0
    for _ in range(ticks):
        report = core.tick()
        assert not report.errors, report.errors
        sent += report.messages_sent
        if not report.did_work:
            return sent
    raise AssertionError("still working after many ticks")
