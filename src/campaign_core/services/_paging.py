"""The page every list of the services returns (campaigns, templates, segments...)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Page"]


@attrs.frozen
class Page:
    """One page of a list.

    Attributes:
        items: the records of this page.
        total: how many records match the filters in all.
        next_cursor: pass it back as ``cursor`` for the next page; None at the end.
    """

    items: tuple[Any, ...]
    total: int
    next_cursor: str | None = None
