"""EmfMetrics: CloudWatch Embedded Metric Format lines, for Lambda and containers.

Each line is one EMF document (a JSON object) that CloudWatch Logs turns into
metrics when it reaches a log group: on Lambda, write to standard output; in a
container, to a log driver that ships to CloudWatch Logs (or the CloudWatch
agent). The rules applied, from the EMF specification:

- the root has an ``_aws`` object with ``Timestamp`` (epoch milliseconds) and
  ``CloudWatchMetrics``: one directive with ``Namespace``, ``Dimensions`` (one
  dimension set of at most 30 keys, possibly empty) and ``Metrics`` (at most
  100 definitions with ``Name``, ``Unit`` and, for high resolution,
  ``StorageResolution``);
- every dimension key and metric name is a root member ("target member"):
  dimension values are strings, metric values a number or an array of at most
  100 numbers;
- a document stays under CloudWatch Logs' event size limit (256 KB).

Points that share dimensions and a minute (a second for high-resolution
points) share a document; repeated values of one metric become an array.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Final

from campaign_core.clock import Clock
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.metrics._base import DEFAULT_NAMESPACE, MetricPoint, validate_namespace
from campaign_core.metrics._buffer import BufferedSink

__all__ = ["EMF_MAX_DOCUMENT_BYTES", "EMF_MAX_METRICS", "EMF_MAX_VALUES", "EmfMetrics"]

#: Metric definitions per document.
EMF_MAX_METRICS: Final = 100
#: Values per metric (array target member).
EMF_MAX_VALUES: Final = 100
#: CloudWatch Logs event size limit that an EMF document must respect.
EMF_MAX_DOCUMENT_BYTES: Final = 256 * 1024

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Output = IO[str] | Callable[[str], object]

_Entry = tuple[str, str, int, list[float]]  # name, unit, resolution, values


def _epoch_ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _bucket(point: MetricPoint) -> int:
    seconds = int((point.timestamp - _EPOCH).total_seconds())
    return seconds - seconds % point.storage_resolution


class EmfMetrics(BufferedSink):
    """Writes points as Embedded Metric Format JSON lines.

    Args:
        namespace: the CloudWatch namespace of every metric.
        output: a text stream (``write`` is called with one line and a newline)
            or a callable taking one line without newline (a logger method, a
            list's ``append``). Standard output by default, which is what
            Lambda ships to CloudWatch Logs.
        clock: drives the interval flush; :class:`SystemClock` by default.
        flush_interval: flush when this much time passed since the last flush
            (checked on emit); ``None`` to flush only by size and explicitly.
        flush_at: flush when this many points are buffered (1 writes every
            point at once).
        max_buffer: at most this many points are kept; beyond, the oldest are
            dropped and counted.
        logger: where write failures are logged.

    Raises:
        ValidationError: a bad namespace, output or setting.

    On Lambda, call ``flush`` at the end of each invocation: the process
    may be frozen afterwards. Write failures never raise; the points of a
    failed line are counted in ``stats.dropped_rejected``. Thread-safe.
    """

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        output: Output | None = None,
        clock: Clock | None = None,
        flush_interval: str | timedelta | None = "60 seconds",
        flush_at: int = 1000,
        max_buffer: int = 100_000,
        logger: logging.Logger | None = None,
    ) -> None:
        problems = ProblemCollector()
        try:
            validate_namespace(namespace)
        except ValidationError as exc:
            problems.extend(exc)
        given_output: object = output
        if given_output is not None and not (
            hasattr(given_output, "write") or callable(given_output)
        ):
            problems.add("output", "expected a text stream or a callable", "invalid_type")
        try:
            super().__init__(
                clock=clock,
                flush_interval=flush_interval,
                flush_at=flush_at,
                max_buffer=max_buffer,
                logger=logger,
            )
        except ValidationError as exc:
            problems.extend(exc)
        problems.raise_if_any()
        self.namespace = namespace
        self._output = output

    # Documents ---------------------------------------------------------------

    def documents(self, points: Sequence[MetricPoint]) -> list[tuple[dict[str, Any], int]]:
        """Build the EMF documents for ``points`` (without writing them).

        Args:
            points: the points, in any order.

        Returns:
            ``(document, number of points it carries)`` pairs. Points that
            cannot be represented (a metric named like one of its own
            dimensions, or ``_aws``) are left out.
        """
        groups: dict[tuple[tuple[tuple[str, str], ...], int], list[MetricPoint]] = defaultdict(list)
        for point in points:
            groups[(tuple(point.dimensions.items()), _bucket(point))].append(point)
        built: list[tuple[dict[str, Any], int]] = []
        for (dims, _), members in groups.items():
            timestamp = min(p.timestamp for p in members)
            values: dict[tuple[str, str, int], list[float]] = defaultdict(list)
            for point in members:
                values[(point.name, point.unit, point.storage_resolution)].append(point.value)
            entries: list[_Entry] = []
            for (name, unit, resolution), numbers in values.items():
                for start in range(0, len(numbers), EMF_MAX_VALUES):
                    entries.append(
                        (name, unit, resolution, numbers[start : start + EMF_MAX_VALUES])
                    )
            for chunk in self._pack(entries):
                built.extend(self._sized(dict(dims), timestamp, chunk))
        return built

    @staticmethod
    def _pack(entries: list[_Entry]) -> list[list[_Entry]]:
        # A name may appear once per document: repeated chunks go to later documents.
        docs: list[list[_Entry]] = []
        names: list[set[str]] = []
        for entry in entries:
            for doc, used in zip(docs, names):
                if entry[0] not in used and len(doc) < EMF_MAX_METRICS:
                    doc.append(entry)
                    used.add(entry[0])
                    break
            else:
                docs.append([entry])
                names.append({entry[0]})
        return docs

    def _sized(
        self, dims: dict[str, str], timestamp: datetime, entries: list[_Entry]
    ) -> list[tuple[dict[str, Any], int]]:
        document = self._document(dims, timestamp, entries)
        size = len(json.dumps(document, separators=(",", ":")).encode())
        if size <= EMF_MAX_DOCUMENT_BYTES:
            return [(document, sum(len(e[3]) for e in entries))]
        if len(entries) == 1 and len(entries[0][3]) == 1:  # pragma: no cover - impossible by limits
            return []
        if len(entries) == 1:
            name, unit, resolution, numbers = entries[0]
            half = len(numbers) // 2
            parts = [
                [(name, unit, resolution, numbers[:half])],
                [(name, unit, resolution, numbers[half:])],
            ]
        else:
            half = len(entries) // 2
            parts = [entries[:half], entries[half:]]
        return [piece for part in parts for piece in self._sized(dims, timestamp, part)]

    def _document(
        self, dims: dict[str, str], timestamp: datetime, entries: list[_Entry]
    ) -> dict[str, Any]:
        definitions: list[dict[str, Any]] = []
        for name, unit, resolution, _ in entries:
            definition: dict[str, Any] = {"Name": name, "Unit": unit}
            if resolution == 1:
                definition["StorageResolution"] = 1
            definitions.append(definition)
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": _epoch_ms(timestamp),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(dims)],
                        "Metrics": definitions,
                    }
                ],
            }
        }
        document.update(dims)
        for name, _, _, numbers in entries:
            document[name] = numbers[0] if len(numbers) == 1 else list(numbers)
        return document

    def _write(self, line: str) -> None:
        output = self._output if self._output is not None else sys.stdout
        write = getattr(output, "write", None)
        if write is not None:
            write(line + "\n")
        else:
            output(line)  # type: ignore[operator]

    def _deliver(self, points: Sequence[MetricPoint]) -> None:
        representable = []
        for point in points:
            if point.name == "_aws" or point.name in point.dimensions:
                self._counters.add("dropped_rejected")
                self._report_failure(
                    "EMF cannot carry this point",
                    ValidationError.single(
                        "name", f"metric {point.name!r} clashes with a root member", "invalid_value"
                    ),
                )
            else:
                representable.append(point)
        for document, carried in self.documents(representable):
            self._counters.add("requests")
            try:
                self._write(json.dumps(document, separators=(",", ":"), allow_nan=False))
            except Exception as exc:
                self._counters.add("dropped_rejected", carried)
                self._report_failure(f"writing an EMF line failed, {carried} points dropped", exc)
            else:
                self._counters.add("delivered", carried)

    def __repr__(self) -> str:
        return f"EmfMetrics(namespace={self.namespace!r})"
