"""A small 5-field cron matcher (minute hour day-of-month month day-of-week), time-zone aware.

Syntax, as in Vixie cron: ``*``, numbers, ranges ``1-5``, lists ``1,15``, steps
``*/15`` and ``10-50/20``; month names ``jan``..``dec`` and weekday names
``sun``..``sat`` (case-insensitive); weekday ``0`` and ``7`` are Sunday; the
macros ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``) and ``@hourly``. When both day fields are restricted (neither
starts with ``*``) a day matches if *either* matches, as Vixie cron does.

Times are read in a time zone. Across daylight-saving changes: a local time
that does not exist (the spring-forward gap) is skipped, and a local time that
happens twice (fall back) fires once, at its first occurrence.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from typing import Final

import attrs

from campaign_core.errors import ValidationError

__all__ = ["CronSchedule"]

_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS: Final = {
    name: i + 1
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DAYS: Final = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, low, high, names)
_FIELDS: Final[tuple[tuple[str, int, int, dict[str, int]], ...]] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
# The longest gap between two fires of a valid expression: Feb 29 on a given weekday.
_HORIZON_DAYS: Final = 366 * 28 + 7


def _number(text: str, low: int, high: int, names: dict[str, int], what: str, expr: str) -> int:
    value = names.get(text.lower()) if names else None
    if value is None:
        if not text.isdigit() or len(text) > 4:
            raise ValueError(f"{text!r} is not a valid {what} in {expr!r}")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range {low}-{high} in {expr!r}")
    return value


def _parse_field(
    text: str, low: int, high: int, names: dict[str, int], what: str, expr: str
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"empty list item in the {what} field of {expr!r}")
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not 1 <= int(step_text) <= high - low + 1:
                raise ValueError(f"bad step {step_text!r} in the {what} field of {expr!r}")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start = _number(first, low, high, names, what, expr)
            end = _number(last, low, high, names, what, expr)
            if end < start:
                raise ValueError(f"range {body!r} runs backwards in the {what} field of {expr!r}")
        else:
            start = _number(body, low, high, names, what, expr)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@attrs.frozen
class CronSchedule:
    """A parsed cron expression; build one with :meth:`parse`.

    Attributes:
        expression: the text as given.
        minutes / hours / days / months / weekdays: the allowed values
            (weekdays 0-6, Sunday = 0).
        day_star / weekday_star: whether each day field starts with ``*``.
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_star: bool
    weekday_star: bool

    @classmethod
    def parse(cls, expression: object, *, path: str = "cron") -> CronSchedule:
        """Parse a 5-field cron expression or a macro.

        Args:
            expression: ``"0 9 * * mon-fri"``, ``"*/15 * * * *"``, ``"@daily"``...
            path: where the expression sits in the caller's input.

        Returns:
            The schedule.

        Raises:
            ValidationError: not a string, not 5 fields, a bad value, range or
                step, or a day that never comes (``0 0 31 2 *``).
        """
        if not isinstance(expression, str):
            raise ValidationError.single(path, "expected a cron expression string", "invalid_type")
        text = " ".join(expression.split())
        text = _MACROS.get(text.lower(), text)
        parts = text.split(" ")
        if len(parts) != 5 or len(expression) > 200:
            raise ValidationError.single(
                path,
                f"{expression!r} is not a cron expression: expected 5 fields "
                "(minute hour day-of-month month day-of-week) or a macro such as @daily",
            )
        try:
            parsed = [
                _parse_field(part, low, high, names, what, expression)
                for part, (what, low, high, names) in zip(parts, _FIELDS, strict=True)
            ]
        except ValueError as error:
            raise ValidationError.single(path, str(error)) from None
        weekdays = frozenset(d % 7 for d in parsed[4])
        schedule = cls(
            expression=expression,
            minutes=parsed[0],
            hours=parsed[1],
            days=parsed[2],
            months=parsed[3],
            weekdays=weekdays,
            day_star=parts[2].startswith("*"),
            weekday_star=parts[4].startswith("*"),
        )
        if not schedule._any_day_possible():
            raise ValidationError.single(
                path, f"{expression!r} names a day that never comes", "invalid_value"
            )
        return schedule

    def _any_day_possible(self) -> bool:
        if not self.weekday_star and not self.day_star:
            return True  # either day field can match
        if not self.weekday_star:
            return True
        longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
        return any(d <= longest.get(m, 31) for m in self.months for d in self.days)

    def matches_day(self, day: date) -> bool:
        """Whether the day fields and the month allow ``day``."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if not self.day_star and not self.weekday_star:
            return dom or dow
        return dom and dow

    def matches(self, instant: datetime, time_zone: str = "UTC") -> bool:
        """Whether the minute containing ``instant`` (aware) is a fire time in ``time_zone``."""
        local = instant.astimezone(zoneinfo.ZoneInfo(time_zone))
        return (
            self.matches_day(local.date())
            and local.hour in self.hours
            and local.minute in self.minutes
        )

    def next_after(self, instant: datetime, time_zone: str = "UTC") -> datetime | None:
        """The first fire time strictly after ``instant``, in UTC (None if none within 28 years).

        Args:
            instant: an aware datetime.
            time_zone: the IANA zone the expression is read in.
        """
        zone = zoneinfo.ZoneInfo(time_zone)
        instant = instant.astimezone(UTC)
        local = instant.astimezone(zone)
        day = local.date()
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        # Start one day early: around a fall-back change a later local day can hold earlier instants.
        day -= timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            if self.matches_day(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=zone
                        )
                        as_utc = candidate.astimezone(UTC)
                        if as_utc.astimezone(zone).replace(tzinfo=None) != candidate.replace(
                            tzinfo=None
                        ):
                            continue  # does not exist here (spring-forward gap)
                        if as_utc > instant:
                            return as_utc
            day += timedelta(days=1)
        return None
