"""The ``campaign-core`` examples in the docs' ```console blocks run and print what they show.

Each page's examples run in order in one scratch directory, in-process (as the
other CLI tests do), with what they need to run offline: the default SQLite
database holding a due campaign and a few fans, and moto standing in for AWS.
``$ cat FILE`` followed by a listing writes that file first, so an example that
reads a file shows its content; ``$ echo $?`` checks the previous exit code.

The shown output is compared line by line, after collapsing runs of spaces and
of box-drawing rules (a column one character wider is not drift): every shown
line must appear in the real output, in order (stdout and stderr each in
order, since a terminal interleaves them). ``...`` in a shown line stands for
anything. For the commands that run on the system clock, times and generated
ids are replaced by placeholders on both sides. A command that cannot run here
is listed in ``NOT_RUN`` with the reason; the last test keeps that list honest.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from tests.cli.conftest import Invoke

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if "_build" not in p.parts
)
CONSOLE = re.compile(r"^```console[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)

#: The terminal width the examples are shown at (rich fits tables and panels to it).
COLUMNS = "100"

#: Documented commands that cannot run in a test, and why.
NOT_RUN = {
    "campaign-core --database-url postgresql+psycopg://app@db/campaigns db upgrade": (
        "needs a PostgreSQL server at db"
    ),
    "campaign-core --database-url postgresql+psycopg://app@db/campaigns worker --interval 5": (
        "needs a PostgreSQL server at db, and runs until Ctrl-C"
    ),
    "campaign-core report CAMPAIGN_ID --owner creator-42 [--format json|csv|pdf] [-o FILE] [--since DATE] [--until DATE] [--excel]": (
        "a synopsis, not a command"
    ),
    "campaign-core --core myapp.campaigns:build_core worker --interval 5": (
        "needs the host's myapp module, and runs until stopped"
    ),
}

#: Commands whose output depends on the system clock or on generated ids.
VARYING = ("tick",)

_TIME = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{3})?Z?"  # ISO times and logging's asctime
)
_CUID = re.compile(r"\bc[a-z0-9]{24}\b")
_RULE = re.compile(r"([─━═│┃]){2,}")


@attrs.frozen
class Example:
    """One ``$`` command of a console block and the output shown under it."""

    command: str
    shown: tuple[str, ...]


def examples(page: Path) -> list[Example]:
    """The page's console examples, in order (``\\`` continuation lines joined)."""
    found: list[Example] = []
    for block in CONSOLE.findall(page.read_text(encoding="utf-8")):
        command: list[str] | None = None
        shown: list[str] = []
        continued = False
        for line in block.splitlines():
            if continued and command is not None:
                command.append(line.strip())
            elif line.startswith("$ "):
                if command is not None:
                    found.append(Example(" ".join(command), tuple(shown)))
                command, shown = [line[2:].strip()], []
            elif command is not None:
                shown.append(line)
            continued = line.endswith("\\")
            if continued and command is not None:
                command[-1] = command[-1].removesuffix("\\").rstrip()
        if command is not None:
            found.append(Example(" ".join(command), tuple(shown)))
    return found


def documented() -> Iterator[tuple[Path, Example]]:
    for page in PAGES:
        for example in examples(page):
            yield page, example


def runs_here(example: Example) -> bool:
    return example.command.startswith("campaign-core") and example.command not in NOT_RUN


def normalize(line: str, *, varying: bool) -> str:
    text = " ".join(_RULE.sub(r"\1", line).split())
    if varying:
        text = _CUID.sub("<id>", _TIME.sub("<time>", text))
    return text


def pattern(line: str, *, varying: bool) -> re.Pattern[str]:
    parts = [re.escape(part) for part in normalize(line, varying=varying).split("...")]
    return re.compile(".*".join(parts))


def missing_lines(
    shown: tuple[str, ...], stdout: str, stderr: str = "", *, varying: bool
) -> list[str]:
    """The shown lines that the real output lacks (in order, per stream)."""
    streams = [
        [normalize(line, varying=varying) for line in text.splitlines()]
        for text in (stdout, stderr)
    ]
    cursors = [0, 0]
    missing: list[str] = []
    for line in shown:
        if not line.strip():
            continue
        wanted = pattern(line, varying=varying)
        for index, lines in enumerate(streams):
            hit = next(
                (i for i in range(cursors[index], len(lines)) if wanted.fullmatch(lines[i])), None
            )
            if hit is not None:
                cursors[index] = hit + 1
                break
        else:
            missing.append(line)
    return missing


@pytest.fixture
def offline(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The default database with a due campaign and fans of creator-42; moto for AWS."""
    from moto import mock_aws

    from campaign_core import Actor, CampaignCore, FakeClock
    from campaign_core.models import Fan
    from campaign_core_sqlalchemy import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{workdir / 'campaign-core.sqlite3'}")
    store.upgrade()
    past = datetime.now(UTC) - timedelta(days=1)  # written with a clock set in the past
    core = CampaignCore(store, clock=FakeClock(past))
    ws = core.for_actor(Actor("creator-42"))
    campaign = ws.campaigns.create_from_template(
        "tpl_general_flash_sale",
        {"name": "Weekend flash sale", "mediaUrls": ["https://cdn.example.com/sale.jpg"]},
    )
    ws.campaigns.schedule_campaign(campaign.id, past + timedelta(hours=1))
    fans = [
        Fan(
            id=f"fan-{name}",
            owner_id="creator-42",
            fan_id=name,
            spending_level=level,
            engagement=engagement,
            created_at=past,
            updated_at=past,
        )
        for name, level, engagement in [
            ("alice", "high", 80.0),
            ("bob", "high", 65.0),
            ("carol", "high", 20.0),
            ("dave", "low", 90.0),
        ]
    ]
    with store.unit_of_work() as uow:
        uow.fans.add_many(fans)
        uow.commit()
    core.close()

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield workdir


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if any(runs_here(e) for e in examples(p))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_console_examples_print_what_they_show(page: Path, cli: Invoke, offline: Path) -> None:
    """Every runnable example of the page prints every line it shows."""
    problems: list[str] = []
    exit_code: int | None = None
    for example in examples(page):
        words = shlex.split(example.command)
        if words[:1] == ["cat"] and len(words) == 2:
            (offline / words[1]).write_text("\n".join(example.shown) + "\n", encoding="utf-8")
        elif example.command == "echo $?":
            if [str(exit_code)] != [line for line in example.shown if line.strip()]:
                problems.append(f"$ {example.command}: shown {example.shown}, got {exit_code}")
        elif runs_here(example):
            result = cli(*words[1:], env={"COLUMNS": COLUMNS})
            exit_code = result.exit_code
            varying = any(word in VARYING for word in words[1:])
            missing = missing_lines(example.shown, result.stdout, result.stderr, varying=varying)
            if missing:
                problems.append(
                    f"$ {example.command}\n  shown but not printed:\n"
                    + "\n".join(f"    {line}" for line in missing)
                    + f"\n  printed (exit {result.exit_code}):\n{result.stdout}{result.stderr}"
                )
    assert not problems, "\n\n".join(problems)


def test_every_documented_command_is_run_or_explained() -> None:
    """NOT_RUN lists exactly the documented commands left out, so none is skipped silently."""
    commands = {e.command for _, e in documented() if e.command.startswith("campaign-core")}
    assert set(NOT_RUN) <= commands, sorted(set(NOT_RUN) - commands)
    assert commands - set(NOT_RUN), "no documented command runs"


def test_the_comparison_catches_drift() -> None:
    """A changed word fails; spacing, rule widths, ``...`` and (for tick) times and ids do not."""
    out = (
        " A *     12,240   3.00%\n ──────────\ncampaignsLaunched: cmxb803g7gjnx8w7m5nbgub04\n",
        "2026-12-06 02:26:37,874 WARNING campaign_core.cli: no --core given\n",
    )
    same = (
        "2026-03-03 09:00:00,004 WARNING campaign_core.cli: no --core given",
        " A *  12,240  3.00%",
        " ──────────────────",
        "campaignsLaunched: cmwxo4jlgtw02b7qi5uj2wwmx",
    )
    assert missing_lines(same, *out, varying=True) == []
    assert missing_lines(("A * ... 3.00%",), *out, varying=False) == []
    assert missing_lines(("A * 12,240 3.01%",), *out, varying=False) == ["A * 12,240 3.01%"]
    assert missing_lines(same[3:], *out, varying=False) == [same[3]]
    assert missing_lines((same[2], same[1]), *out, varying=True) == [same[1]]  # order counts
