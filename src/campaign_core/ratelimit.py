"""Rate limits per account: API calls, campaign launches, automation executions.

Each limit is "at most N in any window of P" (a sliding-window log, the
:class:`~campaign_core.publishing.LaunchThrottle` algorithm), driven by the
injected clock. A refused call raises
:class:`~campaign_core.errors.RateLimitedError` with ``retry_after`` seconds and
changes nothing.

Two ways to keep the state:

- in this process's memory (the default): cheap, but each process counts alone;
- in the store (``RateLimits(shared=True)``): every process counts in the same
  ``rate_limits`` row, updated in the caller's transaction, so a refused or
  failed call does not count either. The count first takes the row's write lock
  (an atomic ``UPDATE ... SET version = version + 1``, the repository's
  ``increment``) and only then reads the window, so concurrent calls of one
  account wait for each other instead of failing with a version conflict, and
  read-only calls never fail because a counter moved. The row is created once
  per account and limit, in its own transaction on stores with concurrent
  writers (two first calls at once: one creates it, the other finds it).

All limits are off unless the host sets them; :meth:`RateLimits.recommended`
gives sensible values.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from campaign_core.durations import parse_duration
from campaign_core.errors import ConflictError, NotFoundError, ValidationError
from campaign_core.models import RateLimitState
from campaign_core.publishing import LaunchThrottle, ThrottleState

if TYPE_CHECKING:
    from campaign_core._runtime import Runtime, Tx

__all__ = [
    "Limit",
    "RateLimits",
]

_NAMES: Final = ("api", "launches", "automation_runs")


def _span(value: str | timedelta) -> timedelta:
    span = parse_duration(value, path="per")
    if span <= timedelta(0):
        raise ValidationError.single("per", "must be longer than zero", "out_of_range")
    return span


@attrs.frozen
class Limit:
    """At most ``count`` in any window of ``per`` ("1 minute", "PT1H", a timedelta)."""

    count: int
    per: timedelta = attrs.field(converter=_span)

    def __attrs_post_init__(self) -> None:
        if (
            isinstance(self.count, bool)
            or not isinstance(self.count, int)
            or not 1 <= self.count <= 100_000
        ):
            raise ValidationError.single(
                "count", "must be an integer from 1 to 100000", "out_of_range"
            )


@attrs.frozen(kw_only=True)
class RateLimits:
    """The limits of a core (``Settings(rate_limits=...)``); None means unlimited.

    Attributes:
        api: service calls per account.
        launches: campaign launches per account (the seed's launch throttling).
        automation_runs: automation runs started per account.
        shared: keep the counts in the store so every process shares them.
    """

    api: Limit | None = None
    launches: Limit | None = None
    automation_runs: Limit | None = None
    shared: bool = False

    @classmethod
    def recommended(cls, *, shared: bool = True) -> RateLimits:
        """600 calls a minute, 10 launches an hour, 10,000 automation runs an hour."""
        return cls(
            api=Limit(600, timedelta(minutes=1)),
            launches=Limit(10, timedelta(hours=1)),
            automation_runs=Limit(10_000, timedelta(hours=1)),
            shared=shared,
        )


_WHAT: Final = {"api": "API call", "launches": "launch", "automation_runs": "automation run"}


# in-memory limits sweep out idle accounts once per this many counted events
_PRUNE_EVERY = 1024


class TokenBuckets:
    """Messages per second per key (account and channel): token buckets, in this process.

    Each bucket holds at most ``rate`` tokens (one second's worth, at least one) and
    refills at ``rate`` per second of the injected clock; :meth:`take` grants what
    is there. Each process counts alone (several workers together send up to
    their number times the rate). Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def take(self, key: str, rate: float, want: int, now: datetime) -> int:
        """Take up to ``want`` tokens from ``key``'s bucket now; returns how many were granted."""
        if want <= 0:
            return 0
        capacity = max(1.0, rate)
        with self._lock:
            tokens, then = self._buckets.get(key, (capacity, now))
            elapsed = max(0.0, (now - then).total_seconds())
            tokens = min(capacity, tokens + elapsed * rate)
            granted = min(want, int(tokens))
            self._buckets[key] = (tokens - granted, now)
            if len(self._buckets) > 10_000:  # forget full buckets: they read as full anyway
                for k, (t, at) in list(self._buckets.items()):
                    if t + (now - at).total_seconds() * rate >= capacity:
                        del self._buckets[k]
            return granted

    def refund(self, key: str, count: int) -> None:
        """Give back ``count`` tokens taken but not used (never above the bucket's size)."""
        with self._lock:
            if key in self._buckets:
                tokens, then = self._buckets[key]
                self._buckets[key] = (tokens + count, then)

    def next_token(self, key: str, rate: float, now: datetime) -> datetime:
        """When ``key``'s bucket next holds a whole token."""
        with self._lock:
            tokens, then = self._buckets.get(key, (1.0, now))
        tokens += max(0.0, (now - then).total_seconds()) * rate
        if tokens >= 1:
            return now
        return now + timedelta(seconds=(1 - tokens) / rate)


class RateLimiter:
    """Applies a core's :class:`RateLimits` (thread-safe)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], ThrottleState] = {}
        self._hits = 0
        self.messages = TokenBuckets()

    def _throttle(self, name: str) -> LaunchThrottle | None:
        limit: Limit | None = getattr(self._rt.settings.rate_limits, name)
        if limit is None:
            return None
        return LaunchThrottle(limit.count, limit.per, what=_WHAT[name])

    def hit(self, account_id: str, name: str, tx: Tx | None = None) -> None:
        """Count one ``name`` event for ``account_id`` now, or raise RateLimitedError.

        Args:
            account_id: the account.
            name: ``api``, ``launches`` or ``automation_runs``.
            tx: the caller's transaction (shared limits count inside it, so a
                call that fails later does not count); None opens its own.
        """
        if name not in _NAMES:
            raise ValueError(f"unknown rate limit {name!r}")
        throttle = self._throttle(name)
        if throttle is None:
            return
        now = self._rt.now()
        if not self._rt.settings.rate_limits.shared:
            with self._lock:
                key = (account_id, name)
                self._memory[key] = throttle.admit(self._memory.get(key), now)
                self._hits += 1
                if self._hits % _PRUNE_EVERY == 0:
                    self._prune(now)
            return
        stored_key = f"{account_id}:{name}"
        if tx is not None:
            if (
                self._rt.store.capabilities().skip_locked
                and tx.uow.rate_limits.get(stored_key) is None
            ):
                # concurrent writers: create the row apart, so two first launches cannot
                # collide on its insert inside the callers' transactions (SQLite and the
                # memory store have one writer: the caller's transaction creates it)
                self._create(stored_key, account_id, name)
            self._hit_stored(tx, throttle, stored_key, account_id, name)
            return
        if self._rt.store.capabilities().skip_locked:
            with self._rt.transaction() as own:
                if own.uow.rate_limits.get(stored_key) is not None:
                    self._hit_stored(own, throttle, stored_key, account_id, name)
                    return
            self._create(stored_key, account_id, name)
        with self._rt.transaction() as own:
            self._hit_stored(own, throttle, stored_key, account_id, name)

    def _create(self, key: str, account_id: str, name: str) -> None:
        """Create the empty row of ``key`` in its own transaction, unless it exists."""
        try:
            with self._rt.transaction() as own:
                if own.uow.rate_limits.get(key) is None:
                    own.uow.rate_limits.add(
                        RateLimitState(
                            id=key,
                            account_id=account_id,
                            name=name,
                            state=ThrottleState().to_json(),
                            updated_at=self._rt.now(),
                        )
                    )
        except ConflictError:
            pass  # another process created it at the same moment: it exists now

    def _hit_stored(
        self, tx: Tx, throttle: LaunchThrottle, key: str, account_id: str, name: str
    ) -> None:
        now = self._rt.now()
        rows = tx.uow.rate_limits
        # the write lock first (held to the end of the transaction), then the window as
        # the last writer left it: no version conflict with another process's count. The
        # UPDATE reads the newest row even where the transaction's snapshot is older
        # (MariaDB's repeatable read), and the read after it sees that row.
        try:
            rows.increment(key, {"version": 1})
        except NotFoundError:  # one writer (SQLite, memory): nobody can create it meanwhile
            admitted = throttle.admit(None, now)
            rows.add(
                RateLimitState(
                    id=key,
                    account_id=account_id,
                    name=name,
                    state=admitted.to_json(),
                    updated_at=now,
                )
            )
            return
        row = rows.get(key)
        assert row is not None  # locked: it cannot go away
        admitted = throttle.admit(ThrottleState.from_json(row.state), now)
        rows.update(
            attrs.evolve(row, state=admitted.to_json(), updated_at=now, version=row.version + 1)
        )

    def _prune(self, now: datetime) -> None:
        """Forget accounts whose last counted event left its window (memory stays bounded)."""
        limits = self._rt.settings.rate_limits
        for key, state in list(self._memory.items()):
            limit: Limit | None = getattr(limits, key[1])
            if limit is None or not state.launches or state.launches[-1] <= now - limit.per:
                del self._memory[key]

    def reset(self) -> None:
        """Forget the in-memory counts (tests)."""
        with self._lock:
            self._memory.clear()
