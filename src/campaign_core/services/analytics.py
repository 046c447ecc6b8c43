"""AnalyticsService: tracking, metrics, funnels, ROI, comparisons, trends, insights and reports.

Tracking writes raw events to ``tracking_events`` (one row per impression,
click, conversion or spend), the seed's ``CampaignConversion`` rows for
conversions (attributed to the fan's last click), the A/B variants' counters
for events of a running test, and spend through the campaign's budget rule
(:func:`campaign_core.services.campaigns.record_spend`, the one owner of the
rule). Each call validates everything first and writes in one transaction:
bad input raises :class:`~campaign_core.errors.ValidationError` with a path per
problem and stores nothing.

Retrieval reads the events back as aggregates: with ``GROUP BY`` in the
database when the store offers the ``tracking_aggregates`` capability (the
SQL store), else from the events in Python; both give the same numbers. The
computations themselves are the pure functions of :mod:`campaign_core.analytics`.
A campaign's counters are cached for a minute (the seed's TTL) and dropped by
this core's own tracking writes.

Every method is scoped to the actor's account: another account's campaign
behaves like a missing one (:class:`~campaign_core.errors.NotFoundError`).
No analytics output names a fan: fans leave only as counts.

The engine side (:func:`run_hourly_rollup`, called by ``CampaignCore.tick()``)
writes the seed's hourly ``CampaignMetric`` snapshots, emits the ROI and
status gauges, and raises the budget overspend alarm.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import attrs
import numpy as np

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import MISSING, v_enum, v_id
from campaign_core.abtesting import WinnerDecision
from campaign_core.alerts import Alert, AlertKind
from campaign_core.analytics import (
    DEFAULT_ATTRIBUTION_WINDOW,
    OVERSPEND_ALARM_RATIO,
    ABTestSummary,
    BudgetPacing,
    CampaignMetrics,
    CampaignSummary,
    EventBatch,
    Funnel,
    GroupComparison,
    PatternAnalysis,
    RankedCampaign,
    Recommendation,
    RecommendationInputs,
    RoiMetrics,
    SegmentStats,
    Trend,
    attribute_last_clicks,
    budget_pacing,
    build_report,
    campaign_roi,
    conversion_funnel,
    get_recommendations,
    hours_to_roll_up,
    metrics_from_counts,
    performance_trend,
    performance_trend_from_snapshots,
    render_report,
    resolve_timeframe,
    snapshot_rows,
    top_campaigns,
)
from campaign_core.analytics import compare_campaigns as _compare_campaigns
from campaign_core.analytics import compare_platforms as _compare_platforms
from campaign_core.analytics import identify_patterns as _identify_patterns
from campaign_core.analytics._events import CLICK, CONVERSION, IMPRESSION, SPEND, epoch_ms
from campaign_core.audit import audited
from campaign_core.catalog import builtin_template
from campaign_core.clock import truncate_ms
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
)
from campaign_core.models import (
    ABTest,
    ABTestStatus,
    ABTestVariant,
    Campaign,
    CampaignAnalyticsState,
    CampaignConversion,
    CampaignMetric,
    CampaignStatus,
    Platform,
    TrackingEventRecord,
)
from campaign_core.models._common import StrEnum
from campaign_core.permissions import Actor, Permission, require
from campaign_core.ports import (
    TRACKING_AGGREGATES,
    Repository,
    TrackingAggregates,
    TrackingCounts,
    UnitOfWork,
)
from campaign_core.query import And, Cond, Eq, Gte, In, IsNull, Lt, Lte, Order
from campaign_core.serialization import to_json

__all__ = [
    "ENGINE_ROW_ID",
    "FUTURE_SLACK",
    "LAUNCH_CLOCK_SKEW",
    "MAX_TRACKING_BATCH",
    "AnalyticsService",
    "ConversionType",
    "RollupReport",
    "TrackingBatchReport",
    "TrackingReceipt",
    "register_analytics_hooks",
    "run_hourly_rollup",
]

#: The most events one ``track_events`` call takes (split bigger batches).
MAX_TRACKING_BATCH: Final = 100_000
#: How far in the future (by the core's clock) an event may be dated: host clocks drift.
FUTURE_SLACK: Final = timedelta(hours=1)
#: How long before a campaign's ``startedAt`` an event may be dated (the host's clock may lag).
LAUNCH_CLOCK_SKEW: Final = timedelta(minutes=5)
#: The id of the engine's own row in ``campaign_analytics_state`` (the hourly status gauge).
ENGINE_ROW_ID: Final = "engine:hourly"
#: Hours one roll-up run writes at most per campaign (snapshots are cumulative: a gap
#: after an outage loses only trend resolution, never numbers).
MAX_ROLLUP_HOURS: Final = 48
#: A segment member without activity for this long counts as inactive (recommendations).
INACTIVE_AFTER: Final = timedelta(days=30)
#: The most segments the recommendations look at (the largest first).
MAX_SEGMENTS: Final = 50

_HOUR = timedelta(hours=1)
#: A report's trend covers the campaign's life, up to this long.
_REPORT_SPAN = timedelta(days=90)
_STARTED = (
    CampaignStatus.ACTIVE,
    CampaignStatus.PAUSED,
    CampaignStatus.COMPLETED,
    CampaignStatus.CANCELLED,
)
_KIND_NAMES = ("impression", "click", "conversion", "spend")
_PLATFORMS = frozenset(p.value for p in Platform)
_ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,191}$")
_COLUMN_PATH = re.compile(r"^(\w+)\[(\d+)\](.*)$")
_CHUNK = 500
_MAX_ROW_PROBLEMS = 20


class ConversionType(StrEnum):
    """What a conversion was (the seed's ``CampaignConversion.type``)."""

    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"
    CLICK = "click"
    ENGAGEMENT = "engagement"


_CONVERSION_TYPES = frozenset(t.value for t in ConversionType)


@attrs.frozen(kw_only=True)
class TrackingReceipt:
    """What one tracking call stored (never the fan: receipts are analytics output too).

    Attributes:
        event_id: the tracking event's id.
        kind: ``impression``, ``click``, ``conversion`` or ``spend``.
        campaign_id: the campaign.
        occurred_at: when it happened (UTC, to the millisecond).
        platform: where (for a conversion without one: its click's, or the
            campaign's only platform).
        variant_id: the A/B variant, if any.
        value: the conversion's value or the amount spent (0 otherwise).
        conversion_id: the ``CampaignConversion`` row written for a conversion.
        conversion_type: the conversion's type.
        clicked_at: the attributed click (the fan's last click on the
            campaign at or before the conversion, within 30 days), if any.
        time_to_convert: seconds from that click to the conversion.
    """

    event_id: str
    kind: str
    campaign_id: str
    occurred_at: datetime
    platform: str | None = None
    variant_id: str | None = None
    value: float = 0.0
    conversion_id: str | None = None
    conversion_type: str | None = None
    clicked_at: datetime | None = None
    time_to_convert: int | None = None


@attrs.frozen(kw_only=True)
class TrackingBatchReport:
    """What one ``track_events`` call stored.

    Attributes:
        received: events stored.
        impressions: of which impressions.
        clicks: clicks.
        conversions: conversions (each also a ``CampaignConversion`` row).
        spend_events: spend events (each campaign's total went through the budget rule).
        attributed_conversions: conversions credited to a click.
        campaign_ids: the campaigns touched, sorted.
    """

    received: int
    impressions: int
    clicks: int
    conversions: int
    spend_events: int
    attributed_conversions: int
    campaign_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class RollupReport:
    """What one hourly roll-up run did (part of ``TickReport``).

    Attributes:
        campaigns: campaigns rolled up.
        snapshots: ``CampaignMetric`` rows written (inserted or refreshed).
        overspend_alerts: budget overspend alerts sent.
        status_counts_emitted: whether this run published the campaigns-by-status gauge.
        errors: ``(campaign id, message)`` of campaigns that failed (retried later).
    """

    campaigns: int = 0
    snapshots: int = 0
    overspend_alerts: int = 0
    status_counts_emitted: bool = False
    errors: tuple[tuple[str, str], ...] = ()


# ---------------------------------------------------------------------- aggregates


class _RepositoryAggregates(TrackingAggregates):
    """The repository path: the same aggregates as the SQL capability, computed in Python."""

    def __init__(self, repo: Repository[TrackingEventRecord]) -> None:
        self._repo = repo

    def _events(
        self,
        campaign_ids: Sequence[str],
        since: datetime | None,
        before: datetime | None,
        kinds: Sequence[str] | None = None,
        fan_ids: Sequence[str] | None = None,
    ) -> Iterator[TrackingEventRecord]:
        ids = list(dict.fromkeys(campaign_ids))
        fan_chunks: list[list[str] | None] = (
            [None] if fan_ids is None else list(_chunked(list(dict.fromkeys(fan_ids))))
        )
        for chunk in _chunked(ids):
            for fans in fan_chunks:
                conds: list[Cond] = [In("campaign_id", chunk)]
                if since is not None:
                    conds.append(Gte("occurred_at", since))
                if before is not None:
                    conds.append(Lt("occurred_at", before))
                if kinds is not None:
                    conds.append(In("kind", list(kinds)))
                if fans is not None:
                    conds.append(In("fan_id", fans))
                yield from self._repo.find(And(*conds))

    def counts(
        self, campaign_ids: Sequence[str], *, before: datetime | None = None
    ) -> dict[str, TrackingCounts]:
        cells: dict[str, dict[tuple[str | None, str | None], dict[str, Any]]] = {}
        reach: dict[str, set[str]] = {}
        reach_p: dict[str, dict[str | None, set[str]]] = {}
        reach_v: dict[str, dict[str | None, set[str]]] = {}
        span: dict[str, tuple[datetime, datetime]] = {}
        for e in self._events(campaign_ids, None, before):
            cid = e.campaign_id
            cell = cells.setdefault(cid, {}).setdefault((e.platform, e.variant_id), _empty_cell(e))
            if e.kind == "impression":
                cell["impressions"] += 1
                if e.fan_id is not None:
                    reach.setdefault(cid, set()).add(e.fan_id)
                    reach_p.setdefault(cid, {}).setdefault(e.platform, set()).add(e.fan_id)
                    reach_v.setdefault(cid, {}).setdefault(e.variant_id, set()).add(e.fan_id)
                else:
                    reach_p.setdefault(cid, {}).setdefault(e.platform, set())
                    reach_v.setdefault(cid, {}).setdefault(e.variant_id, set())
            elif e.kind == "click":
                cell["clicks"] += 1
            elif e.kind == "conversion":
                cell["conversions"] += 1
                cell["revenue"] += e.value
                cell["revenueSumSquares"] += e.value * e.value
            elif e.kind == "spend":
                cell["spent"] += e.value
            low, high = span.get(cid, (e.occurred_at, e.occurred_at))
            span[cid] = (min(low, e.occurred_at), max(high, e.occurred_at))
        out: dict[str, TrackingCounts] = {}
        for cid in dict.fromkeys(campaign_ids):
            first, last = span.get(cid, (None, None))
            out[cid] = TrackingCounts(
                campaign_id=cid,
                cells=tuple(cells.get(cid, {}).values()),
                reach={
                    "total": len(reach.get(cid, ())),
                    "byPlatform": {k: len(v) for k, v in reach_p.get(cid, {}).items()},
                    "byVariant": {k: len(v) for k, v in reach_v.get(cid, {}).items()},
                },
                first_event_at=first,
                last_event_at=last,
            )
        return out

    def columns(
        self,
        campaign_ids: Sequence[str],
        *,
        since: datetime | None = None,
        before: datetime | None = None,
        kinds: Sequence[str] | None = None,
        fan_ids: Sequence[str] | None = None,
    ) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            name: []
            for name in (
                "campaign_id",
                "kind",
                "occurred_at",
                "value",
                "fan_id",
                "platform",
                "variant_id",
            )
        }
        for e in self._events(campaign_ids, since, before, kinds, fan_ids):
            out["campaign_id"].append(e.campaign_id)
            out["kind"].append(e.kind)
            out["occurred_at"].append(e.occurred_at)
            out["value"].append(e.value)
            out["fan_id"].append(e.fan_id)
            out["platform"].append(e.platform)
            out["variant_id"].append(e.variant_id)
        return out

    def anonymize_fan(self, campaign_ids: Sequence[str], fan_id: str, token: str) -> int:
        changed = 0
        for e in list(self._events(campaign_ids, None, None, None, [fan_id])):
            self._repo.update(attrs.evolve(e, fan_id=token))
            changed += 1
        return changed


def _empty_cell(e: TrackingEventRecord) -> dict[str, Any]:
    return {
        "platform": e.platform,
        "variantId": e.variant_id,
        "impressions": 0,
        "clicks": 0,
        "conversions": 0,
        "revenue": 0.0,
        "spent": 0.0,
        "revenueSumSquares": 0.0,
    }


def _chunked(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _aggregates(uow: UnitOfWork) -> TrackingAggregates:
    """The store's SQL aggregates when it has them, else the repository path."""
    found = uow.capability(TRACKING_AGGREGATES)
    if isinstance(found, TrackingAggregates):
        return found
    return _RepositoryAggregates(uow.tracking_events)


def _untracked_spend(campaign: Campaign, all_time: TrackingCounts) -> float:
    """Spend on the campaign's books that no spend event carries (``campaigns.record_spend``)."""
    tracked = math.fsum(float(c.get("spent", 0.0)) for c in all_time.cells)
    gap = campaign.spent - tracked
    # float sums of the same amounts in another order differ in the last bits
    return gap if gap > 1e-9 * max(1.0, campaign.spent) else 0.0


def _metrics(
    campaign: Campaign, counts: TrackingCounts, untracked: float | None = None
) -> CampaignMetrics:
    """A campaign's metrics from its counters; spend recorded without tracking joins the
    unattributed group (platform and variant ``None``) so totals match the campaign's ``spent``."""
    extra = _untracked_spend(campaign, counts) if untracked is None else untracked
    cells = [dict(c) for c in counts.cells]
    if extra > 0:
        home = next((c for c in cells if c["platform"] is None and c["variantId"] is None), None)
        if home is None:
            cells.append({"platform": None, "variantId": None, "spent": extra})
        else:
            home["spent"] = float(home.get("spent", 0.0)) + extra
    return metrics_from_counts(
        cells,
        reach=counts.reach,
        campaign_id=campaign.id,
        first_event_at=counts.first_event_at,
        last_event_at=counts.last_event_at,
    )


class _JoinedRuntime:
    """The runtime, with ``transaction()`` joining a transaction that is already open.

    Engine functions such as ``record_spend`` open their own transaction; a
    tracking call that must apply the budget rule *and* store its events
    atomically hands them this view, so both happen in one commit (their
    alerts and metrics still go out after it).
    """

    def __init__(self, runtime: Runtime, tx: Tx) -> None:
        self._runtime = runtime
        self._tx = tx

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        yield self._tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


# ---------------------------------------------------------------------- ingestion


@attrs.define
class _Rows:
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


class _Paths:
    """Problem paths: ``events[42].fanId`` for a batch, ``fan_id`` for a single call."""

    def __init__(self, single: bool) -> None:
        self.single = single

    def __call__(self, row: int, field: str) -> str:
        if self.single:
            return field
        return f"events[{row}].{_SHOWN.get(field, field)}"


def _parse_rows(events: Any, problems: ProblemCollector) -> _Rows:
    """Read a batch (mappings or ``TrackingEvent`` objects) into columns; shape problems only."""
    from campaign_core.analytics import TrackingEvent

    rows = _Rows()
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


@attrs.define
class _Checked:
    """A validated batch: the columns, the numpy view, the stored campaigns and variants."""

    rows: _Rows
    batch: EventBatch
    times: list[datetime]
    values: list[float]
    types: list[str | None]
    campaigns: dict[str, Campaign]
    variants: dict[str, tuple[ABTestVariant, ABTest]]


def _first_rows(values: Sequence[Any], unhashable: list[int] | None = None) -> dict[Any, int]:
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

    def __init__(self, paths: _Paths, problems: ProblemCollector) -> None:
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


_KIND_CODE: Final = {name: code for code, name in enumerate(_KIND_NAMES)}
_EARLIEST_MS: Final = epoch_ms(datetime(2000, 1, 1, tzinfo=UTC))
_LATEST_MS: Final = epoch_ms(datetime(2100, 1, 1, tzinfo=UTC))


def _check_columns(
    rows: _Rows, now: datetime, paths: _Paths, problems: ProblemCollector
) -> tuple[EventBatch, list[datetime], list[float], list[str | None]] | None:
    """Every check that needs no database, on every row; problems name the row and field."""
    from campaign_core._validate import MAX_MONEY
    from campaign_core.serialization import parse_datetime

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
                    f"{kind!r} is not one of: {', '.join(_KIND_NAMES)}",
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
        for label, index in _first_rows(column, odd).items():
            if field == "platform":
                if label not in _PLATFORMS:
                    bad.add(
                        index,
                        field,
                        f"{label!r} is not one of: {', '.join(p.value for p in Platform)}",
                        "invalid_value" if isinstance(label, str) else "invalid_type",
                    )
            elif not isinstance(label, str) or not _ID_RE.match(label):
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


# ---------------------------------------------------------------------- the service


class AnalyticsService:
    """Tracking and analytics of one account, as one actor (``core.for_actor(actor).analytics``).

    Tracking needs the ``track`` permission (spend also ``spend``); everything
    else needs ``read``.
    """

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    @property
    def actor(self) -> Actor:
        return self._svc.actor

    @property
    def _account(self) -> str:
        return self._svc.account_id

    # ------------------------------------------------------------------ tracking
    @audited("analytics.track_impression")
    def track_impression(
        self,
        campaign_id: str,
        fan_id: str | None = None,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track that a campaign was shown (the seed's ``trackImpression``).

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who saw it, if known (anonymous impressions count
                as impressions but reach nobody).
            platform: where (onlyfans, instagram, tiktok, reddit).
            variant_id: the A/B variant shown (a variant of a test on this
                campaign); while the test runs its counters grow too.
            occurred_at: when (aware datetime or ISO-8601 with a zone; default
                now; at most an hour ahead of the core's clock).

        Returns:
            The receipt.

        Raises:
            ValidationError: bad input, with the argument's name as path.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "impression", campaign_id, fan_id, platform, variant_id, MISSING, occurred_at, None
        )

    @audited("analytics.track_click")
    def track_click(
        self,
        campaign_id: str,
        fan_id: str,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track a fan's click (the seed's ``trackClick``); later conversions are credited to it.

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who clicked (required).
            platform: where.
            variant_id: the A/B variant shown.
            occurred_at: when (default now).

        Returns:
            The receipt.

        Raises:
            ValidationError: bad input (a missing fan included).
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "click", campaign_id, fan_id, platform, variant_id, MISSING, occurred_at, None
        )

    @audited("analytics.track_conversion")
    def track_conversion(
        self,
        campaign_id: str,
        fan_id: str,
        value: float,
        *,
        type: str = "purchase",
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> TrackingReceipt:
        """Track a conversion (the seed's ``trackConversion``), attributed to the fan's last click.

        The conversion is credited to the fan's last click on the campaign at
        or before it, within 30 days: the seed's ``CampaignConversion`` row
        gets that click's ``clickedAt`` and the delay as ``timeToConvert``
        (seconds). Without such a click it still counts, unattributed.

        Args:
            campaign_id: a launched campaign of the account.
            fan_id: the fan who converted.
            value: what it was worth (finite, 0 to 1e12).
            type: purchase (default), subscription, click or engagement.
            platform: where; by default the attributed click's platform, or
                the campaign's only platform.
            variant_id: the A/B variant shown; while the test runs, the
                variant's conversions, revenue and sum of squares grow.
            occurred_at: when (default now).

        Returns:
            The receipt, with the conversion row's id and its attribution.

        Raises:
            ValidationError: bad input, or no platform given and none to infer.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track.
        """
        return self._track_one(
            "conversion", campaign_id, fan_id, platform, variant_id, value, occurred_at, type
        )

    @audited("analytics.track_spend")
    def track_spend(
        self,
        campaign_id: str,
        amount: float,
        *,
        platform: str | None = None,
        variant_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> Campaign:
        """Record spend with its time and platform, through the campaign's budget rule.

        The same rule as ``campaigns.record_spend`` applies (it is the same
        function, in the same transaction as the tracking event): reaching the
        budget pauses the campaign and alerts; passing 110 % of it raises the
        overspend alarm (once per budget).

        Args:
            campaign_id: a launched campaign of the account.
            amount: the spend (finite, > 0).
            platform: where it was spent.
            variant_id: the A/B variant it was spent on.
            occurred_at: when (default now).

        Returns:
            The campaign after the spend.

        Raises:
            ValidationError: bad input.
            NotFoundError: no such campaign (or variant) in the account.
            InvalidTransitionError: the campaign was never launched.
            PermissionDeniedError: the actor may not track or record spend.
        """
        self._svc._require(Permission.SPEND)
        receipt, campaigns = self._ingest_single(
            "spend", campaign_id, None, platform, variant_id, amount, occurred_at, None
        )
        return campaigns[receipt.campaign_id]

    @audited("analytics.track_events")
    def track_events(self, events: Any) -> TrackingBatchReport:
        """Track a batch of events (bulk ingestion through the store's bulk path).

        Every event is validated before anything is written; one bad event
        fails the whole batch and stores nothing. Conversions are attributed
        to the fan's last click, in the batch or stored before; spend goes
        through each campaign's budget rule once, with the campaign's total.

        Args:
            events: up to 100,000 objects with ``kind`` (impression, click,
                conversion, spend), ``campaignId``, and optionally ``fanId``
                (required for clicks and conversions), ``platform``,
                ``variantId``, ``value`` (required for conversions and spend),
                ``occurredAt`` (aware datetime or ISO-8601; default now) and
                ``type`` (conversions); snake_case keys work too, as do
                :class:`~campaign_core.analytics.TrackingEvent` objects.

        Returns:
            What was stored.

        Raises:
            ValidationError: every problem with its path (``events[42].kind``),
                including unknown or never-launched campaigns and foreign variants.
            PermissionDeniedError: the actor may not track (or record spend,
                for a batch with spend).
        """
        self._svc._require(Permission.TRACK)
        problems = ProblemCollector()
        rows = _parse_rows(events, problems)
        if any(p.path == "events" for p in problems.problems):
            problems.raise_if_any()
        if not len(rows):
            return TrackingBatchReport(
                received=0,
                impressions=0,
                clicks=0,
                conversions=0,
                spend_events=0,
                attributed_conversions=0,
                campaign_ids=(),
            )
        if any(k == "spend" for k in rows.kind):
            require(self.actor, Permission.SPEND)  # the call was counted against the API limit once
        result = self._ingest(rows, _Paths(single=False), problems=problems)
        return result.report

    def _track_one(
        self,
        kind: str,
        campaign_id: Any,
        fan_id: Any,
        platform: Any,
        variant_id: Any,
        value: Any,
        occurred_at: Any,
        conversion_type: Any,
    ) -> TrackingReceipt:
        self._svc._require(Permission.TRACK)
        receipt, _ = self._ingest_single(
            kind, campaign_id, fan_id, platform, variant_id, value, occurred_at, conversion_type
        )
        return receipt

    def _ingest_single(
        self,
        kind: str,
        campaign_id: Any,
        fan_id: Any,
        platform: Any,
        variant_id: Any,
        value: Any,
        occurred_at: Any,
        conversion_type: Any,
    ) -> tuple[TrackingReceipt, dict[str, Campaign]]:
        problems = ProblemCollector()
        if not isinstance(campaign_id, str) or not _ID_RE.match(campaign_id):
            problems.add("campaign_id", "expected an id string", "invalid_type")
        problems.raise_if_any()
        rows = _Rows(
            kind=[kind],
            campaign_id=[campaign_id],
            fan_id=[fan_id],
            platform=[platform],
            variant_id=[variant_id],
            value=[value],
            occurred_at=[occurred_at],
            type=[conversion_type],
        )
        paths = _Paths(single=True)
        result = self._ingest(rows, paths, amount_name="amount" if kind == "spend" else "value")
        return result.receipts[0], result.campaigns

    # ------------------------------------------------------------------ ingestion core
    def _ingest(
        self,
        rows: _Rows,
        paths: _Paths,
        amount_name: str = "value",
        problems: ProblemCollector | None = None,
    ) -> _IngestResult:
        rt = self._rt
        now = rt.now()
        problems = ProblemCollector() if problems is None else problems
        checked = _check_columns(rows, now, paths, problems)
        if problems and paths.single and amount_name != "value":
            problems = _renamed(problems, "value", amount_name)
        problems.raise_if_any()
        assert checked is not None
        batch, times, values, types = checked
        with rt.transaction() as tx:
            campaigns, variants = self._load_targets(tx, rows, batch, paths)
            state = _Checked(
                rows=rows,
                batch=batch,
                times=times,
                values=values,
                types=types,
                campaigns=campaigns,
                variants=variants,
            )
            result = _write_batch(rt, tx, state, now, paths, amount_name)
            account = self._account
            touched = tuple(sorted(campaigns))
            tx.after_commit.append(lambda: _forget(rt, account, touched))
        return result

    def _load_targets(
        self, tx: Tx, rows: _Rows, batch: EventBatch, paths: _Paths
    ) -> tuple[dict[str, Campaign], dict[str, tuple[ABTestVariant, ABTest]]]:
        """The batch's campaigns and variants, checked against the account."""
        problems = ProblemCollector()
        first_campaign = _first_rows(rows.campaign_id)
        ids = list(first_campaign)
        found: dict[str, Campaign] = {}
        for chunk in _chunked(ids):
            for c in tx.uow.campaigns.find(In("id", chunk)):
                if c.user_id == self._account:
                    found[c.id] = c
        for cid, index in first_campaign.items():
            campaign = found.get(cid)
            if campaign is None:
                if paths.single:
                    raise NotFoundError("campaign", cid)
                problems.add(paths(index, "campaign_id"), f"no campaign {cid!r}", "not_found")
            elif campaign.status not in _STARTED or campaign.started_at is None:
                if paths.single:
                    raise InvalidTransitionError(campaign.status.value, "track")
                problems.add(
                    paths(index, "campaign_id"),
                    f"campaign {cid!r} was never launched ({campaign.status.value}): nothing to track",
                    "invalid_transition",
                )
        if not problems:
            self._check_fit(found, batch, paths, problems)
        first_variant = _first_rows(rows.variant_id)
        variants: dict[str, tuple[ABTestVariant, ABTest]] = {}
        if first_variant:
            stored = {
                v.id: v
                for chunk in _chunked(list(first_variant))
                for v in tx.uow.ab_test_variants.find(In("id", chunk))
            }
            test_ids = list(dict.fromkeys(v.test_id for v in stored.values()))
            tests = {
                t.id: t
                for chunk in _chunked(test_ids)
                for t in tx.uow.ab_tests.find(In("id", chunk))
            }
            for vid, variant in stored.items():
                test = tests.get(variant.test_id)
                if test is not None and test.user_id == self._account:
                    variants[vid] = (variant, test)
            # every (campaign, variant) pair must match: a variant of this campaign's test
            camp = batch.campaign
            var = batch.variant
            pairs = camp.codes * len(var.labels) + var.codes
            unique_pairs, first_index = np.unique(pairs, return_index=True)
            for pair, index in zip(unique_pairs.tolist(), first_index.tolist()):
                vid = var.labels[pair % len(var.labels)]
                cid = camp.labels[pair // len(var.labels)]
                if vid is None:
                    continue
                known = variants.get(vid)
                if known is None:
                    if paths.single:
                        raise NotFoundError("variant", vid)
                    problems.add(paths(index, "variant_id"), f"no variant {vid!r}", "not_found")
                elif known[1].campaign_id != cid:
                    if paths.single:
                        raise ValidationError.single(
                            "variant_id", "is a variant of another campaign's test"
                        )
                    problems.add(
                        paths(index, "variant_id"),
                        "is a variant of another campaign's test",
                        "invalid_value",
                    )
        problems.raise_if_any()
        return found, variants

    @staticmethod
    def _check_fit(
        found: Mapping[str, Campaign], batch: EventBatch, paths: _Paths, problems: ProblemCollector
    ) -> None:
        """Each event fits its campaign: not before its launch; seen on one of its platforms.

        The launch check allows :data:`LAUNCH_CLOCK_SKEW` for hosts whose clocks
        run a little behind the one that recorded ``startedAt``. The platform check
        covers impressions and clicks only (they happen on the campaign's posts);
        a conversion or spend may be on another platform (a fan who saw the
        Instagram post buys on OnlyFans).
        """
        camp, plat = batch.campaign, batch.platform
        codes = camp.codes
        if not camp.labels or not found:
            return
        # per campaign label: its launch (ms) and the platform labels it targets
        never = np.iinfo(np.int64).min
        launches = [None if c is None else found.get(c) for c in camp.labels]
        starts = np.array(
            [
                never if c is None or c.started_at is None else epoch_ms(c.started_at)
                for c in launches
            ],
            dtype=np.int64,
        )
        skew = int(LAUNCH_CLOCK_SKEW.total_seconds() * 1000)
        early = np.flatnonzero(batch.occurred_at_ms < starts[codes] - skew)
        if early.size:
            row = int(early[0])
            late = launches[int(codes[row])]
            assert late is not None
            assert late.started_at is not None
            problems.add(
                paths(row, "occurred_at"),
                f"is before campaign {late.id!r} was launched ({late.started_at.isoformat()})",
                "out_of_range",
            )
        if plat.labels and any(label is not None for label in plat.labels):
            seen = np.flatnonzero((batch.kind == IMPRESSION) | (batch.kind == CLICK))
            pairs = codes[seen].astype(np.int64) * len(plat.labels) + plat.codes[seen]
            unique_pairs, first_index = np.unique(pairs, return_index=True)
            for pair, row in zip(unique_pairs.tolist(), seen[first_index].tolist()):
                platform = plat.labels[pair % len(plat.labels)]
                target = found.get(str(camp.labels[pair // len(plat.labels)]))
                if platform is None or target is None or not target.platforms:
                    continue
                if platform not in {p.value for p in target.platforms}:
                    problems.add(
                        paths(row, "platform"),
                        f"campaign {target.id!r} does not run on {platform!r}"
                        f" (its platforms: {', '.join(p.value for p in target.platforms)})",
                        "invalid_value",
                    )

    # ------------------------------------------------------------------ reading helpers
    def _campaign(self, tx: Tx, campaign_id: Any, path: str = "campaign_id") -> Campaign:
        if not isinstance(campaign_id, str) or not campaign_id:
            raise ValidationError.single(path, "expected an id string", "invalid_type")
        campaign: Campaign = self._svc._owned(
            tx.uow.campaigns.get(campaign_id), "campaign", campaign_id
        )
        return campaign

    def _cache_key(self, campaign_id: str, *parts: Any) -> tuple[Any, ...]:
        return ("analytics", self._account, campaign_id, *parts)

    def _counts(self, tx: Tx, campaigns: Sequence[Campaign]) -> dict[str, TrackingCounts]:
        """All-time counters per campaign, cached for a minute (dropped by this core's writes)."""
        cache = self._rt.caches.campaign_metrics
        out: dict[str, TrackingCounts] = {}
        missing: list[str] = []
        for campaign in campaigns:
            hit = cache.get(self._cache_key(campaign.id, "counts"))
            if isinstance(hit, TrackingCounts):
                out[campaign.id] = hit
            else:
                missing.append(campaign.id)
        if missing:
            for cid, counts in _aggregates(tx.uow).counts(missing).items():
                cache.put(self._cache_key(cid, "counts"), counts)
                out[cid] = counts
        return out

    def _metrics_of(self, tx: Tx, campaign: Campaign) -> CampaignMetrics:
        return _metrics(campaign, self._counts(tx, [campaign])[campaign.id])

    def _started(self, tx: Tx) -> list[Campaign]:
        """The account's campaigns that were launched (the others have nothing to measure)."""
        found: list[Campaign] = tx.uow.campaigns.find(
            And(Eq("user_id", self._account), In("status", list(_STARTED))),
            order_by=[Order("created_at"), Order("id")],
        )
        return [c for c in found if c.started_at is not None]

    def _summaries(self, tx: Tx, campaigns: Sequence[Campaign]) -> list[CampaignSummary]:
        counts = self._counts(tx, campaigns)
        niches = self._niches(tx, campaigns)
        return [
            CampaignSummary.from_campaign(
                c, _metrics(c, counts[c.id]), niche=niches.get(c.template_id or "")
            )
            for c in campaigns
        ]

    def _niches(self, tx: Tx, campaigns: Sequence[Campaign]) -> dict[str, str]:
        ids = list(dict.fromkeys(c.template_id for c in campaigns if c.template_id))
        out: dict[str, str] = {}
        for chunk in _chunked(ids):
            for template in tx.uow.templates.find(In("id", chunk)):
                if template.owner_id in (None, self._account):
                    out[template.id] = template.niche.value
        for template_id in ids:
            builtin = builtin_template(template_id)
            if template_id not in out and builtin is not None:
                out[template_id] = builtin.niche.value
        return out

    def _events(
        self,
        tx: Tx,
        campaign_ids: Sequence[str],
        since: datetime | None = None,
        before: datetime | None = None,
    ) -> EventBatch:
        cols = _aggregates(tx.uow).columns(campaign_ids, since=since, before=before)
        return EventBatch.from_columns(
            kind=cols["kind"],
            occurred_at=cols["occurred_at"],
            value=cols["value"],
            fan_id=cols["fan_id"],
            platform=cols["platform"],
            variant_id=cols["variant_id"],
            campaign_id=cols["campaign_id"],
        )

    # ------------------------------------------------------------------ metrics
    def get_campaign_metrics(self, campaign_id: str) -> CampaignMetrics:
        """A campaign's numbers (the seed's ``getCampaignMetrics``): totals, per platform, per variant.

        Impressions, reach (distinct fans), clicks, conversions, revenue, spent,
        CTR, conversion rate, ROI and CPA (``docs/reference/metrics-definitions.md``).
        Spend recorded with ``campaigns.record_spend`` rather than tracked
        appears in the unattributed group (platform and variant ``None``), so
        ``totals.spent`` is the campaign's ``spent``.

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.CampaignMetrics`.

        Raises:
            NotFoundError: no such campaign in the account.
            PermissionDeniedError: the actor may not read.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            return self._metrics_of(tx, self._campaign(tx, campaign_id))

    def get_campaign_roi(self, campaign_id: str) -> RoiMetrics:
        """The money view (the seed's ``getCampaignROI``): revenue, spent, profit, ROI, ROAS, CPA,
        average order value, break-even and the budget left.

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.RoiMetrics`.

        Raises:
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
            metrics = self._metrics_of(tx, campaign)
        return campaign_roi(metrics.totals, budget=campaign.budget)

    def get_conversion_funnel(
        self, campaign_id: str, *, platform: Any = None, variant_id: Any = None
    ) -> Funnel:
        """Impressions -> clicks -> conversions with step rates and drop-offs (``getConversionFunnel``).

        Args:
            campaign_id: the campaign.
            platform: one platform's funnel instead of the campaign's.
            variant_id: one A/B variant's funnel (not with ``platform``).

        Returns:
            The :class:`~campaign_core.analytics.Funnel` (zero counts for a
            platform or variant without events).

        Raises:
            ValidationError: a bad platform, or both options.
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        if platform is not None:
            v_enum(platform, "platform", problems, Platform)
        if variant_id is not None:
            v_id(variant_id, "variant_id", problems)
        if platform is not None and variant_id is not None:
            problems.add("variant_id", "give a platform or a variant, not both", "invalid_value")
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            metrics = self._metrics_of(tx, self._campaign(tx, campaign_id))
        totals = metrics.totals
        if platform is not None:
            totals = metrics.platform(str(Platform(platform))) or _zero_totals(totals)
        elif variant_id is not None:
            totals = metrics.variant(variant_id) or _zero_totals(totals)
        return conversion_funnel(totals)

    def get_budget_pacing(self, campaign_id: str) -> BudgetPacing:
        """The campaign's spend against its budget, now and projected (pause at 100 %,
        alarm above 110 %).

        Args:
            campaign_id: a campaign of the account.

        Returns:
            The :class:`~campaign_core.analytics.BudgetPacing` at the core's now.

        Raises:
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
        now = self._rt.now()
        return budget_pacing(
            budget=campaign.budget,
            spent=campaign.spent,
            started_at=campaign.started_at or now,
            now=now,
        )

    # ------------------------------------------------------------------ comparisons
    def compare_campaigns(self, campaign_ids: Any, *, alpha: float = 0.05) -> GroupComparison:
        """Campaigns side by side with pairwise tests (the seed's ``compareCampaigns``).

        CTR and conversion rate are compared with two-proportion z-tests,
        revenue per click and ROAS with Welch's t-tests; p-values are
        Holm-adjusted per metric and a side is called better only when
        significant with the minimum samples.

        Args:
            campaign_ids: 2 to 200 distinct campaign ids of the account.
            alpha: the family-wise error rate per metric, in (0, 1).

        Returns:
            The :class:`~campaign_core.analytics.GroupComparison`, campaigns in the given order.

        Raises:
            ValidationError: not a list of 2-200 distinct ids, or a bad alpha.
            NotFoundError: a campaign not in the account.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        ids = _id_list(campaign_ids, "campaign_ids", problems, minimum=2, maximum=200)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaigns = [self._campaign(tx, cid, f"campaign_ids[{i}]") for i, cid in enumerate(ids)]
            summaries = self._summaries(tx, campaigns)
        return _compare_campaigns(summaries, alpha=alpha)

    def compare_platforms(self, campaign_id: str, *, alpha: float = 0.05) -> GroupComparison:
        """A campaign's platforms side by side with pairwise tests (the seed's ``comparePlatforms``).

        Args:
            campaign_id: a campaign of the account.
            alpha: the family-wise error rate per metric, in (0, 1).

        Returns:
            The :class:`~campaign_core.analytics.GroupComparison` of its
            platforms (events without a platform are left out).

        Raises:
            ValidationError: a bad alpha.
            NotFoundError: no such campaign in the account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            metrics = self._metrics_of(tx, self._campaign(tx, campaign_id))
        return _compare_platforms(metrics, alpha=alpha)

    # ------------------------------------------------------------------ time
    def get_performance_trends(
        self,
        timeframe: Any = None,
        *,
        campaign_id: Any = None,
        start: Any = None,
        end: Any = None,
        bucket: Any = None,
        timezone: str = "UTC",
        source: str = "events",
    ) -> Trend:
        """Performance over a timeframe, in buckets, with the change against the previous period.

        The seed's ``getPerformanceTrends``: the account's campaigns together,
        or one campaign.

        Args:
            timeframe: ``"24h"``, ``"7d"``, ``"30d"``, ``"90d"`` or any duration,
                ending now (by the core's clock); default ``"7d"`` unless
                ``start`` and ``end`` are given.
            campaign_id: one campaign (default: every launched campaign of the account).
            start: an explicit start (aware), with ``end`` and ``timeframe=None``.
            end: an explicit end, exclusive.
            bucket: ``hour``, ``day`` or ``week`` (default: from the span).
            timezone: the IANA zone whose midnights bound day and week buckets.
            source: ``events`` (exact, reach per bucket) or ``snapshots`` (the
                hourly roll-ups: cheaper over many campaigns, no reach, up to
                the last hour rolled up).

        Returns:
            The :class:`~campaign_core.analytics.Trend`.

        Raises:
            ValidationError: a bad timeframe, bucket, zone or source.
            NotFoundError: ``campaign_id`` is not in the account.
        """
        self._svc._require(Permission.READ)
        if source not in ("events", "snapshots"):
            raise ValidationError.single("source", "must be 'events' or 'snapshots'")
        now = self._rt.now()
        if timeframe is None and start is None and end is None:
            timeframe = "7d"
        begin, stop = resolve_timeframe(timeframe=timeframe, start=start, end=end, now=now)
        previous = begin - (stop - begin)
        with self._rt.transaction() as tx:
            if campaign_id is not None:
                campaigns = [self._campaign(tx, campaign_id)]
            else:
                campaigns = self._started(tx)
            ids = [c.id for c in campaigns]
            if source == "snapshots":
                snapshots = _snapshots(tx, ids, previous, stop)
                return performance_trend_from_snapshots(
                    snapshots, start=begin, end=stop, bucket=bucket, timezone=timezone
                )
            events = self._events(tx, ids, since=previous, before=stop)
        return performance_trend(events, start=begin, end=stop, bucket=bucket, timezone=timezone)

    # ------------------------------------------------------------------ insights
    def get_top_performing_campaigns(
        self, limit: Any = 10, *, by: Any = "roi", min_spent: Any = 0.0
    ) -> tuple[RankedCampaign, ...]:
        """The account's best campaigns (the seed's ``getTopPerformingCampaigns``).

        Args:
            limit: how many (1-1000).
            by: roi, revenue, profit, conversions, ctr or conversion_rate (rates
                rank by the lower Wilson bound, so tiny samples do not top the list).
            min_spent: for ``roi``, the spend a campaign needs to be ranked.

        Returns:
            Up to ``limit`` :class:`~campaign_core.analytics.RankedCampaign`, best first.

        Raises:
            ValidationError: bad options.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
        return top_campaigns(summaries, by=by, limit=limit, min_spent=min_spent)

    def identify_patterns(
        self, *, metric: Any = "conversion_rate", alpha: Any = 0.05, timezone: str = "UTC"
    ) -> PatternAnalysis:
        """What performs better across the account's campaigns (the seed's ``identifyPatterns``).

        Type, platform, niche, launch weekday and time of day, price band: each
        value against the rest, with its effect size, support and an
        over-dispersion-corrected test, Holm-adjusted; values with too little
        data are listed as skipped, never claimed.

        Args:
            metric: conversion_rate, ctr or conversions_per_impression.
            alpha: the family-wise error rate.
            timezone: the zone launch weekdays and hours are read in.

        Returns:
            The :class:`~campaign_core.analytics.PatternAnalysis`.

        Raises:
            ValidationError: bad options.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
        return _identify_patterns(summaries, metric=metric, alpha=alpha, timezone=timezone)

    def get_recommendations(self) -> tuple[Recommendation, ...]:
        """Suggestions for the account, each with its evidence (the seed's ``getRecommendations``).

        Looks at the launched campaigns (pause a money-loser, shift budget
        between platforms or campaigns, raise a budget about to run out), the
        running A/B tests (apply a winner, check a traffic split, extend an
        underpowered test) and the segments (re-engage one with many inactive
        members).

        Returns:
            The recommendations, highest priority first, each with its evidence.

        Raises:
            PermissionDeniedError: the actor may not read.
        """
        self._svc._require(Permission.READ)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            summaries = self._summaries(tx, self._started(tx))
            tests = self._test_summaries(tx)
            segments = self._segment_stats(tx, now)
        return get_recommendations(
            RecommendationInputs(now=now, campaigns=summaries, ab_tests=tests, segments=segments)
        )

    def _test_summaries(self, tx: Tx, campaign_id: str | None = None) -> list[ABTestSummary]:
        from campaign_core.services._abtests import ABTestMethods

        conds: list[Cond] = [Eq("user_id", self._account), Eq("status", ABTestStatus.RUNNING)]
        if campaign_id is not None:
            conds.append(Eq("campaign_id", campaign_id))
        out: list[ABTestSummary] = []
        for test in tx.uow.ab_tests.find(And(*conds), order_by=[Order("created_at"), Order("id")]):
            variants = tx.uow.ab_test_variants.find(
                Eq("test_id", test.id),
                order_by=[Order("is_control", True), Order("created_at"), Order("id")],
            )
            if len(variants) < 2:
                continue
            decision: WinnerDecision = ABTestMethods._decide(
                test, variants, test.policy, "conversion_rate"
            )
            out.append(
                ABTestSummary(
                    test_id=test.id, decision=decision, campaign_id=test.campaign_id, name=test.name
                )
            )
        return out

    def _segment_stats(self, tx: Tx, now: datetime) -> list[SegmentStats]:
        """Activity counts of the account's largest segments, read from the tables directly."""
        from campaign_core.analytics import RecommendationSettings

        floor = RecommendationSettings().min_segment_members
        cutoff = now - INACTIVE_AFTER
        out: list[SegmentStats] = []
        segments = tx.uow.segments.find(
            Eq("user_id", self._account),
            order_by=[Order("member_count", True), Order("id")],
            limit=MAX_SEGMENTS,
        )
        for segment in segments:
            if segment.member_count < floor:
                continue  # below the rule's floor: not worth reading the members
            fans = [m.fan_id for m in tx.uow.segment_members.find(Eq("segment_id", segment.id))]
            active = 0
            for chunk in _chunked(list(dict.fromkeys(fans))):
                for fan in tx.uow.fans.find(
                    And(Eq("owner_id", self._account), In("fan_id", chunk))
                ):
                    if fan.last_activity_at is not None and fan.last_activity_at >= cutoff:
                        active += 1
            members = len(fans)
            out.append(
                SegmentStats(
                    segment_id=segment.id,
                    members=members,
                    inactive_members=max(0, members - active),
                    name=segment.name,
                    avg_revenue=segment.avg_revenue,
                )
            )
        return out

    # ------------------------------------------------------------------ reports
    def generate_report(
        self, campaign_id: str, format: str = "json"
    ) -> dict[str, Any] | str | bytes:
        """A campaign report (the seed's ``generateReport``): json (a dict), csv (text) or pdf (bytes).

        The report holds the metrics (totals, per platform, per variant), the
        funnel, the ROI view, performance over time (the campaign's life, up
        to 90 days), the platform comparison, budget pacing and the
        campaign's recommendations. The PDF has charts (funnel, performance
        over time, platforms) and needs matplotlib (the ``reports`` extra).

        Args:
            campaign_id: a campaign of the account.
            format: ``json``, ``csv`` or ``pdf``.

        Returns:
            A dict (json), text (csv) or bytes (pdf).

        Raises:
            ValidationError: an unknown format.
            NotFoundError: no such campaign in the account.
            MissingDependencyError: ``pdf`` without matplotlib.
        """
        from campaign_core.analytics import REPORT_FORMATS

        self._svc._require(Permission.READ)
        if format not in REPORT_FORMATS:
            raise ValidationError.single(
                "format", f"must be one of {', '.join(REPORT_FORMATS)}", "invalid_value"
            )
        now = self._rt.now()
        with self._rt.transaction() as tx:
            campaign = self._campaign(tx, campaign_id)
            (summary,) = self._summaries(tx, [campaign])
            metrics = _metrics(campaign, self._counts(tx, [campaign])[campaign.id])
            trend = None
            started = campaign.started_at or now
            capped = started < now - _REPORT_SPAN
            begin = _hour_floor(now - _REPORT_SPAN if capped else started)
            if now > begin:
                # before the campaign started there is nothing to load for the previous period
                since = begin - (now - begin) if capped else begin
                events = self._events(tx, [campaign.id], since=since, before=now)
                trend = performance_trend(events, start=begin, end=now)
            tests = self._test_summaries(tx, campaign.id)
        pacing = budget_pacing(
            budget=campaign.budget,
            spent=campaign.spent,
            started_at=campaign.started_at or now,
            now=now,
        )
        recommendations = get_recommendations(
            RecommendationInputs(now=now, campaigns=[summary], ab_tests=tests)
        )
        report = build_report(
            campaign,
            metrics,
            trend=trend,
            generated_at=now,
            pacing=pacing,
            recommendations=recommendations,
        )
        return render_report(report, format)


# ---------------------------------------------------------------------- writing a batch


@attrs.frozen
class _IngestResult:
    report: TrackingBatchReport
    receipts: list[TrackingReceipt]
    campaigns: dict[str, Campaign]


def _renamed(problems: ProblemCollector, old: str, new: str) -> ProblemCollector:
    out = ProblemCollector()
    for problem in problems.problems:
        path = new if problem.path == old else problem.path
        out.add(path, problem.message, problem.code)
    return out


@attrs.frozen
class _Attribution:
    """Per batch row of a conversion: its click's time, the delay, the click's platform."""

    clicked_at: dict[int, datetime]
    seconds: dict[int, int]
    platform: dict[int, str | None]


def _attribute(tx: Tx, checked: _Checked) -> _Attribution:
    """Credit each conversion of the batch to its fan's last click, in the batch or stored."""
    from campaign_core.analytics._events import from_epoch_ms

    batch, rows = checked.batch, checked.rows
    kind = batch.kind
    conversions = np.flatnonzero(kind == CONVERSION)
    if conversions.size == 0:
        return _Attribution({}, {}, {})
    window = DEFAULT_ATTRIBUTION_WINDOW
    conv_ms = batch.occurred_at_ms[conversions]
    fans = list(dict.fromkeys(rows.fan_id[i] for i in conversions.tolist()))
    campaign_ids = list(dict.fromkeys(rows.campaign_id[i] for i in conversions.tolist()))
    stored = _aggregates(tx.uow).columns(
        campaign_ids,
        since=from_epoch_ms(int(conv_ms.min())) - window,
        before=from_epoch_ms(int(conv_ms.max()) + 1),
        kinds=["click"],
        fan_ids=fans,
    )
    # only the batch's clicks and conversions take part; stored rows come first
    part = np.flatnonzero((kind == CLICK) | (kind == CONVERSION))
    s = len(stored["kind"])
    stored_ms = np.fromiter((epoch_ms(t) for t in stored["occurred_at"]), dtype=np.int64, count=s)
    index = part.tolist()
    combined = EventBatch.from_columns(
        kind=np.concatenate([np.full(s, CLICK, dtype=np.int64), kind[part].astype(np.int64)]),
        occurred_at=np.concatenate([stored_ms, batch.occurred_at_ms[part]]),
        fan_id=list(stored["fan_id"]) + [rows.fan_id[i] for i in index],
        campaign_id=list(stored["campaign_id"]) + [rows.campaign_id[i] for i in index],
    )
    credit = attribute_last_clicks(combined, window=window)
    clicked: dict[int, datetime] = {}
    seconds: dict[int, int] = {}
    platform: dict[int, str | None] = {}
    for conv, click, delay in zip(
        credit.conversion_rows.tolist(), credit.click_rows.tolist(), credit.time_to_convert.tolist()
    ):
        if click < 0:
            continue
        row = index[conv - s]
        clicked[row] = from_epoch_ms(int(combined.occurred_at_ms[click]))
        seconds[row] = int(delay)
        platform[row] = stored["platform"][click] if click < s else rows.platform[index[click - s]]
    return _Attribution(clicked, seconds, platform)


def _write_batch(
    rt: Runtime, tx: Tx, checked: _Checked, now: datetime, paths: _Paths, amount_name: str
) -> _IngestResult:
    rows, batch = checked.rows, checked.batch
    n = len(rows)
    kinds = batch.kind.tolist()
    credit = _attribute(tx, checked)

    # a conversion's platform: given, else its click's, else the campaign's only one
    platforms: list[str | None] = list(rows.platform)
    problems = ProblemCollector()
    for row in np.flatnonzero(batch.kind == CONVERSION).tolist():
        if platforms[row] is not None:
            continue
        inferred = credit.platform.get(row)
        if inferred is None:
            targets = checked.campaigns[rows.campaign_id[row]].platforms
            inferred = targets[0].value if len(targets) == 1 else None
        if inferred is None:
            problems.add(
                paths(row, "platform"),
                "is required: the conversion has no attributed click with a platform "
                "and the campaign does not target exactly one platform",
                "required",
            )
        platforms[row] = inferred
    problems.raise_if_any()

    owner = next(iter(checked.campaigns.values())).user_id
    prefix = rt.ids.new_id("tracking")
    times, values = checked.times, checked.values
    records = [
        TrackingEventRecord(
            id=f"{prefix}_{i}",
            owner_id=owner,
            campaign_id=c,
            kind=_KIND_NAMES[k],
            fan_id=f,
            platform=p,
            variant_id=v,
            value=x,
            occurred_at=t,
            created_at=now,
        )
        for i, (c, k, f, p, v, x, t) in enumerate(
            zip(rows.campaign_id, kinds, rows.fan_id, platforms, rows.variant_id, values, times)
        )
    ]
    conversion_rows = [i for i, k in enumerate(kinds) if k == CONVERSION]
    conversions: dict[int, CampaignConversion] = {}
    if conversion_rows:
        conv_prefix = rt.ids.new_id("conversion")
        for j, i in enumerate(conversion_rows):
            conversions[i] = CampaignConversion(
                id=f"{conv_prefix}_{j}",
                campaign_id=rows.campaign_id[i],
                fan_id=rows.fan_id[i],
                type=checked.types[i] or ConversionType.PURCHASE.value,
                value=values[i],
                platform=platforms[i] or "",
                clicked_at=credit.clicked_at.get(i),
                converted_at=times[i],
                time_to_convert=credit.seconds.get(i),
                variant_id=rows.variant_id[i],
            )
    tx.uow.tracking_events.add_many(records)
    if conversions:
        tx.uow.campaign_conversions.add_many(list(conversions.values()))
    _count_variants(tx, checked)

    # rows are locked in one order by every writer (variants, campaigns, then their
    # analytics rows) so concurrent batches never deadlock
    campaigns = dict(checked.campaigns)
    spend = _spend_per_campaign(batch)
    if spend:
        from campaign_core.services.campaigns import record_spend

        joined = cast("Runtime", _JoinedRuntime(rt, tx))
        for cid in sorted(spend):
            campaigns[cid] = record_spend(joined, owner, cid, spend[cid])
    first_at = _first_per_campaign(batch)
    for cid in sorted(campaigns):
        _arm_rollup(rt, tx, campaigns[cid], now, first_at.get(cid, now))
    for cid in sorted(spend):
        _check_overspend(rt, tx, campaigns[cid], now)

    counts = np.bincount(batch.kind.astype(np.int64), minlength=4).tolist()
    report = TrackingBatchReport(
        received=n,
        impressions=int(counts[IMPRESSION]),
        clicks=int(counts[CLICK]),
        conversions=int(counts[CONVERSION]),
        spend_events=int(counts[SPEND]),
        attributed_conversions=len(credit.clicked_at),
        campaign_ids=tuple(sorted(campaigns)),
    )
    receipts: list[TrackingReceipt] = []
    if paths.single:
        record = records[0]
        conversion = conversions.get(0)
        receipts.append(
            TrackingReceipt(
                event_id=record.id,
                kind=record.kind,
                campaign_id=record.campaign_id,
                occurred_at=truncate_ms(record.occurred_at.astimezone(UTC)),
                platform=record.platform,
                variant_id=record.variant_id,
                value=record.value,
                conversion_id=None if conversion is None else conversion.id,
                conversion_type=None if conversion is None else conversion.type,
                clicked_at=None if conversion is None else conversion.clicked_at,
                time_to_convert=None if conversion is None else conversion.time_to_convert,
            )
        )
    tx.after_commit.append(_emitter_hook(rt, checked, platforms, owner))
    return _IngestResult(report=report, receipts=receipts, campaigns=campaigns)


def _count_variants(tx: Tx, checked: _Checked) -> None:
    """Feed the A/B counters of running tests, one atomic increment per variant."""
    batch = checked.batch
    labels = batch.variant.labels
    if all(label is None for label in labels):
        return
    codes = batch.variant.codes
    kind = batch.kind
    size = len(labels)
    conversions = kind == CONVERSION
    revenue = np.where(conversions, batch.value, 0.0)
    tallies = {
        "impressions": np.bincount(codes[kind == IMPRESSION], minlength=size),
        "clicks": np.bincount(codes[kind == CLICK], minlength=size),
        "conversions": np.bincount(codes[conversions], minlength=size),
    }
    sums = {
        "revenue": np.bincount(codes, weights=revenue, minlength=size),
        "revenue_sum_squares": np.bincount(codes, weights=revenue * revenue, minlength=size),
    }
    for code, label in enumerate(labels):
        if label is None:
            continue
        variant, test = checked.variants[label]
        # a decided test's numbers stay as they were decided on; the events are kept anyway
        if test.status is not ABTestStatus.RUNNING:
            continue
        deltas: dict[str, float] = {
            name: int(values[code]) for name, values in tallies.items() if values[code]
        }
        deltas.update({name: float(v[code]) for name, v in sums.items() if v[code]})
        if deltas:
            tx.uow.ab_test_variants.increment(variant.id, deltas)


def _first_per_campaign(batch: EventBatch) -> dict[str, datetime]:
    from campaign_core.analytics._events import from_epoch_ms

    out: dict[str, datetime] = {}
    codes = batch.campaign.codes
    for code, label in enumerate(batch.campaign.labels):
        if label is None:
            continue
        mask = codes == code
        if mask.any():
            out[label] = from_epoch_ms(int(batch.occurred_at_ms[mask].min()))
    return out


def _spend_per_campaign(batch: EventBatch) -> dict[str, float]:
    spend = batch.kind == SPEND
    if not spend.any():
        return {}
    codes = batch.campaign.codes
    labels = batch.campaign.labels
    totals = np.bincount(codes[spend], weights=batch.value[spend], minlength=len(labels))
    return {
        label: float(totals[code])
        for code, label in enumerate(labels)
        if label is not None and totals[code] > 0
    }


def _emitter_hook(
    rt: Runtime, checked: _Checked, platforms: list[str | None], owner: str
) -> Callable[[], None]:
    """The metrics of a stored batch, aggregated per campaign type and platform."""
    batch, rows = checked.batch, checked.rows
    types = {cid: c.type.value for cid, c in checked.campaigns.items()}
    tallies: dict[tuple[str, str, int], list[float]] = {}
    for k, cid, platform, value in zip(
        batch.kind.tolist(), rows.campaign_id, platforms, checked.values
    ):
        if k == SPEND:
            continue
        key = (types[cid], platform or "other", k)
        slot = tallies.get(key)
        if slot is None:
            tallies[key] = [1, value]
        else:
            slot[0] += 1
            slot[1] += value

    def emit() -> None:
        emitter = rt.emitter
        for (campaign_type, platform, k), (count, total) in tallies.items():
            if k == IMPRESSION:
                emitter.impressions(
                    campaign_type=campaign_type, platform=platform, count=int(count), owner_id=owner
                )
            elif k == CLICK:
                emitter.clicks(
                    campaign_type=campaign_type, platform=platform, count=int(count), owner_id=owner
                )
            elif count == 1:
                emitter.conversion(
                    value=total, campaign_type=campaign_type, platform=platform, owner_id=owner
                )
            else:
                dims = {"CampaignType": campaign_type, "Platform": platform}
                emitter.record("CampaignConversions", count, dimensions=dims, owner_id=owner)
                emitter.record("CampaignRevenue", total, dimensions=dims, owner_id=owner)

    return emit


def _forget(rt: Runtime, account: str, campaign_ids: Sequence[str]) -> None:
    """Drop the cached counters of these campaigns and the account-wide views."""
    touched = set(campaign_ids)
    rt.caches.campaign_metrics.invalidate(
        lambda key: (
            isinstance(key, tuple)
            and len(key) >= 3
            and key[0] == "analytics"
            and key[1] == account
            and (key[2] == "*" or key[2] in touched)
        )
    )


# ---------------------------------------------------------------------- engine bookkeeping


def _get_state(tx: Tx, campaign_id: str) -> CampaignAnalyticsState | None:
    state: CampaignAnalyticsState | None = tx.uow.campaign_analytics_state.get(campaign_id)
    return state


def _arm_rollup(
    rt: Runtime, tx: Tx, campaign: Campaign, now: datetime, first_event_at: datetime
) -> None:
    """Make sure the hour ``now`` is in will be rolled up (creating the campaign's row).

    Writes only when something changes (at most once per campaign and hour),
    so tracking never turns the row into a hot spot. A concurrent writer that
    changed the row first has armed it (or is rolling it up): its version wins.
    """
    due = now.replace(minute=0, second=0, microsecond=0) + _HOUR
    state = _get_state(tx, campaign.id)
    try:
        if state is None:
            tx.uow.campaign_analytics_state.add(
                CampaignAnalyticsState(
                    id=campaign.id,
                    owner_id=campaign.user_id,
                    campaign_id=campaign.id,
                    first_event_at=min(first_event_at, now),
                    next_rollup_at=due,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif state.next_rollup_at is None or state.next_rollup_at > due:
            tx.uow.campaign_analytics_state.update(
                attrs.evolve(state, next_rollup_at=due, updated_at=now, version=state.version + 1)
            )
    except ConflictError:
        pass


def _overspent(campaign: Campaign) -> bool:
    if campaign.budget is None:
        return False
    if campaign.budget <= 0:
        return campaign.spent > 0
    return campaign.spent > OVERSPEND_ALARM_RATIO * campaign.budget


def _check_overspend(rt: Runtime, tx: Tx, campaign: Campaign, now: datetime) -> int:
    """Alert once per budget when spend passes 110 % of it; returns 1 if it alerted."""
    if not _overspent(campaign):
        return 0
    state = _get_state(tx, campaign.id)
    if state is None:
        return 0
    if state.overspend_alerted_at is not None and state.overspend_alert_budget == campaign.budget:
        return 0
    try:
        tx.uow.campaign_analytics_state.update(
            attrs.evolve(
                state,
                overspend_alerted_at=now,
                overspend_alert_budget=campaign.budget,
                updated_at=now,
                version=state.version + 1,
            )
        )
    except ConflictError:
        return 0  # a concurrent writer changed the row; the next roll-up checks again
    budget = campaign.budget or 0.0
    ratio = campaign.spent / budget if budget > 0 else None
    rt.alert(
        tx,
        Alert(
            kind=AlertKind.BUDGET_OVERSPEND,
            owner_id=campaign.user_id,
            message=(
                f"'{campaign.name}' spent {campaign.spent:.2f} of its {budget:.2f} budget"
                + (f" ({ratio:.0%})" if ratio is not None else "")
                + f", past the {OVERSPEND_ALARM_RATIO:.0%} overspend alarm"
            ),
            entity="campaign",
            entity_id=campaign.id,
            at=now,
            data={"budget": budget, "spent": campaign.spent, "overspendRatio": ratio},
        ),
    )
    return 1


def _zero_totals(like: Any) -> Any:
    from campaign_core.analytics import MetricTotals

    return MetricTotals.from_counts(reach=None if like.reach is None else 0)


def _hour_floor(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _id_list(
    value: Any, path: str, problems: ProblemCollector, *, minimum: int, maximum: int
) -> list[str]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        problems.add(path, "expected a list of ids", "invalid_type")
        return []
    if not minimum <= len(value) <= maximum:
        problems.add(path, f"give {minimum} to {maximum} ids", "out_of_range")
        return []
    out: list[str] = []
    for index, item in enumerate(value):
        clean = v_id(item, f"{path}[{index}]", problems)
        if clean is None:
            continue
        if clean in out:
            problems.add(f"{path}[{index}]", f"{clean!r} is given twice", "duplicate")
            continue
        out.append(clean)
    return out


def _snapshots(
    tx: Tx, campaign_ids: Sequence[str], since: datetime, before: datetime
) -> list[CampaignMetric]:
    """Aggregate snapshots in [since, before), plus each campaign's last one before (the baseline)."""
    out: list[CampaignMetric] = []
    repo = tx.uow.campaign_metrics
    for chunk in _chunked(list(campaign_ids)):
        out.extend(
            repo.find(
                And(
                    In("campaign_id", chunk),
                    IsNull("platform"),
                    Gte("period_start", since),
                    Lt("period_start", before),
                )
            )
        )
    for cid in campaign_ids:
        out.extend(
            repo.find(
                And(Eq("campaign_id", cid), IsNull("platform"), Lt("period_start", since)),
                order_by=[Order("period_start", True)],
                limit=1,
            )
        )
    return out


# ---------------------------------------------------------------------- the hourly roll-up


def _ensure_engine_row(tx: Tx, now: datetime) -> None:
    """The engine's own row: its hourly claim makes one worker publish the status gauge."""
    if _get_state(tx, ENGINE_ROW_ID) is not None:
        return
    with suppress(ConflictError):  # another worker made it first
        tx.uow.campaign_analytics_state.add(
            CampaignAnalyticsState(
                id=ENGINE_ROW_ID,
                owner_id="*",
                campaign_id="*",
                next_rollup_at=now,
                created_at=now,
                updated_at=now,
            )
        )


def run_hourly_rollup(rt: Runtime, now: datetime) -> RollupReport:
    """Write the seed's hourly ``CampaignMetric`` snapshots of every campaign that is due.

    A campaign is due once an hour in which it had events (or, while it is
    active or paused, every hour) is complete. Workers claim due campaigns
    with a lease (``Repository.claim``), so several may run at once and each
    campaign is rolled up by one. For each, every complete hour since the
    last one rolled up (at most 48) gets one aggregated row and one row per
    platform, upserted by ``rollupKey``: rolling an hour up twice leaves one
    row set. After the commit the campaign's ROI and budget utilization are
    emitted; the spend is checked against the overspend alarm. Once an hour
    one worker also publishes the campaigns-by-status gauge.

    Args:
        rt: the runtime.
        now: the tick's instant.

    Returns:
        What was done; a campaign that fails is reported and retried when
        its lease expires.
    """
    from campaign_core.errors import CampaignCoreError

    settings = rt.settings
    with rt.transaction() as tx:
        _ensure_engine_row(tx, now)
        claimed: list[CampaignAnalyticsState] = tx.uow.campaign_analytics_state.claim(
            Lte("next_rollup_at", now),
            order_by=[Order("next_rollup_at"), Order("id")],
            limit=settings.tick_batch_size,
            owner=rt.worker_id,
            until=now + settings.lease_duration,
            now=now,
        )
    campaigns = snapshots = alerts = 0
    status = False
    errors: list[tuple[str, str]] = []
    for state in claimed:
        try:
            if state.id == ENGINE_ROW_ID:
                status = _publish_status_counts(rt, state, now) or status
                continue
            written, alerted = _rollup_campaign(rt, state, now)
        except CampaignCoreError as error:
            errors.append((state.campaign_id, str(error)))
            continue
        if written or alerted:
            campaigns += 1
        snapshots += written
        alerts += alerted
    return RollupReport(
        campaigns=campaigns,
        snapshots=snapshots,
        overspend_alerts=alerts,
        status_counts_emitted=status,
        errors=tuple(errors),
    )


def _release(
    tx: Tx, state: CampaignAnalyticsState, now: datetime, **changes: Any
) -> CampaignAnalyticsState:
    done = attrs.evolve(
        state,
        lease_owner=None,
        lease_until=None,
        updated_at=now,
        version=state.version + 1,
        **changes,
    )
    tx.uow.campaign_analytics_state.update(done)
    return done


def _publish_status_counts(rt: Runtime, state: CampaignAnalyticsState, now: datetime) -> bool:
    with rt.transaction() as tx:
        current = _get_state(tx, state.id)
        if current is None or current.lease_owner != rt.worker_id:
            return False
        counts = {s.value: tx.uow.campaigns.count(Eq("status", s)) for s in CampaignStatus}
        _release(tx, current, now, next_rollup_at=_hour_floor(now) + _HOUR)
        tx.after_commit.append(lambda: rt.emitter.campaign_status_counts(counts))
    return True


def _rollup_campaign(rt: Runtime, state: CampaignAnalyticsState, now: datetime) -> tuple[int, int]:
    """Roll one claimed campaign up; returns (snapshot rows written, overspend alerts)."""
    with rt.transaction() as tx:
        current = _get_state(tx, state.id)
        if current is None or current.lease_owner != rt.worker_id:
            return 0, 0  # the lease expired and another worker took it
        campaign: Campaign | None = tx.uow.campaigns.get(current.campaign_id)
        if campaign is None:
            tx.uow.campaign_analytics_state.delete(current.id)  # the campaign was deleted
            return 0, 0
        hours = hours_to_roll_up(
            now,
            last_rolled=current.last_rolled_hour,
            since=current.first_event_at,
            max_hours=MAX_ROLLUP_HOURS,
        )
        aggregates = _aggregates(tx.uow)
        all_time = aggregates.counts([campaign.id])[campaign.id]
        untracked = _untracked_spend(campaign, all_time)
        platforms = [p.value for p in campaign.platforms]
        rows: list[CampaignMetric] = []
        latest: CampaignMetrics | None = None
        for hour in hours:
            end = hour + _HOUR
            counts = all_time
            if all_time.last_event_at is not None and all_time.last_event_at >= end:
                counts = aggregates.counts([campaign.id], before=end)[campaign.id]
            latest = _metrics(campaign, counts, untracked)
            rows.extend(snapshot_rows(campaign.id, hour, latest, platforms=platforms))
        written = _upsert_snapshots(tx, rows)
        alerted = _check_overspend(rt, tx, campaign, now)
        fresh = _get_state(tx, current.id) or current
        live = campaign.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED)
        _release(
            tx,
            fresh,
            now,
            last_rolled_hour=hours[-1] if hours else fresh.last_rolled_hour,
            next_rollup_at=_hour_floor(now) + _HOUR if live else None,
        )
        if latest is not None:
            tx.after_commit.append(_rollup_metrics_hook(rt, campaign, latest))
    return written, alerted


def _rollup_metrics_hook(
    rt: Runtime, campaign: Campaign, metrics: CampaignMetrics
) -> Callable[[], None]:
    def emit() -> None:
        kind = campaign.type.value
        if metrics.totals.roi is not None:
            rt.emitter.campaign_roi(
                roi=metrics.totals.roi, campaign_type=kind, owner_id=campaign.user_id
            )
        if campaign.budget:
            rt.emitter.budget_utilization(
                spent=campaign.spent,
                budget=campaign.budget,
                campaign_type=kind,
                owner_id=campaign.user_id,
            )

    return emit


def _upsert_snapshots(tx: Tx, rows: Sequence[CampaignMetric]) -> int:
    """Insert new snapshots and refresh existing ones, matched by ``rollup_key``."""
    if not rows:
        return 0
    repo = tx.uow.campaign_metrics
    keys = [r.rollup_key for r in rows if r.rollup_key is not None]
    existing: dict[str, CampaignMetric] = {}
    for chunk in _chunked(keys):
        for row in repo.find(In("rollup_key", chunk)):
            if row.rollup_key is not None:
                existing[row.rollup_key] = row
    fresh: list[CampaignMetric] = []
    for row in rows:
        old = existing.get(row.rollup_key or "")
        if old is None:
            fresh.append(row)
        elif old != attrs.evolve(row, id=old.id):
            repo.update(attrs.evolve(row, id=old.id))
    repo.add_many(fresh)
    return len(rows)


# ---------------------------------------------------------------------- privacy hooks


def register_analytics_hooks(rt: Runtime) -> None:
    """Plug tracking data into ``fans.erase_fan`` and ``fans.export_fan`` (idempotent).

    Erasure replaces the fan's id in their tracking events by the erasure
    token (one token per erased fan, so reach, a count of distinct fans,
    stays right); the export lists the fan's tracking events.
    """
    if any(getattr(h, "_campaign_core_analytics", False) for h in rt.fan_erase_hooks):
        return

    def erase(tx: Tx, fan: Any, token: str) -> dict[str, int]:
        ids = [c.id for c in tx.uow.campaigns.find(Eq("user_id", fan.owner_id))]
        changed = _aggregates(tx.uow).anonymize_fan(ids, fan.fan_id, token) if ids else 0
        owner = fan.owner_id
        tx.after_commit.append(lambda: _forget(rt, owner, [*ids, "*"]))
        return {"tracking_events_anonymized": changed}

    def export(tx: Tx, fan: Any) -> dict[str, Any]:
        ids = [c.id for c in tx.uow.campaigns.find(Eq("user_id", fan.owner_id))]
        events: list[TrackingEventRecord] = []
        for chunk in _chunked(ids):
            events.extend(
                tx.uow.tracking_events.find(
                    And(In("campaign_id", chunk), Eq("fan_id", fan.fan_id)),
                    order_by=[Order("occurred_at"), Order("id")],
                )
            )
        events.sort(key=lambda e: (e.occurred_at, e.id))
        return {"trackingEvents": to_json(events)}

    setattr(erase, "_campaign_core_analytics", True)  # noqa: B010 - a marker on a closure
    rt.fan_erase_hooks.append(erase)
    rt.fan_export_hooks.append(export)
