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
        self.options: list[dict[str, Any]] = []

    def generate_report(self, campaign_id: str, format: str = "json", **options: Any) -> Any:
        self.calls.append((campaign_id, format))
        self.options.append(options)
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


def test_report_period_and_excel_options_reach_the_service(
    cli: Invoke, db_url: str, services: SimpleNamespace
) -> None:
    """--since/--until (dates are UTC midnights) and --excel are passed to generate_report."""
    result = cli(
        "--database-url",
        db_url,
        "report",
        "cmp-1",
        "--owner",
        "c",
        "--format",
        "csv",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-08T12:00:00+01:00",
        "--excel",
    )
    assert result.exit_code == 0, result.stderr
    assert services.analytics.options[-1] == {
        "since": "2026-03-01T00:00:00Z",
        "until": "2026-03-08T12:00:00+01:00",
        "csv_dialect": "excel",
    }


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "March"], "--since: 'March' is not a date"),
        (["--until", "2026-03-08T12:00:00"], "--until: '2026-03-08T12:00:00' has no time zone"),
        (["--excel"], "--excel: goes with --format csv"),
    ],
)
def test_bad_report_options_exit_2(
    cli: Invoke, db_url: str, services: SimpleNamespace, args: list[str], words: str
) -> None:
    """A period that is not a date with a zone, or --excel without csv, is a usage error."""
    result = cli("--database-url", db_url, "report", "cmp-1", "--owner", "c", *args)
    assert result.exit_code == ExitCode.USAGE
    assert words in result.stderr
    assert services.analytics.calls == []


def test_report_over_a_real_campaign_writes_an_excel_csv(
    cli: Invoke, db_url: str, workdir: Path
) -> None:
    """End to end on SQLite: a tracked campaign's CSV report for a period, Excel dialect."""
    from datetime import UTC, datetime

    from campaign_core import Actor, CampaignCore, FakeClock
    from campaign_core_sqlalchemy import SqlAlchemyStore

    clock = FakeClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    core = CampaignCore(SqlAlchemyStore(db_url), clock=clock)
    ws = core.for_actor(Actor("creator-9"))
    campaign = ws.campaigns.create_campaign(
        name="Report me",
        type="ppv",
        platforms=["instagram"],
        content={"title": "Report me", "price": 5},
        media_urls=["https://cdn.example/a.jpg"],
    )
    ws.campaigns.launch_campaign(campaign.id)
    for hour in range(1, 30):
        clock.advance("1 hour")
        ws.analytics.track_impression(campaign.id, f"fan-{hour}", platform="instagram")
    core.close()
    result = cli(
        "--database-url",
        db_url,
        "report",
        campaign.id,
        "--owner",
        "creator-9",
        "--format",
        "csv",
        "--excel",
        "--since",
        (datetime(2026, 3, 2, tzinfo=UTC)).isoformat(),
        "-o",
        "r.csv",
    )
    assert result.exit_code == 0, result.stderr
    text = (workdir / "r.csv").read_bytes().decode("utf-8")
    assert text.startswith("\ufefftable,key,metric,value,unit\r\n")
    assert "summary,,impressions,15,count" in text  # 00:00 to 14:00 on 2 March, hourly
    assert "previous,,impressions,14,count" in text  # 10:00 to 23:00 on 1 March
