"""Charts with matplotlib (the ``reports`` extra): notebook helpers and the PDF report.

matplotlib is imported inside the functions, never when the package is
imported. Figures are built with :class:`matplotlib.figure.Figure` and the Agg
canvas directly, not through ``pyplot``: no global state, no GUI backend, safe
in a web worker. In a notebook, a returned ``Axes``'s ``.figure`` displays
itself when it is the cell's last expression.

User text (campaign names) is drawn with ``parse_math=False``, so a ``$`` in
a name is a dollar sign, not the start of a formula.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from campaign_core.analytics._aggregate import CampaignMetrics
from campaign_core.analytics._compare import GroupComparison
from campaign_core.analytics._definitions import MetricTotals
from campaign_core.analytics._funnel import Funnel
from campaign_core.analytics._trends import Trend
from campaign_core.errors import MissingDependencyError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from campaign_core.analytics._report import ReportData

__all__ = ["plot_funnel", "plot_platforms", "plot_trend", "render_pdf"]

_COLORS = ("#3b6ea8", "#e08a2c", "#4b9b5e", "#c0504d", "#8064a2", "#4bacc6")
_PLATFORM_METRICS = (
    "ctr",
    "conversion_rate",
    "roi",
    "revenue",
    "impressions",
    "clicks",
    "conversions",
    "spent",
)
_TREND_METRICS = (
    "impressions",
    "reach",
    "clicks",
    "conversions",
    "revenue",
    "spent",
    "ctr",
    "conversion_rate",
    "roi",
    "cpa",
)
_A4 = (8.27, 11.69)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError("reports", "matplotlib") from None


def _new_axes(ax: Any, size: tuple[float, float]) -> Axes:
    _require_matplotlib()
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise ValidationError.single("ax", "must be a matplotlib Axes or None", "invalid_type")
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def _label(metric: str) -> str:
    return {
        "ctr": "CTR",
        "conversion_rate": "conversion rate",
        "roi": "ROI",
        "cpa": "CPA",
    }.get(metric, metric)


def plot_funnel(
    funnel: Funnel, *, ax: Axes | None = None, title: str | None = "Conversion funnel"
) -> Axes:
    """Draw the funnel as horizontal bars with each step's rate.

    Args:
        funnel: from :func:`conversion_funnel`.
        ax: the Axes to draw on; ``None`` makes a new figure.
        title: the title (``None`` for none).

    Returns:
        The Axes (its ``.figure`` is the figure).

    Raises:
        ValidationError: ``funnel`` is not a :class:`Funnel`.
        MissingDependencyError: matplotlib is not installed (extra ``reports``).
    """
    if not isinstance(funnel, Funnel):
        raise ValidationError.single("funnel", "must be a Funnel", "invalid_type")
    axes = _new_axes(ax, (6.0, 3.0))
    names = [s.name for s in funnel.steps]
    counts = [s.count for s in funnel.steps]
    positions = list(range(len(names)))[::-1]
    axes.barh(positions, counts, color=_COLORS[: len(names)])
    axes.set_yticks(positions, names)
    top = max(counts) if counts and max(counts) > 0 else 1
    for pos, step in zip(positions, funnel.steps):
        note = f"{step.count:,}"
        if step.rate_from_previous is not None:
            note += f"  ({step.rate_from_previous:.1%} of previous)"
        axes.text(step.count + top * 0.01, pos, note, va="center", fontsize=8, parse_math=False)
    axes.set_xlim(0, top * 1.45)
    axes.set_xlabel("count")
    if title:
        axes.set_title(title, parse_math=False)
    return axes


def plot_trend(
    trend: Trend,
    *,
    metrics: Sequence[str] = ("impressions", "clicks", "conversions"),
    ax: Axes | None = None,
    title: str | None = "Performance over time",
) -> Axes:
    """Draw metrics per bucket of a trend as lines (empty buckets at 0, undefined rates as gaps).

    Args:
        trend: from :func:`performance_trend`.
        metrics: which metrics (``impressions``, ``reach``, ``clicks``,
            ``conversions``, ``revenue``, ``spent``, ``ctr``,
            ``conversion_rate``, ``roi``, ``cpa``).
        ax: the Axes to draw on; ``None`` makes a new figure.
        title: the title.

    Returns:
        The Axes.

    Raises:
        ValidationError: not a :class:`Trend`, or an unknown metric.
        MissingDependencyError: matplotlib is not installed (extra ``reports``).
    """
    if not isinstance(trend, Trend):
        raise ValidationError.single("trend", "must be a Trend", "invalid_type")
    if isinstance(metrics, str) or any(m not in _TREND_METRICS for m in metrics):
        raise ValidationError.single(
            "metrics", f"must be a list among {', '.join(_TREND_METRICS)}", "invalid_value"
        )
    axes = _new_axes(ax, (7.0, 3.5))
    import numpy as np

    # local wall-clock times, so day buckets are labelled by their local date
    zone = UTC if trend.timezone == "UTC" else ZoneInfo(trend.timezone)
    starts = np.asarray(
        [b.start.astimezone(zone).replace(tzinfo=None) for b in trend.buckets],
        dtype="datetime64[ms]",
    )
    for index, name in enumerate(metrics):
        values = [getattr(b.metrics, name) for b in trend.buckets]
        series = [float("nan") if v is None else float(v) for v in values]
        color = _COLORS[index % len(_COLORS)]
        axes.plot(starts, series, marker="o", markersize=3, color=color, label=_label(name))
        # partial buckets (clipped by the timeframe) get hollow markers: lower counts are expected
        partial = [i for i, b in enumerate(trend.buckets) if b.partial]
        if partial:
            axes.plot(
                starts[partial],
                [series[i] for i in partial],
                linestyle="none",
                marker="o",
                markersize=6,
                markerfacecolor="white",
                color=color,
            )
    if metrics:
        axes.legend(loc="upper left", fontsize=8)
    axes.set_xlabel(f"{trend.bucket} ({trend.timezone})")
    axes.grid(True, alpha=0.3)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if title:
        axes.set_title(title, parse_math=False)
    return axes


def plot_platforms(
    data: CampaignMetrics | GroupComparison,
    *,
    metric: str = "ctr",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Bar chart of one metric per platform; with a comparison, the claimed leader is marked.

    Args:
        data: a campaign's metrics or a :func:`compare_platforms` result.
        metric: ``ctr``, ``conversion_rate``, ``roi``, ``revenue``,
            ``impressions``, ``clicks``, ``conversions`` or ``spent``.
        ax: the Axes to draw on; ``None`` makes a new figure.
        title: the title (default: the metric by platform).

    Returns:
        The Axes.

    Raises:
        ValidationError: bad data or an unknown metric.
        MissingDependencyError: matplotlib is not installed (extra ``reports``).
    """
    if metric not in _PLATFORM_METRICS:
        raise ValidationError.single(
            "metric", f"must be one of {', '.join(_PLATFORM_METRICS)}", "invalid_value"
        )
    leader: str | None = None
    rows: list[tuple[str, MetricTotals]]
    if isinstance(data, GroupComparison):
        rows = [(e.key, e.metrics) for e in data.entries]
        compared = {"ctr": "ctr", "conversion_rate": "conversion_rate", "roi": "roas"}.get(metric)
        found = next(
            (lead for lead in data.leaders if lead.metric == compared and lead.claimed), None
        )
        leader = None if found is None else found.key
    elif isinstance(data, CampaignMetrics):
        rows = [(p.platform, p.metrics) for p in data.by_platform if p.platform is not None]
    else:
        raise ValidationError.single(
            "data", "must be CampaignMetrics or a GroupComparison", "invalid_type"
        )
    axes = _new_axes(ax, (6.0, 3.0))
    names = [name for name, _ in rows]
    values = [getattr(m, metric) for _, m in rows]
    heights = [0.0 if v is None else float(v) for v in values]
    colors = [_COLORS[2] if name == leader else _COLORS[0] for name in names]
    axes.bar(range(len(names)), heights, color=colors)
    axes.set_xticks(range(len(names)), names)
    for x, v in enumerate(values):
        text = (
            "n/a"
            if v is None
            else (f"{v:.1%}" if metric in ("ctr", "conversion_rate", "roi") else f"{v:,.0f}")
        )
        below = heights[x] < 0
        axes.annotate(
            text,
            (x, heights[x]),
            xytext=(0, -2 if below else 2),
            textcoords="offset points",
            ha="center",
            va="top" if below else "bottom",
            fontsize=8,
        )
    axes.axhline(0, color="black", linewidth=0.5)
    axes.margins(y=0.15)  # room for the value labels
    axes.set_ylabel(_label(metric))
    if leader:
        axes.text(
            0.99,
            0.97,
            f"{leader}: significantly best",
            transform=axes.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            parse_math=False,
        )
    axes.set_title(title or f"{_label(metric)} by platform", parse_math=False)
    return axes


# ---------------------------------------------------------------------- pdf


def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "money":
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _text_page(figure: Figure, title: str, lines: Sequence[str], top: float = 0.93) -> None:
    figure.text(0.08, top, title, fontsize=14, weight="bold", parse_math=False)
    y = top - 0.04
    for line in lines:
        figure.text(0.08, y, line, fontsize=9, family="monospace", parse_math=False)
        y -= 0.022
        if y < 0.05:
            break


def render_pdf(report: ReportData) -> bytes:
    """The report as a PDF: key numbers and the funnel, performance over time, platforms.

    Raises:
        MissingDependencyError: matplotlib is not installed (extra ``reports``).
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    c = report.campaign
    t = report.metrics.totals
    with warnings.catch_warnings():
        # emoji in campaign names have no glyph in the default font: drawn as boxes, not an error
        warnings.filterwarnings("ignore", message=r"Glyph .* missing", category=UserWarning)
        # fixed metadata: the same report renders to the same bytes
        with PdfPages(buffer, metadata={"Creator": "campaign-core", "CreationDate": None}) as pdf:
            # page 1: headline numbers and the funnel
            page = Figure(figsize=_A4)
            FigureCanvasAgg(page)
            summary = [
                f"campaign      {c.name or c.id}",
                f"type/status   {c.type or '-'} / {c.status or '-'}",
                f"generated     {report.generated_at:%Y-%m-%d %H:%M} UTC",
                "",
                f"impressions   {_fmt(t.impressions)}",
                f"reach         {_fmt(t.reach)}",
                f"clicks        {_fmt(t.clicks)}      CTR {_fmt(t.ctr, 'pct')}",
                f"conversions   {_fmt(t.conversions)}      conversion rate {_fmt(t.conversion_rate, 'pct')}",
                f"revenue       {_fmt(t.revenue, 'money')}",
                f"spent         {_fmt(t.spent, 'money')}",
                f"profit        {_fmt(report.roi.profit, 'money')}      ROI {_fmt(t.roi, 'pct')}      "
                f"ROAS {_fmt(report.roi.roas)}",
                f"CPA           {_fmt(t.cpa, 'money')}",
            ]
            if t.flags:
                summary.append(f"data notes    {', '.join(str(f) for f in t.flags)}")
            _text_page(page, "Campaign report", summary)
            axes = page.add_axes((0.12, 0.08, 0.8, 0.35))
            plot_funnel(report.funnel, ax=axes)
            pdf.savefig(page)

            # page 2: performance over time
            page = Figure(figsize=_A4)
            FigureCanvasAgg(page)
            if report.trend is not None and report.trend.buckets:
                top = page.add_axes((0.12, 0.56, 0.8, 0.34))
                plot_trend(report.trend, metrics=("impressions", "clicks", "conversions"), ax=top)
                bottom = page.add_axes((0.12, 0.1, 0.8, 0.34))
                plot_trend(
                    report.trend, metrics=("revenue", "spent"), ax=bottom, title="Revenue and spend"
                )
            else:
                _text_page(page, "Performance over time", ["No trend data for this report."])
            pdf.savefig(page)

            # page 3: platform comparison
            page = Figure(figsize=_A4)
            FigureCanvasAgg(page)
            platforms = report.platforms
            if platforms is not None and platforms.entries:
                for index, metric in enumerate(("ctr", "conversion_rate", "roi")):
                    axes = page.add_axes((0.12, 0.7 - index * 0.3, 0.8, 0.22))
                    plot_platforms(platforms, metric=metric, ax=axes)
            else:
                _text_page(page, "Platforms", ["No platform breakdown for this report."])
            pdf.savefig(page)

            # page 4: pacing and recommendations, when there are any
            lines: list[str] = []
            if report.pacing is not None:
                p = report.pacing
                lines += [
                    f"budget        {_fmt(p.budget, 'money')}   spent {_fmt(p.spent, 'money')}   "
                    f"ratio {_fmt(p.overspend_ratio, 'pct')}",
                    f"status        {p.status}",
                    "",
                ]
            for r in report.recommendations:
                lines.append(f"[{r.priority}] {r.title}")
                lines.append(f"    {r.action}")
            if lines:
                page = Figure(figsize=_A4)
                FigureCanvasAgg(page)
                _text_page(page, "Budget and recommendations", lines)
                pdf.savefig(page)
    return buffer.getvalue()
