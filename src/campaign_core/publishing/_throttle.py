"""Launch throttling per account: at most ``limit`` launches in any window of ``per``.

A sliding-window log: the state of an account is the times of its recent
launches (at most ``limit`` of them), a small value a store can keep in one
column. A launch is allowed when fewer than ``limit`` launches happened in the
``per`` before it; otherwise :class:`~campaign_core.errors.RateLimitedError`
says how long until the oldest of them leaves the window. Unlike a token
bucket, "10 per hour" then means what it says: never 11 in any hour.

The policy methods (:meth:`LaunchThrottle.evaluate`, :meth:`LaunchThrottle.admit`)
are pure: state in, state out, time from the caller. :meth:`LaunchThrottle.check`
keeps the states in memory for hosts (and tests) without a store.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from campaign_core.clock import ensure_utc
from campaign_core.durations import format_duration, parse_duration
from campaign_core.errors import ProblemCollector, RateLimitedError, ValidationError, join_path

__all__ = ["LaunchThrottle", "ThrottleDecision", "ThrottleState"]

_MAX_LIMIT = 100_000


def _datetime_tuple(value: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(value)


@attrs.frozen
class ThrottleState:
    """One account's recent launches, oldest first (aware UTC datetimes).

    It is a plain value: store it with :meth:`to_json` and load it with
    :meth:`from_json`.
    """

    launches: tuple[datetime, ...] = attrs.field(default=(), converter=_datetime_tuple)

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        for index, item in enumerate(self.launches):
            if (
                not isinstance(item, datetime)
                or item.tzinfo is None
                or item.tzinfo.utcoffset(item) is None
            ):
                problems.add(
                    join_path("launches", index), "must be an aware datetime", "invalid_value"
                )
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        """``{"launches": ["2026-01-01T10:00:00+00:00", ...]}``."""
        return {"launches": [t.isoformat() for t in self.launches]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ThrottleState:
        """Load a state written by :meth:`to_json`.

        Raises:
            ValidationError: not that shape, or a time that is not an aware ISO-8601 datetime.
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single("", "expected an object", "invalid_type")
        problems = ProblemCollector()
        unknown = [k for k in data if k != "launches"]
        for key in unknown:
            problems.add(str(key), "unknown field", "unknown_field")
        raw = data.get("launches", [])
        if not isinstance(raw, list | tuple):
            problems.add("launches", "expected a list of datetimes", "invalid_type")
            raw = []
        if len(raw) > _MAX_LIMIT:
            problems.add("launches", f"holds more than {_MAX_LIMIT:,} launches", "out_of_range")
            raw = []
        launches = []
        for index, item in enumerate(raw):
            path = join_path("launches", index)
            try:
                value = datetime.fromisoformat(item) if isinstance(item, str) else item
                launches.append(ensure_utc(value, path=path))
            except ValueError as exc:
                if isinstance(exc, ValidationError):
                    problems.extend(exc)
                else:
                    problems.add(path, "is not an ISO-8601 datetime", "invalid_value")
        problems.raise_if_any()
        return cls(tuple(sorted(launches)))


@attrs.frozen
class ThrottleDecision:
    """Whether a launch may happen now.

    Attributes:
        allowed: whether it may.
        remaining: launches still allowed in the window after this one (when
            allowed), else 0.
        retry_after: seconds until a launch is allowed (0 when allowed); whole
            milliseconds, rounded up.
        reset_at: when the oldest launch counted leaves the window (``None``
            when no launch is counted).
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_at: datetime | None


class LaunchThrottle:
    """At most ``limit`` launches per account in any window of ``per``.

    Args:
        limit: launches allowed per window (1 to 100,000).
        per: the window, as a duration (``"1 hour"``, ``"PT1H"``, a ``timedelta``).

    Raises:
        ValidationError: a bad ``limit`` or ``per``.
    """

    def __init__(
        self, limit: int = 10, per: str | timedelta = "1 hour", *, what: str = "launch"
    ) -> None:
        problems = ProblemCollector()
        if isinstance(limit, bool) or not isinstance(limit, int):
            problems.add("limit", "must be an integer", "invalid_type")
        elif not 1 <= limit <= _MAX_LIMIT:
            problems.add("limit", f"must be between 1 and {_MAX_LIMIT:,}", "out_of_range")
        window = timedelta(0)
        try:
            window = parse_duration(per, path="per")
        except ValidationError as exc:
            problems.extend(exc)
        else:
            if window <= timedelta(0):
                problems.add("per", "must be longer than zero", "out_of_range")
        problems.raise_if_any()
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._states: dict[str, ThrottleState] = {}
        self._what = what

    @property
    def limit(self) -> int:
        """Launches allowed per window."""
        return self._limit

    @property
    def window(self) -> timedelta:
        """The window."""
        return self._window

    @property
    def description(self) -> str:
        """The rule, for errors and logs: ``"10 launches per PT1H"``."""
        return f"{self._limit} launches per {format_duration(self._window)}"

    def __repr__(self) -> str:
        return f"LaunchThrottle(limit={self._limit}, per={format_duration(self._window)!r})"

    def _recent(self, state: ThrottleState | None, now: datetime) -> tuple[datetime, ...]:
        if state is None:
            return ()
        if not isinstance(state, ThrottleState):
            raise ValidationError.single("state", "must be a ThrottleState", "invalid_type")
        start = now - self._window
        # Launches "after" now (a clock that went back) still count: the safe side.
        return tuple(t for t in state.launches if t > start)

    def evaluate(self, state: ThrottleState | None, now: datetime) -> ThrottleDecision:
        """Whether a launch may happen at ``now``; records nothing.

        Args:
            state: the account's state (``None`` for an account never seen).
            now: the time of the launch (aware).

        Returns:
            The decision.

        Raises:
            ValidationError: ``now`` is naive or ``state`` is not a ThrottleState.
        """
        now = ensure_utc(now, path="now")
        recent = self._recent(state, now)
        reset_at = recent[0] + self._window if recent else None
        if len(recent) < self._limit:
            return ThrottleDecision(True, self._limit - len(recent) - 1, 0.0, reset_at)
        # The launch that must leave the window for one more to fit.
        blocking = recent[len(recent) - self._limit]
        wait = (blocking + self._window - now).total_seconds()
        retry_after = max(math.ceil(wait * 1000) / 1000, 0.001)
        return ThrottleDecision(False, 0, retry_after, reset_at)

    def admit(self, state: ThrottleState | None, now: datetime) -> ThrottleState:
        """Record a launch at ``now`` if allowed; pure (returns the new state).

        Args:
            state: the account's state (``None`` for an account never seen).
            now: the time of the launch (aware).

        Returns:
            The new state: the launches still in the window, plus this one
            (at most ``limit`` kept).

        Raises:
            RateLimitedError: the account launched ``limit`` times within
                ``per``; ``retry_after`` says in how many seconds it may again.
            ValidationError: ``now`` is naive or ``state`` is not a ThrottleState.
        """
        now = ensure_utc(now, path="now")
        decision = self.evaluate(state, now)
        if not decision.allowed:
            raise RateLimitedError(
                f"{self._what} limit reached ({self.description}); try again in "
                f"{decision.retry_after:g} seconds",
                retry_after=decision.retry_after,
                limit=self.description,
            )
        # Stored times are whole milliseconds, as stores keep them (timestamp(3)).
        recorded = now.replace(microsecond=now.microsecond // 1000 * 1000)
        launches = (*self._recent(state, now), recorded)
        return ThrottleState(tuple(sorted(launches))[-self._limit :])

    def check(self, owner_id: str, now: datetime) -> ThrottleDecision:
        """Record a launch by ``owner_id`` at ``now`` in this throttle's memory.

        Thread-safe. States live in this object only; a host with a store keeps
        them there instead, through :meth:`admit` and :class:`ThrottleState`.

        Args:
            owner_id: the account launching.
            now: the time of the launch (aware; from the injected clock).

        Returns:
            The decision (always ``allowed``: a refusal raises).

        Raises:
            RateLimitedError: too many launches; nothing is recorded.
            ValidationError: a bad ``owner_id`` or ``now``.
        """
        if not isinstance(owner_id, str) or not owner_id:
            raise ValidationError.single("owner_id", "must be a non-empty string", "invalid_type")
        now = ensure_utc(now, path="now")
        with self._lock:
            state = self._states.get(owner_id)
            decision = self.evaluate(state, now)
            self._states[owner_id] = self.admit(state, now)
            return decision

    def state(self, owner_id: str) -> ThrottleState:
        """The in-memory state of ``owner_id`` (empty if never seen)."""
        with self._lock:
            return self._states.get(owner_id, ThrottleState())

    def restore(self, owner_id: str, state: ThrottleState) -> None:
        """Load a state (for example one persisted earlier) into this throttle's memory.

        Raises:
            ValidationError: ``state`` is not a ThrottleState.
        """
        if not isinstance(state, ThrottleState):
            raise ValidationError.single("state", "must be a ThrottleState", "invalid_type")
        with self._lock:
            self._states[owner_id] = state
