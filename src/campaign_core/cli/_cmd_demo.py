"""``demo``: the command that runs the seed's flows (:mod:`campaign_core.cli._demo`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from campaign_core.cli._common import (
    JsonOption,
    cli_state,
    echo_json,
    handled,
    probe_workspace,
    stderr_console,
    stdout_console,
)
from campaign_core.cli._exit import ExitCode
from campaign_core.cli._render import render_demo
from campaign_core.cli._store import (
    DEFAULT_DEMO_URL,
    DEFAULT_JSON_REPORT,
    open_store,
    sqlite_file,
)
from campaign_core.errors import CampaignCoreError, ValidationError

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="SQLite database for the demo; deleted and recreated on every run "
            "(the global --database-url and CAMPAIGN_CORE_DATABASE_URL are ignored).",
        ),
    ] = DEFAULT_DEMO_URL,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Report file: .json (summary) or .pdf (when analytics reports exist). "
            f"Default {DEFAULT_JSON_REPORT} (or .pdf).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run the seed's end-to-end flows on a fresh SQLite file with a fake clock."""
    from campaign_core.cli import _demo  # the flows: imported when the demo runs, not for --help

    state = cli_state(ctx, json_output)
    option = "demo --database-url"
    with handled(state):
        path = sqlite_file(database_url, option=option)
        if not database_url.lower().startswith("sqlite"):
            raise ValidationError.single(
                option,
                "the demo runs only on SQLite (it deletes and recreates its database)",
                "invalid_value",
            )
        report_path, report_format = _demo.report_format(probe_workspace(), report)
        _demo.prepare_database(path, option=option)
        store = open_store(database_url, require_schema=False, option=option)
        try:
            store.upgrade()
            _demo.mark_database(path)
            ctx_demo = _demo.build_context(store, database_url)
            err = stderr_console()
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
            echo_json(summary)
        else:
            render_demo(stdout_console(), outcomes, summary)
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise typer.Exit(int(ExitCode.FAILED))
