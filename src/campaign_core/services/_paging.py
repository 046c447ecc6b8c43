"""The page every list of the services returns (campaigns, templates, segments...)."""

from __future__ import annotations

import types
from typing import Any

import attrs

from campaign_core.errors import CorruptRecordError

__all__ = ["Page", "keyset_rows"]


@attrs.frozen
class Page:
    """One page of a list.

    Attributes:
        items: the records of this page.
        total: how many records match the filters in all.
        next_cursor: pass it back as ``cursor`` for the next page; None at the end.
        problems: stored rows of this page that could not be read (a
            :class:`~campaign_core.errors.CorruptRecordError` each, naming the
            table, the id and the field): they are left out of ``items`` but
            counted in ``total``, and the cursor moves past them, so one bad
            row written by another client hides none of the others.
    """

    items: tuple[Any, ...]
    total: int
    next_cursor: str | None = None
    problems: tuple[CorruptRecordError, ...] = ()


def keyset_rows(
    items: list[Any], skipped: list[CorruptRecordError], size: int
) -> tuple[list[Any], tuple[CorruptRecordError, ...], Any]:
    """A keyset page of ``size`` rows from a ``find(limit=size + 1)`` that skipped some.

    Returns the page's records, the problems among its rows, and the page's
    last row when there is a next page (a record, or for a skipped row an
    object with its raw values as attributes), else None: the next cursor is
    taken from it, so a run of unreadable rows never ends the paging early.
    """
    if not skipped:
        if len(items) > size:
            return items[:size], (), items[size - 1]
        return items, (), None
    bad = {error.position: error for error in skipped}
    rows: list[tuple[Any, CorruptRecordError | None]] = []
    good = iter(items)
    for position in range(len(items) + len(skipped)):
        error = bad.get(position)
        rows.append((None, error) if error is not None else (next(good), None))
    page = rows[:size]
    records = [record for record, error in page if error is None]
    problems = tuple(error for _, error in page if error is not None)
    last = None
    if len(rows) > size:
        record, error = page[-1]
        last = record if error is None else types.SimpleNamespace(**error.row)
    return records, problems, last
