"""The criteria docs' tables match the code (tests/test_docs.py runs their examples)."""

from __future__ import annotations

from pathlib import Path

from campaign_core.criteria import (
    FieldType,
    Op,
)
from campaign_core.criteria._fields import BUILTIN_FIELDS
from campaign_core.criteria._ops import OPS_BY_TYPE, ORDERED_ENUM_OPS

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = [DOCS / "explanation" / "criteria-language.md", DOCS / "reference" / "criteria.md"]


def _table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_operator_table_matches_the_code() -> None:
    """The reference's operators-by-type table is exactly OPS_BY_TYPE."""
    text = PAGES[1].read_text()
    columns = {
        1: OPS_BY_TYPE[FieldType.NUMBER],
        2: OPS_BY_TYPE[FieldType.STRING],
        3: OPS_BY_TYPE[FieldType.ENUM],
        4: ORDERED_ENUM_OPS,
        5: OPS_BY_TYPE[FieldType.BOOLEAN],
        6: OPS_BY_TYPE[FieldType.DATETIME],
        7: OPS_BY_TYPE[FieldType.STRING_LIST],
    }
    rows = _table_rows(text, "| op | number |")
    assert [row[0].strip("`") for row in rows] == [op.value for op in Op]
    for row in rows:
        op = Op(row[0].strip("`"))
        for column, allowed in columns.items():
            assert (row[column] == "✓") == (op in allowed), (op, column)


def test_field_table_matches_the_code() -> None:
    """The reference's built-in field table lists every built-in with its type and aliases."""
    rows = _table_rows(PAGES[1].read_text(), "| field | also accepted as |")
    assert [row[0].strip("`") for row in rows] == [spec.name for spec in BUILTIN_FIELDS]
    for row, spec in zip(rows, BUILTIN_FIELDS):
        assert row[2].startswith(spec.type.value)
        assert row[3] == spec.source.value
        aliases = [a.strip("` ") for a in row[1].split(",")] if row[1] != "—" else []
        assert aliases == list(spec.aliases)
