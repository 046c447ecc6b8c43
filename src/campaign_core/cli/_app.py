"""The typer application: commands, global options, errors mapped to exit codes.

Imported only through :func:`campaign_core.cli.load_app`, which checks first
that typer and rich are installed.
"""

from __future__ import annotations

import enum
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import attrs
import typer
import typer.core
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from campaign_core._version import __version__
from campaign_core.cli import _demo
from campaign_core.cli._csvinput import csv_paths, parse_split, parse_variant_csv
from campaign_core.cli._exit import ExitCode, FeatureNotAvailableError
from campaign_core.cli._factory import CORE_FACTORY_ENV, load_core
from campaign_core.cli._render import (
    render_decision,
    render_demo,
    render_error,
    render_provision,
    render_tick,
)
from campaign_core.cli._store import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    check_schema,
    describe_url,
    open_store,
    sqlite_file,
)
from campaign_core.cli._worker import (
    StopRequest,
    TickOutcome,
    check_worker_options,
    handle_stop_signals,
    run_worker,
)
from campaign_core.errors import (
    CampaignCoreError,
    MissingDependencyError,
    ProblemCollector,
    StoreUnavailableError,
    ValidationError,
    join_path,
)
from campaign_core.serialization import check_json_value, to_json

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core._core import CampaignCore, Workspace

__all__ = ["app"]

#: Reading more than this from a CSV or JSON input is refused (it is counts, not data).
MAX_INPUT_BYTES = 10 * 1024 * 1024
_LOGGER_NAME = "campaign_core"

#: what a value option's placeholder says in --help (instead of the type, ``<str>``)
_PLACEHOLDERS: Final = {
    "database_url": "URL",
    "core": "MODULE:ATTRIBUTE",
    "owner": "ACCOUNT_ID",
    "interval": "SECONDS",
    "max_ticks": "N",
    "report": "FILE",
    "output": "FILE",
    "split": "NAME=PERCENT,...",
    "dimension": "NAME=VALUE",
    "alarm_action": "ARN",
    "ok_action": "ARN",
    "namespace": "NAMESPACE",
    "region": "REGION",
    "dashboard_name": "NAME",
    "alarm_prefix": "PREFIX",
    "since": "DATE",
    "until": "DATE",
}


def _plain_placeholders(params: list[Any]) -> None:
    """Give each parameter a plain placeholder for --help (``--owner ACCOUNT_ID``, ``CAMPAIGN_ID``).

    This typer writes a value's Python type as its placeholder (``<str>``, ``<list[str]>``)
    and a required argument in braces (``{CAMPAIGN_ID}``); neither means anything to
    someone reading the help. Typer vendors its own click, so parameters are told apart by
    their kind, not their class.
    """
    for param in params:
        if param.param_type_name == "argument":
            name = (param.metavar or param.name or "VALUE").upper()
            param.metavar = name
            # instance attributes shadow typer's methods of the same names
            param._usage_display_name = lambda name=name: name
            param.display_type_rich = lambda ctx: ""
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            kind = param.type_descriptor
            if kind.is_choice:
                values = (getattr(c, "value", c) for c in kind.choices or ())
                param.metavar = "[" + "|".join(map(str, values)) + "]"
            elif param.name in _PLACEHOLDERS:
                param.metavar = _PLACEHOLDERS[param.name]
            elif kind.is_path:
                param.metavar = "FILE"
            elif kind.is_ranged or kind.annotation in (int, float):
                param.metavar = "NUMBER"
            else:
                param.metavar = "TEXT"


class _Command(typer.core.TyperCommand):
    """A command whose --help shows plain placeholders (see :func:`_plain_placeholders`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_placeholders(self.params)


class _Group(typer.core.TyperGroup):
    """A command group whose --help shows plain placeholders (see :func:`_plain_placeholders`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_placeholders(self.params)


app = typer.Typer(
    cls=_Group,
    name="campaign-core",
    help=(
        "campaign-core: run the engine (db upgrade, tick, worker), try it (demo), "
        "report on a campaign (report), size a segment (segment size), analyse A/B tests "
        "offline (abtest analyze), and provision CloudWatch (cloudwatch provision)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
abtest_app = typer.Typer(help="A/B test statistics, offline.", no_args_is_help=True)
segment_app = typer.Typer(help="Audience segments.", no_args_is_help=True)
cloudwatch_app = typer.Typer(help="AWS CloudWatch alarms and dashboard.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(abtest_app, name="abtest")
app.add_typer(segment_app, name="segment")
app.add_typer(cloudwatch_app, name="cloudwatch")


# --------------------------------------------------------------------------- state and errors


@attrs.frozen
class CliState:
    """The global options, shared by every command through the click context."""

    database_url: str
    json: bool
    verbose: bool
    core: str | None = None


def _state(ctx: typer.Context, json_output: bool = False) -> CliState:
    root = ctx.find_root().obj
    state = root if isinstance(root, CliState) else CliState(DEFAULT_DATABASE_URL, False, False)
    return attrs.evolve(state, json=state.json or json_output) if json_output else state


def _stdout() -> Console:
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


def _exit_code(error: CampaignCoreError) -> ExitCode:
    if isinstance(error, ValidationError):
        return ExitCode.USAGE
    if isinstance(error, MissingDependencyError | FeatureNotAvailableError):
        return ExitCode.NOT_AVAILABLE
    if isinstance(error, StoreUnavailableError):
        return ExitCode.STORE_UNAVAILABLE
    return ExitCode.FAILED


def _fail(state: CliState, error: CampaignCoreError) -> NoReturn:
    code = _exit_code(error)
    if state.json:
        typer.echo(json.dumps(error.to_json(), ensure_ascii=False, default=str), err=True)
    else:
        render_error(_stderr(), error)
    raise typer.Exit(int(code))


@contextmanager
def _handled(state: CliState) -> Iterator[None]:
    """Map the library's errors to exit codes and messages, without tracebacks."""
    try:
        yield
    except typer.Exit:
        raise
    except CampaignCoreError as error:
        if state.verbose:
            traceback.print_exc(file=sys.stderr)
        _fail(state, error)
    except KeyboardInterrupt:
        typer.echo("campaign-core: interrupted", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as error:
        # A bug, not bad input: say so plainly; the traceback is one -v away.
        if state.verbose:
            traceback.print_exc(file=sys.stderr)
        wrapped = CampaignCoreError(
            f"internal error: {type(error).__name__}: {error}"
            + ("" if state.verbose else " (run with -v for the traceback)")
        )
        _fail(state, wrapped)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to whatever ``sys.stderr`` is at the time."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        del value  # always sys.stderr


def _configure_logging(verbose: bool) -> Callable[[], None]:
    """Log to stderr through one handler on the ``campaign_core`` logger.

    The root logger is left alone (it belongs to the host or to pytest).

    Returns:
        A function that undoes the configuration (called when the command ends,
        so that invoking the app many times in one process leaves no trace).
    """
    logger = logging.getLogger(_LOGGER_NAME)
    cli_logger = logging.getLogger(f"{_LOGGER_NAME}.cli")
    levels = (logger.level, cli_logger.level)
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=_stderr(), show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    # The commands narrate at INFO; the library's own INFO lines (an alert
    # sent...) are detail, shown with -v.
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    cli_logger.setLevel(logging.DEBUG if verbose else logging.INFO)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(levels[0])
        cli_logger.setLevel(levels[1])

    return undo


@contextmanager
def _spinner(state: CliState, message: str) -> Iterator[None]:
    """A spinner with the elapsed time on a terminal's stderr while a long step runs.

    Nothing is drawn when stderr is not a terminal (a pipe, a log file, the tests) or
    with ``--json``, so that machine-read output stays clean.
    """
    err = _stderr()
    if state.json or not err.is_terminal:
        yield
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        progress.add_task(message + "...", total=None)
        yield


def _probe_workspace() -> Workspace:
    """A workspace over an empty in-memory store: which services this version has."""
    from campaign_core._core import CampaignCore
    from campaign_core.permissions import Actor
    from campaign_core_memory import InMemoryStore

    return CampaignCore(InMemoryStore()).for_actor(Actor("probe"))


def _require_service(feature: str, *paths: str) -> None:
    ws = _probe_workspace()
    missing = tuple(path for path in paths if not _demo.has_service(ws, path))
    if missing:
        raise FeatureNotAvailableError(feature, missing)


def _read_input(source: str, what: str) -> str:
    """Text from a file, ``@file`` or ``-`` (stdin), size-limited, UTF-8."""
    if source == "-":
        data = (
            sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            if hasattr(sys.stdin, "buffer")
            else sys.stdin.read().encode()
        )
        name = "<stdin>"
    else:
        path = Path(source)
        name = str(path)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except FileNotFoundError:
            raise ValidationError.single(what, f"{name}: no such file", "invalid_value") from None
        except IsADirectoryError:
            raise ValidationError.single(what, f"{name} is a directory", "invalid_value") from None
        except OSError as error:
            raise ValidationError.single(
                what, f"{name}: cannot read it ({error.strerror or error})", "invalid_value"
            ) from None
    if len(data) > MAX_INPUT_BYTES:
        raise ValidationError.single(
            what, f"{name} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB", "out_of_range"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError.single(
            what, f"{name} is not UTF-8 text (byte {error.start})", "invalid_value"
        ) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"campaign-core {__version__}")
        raise typer.Exit()


JsonOption = Annotated[bool, typer.Option("--json", help="Write machine-readable JSON to stdout.")]
OwnerOption = Annotated[
    str,
    typer.Option(
        "--owner",
        envvar="CAMPAIGN_CORE_OWNER",
        help="The account (creator id) to act for.",
        show_default=False,
    ),
]


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar=DATABASE_URL_ENV,
            help="Database URL (sqlite:///file, postgresql+psycopg://..., mysql+pymysql://...).",
        ),
    ] = DEFAULT_DATABASE_URL,
    core: Annotated[
        str | None,
        typer.Option(
            "--core",
            envvar=CORE_FACTORY_ENV,
            help="module:attribute of your CampaignCore (or a function building it), wired "
            "with your publisher and ports; replaces --database-url for tick, worker, "
            "report and segment.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging, tracebacks, progress.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """campaign-core command line."""
    ctx.obj = CliState(database_url=database_url, json=json_output, verbose=verbose, core=core)
    ctx.call_on_close(_configure_logging(verbose))


# --------------------------------------------------------------------------- db, tick, worker


@db_app.command("upgrade", cls=_Command)
def db_upgrade(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Create or migrate campaign-core's tables in the database."""
    state = _state(ctx, json_output)
    with _handled(state):
        if state.core:
            _upgrade_core_store(state)
            return
        store = open_store(state.database_url, require_schema=False)
        shown = describe_url(state.database_url)
        try:
            with _spinner(state, f"migrating {shown}"):
                store.upgrade()
        except StoreUnavailableError as error:
            raise StoreUnavailableError(
                f"cannot reach the database {shown}: {error.message}", details={"url": shown}
            ) from None
        finally:
            store.close()
        if state.json:
            _echo_json({"ok": True, "database": shown})
        else:
            _stdout().print(f"schema up to date: {shown}", markup=False)


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
        _echo_json({"ok": True, "database": shown})
    else:
        _stdout().print(message, markup=False)


def _open_core(state: CliState, *, runs_engine: bool = False) -> CampaignCore:
    """The host's core (``--core``), or one over ``--database-url`` with the default ports."""
    from campaign_core._core import CampaignCore

    if state.core:
        core = load_core(state.core)
        try:
            check_schema(
                core.runtime.store,
                f"of --core {state.core}",
                upgrade_hint=f"campaign-core --core {state.core} db upgrade",
            )
        except CampaignCoreError:
            core.close()
            raise
        return core
    core = CampaignCore(open_store(state.database_url))
    if runs_engine:
        logging.getLogger("campaign_core.cli").warning(
            "no --core given: using the default ports, which record publishes in memory "
            "instead of posting them; pass --core module:factory to use your publisher"
        )
    return core


def _where(state: CliState) -> str:
    return f"--core {state.core}" if state.core else describe_url(state.database_url)


@app.command("tick", cls=_Command)
def tick(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Run the engine once (launches, publish retries, segment refreshes, roll-ups, automations). Exit 1 on errors."""
    state = _state(ctx, json_output)
    with _handled(state):
        core = _open_core(state, runs_engine=True)
        try:
            with _spinner(state, "ticking"):
                report = core.tick()
        finally:
            core.close()
        body: dict[str, Any] = to_json(report)
        if state.json:
            _echo_json(body)
        else:
            render_tick(_stdout(), body)
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


@app.command("worker", cls=_Command)
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
    state = _state(ctx, json_output)
    log = logging.getLogger("campaign_core.cli.worker")
    with _handled(state):
        check_worker_options(interval, max_ticks)
        core = _open_core(state, runs_engine=True)
        shown = _where(state)
        log.info(
            "worker %s started on %s (every %gs%s)",
            core.runtime.worker_id,
            shown,
            interval,
            f", stopping after {_plural(max_ticks, 'tick')}" if max_ticks else "",
        )
        err = _stderr()
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


# --------------------------------------------------------------------------- demo


@app.command("demo", cls=_Command)
def demo(
    ctx: typer.Context,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="SQLite database for the demo; deleted and recreated on every run "
            "(the global --database-url and CAMPAIGN_CORE_DATABASE_URL are ignored).",
        ),
    ] = _demo.DEFAULT_DEMO_URL,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Report file: .json (summary) or .pdf (when analytics reports exist). "
            f"Default {_demo.DEFAULT_JSON_REPORT} (or .pdf).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run the seed's end-to-end flows on a fresh SQLite file with a fake clock."""
    state = _state(ctx, json_output)
    option = "demo --database-url"
    with _handled(state):
        path = sqlite_file(database_url, option=option)
        if not database_url.lower().startswith("sqlite"):
            raise ValidationError.single(
                option,
                "the demo runs only on SQLite (it deletes and recreates its database)",
                "invalid_value",
            )
        report_path, report_format = _demo.report_format(_probe_workspace(), report)
        _demo.prepare_database(path, option=option)
        store = open_store(database_url, require_schema=False, option=option)
        try:
            store.upgrade()
            _demo.mark_database(path)
            ctx_demo = _demo.build_context(store, database_url)
            err = _stderr()
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} flows"),
                console=err,
                transient=True,
                disable=state.json or not err.is_terminal,
            ) as progress:
                task = progress.add_task("starting", total=len(_demo.FLOWS))
                current: list[_demo.DemoFlow] = []

                def on_flow(flow: _demo.DemoFlow) -> None:
                    if current:
                        progress.advance(task)
                    current.append(flow)
                    progress.update(task, description=f"flow {flow.number}: {flow.title}")

                def on_step(text: str) -> None:
                    flow = current[-1] if current else None
                    prefix = f"flow {flow.number}: " if flow else ""
                    progress.update(task, description=prefix + text)

                ctx_demo.on_step = on_step
                outcomes = _demo.run_flows(ctx_demo, on_flow=on_flow)
                progress.update(task, completed=len(_demo.FLOWS))
            summary = _demo.demo_summary(ctx_demo, outcomes)
            summary["report"] = {"format": report_format, "path": str(report_path)}
            try:
                _demo.write_report(ctx_demo, summary, report_path, report_format)
            except OSError as error:
                raise CampaignCoreError(
                    f"cannot write the report {str(report_path)!r}: {error.strerror or error}"
                ) from None
        finally:
            store.close()
        if state.json:
            _echo_json(summary)
        else:
            render_demo(_stdout(), outcomes, summary)
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise typer.Exit(int(ExitCode.FAILED))


# --------------------------------------------------------------------------- abtest


class PolicyChoice(enum.StrEnum):
    fixed_horizon = "fixed_horizon"
    always_valid = "always_valid"


class MetricChoice(enum.StrEnum):
    conversion_rate = "conversion_rate"
    click_through_rate = "click_through_rate"
    click_conversion_rate = "click_conversion_rate"


@abtest_app.command("analyze", cls=_Command)
def abtest_analyze(
    ctx: typer.Context,
    csv_file: Annotated[
        str,
        typer.Argument(
            metavar="CSV",
            help="CSV with columns name, impressions, conversions [, clicks, revenue, "
            "is_control]; '-' reads stdin. Without is_control the first row is the control.",
            show_default=False,
        ),
    ],
    confidence: Annotated[
        float, typer.Option("--confidence", help="Confidence level, in (0, 1).")
    ] = 0.95,
    policy: Annotated[
        PolicyChoice,
        typer.Option(
            "--policy",
            help="fixed_horizon (z-test, look once) or always_valid (mSPRT, safe to peek).",
        ),
    ] = PolicyChoice.fixed_horizon,
    planned_mde: Annotated[
        float | None,
        typer.Option(
            "--planned-mde",
            help="The effect the test was planned to detect (relative, e.g. 0.1 = +10%).",
        ),
    ] = None,
    mde_absolute: Annotated[
        bool, typer.Option("--mde-absolute", help="--planned-mde is an absolute difference.")
    ] = False,
    power: Annotated[float, typer.Option("--power", help="Target power of the plan.")] = 0.8,
    split: Annotated[
        str | None,
        typer.Option(
            "--split", help='Configured traffic split, e.g. "A=50,B=50" (checks sample ratio).'
        ),
    ] = None,
    metric: Annotated[
        MetricChoice, typer.Option("--metric", help="What to compare.")
    ] = MetricChoice.conversion_rate,
    min_impressions: Annotated[
        int, typer.Option("--min-impressions", min=0, help="Floor per variant.")
    ] = 1000,
    min_clicks: Annotated[
        int | None,
        typer.Option(
            "--min-clicks",
            min=0,
            help="Floor per variant (default 100; 0 without a clicks column).",
        ),
    ] = None,
    min_conversions: Annotated[
        int, typer.Option("--min-conversions", min=0, help="Floor per variant.")
    ] = 30,
    json_output: JsonOption = False,
) -> None:
    """Decide an A/B test from a CSV of variant counts: verdict, intervals, p-values."""
    from campaign_core.abtesting import MinimumSample, decide

    state = _state(ctx, json_output)
    with _handled(state):
        text = _read_input(csv_file, "csv")
        table = parse_variant_csv(text)
        expected = parse_split(split) if split is not None else None
        notes: list[str] = []
        if min_clicks is None:
            min_clicks = 100 if table.has_clicks else 0
            if not table.has_clicks:
                notes.append("no clicks column: the clicks floor is not applied")
        if metric != MetricChoice.conversion_rate and not table.has_clicks:
            raise ValidationError.single(
                "--metric", f"{metric.value} needs a clicks column in the CSV", "required"
            )
        try:
            decision = decide(
                table.variants,
                confidence_level=confidence,
                policy=policy.value,
                min_samples=MinimumSample(
                    impressions=min_impressions, clicks=min_clicks, conversions=min_conversions
                ),
                min_sample_size=0,
                planned_mde=planned_mde,
                mde_relative=not mde_absolute,
                target_power=power,
                expected_split=expected,
                metric=metric.value,
            )
        except ValidationError as error:
            raise csv_paths(error, table) from None
        if state.json:
            _echo_json(decision.to_dict())
        else:
            render_decision(_stdout(), decision, show_clicks=table.has_clicks, notes=notes)


# --------------------------------------------------------------------------- report, segment


class ReportFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    pdf = "pdf"


@app.command("report", cls=_Command)
def report(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN_ID", show_default=False)],
    owner: OwnerOption,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Report format.")] = (
        ReportFormat.json
    ),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (required for pdf)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start of the period (2026-03-01 or an ISO-8601 time with a zone; dates are "
            "UTC midnights). Default: the campaign's launch.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="End of the period, exclusive (same forms). Default: the campaign's end, "
            "or an hour after its last tracked event, never past now.",
            show_default=False,
        ),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option("--excel", help="CSV for Excel: a UTF-8 byte-order mark and CRLF lines."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """A campaign's analytics report (json, csv or pdf) over a period, against the one before."""
    state = _state(ctx, json_output)
    log = logging.getLogger("campaign_core.cli.report")
    with _handled(state):
        _require_service("report", "analytics.generate_report")
        if fmt == ReportFormat.pdf and output is None:
            raise ValidationError.single("--output", "is required for --format pdf", "required")
        if excel and fmt != ReportFormat.csv:
            raise ValidationError.single("--excel", "goes with --format csv", "invalid_value")
        period: dict[str, Any] = {}
        problems = ProblemCollector()
        for option, value, key in (("--since", since, "since"), ("--until", until, "until")):
            if value is not None:
                period[key] = _report_time(value, option, problems)
        problems.raise_if_any()
        if excel:
            period["csv_dialect"] = "excel"
        started = time.monotonic()
        core = _open_core(state)
        try:
            from campaign_core.permissions import Actor

            ws = core.for_actor(Actor(owner))
            with _spinner(state, f"building the {fmt.value} report of {campaign_id}"):
                result = ws.analytics.generate_report(campaign_id, format=fmt.value, **period)
        finally:
            core.close()
        log.info(
            "%s report of %s built in %.1f s", fmt.value, campaign_id, time.monotonic() - started
        )
        if isinstance(result, bytes | bytearray):
            data = bytes(result)
        elif isinstance(result, str):
            data = result.encode("utf-8")
        else:
            data = (json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n").encode()
        if output is None:
            typer.echo(data.decode("utf-8"), nl=False)
        else:
            try:
                output.write_bytes(data)
            except OSError as error:
                raise CampaignCoreError(
                    f"cannot write {str(output)!r}: {error.strerror or error}"
                ) from None
            if state.json:
                _echo_json({"ok": True, "path": str(output), "format": fmt.value})
            else:
                _stdout().print(f"wrote {fmt.value} report to {output}", markup=False)


def _report_time(value: str, option: str, problems: ProblemCollector) -> str:
    """``--since``/``--until``: a date (a UTC midnight) or an ISO-8601 time with a zone."""
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        text += "T00:00:00Z"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        problems.add(
            option, f"{value!r} is not a date (2026-03-01) or an ISO-8601 time", "invalid_value"
        )
        return text
    if moment.tzinfo is None:
        problems.add(option, f"{value!r} has no time zone (add Z or +01:00)", "invalid_value")
    return text


def _parse_json_argument(source: str, what: str) -> Any:
    """JSON text, ``@file`` or ``-``; strict (no NaN or Infinity), errors with line and column."""
    text = (
        _read_input(source[1:], what)
        if source.startswith("@")
        else (_read_input("-", what) if source == "-" else source)
    )

    def reject(constant: str) -> Any:
        raise ValidationError.single(
            what, f"is not valid JSON: {constant} is not allowed", "not_finite"
        )

    try:
        value = json.loads(text, parse_constant=reject)
    except json.JSONDecodeError as error:
        raise ValidationError.single(
            what,
            f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            "invalid_value",
        ) from None
    problems = check_json_value(value, what)
    if problems:
        raise ValidationError(problems)
    return value


@segment_app.command("size", cls=_Command)
def segment_size(
    ctx: typer.Context,
    criteria: Annotated[
        str,
        typer.Argument(
            metavar="CRITERIA_JSON",
            help="Criteria as JSON text, @file.json, or - for stdin.",
            show_default=False,
        ),
    ],
    owner: OwnerOption,
    json_output: JsonOption = False,
) -> None:
    """How many of the owner's fans match the criteria."""
    state = _state(ctx, json_output)
    with _handled(state):
        value = _parse_json_argument(criteria, "CRITERIA_JSON")
        if not isinstance(value, dict):
            raise ValidationError.single(
                "CRITERIA_JSON",
                f"must be a JSON object, got {type(value).__name__}",
                "invalid_type",
            )
        _require_service("segment size", "segments.calculate_segment_size")
        core = _open_core(state)
        try:
            from campaign_core.permissions import Actor

            ws = core.for_actor(Actor(owner))
            with _spinner(state, "sizing the segment"):
                size = ws.segments.calculate_segment_size(value)
        finally:
            core.close()
        body = to_json(size)
        if state.json:
            _echo_json({"size": body} if isinstance(body, int) else body)
        else:
            _stdout().print(f"segment size: {body}", markup=False)


# --------------------------------------------------------------------------- cloudwatch


def _pairs(values: list[str], option: str) -> dict[str, str]:
    problems = ProblemCollector()
    pairs: dict[str, str] = {}
    for index, item in enumerate(values):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.add(join_path(option, index), f'{item!r} is not "Name=Value"', "invalid_value")
        elif name.strip() in pairs:
            problems.add(join_path(option, name.strip()), "is given twice", "invalid_value")
        else:
            pairs[name.strip()] = value.strip()
    problems.raise_if_any()
    return pairs


@cloudwatch_app.command("provision", cls=_Command)
def cloudwatch_provision(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option("--namespace", help="Metrics namespace.")] = (
        "CampaignCore"
    ),
    region: Annotated[
        str | None,
        typer.Option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region."),
    ] = None,
    dashboard_name: Annotated[
        str, typer.Option("--dashboard-name", help="Dashboard name.")
    ] = "CampaignCore",
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension", help="Static dimension Name=Value the emitter adds (repeatable)."
        ),
    ] = None,
    alarm_prefix: Annotated[
        str | None, typer.Option("--alarm-prefix", help="Prefix of alarm names.")
    ] = None,
    alarm_action: Annotated[
        list[str] | None,
        typer.Option("--alarm-action", help="ARN notified when an alarm fires (repeatable)."),
    ] = None,
    ok_action: Annotated[
        list[str] | None,
        typer.Option("--ok-action", help="ARN notified when an alarm recovers (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the alarm and dashboard definitions; call no AWS API."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create or update the seed's CloudWatch alarms and dashboard (idempotent)."""
    from campaign_core import metrics

    state = _state(ctx, json_output)
    with _handled(state):
        dimensions = _pairs(dimension or [], "--dimension") or None
        options: dict[str, Any] = {
            "dimensions": dimensions,
            "alarm_prefix": alarm_prefix,
            "alarm_actions": tuple(alarm_action or ()),
            "ok_actions": tuple(ok_action or ()),
        }
        if dry_run:
            metrics.check_dashboard_name(dashboard_name, "--dashboard-name")
            _echo_json(
                {
                    "namespace": namespace,
                    "alarms": metrics.alarm_definitions(namespace, **options),
                    "dashboardName": dashboard_name,
                    "dashboard": metrics.dashboard_body(
                        namespace, region=region or "us-east-1", dimensions=dimensions
                    ),
                }
            )
            return
        if not region:
            raise ValidationError.single(
                "--region", "is required (or set AWS_REGION) to call CloudWatch", "required"
            )
        result = metrics.provision_all(
            namespace=namespace, region=region, dashboard_name=dashboard_name, **options
        )
        if state.json:
            _echo_json(result.to_json())
        else:
            render_provision(_stdout(), result)
