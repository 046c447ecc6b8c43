"""The worker loop behind ``campaign-core worker``: tick, wait, repeat, stop cleanly.

The core never sleeps: ``core.tick()`` does what is due and returns. Waiting
between ticks belongs to whoever runs the loop, here. A stop request
(SIGINT or SIGTERM) is only *noted*; the tick in progress runs to its end, its
transaction commits, and the loop exits before the next one. A second SIGINT
(Ctrl-C twice) stops at once. Several workers may run this loop against one
PostgreSQL or MariaDB database: each item of due work is claimed by one of
them (``SELECT ... FOR UPDATE SKIP LOCKED`` and leases in the store).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

import attrs

from campaign_core.errors import CampaignCoreError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core._core import TickReport

__all__ = [
    "MAX_BACKOFF_SECONDS",
    "StopRequest",
    "TickOutcome",
    "WorkerSummary",
    "check_worker_options",
    "handle_stop_signals",
    "run_worker",
]

_log = logging.getLogger("campaign_core.cli.worker")

#: The longest a worker waits between retries while its store is failing.
MAX_BACKOFF_SECONDS: Final = 60.0
#: How often the wait between ticks checks for a stop request.
_POLL_SECONDS: Final = 0.05
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A flag the signal handlers set and the loop reads between ticks.

    Setting it only flips a boolean: no locks, so it is safe from a signal
    handler at any point of the main thread.
    """

    def __init__(self) -> None:
        self.requested = False
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        """Ask the loop to stop after the current tick."""
        if not self.requested:
            self.reason = reason
        self.requested = True


@contextmanager
def handle_stop_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Turn SIGINT and SIGTERM into a graceful stop for the duration of the block.

    The first signal sets ``stop``; a second SIGINT raises
    :class:`KeyboardInterrupt` (the user insists). The previous handlers are
    restored on exit. Outside the main thread (where Python cannot install
    handlers) the block runs without them.

    Args:
        stop: the flag to set.

    Yields:
        ``stop``.
    """
    if threading.current_thread() is not threading.main_thread():
        _log.debug("not in the main thread: signals are not handled")
        yield stop
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.request(name)
        # Only an unbuffered write here: the handler may run in the middle of a
        # logging or print call on the same stream, which would not be reentrant.
        notice = f"{name} received: stopping after the current tick (Ctrl-C again to abort)\n"
        with contextlib.suppress(OSError):
            os.write(2, notice.encode())

    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@attrs.frozen
class TickOutcome:
    """One pass of the loop.

    Attributes:
        number: 1 for the first tick of this worker.
        report: what the tick did, or ``None`` when it failed as a whole.
        error: the error that made the whole tick fail (the store was
            unreachable...), or ``None``.
        seconds: how long the tick took (wall clock).
        next_delay: how long the loop waits before the next tick (``None`` on
            the last one).
    """

    number: int
    report: TickReport | None
    error: CampaignCoreError | None
    seconds: float
    next_delay: float | None


@attrs.frozen
class WorkerSummary:
    """What a worker did before it stopped.

    Attributes:
        ticks: ticks run (failed ones included).
        failed_ticks: ticks that failed as a whole.
        campaigns_launched: scheduled campaigns launched, over all ticks.
        publish_attempts: publish attempts, over all ticks.
        errors: per-item errors reported by the ticks.
        stopped_by: ``"SIGINT"``, ``"SIGTERM"`` or ``"max_ticks"``.
    """

    ticks: int
    failed_ticks: int
    campaigns_launched: int
    publish_attempts: int
    errors: int
    stopped_by: str | None

    def to_json(self) -> dict[str, Any]:
        """camelCase JSON form."""
        return {
            "ticks": self.ticks,
            "failedTicks": self.failed_ticks,
            "campaignsLaunched": self.campaigns_launched,
            "publishAttempts": self.publish_attempts,
            "errors": self.errors,
            "stoppedBy": self.stopped_by,
        }


def check_worker_options(interval: object, max_ticks: object) -> float:
    """Check the worker's options before anything starts.

    Args:
        interval: seconds between ticks: a finite number in ``0..86400``.
        max_ticks: ``None`` or a positive whole number.

    Returns:
        ``interval`` as a float.

    Raises:
        ValidationError: naming ``--interval`` or ``--max-ticks``.
    """
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ValidationError.single("--interval", "must be a number of seconds", "invalid_type")
    if not math.isfinite(interval):
        raise ValidationError.single("--interval", f"must be finite, got {interval}", "not_finite")
    if not 0 <= interval <= 86_400:
        raise ValidationError.single(
            "--interval", f"must be between 0 and 86400 seconds, got {interval:g}", "out_of_range"
        )
    if max_ticks is not None and (
        isinstance(max_ticks, bool) or not isinstance(max_ticks, int) or max_ticks < 1
    ):
        raise ValidationError.single(
            "--max-ticks", "must be a positive whole number", "out_of_range"
        )
    return float(interval)


def _wait(seconds: float, stop: StopRequest, sleep: Callable[[float], None]) -> None:
    """Wait ``seconds`` in short slices, returning early on a stop request.

    A signal does not cut ``time.sleep`` short (PEP 475 resumes it), hence the
    slices: a stop is noticed within ``_POLL_SECONDS``. The slices are summed
    rather than timed so that a fake ``sleep`` makes the wait instant in tests.
    """
    left = seconds
    while left > 0 and not stop.requested:
        step = min(left, _POLL_SECONDS)
        sleep(step)
        left -= step


def run_worker(
    tick: Callable[[], TickReport],
    *,
    interval: float = 5.0,
    max_ticks: int | None = None,
    batch_size: int | None = None,
    stop: StopRequest | None = None,
    on_tick: Callable[[TickOutcome], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkerSummary:
    """Call ``tick`` every ``interval`` seconds until stopped.

    A tick that hit ``batch_size`` (more work may be due) is followed at once
    by the next one. A tick that fails as a whole with a library error (the
    store is unreachable, say) is logged and retried with an exponential
    backoff capped at :data:`MAX_BACKOFF_SECONDS`; any other exception is a
    bug and propagates.

    Args:
        tick: one pass of the engine, usually ``core.tick``.
        interval: seconds between the end of a tick and the next, ``0..86400``.
        max_ticks: stop after this many ticks (``None``: run until stopped).
        batch_size: the core's ``tick_batch_size``, to catch up without waiting.
        stop: the stop flag (see :func:`handle_stop_signals`); a new one if omitted.
        on_tick: called after every tick with its outcome (logging, output).
        sleep: the sleep function (tests pass a fake).

    Returns:
        A summary of the run.

    Raises:
        ValidationError: a bad ``interval`` or ``max_ticks``.
    """
    seconds = check_worker_options(interval, max_ticks)
    stop = stop or StopRequest()
    ticks = failed = launched = attempts = errors = 0
    consecutive_failures = 0
    while not stop.requested and (max_ticks is None or ticks < max_ticks):
        started = time.monotonic()
        report: TickReport | None = None
        failure: CampaignCoreError | None = None
        try:
            report = tick()
        except CampaignCoreError as error:
            failure = error
        ticks += 1
        if report is not None:
            consecutive_failures = 0
            launched += len(report.campaigns_launched)
            attempts += report.publish_attempts
            errors += len(report.errors)
            full = batch_size is not None and (
                len(report.campaigns_launched) >= batch_size
                or report.publish_attempts >= batch_size
            )
            delay = 0.0 if full else seconds
        else:
            failed += 1
            consecutive_failures += 1
            delay = min(max(seconds, 1.0) * 2 ** (consecutive_failures - 1), MAX_BACKOFF_SECONDS)
        last = stop.requested or (max_ticks is not None and ticks >= max_ticks)
        if on_tick is not None:
            on_tick(
                TickOutcome(
                    number=ticks,
                    report=report,
                    error=failure,
                    seconds=time.monotonic() - started,
                    next_delay=None if last else delay,
                )
            )
        if last:
            break
        _wait(delay, stop, sleep)
    stopped_by = stop.reason if stop.requested else "max_ticks"
    return WorkerSummary(
        ticks=ticks,
        failed_ticks=failed,
        campaigns_launched=launched,
        publish_attempts=attempts,
        errors=errors,
        stopped_by=stopped_by,
    )
