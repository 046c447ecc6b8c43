"""Time, injected: the :class:`Clock` port, the system clock and a fake one for tests.

Every part of the library that needs "now" asks the clock it was given; nothing
in ``src/`` calls ``datetime.now()``. A clock returns an *aware* datetime in UTC.
Tests move time with :class:`FakeClock`::

    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    core = CampaignCore(store, clock=clock)
    clock.advance("3 days")
    core.tick()
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from campaign_core.durations import parse_duration
from campaign_core.errors import ValidationError

__all__ = [
    "FakeClock",
    "SystemClock",
    "truncate_ms",
]


@runtime_checkable
class Clock(Protocol):
    """Tells the time.

    Contract: ``now()`` returns an aware ``datetime`` in UTC; successive calls
    never go backwards within one process (a host clock that can jump back
    should be wrapped). It must be safe to call from several threads.
    """

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to; thread-safe.

    Args:
        start: the initial instant (aware; converted to UTC). Defaults to
            2026-01-01T00:00:00Z so tests are reproducible.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = ensure_utc(start, path="start") if start else datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, span: str | timedelta) -> datetime:
        """Move forward by ``span`` ("3 days", "PT5M", or a timedelta); returns the new now."""
        delta = parse_duration(span, path="span")
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (aware); may move backwards, for tests that need it."""
        value = ensure_utc(instant, path="instant")
        with self._lock:
            self._now = value
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


def ensure_utc(value: datetime, *, path: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; reject naive datetimes.

    Raises:
        ValidationError: ``value`` is not a datetime or has no time zone.
    """
    if not isinstance(value, datetime):
        raise ValidationError.single(path, "expected a datetime", "invalid_type")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError.single(
            path, "datetime must be timezone-aware (naive datetimes are ambiguous)", "invalid_value"
        )
    return value.astimezone(UTC)


def truncate_ms(value: datetime) -> datetime:
    """Drop sub-millisecond precision, as PostgreSQL's ``timestamp(3)`` does.

    Every instant the library stores goes through this, so all stores agree.
    """
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)
