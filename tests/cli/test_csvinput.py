"""Reading variant counts from CSV and the --split option: values, paths, every problem."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.abtesting import decide
from campaign_core.cli._csvinput import (
    MAX_VARIANTS,
    csv_paths,
    parse_split,
    parse_variant_csv,
    split_from_mapping,
)
from campaign_core.errors import ValidationError


def paths(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.path: p.code for p in error.value.problems}


def test_reads_required_and_optional_columns() -> None:
    """Every column is read; the first row is the control when there is no is_control column."""
    table = parse_variant_csv(
        "name,impressions,clicks,conversions,revenue\nA,1000,120,30,299.5\nB,1100,130,41,-3\n"
    )
    a, b = table.variants
    assert (a.id, a.name, a.is_control, a.impressions, a.clicks, a.conversions, a.revenue) == (
        "A", "A", True, 1000, 120, 30, 299.5,
    )  # fmt: skip
    assert (b.is_control, b.revenue) == (False, -3.0)
    assert table.lines == (2, 3)
    assert table.has_clicks


def test_headers_are_case_insensitive_in_any_order_with_aliases() -> None:
    """Headers accept any case, order, camelCase and a few aliases."""
    table = parse_variant_csv(
        "\ufeffConversions , isControl,Impressions,Variant\n5,no,100,A\n7,yes,100,B\n"
    )
    assert [(v.name, v.is_control, v.conversions) for v in table.variants] == [
        ("A", False, 5),
        ("B", True, 7),
    ]
    assert not table.has_clicks


def test_blank_lines_and_comments_are_skipped_and_lines_are_physical() -> None:
    """Blank and # lines are skipped; reported line numbers are the file's own."""
    table = parse_variant_csv(
        "# exported 2026-03-01\n\nname,impressions,conversions\n\nA,10,1\nB,10,2\n"
    )
    assert table.lines == (5, 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,impressions\nA,1\nB,2\n", {"header.conversions": "required"}),
        ("impressions,conversions\n1,1\n2,2\n", {"header.name": "required"}),
        (
            "name,impressions,conversions,colour\nA,1,1,red\nB,1,1,blue\n",
            {"header.colour": "unknown_field"},
        ),
        (
            "name,impressions,conversions,Impressions\nA,1,1,1\nB,1,1,1\n",
            {"header.Impressions": "invalid_value"},
        ),
        ("", {"csv": "required"}),
        ("\n\n# nothing\n", {"csv": "required"}),
        ("name,impressions,conversions\n", {"csv": "required"}),
        ("name,impressions,conversions\nA,10,1\n", {"csv": "invalid_value"}),
    ],
    ids=[
        "no-conversions",
        "no-name",
        "unknown",
        "repeated",
        "empty",
        "only-comments",
        "header-only",
        "one-row",
    ],
)
def test_structural_problems(text: str, expected: dict[str, str]) -> None:
    """Missing, unknown or repeated columns and too few rows are reported with their path."""
    with pytest.raises(ValidationError) as error:
        parse_variant_csv(text)
    assert paths(error) == expected


def test_every_bad_value_is_reported_at_once_with_line_and_column() -> None:
    """Negative, NaN, infinite, fractional, empty and huge values each get their own problem."""
    text = (
        "name,impressions,conversions,clicks,revenue,is_control\n"
        "A,-5,nan,1.5,inf,maybe\n"
        "B,,1e3,3,x,\n"
        f"C,{2**53 + 1},+7,-0,12,no\n"
        "A,1,1,1,1,yes\n"
        ",1,1,1,1,no\n"
        "D,1,1\n"
    )
    with pytest.raises(ValidationError) as error:
        parse_variant_csv(text)
    assert paths(error) == {
        "line[2].impressions": "out_of_range",
        "line[2].conversions": "not_finite",
        "line[2].clicks": "invalid_type",
        "line[2].revenue": "not_finite",
        "line[2].is_control": "invalid_type",
        "line[3].impressions": "required",
        "line[3].conversions": "invalid_type",
        "line[3].revenue": "invalid_type",
        "line[4].impressions": "out_of_range",
        "line[4].clicks": "out_of_range",
        "line[5].name": "invalid_value",
        "line[6].name": "required",
        "line[7]": "invalid_value",
    }


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("no", "no"), {"header.is_control": "required"}),
        (("yes", "yes"), {"line[3].is_control": "invalid_value"}),
    ],
)
def test_exactly_one_control(flags: tuple[str, str], expected: dict[str, str]) -> None:
    """An is_control column must mark exactly one row."""
    text = f"name,impressions,conversions,is_control\nA,10,1,{flags[0]}\nB,10,1,{flags[1]}\n"
    with pytest.raises(ValidationError) as error:
        parse_variant_csv(text)
    assert paths(error) == expected


def test_too_many_variants() -> None:
    """More than MAX_VARIANTS rows is refused."""
    rows = "".join(f"v{i},10,1\n" for i in range(MAX_VARIANTS + 1))
    with pytest.raises(ValidationError) as error:
        parse_variant_csv("name,impressions,conversions\n" + rows)
    assert paths(error) == {"csv": "out_of_range"}


def test_unterminated_quote_is_reported() -> None:
    """A quoted field that never ends is a CSV problem, not a crash."""
    with pytest.raises(ValidationError):
        parse_variant_csv('name,impressions,conversions\n"A,1,1\nB,1,1')


def test_decision_problems_map_back_to_lines_and_options() -> None:
    """A decide() problem on variants[i] is reported on the row's line; options by their flag."""
    table = parse_variant_csv("name,impressions,conversions\n\nA,10,20\nB,10,1\n")
    with pytest.raises(ValidationError) as raw:
        decide(table.variants, expected_split={"A": 50, "B": 40})
    with pytest.raises(ValidationError) as raw2:
        decide(table.variants)
    assert paths(raw2) == {"variants[0].conversions": "out_of_range"}
    mapped = csv_paths(raw2.value, table)
    assert [p.path for p in mapped.problems] == ["line[3].conversions"]
    assert next(p.path for p in csv_paths(raw.value, table).problems).startswith("--split")
    with pytest.raises(ValidationError) as level:
        decide(table.variants, confidence_level=1.5)
    assert [p.path for p in csv_paths(level.value, table).problems] == ["--confidence"]


def test_parse_split() -> None:
    """A split is name=weight pairs; names may contain '=' (the weight follows the last one)."""
    assert parse_split(" A = 50 , B=50") == {"A": 50.0, "B": 50.0}
    assert parse_split("x=y=25,z=75") == {"x=y": 25.0, "z": 75.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"--split": "required"}),
        ("A50,B=50", {"--split[0]": "invalid_value"}),
        ("=50,B=50", {"--split[0]": "invalid_value"}),
        ("A=50,A=50", {"--split.A": "invalid_value"}),
        ("A=nan,B=50", {"--split.A": "not_finite"}),
        ("A=-1,B=101", {"--split.A": "out_of_range"}),
        ("A=half,B=50", {"--split.A": "invalid_type"}),
    ],
)
def test_bad_split(text: str, expected: dict[str, str]) -> None:
    """Every malformed pair is reported with its position or name."""
    with pytest.raises(ValidationError) as error:
        parse_split(text)
    assert paths(error) == expected


names = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="#"
        ),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
rows = st.lists(
    st.tuples(
        names,
        st.integers(0, 10**9),
        st.integers(0, 10**9),
        st.integers(0, 10**9),
        st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    ),
    min_size=2,
    max_size=6,
    unique_by=lambda row: row[0],
)


@settings(max_examples=60, deadline=None)
@given(rows=rows, control=st.integers(0, 5))
def test_round_trip_through_csv(rows: list[tuple[str, int, int, int, float]], control: int) -> None:
    """Whatever counts are written with the csv module, the same counts are read back."""
    control %= len(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "impressions", "clicks", "conversions", "revenue", "is_control"])
    for index, (name, impressions, clicks, conversions, revenue) in enumerate(rows):
        writer.writerow([name, impressions, clicks, conversions, repr(revenue), index == control])
    table = parse_variant_csv(buffer.getvalue())
    assert [
        (v.name, v.impressions, v.clicks, v.conversions, v.revenue) for v in table.variants
    ] == rows
    assert [v.is_control for v in table.variants] == [i == control for i in range(len(rows))]


@settings(max_examples=60, deadline=None)
@given(
    split=st.dictionaries(
        names.filter(lambda n: "," not in n and "=" not in n),
        st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=5,
    )
)
def test_split_round_trip(split: dict[str, float]) -> None:
    """A split written back as text parses to the same weights (to %g precision)."""
    parsed = parse_split(split_from_mapping(split))
    assert list(parsed) == list(split)
    assert parsed == pytest.approx({k: float(f"{v:g}") for k, v in split.items()})
