"""A crash at any write of a launch (including between publishing and recording) never
publishes a platform twice, and the next ticks finish every platform."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, SequentialIds
from campaign_core.publishing import ScriptedPublisher
from campaign_core.testing.helpers import FailingStore, InjectedFault
from campaign_core_sqlalchemy import SqlAlchemyStore


def launch_with_crash(fail_at: int | None) -> tuple[ScriptedPublisher, Any, FailingStore]:
    inner = SqlAlchemyStore("sqlite://", create=True)
    clock = FakeClock()
    publisher = ScriptedPublisher()
    setup = CampaignCore(inner, clock=clock, ids=SequentialIds("setup"), publisher=publisher)
    campaign = setup.for_actor(Actor("o1")).campaigns.create_campaign(
        name="C",
        type="promotion",
        platforms=["reddit", "instagram", "tiktok"],
        content={"title": "Spring", "description": "sale"},
        media_urls=["https://cdn.example/a.jpg"],
    )
    failing = FailingStore(inner, fail_at=fail_at)
    crashing = CampaignCore(failing, clock=clock, ids=SequentialIds("run"), publisher=publisher)
    with contextlib.suppress(InjectedFault):
        crashing.for_actor(Actor("o1")).campaigns.launch_campaign(campaign.id)
    # restart: a new process on the same database, after the crashed worker's leases expired
    restarted = CampaignCore(inner, clock=clock, ids=SequentialIds("after"), publisher=publisher)
    for _ in range(4):
        clock.advance("10 minutes")
        restarted.tick()
    return (
        publisher,
        restarted.for_actor(Actor("o1")).campaigns.get_publish_status(campaign.id),
        failing,
    )


def test_counting_the_writes_of_a_launch() -> None:
    """Without a fault the launch publishes each platform once (and tells how many writes it made)."""
    publisher, status, failing = launch_with_crash(None)
    assert sorted(s.status for s in status) == ["published"] * 3
    assert len(publisher.posts) == 3
    assert failing.writes > 5


@pytest.mark.parametrize("fail_at", range(1, 40))
def test_a_crash_at_any_write_never_publishes_twice(fail_at: int) -> None:
    """Whatever write fails, each platform ends up posted exactly once."""
    publisher, status, _ = launch_with_crash(fail_at)
    posts = Counter(p.platform for p in publisher.posts)
    assert all(count <= 1 for count in posts.values()), posts
    launched = bool(status)
    if launched:
        assert sorted(s.status for s in status) == ["published"] * 3
        assert sorted(posts) == ["instagram", "reddit", "tiktok"]
    else:
        assert not posts  # the launch itself rolled back: nothing went out
