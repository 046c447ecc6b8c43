"""MetricsEmitter: the one place the services emit metrics through.

Services never build :class:`MetricPoint` objects themselves: they call a
method named after what happened (``campaign_created``, ``conversion``,
``automation_executed``...) and the emitter applies the catalog (name, unit,
rollups, dimension values, the clock's timestamp) and hands the points to the
sink. A metrics failure never breaks a service call: the emitter swallows and
counts every exception, and logs it through the ``campaign_core.metrics``
logger (throttled: the 1st, 2nd, 4th, 8th... occurrence).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

from campaign_core.clock import Clock, SystemClock
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.metrics._accuracy import (
    DEFAULT_MIN_VALIDATION_IMPRESSIONS,
    DecisionVerdict,
    WinnerDecisionRecord,
    validate_winner_decision,
)
from campaign_core.metrics._base import (
    MAX_DIMENSIONS,
    MetricPoint,
    MetricsSink,
    NullMetrics,
    _check_dimension_part,
    _dimension_path,
)
from campaign_core.metrics._catalog import DIMENSIONS, METRICS, OWNER_DIMENSION, DimensionSpec

__all__ = ["EmitterStats", "MetricsEmitter"]

_LOGGER: Final = logging.getLogger("campaign_core.metrics")


@attrs.frozen
class EmitterStats:
    """What the emitter did.

    Attributes:
        points: points handed to the sink without error.
        sink_errors: exceptions the sink raised (swallowed).
        invalid: calls whose arguments could not make a valid point (swallowed
            unless the emitter is strict).
    """

    points: int = 0
    sink_errors: int = 0
    invalid: int = 0


def _number(value: object) -> object:
    # Money is often a Decimal; CloudWatch takes doubles.
    if isinstance(value, Decimal):
        return float(value)
    return value


class MetricsEmitter:
    """Emits the catalog's metrics to a sink.

    Args:
        sink: where points go; :class:`NullMetrics` by default (then nothing
            is even built).
        clock: gives every point its timestamp; :class:`SystemClock` by default.
        dimensions: static dimensions added to every point (for example
            ``{"Environment": "prod"}``). They multiply nothing (one value
            each) but alarms and the dashboard must be provisioned with the
            same ones. Names must not clash with the catalog's.
        owner_dimension: also publish each metric under an ``OwnerId`` rollup
            when the caller passes ``owner_id``. Off by default: every owner
            becomes its own set of CloudWatch series (billed per series per
            month), so switch it on only for a small number of owners.
        strict: raise :class:`ValidationError` for invalid arguments instead
            of counting them (for tests). Sink errors are always swallowed.
        platforms: platform name to its value in the ``Platform`` dimension,
            for a core whose host declared platforms (``CampaignCore`` passes
            ``settings.platforms.metric_dimensions``); the built-in platforms,
            each under its own name, by default.
        logger: where failures are logged; ``campaign_core.metrics`` by default.

    Raises:
        ValidationError: bad static dimensions, or a sink that does not have
            ``emit``/``flush``/``close``.

    Thread-safe: every method may be called from several threads.
    """

    def __init__(
        self,
        sink: MetricsSink | None = None,
        *,
        clock: Clock | None = None,
        dimensions: Mapping[str, str] | None = None,
        owner_dimension: bool = False,
        strict: bool = False,
        logger: logging.Logger | None = None,
        platforms: Mapping[str, str] | None = None,
    ) -> None:
        problems = ProblemCollector()
        given_sink: object = sink
        if given_sink is not None and not isinstance(given_sink, MetricsSink):
            problems.add("sink", "expected a MetricsSink (emit, flush, close)", "invalid_type")
        given_dims: object = dimensions
        static: dict[str, str] = {}
        if isinstance(given_dims, Mapping):
            static = dict(given_dims)
        elif given_dims is not None:
            problems.add("dimensions", "expected a mapping of name to value", "invalid_type")
        widest = max(len(r) for spec in METRICS.values() for r in spec.rollups)
        if len(static) + max(widest, 1) > MAX_DIMENSIONS:
            problems.add(
                "dimensions",
                f"at most {MAX_DIMENSIONS - max(widest, 1)} static dimensions fit beside the "
                "catalog's",
                "out_of_range",
            )
        for name, value in static.items():
            path = _dimension_path(name)
            _check_dimension_part(problems, path, name, "name", 255)
            _check_dimension_part(problems, path, value, "value", 1024)
            if name in DIMENSIONS:
                problems.add(
                    path, f"{name!r} is a catalog dimension; pick another name", "invalid_value"
                )
        dimensions_: dict[str, DimensionSpec] = dict(DIMENSIONS)
        renames: dict[str, str] = {}
        if platforms is not None:
            if not isinstance(platforms, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in platforms.items()
            ):
                problems.add("platforms", "expected a mapping of name to value", "invalid_type")
            else:
                renames = {k.lower(): v.lower() for k, v in platforms.items()}
                dimensions_["Platform"] = attrs.evolve(
                    DIMENSIONS["Platform"], values=tuple(dict.fromkeys(renames.values()))
                )
        problems.raise_if_any()
        self._dimensions = dimensions_
        self._platform_renames = renames
        self._sink: MetricsSink = sink if sink is not None else NullMetrics()
        self._enabled = not isinstance(self._sink, NullMetrics)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._static: dict[str, str] = static
        self._owner_dimension = bool(owner_dimension)
        self._strict = bool(strict)
        self._logger = logger if logger is not None else _LOGGER
        self._lock = threading.Lock()
        self._counts = {"points": 0, "sink_errors": 0, "invalid": 0}

    # -- plumbing -------------------------------------------------------------

    @property
    def sink(self) -> MetricsSink:
        """The sink points go to."""
        return self._sink

    @property
    def dimensions(self) -> Mapping[str, str]:
        """The static dimensions added to every point."""
        return dict(self._static)

    @property
    def stats(self) -> EmitterStats:
        """A snapshot of the emitter's counters."""
        with self._lock:
            return EmitterStats(**self._counts)

    def _count(self, key: str, amount: int = 1) -> int:
        with self._lock:
            self._counts[key] += amount
            return self._counts[key]

    def _log(self, key: str, message: str, *args: object, exc: BaseException) -> None:
        total = self._count(key)
        # Throttled: a broken sink must not flood the host's logs.
        if total & (total - 1) == 0:
            # one line by default; the traceback only when debugging
            trace = self._logger.isEnabledFor(logging.DEBUG)
            self._logger.warning(
                message + " (%d so far)",
                *args,
                total,
                exc_info=(type(exc), exc, exc.__traceback__) if trace else None,
            )

    def _build(
        self,
        name: str,
        value: object,
        values: Mapping[str, object],
        owner_id: object,
    ) -> list[MetricPoint]:
        spec = METRICS[name]
        now = self._clock.now()
        normalized = {key: self._dimensions[key].normalize(raw) for key, raw in values.items()}
        if self._platform_renames and "Platform" in values:
            raw = str(getattr(values["Platform"], "value", values["Platform"])).strip().lower()
            normalized["Platform"] = self._dimensions["Platform"].normalize(
                self._platform_renames.get(raw, raw)
            )
        points = []
        for rollup in spec.rollups:
            dims = dict(self._static)
            for key in rollup:
                if key not in normalized:
                    raise ValidationError.single(
                        join_path("dimensions", key), f"{name} needs a {key}", "required"
                    )
                dims[key] = normalized[key]
            points.append(MetricPoint(name, value, spec.unit, now, dims))  # type: ignore[arg-type]
        if self._owner_dimension and spec.owner_rollup and owner_id is not None:
            dims = dict(self._static)
            dims[OWNER_DIMENSION] = owner_id  # type: ignore[assignment]
            try:
                points.append(MetricPoint(name, value, spec.unit, now, dims))  # type: ignore[arg-type]
            except ValidationError as exc:
                # A bad owner id loses the owner series only, never the totals.
                error = exc.prefixed("owner_id")
                if self._strict:
                    raise error from None
                self._log(
                    "invalid",
                    "metrics: invalid owner id for %s, owner series skipped",
                    name,
                    exc=error,
                )
        return points

    def _emit(self, *records: tuple[str, object, Mapping[str, object]], owner_id: object) -> None:
        """Build every point of one call first, then emit: a bad argument emits nothing."""
        if not self._enabled:
            return
        try:
            points = [
                point
                for name, value, values in records
                for point in self._build(name, _number(value), values, owner_id)
            ]
        except Exception as exc:
            if self._strict:
                raise
            self._log(
                "invalid", "metrics: invalid data for %s, not emitted", records[0][0], exc=exc
            )
            return
        for point in points:
            try:
                self._sink.emit(point)
            except Exception as exc:
                self._log("sink_errors", "metrics: sink failed to emit %s", point.name, exc=exc)
            else:
                self._count("points")

    def flush(self) -> None:
        """Ask the sink to deliver what it buffers; never raises."""
        try:
            self._sink.flush()
        except Exception as exc:
            self._log("sink_errors", "metrics: sink failed to flush", exc=exc)

    def close(self) -> None:
        """Close the sink (which flushes); never raises."""
        try:
            self._sink.close()
        except Exception as exc:
            self._log("sink_errors", "metrics: sink failed to close", exc=exc)

    def record(
        self,
        name: str,
        value: float,
        *,
        dimensions: Mapping[str, str] | None = None,
        owner_id: str | None = None,
    ) -> None:
        """Emit any catalog metric by name (for hosts extending the library).

        Args:
            name: a catalog metric name (see ``METRICS``).
            value: the value, in the metric's unit.
            dimensions: the values of the dimensions its rollups use.
            owner_id: the owner, used only when the owner rollup is on.
        """
        if name not in METRICS:
            exc = ValidationError.single(
                "name", f"{name!r} is not a catalog metric", "invalid_value"
            )
            if self._strict:
                raise exc
            self._log("invalid", "metrics: unknown metric %r, not emitted", name, exc=exc)
            return
        self._emit((name, value, dict(dimensions or {})), owner_id=owner_id)

    # -- campaigns ------------------------------------------------------------

    def campaign_created(self, *, campaign_type: str, owner_id: str | None = None) -> None:
        """A campaign was created (directly, from a template, or duplicated)."""
        self._emit(("CampaignsCreated", 1, {"CampaignType": campaign_type}), owner_id=owner_id)

    def campaign_launched(self, *, campaign_type: str, owner_id: str | None = None) -> None:
        """A campaign went active: counts a launch and a launch attempt.

        It also publishes a CampaignLaunchFailures of 0, so the failure series
        exists whenever attempts do (the failure-rate alarm divides them).
        """
        dims = {"CampaignType": campaign_type}
        self._emit(
            ("CampaignsLaunched", 1, dims),
            ("CampaignLaunchAttempts", 1, dims),
            ("CampaignLaunchFailures", 0, dims),
            owner_id=owner_id,
        )

    def campaign_launch_failed(self, *, campaign_type: str, owner_id: str | None = None) -> None:
        """A launch was refused before the campaign went active: an attempt and a failure."""
        dims = {"CampaignType": campaign_type}
        self._emit(
            ("CampaignLaunchAttempts", 1, dims),
            ("CampaignLaunchFailures", 1, dims),
            owner_id=owner_id,
        )

    def campaign_publishing_failed(
        self, *, campaign_type: str, owner_id: str | None = None
    ) -> None:
        """An active campaign's publication failed for good (retries exhausted).

        Call it at most once per launch: the attempt was already counted by
        :meth:`campaign_launched`, so this only adds the failure.
        """
        self._emit(
            ("CampaignLaunchFailures", 1, {"CampaignType": campaign_type}), owner_id=owner_id
        )

    def publish_attempted(
        self, *, platform: str, success: bool, owner_id: str | None = None
    ) -> None:
        """One publish attempt finished (``success`` False for any failure, retryable or not).

        An attempt is a Publisher call, or an attempt that failed before the call
        (a stored credential that cannot be opened, an unexpected error).
        """
        dims = {"Platform": platform}
        records: list[tuple[str, object, Mapping[str, object]]] = [("PublishAttempts", 1, dims)]
        if not success:
            records.append(("PublishFailures", 1, dims))
        self._emit(*records, owner_id=owner_id)

    def budget_utilization(
        self,
        *,
        spent: float | Decimal,
        budget: float | Decimal | None,
        campaign_type: str,
        owner_id: str | None = None,
    ) -> None:
        """A campaign's spend changed: publishes spent / budget x 100.

        Nothing is emitted for a campaign without a budget (``None``); a budget
        that is not positive is invalid.
        """
        if budget is None:
            return
        try:
            if float(budget) <= 0:
                raise ValidationError.single("budget", "budget must be positive", "out_of_range")
            ratio: object = 100.0 * float(spent) / float(budget)
        except Exception as exc:
            if self._strict:
                raise
            self._log("invalid", "metrics: invalid budget utilization, not emitted", exc=exc)
            return
        self._emit(("BudgetUtilization", ratio, {"CampaignType": campaign_type}), owner_id=owner_id)

    def campaign_roi(
        self, *, roi: float | Decimal, campaign_type: str, owner_id: str | None = None
    ) -> None:
        """One campaign's ROI as a ratio ((revenue - spent) / spent), from the roll-up."""
        self._emit(("CampaignROI", roi, {"CampaignType": campaign_type}), owner_id=owner_id)

    def campaign_status_counts(self, counts: Mapping[str, int]) -> None:
        """Gauge: how many campaigns are in each status (from the hourly roll-up).

        Every known status is published (missing ones as 0) so the latest
        value of each series is current; unknown statuses add up as ``other``.
        """
        status = DIMENSIONS["Status"]
        totals = dict.fromkeys(status.values, 0)
        try:
            for key, value in counts.items():
                bucket = status.normalize(key)
                totals[bucket] = totals.get(bucket, 0) + value
        except Exception as exc:
            if self._strict:
                raise
            self._log("invalid", "metrics: invalid status counts, not emitted", exc=exc)
            return
        self._emit(
            *(("CampaignsByStatus", n, {"Status": s}) for s, n in totals.items()), owner_id=None
        )

    # -- analytics ------------------------------------------------------------

    def impressions(
        self,
        *,
        campaign_type: str,
        platform: str,
        count: int = 1,
        owner_id: str | None = None,
    ) -> None:
        """``count`` impressions were tracked (a batch emits one point per rollup)."""
        if count == 0:
            return
        self._emit(
            ("CampaignImpressions", count, {"CampaignType": campaign_type, "Platform": platform}),
            owner_id=owner_id,
        )

    def clicks(
        self,
        *,
        campaign_type: str,
        platform: str,
        count: int = 1,
        owner_id: str | None = None,
    ) -> None:
        """``count`` clicks were tracked."""
        if count == 0:
            return
        self._emit(
            ("CampaignClicks", count, {"CampaignType": campaign_type, "Platform": platform}),
            owner_id=owner_id,
        )

    def conversion(
        self,
        *,
        value: float | Decimal,
        campaign_type: str,
        platform: str,
        owner_id: str | None = None,
    ) -> None:
        """One conversion worth ``value`` was tracked: a conversion and its revenue."""
        dims = {"CampaignType": campaign_type, "Platform": platform}
        self._emit(
            ("CampaignConversions", 1, dims), ("CampaignRevenue", value, dims), owner_id=owner_id
        )

    # -- automations ----------------------------------------------------------

    def automation_executed(
        self,
        *,
        status: str,
        duration_ms: float,
        trigger_type: str,
        owner_id: str | None = None,
    ) -> None:
        """An automation run ended.

        Args:
            status: ``success``, ``failure`` or ``partial`` (the seed's
                AutomationExecution status).
            duration_ms: processing time of the run, waits excluded.
            trigger_type: ``event``, ``behavior``, ``time`` or ``segment_entered``.
            owner_id: the workflow's owner (owner rollup only).
        """
        run_status = DIMENSIONS["RunStatus"].normalize(status)
        trigger = {"TriggerType": trigger_type}
        records: list[tuple[str, object, Mapping[str, object]]] = [
            ("AutomationsExecuted", 1, {**trigger, "RunStatus": run_status}),
            ("AutomationSuccessRate", 100.0 if run_status == "success" else 0.0, trigger),
            ("AutomationExecutionTime", duration_ms, trigger),
        ]
        if run_status == "failure":
            records.append(("AutomationFailures", 1, trigger))
        self._emit(*records, owner_id=owner_id)

    def automation_action_failed(self, *, action_type: str, owner_id: str | None = None) -> None:
        """One action attempt failed (each retry counts)."""
        self._emit(("AutomationActionFailures", 1, {"ActionType": action_type}), owner_id=owner_id)

    # -- A/B tests ------------------------------------------------------------

    def ab_test_created(self, *, owner_id: str | None = None) -> None:
        """An A/B test was created."""
        self._emit(("ABTestsCreated", 1, {}), owner_id=owner_id)

    def ab_test_decision(self, *, outcome: str, owner_id: str | None = None) -> None:
        """``determine_winner`` decided: ``winner`` or the reason there is none.

        ``outcome`` is one of ``winner``, ``below_minimum_sample``,
        ``underpowered``, ``not_significant``, ``sample_ratio_mismatch``,
        ``inconsistent_counts``, ``before_horizon``, ``risk_above_threshold``,
        ``guardrail_failed``.
        """
        self._emit(("ABTestDecisions", 1, {"Outcome": outcome}), owner_id=owner_id)

    def ab_test_completed(self, *, has_winner: bool, owner_id: str | None = None) -> None:
        """An A/B test completed, with a winner applied or without one."""
        outcome = "winner" if has_winner else "no_winner"
        self._emit(("ABTestsCompleted", 1, {"Outcome": outcome}), owner_id=owner_id)

    def winner_validated(self, *, confirmed: bool, owner_id: str | None = None) -> None:
        """A winner decision's validation window closed: confirmed (100) or refuted (0)."""
        self._emit(
            ("WinnerDeterminationAccuracy", 100.0 if confirmed else 0.0, {}), owner_id=owner_id
        )

    def winner_decision_validated(
        self,
        record: WinnerDecisionRecord,
        *,
        min_impressions: int = DEFAULT_MIN_VALIDATION_IMPRESSIONS,
        owner_id: str | None = None,
    ) -> DecisionVerdict | None:
        """Judge a decision on its post-decision data and emit the verdict.

        Args:
            record: the decision and its validation-window counts.
            min_impressions: validation impressions each arm needs.
            owner_id: the test's owner (owner rollup only).

        Returns:
            The verdict (nothing is emitted for ``UNVALIDATED``), or ``None``
            when the arguments were invalid and the emitter is not strict.
        """
        try:
            verdict = validate_winner_decision(record, min_impressions=min_impressions)
        except Exception as exc:
            if self._strict:
                raise
            self._log("invalid", "metrics: invalid winner decision record", exc=exc)
            return None
        if verdict is not DecisionVerdict.UNVALIDATED:
            self.winner_validated(confirmed=verdict is DecisionVerdict.CONFIRMED, owner_id=owner_id)
        return verdict

    def __repr__(self) -> str:
        return f"MetricsEmitter(sink={self._sink!r}, dimensions={self._static!r})"
