"""The MetricsSink port and its value object."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["MetricPoint", "MetricsSink", "NullMetrics"]


@attrs.frozen
class MetricPoint:
    """One data point.

    Attributes:
        name: the metric name (``CampaignsCreated``...).
        value: a finite number.
        unit: a CloudWatch unit name (``Count``, ``Milliseconds``, ``Percent``, ``None``).
        dimensions: name -> value; never fan identifiers.
        timestamp: from the injected clock, aware UTC.
    """

    name: str
    value: float
    unit: str
    timestamp: datetime
    dimensions: Mapping[str, str] = attrs.field(factory=dict)


@runtime_checkable
class MetricsSink(Protocol):
    """Receives data points.

    Contract: ``emit`` never raises to the caller for a delivery failure (an
    adapter counts and logs it) and never blocks on the network for long;
    ``flush`` delivers what is buffered; ``close`` flushes and releases.
    """

    def emit(self, point: MetricPoint) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class NullMetrics:
    """Discards every point (the default)."""

    def emit(self, point: MetricPoint) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
