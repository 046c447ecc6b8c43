"""The segment refresh: what ``tick()`` does for segments, and the recompute it shares.

Dynamic and hybrid segments are refreshed daily (:func:`refresh_due_segments`,
called by ``core.tick()``): their members are recomputed from their criteria,
who entered and who exited is written, and the statistics on the segment
(``member_count``, ``avg_engagement``, ``avg_revenue``) are brought up to date.
The segment service runs the same recompute (``recompute_segment``) when a
segment is created, its criteria change, or a refresh is asked for by hand.
Fans who enter go to the runtime's ``segment_entered_hooks`` in the same
transaction (automations start from there), fans who exit to its
``segment_exited_hooks`` (runs waiting for that exit wake from there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from campaign_core._runtime import Runtime, Tx
from campaign_core.audience import (
    audience_for,
    registry_for,
    segment_criteria,
    segment_exclusions,
    valid_segment_criteria,
)
from campaign_core.cache import TtlCache
from campaign_core.clock import ensure_utc, truncate_ms
from campaign_core.criteria import Criteria, FieldRegistry, InSegment
from campaign_core.errors import CampaignCoreError, ConflictError
from campaign_core.models import MemberSource, Segment, SegmentMember, SegmentType
from campaign_core.ports import AudienceSummary
from campaign_core.query import And, Eq, In, IsNull, Lte, Or, Order

__all__ = [
    "refresh_due_segments",
]

_log = logging.getLogger("campaign_core.segments")

REFRESH_INTERVAL: Final = timedelta(hours=24)
"""Dynamic and hybrid segments are refreshed by ``tick()`` once they are this old."""

_CHUNK: Final = 500


# -- the segment size cache -------------------------------------------------------------------


def segment_size_cache(rt: Runtime) -> TtlCache[object]:
    """The core's segment-size cache (the seed's 5-minute TTL; see campaign_core.cache)."""
    return rt.caches.segment_size


def forget_segment_sizes(rt: Runtime, account_id: str) -> None:
    """Drop the cached segment sizes of an account (called after writes to its fans or segments)."""
    rt.caches.for_account(rt.caches.segment_size, account_id)


@attrs.frozen
class RefreshResult:
    """What a refresh did.

    Attributes:
        segment: the segment as stored after the refresh (counts and averages).
        entered: fans that became members (sorted).
        exited: fans that stopped being members (sorted).
        refreshed_at: the instant the criteria were evaluated for.
    """

    segment: Segment
    entered: tuple[str, ...]
    exited: tuple[str, ...]
    refreshed_at: datetime

    @property
    def entered_count(self) -> int:
        return len(self.entered)

    @property
    def exited_count(self) -> int:
        return len(self.exited)


# -- refresh -----------------------------------------------------------------------------------


def _members_of(tx: Tx, segment_id: str) -> dict[str, SegmentMember]:
    return {row.fan_id: row for row in tx.uow.segment_members.find(Eq("segment_id", segment_id))}


def _delete_members(tx: Tx, segment_id: str, fan_ids: Sequence[str]) -> None:
    for start in range(0, len(fan_ids), _CHUNK):
        chunk = fan_ids[start : start + _CHUNK]
        tx.uow.segment_members.delete_where(And(Eq("segment_id", segment_id), In("fan_id", chunk)))


def segment_summary(rt: Runtime, tx: Tx, segment: Segment, now: datetime) -> AudienceSummary:
    return audience_for(tx.uow).summarize_matching(
        segment.user_id,
        Criteria(InSegment(segment.id)),
        now=now,
        registry=registry_for(rt.settings),
    )


def recompute_segment(
    rt: Runtime,
    tx: Tx,
    segment: Segment,
    now: datetime,
    *,
    pinned: Iterable[str] = (),
) -> RefreshResult:
    """Bring a segment's members and statistics up to date, inside ``tx``.

    Static segments keep their members; dynamic ones take exactly the criteria's
    matches; hybrid ones the matches minus the exclusions plus the manual rows.
    ``pinned`` fans become manual members (create/add). Fans that enter go to the
    runtime's ``segment_entered_hooks``.
    """
    current = _members_of(tx, segment.id)
    pinned_set = set(pinned)
    manual = {fid for fid, row in current.items() if row.source is MemberSource.MANUAL}
    criteria = segment_criteria(segment, registry_for(rt.settings))
    if segment.type is SegmentType.STATIC or criteria is None:
        target = set(current) | pinned_set
    else:
        matches = set(
            audience_for(tx.uow).fan_ids_matching(
                segment.user_id, criteria, now=now, registry=registry_for(rt.settings)
            )
        )
        target = matches - set(segment_exclusions(segment))
        if segment.type is SegmentType.HYBRID:
            target |= manual | pinned_set
    entered = sorted(target - set(current))
    exited = sorted(set(current) - target)
    _delete_members(tx, segment.id, exited)
    rows = [
        SegmentMember(
            id=rt.ids.new_id("member"),
            segment_id=segment.id,
            fan_id=fan_id,
            added_at=now,
            source=MemberSource.MANUAL if fan_id in pinned_set else MemberSource.CRITERIA,
        )
        for fan_id in entered
    ]
    if rows:
        tx.uow.segment_members.add_many(rows)
    for fan_id in sorted(pinned_set & set(current)):
        row = current[fan_id]
        if row.source is not MemberSource.MANUAL:
            tx.uow.segment_members.update(attrs.evolve(row, source=MemberSource.MANUAL))
    summary = segment_summary(rt, tx, segment, now)
    updated = attrs.evolve(
        segment,
        member_count=len(target),
        last_refreshed_at=now,
        avg_engagement=_mean(summary.engagement_sum, summary.engagement_count),
        avg_revenue=_mean(summary.lifetime_value_sum, summary.lifetime_value_count),
        updated_at=now,
        version=segment.version + 1,
    )
    tx.uow.segments.update(updated)
    if entered:
        for hook in rt.segment_entered_hooks:
            hook(tx, updated, list(entered))
    if exited:
        for hook in rt.segment_exited_hooks:
            hook(tx, updated, list(exited))
    account = segment.user_id
    tx.after_commit.append(lambda: forget_segment_sizes(rt, account))
    return RefreshResult(
        segment=updated, entered=tuple(entered), exited=tuple(exited), refreshed_at=now
    )


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def _dependencies_first(due: Sequence[Segment], registry: FieldRegistry) -> list[Segment]:
    """Segments ordered so that one referring to another (``in_segment``) comes after it."""
    by_id = {s.id: s for s in due}
    done: set[str] = set()
    out: list[Segment] = []

    def visit(segment: Segment, depth: int) -> None:
        if segment.id in done or depth > 32:
            return
        done.add(segment.id)
        criteria = valid_segment_criteria(segment, registry)
        for ref in sorted(criteria.segment_ids()) if criteria else ():
            if ref in by_id:
                visit(by_id[ref], depth + 1)
        out.append(segment)

    for segment in due:
        visit(segment, 0)
    return out


def refresh_due_segments(
    rt: Runtime, now: datetime | None = None, limit: int | None = None
) -> list[str]:
    """Refresh the dynamic and hybrid segments not refreshed for ``REFRESH_INTERVAL``.

    For ``tick()``: segments never refreshed come first, then the stalest; a
    segment that refers to another due segment is refreshed after it. Each
    segment is refreshed in its own unit of work; when two workers race, the
    second one's stale write is rejected and rolled back (and skipped here).
    A segment that fails is logged and skipped.

    Args:
        rt: the core's runtime.
        now: the instant to refresh for (default: the clock's now).
        limit: at most this many segments (default: ``Settings.tick_batch_size``).

    Returns:
        The ids of the segments refreshed.
    """
    now = rt.now() if now is None else truncate_ms(ensure_utc(now, path="now"))
    size = rt.settings.tick_batch_size if limit is None else limit
    with rt.transaction() as tx:
        due = tx.uow.segments.find(
            And(
                In("type", [SegmentType.DYNAMIC, SegmentType.HYBRID]),
                Or(IsNull("last_refreshed_at"), Lte("last_refreshed_at", now - REFRESH_INTERVAL)),
            ),
            order_by=[Order("last_refreshed_at"), Order("id")],
            limit=size,
        )
    refreshed: list[str] = []
    for segment in _dependencies_first(due, registry_for(rt.settings)):
        try:
            with rt.transaction() as tx:
                current = tx.uow.segments.get(segment.id)
                if current is None or current.version != segment.version:
                    continue  # deleted, or refreshed or edited meanwhile
                recompute_segment(rt, tx, current, now)
            refreshed.append(segment.id)
        except ConflictError:
            continue  # another worker refreshed it first
        except CampaignCoreError as error:
            _log.warning("refresh of segment %s failed: %s", segment.id, error)
    return refreshed
