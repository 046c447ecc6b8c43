"""`cloudwatch provision`: dry run without AWS, real provisioning against moto."""

from __future__ import annotations

import json

import pytest

from campaign_core.cli import ExitCode
from campaign_core.metrics import alarm_definitions
from tests.cli.conftest import Invoke, parse_json


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A mocked AWS account (moto) with fake credentials."""
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_dry_run_prints_the_definitions(cli: Invoke) -> None:
    """--dry-run prints the alarms and dashboard as JSON without calling AWS."""
    result = cli(
        "cloudwatch", "provision", "--dry-run", "--namespace", "Acme", "--dimension", "Env=prod",
        "--dashboard-name", "AcmeBoard",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = parse_json(result)
    assert body["alarms"] == json.loads(
        json.dumps(alarm_definitions("Acme", dimensions={"Env": "prod"}))
    )
    assert body["dashboardName"] == "AcmeBoard"
    assert body["dashboard"]["widgets"]


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["--dimension", "Env"], "--dimension[0]"),
        (["--dimension", "Env=a", "--dimension", "Env=b"], "--dimension.Env"),
        (["--dashboard-name", "bad name!"], "--dashboard-name"),
        (["--namespace", ""], "namespace"),
    ],
)
def test_bad_arguments_exit_2(cli: Invoke, args: list[str], path: str) -> None:
    """Bad dimensions, names and namespaces are usage errors, before any AWS call."""
    result = cli("--json", "cloudwatch", "provision", "--dry-run", *args)
    assert result.exit_code == ExitCode.USAGE
    paths = [p["path"] for p in json.loads(result.stderr)["error"]["details"]["problems"]]
    assert any(p.startswith(path) for p in paths), paths


def test_region_is_required_to_provision(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --region or AWS_REGION, provisioning is a usage error."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = cli("cloudwatch", "provision")
    assert result.exit_code == ExitCode.USAGE
    assert "--region" in result.stderr


def test_provisions_then_leaves_unchanged(cli: Invoke, aws: None) -> None:
    """The first run creates the alarms and dashboard; the second changes nothing."""
    first = cli("cloudwatch", "provision", "--region", "eu-west-1", "--json")
    assert first.exit_code == 0, first.stderr
    report = parse_json(first)
    assert set(report["alarms"].values()) == {"created"}
    assert report["dashboard"] == "created"
    second = cli("cloudwatch", "provision", "--region", "eu-west-1")
    assert second.exit_code == 0
    assert "unchanged" in second.stdout
    assert "created" not in second.stdout


def test_aws_failures_exit_1(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused AWS call is an operation failure (exit 1) with the AWS error."""
    from campaign_core import metrics
    from campaign_core.metrics import ProvisioningError

    def refuse(**kwargs: object) -> None:
        raise ProvisioningError("CloudWatch put_metric_alarm failed: AccessDenied")

    monkeypatch.setattr(metrics, "provision_all", refuse)
    result = cli("cloudwatch", "provision", "--region", "us-east-1")
    assert result.exit_code == ExitCode.FAILED
    assert "AccessDenied" in result.stderr
