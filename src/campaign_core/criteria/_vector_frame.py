"""The vectorized evaluator over a pandas DataFrame (extra ``dataframes``)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from campaign_core.clock import Clock
from campaign_core.criteria._evaluate import CompiledCriteria, compile_criteria
from campaign_core.criteria._fields import FieldRegistry
from campaign_core.criteria._model import Criteria
from campaign_core.criteria._vector import evaluate_columns
from campaign_core.criteria._vector_columns import EventColumns
from campaign_core.errors import MissingDependencyError, ValidationError

__all__ = ["evaluate_dataframe"]


def evaluate_dataframe(
    criteria: Criteria | CompiledCriteria | object,
    frame: Any,
    *,
    now: datetime | Clock,
    events: EventColumns | Any | None = None,
    segments: Mapping[str, Any] | None = None,
    registry: FieldRegistry | None = None,
    id_column: str | None = None,
) -> Any:
    """Evaluate criteria over a pandas DataFrame with one row per fan.

    Columns are named like fields (see :func:`evaluate_columns`); pandas missing
    values (NaN, NaT, None, ``pd.NA``) are missing; tz-aware datetime columns
    are converted to UTC, naive ones are read as UTC.

    Args:
        criteria: a :class:`Criteria`, a :class:`CompiledCriteria` or any input form.
        frame: the fans.
        now: the instant (or a clock).
        events: an :class:`EventColumns`, or a DataFrame with columns ``fan_id``
            (matching ``frame.index``, or ``frame[id_column]``), ``name``,
            ``occurred_at``, optional ``value``; any other column is an event
            property. Events of fans not in ``frame`` are ignored.
        segments: segment id -> boolean array or Series aligned with ``frame``.
        registry: the fields; built-ins when ``None``.
        id_column: the column of fan ids the events' ``fan_id`` refer to; the
            frame's index when ``None``. The ids must be unique.

    Returns:
        A boolean Series indexed like ``frame``, named ``matched``.

    Raises:
        MissingDependencyError: pandas is not installed (extra ``dataframes``).
        ValidationError: as :func:`evaluate_columns`.
    """
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError:  # pragma: no cover - pandas is installed in the test environment
        raise MissingDependencyError("dataframes", "pandas") from None
    compiled = (
        criteria
        if isinstance(criteria, CompiledCriteria)
        else compile_criteria(criteria, registry=registry)
    )
    columns = {
        str(name): _series_array(frame[name], pd)
        for name in frame.columns
        if isinstance(name, str) and compiled.registry.get(name) is not None
    }
    event_columns: EventColumns | None
    if events is None or isinstance(events, EventColumns):
        event_columns = events
    else:
        event_columns = _event_frame(events, frame, pd, id_column)
    masks: dict[str, Any] | None = None
    if segments is not None:
        masks = {}
        for key, member in segments.items():
            if isinstance(member, pd.Series):
                member = member.reindex(frame.index, fill_value=False)
            masks[key] = np.asarray(member, dtype=bool)
    result = evaluate_columns(
        compiled, columns, now=now, events=event_columns, segments=masks, length=len(frame)
    )
    return pd.Series(result, index=frame.index, name="matched")


def _series_array(series: Any, pd: Any) -> Any:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    if dtype.kind in "iufM" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf":
        return series.to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(dtype, pd.BooleanDtype):
        return np.ma.MaskedArray(
            series.to_numpy(dtype=bool, na_value=False), mask=series.isna().to_numpy()
        )
    if dtype.kind == "b":
        return series.to_numpy()
    values = series.astype(object)
    return values.where(series.notna(), None).to_numpy(dtype=object)


def _event_frame(events: Any, frame: Any, pd: Any, id_column: str | None) -> EventColumns:
    for column in ("fan_id", "name", "occurred_at"):
        if column not in events.columns:
            raise ValidationError.single(
                f"events.{column}", f"the events frame needs a {column!r} column", "required"
            )
    if id_column is None:
        ids = pd.Index(frame.index)
        where = "the frame's index"
    elif id_column in frame.columns:
        ids = pd.Index(frame[id_column].to_numpy())
        where = f"column {id_column!r}"
    else:
        raise ValidationError.single("id_column", f"no column {id_column!r}", "required")
    if not ids.is_unique or ids.hasnans:
        raise ValidationError.single(
            "id_column", f"fan ids ({where}) must be unique and present", "invalid_value"
        )
    positions = ids.get_indexer(events["fan_id"].to_numpy())
    keep = positions >= 0
    kept = events[keep]
    properties = {
        str(column): _series_array(kept[column], pd)
        for column in kept.columns
        if column not in ("fan_id", "name", "occurred_at", "value")
    }
    return EventColumns(
        fan_index=positions[keep],
        name=kept["name"].astype(object).to_numpy(dtype=object),
        occurred_at=_series_array(kept["occurred_at"], pd),
        value=_series_array(kept["value"], pd) if "value" in kept.columns else None,
        properties=properties,
    )
