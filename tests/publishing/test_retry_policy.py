"""The retry policy: exact backoff, deterministic jitter, caps and the platform's retry_after."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.clock import FakeClock
from campaign_core.errors import ValidationError
from campaign_core.publishing import (
    PublishFailure,
    PublishRequest,
    PublishSuccess,
    RateLimit,
    Reject,
    RetryPolicy,
    ScriptedPublisher,
    ServerError,
    Timeout,
    call_publisher,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def _draw(key: str, attempt: int) -> float:
    """The documented jitter draw, computed independently of the library."""
    digest = hashlib.sha256(f"{key}\x00{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def test_backoff_doubles_from_base_up_to_the_cap() -> None:
    """Without jitter, delays are base, base*2, base*4... capped at max_delay."""
    policy = RetryPolicy(
        base="30 seconds", factor=2, max_delay="5 minutes", jitter="none", max_attempts=8
    )
    assert policy.schedule("k") == (30 * S, 60 * S, 120 * S, 240 * S, 300 * S, 300 * S, 300 * S)


def test_full_jitter_is_the_documented_draw() -> None:
    """Full jitter waits floor(backoff * draw) milliseconds, draw from SHA-256 of (key, attempt)."""
    policy = RetryPolicy(base=10, factor=3, max_delay="1 hour", jitter="full")
    for attempt in range(1, 5):
        backoff_ms = 10_000 * 3 ** (attempt - 1)
        expected = timedelta(milliseconds=math.floor(backoff_ms * _draw("job-1", attempt)))
        assert policy.next_delay(attempt, "job-1") == expected


def test_equal_jitter_keeps_half_the_backoff() -> None:
    """Equal jitter waits between half the backoff and the full backoff."""
    policy = RetryPolicy(base=100, jitter="equal")
    for attempt in range(1, 5):
        delay = policy.next_delay(attempt, "k")
        backoff = policy.backoff(attempt)
        assert backoff / 2 <= delay < backoff
        expected = math.floor((backoff.total_seconds() / 2) * (1 + _draw("k", attempt)) * 1000)
        assert delay == timedelta(milliseconds=expected)


def test_jitter_is_deterministic_per_key_and_spreads_keys() -> None:
    """The same (key, attempt) always waits the same; different keys wait differently."""
    policy = RetryPolicy()
    again = RetryPolicy()
    assert policy.next_delay(3, "a") == again.next_delay(3, "a")
    assert len({policy.next_delay(3, f"job-{i}") for i in range(20)}) > 15


def test_a_longer_retry_after_wins_and_is_capped() -> None:
    """The platform's retry_after is honoured when longer, up to max_retry_after."""
    policy = RetryPolicy(base=1, jitter="none", max_retry_after="10 minutes")
    assert policy.next_delay(1, "k", retry_after=120.0001) == timedelta(milliseconds=120001)
    assert policy.next_delay(1, "k", retry_after=0.5) == S
    assert policy.next_delay(1, "k", retry_after=86400) == timedelta(minutes=10)


@pytest.mark.parametrize("hint", [-5, math.nan, "60", True, None])
def test_a_bad_retry_after_is_ignored(hint: object) -> None:
    """A negative, NaN or non-numeric retry_after from a platform does not change the delay."""
    policy = RetryPolicy(base=2, jitter="none")
    assert policy.next_delay(1, "k", retry_after=hint) == 2 * S  # type: ignore[arg-type]


def test_infinite_retry_after_is_capped() -> None:
    """An infinite retry_after waits max_retry_after."""
    policy = RetryPolicy(base=2, jitter="none")
    assert policy.next_delay(1, "k", retry_after=math.inf) == timedelta(days=1)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """Attempt 100 with factor 100 is just the cap."""
    policy = RetryPolicy(factor=100, max_attempts=100, jitter="none")
    assert policy.backoff(100) == timedelta(hours=1)


def test_decide_covers_every_outcome() -> None:
    """decide says succeeded, not_retryable, attempts_exhausted or retry-at."""
    policy = RetryPolicy(max_attempts=3, base=10, jitter="none")
    ok = policy.decide(PublishSuccess("id"), attempt=1, key="k", now=NOW)
    assert (ok.retry, ok.reason) == (False, "succeeded")
    no = policy.decide(PublishFailure("bad", retryable=False), attempt=1, key="k", now=NOW)
    assert (no.retry, no.reason) == (False, "not_retryable")
    again = policy.decide(PublishFailure("busy", retryable=True), attempt=2, key="k", now=NOW)
    assert (again.retry, again.delay, again.next_attempt_at) == (True, 20 * S, NOW + 20 * S)
    done = policy.decide(PublishFailure("busy", retryable=True), attempt=3, key="k", now=NOW)
    assert (done.retry, done.reason) == (False, "attempts_exhausted")


def test_decide_rejects_bad_input() -> None:
    """A naive now, a bad attempt or a foreign outcome are validation errors."""
    policy = RetryPolicy()
    failure = PublishFailure("x", retryable=True)
    with pytest.raises(ValidationError):
        policy.decide(failure, attempt=1, key="k", now=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        policy.decide(failure, attempt=0, key="k", now=NOW)
    with pytest.raises(ValidationError):
        policy.decide("failed", attempt=1, key="k", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        policy.next_delay(1, 5)  # type: ignore[arg-type]


def test_durations_may_be_text_seconds_or_timedelta() -> None:
    """base and max_delay accept the duration parser's text, numbers of seconds and timedeltas."""
    assert (
        RetryPolicy(base="PT30S") == RetryPolicy(base=30) == RetryPolicy(base=timedelta(seconds=30))
    )


def test_bad_policies_report_every_problem() -> None:
    """Every bad setting is reported, each at its own path."""
    with pytest.raises(ValidationError) as exc:
        RetryPolicy(
            max_attempts=0,
            base="-5 seconds",
            factor=math.nan,
            max_delay="forever",
            jitter="random",  # type: ignore[arg-type]
            max_retry_after=math.inf,
        )
    assert {p.path for p in exc.value.problems} == {
        "maxAttempts",
        "base",
        "factor",
        "maxDelay",
        "jitter",
        "maxRetryAfter",
    }
    with pytest.raises(ValidationError) as exc:
        RetryPolicy(base="1 hour", max_delay="1 minute")
    assert [p.path for p in exc.value.problems] == ["maxDelay"]
    with pytest.raises(ValidationError):
        RetryPolicy(base=0)
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=True)


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=100),
    key=st.text(max_size=20),
    jitter=st.sampled_from(["full", "equal", "none"]),
    hint=st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
)
def test_delays_stay_within_their_bounds(
    attempt: int, key: str, jitter: str, hint: float | None
) -> None:
    """A delay is never negative, never above the cap or the capped hint, and never shorter than the hint."""
    policy = RetryPolicy(jitter=jitter, max_attempts=100)  # type: ignore[arg-type]
    delay = policy.next_delay(attempt, key, retry_after=hint)
    assert timedelta(0) <= delay <= max(policy.max_delay, policy.max_retry_after)
    if hint is not None:
        assert delay >= timedelta(seconds=min(hint, policy.max_retry_after.total_seconds()))
    assert delay == policy.next_delay(attempt, key, retry_after=hint)


def _request(platform: str, key: str, attempt: int) -> PublishRequest:
    return PublishRequest(
        "c1", "u1", platform, {"caption": "hi"}, ("https://x/a.jpg",), key, attempt
    )


def test_a_job_retries_at_exactly_the_policy_times_under_a_fake_clock() -> None:
    """Driving a publish job by hand under FakeClock, attempts happen when the policy says."""
    clock = FakeClock(NOW)
    policy = RetryPolicy(max_attempts=5, base=30, factor=2, jitter="full")
    publisher = ScriptedPublisher(
        {"instagram": [Timeout(), RateLimit(retry_after=600), ServerError()]}
    )
    key = "cc-pub-instagram-abc"
    attempt, due, history = 1, clock.now(), []
    while True:
        clock.set(due)
        outcome = call_publisher(publisher, _request("instagram", key, attempt))
        decision = policy.decide(outcome, attempt=attempt, key=key, now=clock.now())
        history.append((clock.now(), type(outcome).__name__, decision.reason))
        if not decision.retry:
            break
        assert decision.next_attempt_at is not None
        attempt, due = attempt + 1, decision.next_attempt_at

    t1 = NOW + policy.next_delay(1, key)
    t2 = t1 + max(policy.next_delay(2, key), timedelta(seconds=600))
    t3 = t2 + policy.next_delay(3, key)
    assert history == [
        (NOW, "PublishFailure", "retry"),
        (t1, "PublishFailure", "retry"),
        (t2, "PublishFailure", "retry"),
        (t3, "PublishSuccess", "succeeded"),
    ]
    assert len(publisher.posts) == 1


def test_a_permanent_rejection_fails_at_once_and_exhaustion_stops() -> None:
    """A rejection is not retried; endless timeouts stop after max_attempts."""
    policy = RetryPolicy(max_attempts=3)
    publisher = ScriptedPublisher({"reddit": [Reject("rule 3")], "tiktok": [Timeout()] * 10})
    outcome = call_publisher(publisher, _request("reddit", "r", 1))
    assert policy.decide(outcome, attempt=1, key="r", now=NOW).reason == "not_retryable"
    reasons = [
        policy.decide(
            call_publisher(publisher, _request("tiktok", "t", n)), attempt=n, key="t", now=NOW
        ).reason
        for n in (1, 2, 3)
    ]
    assert reasons == ["retry", "retry", "attempts_exhausted"]
