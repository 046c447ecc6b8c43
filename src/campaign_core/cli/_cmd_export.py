"""``export``: the store's tracking events, hourly metrics and deliveries as Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from campaign_core.cli._common import (
    JsonOption,
    cli_state,
    echo_json,
    handled,
    open_core,
    spinner,
    stdout_console,
    to_json,
)
from campaign_core.export import EXPORT_TABLES, export_dataset

__all__ = ["export"]


def export(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(metavar="DIRECTORY", show_default=False)],
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            help=f"Only this table (repeatable): {', '.join(EXPORT_TABLES)}. Default: all.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write what was stored since the last export as a Parquet dataset partitioned by date (extra export)."""
    state = cli_state(ctx, json_output)
    with handled(state):
        core = open_core(state)
        try:
            with spinner(state, f"exporting to {directory}"):
                result = export_dataset(core, directory, tables=table or EXPORT_TABLES)
        finally:
            core.close()
        if state.json:
            echo_json(to_json(result))
        else:
            rows = ", ".join(f"{n} {t}" for t, n in result.rows.items())
            console = stdout_console()
            console.print(f"exported {rows} in {result.files} files", markup=False)
            console.print(f"into {result.directory}, up to {to_json(result.until)}", markup=False)
