"""Tracking input: reading a call's or a batch's events into columns and checking every row.

Nothing here reads the store: the checks that need the campaigns and variants
are the ingestion's (:mod:`._ingest`). Problems name the row and the field
(``events[42].fanId``, or the argument's name for a single tracking call).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs
import numpy as np

from campaign_core._validate import MAX_MONEY, MISSING
from campaign_core.analytics import EventBatch, EventKind, TrackingEvent, epoch_ms
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.models import StrEnum
from campaign_core.serialization import parse_datetime

__all__ = [
    "FUTURE_SLACK",
    "ID_RE",
    "KIND_NAMES",
    "MAX_TRACKING_BATCH",
    "ConversionType",
    "Paths",
    "Rows",
    "check_columns",
    "first_rows",
    "parse_rows",
    "renamed",
]

#: The most events one ``track_events`` call takes (split bigger batches).
MAX_TRACKING_BATCH: Final = 100_000
#: How far in the future (by the core's clock) an event may be dated: host clocks drift.
FUTURE_SLACK: Final = timedelta(hours=1)

#: The event kinds by their column code (``EventKind.code``).
KIND_NAMES: Final = ("impression", "click", "conversion", "spend")
IMPRESSION: Final = EventKind.IMPRESSION.code
CLICK: Final = EventKind.CLICK.code
CONVERSION: Final = EventKind.CONVERSION.code
SPEND: Final = EventKind.SPEND.code
#: What an id given to tracking looks like.
ID_RE: Final = re.compile(r"^[A-Za-z0-9_\-:.]{1,191}$")
_COLUMN_PATH = re.compile(r"^(\w+)\[(\d+)\](.*)$")
_MAX_ROW_PROBLEMS = 20


class ConversionType(StrEnum):
    """What a conversion was (the seed's ``CampaignConversion.type``)."""

    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"
    CLICK = "click"
    ENGAGEMENT = "engagement"


_CONVERSION_TYPES = frozenset(t.value for t in ConversionType)


@attrs.define
class Rows:
    """Tracking input as columns, before validation."""

    kind: list[Any] = attrs.field(factory=list)
    campaign_id: list[Any] = attrs.field(factory=list)
    fan_id: list[Any] = attrs.field(factory=list)
    platform: list[Any] = attrs.field(factory=list)
    variant_id: list[Any] = attrs.field(factory=list)
    value: list[Any] = attrs.field(factory=list)
    occurred_at: list[Any] = attrs.field(factory=list)
    type: list[Any] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.kind)


# external names of the input fields, per spelling
_CAMEL = {
    "kind": "kind",
    "campaignId": "campaign_id",
    "fanId": "fan_id",
    "userId": "fan_id",
    "platform": "platform",
    "variantId": "variant_id",
    "value": "value",
    "occurredAt": "occurred_at",
    "type": "type",
}
_SNAKE = {
    "kind": "kind",
    "campaign_id": "campaign_id",
    "fan_id": "fan_id",
    "platform": "platform",
    "variant_id": "variant_id",
    "value": "value",
    "occurred_at": "occurred_at",
    "type": "type",
}
_ANY_KEY = {**_CAMEL, **_SNAKE}
_CAMEL_KEYS = frozenset(_CAMEL) - {"userId"}
_SNAKE_KEYS = frozenset(_SNAKE)
_SHOWN = {
    "kind": "kind",
    "campaign_id": "campaignId",
    "fan_id": "fanId",
    "platform": "platform",
    "variant_id": "variantId",
    "value": "value",
    "occurred_at": "occurredAt",
    "type": "type",
}


class Paths:
    """Problem paths: ``events[42].fanId`` for a batch, ``fan_id`` for a single call."""

    def __init__(self, single: bool) -> None:
        self.single = single

    def __call__(self, row: int, field: str) -> str:
        if self.single:
            return field
        return f"events[{row}].{_SHOWN.get(field, field)}"


def parse_rows(events: Any, problems: ProblemCollector) -> Rows:
    """Read a batch (mappings or ``TrackingEvent`` objects) into columns; shape problems only."""

    rows = Rows()
    if isinstance(events, str | bytes | Mapping) or not isinstance(events, Iterable):
        problems.add("events", "must be a list of events", "invalid_type")
        return rows
    items = events if isinstance(events, Sequence) else list(events)
    if len(items) > MAX_TRACKING_BATCH:
        problems.add(
            "events",
            f"at most {MAX_TRACKING_BATCH} events per call ({len(items)} given); split the batch",
            "out_of_range",
        )
        return rows
    kind, campaign, fan, platform = rows.kind, rows.campaign_id, rows.fan_id, rows.platform
    variant, value, occurred, ctype = rows.variant_id, rows.value, rows.occurred_at, rows.type
    for index, row in enumerate(items):
        if isinstance(row, Mapping):
            keys = row.keys()
            get = row.get
            if keys <= _CAMEL_KEYS:
                k, c, f, p = get("kind"), get("campaignId"), get("fanId"), get("platform")
                v, x, t, y = get("variantId"), get("value", MISSING), get("occurredAt"), get("type")
            elif keys <= _SNAKE_KEYS:
                k, c, f, p = get("kind"), get("campaign_id"), get("fan_id"), get("platform")
                v, x, t, y = (
                    get("variant_id"),
                    get("value", MISSING),
                    get("occurred_at"),
                    get("type"),
                )
            else:
                clean: dict[str, Any] = {}
                for key, item in row.items():
                    field = _ANY_KEY.get(key) if isinstance(key, str) else None
                    if field is None:
                        problems.add(f"events[{index}].{key}", "unknown field", "unknown_field")
                    elif field in clean:
                        problems.add(
                            f"events[{index}].{key}",
                            f"given twice (as {_SHOWN[field]} and {key})",
                            "duplicate",
                        )
                    else:
                        clean[field] = item
                k, c, f, p = (
                    clean.get("kind"),
                    clean.get("campaign_id"),
                    clean.get("fan_id"),
                    clean.get("platform"),
                )
                v, x, t, y = (
                    clean.get("variant_id"),
                    clean.get("value", MISSING),
                    clean.get("occurred_at"),
                    clean.get("type"),
                )
            if k is None:
                problems.add(f"events[{index}].kind", "is required", "required")
            if c is None:
                problems.add(f"events[{index}].campaignId", "is required", "required")
        elif isinstance(row, TrackingEvent):
            k, c, f, p, v = (
                row.kind.value,
                row.campaign_id,
                row.fan_id,
                row.platform,
                row.variant_id,
            )
            x, t, y = row.value, row.occurred_at, None
            if c is None:
                problems.add(f"events[{index}].campaignId", "is required", "required")
        else:
            problems.add(
                f"events[{index}]",
                f"must be an object or a TrackingEvent, got {type(row).__name__}",
                "invalid_type",
            )
            # a placeholder keeps the columns aligned with the rows for the checks that follow
            k = c = f = p = v = t = y = None
            x = MISSING
        kind.append(k)
        campaign.append(c)
        fan.append(f)
        platform.append(p)
        variant.append(v)
        value.append(x)
        occurred.append(t)
        ctype.append(y)
    return rows


def first_rows(values: Sequence[Any], unhashable: list[int] | None = None) -> dict[Any, int]:
    """Each distinct non-None value and the first row it is on.

    Rows holding an unhashable value (a list, a dict) are appended to
    ``unhashable`` when given: such a value is never a valid label.
    """
    first: dict[Any, int] = {}
    setdefault = first.setdefault
    for index, item in enumerate(values):
        if item is not None:
            try:
                setdefault(item, index)
            except TypeError:
                if unhashable is not None:
                    unhashable.append(index)
    return first


class _RowProblems:
    """Problems per row, at most ``_MAX_ROW_PROBLEMS`` rows per kind of problem."""

    def __init__(self, paths: Paths, problems: ProblemCollector) -> None:
        self._paths = paths
        self._problems = problems
        self._seen: dict[tuple[str, str], int] = {}

    def add(self, row: int, field: str, message: str, code: str = "invalid_value") -> None:
        key = (field, code)
        count = self._seen.get(key, 0)
        self._seen[key] = count + 1
        if count < _MAX_ROW_PROBLEMS:
            self._problems.add(self._paths(row, field), message, code)

    def rows(self, mask: np.ndarray[Any, Any], field: str, message: str, code: str) -> None:
        for row in np.flatnonzero(mask)[:_MAX_ROW_PROBLEMS].tolist():
            self.add(int(row), field, message, code)


_KIND_CODE: Final = {name: code for code, name in enumerate(KIND_NAMES)}
_EARLIEST_MS: Final = epoch_ms(datetime(2000, 1, 1, tzinfo=UTC))
_LATEST_MS: Final = epoch_ms(datetime(2100, 1, 1, tzinfo=UTC))


def check_columns(
    rows: Rows,
    now: datetime,
    paths: Paths,
    problems: ProblemCollector,
    platforms: Sequence[str],
) -> tuple[EventBatch, list[datetime], list[float], list[str | None]] | None:
    """Every check that needs no database, on every row; problems name the row and field."""

    n = len(rows)
    bad = _RowProblems(paths, problems)
    kinds = np.full(n, -1, dtype=np.int64)
    for index, kind in enumerate(rows.kind):
        code = _KIND_CODE.get(kind) if isinstance(kind, str) else None
        if code is None:
            if kind is not None:  # a missing kind was reported with the row's shape
                bad.add(
                    index,
                    "kind",
                    f"{kind!r} is not one of: {', '.join(KIND_NAMES)}",
                    "invalid_value" if isinstance(kind, str) else "invalid_type",
                )
        else:
            kinds[index] = code

    times: list[Any] = list(rows.occurred_at)
    stamps = np.zeros(n, dtype=np.int64)
    for index, when in enumerate(times):
        if when is None:
            when = times[index] = now
        elif isinstance(when, str):
            try:
                when = times[index] = parse_datetime(when, paths(index, "occurred_at"))
            except ValidationError as error:
                bad.add(index, "occurred_at", error.problems[0].message, error.problems[0].code)
                continue
        if not isinstance(when, datetime):
            bad.add(
                index,
                "occurred_at",
                f"expected an aware datetime or ISO-8601 text, got {type(when).__name__}",
                "invalid_type",
            )
        elif when.tzinfo is None or when.utcoffset() is None:
            bad.add(index, "occurred_at", "must be timezone-aware", "invalid_value")
        else:
            stamps[index] = epoch_ms(when)
    known_time = np.fromiter((isinstance(t, datetime) for t in times), dtype=bool, count=n)
    bad.rows(
        known_time & ((stamps < _EARLIEST_MS) | (stamps >= _LATEST_MS)),
        "occurred_at",
        "must be between 2000-01-01 and 2100-01-01",
        "out_of_range",
    )
    bad.rows(
        known_time & (stamps > epoch_ms(now + FUTURE_SLACK)) & (stamps < _LATEST_MS),
        "occurred_at",
        "is in the future (more than an hour ahead of the core's clock)",
        "out_of_range",
    )

    values = np.zeros(n, dtype=np.float64)
    missing_value = np.zeros(n, dtype=bool)
    for index, value in enumerate(rows.value):
        if value is MISSING or value is None:
            missing_value[index] = True
        elif type(value) is float or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            try:
                values[index] = value
            except OverflowError:
                values[index] = math.inf
        else:
            bad.add(
                index, "value", f"expected a number, got {type(value).__name__}", "invalid_type"
            )
    bad.rows(~np.isfinite(values), "value", "must be finite (not NaN or infinity)", "not_finite")
    finite = np.isfinite(values)
    bad.rows(
        finite & ((values < 0) | (values > MAX_MONEY)),
        "value",
        f"must be in [0, {MAX_MONEY:g}]",
        "out_of_range",
    )
    idle = (kinds == IMPRESSION) | (kinds == CLICK)
    bad.rows(
        idle & (values != 0) & finite,
        "value",
        "must be 0 for impressions and clicks",
        "invalid_value",
    )
    money = (kinds == CONVERSION) | (kinds == SPEND)
    bad.rows(money & missing_value, "value", "is required for conversions and spend", "required")
    bad.rows(
        (kinds == SPEND) & ~missing_value & (values <= 0),
        "value",
        "spend must be > 0",
        "out_of_range",
    )

    fan_known = np.fromiter((f is not None for f in rows.fan_id), dtype=bool, count=n)
    bad.rows((kinds == CLICK) & ~fan_known, "fan_id", "a click needs the fan", "required")
    bad.rows((kinds == CONVERSION) & ~fan_known, "fan_id", "a conversion needs the fan", "required")
    bad.rows((kinds == SPEND) & fan_known, "fan_id", "spend belongs to no fan", "invalid_value")

    labels = (
        ("campaign_id", rows.campaign_id, "an id"),
        ("variant_id", rows.variant_id, "an id"),
        ("fan_id", rows.fan_id, "a fan id"),
        ("platform", rows.platform, "a platform"),
    )
    for field, column, what in labels:
        odd: list[int] = []
        for label, index in first_rows(column, odd).items():
            if field == "platform":
                if label not in platforms:
                    bad.add(
                        index,
                        field,
                        f"{label!r} is not one of: {', '.join(platforms)}",
                        "invalid_value" if isinstance(label, str) else "invalid_type",
                    )
            elif not isinstance(label, str) or not ID_RE.match(label):
                bad.add(
                    index,
                    field,
                    f"must be {what} (1-191 letters, digits, '-', '_', ':', '.')",
                    "invalid_value" if isinstance(label, str) else "invalid_type",
                )
        for index in odd:
            bad.add(
                index, field, f"expected {what}, got {type(column[index]).__name__}", "invalid_type"
            )

    types: list[str | None] = []
    for index, (code, given) in enumerate(zip(kinds.tolist(), rows.type)):
        if code != CONVERSION:
            if given is not None:
                bad.add(index, "type", "only conversions have a type", "invalid_value")
            types.append(None)
        elif given is None:
            types.append(ConversionType.PURCHASE.value)
        elif isinstance(given, str) and given in _CONVERSION_TYPES:
            types.append(given)
        else:
            bad.add(
                index,
                "type",
                f"{given!r} is not one of: {', '.join(t.value for t in ConversionType)}",
                "invalid_value" if isinstance(given, str) else "invalid_type",
            )
            types.append(None)
    if problems:
        return None
    try:
        # every row is valid by now; the batch is the columnar view the computations use
        batch = EventBatch.from_columns(
            kind=kinds,
            occurred_at=stamps,
            value=values,
            fan_id=rows.fan_id,
            platform=rows.platform,
            variant_id=rows.variant_id,
            campaign_id=rows.campaign_id,
        )
    except ValidationError as error:  # pragma: no cover - a check above is missing
        for problem in error.problems:
            match = _COLUMN_PATH.match(problem.path)
            path = problem.path
            if match:
                path = paths(int(match.group(2)), match.group(1)) + match.group(3)
            problems.add(path, problem.message, problem.code)
        return None
    # the stores bring datetimes to UTC and the millisecond on write (receipts do it here)
    return batch, times, values.tolist(), types


def renamed(problems: ProblemCollector, old: str, new: str) -> ProblemCollector:
    out = ProblemCollector()
    for problem in problems.problems:
        path = new if problem.path == old else problem.path
        out.add(path, problem.message, problem.code)
    return out
