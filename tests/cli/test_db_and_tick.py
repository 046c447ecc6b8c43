"""`db upgrade` and `tick`: happy paths, JSON output, exit codes, database errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_core import Actor, CampaignCore, FakeClock, TickError, TickReport
from campaign_core.cli import ExitCode
from tests.cli.conftest import Invoke, parse_json


def due_campaign(db_url: str) -> tuple[str, int]:
    """A campaign scheduled a day ago (written with a clock set in the past) and its platform count."""
    from campaign_core_sqlalchemy import SqlAlchemyStore

    past = datetime.now(UTC) - timedelta(days=1)
    store = SqlAlchemyStore(db_url)
    core = CampaignCore(store, clock=FakeClock(past))
    ws = core.for_actor(Actor("creator-1"))
    campaign = ws.campaigns.create_from_template(
        "tpl_general_flash_sale", {"name": "Flash", "mediaUrls": ["https://cdn.example.com/a.jpg"]}
    )
    ws.campaigns.schedule_campaign(campaign.id, past + timedelta(hours=1))
    core.close()
    return campaign.id, len(campaign.platforms)


def test_db_upgrade_creates_the_tables_and_is_idempotent(cli: Invoke, workdir: Path) -> None:
    """db upgrade creates a working database; running it again changes nothing."""
    url = f"sqlite:///{workdir / 'new.sqlite3'}"
    first = cli("--database-url", url, "db", "upgrade")
    assert first.exit_code == 0, first.stderr
    assert "schema up to date" in first.stdout
    again = cli("--database-url", url, "db", "upgrade", "--json")
    assert again.exit_code == 0
    assert parse_json(again) == {"ok": True, "database": url}
    assert cli("--database-url", url, "tick").exit_code == 0


def test_database_url_from_the_environment(cli: Invoke, workdir: Path) -> None:
    """CAMPAIGN_CORE_DATABASE_URL is used when --database-url is not given."""
    url = f"sqlite:///{workdir / 'from-env.sqlite3'}"
    result = cli("db", "upgrade", env={"CAMPAIGN_CORE_DATABASE_URL": url})
    assert result.exit_code == 0
    assert (workdir / "from-env.sqlite3").exists()


def test_default_database_is_a_local_sqlite_file(cli: Invoke, workdir: Path) -> None:
    """Without a URL the default is campaign-core.sqlite3 in the working directory."""
    assert cli("db", "upgrade").exit_code == 0
    assert (workdir / "campaign-core.sqlite3").exists()


def test_tick_launches_due_campaigns(cli: Invoke, db_url: str) -> None:
    """tick launches a campaign that is due and prints what it did."""
    campaign_id, platforms = due_campaign(db_url)
    result = cli("--database-url", db_url, "tick")
    assert result.exit_code == 0, result.stderr
    assert campaign_id in result.stdout
    assert f"publishAttempts: {platforms}" in result.stdout
    again = cli("--database-url", db_url, "tick", "--json")
    body = parse_json(again)
    assert body["campaignsLaunched"] == []
    assert body["errors"] == []


def test_tick_json_lists_the_launch(cli: Invoke, db_url: str) -> None:
    """The global --json gives the TickReport's JSON form."""
    campaign_id, platforms = due_campaign(db_url)
    result = cli("--database-url", db_url, "--json", "tick")
    body = parse_json(result)
    assert body["campaignsLaunched"] == [campaign_id]
    assert body["publishAttempts"] == platforms
    assert body["now"].endswith("Z")


def test_tick_with_errors_exits_1(
    cli: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick that reports item errors exits 1 and prints them."""
    report = TickReport(
        now=datetime(2026, 1, 1, tzinfo=UTC),
        errors=(TickError("launch", "cmp-1", "content too long for tiktok"),),
    )
    monkeypatch.setattr(CampaignCore, "tick", lambda self, now=None: report)
    result = cli("--database-url", db_url, "tick")
    assert result.exit_code == ExitCode.FAILED
    assert "content too long for tiktok" in result.stdout
    as_json = parse_json(cli("--database-url", db_url, "tick", "--json"))
    assert as_json["errors"] == [
        {"job": "launch", "entityId": "cmp-1", "error": "content too long for tiktok"}
    ]


def test_tick_on_a_missing_sqlite_file_exits_4_without_creating_it(
    cli: Invoke, workdir: Path
) -> None:
    """A SQLite file that does not exist is 'store unavailable' and is not created."""
    result = cli("--database-url", "sqlite:///absent.sqlite3", "tick")
    assert result.exit_code == ExitCode.STORE_UNAVAILABLE
    assert "campaign-core db upgrade" in result.stderr
    assert not (workdir / "absent.sqlite3").exists()


def test_tick_on_a_database_without_tables_exits_4(cli: Invoke, workdir: Path) -> None:
    """A reachable database without campaign-core's tables says to run db upgrade."""
    import sqlite3

    sqlite3.connect(workdir / "other.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    result = cli("--database-url", "sqlite:///other.sqlite3", "tick", "--json")
    assert result.exit_code == ExitCode.STORE_UNAVAILABLE
    assert "no campaign-core tables" in result.stderr


@pytest.mark.parametrize(
    ("url", "code", "words"),
    [
        ("not a url", ExitCode.USAGE, "is not a database URL"),
        ("", ExitCode.USAGE, "is empty"),
        ("nosuchdb://host/db", ExitCode.USAGE, "unknown database backend"),
        ("oracle://scott@127.0.0.1/db", ExitCode.USAGE, "does not support oracle databases"),
        ("mysql+mysqldb://root@127.0.0.1/db", ExitCode.NOT_AVAILABLE, "campaign-core[mysql]"),
        (
            "postgresql+psycopg://user:s3cret@127.0.0.1:1/db?connect_timeout=2",
            ExitCode.STORE_UNAVAILABLE,
            "cannot reach the database",
        ),
        ("sqlite:////no/such/directory/x.sqlite3", ExitCode.STORE_UNAVAILABLE, "does not exist"),
    ],
    ids=[
        "garbage",
        "empty",
        "unknown-backend",
        "unsupported-backend",
        "missing-driver",
        "unreachable",
        "missing-dir",
    ],
)
def test_bad_database_urls(cli: Invoke, url: str, code: ExitCode, words: str) -> None:
    """Each kind of bad URL has its exit code and a message, never a traceback or a password."""
    for command in (("tick",), ("db", "upgrade")):
        result = cli("--database-url", url, *command)
        assert result.exit_code == code, (command, result.stderr)
        assert words in result.stderr
        assert "Traceback" not in result.stderr
        assert "s3cret" not in result.stderr


def test_errors_as_json_on_stderr(cli: Invoke) -> None:
    """With --json an error is a JSON object on stderr with its code and problems."""
    import json

    result = cli("--json", "--database-url", "not a url", "tick")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"]["problems"][0]["path"] == "--database-url"


def test_unexpected_errors_are_reported_without_traceback_unless_verbose(
    cli: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug surfaces as 'internal error' and exit 1; -v adds the traceback."""

    def boom(self: CampaignCore, now: object = None) -> TickReport:
        raise RuntimeError("boom")

    monkeypatch.setattr(CampaignCore, "tick", boom)
    quiet = cli("--database-url", db_url, "tick")
    assert quiet.exit_code == ExitCode.FAILED
    assert "internal error: RuntimeError: boom" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = cli("-v", "--database-url", db_url, "tick")
    assert loud.exit_code == ExitCode.FAILED
    assert "Traceback" in loud.stderr


def test_without_sqlalchemy_database_commands_exit_3(
    cli: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the sqlalchemy extra the database commands say which extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    result = cli("--database-url", db_url, "tick")
    assert result.exit_code == ExitCode.NOT_AVAILABLE
    assert "campaign-core[sqlalchemy]" in result.stderr
