"""`--core module:attribute`: the commands run with the host's own wired core."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaign_core.cli import ExitCode
from tests.cli.conftest import Invoke, parse_json
from tests.cli.test_db_and_tick import due_campaign

_names = itertools.count()

HOST_MODULE = """
from campaign_core import CampaignCore, StoreUnavailableError
from campaign_core.publishing import ScriptedPublisher
from campaign_core_sqlalchemy import SqlAlchemyStore

publisher = ScriptedPublisher({{}})

def build_core():
    return CampaignCore(SqlAlchemyStore({url!r}), publisher=publisher)

core = build_core()
not_a_core = 42

def broken():
    raise RuntimeError("factory bug")

def database_down():
    raise StoreUnavailableError("the host's database is down")
"""


@pytest.fixture
def host_module(workdir: Path, db_url: str) -> Iterator[str]:
    """A host module in the working directory, under a name unique to the test."""
    name = f"host_app_{next(_names)}"
    (workdir / f"{name}.py").write_text(textwrap.dedent(HOST_MODULE.format(url=db_url)))
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("attribute", ["build_core", "core"])
def test_tick_uses_the_hosts_core_and_publisher(
    cli: Invoke, db_url: str, host_module: str, attribute: str
) -> None:
    """With --core the tick publishes through the host's publisher, without the warning."""
    campaign_id, platforms = due_campaign(db_url)
    result = cli("--core", f"{host_module}:{attribute}", "tick", "--json")
    assert result.exit_code == 0, result.stderr
    assert parse_json(result)["campaignsLaunched"] == [campaign_id]
    publisher = sys.modules[host_module].publisher
    assert len(publisher.posts) == platforms
    assert "default ports" not in result.stderr


def test_without_core_the_default_ports_are_announced(cli: Invoke, db_url: str) -> None:
    """Without --core, tick warns that publishes are only recorded in memory."""
    result = cli("--database-url", db_url, "tick")
    assert "no --core given" in result.stderr


def test_core_from_the_environment(cli: Invoke, host_module: str) -> None:
    """CAMPAIGN_CORE_FACTORY works like --core."""
    result = cli("worker", "--max-ticks", "1", env={"CAMPAIGN_CORE_FACTORY": f"{host_module}:core"})
    assert result.exit_code == 0, result.stderr
    assert f"started on --core {host_module}:core" in result.stderr


@pytest.mark.parametrize(
    ("attribute", "code", "words"),
    [
        (None, ExitCode.USAGE, 'is not "module:attribute"'),
        ("nothing_here", ExitCode.USAGE, "has no attribute"),
        ("not_a_core", ExitCode.USAGE, "gave a int, expected a CampaignCore"),
        ("broken", ExitCode.FAILED, "raised RuntimeError: factory bug"),
        ("database_down", ExitCode.STORE_UNAVAILABLE, "the host's database is down"),
    ],
)
def test_bad_factories(
    cli: Invoke, host_module: str, attribute: str | None, code: ExitCode, words: str
) -> None:
    """Each way a factory can be wrong has its exit code and message."""
    spec = host_module if attribute is None else f"{host_module}:{attribute}"
    result = cli("--core", spec, "tick")
    assert result.exit_code == code, result.stderr
    assert words in result.stderr


def test_modules_that_cannot_be_imported(cli: Invoke, workdir: Path) -> None:
    """A missing module is a usage error; a module that fails on import is an operation failure."""
    missing = cli("--core", "no_such_host_module:core", "tick")
    assert missing.exit_code == ExitCode.USAGE
    assert "cannot import" in missing.stderr
    (workdir / "host_app_crashes.py").write_text("import no_such_dependency_xyz\n")
    try:
        crashed = cli("--core", "host_app_crashes:core", "tick")
    finally:
        sys.modules.pop("host_app_crashes", None)
    assert crashed.exit_code == ExitCode.FAILED
    assert "no_such_dependency_xyz" in crashed.stderr


EMPTY_HOST_MODULE = """
from campaign_core import CampaignCore, StoreUnavailableError
from campaign_core_sqlalchemy import SqlAlchemyStore

def build_core():
    return CampaignCore(SqlAlchemyStore({url!r}))

def failing_core():
    core = build_core()

    def tick(*args, **kwargs):
        raise StoreUnavailableError("the host's database is down")

    core.tick = tick
    return core
"""


@pytest.fixture
def empty_host_module(workdir: Path) -> Iterator[str]:
    """A host module whose core is over a SQLite file without campaign-core's tables."""
    name = f"host_app_{next(_names)}"
    url = f"sqlite:///{workdir / 'host.sqlite3'}"
    (workdir / f"{name}.py").write_text(textwrap.dedent(EMPTY_HOST_MODULE.format(url=url)))
    yield name
    sys.modules.pop(name, None)


def test_db_upgrade_with_core_migrates_the_hosts_store_only(
    cli: Invoke, workdir: Path, empty_host_module: str
) -> None:
    """`--core X db upgrade` creates the tables in the host's database, no SQLite file in the cwd."""
    result = cli("--core", f"{empty_host_module}:build_core", "db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert "schema up to date" in result.stdout
    assert "host.sqlite3" in result.stdout
    assert not (workdir / "campaign-core.sqlite3").exists()
    assert cli("--core", f"{empty_host_module}:build_core", "tick").exit_code == 0


@pytest.mark.parametrize("command", [("tick",), ("worker", "--interval", "0", "--max-ticks", "2")])
def test_core_without_tables_is_refused_before_the_first_tick(
    cli: Invoke, empty_host_module: str, command: tuple[str, ...]
) -> None:
    """A --core store without tables exits 4 at once and says how to create them."""
    spec = f"{empty_host_module}:build_core"
    result = cli("--core", spec, *command)
    assert result.exit_code == ExitCode.STORE_UNAVAILABLE, result.stderr
    assert "has no campaign-core tables" in result.stderr
    assert f"campaign-core --core {spec} db upgrade" in result.stderr
    assert "tick 1" not in result.stderr


def test_a_bounded_worker_whose_ticks_fail_exits_1(cli: Invoke, empty_host_module: str) -> None:
    """`worker --max-ticks` exits 1 when its ticks failed, so a cron job or supervisor sees it."""
    spec = f"{empty_host_module}:failing_core"
    assert cli("--core", f"{empty_host_module}:build_core", "db", "upgrade").exit_code == 0
    result = cli("--core", spec, "worker", "--interval", "0", "--max-ticks", "1")
    assert result.exit_code == ExitCode.FAILED, result.stderr
    assert "failed ticks 1" in result.stderr
