"""``report`` and ``segment size``: questions to an owner's workspace."""

from __future__ import annotations

import enum
import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from campaign_core.cli._common import (
    JsonOption,
    OwnerOption,
    cli_state,
    echo_json,
    handled,
    open_core,
    parse_json_argument,
    require_service,
    spinner,
    stdout_console,
    to_json,
)
from campaign_core.errors import CampaignCoreError, ProblemCollector, ValidationError

__all__ = ["ReportFormat", "report", "segment_size"]


class ReportFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    pdf = "pdf"


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
    state = cli_state(ctx, json_output)
    log = logging.getLogger("campaign_core.cli.report")
    with handled(state):
        require_service("report", "analytics.generate_report")
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
        core = open_core(state)
        try:
            from campaign_core.permissions import Actor

            ws = core.for_actor(Actor(owner))
            with spinner(state, f"building the {fmt.value} report of {campaign_id}"):
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
                echo_json({"ok": True, "path": str(output), "format": fmt.value})
            else:
                stdout_console().print(f"wrote {fmt.value} report to {output}", markup=False)


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
    state = cli_state(ctx, json_output)
    with handled(state):
        value = parse_json_argument(criteria, "CRITERIA_JSON")
        if not isinstance(value, dict):
            raise ValidationError.single(
                "CRITERIA_JSON",
                f"must be a JSON object, got {type(value).__name__}",
                "invalid_type",
            )
        require_service("segment size", "segments.calculate_segment_size")
        core = open_core(state)
        try:
            from campaign_core.permissions import Actor

            ws = core.for_actor(Actor(owner))
            with spinner(state, "sizing the segment"):
                size = ws.segments.calculate_segment_size(value)
        finally:
            core.close()
        body = to_json(size)
        if state.json:
            echo_json({"size": body} if isinstance(body, int) else body)
        else:
            stdout_console().print(f"segment size: {body}", markup=False)
