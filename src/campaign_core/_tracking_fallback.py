"""Tracking aggregates without the store's capability: the reference the SQL path must equal.

:class:`RepositoryTrackingAggregates` computes, from ``uow.tracking_events`` in
Python, what a store's ``tracking_aggregates`` capability
(:class:`~campaign_core.ports.TrackingAggregates`) computes in the database. It
needs the ports and nothing above them, so stores may hand it out as their
capability and the contract suite checks a store's own capability against it.
:func:`tracking_aggregates` picks the store's capability when it has one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from campaign_core.models import TrackingEventRecord
from campaign_core.ports import (
    Repository,
    TrackingAggregates,
    TrackingCounts,
    UnitOfWork,
)
from campaign_core.query import And, Cond, Gte, In, Lt

__all__ = ["IN_CHUNK", "RepositoryTrackingAggregates", "chunked", "tracking_aggregates"]

#: The most values one ``In`` condition is given (long lists are read in chunks).
IN_CHUNK: Final = 500


def chunked(values: Sequence[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """``values`` in consecutive lists of at most ``size`` (for ``In`` conditions).

    Args:
        values: the values, in order.
        size: the most values per list.

    Returns:
        An iterator over the lists (none for no values).
    """
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def tracking_aggregates(uow: UnitOfWork) -> TrackingAggregates:
    """The store's tracking aggregates capability when it has one, else the repository path.

    Args:
        uow: an open unit of work.

    Returns:
        The aggregates, reading and writing in ``uow``'s transaction.
    """
    found = uow.tracking_aggregates()
    return RepositoryTrackingAggregates(uow.tracking_events) if found is None else found


class RepositoryTrackingAggregates(TrackingAggregates):
    """The repository path: the same aggregates as the SQL capability, computed in Python.

    Args:
        repo: the unit of work's ``tracking_events`` repository.
    """

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
            [None] if fan_ids is None else list(chunked(list(dict.fromkeys(fan_ids))))
        )
        for chunk in chunked(ids):
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
