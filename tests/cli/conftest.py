"""Fixtures for the command line: a runner, a scratch directory, an upgraded database."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from campaign_core.cli import load_app

SRC = Path(__file__).resolve().parents[2] / "src"

#: Variables that would leak the developer's setup into a test.
_ISOLATED_ENV = ("CAMPAIGN_CORE_DATABASE_URL", "CAMPAIGN_CORE_OWNER")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working directory (the CLI's default files land there)."""
    monkeypatch.chdir(tmp_path)
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


Invoke = Callable[..., Result]


@pytest.fixture
def cli(workdir: Path) -> Invoke:
    """Invoke the app in-process: ``cli("tick", "--json", input=...)``."""
    try:
        # click < 8.2 mixes stderr into stdout unless told not to.
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    app = load_app()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def db_url(workdir: Path) -> str:
    """A SQLite file with campaign-core's tables."""
    from campaign_core_sqlalchemy import SqlAlchemyStore

    url = f"sqlite:///{workdir / 'cli.sqlite3'}"
    store = SqlAlchemyStore(url)
    store.upgrade()
    store.close()
    return url


def parse_json(result: Result) -> Any:
    """The command's stdout as JSON (fails the test with the output when it is not)."""
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:  # pragma: no cover - diagnostic
        pytest.fail(f"stdout is not JSON ({error}):\n{result.stdout}\nstderr:\n{result.stderr}")


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``python -m campaign_core.cli`` from the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def module_command(*args: str) -> Sequence[str]:
    """The argv that runs the CLI as a module with this interpreter."""
    return [sys.executable, "-m", "campaign_core.cli", *args]
