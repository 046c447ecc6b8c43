"""``cloudwatch provision``: the seed's CloudWatch alarms and dashboard."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from campaign_core.cli._common import JsonOption, cli_state, echo_json, handled, stdout_console
from campaign_core.cli._render import render_provision
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = ["cloudwatch_provision"]


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

    state = cli_state(ctx, json_output)
    with handled(state):
        dimensions = _pairs(dimension or [], "--dimension") or None
        options: dict[str, Any] = {
            "dimensions": dimensions,
            "alarm_prefix": alarm_prefix,
            "alarm_actions": tuple(alarm_action or ()),
            "ok_actions": tuple(ok_action or ()),
        }
        if dry_run:
            metrics.check_dashboard_name(dashboard_name, "--dashboard-name")
            echo_json(
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
            echo_json(result.to_json())
        else:
            render_provision(stdout_console(), result)
