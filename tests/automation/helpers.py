"""Shared pieces of the automation tests: the seed's workflows, a counting messenger, helpers."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from campaign_core import CampaignCore
from campaign_core.models import Segment
from campaign_core.ports import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# The seed's two workflows, verbatim (TypeScript object literals as JSON).
WELCOME: dict[str, Any] = {
    "name": "New Fan Welcome Series",
    "trigger": {"type": "event", "event": "fan.subscribed"},
    "actions": [
        {"type": "wait", "duration": "5 minutes"},
        {"type": "send_message", "template": "welcome_message", "personalize": True},
        {"type": "wait", "duration": "24 hours"},
        {"type": "send_message", "template": "content_showcase", "includeMedia": True},
        {"type": "wait", "duration": "3 days"},
        {
            "type": "check_engagement",
            "condition": "engagement < 1",
            "ifTrue": {"type": "send_message", "template": "re_engagement"},
        },
    ],
}

WIN_BACK: dict[str, Any] = {
    "name": "Win Back Inactive Fans",
    "trigger": {"type": "behavior", "condition": "no_activity_days >= 14"},
    "conditions": [
        {"field": "subscription_status", "operator": "equals", "value": "active"},
        {"field": "lifetime_value", "operator": ">=", "value": 50},
    ],
    "actions": [
        {"type": "create_campaign", "template": "win_back_offer", "discount": 0.25},
        {"type": "send_message", "template": "we_miss_you", "includeOffer": True},
        {"type": "wait", "duration": "7 days"},
        {
            "type": "check_engagement",
            "condition": "engagement > 0",
            "ifFalse": {"type": "add_to_segment", "segment": "at_risk_fans"},
        },
    ],
}


def welcome() -> dict[str, Any]:
    return copy.deepcopy(WELCOME)


def win_back() -> dict[str, Any]:
    return copy.deepcopy(WIN_BACK)


class CountingMessenger:
    """A deduplicating messenger that also counts every call (thread-safe).

    ``calls`` counts calls per idempotency key (retries after failures show as
    > 1); ``successes`` counts the calls that succeeded (a second success for a
    key means the engine sent twice); ``delivered`` holds one message per key
    (what a deduplicating provider delivers). ``fail`` maps a template to how
    many calls to fail first.
    """

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()
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
    ) -> str:
        with self._lock:
            self.calls[idempotency_key] += 1
            if self.fail.get(template, 0) > 0:
                self.fail[template] -= 1
                raise ConnectionError(f"provider down for {template}")
            self.successes[idempotency_key] += 1
            if idempotency_key not in self.delivered:
                self.delivered[idempotency_key] = {
                    "owner_id": owner_id,
                    "fan_id": fan_id,
                    "template": template,
                    "variables": dict(variables),
                }
            return f"msg-{idempotency_key}"

    def templates(self, fan_id: str | None = None) -> list[str]:
        """Delivered templates in delivery order (optionally for one fan)."""
        with self._lock:
            return [
                m["template"]
                for m in self.delivered.values()
                if fan_id is None or m["fan_id"] == fan_id
            ]

    def duplicates(self) -> dict[str, int]:
        """Keys the messenger successfully handled more than once (sent twice)."""
        with self._lock:
            return {k: n for k, n in self.successes.items() if n > 1}


def add_segment(store: Store, owner: str, name: str, *, segment_id: str | None = None) -> Segment:
    """Store a static segment directly (the segments service lives on another branch)."""
    segment = Segment(
        id=segment_id or f"seg-{name}",
        user_id=owner,
        name=name,
        type="static",
        created_at=T0,
        updated_at=T0,
    )
    with store.unit_of_work() as uow:
        uow.segments.add(segment)
        uow.commit()
    return segment


def members(store: Store, segment_id: str) -> set[str]:
    """The fan ids in a segment."""
    from campaign_core.query import Eq

    with store.unit_of_work() as uow:
        return {m.fan_id for m in uow.segment_members.find(Eq("segment_id", segment_id))}


def run_until_idle(core: CampaignCore, *, step: str = "1 hour", limit: int = 2000) -> int:
    """Advance the fake clock and tick until no run is open; returns ticks used."""
    from campaign_core.models import RunStatus
    from campaign_core.query import In

    clock: Any = core.clock
    for count in range(limit):
        core.tick()
        with core.store.unit_of_work() as uow:
            open_runs = uow.automation_runs.count(In("status", [RunStatus.ACTIVE, RunStatus.HELD]))
        if not open_runs:
            return count
        clock.advance(step)
    raise AssertionError("runs still open after the tick limit")
