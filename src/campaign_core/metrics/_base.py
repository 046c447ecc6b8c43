"""The MetricsSink port, its data point and the limits every adapter shares.

A :class:`~campaign_core.metrics.MetricPoint` is validated when it is built, against the rules
CloudWatch applies to ``PutMetricData`` (and that the Embedded Metric Format
inherits), so an adapter never has to reject a point: whatever reaches a sink
is deliverable. The limits below come from the CloudWatch API reference
(``PutMetricData``, ``MetricDatum``, ``Dimension``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from campaign_core.clock import ensure_utc
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_DIMENSIONS",
    "MAX_DIMENSION_NAME_LENGTH",
    "MAX_DIMENSION_VALUE_LENGTH",
    "MAX_METRIC_NAME_LENGTH",
    "MAX_NAMESPACE_LENGTH",
    "MAX_VALUE_MAGNITUDE",
    "STANDARD_UNITS",
    "MetricPoint",
    "MetricsSink",
    "NullMetrics",
    "SinkStats",
    "validate_namespace",
]

#: The namespace the library's metrics go to unless the host picks another.
DEFAULT_NAMESPACE: Final = "CampaignCore"

#: CloudWatch's ``StandardUnit`` names, exactly as the API spells them.
STANDARD_UNITS: Final = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)

MAX_METRIC_NAME_LENGTH: Final = 255
MAX_NAMESPACE_LENGTH: Final = 255
MAX_DIMENSIONS: Final = 30
MAX_DIMENSION_NAME_LENGTH: Final = 255
MAX_DIMENSION_VALUE_LENGTH: Final = 1024
#: CloudWatch rejects values outside [-2**360, 2**360].
MAX_VALUE_MAGNITUDE: Final = 2.0**360

_STORAGE_RESOLUTIONS: Final = (1, 60)
# Namespace characters the CloudWatch user guide allows.
_NAMESPACE_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/#: "
)


class _FrozenDimensions(Mapping[str, str]):
    """An immutable, hashable name -> value mapping, sorted by name."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[str, str]) -> None:
        self._data: dict[str, str] = dict(sorted(items.items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FrozenDimensions, (self._data,))


def _is_printable_ascii(text: str) -> bool:
    # Both checks run in C: this is on the hot path of every point.
    return text.isascii() and text.isprintable()


def _dimension_path(key: object, base: str = "dimensions") -> str:
    # An empty or non-string name cannot extend a path; point at the mapping instead.
    return join_path(base, key) if isinstance(key, str) and key else base


def _check_dimension_part(
    problems: ProblemCollector, path: str, text: object, what: str, max_length: int
) -> None:
    if not isinstance(text, str):
        problems.add(path, f"dimension {what} must be a string", "invalid_type")
        return
    if not text.strip():
        problems.add(path, f"dimension {what} must contain a non-whitespace character", "required")
    elif len(text) > max_length:
        problems.add(
            path, f"dimension {what} is longer than {max_length} characters", "out_of_range"
        )
    elif not _is_printable_ascii(text):
        problems.add(
            path,
            f"dimension {what} must be printable ASCII (CloudWatch rejects other characters)",
            "invalid_value",
        )


def _validate_point(
    name: object,
    value: object,
    unit: object,
    timestamp: object,
    dimensions: object,
    storage_resolution: object,
) -> tuple[float, datetime, _FrozenDimensions]:
    problems = ProblemCollector()
    if not isinstance(name, str):
        problems.add("name", "metric name must be a string", "invalid_type")
    elif not name.strip():
        problems.add("name", "metric name must not be empty", "required")
    elif len(name) > MAX_METRIC_NAME_LENGTH:
        problems.add(
            "name",
            f"metric name is longer than {MAX_METRIC_NAME_LENGTH} characters",
            "out_of_range",
        )
    elif not _is_printable_ascii(name):
        problems.add("name", "metric name must be printable ASCII", "invalid_value")

    number = math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add("value", f"expected a number, got {type(value).__name__}", "invalid_type")
    else:
        try:
            number = float(value)
        except OverflowError:
            problems.add("value", "value is too large for a double", "out_of_range")
        else:
            if not math.isfinite(number):
                problems.add("value", "value must be finite (no NaN or infinity)", "not_finite")
            elif abs(number) > MAX_VALUE_MAGNITUDE:
                problems.add(
                    "value",
                    "value must lie within [-2**360, 2**360] (CloudWatch's range)",
                    "out_of_range",
                )

    if not isinstance(unit, str):
        problems.add("unit", "unit must be a string", "invalid_type")
    elif unit not in STANDARD_UNITS:
        problems.add(
            "unit",
            f"{unit!r} is not a CloudWatch unit (one of: Count, Percent, Milliseconds, None, ...)",
            "invalid_value",
        )

    when: datetime | None = None
    if not isinstance(timestamp, datetime):
        problems.add("timestamp", "expected an aware datetime", "invalid_type")
    else:
        try:
            when = ensure_utc(timestamp, path="timestamp")
        except ValidationError as exc:
            problems.extend(exc)
        else:
            # Millisecond precision: what CloudWatch and EMF keep, and what stores persist.
            when = when.replace(microsecond=when.microsecond // 1000 * 1000)

    frozen = _FrozenDimensions({})
    if not isinstance(dimensions, Mapping):
        problems.add("dimensions", "dimensions must be a mapping of name to value", "invalid_type")
    else:
        if len(dimensions) > MAX_DIMENSIONS:
            problems.add(
                "dimensions",
                f"{len(dimensions)} dimensions given; CloudWatch allows at most {MAX_DIMENSIONS}",
                "out_of_range",
            )
        for key, dim_value in dimensions.items():
            path = _dimension_path(key)
            _check_dimension_part(problems, path, key, "name", MAX_DIMENSION_NAME_LENGTH)
            if isinstance(key, str) and key.startswith(":"):
                problems.add(path, "dimension name must not start with ':'", "invalid_value")
            _check_dimension_part(problems, path, dim_value, "value", MAX_DIMENSION_VALUE_LENGTH)
        if not problems:
            frozen = _FrozenDimensions(dimensions)

    if isinstance(storage_resolution, bool) or storage_resolution not in _STORAGE_RESOLUTIONS:
        problems.add(
            "storage_resolution", "storage resolution must be 1 or 60 (seconds)", "invalid_value"
        )

    problems.raise_if_any()
    assert when is not None  # for mypy: problems would have been raised
    return number, when, frozen


@attrs.frozen
class MetricPoint:
    """One data point, valid for CloudWatch by construction.

    Attributes:
        name: the metric name (``CampaignsCreated``...): 1 to 255 printable
            ASCII characters.
        value: a finite number within CloudWatch's range (``|value| <= 2**360``).
        unit: one of ``STANDARD_UNITS`` (``Count``, ``Milliseconds``,
            ``Percent``, ``None``...).
        timestamp: from the injected clock; aware, converted to UTC and
            truncated to milliseconds.
        dimensions: name -> value, at most 30; names 1-255 and values 1-1024
            printable ASCII characters, names not starting with ``:``. Never
            fan identifiers. Stored immutably, sorted by name.
        storage_resolution: 60 (standard, the default) or 1 (high resolution).

    Raises:
        ValidationError: on construction, listing every bad field with its path
            (``value``, ``dimensions.CampaignType``...).
    """

    name: str
    value: float
    unit: str
    timestamp: datetime
    dimensions: Mapping[str, str] = attrs.field(factory=dict)
    storage_resolution: int = 60

    def __attrs_post_init__(self) -> None:
        number, when, frozen = _validate_point(
            self.name,
            self.value,
            self.unit,
            self.timestamp,
            self.dimensions,
            self.storage_resolution,
        )
        object.__setattr__(self, "value", number)
        object.__setattr__(self, "timestamp", when)
        object.__setattr__(self, "dimensions", frozen)

    @property
    def series_key(self) -> tuple[str, str, tuple[tuple[str, str], ...], int]:
        """What identifies the series this point belongs to: name, unit, dimensions, resolution."""
        return (self.name, self.unit, tuple(self.dimensions.items()), self.storage_resolution)


def validate_namespace(namespace: object, *, path: str = "namespace") -> str:
    """Check a CloudWatch namespace.

    Args:
        namespace: the candidate, e.g. ``"CampaignCore"`` or ``"CampaignCore/prod"``.
        path: where it sits in the caller's input, for the error.

    Returns:
        The namespace, unchanged.

    Raises:
        ValidationError: not a string, empty, longer than 255 characters, with
            characters CloudWatch does not allow, starting with ``:`` or with
            the reserved ``AWS/`` prefix.
    """
    if not isinstance(namespace, str):
        raise ValidationError.single(path, "namespace must be a string", "invalid_type")
    if not namespace.strip():
        raise ValidationError.single(path, "namespace must not be empty", "required")
    if len(namespace) > MAX_NAMESPACE_LENGTH:
        raise ValidationError.single(
            path, f"namespace is longer than {MAX_NAMESPACE_LENGTH} characters", "out_of_range"
        )
    bad = sorted(set(namespace) - _NAMESPACE_CHARS)
    if bad:
        raise ValidationError.single(
            path,
            f"namespace contains characters CloudWatch does not allow: {''.join(bad)!r}",
            "invalid_value",
        )
    if namespace.startswith(":"):
        raise ValidationError.single(path, "namespace must not start with ':'", "invalid_value")
    if namespace.upper().startswith("AWS/"):
        raise ValidationError.single(
            path, "namespaces starting with 'AWS/' are reserved for AWS services", "invalid_value"
        )
    return namespace


@runtime_checkable
class MetricsSink(Protocol):
    """Receives data points and delivers them somewhere.

    Contract, for every adapter:

    - ``emit(point)`` accepts a valid :class:`~campaign_core.metrics.MetricPoint` (validation happens
      when the point is built). It never raises for a delivery failure: an
      adapter that cannot deliver counts the loss and logs it through the
      ``campaign_core.metrics`` logger. It returns quickly; an adapter that
      talks to the network does so in bounded time (bounded retries, bounded
      backoff, and a time limit across them) and may do it inside ``emit``
      only when a flush is due.
    - An outage costs the caller a bounded time once, not on every call: an
      adapter whose destination keeps failing stops calling it for a
      cool-down that grows with consecutive failures (a circuit breaker,
      driven by the injected clock), keeps buffering in bounded memory
      (dropping and counting the overflow) and tries again after the
      cool-down. While the circuit is open, ``emit``, ``flush`` and ``close``
      make no network call.
    - ``flush()`` delivers what is buffered (unless delivery is paused as
      above); it never raises for a delivery failure either.
    - ``close()`` flushes and releases resources; it is idempotent. Points it
      could not deliver are dropped and counted. Points emitted after
      ``close`` are dropped and counted (an adapter may document otherwise,
      as the in-memory one does).
    - All three methods are safe to call from several threads at once.
    - Points are values: a sink keeps references, never mutates them.
    """

    def emit(self, point: MetricPoint) -> None:
        """Accept one point (buffer it or deliver it)."""
        ...

    def flush(self) -> None:
        """Deliver what is buffered."""
        ...

    def close(self) -> None:
        """Flush, then release resources."""
        ...


@attrs.frozen
class SinkStats:
    """Counters an adapter keeps about what happened to the points it received.

    Attributes:
        accepted: points received by ``emit``.
        delivered: points handed over successfully (API accepted, line written).
        dropped_buffer_full: oldest points evicted because the buffer was full.
        dropped_after_retries: points lost after retrying a failure too many times.
        dropped_rejected: points the destination refused (not retryable).
        dropped_stale: points too old for the destination to accept.
        dropped_closed: points emitted after ``close``.
        dropped_unavailable: points still buffered when ``close`` ended because
            the destination was unavailable (CloudWatch's circuit open) or the
            final flush ran out of time.
        retries: retry attempts made after a retryable failure.
        requests: delivery attempts (API calls, writes), retries included.
        failures: delivery attempts that failed.
    """

    accepted: int = 0
    delivered: int = 0
    dropped_buffer_full: int = 0
    dropped_after_retries: int = 0
    dropped_rejected: int = 0
    dropped_stale: int = 0
    dropped_closed: int = 0
    dropped_unavailable: int = 0
    retries: int = 0
    requests: int = 0
    failures: int = 0

    @property
    def dropped(self) -> int:
        """Every point lost, whatever the reason."""
        return (
            self.dropped_buffer_full
            + self.dropped_after_retries
            + self.dropped_rejected
            + self.dropped_stale
            + self.dropped_closed
            + self.dropped_unavailable
        )


class _Counters:
    """Mutable counters behind a lock; snapshots as :class:`SinkStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(attrs.fields_dict(SinkStats), 0)

    def add(self, field: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._values[field] += amount

    def snapshot(self) -> SinkStats:
        with self._lock:
            return SinkStats(**self._values)


class NullMetrics:
    """Discards every point (the default sink)."""

    def emit(self, point: MetricPoint) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NullMetrics()"
