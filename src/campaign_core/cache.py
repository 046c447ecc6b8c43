"""In-process caches with the seed's TTLs, driven by the injected clock.

The seed asks for caches of templates (1 hour), segment sizes (5 minutes),
campaign metrics (1 minute) and automation rules (30 minutes). Each lives in
one :class:`TtlCache` of a core, keyed by account; writes through the same core
invalidate what they change, so a caller never reads its own stale write. Other
processes may see a value up to the TTL old: that is the trade the seed makes.

Caches are bounded (least recently used entries go first) and thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Final, Generic, TypeVar

import attrs

from campaign_core.clock import Clock
from campaign_core.errors import ValidationError

__all__: list[str] = []

V = TypeVar("V")

SEED_TTLS: Final[dict[str, timedelta]] = {
    "templates": timedelta(hours=1),
    "segment_size": timedelta(minutes=5),
    "campaign_metrics": timedelta(minutes=1),
    "automation_rules": timedelta(minutes=30),
}


@attrs.define
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0


class TtlCache(Generic[V]):
    """A bounded LRU map whose entries expire ``ttl`` after they were stored.

    Args:
        clock: the time source (expiry follows the injected clock).
        ttl: how long an entry stays fresh.
        max_entries: the bound; the least recently used entry goes first.
    """

    def __init__(self, clock: Clock, ttl: timedelta, max_entries: int = 1024) -> None:
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise ValidationError.single("ttl", "must be a positive duration")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValidationError.single("max_entries", "must be a positive integer")
        self._clock = clock
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[datetime, V]] = OrderedDict()
        self._lock = threading.Lock()
        # bumped by every invalidation: a load that began before one is not stored
        self._generation = 0
        self.stats = CacheStats()

    def get(self, key: Hashable) -> V | None:
        """The fresh value for ``key``, or None."""
        now = self._clock.now()
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] <= now:
                if item is not None:
                    del self._data[key]
                self.stats.misses += 1
                return None
            self._data.move_to_end(key)
            self.stats.hits += 1
            return item[1]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._store(key, value)

    def _store(self, key: Hashable, value: V) -> None:
        self._data[key] = (self._clock.now() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
            self.stats.evictions += 1

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value, or ``load()`` stored and returned (loads run outside the lock).

        A load that overlaps an :meth:`invalidate` (a write committed while it
        read) is returned but not stored: it may hold what the write replaced.
        """
        with self._lock:
            generation = self._generation
        value = self.get(key)
        if value is None:
            value = load()
            with self._lock:
                if self._generation == generation:
                    self._store(key, value)
        return value

    def invalidate(self, predicate: Callable[[Hashable], bool] | None = None) -> int:
        """Drop every entry (or those whose key matches ``predicate``); returns how many."""
        with self._lock:
            self._generation += 1
            if predicate is None:
                dropped = len(self._data)
                self._data.clear()
            else:
                victims = [k for k in self._data if predicate(k)]
                for key in victims:
                    del self._data[key]
                dropped = len(victims)
            self.stats.invalidations += dropped
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class Caches:
    """The caches of one core, with the seed's TTLs (overridable per name)."""

    def __init__(
        self, clock: Clock, ttls: dict[str, timedelta] | None = None, max_entries: int = 1024
    ) -> None:
        merged = {**SEED_TTLS, **(ttls or {})}
        self.templates: TtlCache[object] = TtlCache(clock, merged["templates"], max_entries)
        self.segment_size: TtlCache[object] = TtlCache(clock, merged["segment_size"], max_entries)
        self.campaign_metrics: TtlCache[object] = TtlCache(
            clock, merged["campaign_metrics"], max_entries
        )
        self.automation_rules: TtlCache[object] = TtlCache(
            clock, merged["automation_rules"], max_entries
        )

    def for_account(self, cache: TtlCache[object], account_id: str) -> int:
        """Drop every entry of ``cache`` that belongs to ``account_id`` (keys start with it)."""
        return cache.invalidate(
            lambda key: isinstance(key, tuple) and bool(key) and key[0] == account_id
        )
