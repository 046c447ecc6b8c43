"""The typer application: the command groups, the global options, the commands registered.

The commands live by area in ``_cmd_engine`` (db upgrade, tick, worker), ``_cmd_demo``,
``_cmd_abtest``, ``_cmd_workspace`` (report, segment size) and ``_cmd_cloudwatch``; what
they share (state, errors mapped to exit codes, logging, input) in ``_common``.

Imported only through :func:`campaign_core.cli.load_app`, which checks first
that typer and rich are installed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from campaign_core._version import __version__
from campaign_core.cli._cmd_abtest import abtest_analyze
from campaign_core.cli._cmd_cloudwatch import cloudwatch_provision
from campaign_core.cli._cmd_demo import demo
from campaign_core.cli._cmd_engine import db_upgrade, tick, worker
from campaign_core.cli._cmd_export import export
from campaign_core.cli._cmd_http import openapi, serve
from campaign_core.cli._cmd_prisma import prisma_schema
from campaign_core.cli._cmd_workspace import report, segment_size
from campaign_core.cli._common import CliState, Command, Group, JsonOption, configure_logging
from campaign_core.cli._factory import CORE_FACTORY_ENV
from campaign_core.cli._store import DATABASE_URL_ENV, DEFAULT_DATABASE_URL

__all__ = ["app"]

app = typer.Typer(
    cls=Group,
    name="campaign-core",
    help=(
        "campaign-core: run the engine (db upgrade, tick, worker), serve the HTTP API "
        "(serve, openapi), try it (demo), "
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
prisma_app = typer.Typer(help="Prisma, for an app sharing the database.", no_args_is_help=True)
app.add_typer(prisma_app, name="prisma")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"campaign-core {__version__}")
        raise typer.Exit()


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
    ctx.call_on_close(configure_logging(verbose))


# the commands, in the order --help lists them
db_app.command("upgrade", cls=Command)(db_upgrade)
app.command("tick", cls=Command)(tick)
app.command("worker", cls=Command)(worker)
app.command("serve", cls=Command)(serve)
app.command("openapi", cls=Command)(openapi)
app.command("demo", cls=Command)(demo)
abtest_app.command("analyze", cls=Command)(abtest_analyze)
app.command("report", cls=Command)(report)
app.command("export", cls=Command)(export)
segment_app.command("size", cls=Command)(segment_size)
cloudwatch_app.command("provision", cls=Command)(cloudwatch_provision)
prisma_app.command("schema", cls=Command)(prisma_schema)
