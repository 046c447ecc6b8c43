"""Provisioning against moto: the seed's alarms and dashboard exist, and a second run changes nothing."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from campaign_core.errors import MissingDependencyError, ValidationError
from campaign_core.metrics import (
    METRICS,
    AlarmThresholds,
    ProvisioningError,
    alarm_definitions,
    dashboard_body,
    provision_all,
)
from campaign_core.metrics._provisioning import (
    provision_alarms,
    provision_dashboard,
)

NAMESPACE = "CampaignCore"
ALARMS = [
    "CampaignCore-HighCampaignFailureRate",
    "CampaignCore-LowConversionRate",
    "CampaignCore-BudgetOverspend",
    "CampaignCore-AutomationFailures",
]


class CountingClient:
    """Forwards to a real (moto) client and counts the calls that write."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.meta = inner.meta
        self.writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name.startswith("put_"):
            self.writes.append(name)
        return method


def _alarms(client: Any) -> dict[str, dict[str, Any]]:
    found = client.describe_alarms(AlarmNames=ALARMS)["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def test_provisioning_creates_the_four_alarms(cloudwatch: Any) -> None:
    """After provisioning, the seed's four alarms exist with their thresholds and math."""
    report = provision_all(cloudwatch, namespace=NAMESPACE)
    assert report.alarms == dict.fromkeys(ALARMS, "created")
    alarms = _alarms(cloudwatch)
    assert set(alarms) == set(ALARMS)

    failure = alarms["CampaignCore-HighCampaignFailureRate"]
    assert (failure["ComparisonOperator"], failure["Threshold"]) == ("GreaterThanThreshold", 5.0)
    queries = {q["Id"]: q for q in failure["Metrics"]}
    assert queries["failures"]["MetricStat"]["Metric"]["MetricName"] == "CampaignLaunchFailures"
    assert queries["attempts"]["MetricStat"]["Metric"]["MetricName"] == "CampaignLaunchAttempts"
    assert queries["failure_rate"]["Expression"] == (
        "IF(attempts >= 20, 100 * FILL(failures, 0) / attempts, 0)"
    )
    assert [q["ReturnData"] for q in failure["Metrics"]].count(True) == 1

    conversion = alarms["CampaignCore-LowConversionRate"]
    assert (conversion["ComparisonOperator"], conversion["Threshold"]) == ("LessThanThreshold", 1.0)
    assert "clicks" in {q["Id"] for q in conversion["Metrics"]}
    assert conversion["EvaluationPeriods"] == 3

    budget = alarms["CampaignCore-BudgetOverspend"]
    (query,) = budget["Metrics"]
    assert query["MetricStat"]["Metric"]["MetricName"] == "BudgetUtilization"
    assert (query["MetricStat"]["Stat"], budget["Threshold"]) == ("Maximum", 110.0)

    automation = alarms["CampaignCore-AutomationFailures"]
    (query,) = automation["Metrics"]
    assert query["MetricStat"]["Metric"]["MetricName"] == "AutomationFailures"
    assert (query["MetricStat"]["Period"], query["MetricStat"]["Stat"]) == (3600, "Sum")
    assert automation["Threshold"] == 10.0

    assert all(a["TreatMissingData"] == "notBreaching" for a in alarms.values())
    for alarm in alarms.values():
        for q in alarm["Metrics"]:
            if "MetricStat" in q:
                assert q["MetricStat"]["Metric"]["MetricName"] in METRICS
                assert q["MetricStat"]["Metric"]["Namespace"] == NAMESPACE


def test_provisioning_creates_the_dashboard_with_the_seed_widgets(cloudwatch: Any) -> None:
    """The dashboard exists with the seed's six widgets and their chart types."""
    report = provision_all(cloudwatch, namespace=NAMESPACE, dashboard_name="Campaigns-prod")
    assert report.dashboard == "created"
    body = json.loads(cloudwatch.get_dashboard(DashboardName="Campaigns-prod")["DashboardBody"])
    views = {
        w["properties"]["title"]: w["properties"].get("view")
        for w in body["widgets"]
        if w["type"] == "metric"
    }
    assert views["Campaigns by status"] == "pie"
    assert views["Campaign performance over time"] == "timeSeries"
    assert views["Top campaign types and platforms by revenue"] == "table"
    assert views["A/B test results"] == "bar"
    assert views["Automation executions"] == "bar"
    assert views["ROI by campaign type"] == "bar"
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == 4
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "us-east-1"
            for row in widget["properties"]["metrics"]:
                if isinstance(row[0], str):
                    assert row[0] == NAMESPACE
                    assert row[1] in METRICS


def test_provisioning_twice_changes_nothing(cloudwatch: Any) -> None:
    """A second run writes nothing and reports everything unchanged."""
    first = provision_all(cloudwatch, namespace=NAMESPACE)
    assert first.changed
    before = {n: a["AlarmConfigurationUpdatedTimestamp"] for n, a in _alarms(cloudwatch).items()}
    counting = CountingClient(cloudwatch)
    second = provision_all(counting, namespace=NAMESPACE)
    assert not second.changed
    assert second.alarms == dict.fromkeys(ALARMS, "unchanged")
    assert second.dashboard == "unchanged"
    assert counting.writes == []
    after = {n: a["AlarmConfigurationUpdatedTimestamp"] for n, a in _alarms(cloudwatch).items()}
    assert after == before
    assert second.to_json()["changed"] is False


def test_a_changed_threshold_updates_only_that_alarm(cloudwatch: Any) -> None:
    """Changing one threshold updates one alarm; the others stay unchanged."""
    provision_alarms(cloudwatch, NAMESPACE)
    outcome = provision_alarms(
        cloudwatch, NAMESPACE, thresholds=AlarmThresholds(budget_utilization_percent=120)
    )
    assert outcome["CampaignCore-BudgetOverspend"] == "updated"
    assert [v for k, v in outcome.items() if k != "CampaignCore-BudgetOverspend"] == [
        "unchanged"
    ] * 3
    assert _alarms(cloudwatch)["CampaignCore-BudgetOverspend"]["Threshold"] == 120.0


def test_an_edited_dashboard_is_restored(cloudwatch: Any) -> None:
    """A dashboard edited by hand is rewritten by the next provisioning."""
    provision_dashboard(cloudwatch, NAMESPACE, "CampaignCore")
    cloudwatch.put_dashboard(DashboardName="CampaignCore", DashboardBody='{"widgets": []}')
    assert provision_dashboard(cloudwatch, NAMESPACE, "CampaignCore") == ("updated", ())
    assert provision_dashboard(cloudwatch, NAMESPACE, "CampaignCore") == ("unchanged", ())


def test_static_dimensions_and_actions_reach_the_alarms(cloudwatch: Any) -> None:
    """Alarms read the series carrying the emitter's static dimensions and notify the given ARNs."""
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    provision_alarms(
        cloudwatch,
        NAMESPACE,
        dimensions={"Environment": "prod"},
        alarm_prefix="prod-",
        alarm_actions=[topic],
    )
    found = cloudwatch.describe_alarms(AlarmNamePrefix="prod-")["MetricAlarms"]
    assert len(found) == 4
    for alarm in found:
        assert alarm["AlarmActions"] == [topic]
        for query in alarm["Metrics"]:
            if "MetricStat" in query:
                assert query["MetricStat"]["Metric"]["Dimensions"] == [
                    {"Name": "Environment", "Value": "prod"}
                ]


def test_provision_all_builds_its_client(cloudwatch: Any) -> None:
    """Without a client, provision_all builds one for the region (here inside moto)."""
    report = provision_all(namespace=NAMESPACE, region="us-east-1")
    assert report.changed
    assert set(_alarms(cloudwatch)) == set(ALARMS)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"namespace": "AWS/x"}, "namespace"),
        ({"dashboard_name": "has space"}, "dashboard_name"),
        ({"dimensions": {"CampaignType": "ppv"}}, "dimensions.CampaignType"),
        ({"alarm_actions": ["not-an-arn"]}, "alarm_actions[0]"),
        ({"alarm_actions": "arn:aws:sns:x"}, "alarm_actions"),
        ({"alarm_prefix": "é"}, "alarm_prefix"),
    ],
)
def test_bad_arguments_write_nothing(cloudwatch: Any, kwargs: dict[str, Any], path: str) -> None:
    """Invalid arguments raise before any write: no alarm and no dashboard appear."""
    with pytest.raises(ValidationError) as exc:
        provision_all(cloudwatch, **{"namespace": NAMESPACE, **kwargs})
    assert path in {p.path for p in exc.value.problems}
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"failure_rate_percent": float("nan")}, "failure_rate_percent"),
        ({"conversion_rate_percent": 101}, "conversion_rate_percent"),
        ({"min_clicks": -1}, "min_clicks"),
        ({"automation_failures_per_hour": 1.5}, "automation_failures_per_hour"),
    ],
)
def test_threshold_validation(kwargs: dict[str, Any], path: str) -> None:
    """Thresholds must be finite numbers in range."""
    with pytest.raises(ValidationError) as exc:
        AlarmThresholds(**kwargs)
    assert exc.value.problems[0].path == path


class _Refusing:
    meta = type("Meta", (), {"region_name": "us-east-1"})()

    def describe_alarms(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeAlarms")


def test_aws_refusals_become_provisioning_errors() -> None:
    """An AWS error surfaces as ProvisioningError naming the operation and AWS code."""
    with pytest.raises(ProvisioningError) as exc:
        provision_all(_Refusing(), namespace=NAMESPACE)
    assert exc.value.details == {"operation": "describe_alarms", "awsCode": "AccessDenied"}
    assert exc.value.http_status == 502


def test_missing_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without boto3 and without a client, provision_all names the extra to install."""
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependencyError) as exc:
        provision_all(namespace=NAMESPACE)
    assert exc.value.extra == "cloudwatch"


def test_definitions_are_plain_data() -> None:
    """alarm_definitions and dashboard_body are JSON-ready and deterministic."""
    first = alarm_definitions(NAMESPACE, thresholds=AlarmThresholds(min_clicks=500))
    assert json.loads(json.dumps(first)) == first
    assert "IF(clicks >= 500" in first[1]["Metrics"][2]["Expression"]
    body = dashboard_body(NAMESPACE, region="eu-west-3", dimensions={"Environment": "prod"})
    assert body == dashboard_body(NAMESPACE, region="eu-west-3", dimensions={"Environment": "prod"})
    text = json.dumps(body)
    assert "WHERE Environment = 'prod'" in text
    assert '"Environment", "prod"' in text
    with pytest.raises(ValidationError):
        dashboard_body(NAMESPACE, region="moon-1")
