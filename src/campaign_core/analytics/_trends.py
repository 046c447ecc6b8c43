"""Performance over time: buckets over a timeframe and the change against the previous period.

The timeframe is a rolling window ``[start, end)``: ``timeframe="7d"`` with
``now`` means exactly the last seven days up to ``now``, so it and the
previous period (the seven days before) have the same length and the change
between them is a fair comparison. Buckets are aligned on calendar
boundaries (UTC hours; midnights and Mondays in the given time zone for days
and weeks), so the first and the last bucket are usually partial: each bucket
says where it really starts and ends and whether it is ``partial``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core.analytics._aggregate import _distinct_per_group
from campaign_core.analytics._definitions import MetricTotals, make_totals
from campaign_core.analytics._events import (
    CLICK,
    CONVERSION,
    IMPRESSION,
    SPEND,
    EventBatch,
    epoch_ms,
)
from campaign_core.clock import truncate_ms
from campaign_core.durations import parse_duration
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import CampaignMetric

__all__ = [
    "BUCKETS",
    "MAX_BUCKETS",
    "TIMEFRAMES",
    "MetricChange",
    "Trend",
    "TrendBucket",
    "choose_bucket",
    "performance_trend",
    "performance_trend_from_snapshots",
    "resolve_timeframe",
]

BucketSize: TypeAlias = Literal["hour", "day", "week"]
BUCKETS: tuple[str, ...] = ("hour", "day", "week")
#: The named timeframes; any duration the library's parser reads is accepted too.
TIMEFRAMES: tuple[str, ...] = ("24h", "7d", "30d", "90d")
MAX_BUCKETS = 5000
MAX_TIMEFRAME = timedelta(days=3660)
CHANGE_METRICS: tuple[str, ...] = (
    "impressions",
    "reach",
    "clicks",
    "conversions",
    "revenue",
    "spent",
    "ctr",
    "conversion_rate",
    "roi",
    "cpa",
)
SNAPSHOT_DECREASED = "snapshot_counters_decreased"


@attrs.frozen(kw_only=True)
class TrendBucket:
    """One bucket of a trend.

    Attributes:
        start: where the bucket starts (clipped to the timeframe).
        end: where it ends, exclusive (clipped to the timeframe).
        partial: whether clipping made it shorter than a calendar bucket.
        metrics: the bucket's numbers (reach: distinct fans within the bucket).
    """

    start: datetime
    end: datetime
    partial: bool
    metrics: MetricTotals


@attrs.frozen(kw_only=True)
class MetricChange:
    """One metric now against the previous period of equal length.

    Attributes:
        metric: the metric's name (``impressions``, ``ctr``...).
        current: its value in the timeframe.
        previous: its value in the previous period.
        absolute: ``current - previous`` (``None`` when either is ``None``).
        relative: ``absolute / previous`` (``None`` when ``previous`` is 0 or ``None``).
    """

    metric: str
    current: float | None
    previous: float | None
    absolute: float | None
    relative: float | None


@attrs.frozen(kw_only=True)
class Trend:
    """A campaign's (or an owner's) performance over a timeframe.

    Attributes:
        start: the timeframe's start.
        end: its end, exclusive.
        bucket: ``hour``, ``day`` or ``week``.
        timezone: the zone day and week buckets follow (hours are UTC hours).
        buckets: the buckets in time order, empty ones included.
        totals: the whole timeframe.
        previous_start: the previous period's start (``start - (end - start)``).
        previous: the previous period's totals.
        changes: each metric against the previous period.
        flags: notes about the data (``snapshot_counters_decreased`` when a
            cumulative snapshot went down, e.g. after a fan's data was erased;
            such decreases are counted as 0).
    """

    start: datetime
    end: datetime
    bucket: str
    timezone: str
    buckets: tuple[TrendBucket, ...]
    totals: MetricTotals
    previous_start: datetime
    previous: MetricTotals
    changes: tuple[MetricChange, ...]
    flags: tuple[str, ...] = ()


# ---------------------------------------------------------------------- timeframe


def _aware(value: object, path: str, problems: ProblemCollector) -> datetime | None:
    if not isinstance(value, datetime):
        problems.add(path, f"must be an aware datetime, got {type(value).__name__}", "invalid_type")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(
            path, "must be timezone-aware (naive datetimes are ambiguous)", "invalid_value"
        )
        return None
    return truncate_ms(value.astimezone(UTC))


def resolve_timeframe(
    *,
    timeframe: str | timedelta | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The ``[start, end)`` a trend covers.

    Args:
        timeframe: ``"24h"``, ``"7d"``, ``"30d"``, ``"90d"`` or any duration
            (``"2 weeks"``, a timedelta); the window ends at ``now``.
        start: an explicit start (with ``end``; not with ``timeframe``).
        end: an explicit end, exclusive.
        now: the current instant, from the caller's clock (with ``timeframe``).

    Returns:
        ``(start, end)``, aware UTC, to the millisecond.

    Raises:
        ValidationError: neither or both forms, a missing ``now``, naive
            datetimes, an empty or reversed window, or one above ten years.
    """
    problems = ProblemCollector()
    if timeframe is not None:
        if start is not None or end is not None:
            problems.add(
                "timeframe", "give either a timeframe or start and end, not both", "invalid_value"
            )
            problems.raise_if_any()
        if now is None:
            problems.add(
                "now", "is required with a timeframe (pass your clock's now())", "required"
            )
            problems.raise_if_any()
        length = parse_duration(timeframe, path="timeframe")
        stop = _aware(now, "now", problems)
        problems.raise_if_any()
        assert stop is not None
        if length <= timedelta(0) or length > MAX_TIMEFRAME:
            raise ValidationError.single(
                "timeframe", "must be longer than 0 and at most 10 years", "out_of_range"
            )
        return stop - length, stop
    if start is None or end is None:
        problems.add(
            "" if start is None and end is None else ("start" if start is None else "end"),
            "give a timeframe (with now) or both start and end",
            "required",
        )
        problems.raise_if_any()
    begin = _aware(start, "start", problems)
    stop = _aware(end, "end", problems)
    problems.raise_if_any()
    assert begin is not None
    assert stop is not None
    if stop <= begin:
        raise ValidationError.single("end", "must be after start", "out_of_range")
    if stop - begin > MAX_TIMEFRAME:
        raise ValidationError.single(
            "end", "the window must be at most 10 years long", "out_of_range"
        )
    return begin, stop


def choose_bucket(span: timedelta) -> str:
    """The bucket size :func:`performance_trend` picks when none is given.

    Args:
        span: the timeframe's length.

    Returns:
        ``"hour"`` up to 2 days, ``"day"`` up to 92 days, ``"week"`` beyond.

    Raises:
        ValidationError: ``span`` is not a positive timedelta.
    """
    if not isinstance(span, timedelta) or span <= timedelta(0):
        raise ValidationError.single("span", "must be a positive timedelta", "invalid_value")
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=92):
        return "day"
    return "week"


def _zone(name: object) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise ValidationError.single(
            "timezone", "must be an IANA zone name such as 'Europe/Paris'", "invalid_type"
        )
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError.single(
            "timezone", f"{name!r} is not a known IANA time zone", "invalid_value"
        ) from None


def _boundaries(start: datetime, end: datetime, bucket: str, zone: tzinfo) -> list[datetime]:
    """Calendar boundaries b0 <= start < ... < bk >= end."""
    out: list[datetime] = []
    if bucket == "hour":
        current = start.replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
        while True:
            out.append(current)
            if current >= end:
                return out
            current += step
            if len(out) > MAX_BUCKETS + 1:
                return out
    local = start.astimezone(zone).date()
    if bucket == "week":
        local -= timedelta(days=local.weekday())
    step_days = 7 if bucket == "week" else 1
    while True:
        # midnight of a local date; a midnight inside a DST gap resolves to the day's first instant
        boundary = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
        out.append(boundary)
        if boundary >= end or len(out) > MAX_BUCKETS + 1:
            return out
        local += timedelta(days=step_days)


def _check_options(bucket: object, span: timedelta) -> str:
    if bucket is None:
        return choose_bucket(span)
    if bucket not in BUCKETS:
        raise ValidationError.single(
            "bucket", f"must be one of {', '.join(BUCKETS)} or None (automatic)", "invalid_value"
        )
    return str(bucket)


# ---------------------------------------------------------------------- engine


@attrs.frozen
class _Rows:
    """Timed rows to bucket: tracking events, or snapshot increments.

    Events carry ``kind`` and ``value`` (one count per row); increments carry
    per-row amounts in ``amounts`` (impressions, clicks, conversions, revenue,
    spent). Reach needs the times and fan codes of identified impressions.
    """

    t: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8] | None = None
    value: npt.NDArray[np.float64] | None = None
    amounts: dict[str, npt.NDArray[np.float64]] | None = None
    fan_t: npt.NDArray[np.int64] | None = None
    fans: npt.NDArray[np.int64] | None = None


def _rows_from_events(batch: EventBatch) -> _Rows:
    fan_t = fans = None
    if batch.fan is not None:
        seen = (batch.kind == IMPRESSION) & (batch.fan >= 0)
        fan_t = batch.occurred_at_ms[seen]
        fans = batch.fan[seen]
    return _Rows(t=batch.occurred_at_ms, kind=batch.kind, value=batch.value, fan_t=fan_t, fans=fans)


def _interval_index(
    t: npt.NDArray[np.int64], bounds_ms: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each time's interval ``[bounds[i], bounds[i+1])``; ``k`` (a discard bin) outside them all."""
    k = bounds_ms.shape[0] - 1
    idx = np.searchsorted(bounds_ms, t, side="right").astype(np.int64) - 1
    idx[(idx < 0) | (idx >= k)] = k
    return idx


def _sums(rows: _Rows, bounds_ms: npt.NDArray[np.int64]) -> tuple[list[MetricTotals], int | None]:
    """Totals per interval ``[bounds[i], bounds[i+1])``, and the distinct fans of intervals 1..k-1.

    One pass over the rows for every interval at once: the caller puts the
    previous period first and the buckets after it, so the window's reach
    (not additive) comes out of the same index.
    """
    k = bounds_ms.shape[0] - 1
    idx = _interval_index(rows.t, bounds_ms)
    sumsq: list[float] | None = None
    if rows.kind is not None and rows.value is not None:
        key = idx * 4 + rows.kind
        per_kind = np.bincount(key, minlength=4 * (k + 1)).reshape(k + 1, 4)[:k]
        money = np.bincount(key, weights=rows.value, minlength=4 * (k + 1)).reshape(k + 1, 4)[:k]
        squares = np.bincount(key, weights=rows.value * rows.value, minlength=4 * (k + 1))
        imp = per_kind[:, IMPRESSION].tolist()
        clk = per_kind[:, CLICK].tolist()
        conv = per_kind[:, CONVERSION].tolist()
        rev = money[:, CONVERSION].tolist()
        spent = money[:, SPEND].tolist()
        sumsq = squares.reshape(k + 1, 4)[:k, CONVERSION].tolist()
    else:
        assert rows.amounts is not None

        def per(name: str) -> npt.NDArray[np.float64]:
            summed = np.bincount(idx, weights=rows.amounts[name], minlength=k + 1)[:k]  # type: ignore[index]
            return np.asarray(summed, dtype=np.float64)

        imp, clk, conv = (
            np.rint(per(n)).astype(np.int64).tolist()
            for n in ("impressions", "clicks", "conversions")
        )
        rev, spent = per("revenue").tolist(), per("spent").tolist()
    reach: list[int] | None = None
    window_reach: int | None = None
    if rows.fan_t is not None and rows.fans is not None:
        fan_idx = _interval_index(rows.fan_t, bounds_ms)
        reach = _distinct_per_group(fan_idx, rows.fans, k + 1)[:k].tolist()
        inside = (fan_idx >= 1) & (fan_idx < k)
        window_reach = int(
            _distinct_per_group(np.zeros(int(inside.sum()), dtype=np.int64), rows.fans[inside], 1)[
                0
            ]
        )
    totals = [
        make_totals(
            impressions=int(imp[i]),
            clicks=int(clk[i]),
            conversions=int(conv[i]),
            revenue=max(0.0, float(rev[i])),
            spent=max(0.0, float(spent[i])),
            reach=None if reach is None else int(reach[i]),
            revenue_sum_squares=None if sumsq is None else max(0.0, float(sumsq[i])),
        )
        for i in range(k)
    ]
    return totals, window_reach


def _add(parts: Sequence[MetricTotals], reach: int | None) -> MetricTotals:
    sumsq = [p.revenue_sum_squares for p in parts]
    return make_totals(
        impressions=sum(p.impressions for p in parts),
        clicks=sum(p.clicks for p in parts),
        conversions=sum(p.conversions for p in parts),
        revenue=math.fsum(p.revenue for p in parts),
        spent=math.fsum(p.spent for p in parts),
        reach=reach,
        revenue_sum_squares=None
        if any(v is None for v in sumsq)
        else math.fsum(v or 0.0 for v in sumsq),
    )


def _value(m: MetricTotals, name: str) -> float | None:
    value = getattr(m, name)
    return None if value is None else float(value)


def _changes(current: MetricTotals, previous: MetricTotals) -> tuple[MetricChange, ...]:
    out = []
    for name in CHANGE_METRICS:
        now_v, before = _value(current, name), _value(previous, name)
        absolute = None if now_v is None or before is None else now_v - before
        relative = None if absolute is None or not before else absolute / before
        out.append(
            MetricChange(
                metric=name,
                current=now_v,
                previous=before,
                absolute=absolute,
                relative=relative if relative is None or math.isfinite(relative) else None,
            )
        )
    return tuple(out)


def _trend(
    rows: _Rows,
    *,
    timeframe: str | timedelta | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None,
    bucket: str | None,
    timezone: str,
    flags: tuple[str, ...] = (),
) -> Trend:
    begin, stop = resolve_timeframe(timeframe=timeframe, start=start, end=end, now=now)
    size = _check_options(bucket, stop - begin)
    zone = _zone(timezone)
    bounds = _boundaries(begin, stop, size, zone)
    if len(bounds) - 1 > MAX_BUCKETS:
        raise ValidationError.single(
            "bucket",
            f"{size} buckets over this timeframe would be more than {MAX_BUCKETS}; choose a larger bucket",
            "out_of_range",
        )
    # clip the calendar boundaries to the window: first and last bucket may be partial
    edges = [begin, *bounds[1:-1], stop]
    length = stop - begin
    prev_start = begin - length
    # one pass: interval 0 is the previous period, 1..n the buckets
    all_ms = np.asarray([epoch_ms(prev_start), *(epoch_ms(e) for e in edges)], dtype=np.int64)
    sums, window_reach = _sums(rows, all_ms)
    previous, per_bucket = sums[0], sums[1:]
    totals = _add(per_bucket, window_reach)
    buckets = tuple(
        TrendBucket(
            start=edges[i],
            end=edges[i + 1],
            partial=edges[i] != bounds[i] or edges[i + 1] != bounds[i + 1],
            metrics=per_bucket[i],
        )
        for i in range(len(per_bucket))
    )
    return Trend(
        start=begin,
        end=stop,
        bucket=size,
        timezone="UTC" if zone is UTC else timezone,
        buckets=buckets,
        totals=totals,
        previous_start=prev_start,
        previous=previous,
        changes=_changes(totals, previous),
        flags=flags,
    )


def performance_trend(
    events: EventBatch,
    *,
    timeframe: str | timedelta | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    bucket: BucketSize | None = None,
    timezone: str = "UTC",
) -> Trend:
    """Bucket tracking events over a timeframe (the seed's ``getPerformanceTrends``).

    Pass the events from ``start - (end - start)`` to ``end``: the earlier half
    makes the previous period the changes compare with. Events outside both
    are ignored.

    Args:
        events: the tracking events (one campaign or several: all are counted).
        timeframe: ``"24h"``, ``"7d"``, ``"30d"``, ``"90d"`` or any duration, ending at ``now``.
        start: an explicit start (with ``end``, instead of ``timeframe``).
        end: an explicit end, exclusive.
        now: the current instant (required with ``timeframe``).
        bucket: ``hour``, ``day``, ``week``, or ``None`` to choose from the
            span (hours up to 2 days, days up to 92 days, weeks beyond).
        timezone: the IANA zone whose midnights (and Mondays) bound day and
            week buckets; hour buckets are always UTC hours.

    Returns:
        The :class:`Trend`; empty buckets are present with zero counts.

    Raises:
        ValidationError: a bad timeframe, bucket or zone, or more than 5000 buckets.
    """
    if not isinstance(events, EventBatch):
        raise ValidationError.single("events", "must be an EventBatch", "invalid_type")
    return _trend(
        _rows_from_events(events),
        timeframe=timeframe,
        start=start,
        end=end,
        now=now,
        bucket=bucket,
        timezone=timezone,
    )


def performance_trend_from_snapshots(
    snapshots: Sequence[CampaignMetric],
    *,
    timeframe: str | timedelta | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    bucket: BucketSize | None = None,
    timezone: str = "UTC",
    platform: str | None = None,
) -> Trend:
    """Bucket hourly roll-up snapshots over a timeframe (cheap for many campaigns).

    Snapshots are cumulative (see ``snapshot_rows``): each hour's numbers
    are the difference between consecutive snapshots of one campaign, placed
    at the snapshot's ``period_start`` (or ``recorded_at`` when it has none).
    Pass, for each campaign, the last snapshot before the previous period too:
    it is the baseline of the first difference (without it, the first
    snapshot's whole history lands in its hour). Reach cannot be derived from
    cumulative snapshots and is ``None``.

    Args:
        snapshots: :class:`~campaign_core.models.CampaignMetric` rows, any order,
            any number of campaigns.
        timeframe: as in :func:`performance_trend`.
        start: as in :func:`performance_trend`.
        end: as in :func:`performance_trend`.
        now: as in :func:`performance_trend`.
        bucket: as in :func:`performance_trend`.
        timezone: as in :func:`performance_trend`.
        platform: which rows to use: ``None`` for the aggregated rows, or a platform.

    Returns:
        The :class:`Trend` (flagged ``snapshot_counters_decreased`` if a
        counter went down between snapshots; such decreases count as 0).

    Raises:
        ValidationError: rows that are not snapshots, or bad options.
    """
    given: object = snapshots
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise ValidationError.single(
            "snapshots", "must be a list of CampaignMetric", "invalid_type"
        )
    series: dict[str, list[tuple[int, CampaignMetric]]] = {}
    index_of: dict[int, int] = {}
    for index, row in enumerate(snapshots):
        if not isinstance(row, CampaignMetric):
            raise ValidationError.single(
                join_path("snapshots", index), "must be a CampaignMetric", "invalid_type"
            )
        if row.platform != platform:
            continue
        index_of[id(row)] = index
        at = row.period_start if row.period_start is not None else row.recorded_at
        problems = ProblemCollector()
        clean = _aware(at, join_path(join_path("snapshots", index), "period_start"), problems)
        problems.raise_if_any()
        assert clean is not None
        series.setdefault(row.campaign_id, []).append((epoch_ms(clean), row))
    t: list[int] = []
    cols: dict[str, list[float]] = {
        k: [] for k in ("impressions", "clicks", "conversions", "revenue", "spent")
    }
    decreased = False
    for campaign_id in sorted(series):
        rows = sorted(series[campaign_id], key=lambda pair: pair[0])
        previous = dict.fromkeys(cols, 0.0)
        for at_ms, row in rows:
            t.append(at_ms)
            for name in cols:
                value = getattr(row, name)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                    or value < 0
                ):
                    raise ValidationError.single(
                        join_path(join_path("snapshots", index_of[id(row)]), name),
                        "must be a finite number >= 0",
                        "invalid_value",
                    )
                value = float(value)
                delta = value - previous[name]
                if delta < 0:
                    decreased = True
                    delta = 0.0
                cols[name].append(delta)
                previous[name] = value
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in cols.items()}
    rows_ = _Rows(t=np.asarray(t, dtype=np.int64), amounts=arrays)
    return _trend(
        rows_,
        timeframe=timeframe,
        start=start,
        end=end,
        now=now,
        bucket=bucket,
        timezone=timezone,
        flags=(SNAPSHOT_DECREASED,) if decreased else (),
    )
