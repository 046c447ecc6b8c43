"""The CSV report: one tidy table in long format, rounded, safe to open in a spreadsheet.

Every row is one number (or one piece of text) about one thing::

    table,key,metric,value,unit
    summary,,impressions,1500,count
    summary,,ctr,0.1147,ratio
    platform,instagram,revenue,412.50,money
    trend,2026-03-03T00:00:00.000Z,clicks,41,count

- ``table``: ``report`` (the campaign and the period), ``summary`` (this period's totals),
  ``previous`` (the previous period of the same length), ``change`` (each metric against
  it: ``<metric>.absolute``, ``<metric>.relative``), ``roi``, ``funnel``, ``platform``,
  ``variant``, ``platform_test``, ``trend``, ``goal`` (per goal key: ``target``,
  ``actual``, ``progress``, ``met``, ``projectedAtBudget``), ``pacing``, ``recommendation``.
- ``key``: what the row is about within its table (a platform, a variant id, a funnel
  step, a bucket's start, ``b vs a`` for a test, a recommendation's number); empty for a
  table about the whole campaign.
- ``metric``: the number's name, camelCase as in the JSON report.
- ``value``: counts as integers, money to 2 decimals, ratios to 4 significant decimals
  (``0.1147`` is 11.47%), p-values to 4 significant digits, times in ISO-8601 UTC; an
  empty cell is a value that does not exist (a rate without a denominator).
- ``unit``: ``count``, ``money`` (the campaign's currency), ``ratio``, ``p_value``,
  ``datetime``, ``flag`` (``true``/``false``) or ``text``.

A pivot table in any spreadsheet turns it into the wide tables a reader wants, and
:func:`parse_report_csv` reads it back. The ``excel`` dialect adds a UTF-8 byte-order mark
and CRLF line ends, so Excel opens names with accents or emoji correctly. Cells that start
like a formula (``=``, ``+``, ``-``, ``@``) are prefixed with ``'`` so that a spreadsheet
shows them as text instead of running them; numbers are never prefixed.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from campaign_core.analytics._definitions import MetricTotals
from campaign_core.errors import ValidationError
from campaign_core.serialization import format_datetime, to_json

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core.analytics._report import ReportData

__all__ = ["CSV_COLUMNS", "parse_report_csv", "render_csv"]

#: the columns of the CSV report, in order
CSV_COLUMNS: Final = ("table", "key", "metric", "value", "unit")

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_COUNTS: Final = frozenset(
    {
        "impressions",
        "reach",
        "clicks",
        "conversions",
        "count",
        "drop_off",
        "break_even_conversions",
        "conversions_to_break_even",
    }
)
_MONEY: Final = frozenset(
    {
        "revenue",
        "spent",
        "profit",
        "cpa",
        "budget",
        "remaining",
        "budget_remaining",
        "average_order_value",
        "revenue_to_break_even",
        "spend_rate_per_day",
        "projected_spend_at_end",
        "expected_spend_by_now",
        "revenue_per_click",
        "impact",
    }
)
_P_VALUES: Final = frozenset({"p_value", "adjusted_p_value"})
_METRICS: Final = (
    "impressions",
    "reach",
    "clicks",
    "conversions",
    "revenue",
    "spent",
    "profit",
    "ctr",
    "conversion_rate",
    "roi",
    "cpa",
)

Row = tuple[str, str, str, str, str]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _unit(metric: str, value: Any) -> str:
    """The unit of ``metric`` (snake_case), or of ``value`` when the name does not say."""
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, datetime):
        return "datetime"
    base = metric.split(".")[0]
    if base in _COUNTS:
        return "count"
    if base in _MONEY:
        return "money"
    if base in _P_VALUES:
        return "p_value"
    if isinstance(value, int | float):
        return "ratio"
    return "text"


def _text(value: str) -> str:
    # a cell starting like a formula would run in a spreadsheet (CSV injection): quote it
    return "'" + value if value.startswith(_FORMULA_START) else value


def _value(value: Any, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, int) and unit in ("count", "text"):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return ""
        if unit == "count":
            return str(round(number))
        if unit == "money":
            return f"{number:.2f}"
        if unit == "p_value":
            return f"{number:.4g}"
        # ratios: 4 decimals, trailing zeros dropped ("0.1147", "1.5", "0")
        text = f"{number:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, list | tuple):
        return _text(";".join(str(getattr(v, "value", v)) for v in value))
    if isinstance(value, Mapping):
        return _text(json.dumps(to_json(value), sort_keys=True, allow_nan=False))
    return _text(str(value))


def _row(table: str, key: Any, metric: str, value: Any, unit: str | None = None) -> Row:
    unit = unit or _unit(metric, value)
    return (table, _value(key, "text"), _camel(metric), _value(value, unit), unit)


def _totals(table: str, key: Any, totals: MetricTotals) -> Iterator[Row]:
    for metric in _METRICS:
        yield _row(table, key, metric, getattr(totals, metric))
    if totals.flags:
        yield _row(table, key, "flags", list(totals.flags), "text")


def _rows(report: ReportData) -> Iterator[Row]:
    c = report.campaign
    for metric, value in (
        ("campaign_id", c.id),
        ("name", c.name),
        ("type", c.type),
        ("status", c.status),
        ("platforms", list(c.platforms)),
        ("started_at", c.started_at),
        ("budget", c.budget),
        ("period_start", report.period_start),
        ("period_end", report.period_end),
        ("generated_at", report.generated_at),
    ):
        yield _row("report", None, metric, value)
    trend = report.trend
    yield from _totals(
        "summary", None, trend.totals if trend is not None else report.metrics.totals
    )
    if trend is not None:
        yield from _totals("previous", None, trend.previous)
        for change in trend.changes:
            unit = _unit(change.metric, 0.0)
            yield _row("change", None, f"{change.metric}.absolute", change.absolute, unit)
            yield _row("change", None, f"{change.metric}.relative", change.relative, "ratio")
    for name, value in (
        ("revenue", report.roi.revenue),
        ("spent", report.roi.spent),
        ("profit", report.roi.profit),
        ("roi", report.roi.roi),
        ("roas", report.roi.roas),
        ("cpa", report.roi.cpa),
        ("average_order_value", report.roi.average_order_value),
        ("break_even_conversions", report.roi.break_even_conversions),
        ("conversions_to_break_even", report.roi.conversions_to_break_even),
        ("revenue_to_break_even", report.roi.revenue_to_break_even),
        ("profitable", report.roi.profitable),
        ("budget", report.roi.budget),
        ("budget_remaining", report.roi.budget_remaining),
    ):
        yield _row("roi", None, name, value)
    for step in report.funnel.steps:
        yield _row("funnel", step.name, "count", step.count)
        yield _row("funnel", step.name, "rate_from_previous", step.rate_from_previous, "ratio")
        yield _row("funnel", step.name, "rate_from_start", step.rate_from_start, "ratio")
    for platform in report.metrics.by_platform:
        yield from _totals("platform", platform.platform, platform.metrics)
    for variant in report.metrics.by_variant:
        yield from _totals("variant", variant.variant_id, variant.metrics)
    if report.platforms is not None:
        for test in report.platforms.tests:
            key = f"{test.b} vs {test.a}"
            unit = _unit(test.metric, 0.0)
            yield _row("platform_test", key, f"{test.metric}.a", test.value_a, unit)
            yield _row("platform_test", key, f"{test.metric}.b", test.value_b, unit)
            yield _row("platform_test", key, f"{test.metric}.difference", test.difference, unit)
            yield _row("platform_test", key, f"{test.metric}.p_value", test.p_value, "p_value")
            yield _row(
                "platform_test",
                key,
                f"{test.metric}.adjusted_p_value",
                test.adjusted_p_value,
                "p_value",
            )
            yield _row("platform_test", key, f"{test.metric}.outcome", test.outcome, "text")
    if trend is not None:
        for bucket in trend.buckets:
            yield from _totals("trend", bucket.start, bucket.metrics)
            if bucket.partial:
                yield _row("trend", bucket.start, "partial", True)
    for goal in report.metrics.goals:
        unit = "money" if goal.metric in ("revenue", "profit") else "count"
        if goal.metric in ("roi", "ctr", "conversionRate", "conversion_rate"):
            unit = "ratio"
        yield _row("goal", goal.metric, "target", goal.target, unit)
        yield _row("goal", goal.metric, "actual", goal.actual, unit)
        yield _row("goal", goal.metric, "progress", goal.progress, "ratio")
        yield _row("goal", goal.metric, "met", goal.met, "flag")
        yield _row("goal", goal.metric, "projectedAtBudget", goal.projected_at_budget, "ratio")
    if report.pacing is not None:
        p = report.pacing
        for name in (
            "budget",
            "spent",
            "remaining",
            "overspend_ratio",
            "spend_rate_per_day",
            "projected_exhaustion_at",
            "status",
        ):
            yield _row("pacing", None, name, getattr(p, name))
    for number, rec in enumerate(report.recommendations, start=1):
        yield _row("recommendation", number, "priority", rec.priority, "text")
        yield _row("recommendation", number, "title", rec.title, "text")
        yield _row("recommendation", number, "action", rec.action, "text")
        yield _row("recommendation", number, "impact", rec.impact, "money")


def render_csv(report: ReportData, *, dialect: Literal["standard", "excel"] = "standard") -> str:
    """The report as one CSV table in long format (see the module's docstring).

    Args:
        report: the report.
        dialect: ``standard`` (LF line ends) or ``excel`` (UTF-8 byte-order mark, CRLF).

    Returns:
        The CSV text.

    Raises:
        ValidationError: an unknown dialect.
    """
    if dialect not in ("standard", "excel"):
        raise ValidationError.single("dialect", "must be standard or excel", "invalid_value")
    buffer = io.StringIO()
    if dialect == "excel":
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n" if dialect == "excel" else "\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_rows(report))
    return buffer.getvalue()


def parse_report_csv(text: str) -> dict[str, list[dict[str, str]]]:
    """Read a CSV report back, grouped by table: ``{table: [{key, metric, value, unit}]}``.

    Args:
        text: what :func:`~campaign_core.analytics.render_report` returned for ``"csv"``
            (either dialect).

    Returns:
        The tables in the order they appear, each a list of its rows.

    Raises:
        ValidationError: the text is not a CSV report (a different header).
    """
    if not isinstance(text, str):
        raise ValidationError.single("text", "must be a string", "invalid_type")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(header) != CSV_COLUMNS:
        raise ValidationError.single(
            "line 1", f"expected the header {','.join(CSV_COLUMNS)}", "invalid_value"
        )
    tables: dict[str, list[dict[str, str]]] = {}
    for number, row in enumerate(reader, start=2):
        if len(row) != len(CSV_COLUMNS):
            raise ValidationError.single(
                f"line {number}", f"expected {len(CSV_COLUMNS)} cells", "invalid_value"
            )
        table, *rest = row
        tables.setdefault(table, []).append(dict(zip(CSV_COLUMNS[1:], rest, strict=True)))
    return tables
