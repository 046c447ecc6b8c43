"""The package entry point: lazy imports, the missing-extra message, global options."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import campaign_core.cli as cli_package
from campaign_core import __version__
from campaign_core.cli import (
    ExitCode,
    load_app,
    main,
)
from campaign_core.errors import MissingDependencyError
from tests.cli.conftest import Invoke, module_command, subprocess_env


def test_import_does_not_load_typer_or_rich() -> None:
    """`import campaign_core.cli` imports neither typer, rich nor sqlalchemy."""
    code = (
        "import sys, campaign_core.cli; "
        "print(sorted(m for m in ('typer', 'rich', 'sqlalchemy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_app_without_the_extra_raises_missing_dependency(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading `app` without typer or rich raises MissingDependencyError naming the cli extra."""
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingDependencyError) as caught:
        load_app()
    assert (caught.value.extra, caught.value.module) == ("cli", missing)
    assert "pip install 'campaign-core[cli]'" in str(caught.value)
    with pytest.raises(MissingDependencyError):
        cli_package.app  # noqa: B018


def test_main_without_the_extra_prints_the_message_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() without typer says which extra to install, on stderr, and exits 2."""
    monkeypatch.setitem(sys.modules, "typer", None)
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("campaign-core: 'typer' is not installed")
    assert "campaign-core[cli]" in err


def test_unknown_attribute_is_an_attribute_error() -> None:
    """Other attributes of the package are plain AttributeErrors."""
    with pytest.raises(AttributeError):
        cli_package.nothing_here  # noqa: B018


def test_help_lists_every_command(cli: Invoke) -> None:
    """--help names each command the issue asks for."""
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("db", "tick", "worker", "demo", "report", "abtest", "segment", "cloudwatch"):
        assert command in result.stdout


def test_the_help_summary_names_every_command() -> None:
    """The top-level description names every command, the report and segment ones too."""
    from campaign_core.cli._app import app

    for command in ("db upgrade", "tick", "worker", "demo", "report", "segment size", "abtest"):
        assert command in (app.info.help or "")


COMMANDS = [
    (),
    ("db", "upgrade"),
    ("tick",),
    ("worker",),
    ("demo",),
    ("report",),
    ("abtest", "analyze"),
    ("segment", "size"),
    ("cloudwatch", "provision"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "campaign-core")
def test_help_placeholders_are_plain_names(cli: Invoke, command: tuple[str, ...]) -> None:
    """No --help shows a Python type (<str>, <list[str]>) or a brace ({CAMPAIGN_ID}) as a placeholder."""
    result = cli(*command, "--help")
    assert result.exit_code == 0
    for odd in ("<str>", "<int", "<float", "<list", "<path>", "{"):
        assert odd not in result.stdout, result.stdout


def test_no_arguments_shows_help_and_is_a_usage_error(cli: Invoke) -> None:
    """Running without a command prints the usage (exit 2, as click does for missing commands)."""
    result = cli()
    assert result.exit_code == ExitCode.USAGE
    assert "Usage" in result.stdout + result.stderr


def test_version(cli: Invoke) -> None:
    """--version prints the library's version."""
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"campaign-core {__version__}"


def test_unknown_command_is_a_usage_error(cli: Invoke) -> None:
    """An unknown command exits 2."""
    assert cli("launch-rockets").exit_code == ExitCode.USAGE


def test_logging_is_undone_after_each_invocation(cli: Invoke) -> None:
    """Each invocation removes its log handler, so repeated runs leave no handlers behind."""
    logger = logging.getLogger("campaign_core")
    before = list(logger.handlers)
    for _ in range(3):
        cli("abtest", "analyze", "missing.csv")
    assert logger.handlers == before


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m campaign_core.cli --version` works like the console script."""
    result = subprocess.run(
        module_command("--version"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"campaign-core {__version__}"


def test_exit_codes_are_stable() -> None:
    """The documented exit codes keep their values (scripts depend on them)."""
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 130]


def test_help_loads_neither_the_core_nor_numpy() -> None:
    """`campaign-core --help` imports no engine module, numpy nor scipy (it must start fast)."""
    code = (
        "import sys\n"
        "from campaign_core.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('campaign_core._core', 'campaign_core.services', 'numpy', 'scipy', 'sqlalchemy')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    )
    assert result.stderr.strip() == "[]"
