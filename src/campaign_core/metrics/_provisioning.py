"""Provisioning: the seed's four alarms and its dashboard, created or updated idempotently.

Every definition is built as plain data first (:func:`alarm_definitions`,
:func:`dashboard_body`), so it can be reviewed, diffed or fed to another
tool; the ``provision_*`` functions compare it with what CloudWatch holds and
write only what differs. Provisioning twice changes nothing.

The alarms watch the *total* series (the empty rollup plus the static
dimensions the emitter was given), so pass the emitter's static dimensions
here as ``dimensions``.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from campaign_core.errors import (
    CampaignCoreError,
    MissingDependencyError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.metrics._base import (
    DEFAULT_NAMESPACE,
    _check_dimension_part,
    _dimension_path,
    validate_namespace,
)
from campaign_core.metrics._catalog import DIMENSIONS

__all__ = [
    "DEFAULT_DASHBOARD_NAME",
    "AlarmThresholds",
    "ProvisionOutcome",
    "ProvisionReport",
    "ProvisioningError",
    "alarm_definitions",
    "check_dashboard_name",
    "dashboard_body",
    "provision_alarms",
    "provision_all",
    "provision_dashboard",
]

DEFAULT_DASHBOARD_NAME: Final = "CampaignCore"

ProvisionOutcome = Literal["created", "updated", "unchanged"]

_DASHBOARD_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_NOT_FOUND_CODES: Final = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "DashboardNotFoundError"}
)


class ProvisioningError(CampaignCoreError):
    """CloudWatch refused or failed a provisioning call."""

    code = "provisioning_failed"
    http_status = 502


def _finite(problems: ProblemCollector, path: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, "expected a number", "invalid_type")
    elif not math.isfinite(value):
        problems.add(path, "must be finite", "not_finite")
    elif not low <= value <= high:
        problems.add(path, f"must be between {low:g} and {high:g}", "out_of_range")


@attrs.frozen
class AlarmThresholds:
    """The alarms' thresholds, the seed's by default.

    Attributes:
        failure_rate_percent: launch failure rate above which the failure
            alarm fires (seed: 5%).
        min_launch_attempts: launch attempts an hour needs before its failure
            rate is judged (fewer reads as 0%, so two launches with one
            failure do not page anyone).
        conversion_rate_percent: conversions / clicks below which the
            conversion alarm fires (seed: 1%).
        min_clicks: clicks an hour needs before its conversion rate is judged.
        budget_utilization_percent: spent / budget above which the overspend
            alarm fires (seed: 110%).
        automation_failures_per_hour: failed runs an hour above which the
            automation alarm fires (seed: 10).

    Raises:
        ValidationError: a threshold that is not a finite number in range.
    """

    failure_rate_percent: float = 5.0
    min_launch_attempts: int = 20
    conversion_rate_percent: float = 1.0
    min_clicks: int = 100
    budget_utilization_percent: float = 110.0
    automation_failures_per_hour: int = 10

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        _finite(problems, "failure_rate_percent", self.failure_rate_percent, 0, 100)
        _finite(problems, "conversion_rate_percent", self.conversion_rate_percent, 0, 100)
        _finite(problems, "budget_utilization_percent", self.budget_utilization_percent, 0, 10_000)
        for name in ("min_launch_attempts", "min_clicks", "automation_failures_per_hour"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                problems.add(name, "expected an integer", "invalid_type")
            elif not 0 <= value <= 10**9:
                problems.add(name, "must be between 0 and 1e9", "out_of_range")
        problems.raise_if_any()


@attrs.frozen
class ProvisionReport:
    """What provisioning did.

    Attributes:
        alarms: alarm name -> ``created``, ``updated`` or ``unchanged``.
        dashboard_name: the dashboard provisioned.
        dashboard: ``created``, ``updated`` or ``unchanged``.
        dashboard_messages: validation messages CloudWatch returned for the
            dashboard (warnings; empty when it accepted everything).
    """

    alarms: Mapping[str, ProvisionOutcome]
    dashboard_name: str
    dashboard: ProvisionOutcome
    dashboard_messages: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything was created or updated."""
        return self.dashboard != "unchanged" or any(v != "unchanged" for v in self.alarms.values())

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (for a CLI)."""
        return {
            "alarms": dict(self.alarms),
            "dashboardName": self.dashboard_name,
            "dashboard": self.dashboard,
            "dashboardMessages": list(self.dashboard_messages),
            "changed": self.changed,
        }


def _check_dimensions(dimensions: Mapping[str, str] | None) -> list[dict[str, str]]:
    if dimensions is None:
        return []
    problems = ProblemCollector()
    if not isinstance(dimensions, Mapping):
        raise ValidationError.single("dimensions", "expected a mapping", "invalid_type")
    for name, value in dimensions.items():
        path = _dimension_path(name)
        _check_dimension_part(problems, path, name, "name", 255)
        _check_dimension_part(problems, path, value, "value", 1024)
        if name in DIMENSIONS:
            problems.add(path, f"{name!r} is a catalog dimension", "invalid_value")
    problems.raise_if_any()
    return [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]


def _check_actions(problems: ProblemCollector, path: str, actions: Sequence[str]) -> None:
    if isinstance(actions, str) or not isinstance(actions, Sequence):
        problems.add(path, "expected a list of ARNs", "invalid_type")
        return
    if len(actions) > 5:
        problems.add(path, "CloudWatch allows at most 5 actions per state", "out_of_range")
    for index, arn in enumerate(actions):
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            problems.add(join_path(path, index), "expected an ARN", "invalid_value")


def _stat(
    query_id: str,
    namespace: str,
    metric: str,
    dims: list[dict[str, str]],
    *,
    period: int,
    stat: str,
    return_data: bool,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": list(dims)},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": return_data,
    }


def alarm_definitions(
    namespace: str = DEFAULT_NAMESPACE,
    *,
    dimensions: Mapping[str, str] | None = None,
    alarm_prefix: str | None = None,
    alarm_actions: Sequence[str] = (),
    ok_actions: Sequence[str] = (),
    thresholds: AlarmThresholds | None = None,
) -> list[dict[str, Any]]:
    """The seed's four alarms as ``put_metric_alarm`` arguments.

    1. High campaign failure rate: 100 x CampaignLaunchFailures /
       CampaignLaunchAttempts over an hour above 5% (when at least
       ``min_launch_attempts`` attempts were made).
    2. Low conversion rate: 100 x CampaignConversions / CampaignClicks over an
       hour below 1% for three hours in a row (when at least ``min_clicks``
       clicks were tracked that hour).
    3. Budget overspend: the Maximum of BudgetUtilization over 5 minutes
       above 110%.
    4. Automation failures: the Sum of AutomationFailures over an hour above 10.

    Missing data never breaches (no traffic is not an incident).

    Args:
        namespace: the metrics' namespace.
        dimensions: the static dimensions the emitter adds to every point.
        alarm_prefix: prepended to each alarm name; ``"<namespace>-"`` by default.
        alarm_actions: ARNs notified when an alarm fires (SNS topics...), at most 5.
        ok_actions: ARNs notified when an alarm recovers, at most 5.
        thresholds: the thresholds; the seed's by default.

    Returns:
        One dict of keyword arguments per alarm.

    Raises:
        ValidationError: a bad namespace, dimension, prefix, action or thresholds.
    """
    problems = ProblemCollector()
    try:
        validate_namespace(namespace)
    except ValidationError as exc:
        problems.extend(exc)
    dims: list[dict[str, str]] = []
    try:
        dims = _check_dimensions(dimensions)
    except ValidationError as exc:
        problems.extend(exc)
    prefix = f"{namespace}-" if alarm_prefix is None else alarm_prefix
    if not isinstance(prefix, str) or len(prefix) > 200 or not _is_ascii_printable(prefix):
        problems.add(
            "alarm_prefix", "expected at most 200 printable ASCII characters", "invalid_value"
        )
    _check_actions(problems, "alarm_actions", alarm_actions)
    _check_actions(problems, "ok_actions", ok_actions)
    given: object = thresholds
    if given is not None and not isinstance(given, AlarmThresholds):
        problems.add("thresholds", "expected AlarmThresholds", "invalid_type")
    problems.raise_if_any()
    limits = thresholds if thresholds is not None else AlarmThresholds()

    def alarm(
        name: str,
        description: str,
        metrics: list[dict[str, Any]],
        *,
        operator: str,
        threshold: float,
        periods: int,
    ) -> dict[str, Any]:
        return {
            "AlarmName": f"{prefix}{name}",
            "AlarmDescription": description,
            "ActionsEnabled": True,
            "AlarmActions": list(alarm_actions),
            "OKActions": list(ok_actions),
            "InsufficientDataActions": [],
            "Metrics": metrics,
            "ComparisonOperator": operator,
            "Threshold": float(threshold),
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": periods,
            "TreatMissingData": "notBreaching",
        }

    hour = 3600
    return [
        alarm(
            "HighCampaignFailureRate",
            f"Campaign launch failure rate above {limits.failure_rate_percent:g}% over an hour "
            f"(judged from {limits.min_launch_attempts} attempts). Source: campaign-core.",
            [
                _stat(
                    "failures",
                    namespace,
                    "CampaignLaunchFailures",
                    dims,
                    period=hour,
                    stat="Sum",
                    return_data=False,
                ),
                _stat(
                    "attempts",
                    namespace,
                    "CampaignLaunchAttempts",
                    dims,
                    period=hour,
                    stat="Sum",
                    return_data=False,
                ),
                {
                    "Id": "failure_rate",
                    "Expression": (
                        f"IF(attempts >= {limits.min_launch_attempts}, "
                        "100 * FILL(failures, 0) / attempts, 0)"
                    ),
                    "Label": "Campaign launch failure rate (%)",
                    "ReturnData": True,
                },
            ],
            operator="GreaterThanThreshold",
            threshold=limits.failure_rate_percent,
            periods=1,
        ),
        alarm(
            "LowConversionRate",
            f"Conversions / clicks below {limits.conversion_rate_percent:g}% for 3 hours in a row "
            f"(hours with at least {limits.min_clicks} clicks). Source: campaign-core.",
            [
                _stat(
                    "conversions",
                    namespace,
                    "CampaignConversions",
                    dims,
                    period=hour,
                    stat="Sum",
                    return_data=False,
                ),
                _stat(
                    "clicks",
                    namespace,
                    "CampaignClicks",
                    dims,
                    period=hour,
                    stat="Sum",
                    return_data=False,
                ),
                {
                    "Id": "conversion_rate",
                    "Expression": (
                        f"IF(clicks >= {limits.min_clicks}, "
                        "100 * FILL(conversions, 0) / clicks, 100)"
                    ),
                    "Label": "Conversion rate (%)",
                    "ReturnData": True,
                },
            ],
            operator="LessThanThreshold",
            threshold=limits.conversion_rate_percent,
            periods=3,
        ),
        alarm(
            "BudgetOverspend",
            f"A campaign spent more than {limits.budget_utilization_percent:g}% of its budget. "
            "Source: campaign-core.",
            [
                _stat(
                    "utilization",
                    namespace,
                    "BudgetUtilization",
                    dims,
                    period=300,
                    stat="Maximum",
                    return_data=True,
                )
            ],
            operator="GreaterThanThreshold",
            threshold=limits.budget_utilization_percent,
            periods=1,
        ),
        alarm(
            "AutomationFailures",
            f"More than {limits.automation_failures_per_hour} automation runs failed within an "
            "hour. Source: campaign-core.",
            [
                _stat(
                    "failures",
                    namespace,
                    "AutomationFailures",
                    dims,
                    period=hour,
                    stat="Sum",
                    return_data=True,
                )
            ],
            operator="GreaterThanThreshold",
            threshold=limits.automation_failures_per_hour,
            periods=1,
        ),
    ]


def _is_ascii_printable(text: str) -> bool:
    return all(32 <= ord(ch) < 127 for ch in text)


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


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        if isinstance(error, Mapping):
            return str(error.get("Code", ""))
    return ""


def _call(client: Any, operation: str, **kwargs: Any) -> Any:
    try:
        return getattr(client, operation)(**kwargs)
    except Exception as exc:
        code = _error_code(exc)
        raise ProvisioningError(
            f"CloudWatch {operation} failed: {code or type(exc).__name__}: {exc}",
            details={"operation": operation, "awsCode": code},
        ) from exc


def _canonical_query(query: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"Id": query.get("Id"), "ReturnData": query.get("ReturnData", True)}
    for key in ("Expression", "Label", "Period"):
        if query.get(key) is not None:
            result[key] = query[key]
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric", {})
        result["MetricStat"] = {
            "Namespace": metric.get("Namespace"),
            "MetricName": metric.get("MetricName"),
            "Dimensions": sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
            "Period": stat.get("Period"),
            "Stat": stat.get("Stat"),
            "Unit": stat.get("Unit"),
        }
    return result


def _canonical_alarm(alarm: Mapping[str, Any]) -> dict[str, Any]:
    periods = alarm.get("EvaluationPeriods")
    return {
        "AlarmDescription": alarm.get("AlarmDescription", ""),
        "ActionsEnabled": alarm.get("ActionsEnabled", True),
        "AlarmActions": sorted(alarm.get("AlarmActions", [])),
        "OKActions": sorted(alarm.get("OKActions", [])),
        "InsufficientDataActions": sorted(alarm.get("InsufficientDataActions", [])),
        "ComparisonOperator": alarm.get("ComparisonOperator"),
        "Threshold": float(alarm.get("Threshold", math.nan)),
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm", periods),
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "Metrics": sorted(
            (_canonical_query(q) for q in alarm.get("Metrics", [])), key=lambda q: str(q["Id"])
        ),
    }


def provision_alarms(
    client: Any,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    dimensions: Mapping[str, str] | None = None,
    alarm_prefix: str | None = None,
    alarm_actions: Sequence[str] = (),
    ok_actions: Sequence[str] = (),
    thresholds: AlarmThresholds | None = None,
) -> dict[str, ProvisionOutcome]:
    """Create or update the seed's four alarms; leave identical ones alone.

    Args:
        client: a boto3 CloudWatch client.
        namespace: as for :func:`alarm_definitions`.
        dimensions: as for :func:`alarm_definitions`.
        alarm_prefix: as for :func:`alarm_definitions`.
        alarm_actions: as for :func:`alarm_definitions`.
        ok_actions: as for :func:`alarm_definitions`.
        thresholds: as for :func:`alarm_definitions`.

    Returns:
        Alarm name -> ``created``, ``updated`` or ``unchanged``.

    Raises:
        ValidationError: bad arguments (nothing is written).
        ProvisioningError: CloudWatch refused a call.
    """
    wanted = alarm_definitions(
        namespace,
        dimensions=dimensions,
        alarm_prefix=alarm_prefix,
        alarm_actions=alarm_actions,
        ok_actions=ok_actions,
        thresholds=thresholds,
    )
    names = [a["AlarmName"] for a in wanted]
    found = _call(client, "describe_alarms", AlarmNames=names, AlarmTypes=["MetricAlarm"])
    existing = {a["AlarmName"]: a for a in found.get("MetricAlarms", [])}
    outcomes: dict[str, ProvisionOutcome] = {}
    for definition in wanted:
        name = definition["AlarmName"]
        current = existing.get(name)
        if current is not None and _canonical_alarm(current) == _canonical_alarm(definition):
            outcomes[name] = "unchanged"
            continue
        _call(client, "put_metric_alarm", **definition)
        outcomes[name] = "created" if current is None else "updated"
    return outcomes


def _existing_dashboard(client: Any, name: str) -> dict[str, Any] | None:
    try:
        answer = client.get_dashboard(DashboardName=name)
    except Exception as exc:
        if _error_code(exc) in _NOT_FOUND_CODES:
            return None
        raise ProvisioningError(
            f"CloudWatch get_dashboard failed: {_error_code(exc) or type(exc).__name__}: {exc}",
            details={"operation": "get_dashboard", "awsCode": _error_code(exc)},
        ) from exc
    try:
        body = json.loads(answer.get("DashboardBody") or "{}")
    except ValueError:
        return {}  # unreadable: treat as different, so it is rewritten
    return body if isinstance(body, dict) else {}


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


def _region_of(client: Any, region: str | None) -> str:
    found = region or getattr(getattr(client, "meta", None), "region_name", None)
    return found if isinstance(found, str) and found else "us-east-1"


def provision_dashboard(
    client: Any,
    namespace: str = DEFAULT_NAMESPACE,
    name: str = DEFAULT_DASHBOARD_NAME,
    *,
    region: str | None = None,
    dimensions: Mapping[str, str] | None = None,
    alarm_arns: Sequence[str] = (),
) -> tuple[ProvisionOutcome, tuple[str, ...]]:
    """Create or update the seed's dashboard; leave an identical one alone.

    Args:
        client: a boto3 CloudWatch client.
        namespace: the metrics' namespace.
        name: the dashboard name (letters, digits, ``-`` and ``_``, up to 255).
        region: the region the widgets read from; the client's by default.
        dimensions: the static dimensions the emitter adds to every point.
        alarm_arns: alarms to show in an alarm status widget.

    Returns:
        The outcome and the validation messages CloudWatch returned.

    Raises:
        ValidationError: bad arguments (nothing is written).
        ProvisioningError: CloudWatch refused a call.
    """
    check_dashboard_name(name, "name")
    where = _region_of(client, region)
    body = dashboard_body(namespace, region=where, dimensions=dimensions, alarm_arns=alarm_arns)
    current = _existing_dashboard(client, name)
    if current == body:
        return "unchanged", ()
    answer = _call(client, "put_dashboard", DashboardName=name, DashboardBody=json.dumps(body))
    messages = tuple(
        str(m.get("Message", m)) for m in (answer or {}).get("DashboardValidationMessages", [])
    )
    return ("created" if current is None else "updated"), messages


def provision_all(
    client: Any = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    region: str | None = None,
    dashboard_name: str = DEFAULT_DASHBOARD_NAME,
    dimensions: Mapping[str, str] | None = None,
    alarm_prefix: str | None = None,
    alarm_actions: Sequence[str] = (),
    ok_actions: Sequence[str] = (),
    thresholds: AlarmThresholds | None = None,
) -> ProvisionReport:
    """Provision the alarms, then the dashboard (which shows the alarms' states).

    Args:
        client: a boto3 CloudWatch client; built with boto3 for ``region``
            when omitted.
        namespace: the metrics' namespace.
        region: the region (for the client built and the widgets).
        dashboard_name: the dashboard's name.
        dimensions: the static dimensions the emitter adds to every point.
        alarm_prefix: prepended to alarm names; ``"<namespace>-"`` by default.
        alarm_actions: ARNs notified when an alarm fires.
        ok_actions: ARNs notified when an alarm recovers.
        thresholds: the alarm thresholds; the seed's by default.

    Returns:
        What was created, updated or left unchanged.

    Raises:
        ValidationError: bad arguments (nothing is written).
        ProvisioningError: CloudWatch refused a call.
        MissingDependencyError: ``client`` omitted and boto3 is not installed.
    """
    # Everything is checked before the first write.
    check_dashboard_name(dashboard_name, "dashboard_name")
    alarm_definitions(
        namespace,
        dimensions=dimensions,
        alarm_prefix=alarm_prefix,
        alarm_actions=alarm_actions,
        ok_actions=ok_actions,
        thresholds=thresholds,
    )
    dashboard_body(namespace, region=region or "us-east-1", dimensions=dimensions)
    if client is None:
        try:
            boto3 = importlib.import_module("boto3")
        except ImportError:
            raise MissingDependencyError("cloudwatch", "boto3") from None
        client = boto3.client("cloudwatch", region_name=region)
    alarms = provision_alarms(
        client,
        namespace,
        dimensions=dimensions,
        alarm_prefix=alarm_prefix,
        alarm_actions=alarm_actions,
        ok_actions=ok_actions,
        thresholds=thresholds,
    )
    described = _call(
        client, "describe_alarms", AlarmNames=list(alarms), AlarmTypes=["MetricAlarm"]
    )
    arns = [a["AlarmArn"] for a in described.get("MetricAlarms", []) if a.get("AlarmArn")]
    outcome, messages = provision_dashboard(
        client,
        namespace,
        dashboard_name,
        region=region,
        dimensions=dimensions,
        alarm_arns=arns,
    )
    return ProvisionReport(
        alarms=alarms,
        dashboard_name=dashboard_name,
        dashboard=outcome,
        dashboard_messages=messages,
    )
