"""Local-time sends (``sendAtLocal``) across DST changes and zones from UTC-12 to UTC+14.

The rule (``campaign_core.delivery`` module notes): the first instant at or after
``now`` when the fan's clock reads the time; a time in a spring-forward gap moves
forward by the gap, a time that happens twice is its first occurrence (``fold=0``).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.delivery import send_at_local
from campaign_core.delivery._rules import local_instant, next_local

ZONES = [
    "Etc/GMT+12",  # UTC-12 (the sign is POSIX's: GMT+12 is twelve hours behind)
    "Pacific/Pago_Pago",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Santiago",  # DST changes at midnight
    "Europe/London",
    "Europe/Paris",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Australia/Sydney",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",  # UTC+14, skipped 1994-12-31 entirely
]


# hypothesis wants naive bounds for aware datetimes
NAIVE_1990 = datetime(1990, 1, 1)  # noqa: DTZ001
NAIVE_2000 = datetime(2000, 1, 1)  # noqa: DTZ001
NAIVE_2037 = datetime(2037, 12, 31)  # noqa: DTZ001


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "now", "at", "expected"),
    [
        # the extremes: the same local 09:00 is 26 hours apart
        ("Etc/GMT+12", utc(2026, 6, 1, 0, 0), time(9, 0), utc(2026, 6, 1, 21, 0)),
        ("Pacific/Kiritimati", utc(2026, 6, 1, 0, 0), time(9, 0), utc(2026, 6, 1, 19, 0)),
        # Kiritimati's 09:00 on June 1st local was 2026-05-31 19:00 UTC: passed, so the next
        ("Pacific/Kiritimati", utc(2026, 5, 31, 19, 0), time(9, 0), utc(2026, 5, 31, 19, 0)),
        # New York, spring forward 2026-03-08 02:00 -> 03:00: 02:30 does not exist
        ("America/New_York", utc(2026, 3, 8, 0, 0), time(2, 30), utc(2026, 3, 8, 7, 30)),
        ("America/New_York", utc(2026, 3, 7, 12, 0), time(9, 0), utc(2026, 3, 7, 14, 0)),
        ("America/New_York", utc(2026, 3, 7, 15, 0), time(9, 0), utc(2026, 3, 8, 13, 0)),
        # New York, fall back 2026-11-01 02:00 -> 01:00: 01:30 happens twice, the first
        ("America/New_York", utc(2026, 11, 1, 0, 0), time(1, 30), utc(2026, 11, 1, 5, 30)),
        # London, spring forward 2026-03-29 01:00 GMT -> 02:00 BST: 01:30 becomes 02:30 BST
        ("Europe/London", utc(2026, 3, 29, 0, 0), time(1, 30), utc(2026, 3, 29, 1, 30)),
        ("Europe/London", utc(2026, 10, 25, 0, 0), time(1, 30), utc(2026, 10, 25, 0, 30)),
        # Lord Howe moves by 30 minutes (2026-10-04 02:00 -> 02:30, +10:30 -> +11)
        ("Australia/Lord_Howe", utc(2026, 10, 3, 12, 0), time(2, 15), utc(2026, 10, 3, 15, 45)),
        ("Australia/Lord_Howe", utc(2026, 10, 3, 12, 0), time(9, 0), utc(2026, 10, 3, 22, 0)),
    ],
)
def test_examples(zone: str, now: datetime, at: time, expected: datetime) -> None:
    assert send_at_local(now, at, zoneinfo.ZoneInfo(zone)) == expected


def test_a_gap_time_moves_forward_by_the_gap() -> None:
    zone = zoneinfo.ZoneInfo("America/New_York")
    sent = local_instant(date(2026, 3, 8), time(2, 30), zone)
    assert sent.astimezone(zone).time() == time(3, 30)


def test_kiritimati_skipped_day_still_gets_one_send() -> None:
    zone = zoneinfo.ZoneInfo("Pacific/Kiritimati")
    # 1994-12-31 never happened there: the clock went from 12-30 23:59 (-10) to 1995-01-01 (+14)
    now = utc(1994, 12, 31, 0, 0)
    sent = send_at_local(now, time(9, 0), zone)
    assert sent >= now
    assert sent.astimezone(zone).time() == time(9, 0)
    assert sent - now < timedelta(days=2)


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    now=st.datetimes(
        min_value=NAIVE_1990,
        max_value=NAIVE_2037,
        timezones=st.just(UTC),
    ),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_send_at_local_is_the_first_matching_instant(zone: str, now: datetime, at: time) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    sent = send_at_local(now, at, tz)
    assert sent.tzinfo is UTC
    assert sent >= now
    assert sent - now <= timedelta(days=2)
    local = sent.astimezone(tz)
    # either the clock reads the time, or the time did not exist that day (a gap):
    # then it moved forward by less than a day's worth of shift
    if local.time().replace(tzinfo=None) != at:
        wall = datetime.combine(local.date(), at, tzinfo=tz)
        roundtrip = wall.astimezone(UTC).astimezone(tz)
        assert roundtrip.replace(tzinfo=None) != wall.replace(tzinfo=None), "not a gap"
        assert (
            timedelta(0)
            < local.replace(tzinfo=None) - wall.replace(tzinfo=None)
            <= timedelta(hours=24)
        )
    else:
        # the first occurrence of an ambiguous time (fold=0)
        assert sent == local_instant(local.date(), at, tz)
    # nothing earlier at or after now reads that time: the day before resolves before now
    for back in (1, 2):
        earlier = local_instant(local.date() - timedelta(days=back), at, tz)
        assert earlier < now or earlier >= sent


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    now=st.datetimes(
        min_value=NAIVE_2000,
        max_value=NAIVE_2037,
        timezones=st.just(UTC),
    ),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_next_local_is_strictly_later(zone: str, now: datetime, at: time) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    after = next_local(now, at, tz)
    assert after > now
    at_or_after = send_at_local(now, at, tz)
    assert after == at_or_after or at_or_after == now
