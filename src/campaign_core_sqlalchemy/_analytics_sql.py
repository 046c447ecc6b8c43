"""Tracking aggregates in SQL: the store's :class:`~campaign_core.ports.TrackingAggregates`.

The analytics service asks the unit of work for this capability
(``uow.tracking_aggregates()``, declared by ``StoreCapabilities.tracking_aggregates``) and then gets a campaign's
counters with ``GROUP BY`` and its reach with ``COUNT(DISTINCT ...)`` in the
database, instead of reading every event into Python. The statements are
SQLAlchemy Core with bound parameters only; they run on the unit of work's
connection, inside its transaction.

Per request, for a set of campaigns:

1. one ``GROUP BY campaignId, platform, variantId, kind`` for the counters
   (counts, sums of values and of squared values, first and last event);
2. one ``COUNT(DISTINCT fanId)`` per campaign for the total reach;
3. ``COUNT(DISTINCT fanId)`` per platform and per variant, only for the
   campaigns whose impressions fall in more than one platform (variant):
   with a single group, that group's reach *is* the total.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign_core.ports import TrackingAggregates, TrackingCounts
from campaign_core_sqlalchemy._errors import translate_errors
from campaign_core_sqlalchemy._schema import tracking_events

__all__ = ["SqlTrackingAggregates"]

# IN lists are split so no database's parameter limit is reached
_CHUNK: Final = 500
_IMPRESSION: Final = "impression"
_COUNTER: Final = {"impression": "impressions", "click": "clicks", "conversion": "conversions"}


#: the statements of columns(), one per combination of filters (16 at most)
_COLUMNS_STATEMENTS: dict[Any, sa.Select[Any]] = {}


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _reach(
    seen: set[str | None], grouped: dict[str | None, int] | None, total: int
) -> dict[str | None, int]:
    """Reach per group: counted when there were several groups, else the total."""
    if grouped is None:
        # with one group of impressions (or none), that group's reach is the campaign's
        return dict.fromkeys(seen, total)
    # a group whose impressions were all anonymous reached nobody
    return {**dict.fromkeys(seen, 0), **grouped}


class SqlTrackingAggregates(TrackingAggregates):
    """Tracking aggregates computed by the database, inside one unit of work.

    Args:
        connection: the unit of work's connection (its transaction is used).
    """

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._t = tracking_events

    def _window(
        self, ids: list[str], since: datetime | None, before: datetime | None
    ) -> list[sa.ColumnElement[bool]]:
        c = self._t.c
        conds: list[sa.ColumnElement[bool]] = [c.campaignId.in_(ids)]
        if since is not None:
            conds.append(c.occurredAt >= since)
        if before is not None:
            conds.append(c.occurredAt < before)
        return conds

    def counts(
        self, campaign_ids: Sequence[str], *, before: datetime | None = None
    ) -> dict[str, TrackingCounts]:
        """Counters per (platform, variant) cell and reach, per campaign (see the module doc)."""
        out: dict[str, TrackingCounts] = {}
        with translate_errors("tracking_events"):
            for ids in _chunks(campaign_ids):
                out.update(self._counts(ids, before))
        return {cid: out[cid] for cid in dict.fromkeys(campaign_ids)}

    def _counts(self, ids: list[str], before: datetime | None) -> dict[str, TrackingCounts]:
        c = self._t.c
        window = self._window(ids, None, before)
        value = c.value
        stmt = (
            sa.select(
                c.campaignId,
                c.platform,
                c.variantId,
                c.kind,
                sa.func.count(),
                sa.func.sum(value),
                sa.func.sum(value * value),
                sa.func.min(c.occurredAt),
                sa.func.max(c.occurredAt),
            )
            .where(*window)
            .group_by(c.campaignId, c.platform, c.variantId, c.kind)
        )
        cells: dict[str, dict[tuple[str | None, str | None], dict[str, Any]]] = {}
        span: dict[str, tuple[datetime, datetime]] = {}
        for cid, platform, variant, kind, n, total, squares, first, last in self._conn.execute(
            stmt
        ):
            cell = cells.setdefault(cid, {}).setdefault(
                (platform, variant),
                {
                    "platform": platform,
                    "variantId": variant,
                    "impressions": 0,
                    "clicks": 0,
                    "conversions": 0,
                    "revenue": 0.0,
                    "spent": 0.0,
                    "revenueSumSquares": 0.0,
                },
            )
            if kind in _COUNTER:
                cell[_COUNTER[kind]] += int(n)
            if kind == "conversion":
                cell["revenue"] += float(total or 0.0)
                cell["revenueSumSquares"] += float(squares or 0.0)
            elif kind == "spend":
                cell["spent"] += float(total or 0.0)
            low, high = span.get(cid, (first, last))
            span[cid] = (min(low, first), max(high, last))

        reach_total = self._distinct(ids, before, None)
        platforms_seen: dict[str, set[str | None]] = {}
        variants_seen: dict[str, set[str | None]] = {}
        for cid, by_cell in cells.items():
            for (platform, variant), cell in by_cell.items():
                if cell["impressions"]:
                    platforms_seen.setdefault(cid, set()).add(platform)
                    variants_seen.setdefault(cid, set()).add(variant)
        by_platform = self._grouped(
            [cid for cid, seen in platforms_seen.items() if len(seen) > 1], before, "platform"
        )
        by_variant = self._grouped(
            [cid for cid, seen in variants_seen.items() if len(seen) > 1], before, "variantId"
        )
        out: dict[str, TrackingCounts] = {}
        for cid in ids:
            total = reach_total.get(cid, 0)
            # with one group of impressions, that group's reach is the campaign's
            platform_reach = _reach(platforms_seen.get(cid, set()), by_platform.get(cid), total)
            variant_reach = _reach(variants_seen.get(cid, set()), by_variant.get(cid), total)
            first, last = span.get(cid, (None, None))
            out[cid] = TrackingCounts(
                campaign_id=cid,
                cells=tuple(cells.get(cid, {}).values()),
                reach={"total": total, "byPlatform": platform_reach, "byVariant": variant_reach},
                first_event_at=first,
                last_event_at=last,
            )
        return out

    def _distinct(
        self, ids: list[str], before: datetime | None, group: str | None
    ) -> dict[str, int]:
        c = self._t.c
        conds = [*self._window(ids, None, before), c.kind == _IMPRESSION, c.fanId.is_not(None)]
        stmt = (
            sa.select(c.campaignId, sa.func.count(sa.distinct(c.fanId)))
            .where(*conds)
            .group_by(c.campaignId)
        )
        return {cid: int(n) for cid, n in self._conn.execute(stmt)}

    def _grouped(
        self, ids: list[str], before: datetime | None, column: str
    ) -> dict[str, dict[str | None, int]]:
        if not ids:
            return {}
        c = self._t.c
        key = c[column]
        conds = [*self._window(ids, None, before), c.kind == _IMPRESSION, c.fanId.is_not(None)]
        stmt = (
            sa.select(c.campaignId, key, sa.func.count(sa.distinct(c.fanId)))
            .where(*conds)
            .group_by(c.campaignId, key)
        )
        out: dict[str, dict[str | None, int]] = {}
        for cid, group, n in self._conn.execute(stmt):
            out.setdefault(cid, {})[group] = int(n)
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
        """The matching events as columns (see :class:`TrackingAggregates`)."""
        names = ("campaign_id", "kind", "occurred_at", "value", "fan_id", "platform", "variant_id")
        out: dict[str, list[Any]] = {name: [] for name in names}
        fan_chunks: list[list[str] | None] = [None] if fan_ids is None else list(_chunks(fan_ids))
        stmt = self._columns_statement(
            since is not None, before is not None, kinds is not None, fan_ids is not None
        )
        params: dict[str, Any] = {"since": since, "before": before}
        if kinds is not None:
            params["kinds"] = list(kinds)
        with translate_errors("tracking_events"):
            for ids in _chunks(campaign_ids):
                for fans in fan_chunks:
                    rows = self._conn.execute(stmt, {**params, "ids": ids, "fans": fans}).all()
                    if rows:
                        for name, column in zip(names, zip(*rows)):
                            out[name].extend(column)
        return out

    def _columns_statement(
        self, since: bool, before: bool, kinds: bool, fans: bool
    ) -> sa.Select[Any]:
        """The SELECT of :meth:`columns` for the filters given, built once (values bound later)."""
        key = (self._t, since, before, kinds, fans)
        stmt: sa.Select[Any] | None = _COLUMNS_STATEMENTS.get(key)
        if stmt is None:
            c = self._t.c
            conds: list[sa.ColumnElement[bool]] = [
                c.campaignId.in_(sa.bindparam("ids", expanding=True))
            ]
            if since:
                conds.append(c.occurredAt >= sa.bindparam("since"))
            if before:
                conds.append(c.occurredAt < sa.bindparam("before"))
            if kinds:
                conds.append(c.kind.in_(sa.bindparam("kinds", expanding=True)))
            if fans:
                conds.append(c.fanId.in_(sa.bindparam("fans", expanding=True)))
            built: sa.Select[Any] = sa.select(
                c.campaignId, c.kind, c.occurredAt, c.value, c.fanId, c.platform, c.variantId
            ).where(*conds)
            stmt = _COLUMNS_STATEMENTS[key] = built
        return stmt

    def anonymize_fan(self, campaign_ids: Sequence[str], fan_id: str, token: str) -> int:
        """Replace ``fan_id`` by ``token`` in the campaigns' events with one UPDATE per chunk."""
        c = self._t.c
        changed = 0
        with translate_errors("tracking_events"):
            for ids in _chunks(campaign_ids):
                result = self._conn.execute(
                    self._t.update()
                    .where(c.campaignId.in_(ids), c.fanId == fan_id)
                    .values({"fanId": token})
                )
                changed += int(result.rowcount)
        return changed
