"""Input for ``abtest analyze``: a CSV of variant counts and a ``--split`` option.

The CSV has a header row naming its columns (any order, case-insensitive,
snake_case or camelCase): ``name``, ``impressions`` and ``conversions`` are
required; ``clicks``, ``revenue`` and ``is_control`` are optional. Without an
``is_control`` column the first row is the control. Blank lines and lines
starting with ``#`` are skipped. Every problem is reported at once, with the
physical line and column it is on (``line[3].impressions``), and nothing
downstream runs on a file with a problem.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from campaign_core.errors import Problem, ProblemCollector, ValidationError, join_path

if TYPE_CHECKING:  # pragma: no cover
    from campaign_core.abtesting import VariantCounts

__all__ = [
    "MAX_VARIANTS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "VariantTable",
    "csv_paths",
    "parse_split",
    "parse_variant_csv",
]

REQUIRED_COLUMNS: Final = ("name", "impressions", "conversions")
OPTIONAL_COLUMNS: Final = ("clicks", "revenue", "is_control")
#: More variants than this is not an A/B/n test any more (and the exact
#: Bayesian probabilities grow with the number of arms).
MAX_VARIANTS: Final = 100
_MAX_COUNT: Final = 2**53

_ALIASES: Final = {
    "name": "name",
    "variant": "name",
    "impressions": "impressions",
    "conversions": "conversions",
    "clicks": "clicks",
    "revenue": "revenue",
    "is_control": "is_control",
    "iscontrol": "is_control",
    "control": "is_control",
}
_TRUE: Final = frozenset({"true", "yes", "y", "1", "x"})
_FALSE: Final = frozenset({"false", "no", "n", "0", ""})
_INTEGER: Final = re.compile(r"^\+?\d+$")
_NON_FINITE: Final = frozenset(
    {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)


@attrs.frozen
class VariantTable:
    """The variants read from a CSV file.

    Attributes:
        variants: one :class:`~campaign_core.abtesting.VariantCounts` per data
            row, in file order; the id is the row's name.
        lines: the physical line number of each variant's row (the header is
            usually line 1), for error messages.
        columns: the columns the file has (canonical names).
    """

    variants: tuple[VariantCounts, ...]
    lines: tuple[int, ...]
    columns: frozenset[str]

    @property
    def has_clicks(self) -> bool:
        """Whether clicks were measured (a ``clicks`` column is present)."""
        return "clicks" in self.columns


def _canonical(header: str) -> str:
    key = header.strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, _ALIASES.get(key.replace("_", ""), ""))


def _parse_count(raw: str, path: str, problems: ProblemCollector) -> int:
    text = raw.strip()
    if not text:
        problems.add(path, "is empty (expected a whole number)", "required")
    elif text.lower() in _NON_FINITE:
        problems.add(path, f"must be a finite whole number, got {text!r}", "not_finite")
    elif text.startswith("-") and _INTEGER.match(text[1:]):
        problems.add(path, f"must be non-negative, got {text}", "out_of_range")
    elif not _INTEGER.match(text):
        problems.add(path, f"must be a whole number, got {text!r}", "invalid_type")
    elif int(text) > _MAX_COUNT:
        problems.add(path, f"must be at most 2**53, got {text}", "out_of_range")
    else:
        return int(text)
    return 0


def _parse_float(raw: str, path: str, problems: ProblemCollector) -> float:
    text = raw.strip()
    if not text:
        problems.add(path, "is empty (expected a number)", "required")
        return 0.0
    try:
        value = float(text)
    except ValueError:
        problems.add(path, f"must be a number, got {text!r}", "invalid_type")
        return 0.0
    if not math.isfinite(value):
        problems.add(path, f"must be finite, got {text!r}", "not_finite")
        return 0.0
    return value


def _parse_flag(raw: str, path: str, problems: ProblemCollector) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.add(path, f"must be true or false, got {raw.strip()!r}", "invalid_type")
    return False


def _rows(text: str) -> Iterable[tuple[int, list[str]]]:
    """(physical line, cells) of the rows that are not blank or comments."""
    reader = csv.reader(text.splitlines(keepends=True))
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if cells[0].lstrip().startswith("#"):
            continue
        yield line, cells


def parse_variant_csv(text: str) -> VariantTable:
    """Read variant counts from CSV text.

    Args:
        text: the file's content (a leading UTF-8 byte-order mark is ignored).

    Returns:
        The variants, their line numbers and the columns present.

    Raises:
        ValidationError: every problem at once, with paths ``header.<column>``
            (missing, unknown or repeated columns), ``line[<n>]`` (wrong number
            of fields) and ``line[<n>].<column>`` (bad values: empty, not a
            whole number, negative, NaN/infinite, too large; duplicate names;
            not exactly one control); ``csv`` for an empty file.
    """
    if not isinstance(text, str):
        raise ValidationError.single("csv", "expected text", "invalid_type")
    try:
        rows = list(_rows(text.removeprefix("\ufeff")))
    except csv.Error as error:
        raise ValidationError.single("csv", f"is not valid CSV: {error}", "invalid_value") from None
    if not rows:
        raise ValidationError.single(
            "csv", "is empty (expected a header row and variant rows)", "required"
        )
    problems = ProblemCollector()
    (header_line, header), data = rows[0], rows[1:]
    columns: list[str] = []
    for cell in header:
        name = _canonical(cell)
        if not name:
            problems.add(
                join_path("header", cell.strip() or "<empty>"),
                "is not a known column (expected name, impressions, conversions, "
                "and optionally clicks, revenue, is_control)",
                "unknown_field",
            )
        elif name in columns:
            problems.add(
                join_path("header", cell.strip()), f"repeats the column {name!r}", "invalid_value"
            )
        columns.append(name)
    for required in REQUIRED_COLUMNS:
        if required not in columns:
            problems.add(join_path("header", required), "is a required column", "required")
    problems.raise_if_any()
    if not data:
        raise ValidationError.single(
            "csv", f"has a header (line {header_line}) but no variant rows", "required"
        )
    if len(data) > MAX_VARIANTS:
        raise ValidationError.single(
            "csv",
            f"has {len(data)} variant rows; at most {MAX_VARIANTS} are allowed",
            "out_of_range",
        )

    parsed: list[dict[str, Any]] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    for line, cells in data:
        where = join_path("line", line)
        if len(cells) != len(columns):
            problems.add(
                where,
                f"has {len(cells)} fields, the header (line {header_line}) has {len(columns)}",
                "invalid_value",
            )
            continue
        values = dict(zip(columns, cells))
        fields: dict[str, Any] = {}
        name = values["name"].strip()
        if not name:
            problems.add(
                join_path(where, "name"), "is empty (every variant needs a name)", "required"
            )
        elif name in seen:
            problems.add(
                join_path(where, "name"),
                f"repeats {name!r} (first on line {seen[name]})",
                "invalid_value",
            )
        else:
            seen[name] = line
        fields["id"] = fields["name"] = name
        for column in ("impressions", "conversions", "clicks"):
            if column in values:
                fields[column] = _parse_count(values[column], join_path(where, column), problems)
        if "revenue" in values:
            fields["revenue"] = _parse_float(
                values["revenue"], join_path(where, "revenue"), problems
            )
        if "is_control" in values:
            fields["is_control"] = _parse_flag(
                values["is_control"], join_path(where, "is_control"), problems
            )
        parsed.append(fields)
        lines.append(line)
    problems.raise_if_any()

    if "is_control" in columns:
        controls = [line for fields, line in zip(parsed, lines) if fields["is_control"]]
        if not controls:
            problems.add(
                join_path("header", "is_control"),
                "marks no row as the control (exactly one row needs is_control=true)",
                "required",
            )
        elif len(controls) > 1:
            for line in controls[1:]:
                problems.add(
                    join_path(join_path("line", line), "is_control"),
                    f"marks a second control (the first is on line {controls[0]})",
                    "invalid_value",
                )
    else:
        parsed[0]["is_control"] = True
    if len(parsed) < 2:
        problems.add(
            "csv", f"has {len(parsed)} variant row; an A/B test needs at least 2", "invalid_value"
        )
    problems.raise_if_any()
    from campaign_core.abtesting import VariantCounts

    variants = tuple(VariantCounts(**fields) for fields in parsed)
    return VariantTable(variants=variants, lines=tuple(lines), columns=frozenset(columns))


def parse_split(text: str, *, path: str = "--split") -> dict[str, float]:
    """Read a traffic split written as ``"A=50,B=50"``.

    Args:
        text: comma-separated ``name=weight`` pairs (a name may contain ``=``:
            the weight follows the last one).
        path: the option's name, for problem paths.

    Returns:
        ``{name: weight}`` in the order given (whether it sums to 100 and names
        the CSV's variants is checked by the decision).

    Raises:
        ValidationError: an empty split, a pair without ``=``, an empty name,
            a repeated name, or a weight that is not a finite number ``>= 0``.
    """
    problems = ProblemCollector()
    split: dict[str, float] = {}
    pairs = [pair.strip() for pair in text.split(",")] if isinstance(text, str) else []
    if not any(pairs):
        raise ValidationError.single(path, 'is empty (expected "A=50,B=50")', "required")
    for index, pair in enumerate(pairs):
        name, sep, weight = pair.rpartition("=")
        name = name.strip()
        if not sep or not name:
            problems.add(join_path(path, index), f'{pair!r} is not "name=weight"', "invalid_value")
            continue
        where = join_path(path, name)
        if name in split:
            problems.add(where, "is given twice", "invalid_value")
            continue
        value = _parse_float(weight, where, problems)
        if value < 0:
            problems.add(where, f"must be non-negative, got {weight.strip()}", "out_of_range")
        split[name] = value
    problems.raise_if_any()
    return split


_OPTION_PATHS: Final = {
    "confidence_level": "--confidence",
    "policy": "--policy",
    "planned_mde": "--planned-mde",
    "metric": "--metric",
    "target_power": "--power",
    "min_sample_size": "--min-impressions",
    "expected_split": "--split",
}
_VARIANT_PATH: Final = re.compile(r"^variants\[(\d+)\](.*)$")


def csv_paths(error: ValidationError, table: VariantTable) -> ValidationError:
    """Rewrite a decision's problem paths into the CSV's and the options' terms.

    ``variants[1].conversions`` becomes ``line[3].conversions`` (the row's
    physical line), ``expected_split.B`` becomes ``--split.B``,
    ``confidence_level`` becomes ``--confidence``.

    Args:
        error: what :func:`~campaign_core.abtesting.decide` raised.
        table: the table the variants came from.

    Returns:
        The same problems with rewritten paths.
    """

    def rewrite(path: str) -> str:
        match = _VARIANT_PATH.match(path)
        if match and int(match.group(1)) < len(table.lines):
            return join_path("line", table.lines[int(match.group(1))]) + match.group(2)
        if path == "variants":
            return "csv"
        head, dot, rest = path.partition(".")
        if head in _OPTION_PATHS:
            return _OPTION_PATHS[head] + (dot + rest if dot else "")
        return path

    return ValidationError([Problem(rewrite(p.path), p.message, p.code) for p in error.problems])


def split_from_mapping(split: Mapping[str, float]) -> str:
    """The ``--split`` text for ``split`` (inverse of :func:`parse_split`)."""
    return ",".join(f"{name}={weight:g}" for name, weight in split.items())
