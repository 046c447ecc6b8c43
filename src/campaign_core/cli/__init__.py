"""The ``campaign-core`` command line (extra ``cli``: typer and rich).

Commands: ``db upgrade``, ``tick``, ``worker``, ``demo``, ``abtest analyze``,
``report``, ``segment size`` and ``cloudwatch provision``; ``campaign-core
--help`` lists them and ``docs/howto/command-line.md`` shows each one.

Importing this package needs nothing beyond the core, so the console script
can always start and say what is missing: :func:`main` loads the typer
application lazily, and reading ``app`` without typer or rich installed
raises :class:`~campaign_core.errors.MissingDependencyError` naming the
``cli`` extra. Exit codes are the :class:`ExitCode` values.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from campaign_core.cli._exit import (
    ExitCode,
)
from campaign_core.errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import typer

__all__ = [
    "ExitCode",
    "main",
]

PROG_NAME = "campaign-core"


def load_app() -> typer.Typer:
    """The typer application, imported on first use.

    Returns:
        The ``campaign-core`` :class:`typer.Typer` application.

    Raises:
        MissingDependencyError: typer or rich is not installed (extra ``cli``).
    """
    for module in ("typer", "rich"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingDependencyError("cli", module) from None
    from campaign_core.cli._app import app as application

    return application


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``campaign-core`` console script).

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` by default.

    Raises:
        SystemExit: always, with an :class:`ExitCode` (2 and a message on
            stderr when the ``cli`` extra is not installed).
    """
    try:
        application = load_app()
    except MissingDependencyError as error:
        print(f"{PROG_NAME}: {error.message}", file=sys.stderr)
        raise SystemExit(ExitCode.USAGE) from None
    application(args=list(argv) if argv is not None else None, prog_name=PROG_NAME)


def __getattr__(name: str) -> Any:
    # ``from campaign_core.cli import app`` imports typer only when asked for.
    if name == "app":
        return load_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
