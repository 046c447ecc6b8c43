"""Human output of the commands, with rich (tables, panels, colours on a terminal).

Every string that comes from data (variant names, messages, ids) goes into a
:class:`rich.text.Text`, never into markup, so ``[brackets]`` in a name print
as written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from campaign_core.errors import CampaignCoreError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core.abtesting import WinnerDecision
    from campaign_core.cli._demo import FlowOutcome
    from campaign_core.metrics import ProvisionReport

__all__ = [
    "fmt_interval",
    "fmt_p",
    "fmt_range",
    "fmt_rate",
    "render_decision",
    "render_demo",
    "render_error",
    "render_provision",
    "render_tick",
]

_STATUS_STYLE = {"ok": "green", "not_available": "yellow", "failed": "bold red"}
_STATUS_TEXT = {"ok": "ok", "not_available": "not available yet", "failed": "FAILED"}


def fmt_p(value: float | None) -> str:
    """A p-value or probability for a table: 4 decimals, ``<0.0001`` below that."""
    if value is None or not math.isfinite(value):
        return "—"
    if 0 < value < 1e-4:
        return "<0.0001"
    return f"{value:.4f}"


def fmt_rate(value: float | None, *, percent: bool = True) -> str:
    """A rate as a percentage (or a plain number for means); ``—`` when undefined."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{100 * value:.2f}%" if percent else f"{value:.4f}"


def fmt_interval(lower: float | None, upper: float | None, *, percent: bool = True) -> str:
    """``[lower, upper]`` with :func:`fmt_rate`'s formatting."""
    return f"[{fmt_rate(lower, percent=percent)}, {fmt_rate(upper, percent=percent)}]"


def fmt_range(lower: float | None, upper: float | None, *, percent: bool = True) -> str:
    """A compact interval, ``[2.71–3.32%]``, for narrow table columns."""
    low = fmt_rate(lower, percent=percent).removesuffix("%")
    return f"[{low}–{fmt_rate(upper, percent=percent)}]"


def render_error(console: Console, error: CampaignCoreError) -> None:
    """An error as ``campaign-core: <message> (<code>)``, then one line per problem."""
    if isinstance(error, ValidationError):
        count = len(error.problems)
        console.print(
            Text(f"campaign-core: invalid input ({count} problem{'s' * (count != 1)}):", "bold red")
        )
        for problem in error.problems:
            line = Text("  ")
            line.append(problem.path or "<input>", "bold")
            line.append(f": {problem.message}")
            console.print(line)
        return
    console.print(Text(f"campaign-core: {error.message} ({error.code})", "bold red"))


def render_tick(console: Console, report: Mapping[str, Any]) -> None:
    """One tick's report (its JSON form): one line per field, then its errors."""
    console.print(Text(f"tick at {report['now']}", "bold"))
    for key, value in report.items():
        if key in ("now", "errors"):
            continue
        shown = (", ".join(map(str, value)) or "none") if isinstance(value, list) else str(value)
        console.print(Text(f"  {key}: {shown}"))
    errors = report.get("errors") or []
    console.print(Text(f"  errors: {len(errors)}", "bold red" if errors else ""))
    for error in errors:
        console.print(
            Text(f"    {error.get('job')} {error.get('entityId')}: {error.get('error')}", "red")
        )


def render_decision(
    console: Console,
    decision: WinnerDecision,
    *,
    show_clicks: bool = True,
    notes: Sequence[str] = (),
) -> None:
    """A winner decision: the verdict, per-variant rates and intervals, comparisons.

    Args:
        console: where to print.
        decision: what :func:`~campaign_core.abtesting.decide` returned.
        show_clicks: whether clicks were measured (a column is shown for them).
        notes: extra lines printed at the end.
    """
    percent = decision.metric != "revenue_per_impression"
    level = f"{100 * decision.confidence_level:g}%"
    if decision.winner_id is not None:
        verdict = Text("Winner: ", "bold green")
        verdict.append(decision.winner_id, "bold green")
    else:
        verdict = Text(f"No winner ({decision.reason.value})", "bold yellow")
    console.print(verdict)
    console.print(Text(decision.message))
    console.print(
        Text(f"metric {decision.metric} · policy {decision.policy} · confidence {level}", "dim")
    )

    variants = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    variants.add_column("variant")
    variants.add_column("impressions", justify="right")
    if show_clicks:
        variants.add_column("clicks", justify="right")
    variants.add_column("conversions", justify="right")
    variants.add_column(("rate" if percent else "mean") + f" [{level} interval]", justify="right")
    variants.add_column("P(best)", justify="right")
    for v in decision.variants:
        name = Text(v.name)
        if v.is_control:
            name.append(" *", "bold")
        cells: list[Text | str] = [name, f"{v.impressions:,}"]
        if show_clicks:
            cells.append(f"{v.clicks:,}")
        cells += [
            f"{v.conversions:,}",
            f"{fmt_rate(v.value, percent=percent)} {fmt_range(v.lower, v.upper, percent=percent)}",
            fmt_p(v.prob_best),
        ]
        variants.add_row(*cells)
    console.print(variants)
    console.print(Text("* control", "dim"))

    if decision.comparisons:
        # One column per treatment: A/B/n tests have few arms and many numbers.
        kind = decision.comparisons[0].interval_kind.replace("_", " ")
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=Text("against the control"))
        table.add_column("")
        for c in decision.comparisons:
            table.add_column(Text(c.variant_id), justify="right")
        rows: list[tuple[str, list[str]]] = [
            ("difference", [fmt_rate(c.difference, percent=percent) for c in decision.comparisons]),
            (
                f"{level} {kind}",
                [
                    fmt_interval(c.difference_lower, c.difference_upper, percent=percent)
                    for c in decision.comparisons
                ],
            ),
            ("relative lift", [fmt_rate(c.relative_lift) for c in decision.comparisons]),
            (
                f"{level} lift interval",
                [fmt_interval(c.lift_lower, c.lift_upper) for c in decision.comparisons],
            ),
            ("p-value", [fmt_p(c.p_value) for c in decision.comparisons]),
            ("Holm-adjusted p", [fmt_p(c.adjusted_p_value) for c in decision.comparisons]),
            ("P(beat control)", [fmt_p(c.prob_beat_control) for c in decision.comparisons]),
        ]
        if any(c.power is not None for c in decision.comparisons):
            rows.append(("power (planned MDE)", [fmt_p(c.power) for c in decision.comparisons]))
        for label, values in rows:
            table.add_row(label, *values)
        console.print(table)
    if decision.srm_p_value is not None:
        mismatch = decision.reason.value == "sample_ratio_mismatch"
        console.print(
            Text(
                f"sample-ratio check: p = {fmt_p(decision.srm_p_value)}"
                + (" — MISMATCH" if mismatch else " (consistent with the split)"),
                "bold red" if mismatch else "",
            )
        )
    for shortfall in decision.shortfalls:
        console.print(
            Text(
                f"  {shortfall.variant_id}: {shortfall.observed:,} {shortfall.counter}, "
                f"needs {shortfall.required:,}",
                "yellow",
            )
        )
    for note in notes:
        console.print(Text(f"note: {note}", "dim"))


def render_demo(
    console: Console, outcomes: Sequence[FlowOutcome], summary: Mapping[str, Any]
) -> None:
    """The demo's flows, one panel each, then where the report went."""
    console.print(
        Text(
            f"campaign-core demo on {summary['database']} "
            f"(fake clock {summary['clock']['start']} → {summary['clock']['end']})",
            "bold",
        )
    )
    for outcome in outcomes:
        title = Text(f"{outcome.flow.number}. {outcome.flow.title} — ")
        title.append(_STATUS_TEXT[outcome.status], _STATUS_STYLE[outcome.status])
        lines: list[Text] = []
        if outcome.status == "ok":
            steps = outcome.summary.get("steps") or []
            lines.extend(Text(f"• {step}") for step in steps)
            if not steps:
                lines.append(Text("done"))
        else:
            lines.append(Text(outcome.message or "", _STATUS_STYLE[outcome.status]))
        console.print(
            Panel(Group(*lines), title=title, title_align="left", border_style="dim", expand=True)
        )
    report = summary.get("report")
    if report:
        console.print(Text(f"report ({report['format']}): {report['path']}", "bold"))


def render_provision(console: Console, report: ProvisionReport) -> None:
    """What CloudWatch provisioning created, updated or left alone."""
    table = Table(title=Text("CloudWatch provisioning"), box=box.SIMPLE_HEAVY)
    table.add_column("kind")
    table.add_column("name")
    table.add_column("outcome")
    for name, outcome in report.alarms.items():
        table.add_row("alarm", Text(name), Text(outcome))
    table.add_row("dashboard", Text(report.dashboard_name), Text(report.dashboard))
    console.print(table)
    for message in report.dashboard_messages:
        console.print(Text(f"dashboard warning: {message}", "yellow"))
