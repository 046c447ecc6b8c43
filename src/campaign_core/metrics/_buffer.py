"""The buffering both delivering adapters share: bounded, flushed by size, clock and close.

No thread is started: a flush happens inside ``emit`` when the buffer reaches
``flush_at`` points or when ``flush_interval`` has passed on the injected clock
since the last flush, inside ``flush()``, and inside ``close()``. While one
thread flushes, an ``emit`` that finds a flush due does not wait for it.

An adapter may pause delivery (:meth:`BufferedSink._delivery_paused`, CloudWatch's
circuit breaker): a flush then returns at once, without taking the buffer, and
points keep accumulating up to ``max_buffer``. An adapter may also hand points
it did not get to send back to the buffer (:meth:`BufferedSink._requeue`).
What is still buffered after the flush of ``close()`` is dropped and counted
in ``dropped_unavailable``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from campaign_core.clock import Clock, SystemClock
from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.metrics._base import MetricPoint, SinkStats, _Counters

__all__: list[str] = []

LOGGER: Final = logging.getLogger("campaign_core.metrics")

_MAX_BUFFER_LIMIT: Final = 10_000_000


def should_log(occurrence: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th... occurrence of a repeated failure."""
    return occurrence > 0 and occurrence & (occurrence - 1) == 0


def check_positive_int(
    problems: ProblemCollector, path: str, value: object, *, maximum: int
) -> None:
    """Record a problem unless ``value`` is an int in [1, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"expected an integer, got {type(value).__name__}", "invalid_type")
    elif not 1 <= value <= maximum:
        problems.add(path, f"must be between 1 and {maximum}", "out_of_range")


class BufferedSink:
    """Base of the adapters that buffer points and deliver them in batches.

    Subclasses implement :meth:`_deliver` (which must not raise for delivery
    failures: it counts them) and may override :meth:`_release` and
    :meth:`_delivery_paused`.
    """

    def __init__(
        self,
        *,
        clock: Clock | None,
        flush_interval: str | timedelta | None,
        flush_at: int,
        max_buffer: int,
        logger: logging.Logger | None,
    ) -> None:
        problems = ProblemCollector()
        interval: timedelta | None = None
        if flush_interval is not None:
            try:
                interval = parse_duration(flush_interval, path="flush_interval")
            except ValidationError as exc:
                problems.extend(exc)
            else:
                if interval <= timedelta(0):
                    problems.add("flush_interval", "must be positive", "out_of_range")
        check_positive_int(problems, "max_buffer", max_buffer, maximum=_MAX_BUFFER_LIMIT)
        check_positive_int(problems, "flush_at", flush_at, maximum=_MAX_BUFFER_LIMIT)
        if not problems and flush_at > max_buffer:
            problems.add("flush_at", "must not exceed max_buffer", "out_of_range")
        given_clock: object = clock
        if given_clock is not None and not isinstance(given_clock, Clock):
            problems.add("clock", "expected a Clock (with now())", "invalid_type")
        problems.raise_if_any()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._interval = interval
        self._flush_at = flush_at
        self._max_buffer = max_buffer
        self._logger = logger if logger is not None else LOGGER
        self._buffer: deque[MetricPoint] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._counters = _Counters()
        self._closed = False
        self._last_flush = self._clock.now()
        self._failures_logged = 0

    @property
    def stats(self) -> SinkStats:
        """A snapshot of the adapter's counters."""
        return self._counters.snapshot()

    @property
    def buffered(self) -> int:
        """How many points wait in the buffer."""
        with self._lock:
            return len(self._buffer)

    def emit(self, point: MetricPoint) -> None:
        """Buffer ``point``; flush when the buffer is full enough or the interval passed."""
        try:
            with self._lock:
                if self._closed:
                    self._counters.add("dropped_closed")
                    return
                if len(self._buffer) >= self._max_buffer:
                    # Drop-oldest: recent points say more about the present.
                    self._buffer.popleft()
                    self._counters.add("dropped_buffer_full")
                self._buffer.append(point)
                self._counters.add("accepted")
                due = len(self._buffer) >= self._flush_at or self._interval_due()
            if due:
                self._flush(wait=False)
        except Exception as exc:  # the contract: emit never raises
            self._report_failure("emit failed", exc)

    def flush(self) -> None:
        """Deliver every buffered point; never raises."""
        try:
            self._flush(wait=True)
        except Exception as exc:
            self._report_failure("flush failed", exc)

    def close(self) -> None:
        """Flush, release resources; later points are dropped and counted. Idempotent.

        Points the final flush could not send (delivery paused, or the flush
        ran out of time) are dropped and counted in ``dropped_unavailable``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.flush()
        with self._flush_lock, self._lock:  # after any flush still running elsewhere
            left = len(self._buffer)
            self._buffer.clear()
        self._counters.add("dropped_unavailable", left)
        try:
            self._release()
        except Exception as exc:
            self._report_failure("close failed", exc)

    def _interval_due(self) -> bool:
        return self._interval is not None and self._clock.now() - self._last_flush >= self._interval

    def _flush(self, *, wait: bool) -> None:
        if not self._flush_lock.acquire(blocking=wait):
            return  # another thread is flushing; the points wait for the next flush
        try:
            if self._delivery_paused():
                return  # the points stay buffered (bounded) until delivery resumes
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
                self._last_flush = self._clock.now()
            if batch:
                try:
                    self._deliver(batch)
                except Exception as exc:  # a bug in delivery still loses no more than the batch
                    self._counters.add("dropped_rejected", len(batch))
                    self._report_failure(f"delivery failed, {len(batch)} points dropped", exc)
        finally:
            self._flush_lock.release()

    def _report_failure(self, message: str, exc: BaseException) -> None:
        self._counters.add("failures")
        with self._lock:
            self._failures_logged += 1
            occurrence = self._failures_logged
        if should_log(occurrence):
            self._logger.warning(
                "metrics: %s: %s (%d failures so far)",
                message,
                exc,
                occurrence,
                # one line by default; the traceback (boto3's is long) only when debugging
                exc_info=(
                    (type(exc), exc, exc.__traceback__)
                    if self._logger.isEnabledFor(logging.DEBUG)
                    else None
                ),
            )

    def _requeue(self, points: Sequence[MetricPoint]) -> None:
        """Put points a flush did not send back at the front of the buffer.

        They are older than anything emitted meanwhile; beyond ``max_buffer``
        the oldest are dropped and counted in ``dropped_buffer_full``.
        """
        with self._lock:
            self._buffer.extendleft(reversed(points))
            overflow = len(self._buffer) - self._max_buffer
            for _ in range(overflow):
                self._buffer.popleft()
        self._counters.add("dropped_buffer_full", max(overflow, 0))

    def _delivery_paused(self) -> bool:
        """Whether a flush must leave the buffer alone for now (called under the flush lock)."""
        return False

    def _deliver(self, points: Sequence[MetricPoint]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _release(self) -> None:
        return None
