"""InMemoryMetrics: keeps every point, with helpers for hosts' tests."""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Mapping
from typing import Any, Final

from campaign_core.metrics._base import MetricPoint, SinkStats, _Counters

__all__ = ["InMemoryMetrics"]


class _Any:
    def __repr__(self) -> str:
        return "ANY"


_ANY: Final[Any] = _Any()


def _describe(point: MetricPoint) -> str:
    return f"value={point.value!r} unit={point.unit!r} dimensions={dict(point.dimensions)!r}"


class InMemoryMetrics:
    """Keeps every point in memory, in emission order.

    A series is what CloudWatch calls a metric: a name plus an exact set of
    dimensions. The helpers follow that rule, so ``total("CampaignsCreated")``
    is the undimensioned total series, not the sum over every rollup.

    Thread-safe. ``close`` is a no-op: points emitted afterwards are still
    kept, so a test can inspect a sink after the host shut down.

    Example::

        metrics = InMemoryMetrics()
        emitter = MetricsEmitter(metrics, clock=FakeClock())
        emitter.campaign_created(campaign_type="ppv")
        metrics.assert_emitted("CampaignsCreated", value=1, dimensions={"CampaignType": "ppv"})
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: list[MetricPoint] = []
        self._counters = _Counters()
        self.flushes = 0
        self.closed = False

    def emit(self, point: MetricPoint) -> None:
        with self._lock:
            self._points.append(point)
        self._counters.add("accepted")
        self._counters.add("delivered")

    def flush(self) -> None:
        with self._lock:
            self.flushes += 1

    def close(self) -> None:
        with self._lock:
            self.closed = True

    @property
    def stats(self) -> SinkStats:
        """Counters (everything accepted is delivered; nothing is dropped)."""
        return self._counters.snapshot()

    def points(
        self, name: str | None = None, *, exact: bool = False, **dimensions: str
    ) -> list[MetricPoint]:
        """The points emitted, oldest first, optionally filtered.

        Args:
            name: keep only this metric.
            exact: when true, keep only points whose dimensions are exactly
                ``dimensions``; otherwise points that have at least those.
            **dimensions: dimension values to match.

        Returns:
            A new list (later emissions do not change it).
        """
        return self._select(name, dimensions, exact=exact)

    def _select(
        self, name: str | None, dimensions: Mapping[str, str], *, exact: bool
    ) -> list[MetricPoint]:
        with self._lock:
            snapshot = list(self._points)
        return [
            p
            for p in snapshot
            if (name is None or p.name == name)
            and (
                dict(p.dimensions) == dict(dimensions)
                if exact
                else all(p.dimensions.get(k) == v for k, v in dimensions.items())
            )
        ]

    def names(self) -> list[str]:
        """Every metric name emitted, sorted, once each."""
        with self._lock:
            return sorted({p.name for p in self._points})

    def values(self, name: str, **dimensions: str) -> list[float]:
        """The values of one series (``name`` with exactly ``dimensions``), oldest first."""
        return [p.value for p in self._select(name, dimensions, exact=True)]

    def total(self, name: str, **dimensions: str) -> float:
        """The sum of one series (``name`` with exactly ``dimensions``); 0.0 when empty."""
        return math.fsum(self.values(name, **dimensions))

    def clear(self) -> None:
        """Forget every point (counters are kept)."""
        with self._lock:
            self._points.clear()

    def assert_emitted(
        self,
        name: str,
        *,
        value: float = _ANY,
        unit: str = _ANY,
        dimensions: Mapping[str, str] = _ANY,
        count: int | None = None,
    ) -> list[MetricPoint]:
        """Assert that points matching the criteria were emitted.

        Args:
            name: the metric name.
            value: the value each matching point must have (compared with a
                relative tolerance of 1e-9).
            unit: the unit it must have.
            dimensions: its exact dimensions.
            count: how many matching points there must be (default: at least one).

        Returns:
            The matching points.

        Raises:
            AssertionError: nothing (or not ``count`` points) matched; the
                message lists the points of that name and how each differs, or
                the names emitted when there is none of that name.
        """
        criteria = {"value": value, "unit": unit, "dimensions": dimensions}
        named = self._select(name, {}, exact=False)
        matching = [p for p in named if not self._differences(p, criteria)]
        if (count is None and matching) or (count is not None and len(matching) == count):
            return matching
        wanted = ", ".join(f"{k}={v!r}" for k, v in criteria.items() if v is not _ANY)
        expected = f"{count} point(s)" if count is not None else "a point"
        header = f"expected {expected} {name!r}" + (f" with {wanted}" if wanted else "")
        if not named:
            emitted = self.names()
            close = difflib.get_close_matches(name, emitted, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise AssertionError(
                f"{header}, but no point named {name!r} was emitted{hint}\n"
                f"names emitted: {emitted!r}"
            )
        lines = [f"{header}, found {len(matching)} matching of {len(named)} named {name!r}:"]
        for point in named[:20]:
            diffs = self._differences(point, criteria)
            mark = "matches" if not diffs else "; ".join(diffs)
            lines.append(f"  - {_describe(point)}  [{mark}]")
        if len(named) > 20:
            lines.append(f"  ... and {len(named) - 20} more")
        raise AssertionError("\n".join(lines))

    def assert_not_emitted(self, name: str, **dimensions: str) -> None:
        """Assert that no point of ``name`` (having at least ``dimensions``) was emitted.

        Raises:
            AssertionError: some were; the message lists them.
        """
        found = self._select(name, dimensions, exact=False)
        if found:
            listed = "\n".join(f"  - {_describe(p)}" for p in found[:20])
            raise AssertionError(f"expected no point {name!r}, found {len(found)}:\n{listed}")

    @staticmethod
    def _differences(point: MetricPoint, criteria: Mapping[str, Any]) -> list[str]:
        diffs = []
        value = criteria["value"]
        if value is not _ANY and not math.isclose(point.value, value, rel_tol=1e-9, abs_tol=1e-12):
            diffs.append(f"value {point.value!r} != {value!r}")
        unit = criteria["unit"]
        if unit is not _ANY and point.unit != unit:
            diffs.append(f"unit {point.unit!r} != {unit!r}")
        dims = criteria["dimensions"]
        if dims is not _ANY:
            have, want = dict(point.dimensions), dict(dims)
            missing = sorted(set(want) - set(have))
            extra = sorted(set(have) - set(want))
            changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])
            if missing:
                diffs.append(f"missing dimensions {missing}")
            if extra:
                diffs.append(f"extra dimensions {extra}")
            for key in changed:
                diffs.append(f"{key}={have[key]!r} != {want[key]!r}")
        return diffs

    def __repr__(self) -> str:
        with self._lock:
            return f"InMemoryMetrics({len(self._points)} points)"
