"""Local times, quiet hours and frequency caps: the time rules every send path shares.

Local times are resolved the one way Python's ``zoneinfo`` does with ``fold=0``:

- a local time that does not exist (the spring-forward gap, ``02:30`` on the night
  clocks go from 02:00 to 03:00) is read with the offset in force before the gap, so
  it lands *after* the gap by the gap's length (``02:30`` becomes ``03:30``); a send
  is never dropped and never moved earlier;
- a local time that happens twice (the autumn fold, ``01:30`` when clocks go back)
  means the first occurrence (``fold=0``), so a fan gets the message once, at the
  earlier instant.

Zones with half-hour shifts (``Australia/Lord_Howe``) and whole skipped days
(``Pacific/Kiritimati`` at the end of 1994) follow the same rule.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

import attrs

from campaign_core.durations import format_duration, parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "CLOCK_TIME",
    "CapPeriod",
    "FrequencyCap",
    "QuietHours",
    "local_instant",
    "next_local",
    "parse_clock",
    "parse_frequency_cap",
    "parse_quiet_hours",
    "send_at_local",
]

CLOCK_TIME: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
"""A local time of day, ``HH:MM`` (``9:00`` and ``09:00`` both read as nine o'clock)."""


def parse_clock(value: Any, path: str, problems: ProblemCollector) -> time | None:
    """``"09:00"`` as a :class:`~datetime.time`; a problem at ``path`` otherwise."""
    match = CLOCK_TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        problems.add(path, "expected a time of day such as '22:00'", "invalid_type")
        return None
    return time(int(match.group(1)), int(match.group(2)))


def local_instant(day: Any, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant when the clock in ``zone`` reads ``at`` on ``day`` (a ``date``).

    A time in a spring-forward gap moves forward by the gap; a time that happens
    twice is its first occurrence (``fold=0``), see the module's notes.
    """
    local = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone)
    return local.astimezone(UTC)


def next_local(now: datetime, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The next instant (strictly after ``now``) when the local clock in ``zone`` reads ``at``."""
    return _first_local(now, at, zone, strict=True)


def send_at_local(now: datetime, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """When a message meant for ``at`` local time goes out, seen from ``now``.

    The first instant at or after ``now`` when the fan's clock reads ``at``: today's
    ``09:00`` if it has not passed in the fan's zone, else tomorrow's (never more
    than about a day after ``now``).
    """
    return _first_local(now, at, zone, strict=False)


def _first_local(now: datetime, at: time, zone: zoneinfo.ZoneInfo, *, strict: bool) -> datetime:
    local = now.astimezone(zone)
    best: datetime | None = None
    for offset in range(-1, 4):
        candidate = local_instant(local.date() + timedelta(days=offset), at, zone)
        if (candidate > now if strict else candidate >= now) and (best is None or candidate < best):
            best = candidate
    return best if best is not None else now + timedelta(days=1)  # pragma: no cover


@attrs.frozen
class QuietHours:
    """No messages between ``start`` and ``end`` (local times; may span midnight)."""

    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        """Whether ``local`` (an aware datetime in the fan's zone) falls in the quiet hours."""
        now = local.time().replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def reopens(self, now: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
        """When a message held at ``now`` may go (None: ``now`` is not in quiet hours)."""
        if not self.contains(now.astimezone(zone)):
            return None
        return next_local(now, self.end, zone)

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@attrs.frozen
class CapPeriod:
    """The period a frequency cap counts messages in, seen from one instant.

    Attributes:
        start: messages sent after it count (at it, too, when ``inclusive``).
        inclusive: a calendar period starts at its midnight; a rolling window
            is ``(now - window, now]``.
        reopen: when the period ends (a rolling window reopens earlier, when its
            oldest message leaves it).
    """

    start: datetime
    inclusive: bool
    reopen: datetime

    def counts(self, sent_at: datetime) -> bool:
        return sent_at >= self.start if self.inclusive else sent_at > self.start


@attrs.frozen
class FrequencyCap:
    """At most ``max`` messages per calendar ``day``/``week`` (fan's zone) or rolling ``window``."""

    max: int
    per: str
    window: timedelta | None = None

    def period(self, now: datetime, zone: zoneinfo.ZoneInfo) -> CapPeriod:
        """The period that contains ``now`` in the fan's zone."""
        local = now.astimezone(zone)
        if self.window is not None:
            return CapPeriod(now - self.window, False, now + self.window)
        if self.per == "week":
            first = local.date() - timedelta(days=local.weekday())
            days = 7
        else:
            first = local.date()
            days = 1
        return CapPeriod(
            local_instant(first, time(0, 0), zone),
            True,
            local_instant(first + timedelta(days=days), time(0, 0), zone),
        )

    def reopens(
        self,
        now: datetime,
        zone: zoneinfo.ZoneInfo,
        sent: Sequence[datetime],
        pending: int = 0,
    ) -> datetime | None:
        """When the next message may go (None: under the cap now).

        Args:
            sent: when the fan's recent messages went (any order; those outside the
                period are ignored; the newest ``max`` are enough).
            pending: messages sent in the same batch, not yet in ``sent``.
        """
        period = self.period(now, zone)
        newest = sorted((t for t in sent if period.counts(t)), reverse=True)
        if len(newest) + pending < self.max:
            return None
        reopen = period.reopen
        if self.window is not None:
            # the count drops below the cap when the (max - pending)-th newest leaves
            nth = self.max - pending
            reopen = newest[nth - 1] + self.window if nth > 0 else now + self.window
        return max(reopen, now + timedelta(seconds=1))

    def to_json(self) -> dict[str, Any]:
        per = format_duration(self.window) if self.window is not None else self.per
        return {"max": self.max, "per": per}


def parse_quiet_hours(raw: Any, path: str, problems: ProblemCollector) -> QuietHours | None:
    """``{"start": "22:00", "end": "08:00"}`` (or a :class:`QuietHours`) checked."""
    if isinstance(raw, QuietHours):
        return raw
    if not isinstance(raw, Mapping) or set(raw) != {"start", "end"}:
        problems.add(path, 'expected {"start": "22:00", "end": "08:00"}', "invalid_type")
        return None
    start = parse_clock(raw["start"], join_path(path, "start"), problems)
    end = parse_clock(raw["end"], join_path(path, "end"), problems)
    if start is None or end is None:
        return None
    if start == end:
        problems.add(path, "start and end must differ")
        return None
    return QuietHours(start, end)


def parse_frequency_cap(raw: Any, path: str, problems: ProblemCollector) -> FrequencyCap | None:
    """``{"max": 2, "per": "day"}`` (``day``, ``week`` or a duration) checked."""
    if isinstance(raw, FrequencyCap):
        return raw
    if not isinstance(raw, Mapping) or set(raw) != {"max", "per"}:
        problems.add(path, 'expected {"max": 2, "per": "day"}', "invalid_type")
        return None
    most = raw["max"]
    good = isinstance(most, int) and not isinstance(most, bool) and 1 <= most <= 10_000
    if not good:
        problems.add(join_path(path, "max"), "expected an integer from 1 to 10000")
    per = raw["per"]
    if per in ("day", "week"):
        return FrequencyCap(most, per) if good else None
    ppath = join_path(path, "per")
    try:
        window = parse_duration(per, path=ppath)
    except ValidationError as error:
        problems.extend(error)
        return None
    if window <= timedelta(0):
        problems.add(ppath, "must be longer than zero", "out_of_range")
        return None
    return FrequencyCap(most, "window", window) if good else None
