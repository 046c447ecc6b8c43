"""Hypothesis drives the campaign lifecycle through the public API on two stores at once.

A model of DESIGN.md's transition table predicts every call's outcome; the
in-memory store and the SQLAlchemy store (SQLite here; PostgreSQL too when its
URL is set) must answer exactly the same, call after call, and hold the same data.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from campaign_core import (
    Actor,
    CampaignCore,
    CampaignCoreError,
    FakeClock,
    SequentialIds,
)
from campaign_core.testing.helpers import snapshot
from campaign_core_memory import InMemoryStore
from campaign_core_sqlalchemy import SqlAlchemyStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# The model: DESIGN.md section 5, written out independently of campaign_core.lifecycle.
MODEL: dict[str, dict[str, str]] = {
    "draft": {"schedule": "scheduled", "launch": "active", "cancel": "cancelled"},
    "scheduled": {
        "schedule": "scheduled",
        "launch": "active",
        "cancel": "cancelled",
        "unschedule": "draft",
    },
    "active": {"pause": "paused", "complete": "completed", "cancel": "cancelled"},
    "paused": {"resume": "active", "complete": "completed", "cancel": "cancelled"},
    "completed": {},
    "cancelled": {},
}


def outcome(call: Any) -> tuple[str, Any]:
    try:
        result = call()
    except CampaignCoreError as error:
        return ("error", error.code)
    return ("ok", result)


class LifecycleMachine(RuleBasedStateMachine):
    campaigns = Bundle("campaigns")
    extra_store_url: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        stores: list[Any] = [InMemoryStore(), SqlAlchemyStore("sqlite://", create=True)]
        if self.extra_store_url:
            from tests.conftest import truncate

            server = SqlAlchemyStore(self.extra_store_url)
            server.upgrade()
            truncate(server)
            stores.append(server)
        self.cores = [CampaignCore(s, clock=self.clock, ids=SequentialIds()) for s in stores]
        self.actor = Actor("owner-1")
        self.model: dict[str, dict[str, Any]] = {}

    def teardown(self) -> None:
        for core in self.cores:
            core.store.close()

    @staticmethod
    def launchable(state: dict[str, Any]) -> bool:
        spent_out = state["budget"] is not None and state["spent"] >= state["budget"]
        return bool(state["platforms"]) and not spent_out

    def each(self, method: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        results = [
            outcome(lambda c=c: getattr(c.for_actor(self.actor).campaigns, method)(*args, **kwargs))
            for c in self.cores
        ]
        first = results[0]
        for other in results[1:]:
            assert _comparable(other) == _comparable(first), (method, args, results)
        return first

    @rule(
        target=campaigns,
        budget=st.one_of(st.none(), st.integers(1, 500)),
        platforms=st.lists(
            st.sampled_from(["instagram", "tiktok", "reddit", "onlyfans"]), unique=True
        ),
    )
    def create(self, budget: int | None, platforms: list[str]) -> str:
        kind, campaign = self.each(
            "create_campaign",
            name="C",
            type="promotion",
            platforms=platforms,
            content={"title": "t"},
            media_urls=["https://cdn.example/a.jpg"],
            budget=budget,
        )
        assert kind == "ok"
        self.model[campaign.id] = {
            "status": "draft",
            "budget": budget,
            "spent": 0.0,
            "platforms": platforms,
        }
        return str(campaign.id)

    @rule(
        cid=campaigns,
        action=st.sampled_from(["launch", "pause", "resume", "complete", "cancel", "unschedule"]),
    )
    def act(self, cid: str, action: str) -> None:
        state = self.model[cid]
        kind, result = self.each(f"{action}_campaign", cid)
        target = MODEL[state["status"]].get(action)
        if action == "launch" and target and not self.launchable(state):
            target = None  # nothing to publish, or no budget left: a validation error
            assert result == "validation_error"
        if (
            action == "resume"
            and target
            and state["budget"] is not None
            and state["spent"] >= state["budget"]
        ):
            target = None
            assert result == "conflict"
        if target is None:
            assert kind == "error", (state, action, result)
            return
        assert kind == "ok", (state, action, result)
        state["status"] = target
        status = result.campaign.status if action == "launch" else result.status
        assert status == target

    @rule(cid=campaigns, hours=st.integers(-2, 72))
    def schedule(self, cid: str, hours: int) -> None:
        state = self.model[cid]
        kind, result = self.each(
            "schedule_campaign", cid, self.clock.now() + timedelta(hours=hours)
        )
        if hours <= 0:
            assert result == "validation_error"
        elif "schedule" not in MODEL[state["status"]]:
            assert result == "invalid_transition"
        elif not self.launchable(state):
            assert result == "validation_error"  # what could not launch cannot be scheduled
        else:
            assert kind == "ok"
            state["status"] = "scheduled"
            state["at"] = self.clock.now() + timedelta(hours=hours)

    @rule(cid=campaigns, amount=st.integers(1, 300))
    def spend(self, cid: str, amount: int) -> None:
        state = self.model[cid]
        kind, result = self.each("record_spend", cid, amount)
        if state["status"] == "draft":
            assert result == "invalid_transition"
            return
        assert kind == "ok"
        state["spent"] += amount
        if (
            state["status"] == "active"
            and state["budget"] is not None
            and state["spent"] >= state["budget"]
        ):
            state["status"] = "paused"
        assert result.status == state["status"]

    @rule(cid=consumes(campaigns))
    def delete(self, cid: str) -> None:
        state = self.model[cid]
        kind, result = self.each("delete_campaign", cid)
        if state["status"] in ("draft", "completed", "cancelled"):
            assert kind == "ok"
            del self.model[cid]
        else:
            assert result == "invalid_transition"
            self.model[cid]["orphan"] = True

    @rule(hours=st.integers(1, 48))
    def advance_and_tick(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        reports = [c.tick() for c in self.cores]
        launched = {r.campaigns_launched for r in reports}
        assert len(launched) == 1
        for _cid, state in self.model.items():
            if state["status"] == "scheduled" and state["at"] <= self.clock.now():
                # due: launched, or (spent out since scheduling) returned to draft
                state["status"] = "active" if self.launchable(state) else "draft"

    @invariant()
    def stores_agree_with_each_other_and_the_model(self) -> None:
        snaps = [snapshot(c.store) for c in self.cores]
        for other in snaps[1:]:
            assert other == snaps[0]
        statuses = {c["id"]: c["status"] for c in snaps[0]["campaigns"]}
        assert statuses == {cid: s["status"] for cid, s in self.model.items()}


def _comparable(result: tuple[str, Any]) -> tuple[str, Any]:
    kind, value = result
    if kind == "error":
        return result
    from campaign_core.serialization import to_json

    return (kind, to_json(value))


LifecycleMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("CAMPAIGN_CORE_STATEFUL_EXAMPLES", "40")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycleMemoryVsSqlite = LifecycleMachine.TestCase


@pytest.mark.parametrize(
    "server", [pytest.param(b, marks=getattr(pytest.mark, b)) for b in ("postgres", "mariadb")]
)
def test_lifecycle_on_a_server_too(server: str) -> None:
    """The same machine with a PostgreSQL or MariaDB store (their CHECK constraints) as the third participant."""
    from tests.conftest import server_url

    class ServerMachine(LifecycleMachine):
        extra_store_url = server_url(server)

    ServerMachine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    ServerMachine.TestCase().runTest()
