"""The publish retry policy: capped exponential backoff with deterministic jitter.

A failed attempt ``n`` (1 for the first call) waits ``base * factor ** (n - 1)``,
capped at ``max_delay``, then jittered:

- ``"full"``: a uniform draw in ``[0, backoff)`` (AWS's "full jitter"),
- ``"equal"``: ``backoff / 2`` plus a uniform draw in ``[0, backoff / 2)``,
- ``"none"``: the backoff itself.

The draw is not random: it is derived from SHA-256 of ``(key, attempt)``, so a
given job (its idempotency key) waits the same time for a given attempt in every
process and every run. Different jobs still spread out, which is what jitter is
for, and tests under a fake clock can assert exact times. When the platform
said how long to wait (``retry_after``), the delay is at least that (capped at
``max_retry_after``). Delays are whole milliseconds, like stored timestamps.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import attrs

from campaign_core.clock import ensure_utc
from campaign_core.durations import MAX_DURATION, parse_duration
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.publishing._ports import PublishFailure, PublishOutcome, PublishSuccess

__all__ = ["JitterMode", "RetryDecision", "RetryPolicy"]

JitterMode = Literal["full", "equal", "none"]

_JITTER_MODES: Final[tuple[str, ...]] = ("full", "equal", "none")
_MAX_ATTEMPTS = 100
_MAX_FACTOR = 100.0
_MS = timedelta(milliseconds=1)


def _lenient_duration(value: Any) -> Any:
    """Turn seconds, text or a timedelta into a timedelta; leave anything else for validation."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > 1e12:
            return value
        return timedelta(seconds=value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValidationError:
            return value
    return value


def _whole_ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=math.floor(seconds * 1000))


def _truncate_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


@attrs.frozen
class RetryDecision:
    """What to do after a publish attempt.

    Attributes:
        retry: whether to try again.
        reason: ``"succeeded"``, ``"retry"``, ``"not_retryable"`` or ``"attempts_exhausted"``.
        attempt: the number of the attempt just made (1 for the first call).
        delay: the wait before the next attempt (when ``retry``).
        next_attempt_at: when to try again (when ``retry``), aware UTC, whole ms.
    """

    retry: bool
    reason: Literal["succeeded", "retry", "not_retryable", "attempts_exhausted"]
    attempt: int
    delay: timedelta | None = None
    next_attempt_at: datetime | None = None


@attrs.frozen
class RetryPolicy:
    """How failed publishes are retried.

    Durations may be given as a ``timedelta``, seconds, or text for the
    library's duration parser (``"30 seconds"``, ``"PT1H"``).

    Attributes:
        max_attempts: attempts in all, the first call included (5: one call and
            up to four retries).
        base: the backoff after the first failed attempt.
        factor: how much the backoff grows per attempt (``>= 1``).
        max_delay: the cap on the backoff (before a platform's ``retry_after``).
        jitter: ``"full"``, ``"equal"`` or ``"none"`` (see the module docstring).
        max_retry_after: the most a platform's ``retry_after`` can make us wait.
    """

    max_attempts: int = 5
    base: timedelta = attrs.field(default=timedelta(seconds=30), converter=_lenient_duration)
    factor: float = 2.0
    max_delay: timedelta = attrs.field(default=timedelta(hours=1), converter=_lenient_duration)
    jitter: JitterMode = "full"
    max_retry_after: timedelta = attrs.field(default=timedelta(days=1), converter=_lenient_duration)

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            problems.add("maxAttempts", "must be an integer", "invalid_type")
        elif not 1 <= self.max_attempts <= _MAX_ATTEMPTS:
            problems.add("maxAttempts", f"must be between 1 and {_MAX_ATTEMPTS}", "out_of_range")
        for name, path in (
            ("base", "base"),
            ("max_delay", "maxDelay"),
            ("max_retry_after", "maxRetryAfter"),
        ):
            value = getattr(self, name)
            if isinstance(value, timedelta):
                if value < timedelta(0):
                    problems.add(path, "must not be negative", "out_of_range")
                elif value > MAX_DURATION:
                    problems.add(path, "must not be longer than 100 years", "out_of_range")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if not math.isfinite(value):
                    problems.add(path, "must be finite", "not_finite")
                else:
                    problems.add(path, "must not be longer than 100 years", "out_of_range")
            else:
                try:
                    parse_duration(value, path=path)
                except ValidationError as exc:
                    problems.extend(exc)
        if isinstance(self.base, timedelta) and self.base <= timedelta(0):
            problems.add("base", "must be longer than zero", "out_of_range")
        if (
            isinstance(self.base, timedelta)
            and isinstance(self.max_delay, timedelta)
            and self.max_delay < self.base
        ):
            problems.add("maxDelay", "must not be shorter than base", "out_of_range")
        if isinstance(self.factor, bool) or not isinstance(self.factor, int | float):
            problems.add("factor", "must be a number", "invalid_type")
        elif not math.isfinite(self.factor):
            problems.add("factor", "must be finite", "not_finite")
        elif not 1 <= self.factor <= _MAX_FACTOR:
            problems.add("factor", f"must be between 1 and {_MAX_FACTOR:g}", "out_of_range")
        if self.jitter not in _JITTER_MODES:
            problems.add("jitter", f"must be one of {', '.join(_JITTER_MODES)}")
        problems.raise_if_any()

    @staticmethod
    def _check_attempt(attempt: object) -> int:
        if isinstance(attempt, bool) or not isinstance(attempt, int):
            raise ValidationError.single("attempt", "must be an integer", "invalid_type")
        if attempt < 1:
            raise ValidationError.single("attempt", "must be at least 1", "out_of_range")
        return attempt

    def backoff(self, attempt: int) -> timedelta:
        """The capped exponential backoff after failed attempt ``attempt``, before jitter.

        Args:
            attempt: the number of the attempt that failed (``>= 1``).

        Returns:
            ``min(base * factor ** (attempt - 1), max_delay)``, in whole milliseconds.

        Raises:
            ValidationError: ``attempt`` is not a positive integer.
        """
        self._check_attempt(attempt)
        cap = self.max_delay.total_seconds()
        # Compare in logs first: factor ** attempt overflows floats for large attempts.
        exponent = attempt - 1
        base = self.base.total_seconds()
        if self.factor > 1 and exponent * math.log(self.factor) > math.log(cap / base):
            return _whole_ms(cap)
        return _whole_ms(min(base * self.factor**exponent, cap))

    @staticmethod
    def jitter_fraction(key: str, attempt: int) -> float:
        """The deterministic uniform draw in ``[0, 1)`` for a job's attempt.

        Args:
            key: the job's stable key (its idempotency key).
            attempt: the attempt number.

        Returns:
            ``int(sha256(key, attempt)[:8]) / 2**64``.
        """
        digest = hashlib.sha256(f"{key}\x00{attempt}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def next_delay(self, attempt: int, key: str, *, retry_after: float | None = None) -> timedelta:
        """How long to wait after failed attempt ``attempt`` of the job ``key``.

        Args:
            attempt: the number of the attempt that failed (1 for the first call).
            key: the job's stable key (its idempotency key); seeds the jitter.
            retry_after: seconds the platform asked us to wait, if it said. The
                delay is at least this, capped at ``max_retry_after``; a value
                that is negative, NaN or not a number is ignored (it comes from
                a platform, and a bad hint must not stop the retry).

        Returns:
            The delay, in whole milliseconds (rounded up where ``retry_after`` sets it).

        Raises:
            ValidationError: ``attempt`` is not a positive integer or ``key`` not a string.
        """
        self._check_attempt(attempt)
        if not isinstance(key, str):
            raise ValidationError.single("key", "must be a string", "invalid_type")
        backoff = self.backoff(attempt).total_seconds()
        draw = self.jitter_fraction(key, attempt)
        if self.jitter == "full":
            seconds = backoff * draw
        elif self.jitter == "equal":
            seconds = backoff / 2 + backoff / 2 * draw
        else:
            seconds = backoff
        delay = _whole_ms(seconds)
        hint = _sanitize_retry_after(retry_after)
        if hint is not None:
            cap = self.max_retry_after.total_seconds()
            floor = timedelta(milliseconds=math.ceil(min(hint, cap) * 1000))
            delay = max(delay, floor)
        return delay

    def schedule(self, key: str) -> tuple[timedelta, ...]:
        """Every delay the job ``key`` would wait if every attempt failed (no ``retry_after``).

        Returns:
            ``max_attempts - 1`` delays: after attempt 1, 2, ...
        """
        return tuple(self.next_delay(n, key) for n in range(1, self.max_attempts))

    def should_retry(self, attempt: int, *, retryable: bool = True) -> bool:
        """Whether a failure of attempt ``attempt`` is tried again.

        Raises:
            ValidationError: ``attempt`` is not a positive integer.
        """
        return bool(retryable) and self._check_attempt(attempt) < self.max_attempts

    def decide(
        self, outcome: PublishOutcome, *, attempt: int, key: str, now: datetime
    ) -> RetryDecision:
        """What to do after attempt ``attempt`` of job ``key`` ended with ``outcome``.

        Args:
            outcome: the attempt's outcome (an exception must have been turned
                into a retryable failure first: see ``call_publisher``).
            attempt: the number of the attempt just made (1 for the first call).
            key: the job's stable key (its idempotency key).
            now: when the attempt ended (aware; from the injected clock).

        Returns:
            ``retry=False`` with reason ``succeeded``, ``not_retryable`` or
            ``attempts_exhausted``; or ``retry=True`` with the delay and the
            time of the next attempt.

        Raises:
            ValidationError: a bad ``attempt``, ``key``, ``now`` or ``outcome``.
        """
        self._check_attempt(attempt)
        when = ensure_utc(now, path="now")
        if isinstance(outcome, PublishSuccess):
            return RetryDecision(retry=False, reason="succeeded", attempt=attempt)
        if not isinstance(outcome, PublishFailure):
            raise ValidationError.single(
                "outcome", "must be a PublishSuccess or a PublishFailure", "invalid_type"
            )
        if not outcome.retryable:
            return RetryDecision(retry=False, reason="not_retryable", attempt=attempt)
        if attempt >= self.max_attempts:
            return RetryDecision(retry=False, reason="attempts_exhausted", attempt=attempt)
        delay = self.next_delay(attempt, key, retry_after=outcome.retry_after)
        return RetryDecision(
            retry=True,
            reason="retry",
            attempt=attempt,
            delay=delay,
            next_attempt_at=_truncate_ms(when + delay),
        )

    def to_json(self) -> dict[str, Any]:
        """The policy as JSON (durations in seconds)."""
        return {
            "maxAttempts": self.max_attempts,
            "base": self.base.total_seconds(),
            "factor": self.factor,
            "maxDelay": self.max_delay.total_seconds(),
            "jitter": self.jitter,
            "maxRetryAfter": self.max_retry_after.total_seconds(),
        }


def _sanitize_retry_after(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value) or value < 0:
        return None
    return float(value)
