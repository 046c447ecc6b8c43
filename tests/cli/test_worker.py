"""The worker loop: ticks, waits, catch-up, backoff, graceful stop on signals."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign_core import StoreUnavailableError, TickReport
from campaign_core.cli import ExitCode
from campaign_core.cli._worker import (
    MAX_BACKOFF_SECONDS,
    StopRequest,
    TickOutcome,
    check_worker_options,
    handle_stop_signals,
    run_worker,
)
from campaign_core.errors import ValidationError
from tests.cli.conftest import Invoke, module_command, subprocess_env

NOW = datetime(2026, 1, 1, tzinfo=UTC)

main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed from the main thread",
)


class FakeSleep:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def ticks_of(*reports: TickReport | Exception):
    """A tick function that plays the given reports (or raises the given errors) in turn."""
    queue = list(reports)

    def tick() -> TickReport:
        item = queue.pop(0) if queue else TickReport(now=NOW)
        if isinstance(item, Exception):
            raise item
        return item

    return tick


def test_runs_max_ticks_and_sums_them() -> None:
    """With max_ticks the loop runs exactly that many ticks and totals their work."""
    outcomes: list[TickOutcome] = []
    summary = run_worker(
        ticks_of(
            TickReport(now=NOW, campaigns_launched=("a", "b"), publish_attempts=5),
            TickReport(now=NOW, publish_attempts=1),
        ),
        interval=0,
        max_ticks=3,
        on_tick=outcomes.append,
    )
    assert [o.number for o in outcomes] == [1, 2, 3]
    assert outcomes[-1].next_delay is None
    assert (summary.ticks, summary.campaigns_launched, summary.publish_attempts) == (3, 2, 6)
    assert summary.stopped_by == "max_ticks"
    assert summary.to_json()["stoppedBy"] == "max_ticks"


def test_waits_the_interval_between_ticks_in_short_slices() -> None:
    """The wait between ticks is the interval, taken in short sleeps that watch for a stop."""
    sleep = FakeSleep()
    outcomes: list[TickOutcome] = []
    run_worker(ticks_of(), interval=0.2, max_ticks=2, sleep=sleep, on_tick=outcomes.append)
    assert outcomes[0].next_delay == 0.2
    assert sleep.calls, "the loop slept between the ticks"
    assert max(sleep.calls) <= 0.05 + 1e-9


def test_a_full_batch_is_followed_at_once_by_another_tick() -> None:
    """A tick that hit the batch size means more may be due: no waiting before the next."""
    outcomes: list[TickOutcome] = []
    run_worker(
        ticks_of(TickReport(now=NOW, campaigns_launched=tuple("abc"))),
        interval=30,
        max_ticks=2,
        batch_size=3,
        on_tick=outcomes.append,
    )
    assert outcomes[0].next_delay == 0.0


def test_store_failures_back_off_exponentially_and_recover() -> None:
    """Failed ticks are counted and retried after doubling delays, capped; success resets it."""
    down = StoreUnavailableError("database is down")
    outcomes: list[TickOutcome] = []
    summary = run_worker(
        ticks_of(down, down, down, TickReport(now=NOW)),
        interval=2,
        max_ticks=5,
        on_tick=outcomes.append,
        sleep=FakeSleep(),
        stop=None,
    )
    assert [o.next_delay for o in outcomes[:4]] == [2.0, 4.0, 8.0, 2.0]
    assert outcomes[0].error is down
    assert outcomes[0].report is None
    assert (summary.ticks, summary.failed_ticks) == (5, 3)


def test_backoff_is_capped() -> None:
    """However long the store is down, the wait never exceeds MAX_BACKOFF_SECONDS."""
    outcomes: list[TickOutcome] = []
    run_worker(
        ticks_of(*[StoreUnavailableError("down")] * 10),
        interval=5,
        max_ticks=10,
        on_tick=outcomes.append,
        sleep=lambda s: None,
    )
    delays = [o.next_delay for o in outcomes if o.next_delay is not None]
    assert max(delays) == MAX_BACKOFF_SECONDS


def test_bugs_in_tick_propagate() -> None:
    """An exception that is not a library error is a bug and is not swallowed."""
    with pytest.raises(ZeroDivisionError):
        run_worker(ticks_of(ZeroDivisionError()), interval=0, max_ticks=2)


def test_a_stop_during_a_tick_lets_it_finish_then_stops() -> None:
    """A stop requested in the middle of a tick ends the loop after that tick completes."""
    stop = StopRequest()
    finished: list[int] = []

    def tick() -> TickReport:
        stop.request("SIGTERM")
        finished.append(1)  # the rest of the tick still runs
        return TickReport(now=NOW, publish_attempts=1)

    summary = run_worker(tick, interval=60, stop=stop)
    assert finished == [1]
    assert (summary.ticks, summary.publish_attempts, summary.stopped_by) == (1, 1, "SIGTERM")


@main_thread_only
def test_sigterm_during_a_tick_stops_gracefully() -> None:
    """A real SIGTERM delivered mid-tick is noted; the tick completes and the loop ends."""
    stop = StopRequest()
    progress: list[str] = []

    def tick() -> TickReport:
        progress.append("started")
        signal.raise_signal(signal.SIGTERM)
        progress.append("finished")
        return TickReport(now=NOW)

    previous = signal.getsignal(signal.SIGTERM)
    with handle_stop_signals(stop):
        summary = run_worker(tick, interval=60, stop=stop)
    assert progress == ["started", "finished"]
    assert summary.stopped_by == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is previous


@main_thread_only
def test_second_sigint_aborts() -> None:
    """Ctrl-C twice raises KeyboardInterrupt instead of waiting for the tick."""
    stop = StopRequest()
    with handle_stop_signals(stop):
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        assert stop.reason == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_outside_the_main_thread_signals_are_left_alone() -> None:
    """In another thread the context manager installs nothing and still yields the flag."""
    seen: list[bool] = []

    def body() -> None:
        before = signal.getsignal(signal.SIGTERM)
        with handle_stop_signals(StopRequest()) as stop:
            seen.append(signal.getsignal(signal.SIGTERM) is before and not stop.requested)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [True]


@pytest.mark.parametrize(
    ("interval", "max_ticks", "path"),
    [
        (float("nan"), None, "--interval"),
        (float("inf"), None, "--interval"),
        (-1, None, "--interval"),
        (86_401, None, "--interval"),
        ("5", None, "--interval"),
        (1, 0, "--max-ticks"),
        (1, True, "--max-ticks"),
    ],
)
def test_bad_options(interval: object, max_ticks: object, path: str) -> None:
    """Bad intervals and tick counts are refused with the option's name."""
    with pytest.raises(ValidationError) as error:
        check_worker_options(interval, max_ticks)
    assert error.value.problems[0].path == path


def test_cli_worker_runs_max_ticks_and_logs_each(cli: Invoke, db_url: str) -> None:
    """`worker --max-ticks 3` runs three ticks, logs each with the logging module, exits 0."""
    result = cli("--database-url", db_url, "worker", "--interval", "0", "--max-ticks", "3")
    assert result.exit_code == 0, result.stderr
    for n in (1, 2, 3):
        assert f"INFO campaign_core.cli.worker: tick {n} at " in result.stderr
    assert "worker stopped (max_ticks) after 3 ticks" in result.stderr


def test_cli_worker_json_lines(cli: Invoke, db_url: str) -> None:
    """With --json the worker prints one JSON object per tick, then a summary line."""
    result = cli(
        "--database-url", db_url, "worker", "--interval", "0", "--max-ticks", "2", "--json"
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("tick") for line in lines[:2]] == [1, 2]
    assert lines[0]["report"]["errors"] == []
    assert lines[0]["error"] is None
    assert lines[-1]["summary"]["ticks"] == 2


@pytest.mark.parametrize(
    "args", [["--interval", "nan"], ["--interval", "-3"], ["--max-ticks", "0"]]
)
def test_cli_worker_bad_options_exit_2_before_touching_the_store(
    cli: Invoke, args: list[str]
) -> None:
    """Bad worker options are usage errors, even with no database at all."""
    result = cli("--database-url", "sqlite:///absent.sqlite3", "worker", *args)
    assert result.exit_code == ExitCode.USAGE


def test_cli_worker_without_database_exits_4(cli: Invoke) -> None:
    """A worker pointed at a database that does not exist stops at once with exit 4."""
    result = cli("--database-url", "sqlite:///absent.sqlite3", "worker", "--max-ticks", "1")
    assert result.exit_code == ExitCode.STORE_UNAVAILABLE


def test_sigterm_stops_a_running_worker_process_gracefully(db_url: str, workdir: Path) -> None:
    """A worker process that gets SIGTERM finishes its tick, logs a summary and exits 0."""
    process = subprocess.Popen(
        module_command("--database-url", db_url, "worker", "--interval", "0.05"),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=workdir,
    )
    try:
        assert process.stderr is not None
        # wait on the event itself (the second tick's line, or the process ending), never on
        # a wall-clock budget: a busy machine may take long to start Python
        seen = ""
        while "tick 2 at" not in seen:
            line = process.stderr.readline()
            if not line:
                break
            seen += line
        assert "tick 2 at" in seen, seen
        process.send_signal(signal.SIGTERM)
        # the timeout only keeps a hung worker from hanging the suite; it is not a budget
        _, rest = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, seen + rest
    assert "SIGTERM received: stopping after the current tick" in rest
    assert "worker stopped (SIGTERM)" in rest
