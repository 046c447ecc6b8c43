"""Columns for the vectorized evaluator from the shipped criteria strategies' populations.

The trees and populations themselves are shipped in
:mod:`campaign_core.testing.strategies` (hosts use them too); this module adds
what only the library's own tests need.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import numpy as np

from campaign_core.criteria import EventColumns
from campaign_core.testing.strategies import (
    CRITERIA_NOW as NOW,
)
from campaign_core.testing.strategies import (
    CRITERIA_REGISTRY as REGISTRY,
)
from campaign_core.testing.strategies import (
    CRITERIA_SEGMENTS as SEGMENTS,
)
from campaign_core.testing.strategies import (
    criteria_populations as populations,
)
from campaign_core.testing.strategies import (
    criteria_trees as trees,
)

__all__ = ["NOW", "REGISTRY", "SEGMENTS", "populations", "to_columns", "to_event_columns", "trees"]

# -- columns from a population ---------------------------------------------------------------

RAW_FIELDS: dict[str, str] = {
    "engagement": "number",
    "lifetime_value": "number",
    "spending_level": "string",
    "platform": "string",
    "subscription_status": "string",
    "time_zone": "string",
    "id": "string",
    "opted_out": "bool",
    "last_activity_at": "datetime",
    "subscribed_at": "datetime",
    "created_at": "datetime",
    "traits.nickname": "string",
    "traits.score": "number",
    "traits.vip": "bool",
    "traits.joined": "datetime",
    "traits.tags": "list",
}


def _value(fan: dict[str, Any], name: str) -> Any:
    if name.startswith("traits."):
        return (fan.get("traits") or {}).get(name[7:])
    return fan.get(name)


def _column(values: list[Any], kind: str, style: int) -> Any:
    n = len(values)
    if kind == "number":
        if style == 0:
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        if style == 1:
            data = np.array([0.0 if v is None else v for v in values], dtype=float)
            return np.ma.MaskedArray(data, mask=[v is None for v in values])
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    if kind == "string":
        if style == 0:
            # dtype=str: as narrow as the longest value, like numpy's own default.
            data = np.array(["" if v is None else v for v in values], dtype=str)
            return np.ma.MaskedArray(data, mask=[v is None for v in values])
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    if kind == "bool":
        if style == 0:
            data = np.array([bool(v) for v in values], dtype=bool)
            return np.ma.MaskedArray(data, mask=[v is None for v in values])
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    if kind == "datetime":
        if style == 0:
            return np.array(
                [
                    np.datetime64("NaT")
                    if v is None
                    else np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "us")
                    for v in values
                ],
                dtype="datetime64[us]",
            )
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    out = np.empty(n, dtype=object)
    out[:] = [None if v is None else tuple(v) for v in values]
    return out


def to_columns(people: list[dict[str, Any]], styles: list[int]) -> dict[str, Any]:
    """Columns for a population, each field in a representation chosen by ``styles``."""
    columns: dict[str, Any] = {}
    for index, (name, kind) in enumerate(RAW_FIELDS.items()):
        values = [_value(fan, name) for fan in people]
        values = [None if isinstance(v, float) and v != v else v for v in values]
        columns[name] = _column(values, kind, styles[index % len(styles)])
    return columns


def _object_column(values: list[Any]) -> Any:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _property_column(values: list[Any]) -> Any:
    """A typed (masked) array when the present values share a type, else an object array."""
    present = [v for v in values if v is not None]
    missing = [v is None for v in values]
    if present and all(isinstance(v, str) for v in present):
        return np.ma.MaskedArray(np.array([v or "" for v in values], dtype="U8"), mask=missing)
    if present and all(isinstance(v, bool) for v in present):
        return np.ma.MaskedArray(np.array([bool(v) for v in values]), mask=missing)
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return _object_column(values)


def to_event_columns(events: list[tuple[int, dict[str, Any]]], style: int) -> EventColumns:
    n = len(events)
    names = [e["name"] for _, e in events]
    times = [e["occurred_at"] for _, e in events]
    properties: dict[str, Any] = {}
    for key in ("product", "amount", "flag"):
        values = [e["properties"].get(key) for _, e in events]
        properties[key] = _property_column(values) if style == 0 else _object_column(values)
    if style == 0:
        occurred: Any = np.array(
            [np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us") for t in times],
            dtype="datetime64[us]",
        )
        name_column: Any = np.array(names, dtype="U32")
    else:
        occurred = np.empty(n, dtype=object)
        occurred[:] = times
        name_column = np.empty(n, dtype=object)
        name_column[:] = names
    return EventColumns(
        fan_index=np.array([i for i, _ in events], dtype=np.int64),
        name=name_column,
        occurred_at=occurred,
        value=np.array(
            [np.nan if e["value"] is None else e["value"] for _, e in events], dtype=float
        ),
        properties=properties,
    )
