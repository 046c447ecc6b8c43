"""Shared pieces of the records: enums' base, converters."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

__all__ = ["JsonDict", "StrEnum", "to_tuple"]

JsonDict = dict[str, Any]


class StrEnum(enum.StrEnum):
    """An enum whose members are their string values (JSON-friendly)."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable (a JSON list from a store) to a tuple."""
    return tuple(value)
