"""Launch throttling per account: a sliding window driven by the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.clock import FakeClock
from campaign_core.errors import RateLimitedError, ValidationError
from campaign_core.publishing import LaunchThrottle, ThrottleState

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_the_eleventh_launch_in_an_hour_is_refused_with_retry_after() -> None:
    """Ten launches pass; the eleventh raises RateLimitedError saying when to retry."""
    clock = FakeClock(START)
    throttle = LaunchThrottle(limit=10, per="1 hour")
    for i in range(10):
        decision = throttle.check("u1", clock.now())
        assert decision.remaining == 9 - i
        clock.advance("1 minute")
    with pytest.raises(RateLimitedError) as exc:
        throttle.check("u1", clock.now())  # at 08:10
    assert exc.value.retry_after == 50 * 60
    assert exc.value.http_status == 429
    assert exc.value.limit == "10 launches per PT1H"
    assert exc.value.to_json()["error"]["details"]["retryAfter"] == 3000
    assert len(throttle.state("u1").launches) == 10  # the refusal recorded nothing
    clock.set(START + timedelta(hours=1) - timedelta(milliseconds=1))
    with pytest.raises(RateLimitedError) as exc:
        throttle.check("u1", clock.now())
    assert exc.value.retry_after == 0.001
    clock.advance("1 millisecond")  # exactly retry_after later: the first launch has left
    assert throttle.check("u1", clock.now()).remaining == 0


def test_accounts_are_throttled_separately() -> None:
    """One account's launches do not count against another's."""
    throttle = LaunchThrottle(limit=1, per="1 day")
    throttle.check("u1", START)
    throttle.check("u2", START)
    with pytest.raises(RateLimitedError):
        throttle.check("u1", START + timedelta(hours=23))


def test_admit_is_pure_and_the_state_serializes() -> None:
    """admit returns a new state and leaves the old one; states round-trip through JSON."""
    throttle = LaunchThrottle(limit=2, per="PT10M")
    empty = ThrottleState()
    one = throttle.admit(empty, START)
    two = throttle.admit(one, START + timedelta(minutes=1))
    assert empty.launches == ()
    assert one.launches == (START,)
    assert ThrottleState.from_json(two.to_json()) == two
    with pytest.raises(RateLimitedError) as exc:
        throttle.admit(two, START + timedelta(minutes=2))
    assert exc.value.retry_after == 8 * 60
    three = throttle.admit(two, START + timedelta(minutes=10, seconds=1))
    assert three.launches == (
        START + timedelta(minutes=1),
        START + timedelta(minutes=10, seconds=1),
    )


def test_evaluate_does_not_record() -> None:
    """evaluate answers without changing anything."""
    throttle = LaunchThrottle(limit=1, per="1 hour")
    state = throttle.admit(None, START)
    decision = throttle.evaluate(state, START + timedelta(minutes=30))
    assert (decision.allowed, decision.remaining, decision.retry_after) == (False, 0, 1800.0)
    assert decision.reset_at == START + timedelta(hours=1)
    assert throttle.evaluate(None, START).allowed


def test_a_clock_that_went_back_still_counts_recent_launches() -> None:
    """Launches recorded 'after' now still count, so a clock jump back cannot bypass the limit."""
    throttle = LaunchThrottle(limit=1, per="1 hour")
    state = throttle.admit(None, START)
    with pytest.raises(RateLimitedError):
        throttle.admit(state, START - timedelta(minutes=5))


@pytest.mark.parametrize(
    ("limit", "per", "path"),
    [
        (0, "1 hour", "limit"),
        (True, "1 hour", "limit"),
        (10, "0 seconds", "per"),
        (10, "soon", "per"),
        (10, 5, "per"),
    ],
)
def test_bad_settings_are_rejected(limit: object, per: object, path: str) -> None:
    """A non-positive limit or window is a ValidationError at its path."""
    with pytest.raises(ValidationError) as exc:
        LaunchThrottle(limit=limit, per=per)  # type: ignore[arg-type]
    assert [p.path for p in exc.value.problems] == [path]


def test_bad_states_are_rejected() -> None:
    """Naive datetimes, bad strings and unknown fields do not load."""
    with pytest.raises(ValidationError) as exc:
        ThrottleState.from_json({"launches": ["2026-01-01T00:00:00", "nope", 5], "extra": 1})
    assert {p.path for p in exc.value.problems} == {
        "launches[0]",
        "launches[1]",
        "launches[2]",
        "extra",
    }
    with pytest.raises(ValidationError):
        ThrottleState((datetime(2026, 1, 1),))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        LaunchThrottle().check("u1", datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        LaunchThrottle().check("", START)
    with pytest.raises(ValidationError):
        LaunchThrottle().restore("u1", {"launches": []})  # type: ignore[arg-type]


def test_restore_loads_a_persisted_state() -> None:
    """A state saved elsewhere can be loaded back into the in-memory throttle."""
    throttle = LaunchThrottle(limit=1, per="1 hour")
    throttle.restore("u1", ThrottleState((START,)))
    with pytest.raises(RateLimitedError):
        throttle.check("u1", START + timedelta(minutes=1))


@settings(max_examples=100, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=60),
    limit=st.integers(min_value=1, max_value=8),
)
def test_never_more_than_limit_in_any_window(gaps: list[int], limit: int) -> None:
    """Accepted launches never exceed the limit in any window; refusals happen only when they would."""
    throttle = LaunchThrottle(limit=limit, per="1 hour")
    window = timedelta(hours=1)
    state: ThrottleState | None = None
    now = START
    accepted: list[datetime] = []
    for gap in gaps:
        now += timedelta(seconds=gap)
        in_window = [t for t in accepted if t > now - window]
        decision = throttle.evaluate(state, now)
        if decision.allowed:
            assert len(in_window) < limit
            state = throttle.admit(state, now)
            accepted.append(now)
        else:
            assert len(in_window) >= limit
            oldest_blocking = in_window[len(in_window) - limit]
            wait = (oldest_blocking + window - now).total_seconds()
            assert decision.retry_after == pytest.approx(wait)
            with pytest.raises(RateLimitedError):
                throttle.admit(state, now)
    for t in accepted:
        assert sum(1 for u in accepted if t - window < u <= t) <= limit
