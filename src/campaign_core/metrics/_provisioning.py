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
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from campaign_core.errors import CampaignCoreError, MissingDependencyError
from campaign_core.metrics._alarms import AlarmThresholds, alarm_definitions
from campaign_core.metrics._base import DEFAULT_NAMESPACE
from campaign_core.metrics._dashboard import (
    DEFAULT_DASHBOARD_NAME,
    check_dashboard_name,
    dashboard_body,
)

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

ProvisionOutcome = Literal["created", "updated", "unchanged"]


_NOT_FOUND_CODES: Final = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "DashboardNotFoundError"}
)


class ProvisioningError(CampaignCoreError):
    """CloudWatch refused or failed a provisioning call."""

    code = "provisioning_failed"
    http_status = 502


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
