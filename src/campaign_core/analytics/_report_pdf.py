"""The PDF report: a page a marketer would forward, then the charts behind it.

1. **Summary**: the campaign, the period (and the one it is compared with), the key
   figures as a table (this period, the previous period of the same length, the change),
   and the funnel.
2. **Performance over the period**: counts, then money, per bucket; or a sentence when
   nothing was tracked in the period.
3. **Platforms**: CTR, conversion rate and ROI per platform, in percent; or a sentence
   when the campaign has fewer than two platforms with data.
4. **Budget and recommendations**: the budget's state in a table, the campaign's goals
   (actual of target, met or open), then each
   recommendation, or a sentence saying why there are none.

Figures are drawn with matplotlib's object API and the Agg canvas (no ``pyplot``, no GUI),
with fixed metadata so the same report gives the same bytes. Units are stated once and used
everywhere: counts as integers, money to 2 decimals in the campaign's currency, rates in
percent.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from campaign_core.analytics._definitions import MetricTotals
from campaign_core.analytics._funnel import conversion_funnel
from campaign_core.analytics._plots import (
    _require_matplotlib,
    plot_funnel,
    plot_platforms,
    plot_trend,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from campaign_core.analytics._report import ReportData
    from campaign_core.analytics._trends import MetricChange

__all__ = ["render_pdf"]

_A4: Final = (8.27, 11.69)
_INK: Final = "#222222"
_MUTED: Final = "#666666"
_RULE: Final = "#d0d7de"
_SHADE: Final = "#f3f5f8"
_UP: Final = "#2e7d32"
_DOWN: Final = "#c62828"
#: the key figures, their label and kind (count, money, pct) and whether higher is better
_KEY_FIGURES: Final = (
    ("impressions", "Impressions", "count", True),
    ("reach", "Reach (distinct fans)", "count", True),
    ("clicks", "Clicks", "count", True),
    ("ctr", "Click-through rate", "pct", True),
    ("conversions", "Conversions", "count", True),
    ("conversion_rate", "Conversion rate", "pct", True),
    ("revenue", "Revenue", "money", True),
    ("spent", "Spent", "money", False),
    ("profit", "Profit", "money", True),
    ("roi", "ROI", "pct", True),
    ("cpa", "Cost per conversion", "money", False),
)
_DEFINITIONS: Final = (
    "Click-through rate = clicks / impressions. Conversion rate = conversions / clicks. "
    "ROI = (revenue - spent) / spent. Cost per conversion = spent / conversions. "
    "Money in the campaign's currency."
)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "count":
        return f"{round(value):,}"
    return str(value)


def _day(moment: datetime) -> str:
    return f"{moment:%-d %b %Y}"


def _period_line(report: ReportData) -> str:
    start, end = report.period_start, report.period_end
    if start is None or end is None or end <= start:
        return f"Generated {report.generated_at:%-d %b %Y %H:%M} UTC"
    span = end - start
    last = end - timedelta(milliseconds=1)
    days = span / timedelta(days=1)
    length = f"{days:.0f} days" if days >= 2 else f"{span / timedelta(hours=1):.0f} hours"
    return (
        f"Period {_day(start)} – {_day(last)} ({length}), compared with the {length} before"
        f"  ·  generated {report.generated_at:%-d %b %Y %H:%M} UTC"
    )


def _value(totals: MetricTotals | None, metric: str) -> Any:
    if totals is None:
        return None
    return totals.profit if metric == "profit" else getattr(totals, metric)


def _change(
    metric: str,
    current: Any,
    previous: Any,
    changes: dict[str, MetricChange],
    kind: str,
) -> str:
    change = changes.get(metric)
    relative = change.relative if change is not None else None
    if relative is None and current is not None and previous not in (None, 0):
        relative = current / previous - 1
    if metric == "profit":
        # a profit can change sign: its change reads in money, not in percent
        if current is None or previous is None:
            return "–"
        return f"{current - previous:+,.2f}"
    if kind == "pct":
        if current is None or previous is None:
            return "–"
        # a rate's change reads best in points: 11.5% -> 12.7% is +1.2 pt
        return f"{(current - previous) * 100:+.1f} pt"
    if relative is None:
        return "new" if previous in (None, 0) and current not in (None, 0) else "–"
    return f"{relative:+.1%}"


def _key_figures(figure: Figure, report: ReportData, top: float) -> float:
    """Draw the key-figures table from ``top`` down; return where it ends."""
    trend = report.trend
    current = trend.totals if trend is not None else report.metrics.totals
    previous = trend.previous if trend is not None else None
    changes = {c.metric: c for c in trend.changes} if trend is not None else {}
    columns = (0.08, 0.52, 0.72, 0.92)  # label, this period, previous period, change
    row = 0.026
    figure.text(columns[0], top, "Key figures", fontsize=12, weight="bold", color=_INK)
    top -= 0.03
    for x, title in zip(columns[1:], ("This period", "Previous period", "Change")):
        figure.text(x, top, title, fontsize=9, weight="bold", color=_MUTED, ha="right")
    top -= 0.008
    figure.add_artist(_rule(figure, top))
    for index, (metric, label, kind, higher_is_better) in enumerate(_KEY_FIGURES):
        y = top - (index + 1) * row
        if index % 2 == 0:
            figure.add_artist(_band(figure, y - 0.007, row))
        now_value = _value(current, metric)
        before = _value(previous, metric)
        figure.text(columns[0], y, label, fontsize=10, color=_INK)
        figure.text(columns[1], y, _fmt(now_value, kind), fontsize=10, color=_INK, ha="right")
        figure.text(columns[2], y, _fmt(before, kind), fontsize=10, color=_MUTED, ha="right")
        text = _change(metric, now_value, before, changes, kind) if previous is not None else "–"
        color = _MUTED
        if text.startswith(("+", "-")) and text not in ("+0.0%", "-0.0%", "+0.0 pt", "-0.0 pt"):
            good = text.startswith("+") == higher_is_better
            color = _UP if good else _DOWN
        figure.text(columns[3], y, text, fontsize=10, color=color, ha="right")
    bottom = top - (len(_KEY_FIGURES) + 1) * row + 0.01
    figure.add_artist(_rule(figure, bottom))
    return bottom


def _rule(figure: Figure, y: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([0.07, 0.93], [y, y], transform=figure.transFigure, color=_RULE, linewidth=0.8)


def _band(figure: Figure, y: float, height: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((0.07, y), 0.86, height, transform=figure.transFigure, color=_SHADE, zorder=0)


def _heading(figure: Figure, title: str, subtitle: str | None = None) -> None:
    figure.text(0.08, 0.94, title, fontsize=16, weight="bold", color=_INK, parse_math=False)
    if subtitle:
        figure.text(0.08, 0.915, subtitle, fontsize=9, color=_MUTED, parse_math=False)


def _paragraph(figure: Figure, y: float, text: str, *, size: float = 10) -> float:
    """Draw ``text`` wrapped at the page's width from ``y`` down; return where it ends."""
    import textwrap

    lines = textwrap.wrap(text, width=int(95 * 10 / size)) or [""]
    for line in lines:
        figure.text(0.08, y, line, fontsize=size, color=_INK, parse_math=False)
        y -= 0.022 * size / 10
    return y


def _summary_page(figure: Figure, report: ReportData) -> None:
    c = report.campaign
    figure.text(
        0.08, 0.94, c.name or c.id, fontsize=20, weight="bold", color=_INK, parse_math=False
    )
    facts = " · ".join(
        part
        for part in (
            _TYPES.get(c.type or "", (c.type or "").capitalize()),
            c.status,
            ", ".join(c.platforms),
            f"budget {_fmt(c.budget, 'money')}" if c.budget is not None else None,
        )
        if part
    )
    figure.text(0.08, 0.912, facts, fontsize=10, color=_MUTED, parse_math=False)
    figure.text(0.08, 0.89, _period_line(report), fontsize=9, color=_MUTED, parse_math=False)
    bottom = _key_figures(figure, report, 0.84)
    if report.metrics.totals.flags:
        flags = ", ".join(str(f) for f in report.metrics.totals.flags)
        bottom = _paragraph(figure, bottom - 0.02, f"Data notes: {flags}.", size=8)
    # the funnel of the same period as the table above
    funnel = conversion_funnel(report.trend.totals) if report.trend is not None else report.funnel
    if funnel.steps and funnel.steps[0].count > 0:
        axes = figure.add_axes((0.2, 0.1, 0.7, bottom - 0.17))
        plot_funnel(funnel, ax=axes, title="Conversion funnel (this period)")
    else:
        _paragraph(figure, bottom - 0.04, "No impressions tracked yet: no funnel to draw.")
    _paragraph(figure, 0.05, _DEFINITIONS, size=7)


def _trend_page(figure: Figure, report: ReportData) -> None:
    trend = report.trend
    _heading(figure, "Performance over the period", _period_line(report))
    if trend is None or not trend.buckets or trend.totals.impressions + trend.totals.clicks == 0:
        _paragraph(
            figure,
            0.85,
            "Nothing was tracked in this period, so there is no chart to draw. "
            "Choose the period the campaign ran (campaign-core report --since/--until, or "
            "generate_report(since=..., until=...)).",
        )
        return
    top = figure.add_axes((0.12, 0.55, 0.8, 0.31))
    plot_trend(trend, metrics=("impressions", "clicks", "conversions"), ax=top, title="Counts")
    bottom = figure.add_axes((0.12, 0.12, 0.8, 0.31))
    plot_trend(trend, metrics=("revenue", "spent"), ax=bottom, title="Revenue and spend")


def _platforms_page(figure: Figure, report: ReportData) -> None:
    _heading(figure, "Platforms", "Whole campaign; green: significantly best (Holm-adjusted).")
    platforms = report.platforms
    tracked = [e for e in (platforms.entries if platforms else ()) if e.metrics.impressions > 0]
    if platforms is None or len(tracked) < 2:
        _paragraph(
            figure,
            0.85,
            "Fewer than two platforms have tracked impressions, so there is nothing to compare.",
        )
        return
    for index, metric in enumerate(("ctr", "conversion_rate", "roi")):
        axes = figure.add_axes((0.12, 0.64 - index * 0.27, 0.8, 0.2))
        plot_platforms(platforms, metric=metric, ax=axes)


_TYPES: Final = {
    "ppv": "Pay-per-view",
    "subscription": "Subscription",
    "promotion": "Promotion",
    "engagement": "Engagement",
    "retention": "Retention",
}
_PACING_WORDS: Final = {
    "no_budget": "no budget set",
    "not_started": "not started",
    "exhausted": "budget used up: the campaign pauses",
    "will_exhaust_early": "on course to run out before the planned end",
    "on_track": "on track",
}


def _budget_page(figure: Figure, report: ReportData) -> None:
    _heading(figure, "Budget and recommendations")
    y = 0.87
    pacing = report.pacing
    if pacing is not None and pacing.budget is not None:
        rows: Sequence[tuple[str, str]] = (
            ("Budget", _fmt(pacing.budget, "money")),
            ("Spent", _fmt(pacing.spent, "money")),
            ("Remaining", _fmt(pacing.remaining, "money")),
            ("Share of the budget spent", _fmt(pacing.overspend_ratio, "pct")),
            ("Spend per day", _fmt(pacing.spend_rate_per_day, "money")),
            ("Status", _PACING_WORDS.get(str(pacing.status), str(pacing.status))),
        )
        for index, (label, value) in enumerate(rows):
            if index % 2 == 0:
                figure.add_artist(_band(figure, y - 0.007, 0.026))
            figure.text(0.08, y, label, fontsize=10, color=_INK)
            figure.text(0.92, y, value, fontsize=10, color=_INK, ha="right", parse_math=False)
            y -= 0.026
    else:
        y = _paragraph(figure, y, "The campaign has no budget, so there is no pacing to show.")
    goals = report.metrics.goals
    if goals:
        y -= 0.03
        figure.text(0.08, y, "Goals", fontsize=12, weight="bold", color=_INK)
        y -= 0.035
        for index, goal in enumerate(goals[:8]):
            kind = "money" if goal.metric in ("revenue", "profit") else "count"
            if goal.metric in ("roi", "ctr", "conversionRate", "conversion_rate"):
                kind = "pct"
            state = "met" if goal.met else "not measured" if goal.met is None else "open"
            value = f"{_fmt(goal.actual, kind)} of {_fmt(goal.target, kind)} ({state})"
            if index % 2 == 0:
                figure.add_artist(_band(figure, y - 0.007, 0.026))
            figure.text(0.08, y, goal.metric, fontsize=10, color=_INK, parse_math=False)
            figure.text(0.92, y, value, fontsize=10, color=_INK, ha="right", parse_math=False)
            y -= 0.026
    y -= 0.03
    figure.text(0.08, y, "Recommendations", fontsize=12, weight="bold", color=_INK)
    y -= 0.035
    if not report.recommendations:
        _paragraph(
            figure,
            y,
            "None for this campaign: no rule (budget pacing, a platform doing significantly "
            "better or worse, an A/B test ready to decide, conversion against the account's "
            "other campaigns) found enough evidence to suggest a change.",
        )
        return
    for rec in report.recommendations:
        figure.text(
            0.08,
            y,
            f"{str(rec.priority).upper()}  {rec.title}",
            fontsize=10,
            weight="bold",
            color=_INK,
            parse_math=False,
        )
        y = _paragraph(figure, y - 0.022, rec.action, size=9) - 0.015
        if y < 0.08:
            break


def render_pdf(report: ReportData) -> bytes:
    """The report as a PDF (see the module's docstring for its pages).

    Args:
        report: from :func:`~campaign_core.analytics.build_report`.

    Returns:
        The PDF's bytes.

    Raises:
        MissingDependencyError: matplotlib is not installed (extra ``reports``).
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # emoji in campaign names have no glyph in the default font: drawn as boxes, not an error
        warnings.filterwarnings("ignore", message=r"Glyph .* missing", category=UserWarning)
        with PdfPages(buffer, metadata={"Creator": "campaign-core", "CreationDate": None}) as pdf:
            for draw in (_summary_page, _trend_page, _platforms_page, _budget_page):
                page = Figure(figsize=_A4)
                FigureCanvasAgg(page)
                draw(page, report)
                pdf.savefig(page)
    return buffer.getvalue()
