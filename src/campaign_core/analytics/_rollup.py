"""The hourly roll-up: the seed's ``CampaignMetric`` snapshots, idempotent by ``rollup_key``.

**Snapshots are cumulative.** The row for hour ``H`` holds the campaign's
numbers *as of the end of that hour*: everything that occurred before
``H + 1h``, from the campaign's first event. ``recorded_at`` is that instant
(``H + 1h``) and ``period_start`` is ``H``. Why cumulative rather than
per-hour increments:

* A reader of the seed's table (a Prisma client) gets a campaign's current
  numbers from the latest row, the way the seed's ``recordedAt``-only model
  invites, and the stored CTR, conversion rate, ROI and CPA are the
  campaign's, not one hour's noise.
* Reach is a distinct count: increments of it cannot be added up, but a
  cumulative reach is exact.
* Late events (tracked after their hour was rolled up) are not lost: the next
  roll-up recomputes from all events, so the numbers heal by themselves.
* Hourly increments are still there: the difference between consecutive
  snapshots (:func:`performance_trend_from_snapshots` does that).

**Idempotent.** Each row's ``rollup_key`` is ``"{campaign}:{platform or *}:{hour}"``
(the hour in ``2026-01-01T09:00:00.000Z`` form) and its ``id`` is derived
from the key, and ``recorded_at`` is the hour's end, not the time the job ran:
rolling an hour up twice gives identical rows, so a store that upserts on
``rollup_key`` writes one row per campaign, platform and hour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from campaign_core.analytics._aggregate import CampaignMetrics, compute_metrics
from campaign_core.analytics._definitions import MetricTotals, make_totals
from campaign_core.analytics._events import EventBatch
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import CampaignMetric
from campaign_core.serialization import format_datetime

__all__ = [
    "ROLLUP_HOUR",
    "hours_to_roll_up",
    "rollup_hour",
    "rollup_key",
    "snapshot_id",
    "snapshot_rows",
]

ROLLUP_HOUR = timedelta(hours=1)
AGGREGATE = "*"


def _hour(value: object, path: str = "hour") -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(path, "must be an aware datetime", "invalid_type")
    hour = value.astimezone(UTC)
    if hour.minute or hour.second or hour.microsecond:
        raise ValidationError.single(
            path,
            f"must be the start of an hour (UTC), got {format_datetime(hour)}",
            "invalid_value",
        )
    return hour


def _campaign(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 191:
        raise ValidationError.single(
            "campaign_id", "must be a non-empty string (at most 191 characters)", "invalid_type"
        )
    return value


def rollup_key(campaign_id: str, platform: str | None, hour: datetime) -> str:
    """The unique key of one snapshot: ``campaign:platform|*:hourISO``.

    Args:
        campaign_id: the campaign.
        platform: the platform, or ``None`` for the aggregate (written ``*``).
        hour: the start of the hour (aware, on the hour).

    Returns:
        E.g. ``"c1:instagram:2026-01-01T09:00:00.000Z"``; the hour part has a
        fixed length, so the key is unambiguous even with ``:`` in the id.

    Raises:
        ValidationError: a bad id, a platform containing ``:`` or equal to
            ``*``, or an hour that is not on the hour.
    """
    campaign = _campaign(campaign_id)
    if platform is not None and (
        not isinstance(platform, str) or not platform or ":" in platform or platform == AGGREGATE
    ):
        raise ValidationError.single(
            "platform", "must be a name without ':' (and not '*'), or None", "invalid_value"
        )
    return f"{campaign}:{platform or AGGREGATE}:{format_datetime(_hour(hour))}"


def snapshot_id(key: str) -> str:
    """The row id of a snapshot, derived from its key so that a rerun writes the same row.

    Args:
        key: the snapshot's :func:`rollup_key`.

    Returns:
        ``cm_`` + the first 24 hex digits of the key's sha256.

    Raises:
        ValidationError: ``key`` is not a non-empty string.
    """
    if not isinstance(key, str) or not key:
        raise ValidationError.single("key", "must be a rollup key", "invalid_type")
    return "cm_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _row(campaign_id: str, platform: str | None, hour: datetime, m: MetricTotals) -> CampaignMetric:
    key = rollup_key(campaign_id, platform, hour)
    return CampaignMetric(
        id=snapshot_id(key),
        campaign_id=campaign_id,
        platform=platform,
        impressions=m.impressions,
        reach=m.reach if m.reach is not None else 0,
        clicks=m.clicks,
        conversions=m.conversions,
        revenue=m.revenue,
        spent=m.spent,
        ctr=m.ctr,
        conversion_rate=m.conversion_rate,
        roi=m.roi,
        cpa=m.cpa,
        recorded_at=hour + ROLLUP_HOUR,
        period_start=hour,
        rollup_key=key,
    )


def snapshot_rows(
    campaign_id: str,
    hour: datetime,
    metrics: CampaignMetrics,
    *,
    platforms: Sequence[str] = (),
) -> tuple[CampaignMetric, ...]:
    """The snapshot rows of one campaign for one hour, from its metrics as of the hour's end.

    This is the roll-up for a store that aggregates in SQL: compute the
    campaign's metrics over the events with ``occurred_at < hour + 1h`` (for
    example with :func:`metrics_from_counts`) and pass them here.

    Args:
        campaign_id: the campaign.
        hour: the start of the hour rolled up (aware, on the hour).
        metrics: the campaign's cumulative metrics as of ``hour + 1h``.
        platforms: platforms that get a row even without events (the
            campaign's platforms), with zero counts.

    Returns:
        The aggregate row (``platform`` None) first, then one row per
        platform, by name. Events without a platform count in the aggregate
        row only. An unknown reach is written as 0 (the column is not nullable).

    Raises:
        ValidationError: a bad id, hour, platform or metrics object.
    """
    campaign = _campaign(campaign_id)
    start = _hour(hour)
    if not isinstance(metrics, CampaignMetrics):
        raise ValidationError.single("metrics", "must be a CampaignMetrics", "invalid_type")
    if metrics.campaign_id is not None and metrics.campaign_id != campaign:
        raise ValidationError.single(
            "metrics",
            f"are campaign {metrics.campaign_id!r}'s, not {campaign!r}'s",
            "invalid_value",
        )
    if isinstance(platforms, str) or not isinstance(platforms, Sequence):
        raise ValidationError.single(
            "platforms", "must be a list of platform names", "invalid_type"
        )
    per: dict[str, MetricTotals] = {
        p.platform: p.metrics for p in metrics.by_platform if p.platform is not None
    }
    zero = make_totals(
        impressions=0,
        clicks=0,
        conversions=0,
        revenue=0.0,
        spent=0.0,
        reach=None if metrics.totals.reach is None else 0,
    )
    problems = ProblemCollector()
    for index, name in enumerate(platforms):
        if not isinstance(name, str) or not name:
            problems.add(join_path("platforms", index), "must be a platform name", "invalid_type")
        else:
            per.setdefault(name, zero)
    problems.raise_if_any()
    rows = [_row(campaign, None, start, metrics.totals)]
    rows.extend(_row(campaign, name, start, per[name]) for name in sorted(per))
    return tuple(rows)


def rollup_hour(
    campaign_id: str,
    hour: datetime,
    events: EventBatch,
    *,
    platforms: Sequence[str] = (),
) -> tuple[CampaignMetric, ...]:
    """The snapshot rows of one campaign for one hour, from its events.

    Args:
        campaign_id: the campaign.
        hour: the start of the hour rolled up (aware, on the hour).
        events: the campaign's events; those at or after ``hour + 1h`` are
            ignored (they belong to later snapshots), all earlier ones count
            (snapshots are cumulative).
        platforms: platforms that get a row even without events.

    Returns:
        As ``snapshot_rows``.

    Raises:
        ValidationError: a bad argument, or events of another campaign.
    """
    start = _hour(hour)
    if not isinstance(events, EventBatch):
        raise ValidationError.single("events", "must be an EventBatch", "invalid_type")
    metrics = compute_metrics(
        events.window(end=start + ROLLUP_HOUR), campaign_id=_campaign(campaign_id)
    )
    return snapshot_rows(campaign_id, start, metrics, platforms=platforms)


def hours_to_roll_up(
    now: datetime,
    *,
    last_rolled: datetime | None = None,
    since: datetime | None = None,
    max_hours: int = 48,
) -> tuple[datetime, ...]:
    """Which completed hours a roll-up run should (re)write, oldest first.

    An hour is complete once ``now >= hour + 1h``. After ``last_rolled`` (the
    last hour written) every later complete hour is due; without it, every
    complete hour from ``since`` (say, the campaign's first event); with
    neither, the last complete hour. Because snapshots are cumulative, a
    skipped hour loses only trend resolution, never numbers: after an outage
    only the most recent ``max_hours`` are returned.

    Args:
        now: the current instant (from the caller's clock).
        last_rolled: the start of the last hour already rolled up.
        since: the earliest instant of interest (when ``last_rolled`` is None).
        max_hours: the most hours returned (1-10000).

    Returns:
        Hour starts, aware UTC, oldest first (possibly empty).

    Raises:
        ValidationError: naive datetimes or a bad ``max_hours``.
    """
    problems = ProblemCollector()
    for name, value in (("now", now), ("last_rolled", last_rolled), ("since", since)):
        if value is not None and (
            not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None
        ):
            problems.add(name, "must be an aware datetime", "invalid_type")
    if (
        isinstance(max_hours, bool)
        or not isinstance(max_hours, int)
        or not 1 <= max_hours <= 10_000
    ):
        problems.add("max_hours", "must be an integer in [1, 10000]", "out_of_range")
    problems.raise_if_any()
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last_complete = current - ROLLUP_HOUR
    if last_rolled is not None:
        first = _floor(last_rolled) + ROLLUP_HOUR
    elif since is not None:
        first = _floor(since)
    else:
        first = last_complete
    first = max(first, last_complete - ROLLUP_HOUR * (max_hours - 1))
    count = int((last_complete - first) / ROLLUP_HOUR) + 1
    return tuple(first + ROLLUP_HOUR * i for i in range(max(0, count)))


def _floor(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
