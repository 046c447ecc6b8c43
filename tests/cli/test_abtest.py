"""`abtest analyze`: CSV in, verdict and intervals out; bad input exits 2 with paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campaign_core.abtesting import MinimumSample, VariantCounts, decide
from campaign_core.cli import ExitCode
from tests.cli.conftest import Invoke, parse_json

WINNING = (
    "name,impressions,clicks,conversions,revenue\n"
    "control,12000,1300,360,3600\n"
    "treatment,12000,1400,450,4410.5\n"
)


def write(workdir: Path, text: str, name: str = "counts.csv") -> str:
    (workdir / name).write_text(text, encoding="utf-8")
    return name


def test_winner_table(cli: Invoke, workdir: Path) -> None:
    """A clear winner is named, with per-variant rates, Wilson intervals and p-values."""
    result = cli("abtest", "analyze", write(workdir, WINNING))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Winner: treatment" in out
    assert "3.00% [2.71–3.32%]" in out  # control rate and its 95% Wilson interval
    assert "3.75% [3.42–4.10%]" in out
    assert "Holm-adjusted p" in out
    assert "0.0013" in out
    assert "P(beat control)" in out


def test_json_is_the_decision_dict(cli: Invoke, workdir: Path) -> None:
    """--json prints exactly WinnerDecision.to_dict() for the same counts and options."""
    result = cli("abtest", "analyze", write(workdir, WINNING), "--json", "--confidence", "0.9")
    expected = decide(
        [
            VariantCounts(
                "control",
                is_control=True,
                impressions=12000,
                clicks=1300,
                conversions=360,
                revenue=3600,
            ),
            VariantCounts(
                "treatment", impressions=12000, clicks=1400, conversions=450, revenue=4410.5
            ),
        ],
        confidence_level=0.9,
        min_sample_size=0,
    ).to_dict()
    assert parse_json(result) == json.loads(json.dumps(expected))


def test_global_json_flag_works_too(cli: Invoke, workdir: Path) -> None:
    """`campaign-core --json abtest analyze` is the same as the command's own --json."""
    path = write(workdir, WINNING)
    assert parse_json(cli("--json", "abtest", "analyze", path)) == parse_json(
        cli("abtest", "analyze", path, "--json")
    )


def test_options_reach_the_decision(cli: Invoke, workdir: Path) -> None:
    """Policy, planned MDE, power and split are passed to decide()."""
    result = cli(
        "abtest", "analyze", write(workdir, WINNING), "--json",
        "--policy", "always_valid", "--planned-mde", "0.2", "--power", "0.7",
        "--split", "control=50,treatment=50",
    )  # fmt: skip
    body = parse_json(result)
    assert body["policy"] == "always_valid"
    assert body["comparisons"][0]["intervalKind"] == "confidence_sequence"
    assert body["power"] is not None
    assert body["srmPValue"] == pytest.approx(1.0)


def test_sample_ratio_mismatch_blocks_the_winner(cli: Invoke, workdir: Path) -> None:
    """Impressions far from the configured split give no winner and say why."""
    result = cli("abtest", "analyze", write(workdir, WINNING), "--split", "control=70,treatment=30")
    assert result.exit_code == 0
    assert "No winner (sample_ratio_mismatch)" in result.stdout
    assert "MISMATCH" in result.stdout


def test_without_clicks_the_clicks_floor_is_not_applied(cli: Invoke, workdir: Path) -> None:
    """A CSV without clicks can still produce a winner, and the output says the floor was skipped."""
    text = "name,impressions,conversions\nA,12000,360\nB,12000,450\n"
    result = cli("abtest", "analyze", write(workdir, text))
    assert "Winner: B" in result.stdout
    assert "clicks floor is not applied" in result.stdout
    strict = parse_json(cli("abtest", "analyze", "counts.csv", "--json", "--min-clicks", "100"))
    assert strict["reason"] == "below_minimum_sample"


def test_floors_are_configurable(cli: Invoke, workdir: Path) -> None:
    """--min-impressions and --min-conversions change the floors."""
    text = "name,impressions,conversions\nA,500,20\nB,500,45\n"
    path = write(workdir, text)
    assert parse_json(cli("abtest", "analyze", path, "--json"))["reason"] == "below_minimum_sample"
    relaxed = parse_json(
        cli(
            "abtest",
            "analyze",
            path,
            "--json",
            "--min-impressions",
            "100",
            "--min-conversions",
            "10",
        )
    )
    expected = decide(
        [
            VariantCounts("A", is_control=True, impressions=500, conversions=20),
            VariantCounts("B", impressions=500, conversions=45),
        ],
        min_samples=MinimumSample(impressions=100, clicks=0, conversions=10),
        min_sample_size=0,
    )
    assert relaxed["reason"] == expected.reason.value


def test_reads_stdin(cli: Invoke) -> None:
    """'-' reads the CSV from standard input."""
    result = cli("abtest", "analyze", "-", "--json", input=WINNING)
    assert parse_json(result)["winnerId"] == "treatment"


def test_names_with_markup_print_literally(cli: Invoke, workdir: Path) -> None:
    """Variant names are data: rich markup in them is printed as written."""
    text = "name,impressions,conversions\n[bold]ctl[/bold],12000,360\n[red]x,12000,450\n"
    result = cli("abtest", "analyze", write(workdir, text))
    assert result.exit_code == 0, result.stderr
    assert "[bold]ctl[/bold]" in result.stdout
    assert "Winner: [red]x" in result.stdout


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("name,impressions\nA,1\nB,2\n", ["header.conversions"]),
        ("name,impressions,conversions\nA,-5,1\nB,10,1\n", ["line[2].impressions"]),
        ("name,impressions,conversions\nA,10,NaN\nB,10,1\n", ["line[2].conversions"]),
        ("name,impressions,conversions,revenue\nA,10,1,inf\nB,10,1,2\n", ["line[2].revenue"]),
        ("name,impressions,conversions\nA,10,2.5\nB,10,1\n", ["line[2].conversions"]),
        ("name,impressions,conversions\nA,10,20\nB,10,1\n", ["line[2].conversions"]),
        ("", ["csv"]),
    ],
    ids=[
        "missing-column",
        "negative",
        "nan",
        "infinite-revenue",
        "fraction",
        "more-than-trials",
        "empty",
    ],
)
def test_bad_csv_exits_2_with_paths(
    cli: Invoke, workdir: Path, text: str, paths: list[str]
) -> None:
    """Bad CSV content exits 2 and names the line and column of each problem."""
    result = cli("abtest", "analyze", write(workdir, text), "--json")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "validation_error"
    assert [p["path"] for p in error["details"]["problems"]] == paths
    human = cli("abtest", "analyze", "counts.csv")
    assert human.exit_code == ExitCode.USAGE
    assert "invalid input" in human.stderr
    assert paths[0] in human.stderr
    assert "Traceback" not in human.stderr


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["--confidence", "1.5"], "--confidence"),
        (["--confidence", "nan"], "--confidence"),
        (["--planned-mde", "nan"], "--planned-mde"),
        (["--power", "0"], "--power"),
        (["--split", "control=50,treatment=40"], "--split"),
        (["--split", "control=50,other=50"], "--split.other"),
        (["--split", "control50"], "--split[0]"),
    ],
)
def test_bad_options_exit_2(cli: Invoke, workdir: Path, args: list[str], path: str) -> None:
    """Bad option values exit 2 with the option's name as the path."""
    result = cli("abtest", "analyze", write(workdir, WINNING), "--json", *args)
    assert result.exit_code == ExitCode.USAGE
    problems = json.loads(result.stderr)["error"]["details"]["problems"]
    assert path in [p["path"] for p in problems]


@pytest.mark.parametrize(
    "args", [["--policy", "frequentist"], ["--metric", "revenue"], ["--min-clicks", "-1"]]
)
def test_invalid_choices_are_usage_errors(cli: Invoke, workdir: Path, args: list[str]) -> None:
    """Choices typer validates (policy, metric, ranges) exit 2 too."""
    assert cli("abtest", "analyze", write(workdir, WINNING), *args).exit_code == ExitCode.USAGE


def test_click_metrics_need_a_clicks_column(cli: Invoke, workdir: Path) -> None:
    """--metric click_through_rate without a clicks column is refused."""
    path = write(workdir, "name,impressions,conversions\nA,10,1\nB,10,1\n")
    result = cli("abtest", "analyze", path, "--metric", "click_through_rate")
    assert result.exit_code == ExitCode.USAGE
    assert "--metric" in result.stderr
    ok = cli(
        "abtest",
        "analyze",
        write(workdir, WINNING, "w.csv"),
        "--metric",
        "click_through_rate",
        "--json",
    )
    assert parse_json(ok)["metric"] == "click_through_rate"


def test_unreadable_inputs(cli: Invoke, workdir: Path) -> None:
    """Missing files, directories and non-UTF-8 bytes are usage errors with a message."""
    missing = cli("abtest", "analyze", "nope.csv")
    assert missing.exit_code == ExitCode.USAGE
    assert "no such file" in missing.stderr
    # the same path (the argument's name) for a file that cannot be read as for bad contents
    assert "  csv: nope.csv: no such file" in missing.stderr
    assert cli("abtest", "analyze", str(workdir)).exit_code == ExitCode.USAGE
    (workdir / "latin1.csv").write_bytes(b"name,impressions,conversions\n\xe9,1,1\nB,1,1\n")
    binary = cli("abtest", "analyze", "latin1.csv")
    assert binary.exit_code == ExitCode.USAGE
    assert "not UTF-8" in binary.stderr


def test_abtest_needs_no_database(cli: Invoke, workdir: Path) -> None:
    """Offline analysis works whatever the database URL says."""
    result = cli("--database-url", "not a url", "abtest", "analyze", write(workdir, WINNING))
    assert result.exit_code == 0


def test_the_bayesian_policy_decides_on_expected_loss(cli: Invoke, workdir: Path) -> None:
    """--policy bayesian reports each comparison's expected losses in the JSON decision."""
    result = cli("abtest", "analyze", write(workdir, WINNING), "--json", "--policy", "bayesian")
    assert result.exit_code == ExitCode.OK, result.stderr
    comparison = json.loads(result.stdout)["comparisons"][0]
    assert comparison["expectedLossTreatment"] is not None
    assert comparison["expectedLossControl"] is not None
