"""The one duration parser of the library.

Workflows, criteria, caches and settings all describe spans of time; they all
go through :func:`parse_duration`. Accepted forms:

- the seed's words: ``"5 minutes"``, ``"24 hours"``, ``"3 days"``, ``"1 week"``,
  ``"30 seconds"``, ``"500 milliseconds"``; singular or plural; abbreviations
  ``ms s sec m min h hr d w wk``; a sum of parts ``"1 day 6 hours"``, ``"2h30m"``;
  decimals ``"1.5 hours"``; an optional leading ``-`` for a span in the past;
- ISO-8601 durations without years or months (their length depends on the date):
  ``"PT5M"``, ``"P3D"``, ``"P1W"``, ``"P1DT12H"``, ``"-P14D"``;
- a :class:`datetime.timedelta`, returned unchanged.

Anything else raises :class:`~campaign_core.errors.ValidationError` with the
given path: unknown units, NaN, infinities, and spans beyond
``MAX_DURATION`` (100 years), which catches typos such as ``"5000000 days"``.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from campaign_core.errors import ValidationError

__all__ = [
    "format_duration",
    "parse_duration",
]

MAX_DURATION = timedelta(days=36525)

_UNITS: dict[str, float] = {}
for _names, _seconds in (
    (("ms", "msec", "millisecond", "milliseconds"), 0.001),
    (("s", "sec", "secs", "second", "seconds"), 1.0),
    (("m", "min", "mins", "minute", "minutes"), 60.0),
    (("h", "hr", "hrs", "hour", "hours"), 3600.0),
    (("d", "day", "days"), 86400.0),
    (("w", "wk", "wks", "week", "weeks"), 604800.0),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_WORD_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*,?", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:[.,]\d+)?)W)?(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)
_ISO_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(
    value: object, *, path: str = "duration", allow_negative: bool = False
) -> timedelta:
    """Parse a duration written in words or ISO-8601.

    Args:
        value: the text (or a ``timedelta``).
        path: where the value sits in the caller's input, for error messages.
        allow_negative: accept a leading ``-`` (relative times in the past).

    Returns:
        The span as a ``timedelta``.

    Raises:
        ValidationError: the value is not a duration this parser understands,
            is negative when not allowed, not finite, or longer than 100 years.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = _parse_text(value, path)
    else:
        raise ValidationError.single(
            path,
            f"expected a duration such as '5 minutes' or 'PT5M', got {type(value).__name__}",
            "invalid_type",
        )
    if not math.isfinite(seconds):
        raise ValidationError.single(path, "duration must be finite", "not_finite")
    if seconds < 0 and not allow_negative:
        raise ValidationError.single(path, "duration must not be negative", "out_of_range")
    if abs(seconds) > MAX_DURATION.total_seconds():
        raise ValidationError.single(path, "duration is longer than 100 years", "out_of_range")
    return timedelta(seconds=seconds)


def _parse_text(text: str, path: str) -> float:
    raw = text.strip()
    sign = 1.0
    body = raw
    if body.startswith("-"):
        sign, body = -1.0, body[1:].strip()
    elif body.startswith("+"):
        body = body[1:].strip()
    if not body:
        raise ValidationError.single(path, "duration must not be empty", "required")
    if body[:1] in ("P", "p"):
        match = _ISO.match(body)
        if match is None or not any(match.groupdict().values()) or body.upper().endswith("T"):
            raise ValidationError.single(
                path,
                f"{text!r} is not an ISO-8601 duration of weeks, days, hours, minutes or seconds"
                " (years and months are not allowed: their length depends on the date)",
            )
        total = sum(
            float(v.replace(",", ".")) * _ISO_SECONDS[k] for k, v in match.groupdict().items() if v
        )
        return sign * total
    total = 0.0
    pos = 0
    found = False
    while pos < len(body):
        match = _WORD_PART.match(body, pos)
        if match is None or match.end() == pos:
            raise ValidationError.single(
                path,
                f"{text!r} is not a duration (expected e.g. '5 minutes', '24 hours', '3 days', 'PT5M')",
            )
        unit = match.group(2).lower()
        if unit not in _UNITS:
            raise ValidationError.single(
                path, f"unknown time unit {match.group(2)!r} in {text!r}", "invalid_value"
            )
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
        found = True
    if not found:
        raise ValidationError.single(path, f"{text!r} is not a duration")
    return sign * total


def format_duration(span: timedelta) -> str:
    """Format a span as an ISO-8601 duration (``PT5M``, ``P3D``, ``-P14D``)."""
    seconds = span.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P"
    if days:
        out += f"{int(days)}D"
    time_part = ""
    if hours:
        time_part += f"{int(hours)}H"
    if minutes:
        time_part += f"{int(minutes)}M"
    if secs:
        time_part += (f"{secs:.3f}".rstrip("0").rstrip(".")) + "S"
    if time_part:
        out += "T" + time_part
    if out == "P":
        out = "PT0S"
    return sign + out
