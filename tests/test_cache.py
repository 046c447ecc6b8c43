"""The TTL caches: expiry by the injected clock, bounds, invalidation, and their use for templates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, ValidationError
from campaign_core.cache import (
    SEED_TTLS,
    TtlCache,
)
from campaign_core_memory import InMemoryStore


def test_entries_expire_with_the_clock() -> None:
    """An entry is fresh until its TTL passes on the injected clock."""
    clock = FakeClock()
    cache: TtlCache[int] = TtlCache(clock, timedelta(minutes=5))
    cache.put("k", 1)
    clock.advance("4 minutes")
    assert cache.get("k") == 1
    clock.advance("1 minute")
    assert cache.get("k") is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_cache_is_bounded_lru() -> None:
    """The least recently used entry goes first when the bound is reached."""
    cache: TtlCache[int] = TtlCache(FakeClock(), timedelta(hours=1), max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert cache.stats.evictions == 1


def test_a_load_that_overlaps_an_invalidation_is_not_kept() -> None:
    """A value read before a write committed (and invalidated) must not outlive the write."""
    cache: TtlCache[str] = TtlCache(FakeClock(), timedelta(hours=1))

    def stale_load() -> str:
        cache.invalidate(lambda key: key == "other")  # a write commits while we read
        return "old"

    assert cache.get_or_load("k", stale_load) == "old"  # the caller still gets its answer
    assert cache.get("k") is None  # but the next reader loads again
    assert cache.get_or_load("k", lambda: "new") == "new"
    assert cache.get("k") == "new"


def test_bad_cache_settings_are_rejected() -> None:
    """TTL and bound must be positive."""
    with pytest.raises(ValidationError):
        TtlCache(FakeClock(), timedelta(0))
    with pytest.raises(ValidationError):
        TtlCache(FakeClock(), timedelta(1), max_entries=0)


def test_seed_ttls() -> None:
    """The seed's TTLs: templates 1 h, segment size 5 min, metrics 1 min, automation rules 30 min."""
    assert {
        "templates": timedelta(hours=1),
        "segment_size": timedelta(minutes=5),
        "campaign_metrics": timedelta(minutes=1),
        "automation_rules": timedelta(minutes=30),
    } == SEED_TTLS


def test_templates_are_cached_and_invalidated_by_writes() -> None:
    """get_templates is served from cache until the TTL or a template write of the same core."""
    clock = FakeClock()
    core = CampaignCore(InMemoryStore(), clock=clock)
    ws = core.for_actor(Actor("o1"))
    first = ws.campaigns.get_templates()
    assert ws.campaigns.get_templates() == first
    assert core.runtime.caches.templates.stats.hits == 1
    c = ws.campaigns.create_campaign(name="x", type="ppv")
    saved = ws.campaigns.save_as_template(c.id, "Mine")
    assert saved.id in {t.id for t in ws.campaigns.get_templates()}
    ws.campaigns.create_from_template("win_back_offer")
    usage = {t.key: t.usage_count for t in ws.campaigns.get_templates()}
    assert usage["win_back_offer"] == 1
