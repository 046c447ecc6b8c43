"""Charts with matplotlib (the ``reports`` extra): notebook helpers, also drawn in the PDF report.

matplotlib is imported inside the functions, never when the package is
imported. Figures are built with :class:`matplotlib.figure.Figure` and the Agg
canvas directly, not through ``pyplot``: no global state, no GUI backend, safe
in a web worker. In a notebook, a returned ``Axes``'s ``.figure`` displays
itself when it is the cell's last expression.

User text (campaign names) is drawn with ``parse_math=False``, so a ``$`` in
a name is a dollar sign, not the start of a formula.
"""

from __future__ import annotations

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


__all__ = ["plot_funnel", "plot_platforms", "plot_trend"]

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
_RATE_METRICS = frozenset({"ctr", "conversion_rate", "roi"})
_MONEY_METRICS = frozenset({"revenue", "spent", "cpa"})


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
    for index, (pos, step) in enumerate(zip(positions, funnel.steps)):
        note = f"{step.count:,}"
        if step.rate_from_previous is not None and index > 0:
            note += f"  ({step.rate_from_previous:.1%} of {funnel.steps[index - 1].name})"
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
    partial = [i for i, b in enumerate(trend.buckets) if b.partial]
    for index, name in enumerate(metrics):
        values = [getattr(b.metrics, name) for b in trend.buckets]
        series = [float("nan") if v is None else float(v) for v in values]
        color = _COLORS[index % len(_COLORS)]
        axes.plot(starts, series, marker="o", markersize=3, color=color, label=_label(name))
        # partial buckets (clipped by the timeframe) get hollow markers: lower counts are expected
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
        handles, labels = axes.get_legend_handles_labels()
        if partial:
            from matplotlib.lines import Line2D

            handles.append(
                Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", color="gray")
            )
            labels.append(f"partial {trend.bucket} (the period cuts it)")
        # below the plot, so that it never hides a point
        axes.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=min(len(labels), 4),
            fontsize=8,
            frameon=False,
        )
    if all(m in _RATE_METRICS for m in metrics):
        from matplotlib.ticker import PercentFormatter

        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    elif all(m in _MONEY_METRICS for m in metrics):
        axes.set_ylabel("amount (campaign currency)")
    else:
        axes.set_ylabel("count")
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
    if metric in _RATE_METRICS:
        from matplotlib.ticker import PercentFormatter

        # the axis in percent, like the labels on the bars
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
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
