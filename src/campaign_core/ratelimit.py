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

Messages per second per account and channel
(``MessagingSettings.rate_per_second``) are a token bucket kept in the store
always, the same way (one ``rate_limits`` row per account and channel, locked by
the atomic ``increment`` first): every worker sending for an account draws from
one bucket. A batch of messages reserves its tokens at once
(``RateLimiter.take_messages``, one write in the batch's claim transaction)
and gives back what it did not use (``RateLimiter.refund_messages``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

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
_T = TypeVar("_T")


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


def _tokens(state: Mapping[str, Any], rate: float, now: datetime) -> float:
    """The tokens of a message bucket now: what it held, refilled at ``rate`` a second since.

    The bucket holds at most one second's worth (``rate``, at least one); a new
    bucket (an empty state) is full.
    """
    capacity = max(1.0, rate)
    if not state:
        return capacity
    then = datetime.fromisoformat(str(state["at"]))
    elapsed = max(0.0, (now - then).total_seconds())
    return min(capacity, float(state["tokens"]) + elapsed * rate)


def _bucket(tokens: float, now: datetime) -> dict[str, Any]:
    return {"tokens": tokens, "at": now.isoformat()}


class RateLimiter:
    """Applies a core's :class:`RateLimits` (thread-safe)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], ThrottleState] = {}
        self._hits = 0

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
            self._ensure(tx, stored_key, account_id, name, ThrottleState().to_json())
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

    def _create(
        self, key: str, account_id: str, name: str, empty: dict[str, Any] | None = None
    ) -> None:
        """Create the empty row of ``key`` in its own transaction, unless it exists."""
        try:
            with self._rt.transaction() as own:
                if own.uow.rate_limits.get(key) is None:
                    own.uow.rate_limits.add(
                        RateLimitState(
                            id=key,
                            account_id=account_id,
                            name=name,
                            state=ThrottleState().to_json() if empty is None else empty,
                            updated_at=self._rt.now(),
                        )
                    )
        except ConflictError:
            pass  # another process created it at the same moment: it exists now

    def _hit_stored(
        self, tx: Tx, throttle: LaunchThrottle, key: str, account_id: str, name: str
    ) -> None:
        def admit(state: Mapping[str, Any] | None) -> tuple[dict[str, Any], None]:
            old = None if state is None else ThrottleState.from_json(state)
            return throttle.admit(old, self._rt.now()).to_json(), None

        self._change_stored(tx, key, account_id, name, admit)

    def _change_stored(
        self,
        tx: Tx,
        key: str,
        account_id: str,
        name: str,
        change: Callable[[Mapping[str, Any] | None], tuple[dict[str, Any], _T]],
    ) -> _T:
        """Apply ``change`` to the state of ``key``'s row under its write lock; its answer.

        ``change`` gets the stored state (None when there is no row yet) and returns
        the new state and its answer; when it raises, nothing is written.
        """
        now = self._rt.now()
        rows = tx.uow.rate_limits
        # the write lock first (held to the end of the transaction), then the state as
        # the last writer left it: no version conflict with another process's count. The
        # UPDATE reads the newest row even where the transaction's snapshot is older
        # (MariaDB's repeatable read), and the read after it sees that row.
        try:
            rows.increment(key, {"version": 1})
        except NotFoundError:  # one writer (SQLite, memory): nobody can create it meanwhile
            state, answer = change(None)
            rows.add(
                RateLimitState(
                    id=key, account_id=account_id, name=name, state=state, updated_at=now
                )
            )
            return answer
        row = rows.get(key)
        assert row is not None  # locked: it cannot go away
        state, answer = change(row.state)
        rows.update(attrs.evolve(row, state=state, updated_at=now, version=row.version + 1))
        return answer

    def _ensure(self, tx: Tx, key: str, account_id: str, name: str, empty: dict[str, Any]) -> None:
        """On stores with concurrent writers, create ``key``'s row apart when it is missing.

        Two first uses at once cannot then collide on its insert inside the callers'
        transactions (SQLite and the memory store have one writer: the caller's
        transaction creates it).
        """
        if self._rt.store.capabilities().skip_locked and tx.uow.rate_limits.get(key) is None:
            self._create(key, account_id, name, empty)

    # -- messages per second per account and channel -------------------------------

    def take_messages(
        self, tx: Tx, account_id: str, channel: str, rate: float, want: int, now: datetime
    ) -> int:
        """Reserve up to ``want`` messages of ``account_id``'s ``channel`` now; how many were granted.

        A token bucket per account and channel, kept in the store (``rate_limits``,
        id ``<account>:messages:<channel>``) and changed in the caller's
        transaction, so every worker draws from the same bucket: together they send
        at most ``rate`` messages a second (plus one second's burst). A batch
        reserves its tokens at once (one write); :meth:`refund_messages` gives back
        what it did not use.

        Args:
            tx: the caller's transaction (the batch's claim).
            account_id: the sending account.
            channel: the channel.
            rate: messages per second (the bucket holds one second's worth, at least one).
            want: messages the batch would send.
            now: the injected clock's now.
        """
        if want <= 0:
            return 0
        name = f"messages:{channel}"
        key = f"{account_id}:{name}"
        self._ensure(tx, key, account_id, name, {})

        def take(state: Mapping[str, Any] | None) -> tuple[dict[str, Any], int]:
            tokens = _tokens(state or {}, rate, now)
            granted = min(want, int(tokens + 1e-9))
            return _bucket(tokens - granted, now), granted

        return self._change_stored(tx, key, account_id, name, take)

    def refund_messages(
        self, tx: Tx, account_id: str, channel: str, rate: float, count: int
    ) -> None:
        """Give back ``count`` tokens a batch reserved and did not use (never above the bucket's size)."""
        if count <= 0:
            return
        name = f"messages:{channel}"
        key = f"{account_id}:{name}"
        now = self._rt.now()

        def refund(state: Mapping[str, Any] | None) -> tuple[dict[str, Any], None]:
            tokens = _tokens(state or {}, rate, now)
            return _bucket(min(max(1.0, rate), tokens + count), now), None

        self._change_stored(tx, key, account_id, name, refund)

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
