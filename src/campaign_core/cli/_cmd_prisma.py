"""``prisma schema``: a schema.prisma for every table of the library, for a Next.js app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from campaign_core.cli._common import cli_state, handled
from campaign_core.errors import MissingDependencyError

__all__ = ["prisma_schema"]


def prisma_schema(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
) -> None:
    """A schema.prisma for every table (the seed's models and relations, relationMode "prisma")."""
    state = cli_state(ctx)
    with handled(state):
        try:
            from campaign_core_sqlalchemy import prisma_schema as generate
        except ImportError as error:
            raise MissingDependencyError("sqlalchemy", "sqlalchemy") from error
        text = generate()
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            logging.getLogger("campaign_core.cli.prisma").info("wrote %s", output)
