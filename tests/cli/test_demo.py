"""`demo`: the seed's flows on a fresh SQLite file, its report, its safety rules."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from campaign_core.cli import ExitCode
from campaign_core.cli._demo import (
    DEFAULT_JSON_REPORT,
    FLOWS,
    DemoContext,
    DemoFlow,
    FlowUnavailable,
    build_context,
    has_service,
    prepare_database,
    report_format,
    run_flows,
    write_report,
)
from campaign_core.cli._exit import FeatureNotAvailableError
from campaign_core.errors import ConflictError, ValidationError
from campaign_core_memory import InMemoryStore
from tests.cli.conftest import Invoke, module_command, parse_json, subprocess_env


def memory_context() -> DemoContext:
    return build_context(InMemoryStore(), "memory://")


def test_demo_runs_flow_1_and_writes_the_json_report(cli: Invoke, workdir: Path) -> None:
    """The demo creates its SQLite file, runs flow 1 and writes the JSON report when asked."""
    result = cli("demo", "--report", DEFAULT_JSON_REPORT)
    assert result.exit_code == 0, result.stderr
    assert (workdir / "campaign-core-demo.sqlite3").exists()
    report = json.loads((workdir / DEFAULT_JSON_REPORT).read_text())
    statuses = {flow["key"]: flow["status"] for flow in report["flows"]}
    assert statuses["campaign"] == "ok"
    flow_1 = report["flows"][0]["summary"]
    assert flow_1["campaign"]["status"] == "paused"
    assert flow_1["campaign"]["pausedReason"] == "budget_exhausted"
    assert {r["platform"]: r["status"] for r in flow_1["publishStatus"]} == {
        "onlyfans": "published",
        "instagram": "published",
        "tiktok": "published",
    }
    assert [t["publishAttempts"] for t in flow_1["ticks"]] == [3, 1]
    assert flow_1["tracked"]["impressions"] > 0
    assert flow_1["rollupTick"]["metricSnapshots"] > 0
    assert report["report"] == {"format": "json", "path": DEFAULT_JSON_REPORT}
    assert "Campaign scheduled, launched and tracked" in result.stdout
    assert "tiktok published on attempt 2" in result.stdout


def test_demo_writes_the_campaign_pdf_by_default(cli: Invoke, workdir: Path) -> None:
    """With the analytics service, the default report is flow 1's campaign as a PDF."""
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    pdf = (workdir / "campaign-core-demo-report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert not (workdir / DEFAULT_JSON_REPORT).exists()


def test_flows_without_services_say_not_available(cli: Invoke, workdir: Path) -> None:
    """Flows whose services are missing are reported as not available, naming what is missing."""
    result = cli("demo", "--json", "--report", str(workdir / "r.json"))
    body = parse_json(result)
    for flow in body["flows"][1:]:
        if flow["status"] == "not_available":
            assert flow["missing"]
            assert all(m.startswith("ws.") for m in flow["missing"])
    if any(f["status"] == "not_available" for f in body["flows"]):
        human = cli("demo")
        assert "not available yet" in human.stdout


def test_demo_is_deterministic_and_starts_fresh(cli: Invoke, workdir: Path) -> None:
    """Two runs give the same report: the second starts from a new database."""
    counts = []
    for name in ("one.json", "two.json"):
        cli("demo", "--report", name)
        with sqlite3.connect(workdir / "campaign-core-demo.sqlite3") as connection:
            counts.append(connection.execute("SELECT count(*) FROM campaigns").fetchone()[0])
    assert (workdir / "one.json").read_text().replace("one.json", "X") == (
        workdir / "two.json"
    ).read_text().replace("two.json", "X")
    assert counts[0] >= 1
    assert counts[1] == counts[0]


def test_demo_ignores_the_global_database_url(cli: Invoke, workdir: Path, db_url: str) -> None:
    """The demo never runs on the configured database (it would wipe it)."""
    before = (workdir / "cli.sqlite3").read_bytes()
    result = cli("--database-url", db_url, "demo", env={"CAMPAIGN_CORE_DATABASE_URL": db_url})
    assert result.exit_code == 0
    assert (workdir / "cli.sqlite3").read_bytes() == before


def test_demo_refuses_to_delete_a_database_it_did_not_create(
    cli: Invoke, workdir: Path, db_url: str
) -> None:
    """An existing file that is not a demo database is left alone and the demo exits 2."""
    before = (workdir / "cli.sqlite3").read_bytes()
    result = cli("demo", "--database-url", db_url)
    assert result.exit_code == ExitCode.USAGE
    assert "is not a campaign-core demo database" in result.stderr
    assert (workdir / "cli.sqlite3").read_bytes() == before


def test_demo_refuses_other_backends(cli: Invoke) -> None:
    """The demo only runs on SQLite."""
    result = cli("demo", "--database-url", "postgresql+psycopg://u@127.0.0.1:1/db")
    assert result.exit_code == ExitCode.USAGE
    assert "only on SQLite" in result.stderr


def test_demo_in_memory(cli: Invoke, workdir: Path) -> None:
    """An in-memory SQLite URL works and leaves no database file."""
    result = cli("demo", "--database-url", "sqlite://", "--report", "mem.json")
    assert result.exit_code == 0
    assert not list(workdir.glob("*.sqlite3"))


@pytest.mark.parametrize(
    ("report", "code"),
    [("report.txt", ExitCode.USAGE), ("report.docx", ExitCode.USAGE)],
)
def test_bad_report_paths_fail_before_anything_runs(
    cli: Invoke, workdir: Path, report: str, code: ExitCode
) -> None:
    """A report suffix the demo cannot write is refused before the database is touched."""
    result = cli("demo", "--report", report)
    assert result.exit_code == code
    assert not (workdir / "campaign-core-demo.sqlite3").exists()


def test_unwritable_report_exits_1(cli: Invoke, workdir: Path) -> None:
    """A report path in a missing directory fails with a message, not a traceback."""
    result = cli("demo", "--report", str(workdir / "missing" / "r.json"))
    assert result.exit_code == ExitCode.FAILED
    assert "cannot write the report" in result.stderr


def test_demo_via_python_dash_m(workdir: Path) -> None:
    """`python -m campaign_core.cli demo` runs end to end in a fresh process."""
    result = subprocess.run(
        module_command("demo", "--report", "sub.json"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=workdir,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((workdir / "sub.json").read_text())["flows"][0]["status"] == "ok"


def test_flow_hooks_isolate_failures_and_unavailability() -> None:
    """A failing or unavailable flow is recorded and the next flow still runs."""
    ran: list[str] = []

    def broken(ctx: DemoContext) -> dict[str, Any]:
        raise ConflictError("clash")

    def buggy(ctx: DemoContext) -> dict[str, Any]:
        raise KeyError("oops")

    def missing(ctx: DemoContext) -> dict[str, Any]:
        ctx.require("campaigns.create_campaign", "teleport.beam_up")
        return {}

    def fine(ctx: DemoContext) -> dict[str, Any]:
        ran.append("fine")
        return {"steps": ["did it"], "count": 1}

    flows = [
        DemoFlow(1, "broken", "Broken", broken),
        DemoFlow(2, "buggy", "Buggy", buggy),
        DemoFlow(3, "missing", "Missing", missing),
        DemoFlow(4, "fine", "Fine", fine),
    ]
    seen: list[int] = []
    outcomes = run_flows(memory_context(), flows, on_flow=lambda f: seen.append(f.number))
    assert seen == [1, 2, 3, 4]
    assert [o.status for o in outcomes] == ["failed", "failed", "not_available", "ok"]
    assert outcomes[0].message == "[conflict] clash"
    assert outcomes[1].message == "KeyError: 'oops'"
    assert outcomes[2].missing == ("teleport.beam_up",)
    assert outcomes[2].to_json()["missing"] == ["ws.teleport.beam_up"]
    assert outcomes[3].to_json()["summary"] == {"steps": ["did it"], "count": 1}
    assert ran == ["fine"]


def test_flows_are_the_seeds_four_in_order() -> None:
    """FLOWS lists the seed's four flows, numbered 1..4 with distinct keys."""
    assert [f.number for f in FLOWS] == [1, 2, 3, 4]
    assert len({f.key for f in FLOWS}) == 4
    assert FLOWS[0].run.__name__ == "flow_1_campaign"


def test_flow_1_reports_progress_steps() -> None:
    """Flow 1 reports its steps through ctx.step and sets the report's campaign."""
    ctx = memory_context()
    steps: list[str] = []
    ctx.on_step = steps.append
    summary = FLOWS[0].run(ctx)
    assert len(steps) >= 4
    assert ctx.report_campaign_id == summary["campaignId"]


def test_has_service() -> None:
    """has_service walks dotted attributes of the workspace."""
    ws = memory_context().ws
    assert has_service(ws, "campaigns.create_from_template")
    assert not has_service(ws, "campaigns.no_such_method")
    assert not has_service(ws, "nothing.at_all")


def test_unavailable_carries_what_is_missing() -> None:
    """FlowUnavailable keeps its message and the missing services."""
    with pytest.raises(FlowUnavailable) as caught:
        memory_context().require("analytics.generate_report", "reports.no_such_service")
    assert caught.value.missing == ("reports.no_such_service",)
    assert "ws.reports.no_such_service" in caught.value.message


def fake_reporting_workspace(payload: object) -> Any:
    """A stand-in workspace whose analytics service renders a PDF (until the real one lands)."""
    calls: list[tuple[str, str]] = []

    def generate_report(campaign_id: str, format: str = "json") -> object:
        calls.append((campaign_id, format))
        return payload

    return SimpleNamespace(analytics=SimpleNamespace(generate_report=generate_report), calls=calls)


def test_pdf_report_when_analytics_can_render_it(tmp_path: Path) -> None:
    """With ws.analytics.generate_report the default report is the campaign's PDF."""
    ws = fake_reporting_workspace(b"%PDF-1.7 fake")
    path, fmt = report_format(ws, None)
    assert (path.name, fmt) == ("campaign-core-demo-report.pdf", "pdf")
    assert report_format(ws, "x.json")[1] == "json"
    ctx = memory_context()
    ctx.ws = ws
    ctx.report_campaign_id = "cmp-1"
    out = write_report(ctx, {}, tmp_path / "r.pdf", "pdf")
    assert out.read_bytes() == b"%PDF-1.7 fake"
    assert ws.calls == [("cmp-1", "pdf")]


def test_pdf_report_problems() -> None:
    """A PDF needs a campaign and bytes back; without the service a .pdf path is refused."""
    from campaign_core.errors import CampaignCoreError

    ctx = memory_context()
    with pytest.raises(FeatureNotAvailableError):
        report_format(SimpleNamespace(), "x.pdf")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        report_format(ctx.ws, "x.docx")
    ctx.ws = fake_reporting_workspace({"not": "bytes"})
    with pytest.raises(CampaignCoreError, match="no flow produced a campaign"):
        write_report(ctx, {}, Path("unused.pdf"), "pdf")
    ctx.report_campaign_id = "cmp-1"
    with pytest.raises(CampaignCoreError, match="expected bytes"):
        write_report(ctx, {}, Path("unused.pdf"), "pdf")


def test_prepare_database(tmp_path: Path) -> None:
    """Only missing, empty or demo-marked files are deleted; others are refused untouched."""
    prepare_database(None)
    prepare_database(tmp_path / "absent.sqlite3")
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    prepare_database(empty)
    assert not empty.exists()
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    with pytest.raises(ValidationError):
        prepare_database(text)
    assert text.read_text() == "my notes"
    with pytest.raises(ValidationError):
        prepare_database(tmp_path)


def test_flow_2_runs_the_ab_test_when_the_service_exists() -> None:
    """With the A/B test service, flow 2 finds B the winner and applies its content."""
    ctx = memory_context()
    if not has_service(ctx.ws, "campaigns.create_ab_test"):
        with pytest.raises(FlowUnavailable) as caught:
            FLOWS[1].run(ctx)
        assert "campaigns.create_ab_test" in caught.value.missing
        return
    summary = FLOWS[1].run(ctx)
    assert summary["winner"] == "B"
    assert summary["applied"]["status"] == "completed"
    assert sum(summary["assignments"].values()) == 200
    assert summary["decisions"][-1]["winnerId"] is not None
    campaign = ctx.ws.campaigns.get_campaign(summary["campaignId"])
    assert campaign.content["title"].startswith("Tonight only")


def test_flow_4_delivers_the_campaign_to_the_segments_fans() -> None:
    """Flow 4 launches a campaign with a message: every fan of the segment gets it once."""
    from campaign_core.cli._demo_flows import flow_4_segment

    ctx = memory_context()
    summary = flow_4_segment(ctx)
    delivery = summary["delivery"]
    assert delivery["status"] == "done"
    assert delivery["audience"] == summary["members"] > 0
    assert delivery["sent"] == summary["members"]
    sent = [m for m in ctx.core.runtime.messenger.messages if m["channel"] == "dm"]
    assert len({m["fan_id"] for m in sent}) == summary["members"]
