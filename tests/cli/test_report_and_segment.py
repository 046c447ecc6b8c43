"""`report` and `segment size`: what they print, their inputs and their failures."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from campaign_core import Workspace
from campaign_core.cli import ExitCode
from tests.cli.conftest import Invoke, parse_json


def test_owner_is_required(cli: Invoke) -> None:
    """Both commands act for an account: --owner (or CAMPAIGN_CORE_OWNER) is required."""
    assert cli("report", "cmp-1").exit_code == ExitCode.USAGE
    assert cli("segment", "size", "{}").exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        ('{"engagement": ', "line 1, column"),
        ('{"engagement": NaN}', "NaN is not allowed"),
        ('{"engagement": Infinity}', "Infinity is not allowed"),
        ("[1, 2]", "must be a JSON object"),
        ('"high"', "must be a JSON object"),
        ("@missing.json", "no such file"),
    ],
)
def test_bad_criteria_json_exits_2(cli: Invoke, criteria: str, words: str) -> None:
    """Criteria that are not a strict JSON object are usage errors, checked first."""
    result = cli("segment", "size", criteria, "--owner", "c1")
    assert result.exit_code == ExitCode.USAGE
    assert words in result.stderr
    assert "CRITERIA_JSON" in result.stderr


class FakeAnalytics:
    """Stands in for ws.analytics until the real service lands."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def generate_report(self, campaign_id: str, format: str = "json") -> Any:
        self.calls.append((campaign_id, format))
        return {
            "json": {"campaignId": campaign_id, "roi": 1.5},
            "csv": "metric,value\nroi,1.5\n",
            "pdf": b"%PDF-1.7",
        }[format]


class FakeSegments:
    """Stands in for ws.segments until the real service lands."""

    def __init__(self) -> None:
        self.criteria: list[Any] = []

    def calculate_segment_size(self, criteria: Any) -> int:
        self.criteria.append(criteria)
        return 42


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Workspaces get fake analytics and segments services."""
    fakes = SimpleNamespace(analytics=FakeAnalytics(), segments=FakeSegments(), owners=[])
    original = Workspace.__init__

    def init(self: Workspace, runtime: Any, actor: Any) -> None:
        original(self, runtime, actor)
        fakes.owners.append(actor.user_id)
        self.analytics = fakes.analytics  # type: ignore[attr-defined]
        self.segments = fakes.segments  # type: ignore[attr-defined]

    monkeypatch.setattr(Workspace, "__init__", init)
    return fakes


def test_report_formats_once_the_service_exists(
    cli: Invoke, db_url: str, workdir: Path, services: SimpleNamespace
) -> None:
    """report prints json/csv to stdout and writes pdf to --output, acting for --owner."""
    as_json = cli("--database-url", db_url, "report", "cmp-1", "--owner", "creator-7")
    assert as_json.exit_code == 0, as_json.stderr
    assert parse_json(as_json) == {"campaignId": "cmp-1", "roi": 1.5}
    assert "creator-7" in services.owners
    as_csv = cli("--database-url", db_url, "report", "cmp-1", "--owner", "c", "--format", "csv")
    assert as_csv.stdout == "metric,value\nroi,1.5\n"
    no_output = cli("--database-url", db_url, "report", "cmp-1", "--owner", "c", "--format", "pdf")
    assert no_output.exit_code == ExitCode.USAGE
    pdf = cli(
        "--database-url",
        db_url,
        "report",
        "cmp-1",
        "--owner",
        "c",
        "--format",
        "pdf",
        "-o",
        "r.pdf",
    )
    assert pdf.exit_code == 0
    assert (workdir / "r.pdf").read_bytes() == b"%PDF-1.7"
    assert services.analytics.calls[-1] == ("cmp-1", "pdf")


def test_segment_size_once_the_service_exists(
    cli: Invoke, db_url: str, workdir: Path, services: SimpleNamespace
) -> None:
    """segment size passes the parsed criteria (text, @file or stdin) and prints the size."""
    criteria = {"spendingLevel": "high", "engagement": ">50"}
    text = cli("--database-url", db_url, "segment", "size", json.dumps(criteria), "--owner", "c1")
    assert text.exit_code == 0, text.stderr
    assert "segment size: 42" in text.stdout
    (workdir / "crit.json").write_text(json.dumps(criteria))
    from_file = cli(
        "--database-url", db_url, "--json", "segment", "size", "@crit.json", "--owner", "c1"
    )
    assert parse_json(from_file) == {"size": 42}
    from_stdin = cli(
        "--database-url",
        db_url,
        "segment",
        "size",
        "-",
        "--owner",
        "c1",
        input=json.dumps(criteria),
    )
    assert from_stdin.exit_code == 0
    assert services.segments.criteria == [criteria] * 3


def test_report_store_errors_still_exit_4(cli: Invoke, services: SimpleNamespace) -> None:
    """With the service present, a missing database is still exit 4."""
    result = cli("--database-url", "sqlite:///absent.sqlite3", "report", "c", "--owner", "o")
    assert result.exit_code == ExitCode.STORE_UNAVAILABLE
