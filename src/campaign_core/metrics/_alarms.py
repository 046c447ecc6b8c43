"""The seed's four CloudWatch alarms as plain data: thresholds and definitions (on the total series)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.metrics._base import (
    DEFAULT_NAMESPACE,
    _check_dimension_part,
    _dimension_path,
    validate_namespace,
)
from campaign_core.metrics._catalog import DIMENSIONS

__all__ = ["AlarmThresholds", "alarm_definitions"]


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
