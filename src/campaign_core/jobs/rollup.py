"""The hourly roll-up job: ``CampaignMetric`` snapshots, ROI gauges, the overspend alarm.

``core.tick()`` calls :func:`run_hourly_rollup`. Tracking (the analytics
service) arms a campaign's roll-up with ``arm_rollup`` and checks spend
against the alarm with ``check_overspend``, both in its own transaction;
the metrics of a campaign from its counters (:func:`campaign_metrics`) are
shared with the service's queries, so snapshots and live numbers agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core._tracking_fallback import chunked, tracking_aggregates
from campaign_core.alerts import Alert, AlertKind
from campaign_core.analytics import (
    OVERSPEND_ALARM_RATIO,
    CampaignMetrics,
    goal_progress,
    hours_to_roll_up,
    metrics_from_counts,
    snapshot_rows,
)
from campaign_core.errors import CampaignCoreError, ConflictError
from campaign_core.models import (
    Campaign,
    CampaignAnalyticsState,
    CampaignMetric,
    CampaignStatus,
)
from campaign_core.ports import TrackingCounts
from campaign_core.query import Eq, In, Lte, Order

__all__ = [
    "RollupReport",
    "run_hourly_rollup",
]

#: The id of the engine's own row in ``campaign_analytics_state`` (the hourly status gauge).
ENGINE_ROW_ID: Final = "engine:hourly"
#: Hours one roll-up run writes at most per campaign (snapshots are cumulative: a gap
#: after an outage loses only trend resolution, never numbers).
MAX_ROLLUP_HOURS: Final = 48

_HOUR = timedelta(hours=1)


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


# ---------------------------------------------------------------------- a campaign's numbers


def untracked_spend(campaign: Campaign, all_time: TrackingCounts) -> float:
    """Spend on the campaign's books that no spend event carries (``campaigns.record_spend``).

    Args:
        campaign: the campaign as stored.
        all_time: its all-time tracking counters.

    Returns:
        The gap between ``campaign.spent`` and the tracked spend (0 when none).
    """
    tracked = math.fsum(float(c.get("spent", 0.0)) for c in all_time.cells)
    gap = campaign.spent - tracked
    # float sums of the same amounts in another order differ in the last bits
    return gap if gap > 1e-9 * max(1.0, campaign.spent) else 0.0


def campaign_metrics(
    campaign: Campaign, counts: TrackingCounts, untracked: float | None = None
) -> CampaignMetrics:
    """A campaign's metrics from its counters.

    Spend recorded without tracking joins the unattributed group (platform and
    variant ``None``) so totals match the campaign's ``spent``.

    Args:
        campaign: the campaign as stored.
        counts: its tracking counters (all-time or up to an hour).
        untracked: the untracked spend, when already known (default: from ``counts``).

    Returns:
        The :class:`~campaign_core.analytics.CampaignMetrics`.
    """
    extra = untracked_spend(campaign, counts) if untracked is None else untracked
    cells = [dict(c) for c in counts.cells]
    if extra > 0:
        home = next((c for c in cells if c["platform"] is None and c["variantId"] is None), None)
        if home is None:
            cells.append({"platform": None, "variantId": None, "spent": extra})
        else:
            home["spent"] = float(home.get("spent", 0.0)) + extra
    metrics = metrics_from_counts(
        cells,
        reach=counts.reach,
        campaign_id=campaign.id,
        first_event_at=counts.first_event_at,
        last_event_at=counts.last_event_at,
    )
    if not campaign.goals:
        return metrics
    goals = goal_progress(
        campaign.goals, metrics.totals, budget=campaign.budget, spent=campaign.spent
    )
    return attrs.evolve(metrics, goals=goals)


def hour_floor(value: datetime) -> datetime:
    """The start of the UTC hour ``value`` is in.

    Args:
        value: an aware datetime.

    Returns:
        The hour's start, in UTC.
    """
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------- tracking's bookkeeping


def _get_state(tx: Tx, campaign_id: str) -> CampaignAnalyticsState | None:
    state: CampaignAnalyticsState | None = tx.uow.campaign_analytics_state.get(campaign_id)
    return state


def arm_rollup(
    rt: Runtime, tx: Tx, campaign: Campaign, now: datetime, first_event_at: datetime
) -> None:
    """Make sure the hour ``now`` is in will be rolled up (creating the campaign's row).

    Writes only when something changes (at most once per campaign and hour),
    so tracking never turns the row into a hot spot. A concurrent writer that
    changed the row first has armed it (or is rolling it up): its version wins.

    Args:
        rt: the runtime.
        tx: the tracking call's transaction.
        campaign: the campaign tracked.
        now: the tracking call's instant.
        first_event_at: the earliest event of the call for this campaign.
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


def check_overspend(rt: Runtime, tx: Tx, campaign: Campaign, now: datetime) -> int:
    """Alert once per budget when spend passes 110 % of it.

    Args:
        rt: the runtime.
        tx: the open transaction (the alert goes out after its commit).
        campaign: the campaign, with its current spend.
        now: the instant.

    Returns:
        1 if it alerted, else 0.
    """
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

    Raises:
        CampaignCoreError: the claim itself failed (the store is unavailable).
    """
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
        _release(tx, current, now, next_rollup_at=hour_floor(now) + _HOUR)
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
        aggregates = tracking_aggregates(tx.uow)
        all_time = aggregates.counts([campaign.id])[campaign.id]
        untracked = untracked_spend(campaign, all_time)
        platforms = [str(p) for p in campaign.platforms]
        rows: list[CampaignMetric] = []
        latest: CampaignMetrics | None = None
        for hour in hours:
            end = hour + _HOUR
            counts = all_time
            if all_time.last_event_at is not None and all_time.last_event_at >= end:
                counts = aggregates.counts([campaign.id], before=end)[campaign.id]
            latest = campaign_metrics(campaign, counts, untracked)
            rows.extend(snapshot_rows(campaign.id, hour, latest, platforms=platforms))
        written = _upsert_snapshots(tx, rows)
        alerted = check_overspend(rt, tx, campaign, now)
        fresh = _get_state(tx, current.id) or current
        live = campaign.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED)
        _release(
            tx,
            fresh,
            now,
            last_rolled_hour=hours[-1] if hours else fresh.last_rolled_hour,
            next_rollup_at=hour_floor(now) + _HOUR if live else None,
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
    for chunk in chunked(keys):
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
