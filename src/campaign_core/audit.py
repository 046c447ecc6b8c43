"""The audit trail: every change to an audited record writes an audit record, in the same transaction.

Auditing happens below the services, in the unit of work: writes to the
audited repositories (campaigns, templates, A/B tests, workflows, segments,
fans, platform credentials) are intercepted and an ``AuditRecord`` is
added next to them, with the actor and the action that the service call set
(:func:`audited`). A change can therefore not happen without its record, and a
rolled-back call leaves neither behind.

What is *not* audited, on purpose: fields that only measure (impressions,
usage, member and execution counts, last-activity and last-refresh times; spend
is not one of them, ``record_spend`` is audited), engine bookkeeping (publish
jobs, automation runs and their leases) and the membership rows a refresh
writes (the criteria decide them; adding or removing a fan by hand is audited
on the segment, with the fan's pseudonym).

Audit records never contain secrets or raw fan PII: a fan appears by a keyed
pseudonym (``Settings.pseudonym_key``) with the names of the fields that
changed, never their values; credentials appear without their sealed value.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar, cast

import attrs

from campaign_core.errors import CorruptRecordError
from campaign_core.models import AuditRecord
from campaign_core.permissions import Actor
from campaign_core.ports import Repository, UnitOfWork, merge_fields
from campaign_core.query import Cond, In, Order

__all__: list[str] = []

F = TypeVar("F", bound=Callable[..., Any])

#: repository name -> entity name in audit records
AUDITED_ENTITIES: Final[dict[str, str]] = {
    "campaigns": "campaign",
    "templates": "template",
    "ab_tests": "ab_test",
    "ab_test_variants": "ab_test_variant",
    "automations": "automation",
    "segments": "segment",
    "fans": "fan",
    "credentials": "credential",
    "fan_consents": "fan_consent",
    "suppressions": "suppression",
    "message_templates": "message_template",
}
# fields that measure rather than change a record: not audited when they are all that changed
COUNTER_FIELDS: Final = frozenset(
    {
        "usage_count",
        "member_count",
        "impressions",
        "clicks",
        "conversions",
        "revenue",
        "revenue_sum_squares",
        "execution_count",
        "success_count",
        "failure_count",
        "last_executed_at",
        "last_refreshed_at",
        "avg_engagement",
        "avg_revenue",
        "updated_at",
        "version",
        "last_activity_at",
    }
)
_SECRET_FIELDS: Final = frozenset({"sealed", "secret", "token", "ciphertext"})
#: how many records an audited repository keeps as read in one unit of work (see _AuditingRepository)
_SEEN_LIMIT: Final = 4096
#: how many audit records wait to be written in one batch (see AuditingUnitOfWork)
_PENDING_LIMIT: Final = 1000
# audited entities that carry a fan's id: it is replaced by the fan's pseudonym
_FAN_SCOPED: Final = frozenset({"fan_consent", "suppression"})


@attrs.frozen
class AuditContext:
    actor: Actor | None
    action: str


_CONTEXT: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "campaign_core_audit", default=None
)


def current_audit_context() -> AuditContext | None:
    return _CONTEXT.get()


@contextlib.contextmanager
def system_action(action: str) -> Iterator[None]:
    """Audit the writes inside as ``action`` by the system (the engine's own work in ``tick()``).

    Like :func:`audited`, an operation already in progress keeps its own action.
    """
    if _CONTEXT.get() is not None:
        yield
        return
    token = _CONTEXT.set(AuditContext(actor=None, action=action))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def audited(action: str) -> Callable[[F], F]:
    """Mark a service method as the operation ``action``; its writes are audited under it.

    The decorated method's ``self`` must expose the acting :class:`Actor` as
    ``self.actor`` (or ``self._svc.actor``). Nested audited calls keep the
    outermost action.
    """

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _CONTEXT.get() is not None:
                return method(self, *args, **kwargs)
            actor = getattr(self, "actor", None) or getattr(
                getattr(self, "_svc", None), "actor", None
            )
            token = _CONTEXT.set(AuditContext(actor=actor, action=action))
            try:
                return method(self, *args, **kwargs)
            finally:
                _CONTEXT.reset(token)

        return cast("F", wrapper)

    return decorate


def pseudonymize(value: str, key: bytes) -> str:
    """A keyed, irreversible pseudonym (HMAC-SHA256, 24 hex characters) for an identifier."""
    # hmac.digest: the one-shot C path (hmac.new builds a Python object per call)
    return "p_" + hmac.digest(key, value.encode(), "sha256").hex()[:24]


def _account_of(record: Any) -> str:
    for field in ("user_id", "owner_id", "account_id"):
        value = getattr(record, field, None)
        if isinstance(value, str):
            return value
    return ""


class _AuditingRepository(Repository[Any]):
    """Passes everything through to ``inner`` and audits adds, updates and deletes.

    An update's audit record needs the record as it was. A versioned record
    this unit of work read (``get``, ``find``, ``claim``) is kept, by
    reference, and when the update names the version after it, that read is
    the stored record (the store checks the version), so it is not read again.
    """

    def __init__(self, inner: Repository[Any], uow: AuditingUnitOfWork, entity: str) -> None:
        self._inner = inner
        self._uow = uow
        self._entity = entity
        self._seen: dict[str, Any] = {}  # id -> a versioned record as this unit of work read it

    def _keep(self, records: Sequence[Any]) -> None:
        if len(self._seen) + len(records) > _SEEN_LIMIT:
            return
        for record in records:
            if isinstance(getattr(record, "version", None), int):
                self._seen[record.id] = record

    def _before(self, record: Any) -> Any:
        """The stored record ``record`` replaces: the one read, if its version is the one before."""
        seen = self._seen.get(record.id)
        version = getattr(record, "version", None)
        if seen is not None and isinstance(version, int) and seen.version == version - 1:
            return seen
        return self._inner.get(record.id)

    def add(self, record: Any) -> None:
        self._inner.add(record)
        self._uow.record(self._entity, None, record)

    def add_many(self, records: Sequence[Any]) -> None:
        self._inner.add_many(records)
        for record in records:
            self._uow.record(self._entity, None, record)

    def get(self, record_id: str) -> Any:
        record = self._inner.get(record_id)
        if record is not None:
            self._keep((record,))
        return record

    def update(self, record: Any) -> None:
        before = self._before(record)
        self._inner.update(record)
        self._seen.pop(record.id, None)
        self._keep((record,))
        self._uow.record(self._entity, before, record)

    def update_many(self, records: Sequence[Any], *, fields: Sequence[str] | None = None) -> None:
        befores: dict[str, Any] = {}
        missing: list[str] = []
        for record in records:
            seen = self._seen.get(record.id)
            version = getattr(record, "version", None)
            if seen is not None and isinstance(version, int) and seen.version == version - 1:
                befores[record.id] = seen
            else:
                missing.append(record.id)
        befores.update(
            {
                r.id: r
                for start in range(0, len(missing), 500)  # within every database's parameter limit
                for r in self._inner.find(In("id", missing[start : start + 500]))
            }
        )
        self._inner.update_many(records, fields=fields)
        afters = []
        for record in records:
            before = befores.get(record.id)
            after = record if before is None else merge_fields(before, record, fields)
            self._seen.pop(record.id, None)
            afters.append(after)
            self._uow.record(self._entity, before, after)
        self._keep(afters)

    def delete(self, record_id: str) -> bool:
        before = self._inner.get(record_id)
        deleted = self._inner.delete(record_id)
        self._seen.pop(record_id, None)
        if deleted and before is not None:
            self._uow.record(self._entity, before, None)
        return deleted

    def delete_where(self, where: Cond) -> int:
        victims = self._inner.find(where, order_by=[Order("id")])
        count = self._inner.delete_where(where)
        self._seen.clear()
        for before in victims:
            self._uow.record(self._entity, before, None)
        return count

    def find(self, where: Cond | None = None, **kwargs: Any) -> list[Any]:
        found = self._inner.find(where, **kwargs)
        self._keep(found)
        return found

    def count(self, where: Cond | None = None) -> int:
        return self._inner.count(where)

    def take_skipped(self) -> list[CorruptRecordError]:
        return self._inner.take_skipped()

    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        self._seen.pop(record_id, None)  # the counters move without a new version
        if all(name in COUNTER_FIELDS for name in deltas):
            self._inner.increment(record_id, deltas)  # measuring counters are not audited
            return
        before = self._inner.get(record_id)
        self._inner.increment(record_id, deltas)
        self._uow.record(self._entity, before, self._inner.get(record_id))

    def claim(self, where: Cond, **kwargs: Any) -> list[Any]:
        claimed = self._inner.claim(where, **kwargs)
        self._keep(claimed)
        return claimed


class AuditingUnitOfWork(UnitOfWork):
    """A unit of work whose audited repositories write audit records alongside each change.

    The audit records of a unit of work are written in batches (one
    ``add_many`` per ``_PENDING_LIMIT`` records, and at commit), not one
    INSERT per change; reading ``audit_records`` through this unit of work
    writes the waiting ones first, so it sees its own changes.
    """

    def __init__(
        self,
        inner: UnitOfWork,
        *,
        ids: Callable[[], str],
        now: Callable[[], datetime],
        key: bytes,
        repositories: Sequence[str],
    ) -> None:
        self._inner = inner
        self._ids = ids
        self._now = now
        self._key = key
        self.inner = inner
        self._names = frozenset(repositories)
        self._pending: list[AuditRecord] = []
        self._last_pseudonym: tuple[str, str] | None = None

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not set yet: a repository is wrapped on its first use
        if name not in self.__dict__.get("_names", ()):
            raise AttributeError(name)
        if name == "audit_records":  # never kept: each use writes the waiting records first
            self.flush()
            return self._inner.repository(name)
        repo = self._inner.repository(name)
        entity = AUDITED_ENTITIES.get(name)
        wrapped = repo if entity is None else _AuditingRepository(repo, self, entity)
        setattr(self, name, wrapped)
        return wrapped

    def flush(self) -> None:
        """Write the audit records waiting in this unit of work (one batch)."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._inner.repository("audit_records").add_many(pending)

    def commit(self) -> None:
        self.flush()
        self._inner.commit()

    def rollback(self) -> None:
        self._pending = []
        self._inner.rollback()

    def _safe(self, entity: str, record: Any) -> dict[str, Any] | None:
        if record is None:
            return None
        if entity == "fan":
            return {"fanId": self._pseudonym(record)}
        from campaign_core.serialization import to_json

        data: dict[str, Any] = to_json(record)
        if entity in _FAN_SCOPED and data.get("fanId"):
            # records about a fan name them by pseudonym only, as the fan's own do
            data["fanId"] = self._pseudonym(record)
        for field in _SECRET_FIELDS:
            if field in data:
                data[field] = "***"
        return data

    def _entity_id(self, entity: str, record: Any) -> str:
        if entity == "fan" or entity == "fan_consent":
            return self._pseudonym(record)
        return str(record.id)

    def _pseudonym(self, fan: Any) -> str:
        """The fan's pseudonym (the last one is kept: a change asks for it up to three times)."""
        subject = f"{fan.owner_id}:{fan.fan_id}"
        last = self._last_pseudonym
        if last is not None and last[0] == subject:
            return last[1]
        pseudonym = pseudonymize(subject, self._key)
        self._last_pseudonym = (subject, pseudonym)
        return pseudonym

    def record(self, entity: str, before: Any, after: Any) -> None:
        """Add the audit record of one change (no-op when only counters moved)."""
        subject = after if after is not None else before
        account = _account_of(subject)
        if not account:
            return  # system data (the built-in template catalog) belongs to no account
        changed: list[str] | None = None
        if before is not None and after is not None:
            changed = [
                f.name
                for f in attrs.fields(type(after))
                if getattr(before, f.name) != getattr(after, f.name)
            ]
            if all(name in COUNTER_FIELDS for name in changed):
                return
        context = _CONTEXT.get()
        actor = context.actor if context else None
        action = context.action if context else f"{entity}.write"
        before_json = self._safe(entity, before)
        after_json = self._safe(entity, after)
        if entity == "fan" and changed is not None and after_json is not None:
            after_json["changedFields"] = [n for n in changed if n not in ("updated_at", "version")]
        self._add(
            AuditRecord(
                id=self._ids(),
                account_id=account,
                actor_id=actor.user_id if actor else "system",
                actor_role=actor.role.value if actor else "system",
                action=action,
                entity=entity,
                entity_id=self._entity_id(entity, subject),
                before=before_json,
                after=after_json,
                at=self._now(),
            )
        )

    def note(self, entity: str, entity_id: str, account_id: str, data: Mapping[str, Any]) -> None:
        """Audit a change that is not a single record's (a manual segment membership...)."""
        context = _CONTEXT.get()
        actor = context.actor if context else None
        self._add(
            AuditRecord(
                id=self._ids(),
                account_id=account_id,
                actor_id=actor.user_id if actor else "system",
                actor_role=actor.role.value if actor else "system",
                action=context.action if context else f"{entity}.write",
                entity=entity,
                entity_id=entity_id,
                after=dict(data),
                at=self._now(),
            )
        )

    def _add(self, record: AuditRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= _PENDING_LIMIT:
            self.flush()

    def repository(self, name: str) -> Repository[Any]:
        repo = getattr(self, name, None)
        if isinstance(repo, Repository):
            return repo
        return self._inner.repository(name)


def audit_note(
    uow: UnitOfWork, entity: str, entity_id: str, account_id: str, data: Mapping[str, Any]
) -> None:
    """Audit a change through ``uow`` when it is an auditing unit of work (see :meth:`AuditingUnitOfWork.note`)."""
    if isinstance(uow, AuditingUnitOfWork):
        uow.note(entity, entity_id, account_id, data)


def pseudonym_for(uow: UnitOfWork, owner_id: str, fan_id: str) -> str:
    """The audit pseudonym of a fan, with the key of ``uow`` (or a keyless hash outside auditing)."""
    key = uow._key if isinstance(uow, AuditingUnitOfWork) else b"campaign-core-pseudonyms"
    return pseudonymize(f"{owner_id}:{fan_id}", key)
