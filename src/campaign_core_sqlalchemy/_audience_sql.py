"""The store capability: audience queries (count, list, summarize) run in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign_core.criteria import Criteria, FieldRegistry
from campaign_core.ports import AudienceSummary
from campaign_core_sqlalchemy._criteria_sql import CachedPredicate, cached_criteria_sql
from campaign_core_sqlalchemy._schema import campaign_conversions, campaigns, fans, segments
from campaign_core_sqlalchemy._sql_dialects import (
    _DIALECTS,
    _TEXT,
    Expr,
    Pred,
    _literal_text,
    register_sqlite_functions,
)

__all__ = ["SqlAlchemyAudience"]

#: the owner in the audience's statements, a named parameter so a statement is reused
_OWNER: Final = sa.bindparam("cc_owner", type_=_TEXT)


class SqlAlchemyAudience:
    """Criteria evaluated in the database (:class:`campaign_core.ports.AudienceQueries`).

    Runs inside a unit of work's connection, so it sees that unit's own writes.

    Args:
        connection: the unit of work's connection.
        dialect: the engine's dialect name.
    """

    def __init__(self, connection: Connection, dialect: str) -> None:
        self._conn = connection
        self._dialect = dialect
        if dialect == "sqlite":
            # once per database connection (registering expires its prepared statements)
            pooled = connection.connection
            if not pooled.info.get("campaign_core_sqlite_functions"):
                register_sqlite_functions(pooled.driver_connection)
                pooled.info["campaign_core_sqlite_functions"] = True

    def _match(
        self,
        owner_id: str,
        criteria: Criteria,
        now: datetime,
        registry: FieldRegistry | None,
    ) -> tuple[CachedPredicate, dict[str, Any]]:
        """The owner's matching fans' predicate (owner included) and its parameters."""
        wanted = sorted(criteria.segment_ids())
        owned: frozenset[str] = frozenset()
        if wanted:
            rows = self._conn.execute(
                sa.select(segments.c.id).where(
                    segments.c.userId == owner_id, segments.c.id.in_(wanted)
                )
            )
            owned = frozenset(row[0] for row in rows)
        entry, params = cached_criteria_sql(
            criteria,
            dialect=self._dialect,
            now=now,
            registry=registry,
            owned_segments=owned,
            connection=self._conn,
            owner_id=owner_id,
        )
        params[_OWNER.key] = owner_id
        return entry, params

    def _where(
        self,
        owner_id: str,
        criteria: Criteria,
        now: datetime,
        registry: FieldRegistry | None,
    ) -> tuple[Pred, dict[str, Any]]:
        entry, params = self._match(owner_id, criteria, now, registry)
        return sa.and_(fans.c.ownerId == _OWNER, entry.predicate), params

    def count_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> int:
        """How many of the owner's fans match (see the port's contract)."""
        from campaign_core_sqlalchemy._errors import translate_errors

        with translate_errors("fans"):
            entry, params = self._match(owner_id, criteria, now, registry)
            stmt = entry.statements.get("count")
            if stmt is None:  # built once per compiled predicate, then run again
                stmt = (
                    sa.select(sa.func.count())
                    .select_from(fans)
                    .where(fans.c.ownerId == _OWNER, entry.predicate)
                )
                entry.statements["count"] = stmt
            return int(self._conn.execute(stmt, params).scalar_one())

    def fan_ids_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: str | None = None,
    ) -> list[str]:
        """The matching fans' ids in code point order, paginated (see the port)."""
        from campaign_core_sqlalchemy._errors import translate_errors

        with translate_errors("fans"):
            where, params = self._where(owner_id, criteria, now, registry)
            if after is not None:
                # compared as the order is: by code point, whatever the column's collation
                where = sa.and_(where, self._binary_order(fans.c.fanId) > after)
            stmt = sa.select(fans.c.fanId).where(where).order_by(self._binary_order(fans.c.fanId))
            if limit is not None:
                stmt = stmt.limit(limit)
            elif offset and self._dialect in ("mysql", "mariadb"):
                stmt = stmt.limit(2**62)  # MySQL needs a LIMIT with OFFSET
            if offset:
                stmt = stmt.offset(offset)
            return [row[0] for row in self._conn.execute(stmt, params)]

    def _binary_order(self, column: Expr) -> Expr:
        if self._dialect == "postgresql":
            return sa.collate(column, "C")
        if self._dialect in ("mysql", "mariadb"):
            return _DIALECTS["mysql"].exact(column)
        return column

    def summarize_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> AudienceSummary:
        """Sums over the matching fans and their conversions (see the port)."""
        from campaign_core_sqlalchemy._errors import translate_errors

        cc = campaign_conversions.alias("cc_conversions")
        c = campaigns.alias("cc_campaigns")
        per_fan = (
            sa.select(
                cc.c.userId.label("fan"),
                sa.func.count().label("conversions"),
                sa.func.sum(cc.c.value).label("value"),
            )
            .select_from(cc.join(c, c.c.id == cc.c.campaignId))
            .where(c.c.userId == _literal_text(owner_id))
            .group_by(cc.c.userId)
            .subquery("cc_per_fan")
        )
        engagement, ltv = fans.c.engagement, fans.c.lifetimeValue
        value = sa.func.coalesce(per_fan.c.value, 0.0)
        with translate_errors("fans"):
            where, params = self._where(owner_id, criteria, now, registry)
            stmt = (
                sa.select(
                    sa.func.count(),
                    sa.func.count(engagement),
                    sa.func.sum(engagement),
                    sa.func.sum(engagement * engagement),
                    sa.func.count(ltv),
                    sa.func.sum(ltv),
                    sa.func.sum(ltv * ltv),
                    sa.func.count(per_fan.c.fan),
                    sa.func.sum(per_fan.c.conversions),
                    sa.func.sum(value),
                    sa.func.sum(value * value),
                )
                .select_from(fans.outerjoin(per_fan, per_fan.c.fan == fans.c.fanId))
                .where(where)
            )
            row = self._conn.execute(stmt, params).one()
        return AudienceSummary(
            fans=int(row[0]),
            engagement_count=int(row[1]),
            engagement_sum=float(row[2] or 0.0),
            engagement_sum_sq=float(row[3] or 0.0),
            lifetime_value_count=int(row[4]),
            lifetime_value_sum=float(row[5] or 0.0),
            lifetime_value_sum_sq=float(row[6] or 0.0),
            converters=int(row[7]),
            conversions=int(row[8] or 0),
            conversion_value_sum=float(row[9] or 0.0),
            conversion_value_sum_sq=float(row[10] or 0.0),
        )
