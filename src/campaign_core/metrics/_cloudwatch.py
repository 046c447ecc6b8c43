"""CloudWatchMetrics: buffered, batched ``PutMetricData`` through boto3.

Limits applied (CloudWatch API reference, ``PutMetricData`` and ``MetricDatum``):

- at most 1000 metric data per request (the limit was 20 until 2022; pass
  ``max_metrics_per_request=20`` for an old endpoint or a strict proxy);
- a request body of at most 1 MB: the size of each datum is estimated in the
  most verbose wire format (the form-encoded query protocol), so a request
  stays under the limit whatever protocol botocore picks;
- at most 30 dimensions per datum and 150 distinct values per ``Values``
  array (both guaranteed by :class:`MetricPoint` and the aggregation below);
- timestamps no older than two weeks and no more than two hours ahead:
  points outside are dropped (``stats.dropped_stale``).

boto3 is imported only when the adapter builds its own client.
"""

from __future__ import annotations

import importlib
import logging
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote

from campaign_core.clock import Clock
from campaign_core.durations import parse_duration
from campaign_core.errors import MissingDependencyError, ProblemCollector, ValidationError
from campaign_core.metrics._base import DEFAULT_NAMESPACE, MetricPoint, validate_namespace
from campaign_core.metrics._buffer import BufferedSink, check_positive_int

__all__ = [
    "MAX_METRICS_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "MAX_VALUES_PER_DATUM",
    "CloudWatchMetrics",
    "estimate_datum_bytes",
    "is_retryable_error",
]

MAX_METRICS_PER_REQUEST: Final = 1000
#: 1 MB, counted in decimal bytes to keep a margin below 1 MiB.
MAX_REQUEST_BYTES: Final = 1_000_000
MAX_VALUES_PER_DATUM: Final = 150

_MAX_AGE: Final = timedelta(days=14)
_MAX_AHEAD: Final = timedelta(hours=2)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Action, Version and Namespace parameters, generously.
_REQUEST_OVERHEAD: Final = 600

_THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServiceError",
        "InternalError",
    }
)
# botocore's transport errors, matched by name so botocore need not be imported.
_TRANSPORT_ERRORS: Final = frozenset(
    {
        "HTTPClientError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }
)

Aggregation = Literal["auto", "statistics", "none"]

_T = TypeVar("_T")
_Grouped = tuple[dict[str, Any], list[MetricPoint]]
# The longest flush time limit and cool-down a setting may ask for.
_MAX_FLUSH_TIMEOUT: Final = timedelta(minutes=10)
_MAX_COOLDOWN: Final = timedelta(days=1)


def is_retryable_error(exc: BaseException) -> bool:
    """Whether retrying the call that raised ``exc`` may succeed.

    Retryable: throttling codes (``Throttling``, ``ThrottlingException``...),
    HTTP 5xx answers, and transport failures (connection refused, timeouts).
    Anything else (a rejected parameter, missing credentials, access denied)
    fails again the same way.

    Args:
        exc: the exception a client call raised.

    Returns:
        True when a retry makes sense.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        code = error.get("Code", "") if isinstance(error, Mapping) else ""
        if code in _THROTTLING_CODES:
            return True
        metadata = response.get("ResponseMetadata") or {}
        status = metadata.get("HTTPStatusCode") if isinstance(metadata, Mapping) else None
        return isinstance(status, int) and status >= 500
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & _TRANSPORT_ERRORS) or isinstance(exc, ConnectionError | TimeoutError)


def _query_size(prefix: str, value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_query_size(f"{prefix}.{k}", v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_query_size(f"{prefix}.member.{i}", v) for i, v in enumerate(value, 1))
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    else:
        text = repr(value) if isinstance(value, float) else str(value)
    return len(quote(prefix, safe="")) + len(quote(text, safe="")) + 2


def estimate_datum_bytes(datum: Mapping[str, Any]) -> int:
    """An upper bound of the bytes one ``MetricDatum`` takes in a request body.

    Computed for the form-encoded query protocol with a four-digit member
    index, the most verbose encoding botocore may use; the JSON and CBOR
    protocols are smaller.

    Args:
        datum: a ``MetricData`` item as passed to ``put_metric_data``.

    Returns:
        The estimated size in bytes.
    """
    return _query_size("MetricData.member.1000", dict(datum))


def _bucket_start(point: MetricPoint) -> datetime:
    seconds = int((point.timestamp - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % point.storage_resolution)


class CloudWatchMetrics(BufferedSink):
    """Sends points to CloudWatch with ``PutMetricData``.

    Points are buffered and sent when ``flush_at`` are waiting, when
    ``flush_interval`` has passed on the clock (checked on emit: no thread is
    started), on ``flush`` and on ``close``. At send time, points of
    one series (name, unit, dimensions, resolution) in one minute (one second
    for high resolution) become one datum: a single ``Value``; ``Values`` and
    ``Counts`` while there are at most 150 distinct values (percentiles stay
    available); ``StatisticValues`` beyond (or always, with
    ``aggregation="statistics"``). Data are then split into requests within
    the limits.

    Failures never reach the caller, and an outage costs the caller little
    time:

    - A throttled, 5xx or unreachable request is retried with exponential
      backoff, within a budget of ``max_retries`` retries per flush and within
      ``flush_timeout`` (measured on the clock) for the whole flush: no retry
      starts if its backoff would end past the limit, and no further request
      starts once it has passed. One flush therefore takes at most
      ``flush_timeout`` plus one client call (the client's own timeouts).
    - A request that still fails is dropped and its points counted in
      ``stats.dropped_after_retries``; one that fails in a way retrying cannot
      fix is dropped into ``stats.dropped_rejected``.
    - Circuit breaker: a request that still fails after its retries (or at the
      time limit) opens the circuit. The requests of that flush not yet sent
      go back to the buffer, and for a cool-down of ``cooldown`` (doubled
      after each consecutive failed flush, up to ``max_cooldown``; measured on
      the clock) no flush calls CloudWatch: ``emit``, ``flush`` and ``close``
      return at once and points accumulate in the buffer. After the
      cool-down the next flush sends one probe request, without retries; if
      it is delivered, the circuit closes and sending resumes, otherwise the
      circuit reopens for the next, longer cool-down. :attr:`paused_until`
      tells when the circuit is open.
    - The buffer holds at most ``max_buffer`` points; beyond, the oldest are
      dropped and counted in ``stats.dropped_buffer_full``. Points still
      buffered when ``close`` ends (circuit open, or the final flush out of
      time) are counted in ``stats.dropped_unavailable``.

    Failures are logged (throttled) through the ``campaign_core.metrics``
    logger.

    Args:
        namespace: the CloudWatch namespace.
        client: a boto3 CloudWatch client (or anything with
            ``put_metric_data``); built with boto3 when omitted.
        region: the region of the client built when ``client`` is omitted.
        clock: drives the interval flush and the staleness check.
        flush_interval: time between interval flushes; ``None`` to flush only
            by size and explicitly.
        flush_at: buffered points that trigger a flush.
        max_buffer: most points kept; the oldest are dropped beyond.
        max_retries: retry budget per flush.
        flush_timeout: the time one flush may spend retrying and sending (a
            duration such as ``"2 seconds"``); a call already started is not
            interrupted.
        cooldown: how long the circuit stays open after the first failed flush.
        max_cooldown: the longest cool-down, reached by doubling.
        backoff_base: first backoff wait in seconds; doubled at each retry.
        backoff_max: the longest backoff wait in seconds.
        jitter: scale each wait by a random factor in [0.5, 1) so that many
            processes throttled together do not retry in lockstep.
        sleep: how to wait between retries. ``time.sleep`` by default: the one
            place the library sleeps, only inside a flush, bounded by the
            budget and time limit above. Tests pass a fake that records the
            waits (or advances a fake clock).
        aggregation: ``"auto"``, ``"statistics"`` or ``"none"`` (one datum per point).
        max_metrics_per_request: data per request (1000 today; 20 for old limits).
        max_request_bytes: estimated body size per request.
        logger: where failures are logged.

    Raises:
        ValidationError: a bad namespace or setting.
        MissingDependencyError: ``client`` omitted and boto3 is not installed
            (extra ``cloudwatch``).
    """

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        client: Any = None,
        region: str | None = None,
        clock: Clock | None = None,
        flush_interval: str | timedelta | None = "60 seconds",
        flush_at: int = 1000,
        max_buffer: int = 20_000,
        max_retries: int = 3,
        flush_timeout: str | timedelta = "2 seconds",
        cooldown: str | timedelta = "1 minute",
        max_cooldown: str | timedelta = "15 minutes",
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        jitter: bool = True,
        sleep: Callable[[float], object] | None = None,
        aggregation: Aggregation = "auto",
        max_metrics_per_request: int = MAX_METRICS_PER_REQUEST,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        logger: logging.Logger | None = None,
    ) -> None:
        problems = ProblemCollector()
        try:
            validate_namespace(namespace)
        except ValidationError as exc:
            problems.extend(exc)
        if client is not None and not callable(getattr(client, "put_metric_data", None)):
            problems.add("client", "expected a CloudWatch client (put_metric_data)", "invalid_type")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            problems.add("max_retries", "expected an integer", "invalid_type")
        elif not 0 <= max_retries <= 20:
            problems.add("max_retries", "must be between 0 and 20", "out_of_range")
        spans: dict[str, timedelta] = {}
        for path, span, longest, longest_text in (
            ("flush_timeout", flush_timeout, _MAX_FLUSH_TIMEOUT, "10 minutes"),
            ("cooldown", cooldown, _MAX_COOLDOWN, "1 day"),
            ("max_cooldown", max_cooldown, _MAX_COOLDOWN, "1 day"),
        ):
            try:
                spans[path] = parse_duration(span, path=path)
            except ValidationError as exc:
                problems.extend(exc)
                continue
            if not timedelta(0) < spans[path] <= longest:
                problems.add(path, f"must be positive and at most {longest_text}", "out_of_range")
        if {"cooldown", "max_cooldown"} <= spans.keys() and (
            spans["max_cooldown"] < spans["cooldown"]
        ):
            problems.add("max_cooldown", "must not be shorter than cooldown", "out_of_range")
        for path, seconds in (("backoff_base", backoff_base), ("backoff_max", backoff_max)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                problems.add(path, "expected a number of seconds", "invalid_type")
            elif not 0 <= seconds <= 60:
                problems.add(path, "must be between 0 and 60 seconds", "out_of_range")
        if aggregation not in ("auto", "statistics", "none"):
            problems.add("aggregation", "must be 'auto', 'statistics' or 'none'", "invalid_value")
        check_positive_int(
            problems,
            "max_metrics_per_request",
            max_metrics_per_request,
            maximum=MAX_METRICS_PER_REQUEST,
        )
        check_positive_int(
            problems, "max_request_bytes", max_request_bytes, maximum=MAX_REQUEST_BYTES
        )
        given_sleep: object = sleep
        if given_sleep is not None and not callable(given_sleep):
            problems.add("sleep", "expected a callable taking seconds", "invalid_type")
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
        self._owns_client = client is None
        self._client = client if client is not None else _build_client(region)
        self._max_retries = max_retries
        self._flush_timeout = spans["flush_timeout"]
        self._cooldown = spans["cooldown"]
        self._max_cooldown = spans["max_cooldown"]
        # Circuit breaker state, changed only by the thread holding the flush lock.
        self._failed_flushes = 0
        self._open_until: datetime | None = None
        self._backoff_base = float(backoff_base)
        self._backoff_max = float(backoff_max)
        self._jitter = jitter
        self._sleep: Callable[[float], object] = sleep if sleep is not None else time.sleep
        self._aggregation = aggregation
        self._max_metrics = max_metrics_per_request
        self._max_bytes = max_request_bytes

    @property
    def client(self) -> Any:
        """The boto3 client in use."""
        return self._client

    @property
    def paused_until(self) -> datetime | None:
        """While the circuit is open, when the next attempt may happen; otherwise ``None``."""
        until = self._open_until
        if until is None or self._clock.now() >= until:
            return None
        return until

    # Building requests ------------------------------------------------------

    def datums(self, points: Sequence[MetricPoint]) -> list[tuple[dict[str, Any], int]]:
        """Turn points into ``MetricData`` items, aggregated as configured.

        Args:
            points: the points to send.

        Returns:
            ``(datum, number of points it carries)`` pairs, in a stable order.
        """
        return [(datum, len(members)) for datum, members in self._grouped(points)]

    def _grouped(self, points: Sequence[MetricPoint]) -> list[_Grouped]:
        # (datum, the points it carries), so that unsent data can go back to the buffer.
        if self._aggregation == "none":
            return [(self._datum(p, p.timestamp, value=p.value), [p]) for p in points]
        groups: dict[tuple[Any, ...], list[MetricPoint]] = defaultdict(list)
        for point in points:
            groups[(*point.series_key, _bucket_start(point))].append(point)
        result: list[_Grouped] = []
        for (*_, bucket), members in groups.items():
            first = members[0]
            if len(members) == 1:
                datum = self._datum(first, first.timestamp, value=first.value)
            else:
                counts = Counter(p.value for p in members)
                if self._aggregation == "auto" and len(counts) <= MAX_VALUES_PER_DATUM:
                    ordered = sorted(counts)
                    datum = self._datum(
                        first,
                        bucket,
                        values=ordered,
                        counts=[float(counts[v]) for v in ordered],
                    )
                else:
                    numbers = [p.value for p in members]
                    datum = self._datum(
                        first,
                        bucket,
                        statistics={
                            "SampleCount": float(len(numbers)),
                            "Sum": math.fsum(numbers),
                            "Minimum": min(numbers),
                            "Maximum": max(numbers),
                        },
                    )
            result.append((datum, members))
        return result

    @staticmethod
    def _datum(
        point: MetricPoint,
        timestamp: datetime,
        *,
        value: float | None = None,
        values: list[float] | None = None,
        counts: list[float] | None = None,
        statistics: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        datum: dict[str, Any] = {
            "MetricName": point.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in point.dimensions.items()],
            "Timestamp": timestamp,
            "Unit": point.unit,
        }
        if value is not None:
            datum["Value"] = value
        if values is not None:
            datum["Values"] = values
            datum["Counts"] = counts
        if statistics is not None:
            datum["StatisticValues"] = statistics
        if point.storage_resolution == 1:
            datum["StorageResolution"] = 1
        return datum

    def requests(
        self, datums: Sequence[tuple[dict[str, Any], _T]]
    ) -> list[list[tuple[dict[str, Any], _T]]]:
        """Split data into requests within the count and size limits.

        Args:
            datums: ``(datum, points carried)`` pairs (the second item is
                passed through untouched).

        Returns:
            Lists of pairs, each fitting one ``PutMetricData`` call.
        """
        batches: list[list[tuple[dict[str, Any], _T]]] = []
        current: list[tuple[dict[str, Any], _T]] = []
        size = _REQUEST_OVERHEAD
        for item in datums:
            item_size = estimate_datum_bytes(item[0])
            if current and (
                len(current) >= self._max_metrics or size + item_size > self._max_bytes
            ):
                batches.append(current)
                current, size = [], _REQUEST_OVERHEAD
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        return batches

    # Delivery -----------------------------------------------------------------

    def _delivery_paused(self) -> bool:
        return self.paused_until is not None

    def _deliver(self, points: Sequence[MetricPoint]) -> None:
        now = self._clock.now()
        deadline = now + self._flush_timeout
        fresh = [p for p in points if now - _MAX_AGE < p.timestamp <= now + _MAX_AHEAD]
        if len(fresh) < len(points):
            self._counters.add("dropped_stale", len(points) - len(fresh))
        # After a failed flush, the first request is a probe: no retries.
        budget = 0 if self._failed_flushes else self._max_retries
        batches = self.requests(self._grouped(fresh))
        for index, batch in enumerate(batches):
            if index and self._clock.now() >= deadline:
                self._requeue_batches(batches[index:])  # out of time; the next flush goes on
                return
            budget, unavailable = self._send(batch, budget, deadline)
            if unavailable:
                self._requeue_batches(batches[index + 1 :])
                return

    def _requeue_batches(self, batches: Sequence[Sequence[_Grouped]]) -> None:
        self._requeue([point for batch in batches for _, members in batch for point in members])

    def _send(self, batch: Sequence[_Grouped], budget: int, deadline: datetime) -> tuple[int, bool]:
        """Send one request, retrying; return the budget left and whether CloudWatch is down."""
        carried = sum(len(members) for _, members in batch)
        metric_data = [datum for datum, _ in batch]
        attempt = 0
        while True:
            self._counters.add("requests")
            try:
                self._client.put_metric_data(Namespace=self.namespace, MetricData=metric_data)
            except Exception as exc:
                self._counters.add("failures")
                retryable = is_retryable_error(exc)
                if retryable and budget > 0:
                    wait = self._backoff(attempt)
                    if self._clock.now() + timedelta(seconds=wait) < deadline:
                        budget -= 1
                        self._counters.add("retries")
                        self._sleep(wait)
                        attempt += 1
                        continue
                if not retryable:
                    self._counters.add("dropped_rejected", carried)
                    self._report_failure(f"PutMetricData failed, {carried} points dropped", exc)
                    return budget, False
                self._counters.add("dropped_after_retries", carried)
                pause = self._open_circuit()
                self._report_failure(
                    f"PutMetricData failed after retries, {carried} points dropped; "
                    f"no call to CloudWatch for {pause.total_seconds():g} s",
                    exc,
                )
                return budget, True
            self._counters.add("delivered", carried)
            if self._failed_flushes:
                self._logger.info(
                    "metrics: CloudWatch delivers again after %d failed flushes",
                    self._failed_flushes,
                )
                self._failed_flushes = 0
                self._open_until = None
            return budget, False

    def _open_circuit(self) -> timedelta:
        self._failed_flushes += 1
        doublings = min(self._failed_flushes - 1, 32)  # 2**32 minutes exceeds any max_cooldown
        seconds = self._cooldown.total_seconds() * 2.0**doublings
        pause = min(self._max_cooldown, timedelta(seconds=seconds))
        self._open_until = self._clock.now() + pause
        return pause

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_max, self._backoff_base * (2.0**attempt))
        if self._jitter:
            delay *= 0.5 + random.random() / 2
        return delay

    def _release(self) -> None:
        if self._owns_client:
            close = getattr(self._client, "close", None)
            if callable(close):
                close()

    def __repr__(self) -> str:
        return f"CloudWatchMetrics(namespace={self.namespace!r})"


def _build_client(region: str | None) -> Any:
    """A boto3 CloudWatch client whose own retries are off (the adapter retries).

    Raises:
        MissingDependencyError: boto3 is not installed.
    """
    try:
        boto3 = importlib.import_module("boto3")
        config_module = importlib.import_module("botocore.config")
    except ImportError:
        raise MissingDependencyError("cloudwatch", "boto3") from None
    # One attempt per call and short timeouts: emit may flush, so a call must be quick.
    config = config_module.Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=2,
        read_timeout=5,
    )
    return boto3.client("cloudwatch", region_name=region, config=config)
