"""``abtest analyze``: an A/B test decided offline from a CSV of variant counts."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import typer

from campaign_core.cli._common import (
    JsonOption,
    cli_state,
    echo_json,
    handled,
    read_input,
    stdout_console,
)
from campaign_core.cli._csvinput import csv_paths, parse_split, parse_variant_csv
from campaign_core.cli._render import render_decision
from campaign_core.errors import ValidationError

__all__ = ["MetricChoice", "PolicyChoice", "abtest_analyze"]


class PolicyChoice(enum.StrEnum):
    fixed_horizon = "fixed_horizon"
    always_valid = "always_valid"
    bayesian = "bayesian"


class MetricChoice(enum.StrEnum):
    conversion_rate = "conversion_rate"
    click_through_rate = "click_through_rate"
    click_conversion_rate = "click_conversion_rate"


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
            help=(
                "fixed_horizon (z-test, look once), always_valid (mSPRT, safe to peek)"
                " or bayesian (probable and low expected loss)."
            ),
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
            "--split",
            help='Configured traffic split, e.g. "A=34,B=33,C=33" (default: equal shares);'
            " the sample ratio is checked against it",
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

    state = cli_state(ctx, json_output)
    with handled(state):
        text = read_input(csv_file, "csv")
        table = parse_variant_csv(text)
        # the sample ratio is always checked: against equal shares unless --split says otherwise
        expected: dict[str, float] | Literal["equal"] = (
            parse_split(split) if split is not None else "equal"
        )
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
            echo_json(decision.to_dict())
        else:
            render_decision(stdout_console(), decision, show_clicks=table.has_clicks, notes=notes)
