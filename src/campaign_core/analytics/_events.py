"""Tracking events as columns: :class:`EventBatch`, the input of every event-based computation.

A service (or a notebook) reads tracking rows from any store and hands them
over as columns: numpy arrays when it has them (the fast path: 1,000,000
events aggregate in a fraction of a second), plain lists otherwise. The batch
validates everything once, so the computations downstream never see NaN, a
naive timestamp or an unknown kind.

Categorical columns (platform, variant, campaign, fan) are stored
factorized: integer codes plus the distinct labels, which is what makes the
group-bys a handful of ``numpy.bincount`` calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core._validate import MAX_MONEY
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import StrEnum

__all__ = [
    "MAX_EVENT_VALUE",
    "EventBatch",
    "EventKind",
    "TrackingEvent",
    "epoch_ms",
    "from_epoch_ms",
]

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]

#: The largest single conversion value or spend amount (the library's money cap).
MAX_EVENT_VALUE = MAX_MONEY

#: Timestamps outside [2000-01-01, 2100-01-01) are rejected: they are nearly
#: always a unit mistake (epoch seconds passed as milliseconds land in 1970,
#: microseconds in the year 50000).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_EARLIEST_MS = (EARLIEST - _EPOCH) // _MS
_LATEST_MS = (LATEST - _EPOCH) // _MS
_MAX_LABEL = 191
_COLUMN_PATH = re.compile(r"^(\w+)\[(\d+)\](.*)$")


def epoch_ms(value: datetime) -> int:
    """An aware datetime as integer milliseconds since 1970-01-01T00:00Z (floored)."""
    return (value - _EPOCH) // _MS


def from_epoch_ms(value: int) -> datetime:
    """Integer epoch milliseconds back to an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=int(value))


class EventKind(StrEnum):
    """What a tracking event records. The integer codes are :attr:`code`."""

    IMPRESSION = "impression"
    CLICK = "click"
    CONVERSION = "conversion"
    SPEND = "spend"

    @property
    def code(self) -> int:
        """The integer code used in columns: 0 impression, 1 click, 2 conversion, 3 spend."""
        return _KIND_CODES[self]


_KIND_CODES = {kind: index for index, kind in enumerate(EventKind)}
_KIND_BY_NAME = {kind.value: index for kind, index in _KIND_CODES.items()}
IMPRESSION, CLICK, CONVERSION, SPEND = 0, 1, 2, 3


def _to_kind(value: object) -> EventKind:
    try:
        return EventKind(value)  # type: ignore[arg-type]  # checked by the enum
    except ValueError:
        raise ValidationError.single(
            "kind", f"{value!r} is not one of 'impression', 'click', 'conversion', 'spend'"
        ) from None


@attrs.frozen(kw_only=True)
class TrackingEvent:
    """One tracking event, for small inputs (tests, docs, a notebook).

    Attributes:
        kind: ``impression``, ``click``, ``conversion`` or ``spend``.
        occurred_at: when it happened (aware).
        fan_id: the fan, if known (impressions may be anonymous).
        platform: where (``instagram``...), if known.
        variant_id: the A/B variant shown, if any.
        value: the conversion's value or the amount spent; 0 for impressions
            and clicks.
        campaign_id: the campaign, when a batch holds several.
    """

    kind: EventKind = attrs.field(converter=_to_kind)
    occurred_at: datetime
    fan_id: str | None = None
    platform: str | None = None
    variant_id: str | None = None
    value: float = 0.0
    campaign_id: str | None = None


_RECORD_FIELDS = {
    "kind": "kind",
    "occurred_at": "occurred_at",
    "occurredAt": "occurred_at",
    "fan_id": "fan_id",
    "fanId": "fan_id",
    "userId": "fan_id",
    "platform": "platform",
    "variant_id": "variant_id",
    "variantId": "variant_id",
    "value": "value",
    "campaign_id": "campaign_id",
    "campaignId": "campaign_id",
}


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


@attrs.frozen(eq=False, repr=False)
class Categorical:
    """A factorized column: ``labels[codes[i]]`` is row i's value (``None`` = missing)."""

    codes: IntArray
    labels: tuple[str | None, ...]

    def take(self, mask: npt.NDArray[np.bool_]) -> Categorical:
        return Categorical(_readonly(self.codes[mask]), self.labels)


@attrs.frozen(eq=False)
class EventBatch:
    """Validated tracking events as columns. Build it with :meth:`from_columns` or :meth:`from_events`.

    Attributes:
        kind: int8 codes (see :class:`EventKind`).
        occurred_at_ms: int64 milliseconds since the epoch, UTC.
        value: float64 conversion values and spend amounts (0 elsewhere).
        fan: int64 fan codes (``-1`` anonymous), or ``None`` when no fan
            column was given (reach is then unknown).
        platform: the platform column, factorized.
        variant: the variant column, factorized.
        campaign: the campaign column, factorized.
    """

    kind: npt.NDArray[np.int8]
    occurred_at_ms: IntArray
    value: FloatArray
    fan: IntArray | None
    platform: Categorical
    variant: Categorical
    campaign: Categorical

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def __repr__(self) -> str:
        return f"EventBatch({len(self)} events)"

    # ------------------------------------------------------------------ building

    @classmethod
    def from_columns(
        cls,
        *,
        kind: Any,
        occurred_at: Any,
        value: Any = None,
        fan_id: Any = None,
        platform: Any = None,
        variant_id: Any = None,
        campaign_id: Any = None,
    ) -> EventBatch:
        """Validate columns of equal length into a batch.

        Args:
            kind: event kinds: strings (``"impression"``, ``"click"``,
                ``"conversion"``, ``"spend"``), :class:`EventKind` members, or
                their integer codes 0-3.
            occurred_at: timestamps: a ``numpy.datetime64`` array (any unit,
                read as UTC), an integer array of epoch milliseconds, or a
                sequence of aware datetimes. Each in [2000-01-01, 2100-01-01).
            value: conversion values and spend amounts (finite, ``0 <= v <=
                1e12``); must be 0 on impressions and clicks. ``None``: all 0.
            fan_id: fan identifiers (strings, ``None`` for anonymous) or
                non-negative integer codes (``-1`` anonymous). ``None``: no
                column, reach unknown.
            platform: platform names (``None`` = not attributed); no ``:``
                and not ``*`` (reserved by roll-up keys). ``None``: no column.
            variant_id: A/B variant ids (``None`` = no variant).
            campaign_id: campaign ids, when the batch mixes campaigns.

        Returns:
            The batch (its arrays are read-only).

        Raises:
            ValidationError: every problem, each with its column and first bad
                row as the path (``value[12]``); nothing is kept.
        """
        problems = ProblemCollector()
        kinds = _kind_column(kind, problems)
        times = _time_column(occurred_at, problems)
        values = _value_column(value, problems)
        fans = None if fan_id is None else _fan_column(fan_id, problems)
        platforms = _label_column(platform, "platform", problems, reserved=True)
        variants = _label_column(variant_id, "variant_id", problems)
        campaigns = _label_column(campaign_id, "campaign_id", problems)
        if problems:
            problems.raise_if_any()
        assert kinds is not None
        assert times is not None
        n = kinds.shape[0]
        lengths = {
            "occurred_at": times.shape[0],
            "value": None if values is None else values.shape[0],
            "fan_id": None if fans is None else fans.shape[0],
            "platform": None if platforms is None else platforms.codes.shape[0],
            "variant_id": None if variants is None else variants.codes.shape[0],
            "campaign_id": None if campaigns is None else campaigns.codes.shape[0],
        }
        for name, length in lengths.items():
            if length is not None and length != n:
                problems.add(
                    name,
                    f"has {length} rows but kind has {n} (columns must align)",
                    "invalid_value",
                )
        problems.raise_if_any()
        if values is None:
            values = np.zeros(n, dtype=np.float64)
        else:
            _check_values_by_kind(kinds, values, problems)
            problems.raise_if_any()
        empty = Categorical(np.zeros(n, dtype=np.int64), (None,))
        if n == 0:
            empty = Categorical(np.zeros(0, dtype=np.int64), (None,))
        return cls(
            _readonly(kinds),
            _readonly(times),
            _readonly(values),
            None if fans is None else _readonly(fans),
            platforms or _ro_cat(empty),
            variants or _ro_cat(empty),
            campaigns or _ro_cat(empty),
        )

    @classmethod
    def from_events(cls, events: Iterable[TrackingEvent | Mapping[str, Any]]) -> EventBatch:
        """A batch from event objects or dicts (camelCase or snake_case keys).

        Convenient for small inputs; for volume, pass columns to :meth:`from_columns`.

        Args:
            events: :class:`TrackingEvent` objects, or mappings with ``kind``,
                ``occurredAt`` and optionally ``fanId``, ``platform``,
                ``variantId``, ``value``, ``campaignId``.

        Returns:
            The batch. It has a fan column only if some event names a fan.

        Raises:
            ValidationError: unknown keys, missing ``kind``/``occurredAt``, or
                bad values, with paths such as ``events[3].value``.
        """
        if isinstance(events, str | bytes | Mapping):
            raise ValidationError.single("events", "must be a list of events", "invalid_type")
        problems = ProblemCollector()
        cols: dict[str, list[Any]] = {name: [] for name in set(_RECORD_FIELDS.values())}
        for index, event_ in enumerate(events):
            event: object = event_
            path = join_path("events", index)
            if isinstance(event, TrackingEvent):
                row = attrs.asdict(event, recurse=False)
            elif isinstance(event, Mapping):
                row = {}
                for key, item in event.items():
                    field = _RECORD_FIELDS.get(key) if isinstance(key, str) else None
                    if field is None:
                        problems.add(join_path(path, str(key)), "unknown field", "unknown_field")
                    else:
                        row[field] = item
                for required in ("kind", "occurred_at"):
                    if required not in row:
                        problems.add(join_path(path, required), "is required", "required")
            else:
                problems.add(path, "must be a TrackingEvent or an object", "invalid_type")
                continue
            for name in cols:
                default = 0.0 if name == "value" else None
                cols[name].append(row.get(name, default))
        problems.raise_if_any()
        times = cols["occurred_at"]
        bad_time = next((i for i, t in enumerate(times) if not isinstance(t, datetime)), None)
        if bad_time is not None:
            raise ValidationError.single(
                join_path(join_path("events", bad_time), "occurred_at"),
                "must be an aware datetime",
                "invalid_type",
            )
        has_fans = any(f is not None for f in cols["fan_id"])
        try:
            return cls.from_columns(
                kind=cols["kind"],
                occurred_at=times,
                value=cols["value"],
                fan_id=cols["fan_id"] if has_fans else None,
                platform=cols["platform"],
                variant_id=cols["variant_id"],
                campaign_id=cols["campaign_id"],
            )
        except ValidationError as exc:
            raise _columns_to_events(exc) from None

    # ------------------------------------------------------------------ slicing

    def select(self, mask: npt.NDArray[np.bool_]) -> EventBatch:
        """The events where ``mask`` is true (labels are kept, codes subset)."""
        return EventBatch(
            _readonly(self.kind[mask]),
            _readonly(self.occurred_at_ms[mask]),
            _readonly(self.value[mask]),
            None if self.fan is None else _readonly(self.fan[mask]),
            self.platform.take(mask),
            self.variant.take(mask),
            self.campaign.take(mask),
        )

    def window(self, start: datetime | None = None, end: datetime | None = None) -> EventBatch:
        """The events with ``start <= occurred_at < end`` (either bound optional).

        Raises:
            ValidationError: a bound that is not an aware datetime.
        """
        mask = np.ones(len(self), dtype=bool)
        if start is not None:
            mask &= self.occurred_at_ms >= epoch_ms(_aware(start, "start"))
        if end is not None:
            mask &= self.occurred_at_ms < epoch_ms(_aware(end, "end"))
        return self if bool(mask.all()) else self.select(mask)

    def campaign_ids(self) -> tuple[str, ...]:
        """The distinct campaign ids present (sorted)."""
        counts = np.bincount(self.campaign.codes, minlength=len(self.campaign.labels))
        return tuple(
            sorted(
                label
                for label, count in zip(self.campaign.labels, counts.tolist())
                if label is not None and count > 0
            )
        )


def _ro_cat(cat: Categorical) -> Categorical:
    _readonly(cat.codes)
    return cat


def _aware(value: object, path: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(path, "must be an aware datetime", "invalid_type")
    return value.astimezone(UTC)


def _columns_to_events(exc: ValidationError) -> ValidationError:
    """Rewrite ``value[3]`` (a column path) as ``events[3].value`` for record input."""
    pattern = _COLUMN_PATH
    out = []
    for problem in exc.problems:
        match = pattern.match(problem.path)
        if match:
            path = f"events[{match.group(2)}].{match.group(1)}{match.group(3)}"
        else:
            path = problem.path
        out.append(attrs.evolve(problem, path=path))
    return ValidationError(out)


# ---------------------------------------------------------------------- columns


def _first(path: str, mask: npt.NDArray[np.bool_]) -> str:
    return join_path(path, int(np.flatnonzero(mask)[0]))


def _as_list_or_array(value: Any, path: str, problems: ProblemCollector) -> Any:
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            problems.add(path, f"must be one-dimensional, got shape {value.shape}", "invalid_value")
            return None
        return value
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence | Iterable):
        problems.add(
            path, f"must be a list or an array, got {type(value).__name__}", "invalid_type"
        )
        return None
    # pandas Series, tuples, generators...: numpy when it is one already, else a list
    to_numpy = getattr(value, "to_numpy", None)
    if callable(to_numpy):
        array = to_numpy()
        if isinstance(array, np.ndarray) and array.ndim == 1:
            return array
    return list(value)


def _kind_column(value: Any, problems: ProblemCollector) -> npt.NDArray[np.int8] | None:
    raw = _as_list_or_array(value, "kind", problems)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iu":
        bad = (raw < 0) | (raw > 3)
        if bad.any():
            problems.add(_first("kind", bad), "must be a kind code 0-3", "invalid_value")
            return None
        return raw.astype(np.int8)
    items = raw.tolist() if isinstance(raw, np.ndarray) else raw
    codes, labels = _factorize(items)
    lookup = np.empty(len(labels), dtype=np.int8)
    for index, label in enumerate(labels):
        code = _KIND_BY_NAME.get(label) if isinstance(label, str) else None
        if code is None and type(label) is int and 0 <= label <= 3:
            code = label
        if code is None:
            problems.add(
                _first("kind", codes == index),
                f"{label!r} is not one of 'impression', 'click', 'conversion', 'spend'",
                "invalid_value",
            )
            return None
        lookup[index] = code
    return lookup[codes] if len(labels) else np.zeros(0, dtype=np.int8)


def _factorize(items: list[Any]) -> tuple[IntArray, list[Any]]:
    """Codes and distinct values in first-seen order (hash-based: one pass in C-speed dict ops)."""
    seen: dict[Any, int] = {}
    setdefault = seen.setdefault
    try:
        codes = np.fromiter(
            (setdefault(item, len(seen)) for item in items), dtype=np.int64, count=len(items)
        )
    except TypeError:  # an unhashable item: compare by identity of repr instead, to report it
        seen.clear()
        codes = np.fromiter(
            (setdefault(_hashable(item), len(seen)) for item in items),
            dtype=np.int64,
            count=len(items),
        )
    return codes, list(seen)


class _Unhashable:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"a {type(self.value).__name__}"


def _hashable(item: Any) -> Any:
    try:
        hash(item)
    except TypeError:
        return _Unhashable(item)
    return item


def _time_column(value: Any, problems: ProblemCollector) -> IntArray | None:
    path = "occurred_at"
    raw = _as_list_or_array(value, path, problems)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "M":
        nat = np.isnat(raw)
        if nat.any():
            problems.add(_first(path, nat), "is missing (NaT)", "required")
            return None
        ms = raw.astype("datetime64[ms]").astype(np.int64)
    elif isinstance(raw, np.ndarray) and raw.dtype.kind in "iu":
        ms = raw.astype(np.int64)
    elif isinstance(raw, np.ndarray) and raw.dtype.kind != "O":
        problems.add(
            path,
            f"must be datetime64, integer epoch milliseconds or aware datetimes, got dtype {raw.dtype}",
            "invalid_type",
        )
        return None
    else:
        items = raw.tolist() if isinstance(raw, np.ndarray) else raw
        out = np.empty(len(items), dtype=np.int64)
        for index, item in enumerate(items):
            if not isinstance(item, datetime):
                problems.add(
                    join_path(path, index),
                    f"must be an aware datetime, got {type(item).__name__}",
                    "invalid_type",
                )
                return None
            if item.tzinfo is None or item.utcoffset() is None:
                problems.add(
                    join_path(path, index),
                    "must be timezone-aware (naive datetimes are ambiguous)",
                    "invalid_value",
                )
                return None
            out[index] = (item - _EPOCH) // _MS
        ms = out
    bad = (ms < _EARLIEST_MS) | (ms >= _LATEST_MS)
    if bad.any():
        problems.add(
            _first(path, bad),
            "must be between 2000-01-01 and 2100-01-01 (epoch milliseconds expected)",
            "out_of_range",
        )
        return None
    return np.ascontiguousarray(ms)


def _value_column(value: Any, problems: ProblemCollector) -> FloatArray | None:
    if value is None:
        return None
    path = "value"
    raw = _as_list_or_array(value, path, problems)
    if raw is None:
        return None
    try:
        if isinstance(raw, np.ndarray):
            if raw.dtype.kind == "b" or raw.dtype.kind not in "iufO":
                raise TypeError(f"dtype {raw.dtype}")
            array = raw.astype(np.float64)
        else:
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in raw):
                index = next(
                    i
                    for i, v in enumerate(raw)
                    if isinstance(v, bool) or not isinstance(v, int | float)
                )
                problems.add(
                    join_path(path, index),
                    f"must be a number, got {type(raw[index]).__name__}",
                    "invalid_type",
                )
                return None
            array = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        problems.add(path, f"must hold numbers ({exc})", "invalid_type")
        return None
    bad = ~np.isfinite(array)
    if bad.any():
        problems.add(_first(path, bad), "must be finite (not NaN or infinity)", "not_finite")
        return None
    bad = (array < 0) | (array > MAX_EVENT_VALUE)
    if bad.any():
        problems.add(_first(path, bad), f"must be in [0, {MAX_EVENT_VALUE:g}]", "out_of_range")
        return None
    return array


def _check_values_by_kind(
    kinds: npt.NDArray[np.int8], values: FloatArray, problems: ProblemCollector
) -> None:
    # A value on an impression or a click is not revenue; refusing it catches
    # columns that were shifted or mixed up by the caller.
    bad = (kinds <= CLICK) & (values != 0.0)
    if bad.any():
        problems.add(_first("value", bad), "must be 0 for impressions and clicks", "invalid_value")


def _fan_column(value: Any, problems: ProblemCollector) -> IntArray | None:
    path = "fan_id"
    raw = _as_list_or_array(value, path, problems)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iu":
        codes = raw.astype(np.int64)
        bad = codes < -1
        if bad.any():
            problems.add(
                _first(path, bad), "integer fan codes must be >= 0 (-1: anonymous)", "out_of_range"
            )
            return None
        return codes
    if isinstance(raw, np.ndarray) and raw.dtype.kind not in "OUS":
        problems.add(
            path, f"must hold strings or integer codes, got dtype {raw.dtype}", "invalid_type"
        )
        return None
    items = raw.tolist() if isinstance(raw, np.ndarray) else raw
    codes, labels = _factorize(items)
    remap = np.empty(len(labels), dtype=np.int64)
    next_code = 0
    for index, label in enumerate(labels):
        if label is None:
            remap[index] = -1
            continue
        if not isinstance(label, str) or not label:
            problems.add(
                _first(path, codes == index),
                "must be a non-empty string or None (anonymous)",
                "invalid_type" if not isinstance(label, str) else "invalid_value",
            )
            return None
        remap[index] = next_code
        next_code += 1
    return remap[codes] if len(labels) else np.zeros(0, dtype=np.int64)


def _label_column(
    value: Any, path: str, problems: ProblemCollector, *, reserved: bool = False
) -> Categorical | None:
    if value is None:
        return None
    raw = _as_list_or_array(value, path, problems)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.dtype.kind not in "OUS":
        problems.add(path, f"must hold strings or None, got dtype {raw.dtype}", "invalid_type")
        return None
    items = raw.tolist() if isinstance(raw, np.ndarray) else raw
    codes, labels = _factorize(items)
    for index, label in enumerate(labels):
        if label is None:
            continue
        message = None
        code = "invalid_value"
        if not isinstance(label, str):
            message, code = f"must be a string or None, got {label!r}", "invalid_type"
        elif not label or len(label) > _MAX_LABEL:
            message = f"must be 1-{_MAX_LABEL} characters"
        elif reserved and (":" in label or label == "*"):
            message = "must not contain ':' nor be '*' (reserved by roll-up keys)"
        if message:
            problems.add(_first(path, codes == index), message, code)
            return None
    # codes in sorted-label order make every output deterministic whatever the input order
    order = sorted(range(len(labels)), key=lambda i: (labels[i] is None, labels[i] or ""))
    remap = np.empty(len(labels), dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(labels), dtype=np.int64)
    sorted_labels = tuple(labels[i] for i in order)
    if not sorted_labels:
        return Categorical(np.zeros(0, dtype=np.int64), (None,))
    return Categorical(remap[codes], sorted_labels)
