"""``db upgrade``, ``tick`` and ``worker``: the commands that prepare and run the engine."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from campaign_core.cli._common import (
    CliState,
    JsonOption,
    cli_state,
    echo_json,
    handled,
    open_core,
    spinner,
    stderr_console,
    stdout_console,
    to_json,
)
from campaign_core.cli._exit import ExitCode
from campaign_core.cli._factory import load_core
from campaign_core.cli._render import render_tick
from campaign_core.cli._store import describe_url, open_store
from campaign_core.cli._worker import (
    StopRequest,
    TickOutcome,
    check_worker_options,
    handle_stop_signals,
    run_worker,
)
from campaign_core.errors import StoreUnavailableError

__all__ = ["db_upgrade", "tick", "worker"]


def db_upgrade(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Create or migrate campaign-core's tables in the database."""
    state = cli_state(ctx, json_output)
    with handled(state):
        if state.core:
            _upgrade_core_store(state)
            return
        store = open_store(state.database_url, require_schema=False)
        shown = describe_url(state.database_url)
        try:
            with spinner(state, f"migrating {shown}"):
                store.upgrade()
        except StoreUnavailableError as error:
            raise StoreUnavailableError(
                f"cannot reach the database {shown}: {error.message}", details={"url": shown}
            ) from None
        finally:
            store.close()
        if state.json:
            echo_json({"ok": True, "database": shown})
        else:
            stdout_console().print(f"schema up to date: {shown}", markup=False)


def _upgrade_core_store(state: CliState) -> None:
    """``db upgrade`` with ``--core``: migrate the store of the host's core, nothing else."""
    assert state.core is not None
    core = load_core(state.core)
    store = core.runtime.store
    shown = f"the store of --core {state.core}"
    engine = getattr(store, "engine", None)
    if engine is not None:
        shown = describe_url(engine.url.render_as_string(hide_password=False))
    try:
        upgrade = getattr(store, "upgrade", None)
        if upgrade is None:
            message = f"{shown} ({type(store).__name__}) has no database schema: nothing to do"
        else:
            upgrade()
            message = f"schema up to date: {shown}"
    finally:
        core.close()
    if state.json:
        echo_json({"ok": True, "database": shown})
    else:
        stdout_console().print(message, markup=False)


def _where(state: CliState) -> str:
    return f"--core {state.core}" if state.core else describe_url(state.database_url)


def tick(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Run the engine once (launches, publish retries, segment refreshes, roll-ups, automations). Exit 1 on errors."""
    state = cli_state(ctx, json_output)
    with handled(state):
        core = open_core(state, runs_engine=True)
        try:
            with spinner(state, "ticking"):
                report = core.tick()
        finally:
            core.close()
        body: dict[str, Any] = to_json(report)
        if state.json:
            echo_json(body)
        else:
            render_tick(stdout_console(), body)
        if report.errors:
            raise typer.Exit(int(ExitCode.FAILED))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _tick_line(outcome: TickOutcome) -> str:
    if outcome.report is None:
        return f"tick {outcome.number} failed: {outcome.error}"
    report = outcome.report
    return (
        f"tick {outcome.number} at {to_json(report.now)}: "
        f"launched {len(report.campaigns_launched)}, "
        f"publish attempts {report.publish_attempts}, errors {len(report.errors)} "
        f"({outcome.seconds * 1000:.0f} ms)"
    )


def worker(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds to wait between ticks.")
    ] = 5.0,
    max_ticks: Annotated[
        int | None,
        typer.Option(
            "--max-ticks", help="Stop after this many ticks (default: run until stopped)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Tick in a loop until SIGINT/SIGTERM, which stops it after the current tick.

    Several workers may run at once against one PostgreSQL or MariaDB database.
    """
    state = cli_state(ctx, json_output)
    log = logging.getLogger("campaign_core.cli.worker")
    with handled(state):
        check_worker_options(interval, max_ticks)
        core = open_core(state, runs_engine=True)
        shown = _where(state)
        log.info(
            "worker %s started on %s (every %gs%s)",
            core.runtime.worker_id,
            shown,
            interval,
            f", stopping after {_plural(max_ticks, 'tick')}" if max_ticks else "",
        )
        err = stderr_console()
        show_progress = state.verbose and not state.json and err.is_terminal
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn() if max_ticks else TextColumn(""),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not show_progress,
        )

        def on_tick(outcome: TickOutcome) -> None:
            if outcome.report is None:
                log.error("%s; retrying in %.0f s", _tick_line(outcome), outcome.next_delay or 0.0)
            else:
                log.info("%s", _tick_line(outcome))
                for error in outcome.report.errors:
                    log.warning("  %s %s: %s", error.job, error.entity_id, error.error)
            if state.json:
                line = {
                    "tick": outcome.number,
                    "report": to_json(outcome.report) if outcome.report else None,
                    "error": outcome.error.to_json() if outcome.error else None,
                    "seconds": round(outcome.seconds, 6),
                }
                typer.echo(json.dumps(line, ensure_ascii=False))
            progress.update(task, completed=outcome.number, description=f"tick {outcome.number}")

        stop = StopRequest()
        try:
            with progress, handle_stop_signals(stop):
                task = progress.add_task("starting", total=max_ticks)
                summary = run_worker(
                    core.tick,
                    interval=interval,
                    max_ticks=max_ticks,
                    batch_size=core.settings.tick_batch_size,
                    stop=stop,
                    on_tick=on_tick,
                )
        finally:
            core.close()
        log.info(
            "worker stopped (%s) after %s: launched %d, publish attempts %d, "
            "errors %d, failed ticks %d",
            summary.stopped_by,
            _plural(summary.ticks, "tick"),
            summary.campaigns_launched,
            summary.publish_attempts,
            summary.errors,
            summary.failed_ticks,
        )
        if state.json:
            typer.echo(json.dumps({"summary": summary.to_json()}))
        if summary.failed_ticks and summary.stopped_by == "max_ticks":
            # a bounded run (cron, a job) whose ticks failed did not do its work: say so in
            # the exit code, as `tick` does; a worker stopped by a signal stopped as asked
            raise typer.Exit(int(ExitCode.FAILED))
