"""AuditService: the audit trail of one account, read through ``ws.audit``.

The trail itself is written below the services, by the unit of work
(:mod:`campaign_core.audit`); this service only reads it, for actors with the
``audit`` permission.
"""

from __future__ import annotations

from typing import Any

from campaign_core._runtime import Runtime, Service
from campaign_core._validate import v_datetime, v_id, v_int
from campaign_core.audit import pseudonymize
from campaign_core.errors import NotFoundError, ProblemCollector
from campaign_core.models import AuditRecord
from campaign_core.permissions import Actor, Permission
from campaign_core.query import And, Cond, Eq, Gte, In, Lt, Lte, Or, Order

__all__: list[str] = []


class AuditService:
    """The audit trail of one account (``core.for_actor(actor).audit``); needs the ``audit`` permission."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    def list_records(
        self,
        *,
        entity: Any = None,
        entity_id: Any = None,
        fan_id: Any = None,
        actor_id: Any = None,
        action: Any = None,
        since: Any = None,
        until: Any = None,
        limit: Any = 100,
        before: Any = None,
    ) -> list[AuditRecord]:
        """Audit records of the account, newest first, a page at a time.

        Args:
            entity / entity_id: one kind of record, or one record (``campaign``, id).
            fan_id: one fan's records and consent changes (looked up by pseudonym).
            actor_id: what one person did.
            action: one operation (``campaign.launch``).
            since / until: ``at`` in [since, until).
            limit: at most this many (1..1000).
            before: the id of the last record of the previous page: the records
                after it in this order (keyset paging, stable while records are
                added). NotFoundError if it is not one of the account's.

        Example::

            page = ws.audit.list_records(limit=100)
            while page:
                handle(page)
                page = ws.audit.list_records(limit=100, before=page[-1].id)
        """

        self._svc._require(Permission.AUDIT)
        problems = ProblemCollector()
        conds: list[Cond] = [Eq("account_id", self._svc.account_id)]
        for value, field in (
            (entity, "entity"),
            (entity_id, "entity_id"),
            (actor_id, "actor_id"),
            (action, "action"),
        ):
            if value is not None and v_id(value, field, problems):
                conds.append(Eq(field, value))
        if fan_id is not None and v_id(fan_id, "fan_id", problems):
            # the fan's own records and their consent changes (both keyed by the pseudonym)
            conds.append(In("entity", ["fan", "fan_consent"]))
            conds.append(
                Eq(
                    "entity_id",
                    pseudonymize(
                        f"{self._svc.account_id}:{fan_id}", self._rt.settings.pseudonym_key
                    ),
                )
            )
        for value, path, op in ((since, "since", Gte), (until, "until", Lt)):
            if value is not None:
                when = v_datetime(value, path, problems)
                if when is not None:
                    conds.append(op("at", when))
        size = v_int(limit, "limit", problems, minimum=1, maximum=1000)
        if before is not None:
            v_id(before, "before", problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            if before is not None:
                last = tx.uow.audit_records.get(before)
                if last is None or last.account_id != self._svc.account_id:
                    raise NotFoundError("audit_record", before)
                # the Lte is implied; it gives the database a range on ``at`` to use
                conds.append(Lte("at", last.at))
                conds.append(Or(Lt("at", last.at), And(Eq("at", last.at), Lt("id", last.id))))
            records: list[AuditRecord] = tx.uow.audit_records.find(
                And(*conds), order_by=[Order("at", True), Order("id", True)], limit=size
            )
        return records
