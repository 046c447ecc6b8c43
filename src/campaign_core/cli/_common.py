"""What every command shares: the global options' state, errors mapped to exit codes and
messages, logging, progress, reading input files and opening the core.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import attrs
import typer
import typer.core
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from campaign_core.cli._exit import ExitCode, FeatureNotAvailableError
from campaign_core.cli._factory import load_core
from campaign_core.cli._render import render_error
from campaign_core.cli._store import DEFAULT_DATABASE_URL, check_schema, open_store
from campaign_core.errors import (
    CampaignCoreError,
    MissingDependencyError,
    StoreUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core._core import CampaignCore, Workspace

__all__ = [
    "MAX_INPUT_BYTES",
    "CliState",
    "Command",
    "Group",
    "JsonOption",
    "OwnerOption",
    "cli_state",
    "configure_logging",
    "echo_json",
    "handled",
    "open_core",
    "parse_json_argument",
    "probe_workspace",
    "read_input",
    "require_service",
    "spinner",
    "stderr_console",
    "stdout_console",
    "to_json",
]


def to_json(value: Any) -> Any:
    """:func:`campaign_core.serialization.to_json`, imported on first use.

    The serialization module brings every record class; commands need it only
    once they run, and ``campaign-core --help`` should not pay for it.
    """
    from campaign_core.serialization import to_json as convert

    return convert(value)


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


class Command(typer.core.TyperCommand):
    """A command whose --help shows plain placeholders (see :func:`_plain_placeholders`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_placeholders(self.params)


class Group(typer.core.TyperGroup):
    """A command group whose --help shows plain placeholders (see :func:`_plain_placeholders`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_placeholders(self.params)


@attrs.frozen
class CliState:
    """The global options, shared by every command through the click context."""

    database_url: str
    json: bool
    verbose: bool
    core: str | None = None


def cli_state(ctx: typer.Context, json_output: bool = False) -> CliState:
    root = ctx.find_root().obj
    state = root if isinstance(root, CliState) else CliState(DEFAULT_DATABASE_URL, False, False)
    return attrs.evolve(state, json=state.json or json_output) if json_output else state


def stdout_console() -> Console:
    return Console(highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def echo_json(data: Any) -> None:
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
        render_error(stderr_console(), error)
    raise typer.Exit(int(code))


@contextmanager
def handled(state: CliState) -> Iterator[None]:
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


def configure_logging(verbose: bool) -> Callable[[], None]:
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
        handler = RichHandler(console=stderr_console(), show_path=False, rich_tracebacks=False)
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
def spinner(state: CliState, message: str) -> Iterator[None]:
    """A spinner with the elapsed time on a terminal's stderr while a long step runs.

    Nothing is drawn when stderr is not a terminal (a pipe, a log file, the tests) or
    with ``--json``, so that machine-read output stays clean.
    """
    err = stderr_console()
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


def probe_workspace() -> Workspace:
    """A workspace over an empty in-memory store: which services this version has."""
    from campaign_core._core import CampaignCore
    from campaign_core.permissions import Actor
    from campaign_core_memory import InMemoryStore

    return CampaignCore(InMemoryStore()).for_actor(Actor("probe"))


def require_service(feature: str, *paths: str) -> None:
    ws = probe_workspace()
    from campaign_core.cli import _demo  # the demo's flows: imported when needed

    missing = tuple(path for path in paths if not _demo.has_service(ws, path))
    if missing:
        raise FeatureNotAvailableError(feature, missing)


def read_input(source: str, what: str) -> str:
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


def parse_json_argument(source: str, what: str) -> Any:
    """JSON text, ``@file`` or ``-``; strict (no NaN or Infinity), errors with line and column."""
    text = (
        read_input(source[1:], what)
        if source.startswith("@")
        else (read_input("-", what) if source == "-" else source)
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
    from campaign_core.serialization import check_json_value

    problems = check_json_value(value, what)
    if problems:
        raise ValidationError(problems)
    return value


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


def open_core(state: CliState, *, runs_engine: bool = False) -> CampaignCore:
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
