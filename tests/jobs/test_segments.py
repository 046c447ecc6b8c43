"""campaign_core.jobs.segments: the daily refresh tick() runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, Settings
from campaign_core.jobs.segments import (
    REFRESH_INTERVAL,
    refresh_due_segments,
)
from campaign_core_memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_segment_whose_criteria_no_longer_validate_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A segment on a trait the core no longer declares is logged and skipped; the others refresh."""
    store, clock = InMemoryStore(), FakeClock(T0)
    before = CampaignCore(store, clock=clock, settings=Settings(fan_traits={"game": "string"}))
    ws = before.for_actor(Actor("acct"))
    ws.fans.upsert_fan("fan-1", engagement=80, traits={"game": "chess"})
    chess = ws.segments.create_segment(name="Chess", criteria={"traits.game": "chess"})
    engaged = ws.segments.create_segment(name="Engaged", criteria="engagement >= 50")
    clock.advance(REFRESH_INTERVAL)
    after = CampaignCore(store, clock=clock, settings=Settings())
    with caplog.at_level(logging.WARNING, logger="campaign_core.segments"):
        assert refresh_due_segments(after.runtime) == [engaged.id]
    assert chess.id in caplog.text


def test_tick_reports_the_segments_it_refreshed() -> None:
    """tick() runs the refresh job and lists the segments it refreshed, once a day."""
    clock = FakeClock(T0)
    core = CampaignCore(InMemoryStore(), clock=clock)
    ws = core.for_actor(Actor("acct"))
    ws.fans.upsert_fan("fan-1", engagement=80)
    segment = ws.segments.create_segment(name="Engaged", criteria="engagement >= 50")
    ws.fans.upsert_fan("fan-2", engagement=90)
    assert core.tick().segments_refreshed == ()
    report = core.tick(T0 + REFRESH_INTERVAL)
    assert report.segments_refreshed == (segment.id,)
    assert ws.segments.get_segment(segment.id).member_count == 2
