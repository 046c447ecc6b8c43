"""The seed's CloudWatch dashboard as plain data, and the rule for its name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from campaign_core.errors import ValidationError
from campaign_core.metrics._alarms import _check_dimensions
from campaign_core.metrics._base import DEFAULT_NAMESPACE, validate_namespace
from campaign_core.metrics._catalog import DIMENSIONS

__all__ = ["DEFAULT_DASHBOARD_NAME", "check_dashboard_name", "dashboard_body"]

DEFAULT_DASHBOARD_NAME: Final = "CampaignCore"


_DASHBOARD_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _metric_row(
    namespace: str, name: str, dims: Mapping[str, str], options: Mapping[str, Any]
) -> list[Any]:
    row: list[Any] = [namespace, name]
    for key, value in dims.items():
        row.extend([key, value])
    row.append(dict(options))
    return row


def _insights(namespace: str, metric: str, by: str, static: Mapping[str, str]) -> str:
    keys = ", ".join([by, *static])
    where = " AND ".join(f"{k} = '{v}'" for k, v in static.items())
    return (
        f'SELECT SUM({metric}) FROM SCHEMA("{namespace}", {keys})'
        + (f" WHERE {where}" if where else "")
        + f" GROUP BY {by} ORDER BY SUM() DESC LIMIT 10"
    )


def dashboard_body(
    namespace: str = DEFAULT_NAMESPACE,
    *,
    region: str = "us-east-1",
    dimensions: Mapping[str, str] | None = None,
    alarm_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """The seed's dashboard as a CloudWatch dashboard body.

    Widgets: campaigns by status (pie), campaign performance over time (line),
    top campaign types and platforms by revenue (table, a Metrics Insights
    query: campaigns themselves are not dimensions), A/B test results
    (comparison bars and the winner accuracy), automation execution stats
    (bars, plus success rate and execution time), ROI by campaign type (bars),
    the alarm ratios, and the alarms' states when their ARNs are given.

    Args:
        namespace: the metrics' namespace.
        region: the region the widgets read from.
        dimensions: the static dimensions the emitter adds to every point.
        alarm_arns: alarms to show in an alarm status widget.

    Returns:
        The body as a dict (``json.dumps`` it for ``put_dashboard``).

    Raises:
        ValidationError: a bad namespace, region or dimension.
    """
    validate_namespace(namespace)
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValidationError.single("region", "expected an AWS region such as 'us-east-1'")
    static = {d["Name"]: d["Value"] for d in _check_dimensions(dimensions)}

    def row(name: str, extra: Mapping[str, str] | None = None, **options: Any) -> list[Any]:
        return _metric_row(namespace, name, {**(extra or {}), **static}, options)

    def widget(
        x: int, y: int, width: int, height: int, title: str, metrics: list[Any], **props: Any
    ) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": width,
            "height": height,
            "properties": {"title": title, "region": region, "metrics": metrics, **props},
        }

    types = DIMENSIONS["CampaignType"].values
    statuses = DIMENSIONS["Status"].values
    outcomes = DIMENSIONS["Outcome"].values
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 2,
            "properties": {
                "markdown": f"# campaign-core\nMetrics of namespace `{namespace}`"
                + (f" ({', '.join(f'{k}={v}' for k, v in static.items())})" if static else "")
                + ". Provisioned by campaign-core; edits are overwritten on the next provisioning."
            },
        },
        widget(
            0,
            2,
            8,
            6,
            "Campaigns by status",
            [row("CampaignsByStatus", {"Status": s}, label=s) for s in statuses],
            view="pie",
            stat="Maximum",
            period=3600,
        ),
        widget(
            8,
            2,
            16,
            6,
            "Campaign performance over time",
            [
                row("CampaignImpressions", label="Impressions"),
                row("CampaignClicks", label="Clicks"),
                row("CampaignConversions", label="Conversions"),
                row("CampaignRevenue", label="Revenue", yAxis="right"),
            ],
            view="timeSeries",
            stacked=False,
            stat="Sum",
            period=3600,
        ),
        widget(
            0,
            8,
            12,
            6,
            "Top campaign types and platforms by revenue",
            [
                [
                    {
                        "expression": _insights(
                            namespace, "CampaignRevenue", "CampaignType", static
                        ),
                        "label": "Revenue by campaign type",
                        "id": "by_type",
                    }
                ],
                [
                    {
                        "expression": _insights(namespace, "CampaignRevenue", "Platform", static),
                        "label": "Revenue by platform",
                        "id": "by_platform",
                    }
                ],
            ],
            view="table",
            period=3600,
        ),
        widget(
            12,
            8,
            12,
            6,
            "ROI by campaign type",
            [row("CampaignROI", {"CampaignType": t}, label=t) for t in types],
            view="bar",
            stat="Average",
            period=3600,
        ),
        widget(
            0,
            14,
            16,
            6,
            "A/B test results",
            [
                row("ABTestsCreated", label="created"),
                row("ABTestsCompleted", {"Outcome": "winner"}, label="completed with a winner"),
                row(
                    "ABTestsCompleted", {"Outcome": "no_winner"}, label="completed without a winner"
                ),
                *(
                    row("ABTestDecisions", {"Outcome": o}, label=f"decision: {o}")
                    for o in outcomes
                    if o != "no_winner"
                ),
            ],
            view="bar",
            stat="Sum",
            period=3600,
        ),
        widget(
            16,
            14,
            8,
            6,
            "Winner determination accuracy",
            [row("WinnerDeterminationAccuracy", label="accuracy (%)")],
            view="singleValue",
            stat="Average",
            period=3600,
            setPeriodToTimeRange=True,
        ),
        widget(
            0,
            20,
            12,
            6,
            "Automation executions",
            [
                *(
                    row("AutomationsExecuted", {"RunStatus": s}, label=s)
                    for s in DIMENSIONS["RunStatus"].values
                ),
                row("AutomationActionFailures", label="action failures"),
            ],
            view="bar",
            stat="Sum",
            period=3600,
        ),
        widget(
            12,
            20,
            12,
            6,
            "Automation success rate and execution time",
            [
                row("AutomationSuccessRate", label="success rate (%)", stat="Average"),
                row("AutomationExecutionTime", label="p50 (ms)", stat="p50", yAxis="right"),
                row("AutomationExecutionTime", label="p90 (ms)", stat="p90", yAxis="right"),
            ],
            view="timeSeries",
            period=3600,
        ),
        widget(
            0,
            26,
            24,
            6,
            "Alarm ratios",
            [
                row("CampaignLaunchFailures", id="failures", visible=False),
                row("CampaignLaunchAttempts", id="attempts", visible=False),
                row("CampaignConversions", id="conversions", visible=False),
                row("CampaignClicks", id="clicks", visible=False),
                [
                    {
                        "expression": "100 * FILL(failures, 0) / attempts",
                        "label": "launch failure rate (%)",
                        "id": "failure_rate",
                    }
                ],
                [
                    {
                        "expression": "100 * FILL(conversions, 0) / clicks",
                        "label": "conversion rate (%)",
                        "id": "conversion_rate",
                    }
                ],
                row("BudgetUtilization", label="max budget utilization (%)", stat="Maximum"),
            ],
            view="timeSeries",
            stat="Sum",
            period=3600,
        ),
    ]
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": 32,
                "width": 24,
                "height": 3,
                "properties": {"title": "Alarms", "alarms": sorted(alarm_arns)},
            }
        )
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}


def check_dashboard_name(name: object, path: str = "dashboard_name") -> None:
    """Check a CloudWatch dashboard name before any AWS call (1-255 letters, digits, ``-``, ``_``).

    Args:
        name: the name.
        path: the problem's path (the option or field the name came from).

    Raises:
        ValidationError: the name is not one CloudWatch accepts.
    """
    if not isinstance(name, str) or not _DASHBOARD_NAME.match(name):
        raise ValidationError.single(path, "dashboard names use 1-255 letters, digits, '-' and '_'")
