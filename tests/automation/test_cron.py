"""The cron matcher: syntax, errors, and next_after checked against a minute-by-minute search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core import ValidationError
from campaign_core.automation import CronSchedule


def test_fields_lists_ranges_steps_and_names() -> None:
    """All the Vixie forms parse to the expected sets."""
    c = CronSchedule.parse("*/15 9-17/4 1,15 jan-mar mon-fri")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == {9, 13, 17}
    assert c.days == {1, 15}
    assert c.months == {1, 2, 3}
    assert c.weekdays == {1, 2, 3, 4, 5}
    assert CronSchedule.parse("0 0 * * 7").weekdays == {0}
    assert CronSchedule.parse("@daily").minutes == CronSchedule.parse("0 0 * * *").minutes


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "a * * * *",
        "0 0 30 2 *",
        "1,,2 * * * *",
        "@sometimes",
    ],
)
def test_bad_expressions_are_rejected(expression: str) -> None:
    """Malformed fields, out-of-range values and impossible days raise ValidationError."""
    with pytest.raises(ValidationError) as info:
        CronSchedule.parse(expression, path="trigger.cron")
    assert info.value.problems[0].path == "trigger.cron"


def test_day_fields_or_when_both_restricted() -> None:
    """'0 0 13 * fri' fires on every 13th and every Friday (Vixie semantics)."""
    c = CronSchedule.parse("0 0 13 * fri")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fires = []
    at = start
    for _ in range(6):
        nxt = c.next_after(at)
        assert nxt is not None
        fires.append(nxt.date().isoformat())
        at = nxt
    assert fires == [
        "2026-01-02",
        "2026-01-09",
        "2026-01-13",
        "2026-01-16",
        "2026-01-23",
        "2026-01-30",
    ]


def test_daylight_saving_gap_and_overlap() -> None:
    """A time that does not exist is skipped; a repeated hour fires once."""
    gap = CronSchedule.parse("30 2 * * *")  # 02:30 does not exist in Paris on 2026-03-29
    fire = gap.next_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "Europe/Paris")
    assert fire == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST the next day
    overlap = CronSchedule.parse("30 2 * * *")  # 02:30 happens twice on 2026-10-25
    first = overlap.next_after(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), "Europe/Paris")
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = overlap.next_after(first, "Europe/Paris")  # type: ignore[arg-type]
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def _brute(c: CronSchedule, after: datetime, zone: str, limit_days: int = 400) -> datetime | None:
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = after + timedelta(days=limit_days)
    while at <= end:
        if c.matches(at, zone):
            return at
        at += timedelta(minutes=1)
    return None


field = st.one_of(
    st.just("*"),
    st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 30), st.integers(30, 59)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(2, 30).map(lambda n: f"*/{n}"),
)


@settings(max_examples=30, deadline=None)
@given(
    minute=field,
    hour=st.sampled_from(["*", "0", "9", "23", "*/6", "8-10"]),
    day=st.sampled_from(["*", "1", "15", "28", "*/10"]),
    month=st.sampled_from(["*", "1", "2", "6-8", "*/3"]),
    weekday=st.sampled_from(["*", "0", "mon-fri", "6"]),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
    offset=st.integers(0, 365 * 24 * 60),
)
def test_next_after_agrees_with_a_minute_by_minute_search(
    minute: str, hour: str, day: str, month: str, weekday: str, zone: str, offset: int
) -> None:
    """next_after returns the first minute after the instant that matches (UTC and zones)."""
    c = CronSchedule.parse(f"{minute} {hour} {day} {month} {weekday}")
    after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset, seconds=17)
    expected = _brute(c, after, zone, limit_days=40)
    got = c.next_after(after, zone)
    if expected is not None:
        assert got == expected
    else:
        assert got is None or got > after + timedelta(days=40)
