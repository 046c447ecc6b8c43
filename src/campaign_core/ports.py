"""Ports: what the core needs from the outside world, with their contracts.

The core holds every rule; adapters only persist or deliver. A store adapter
subclasses :class:`Store`, :class:`UnitOfWork` and :class:`Repository`
explicitly so mypy checks it where it is defined, and must pass the contract
suite in :mod:`campaign_core.testing`.

Repository contract (every store):

- **Copies, not references.** ``add``/``update`` keep a copy; ``get``/``find``
  return fresh records. Mutating a returned record's ``content`` dict never
  changes what is stored.
- **Versions.** A record type with a ``version`` field uses optimistic
  concurrency: ``update(record)`` stores it only if the stored version equals
  ``record.version - 1`` and raises :class:`~campaign_core.errors.ConflictError`
  otherwise (a stale write). Services bump the version with ``attrs.evolve``.
- **Errors.** ``add`` of an existing id or of a duplicate unique key raises
  ``ConflictError``; ``update``/``increment`` of a missing id raises
  :class:`~campaign_core.errors.NotFoundError`. Driver errors are translated.
- **Time.** Datetimes go in and come out aware, in UTC, to the millisecond.
- **Queries.** Conditions and orders are :mod:`campaign_core.query` objects with
  SQL's null semantics; ties in ``order_by`` are the caller's to break (add
  ``Order("id")``).

Unit of work contract: ``with store.unit_of_work() as uow:`` opens one
transaction; nothing is visible to other units of work before
``uow.commit()``; leaving the block without committing, or with an exception,
rolls everything back. A unit of work is used by one thread.

Capabilities: what a store can do beyond the repositories is declared once, by
:meth:`Store.capabilities` (a :class:`StoreCapabilities`); the capability
objects themselves come from the unit of work's typed accessors
(:meth:`UnitOfWork.audience_queries`, :meth:`UnitOfWork.tracking_aggregates`).
The contract suite checks every declared capability against the reference
(the per-fan evaluator, the repository path).

``store.read_only_unit_of_work()`` opens one that only reads (it sees what was
committed when it first reads; its repositories refuse writes), which a store
may serve more cheaply: the SQL store does not take SQLite's write lock for it.
A unit of work costs what it does: repositories are built when first used, and
no transaction is opened before the first statement.
"""

from __future__ import annotations

import inspect
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    NoReturn,
    Protocol,
    TypeVar,
    runtime_checkable,
)

import attrs

from campaign_core.alerts import (
    Alerter,
)
from campaign_core.automation import WebhookRequest, WebhookResponse, WebhookSender
from campaign_core.clock import Clock
from campaign_core.errors import ConflictError, CorruptRecordError, ValidationError
from campaign_core.ids import IdFactory
from campaign_core.metrics import MetricsSink
from campaign_core.models import (
    ABTest,
    ABTestVariant,
    AuditRecord,
    Automation,
    AutomationExecution,
    AutomationRun,
    AutomationStepRun,
    AutomationTrigger,
    AutomationTriggerMatch,
    AutomationVersion,
    Broadcast,
    Campaign,
    CampaignAnalyticsState,
    CampaignConversion,
    CampaignMetric,
    CampaignTemplate,
    ConsentEvent,
    Delivery,
    DeliveryEvent,
    Fan,
    FanConsent,
    FanEvent,
    IdempotencyRecord,
    MessageTemplate,
    PlatformCredentialRecord,
    PublishJob,
    RateLimitState,
    Segment,
    SegmentMember,
    Suppression,
    TrackingEventRecord,
    UnsubscribeTokenUse,
    WinnerValidation,
)
from campaign_core.publishing import ContentGenerator, Publisher
from campaign_core.query import Cond, Order

if TYPE_CHECKING:
    from campaign_core.criteria import Criteria, FieldRegistry

__all__ = [
    "AddressBook",
    "Alerter",
    "AudienceQueries",
    "AudienceSummary",
    "Clock",
    "ContentGenerator",
    "IdFactory",
    "LinkRepository",
    "Messenger",
    "MetricsSink",
    "Publisher",
    "ReadOnlyRepository",
    "Repository",
    "Store",
    "StoreCapabilities",
    "StoredAddresses",
    "TrackingAggregates",
    "TrackingCounts",
    "UnitOfWork",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookSender",
    "check_increment",
    "check_page",
]

R = TypeVar("R")


def merge_fields(stored: R, record: R, fields: Sequence[str] | None) -> R:
    """``stored`` with ``record``'s values of ``fields`` and of its ``version``, if it has one.

    What :meth:`Repository.update_many` writes for one record; ``record`` itself
    when ``fields`` is None.
    """
    if fields is None:
        return record
    names = {*fields, "version"} if hasattr(record, "version") else set(fields)
    return attrs.evolve(stored, **{n: getattr(record, n) for n in names})  # type: ignore[misc]


def update_fields(record_type: type[Any], fields: Sequence[str] | None) -> tuple[str, ...] | None:
    """The fields :meth:`Repository.update_many` writes: ``fields`` checked, in the type's order.

    Duplicates are dropped and ``version`` is added for a versioned type; None
    (all fields) stays None.

    Raises:
        ValidationError: a name that is not a field of ``record_type`` (path
            ``fields[i]``).
    """
    if fields is None:
        return None
    known = attrs.fields_dict(record_type)
    wanted = set()
    for index, name in enumerate(fields):
        if name not in known:
            raise ValidationError.single(
                f"fields[{index}]",
                f"{record_type.__name__} has no field {name!r}",
                "unknown_field",
            )
        wanted.add(name)
    if "version" in known:
        wanted.add("version")
    return tuple(name for name in known if name in wanted)


def stale_batch(entity: str, message: str, **details: Any) -> ConflictError:
    """The error of an :meth:`Repository.update_many` batch with a missing or stale record."""
    return ConflictError(
        message,
        details={"entity": entity, "reason": "stale", "retryable": False, **details},
    )


def stale_record(
    entity: str,
    index: int,
    record_id: str,
    stored_version: int | None,
    expected_version: int | None,
    **details: Any,
) -> ConflictError:
    """The :func:`stale_batch` error naming one record: missing (``stored_version`` None) or stale."""
    if stored_version is None:
        problem = "no longer exists"
    else:
        problem = (
            f"was changed by someone else (stored version {stored_version}, "
            f"expected {expected_version})"
        )
    return stale_batch(
        entity,
        f"{entity} {record_id!r} (batch item {index}) {problem}; nothing was written",
        id=record_id,
        **details,
    )


def check_unique_ids(entity: str, records: Sequence[Any]) -> None:
    """ConflictError if a batch names one record twice (which write would win is undefined)."""
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ConflictError(
            f"{entity}: the same id twice in one batch",
            details={"entity": entity, "reason": "duplicate_in_batch", "retryable": False},
        )


def check_page(limit: int | None, offset: int) -> None:
    """ValidationError for a negative ``limit`` or ``offset`` of :meth:`Repository.find`."""
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and value < 0:
            raise ValidationError.single(name, f"must be 0 or more, got {value}", "invalid_value")


def check_increment(entity: str, record_type: type[Any], deltas: Mapping[str, Any]) -> None:
    """ValidationError unless every key of ``deltas`` is a numeric field of ``record_type``.

    What :meth:`Repository.increment` refuses, on every store: an unknown field
    (code ``unknown_field``), a field that is not an ``int`` or ``float``, or a
    delta that is not a number (code ``invalid_type``); the path is the field.
    """
    numeric = _numeric_fields(record_type)
    for name, delta in deltas.items():
        if name not in numeric and name not in attrs.fields_dict(record_type):
            raise ValidationError.single(name, f"{entity} has no field {name!r}", "unknown_field")
        if name not in numeric or isinstance(delta, bool) or not isinstance(delta, int | float):
            raise ValidationError.single(
                name, f"{entity}.{name} cannot be incremented by {delta!r}", "invalid_type"
            )


def _numeric_fields(record_type: type[Any]) -> frozenset[str]:
    found = _NUMERIC.get(record_type)
    if found is None:
        found = _NUMERIC[record_type] = _find_numeric_fields(record_type)
    return found


_NUMERIC: dict[type[Any], frozenset[str]] = {}


def _find_numeric_fields(record_type: type[Any]) -> frozenset[str]:
    hints = typing.get_type_hints(record_type)
    numbers = {int, float, int | None, float | None}
    return frozenset(f.name for f in attrs.fields(record_type) if hints[f.name] in numbers)


class Repository(ABC, Generic[R]):
    """Persistence of one record type, inside a unit of work (see the module doc)."""

    @abstractmethod
    def add(self, record: R) -> None:
        """Insert ``record``. Raises ConflictError if its id or a unique key exists."""

    @abstractmethod
    def add_many(self, records: Sequence[R]) -> None:
        """Insert many records in a batch (the store's bulk path); all or nothing."""

    @abstractmethod
    def get(self, record_id: str) -> R | None:
        """The record with this id, or None."""

    @abstractmethod
    def update(self, record: R) -> None:
        """Replace the stored record with the same id (version-checked; see module doc)."""

    def update_many(self, records: Sequence[R], *, fields: Sequence[str] | None = None) -> None:
        """Write many records in one batch (the store's bulk path); all or nothing.

        Each record is written as :meth:`update` would (version-checked), but
        only its ``fields`` (all fields when None): the stored values of the
        others are kept. A caller that changed a handful of a wide record's
        fields names them, and a SQL store writes only those columns. The
        version of a versioned type is always checked and written, named in
        ``fields`` or not. An empty batch, or no field to write, changes and
        checks nothing.

        Raises:
            ConflictError: a record is missing or stale (``details["reason"]``
                ``"stale"``), the batch names one id twice
                (``"duplicate_in_batch"``), or a record breaks a unique key;
                nothing is written.
            ValidationError: ``fields`` names no field of the record type
                (path ``fields[i]``), or a value the store cannot hold;
                nothing is written.

        This default reads every record first and refuses the batch before
        writing if one is missing or stale, then writes them one by one with
        :meth:`update`; only a failure of one of those writes (a unique key)
        leaves the earlier ones for the unit of work's rollback to undo. Both
        stores here override it.
        """
        if not records:
            return
        record_type = type(records[0])
        names = update_fields(record_type, fields)
        if names is not None and not names:
            return
        entity = record_type.__name__
        check_unique_ids(entity, records)
        merged = []
        for index, record in enumerate(records):
            stored = self.get(record.id)  # type: ignore[attr-defined]
            version = getattr(record, "version", None)
            if stored is None or (version is not None and stored.version != version - 1):  # type: ignore[attr-defined]
                raise stale_record(
                    entity,
                    index,
                    record.id,  # type: ignore[attr-defined]
                    None if stored is None else getattr(stored, "version", 0),
                    None if version is None else version - 1,
                )
            merged.append(merge_fields(stored, record, names))
        for record in merged:
            self.update(record)

    @abstractmethod
    def delete(self, record_id: str) -> bool:
        """Delete by id; True if a record was deleted."""

    @abstractmethod
    def delete_where(self, where: Cond) -> int:
        """Delete every matching record; returns how many."""

    @abstractmethod
    def find(
        self,
        where: Cond | None = None,
        *,
        order_by: Sequence[Order] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[R]:
        """Matching records, ordered, paginated."""

    @abstractmethod
    def count(self, where: Cond | None = None) -> int:
        """How many records match."""

    def take_skipped(self) -> list[CorruptRecordError]:
        """The rows :meth:`find` (and :meth:`claim`) skipped since the last call, and forget them.

        A SQL store skips a row it cannot decode (written by another client
        with a value the record type cannot hold) rather than failing the whole
        read, logs it on the ``campaign_core.store`` logger and keeps it here;
        :meth:`get` raises the error instead. The memory store holds only
        records, so it never skips one.
        """
        return []

    @abstractmethod
    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        """Atomically add ``deltas`` to numeric fields (exact under concurrency).

        Does not touch ``version``: counters are commutative and never conflict.
        Raises NotFoundError if the record does not exist, ValidationError
        (:func:`check_increment`) for a field that is not numeric.
        """

    @abstractmethod
    def claim(
        self,
        where: Cond,
        *,
        order_by: Sequence[Order],
        limit: int,
        owner: str,
        until: datetime,
        now: datetime,
    ) -> list[R]:
        """Lease up to ``limit`` due records to ``owner`` until ``until``.

        Only records whose lease is free or expired (``lease_until`` missing or
        ``<= now``) are taken. Two concurrent claims never return the same
        record while its lease holds (``FOR UPDATE SKIP LOCKED`` on servers that
        have it, a single writer on SQLite). The record type must have
        ``lease_owner`` and ``lease_until`` fields; the returned records carry
        the new lease and a bumped ``version`` when the type has one.
        """

    def iter_all(self, where: Cond | None = None, *, batch: int = 1000) -> Iterator[R]:
        """Every matching record, in id order, fetched ``batch`` at a time."""
        offset = 0
        while True:
            page = self.find(where, order_by=[Order("id")], limit=batch, offset=offset)
            yield from page
            if len(page) < batch:
                return
            offset += batch


class LinkRepository(ABC):
    """The pairs of a many-to-many join table, inside a unit of work.

    The seed's implicit many-to-many between ``Automation`` and ``Campaign`` is
    Prisma's join table ``_AutomationToCampaign``: two columns, ``A`` (the
    workflow's id) and ``B`` (the campaign's id), no id of its own, so it is not
    a :class:`Repository`. A pair is there once or not at all; deleting either
    side (through the library or another client) removes its pairs.
    """

    @abstractmethod
    def link(self, a: str, b: str) -> bool:
        """Add the pair ``(a, b)``; False if it was there already (nothing changes).

        Raises:
            ConflictError: ``a`` or ``b`` names no row (a SQL store's foreign key,
                ``details["reason"] == "constraint"``).
        """

    @abstractmethod
    def unlink(self, a: str, b: str) -> bool:
        """Remove the pair ``(a, b)``; True if it was there."""

    @abstractmethod
    def find(self, *, a: str | None = None, b: str | None = None) -> list[tuple[str, str]]:
        """The pairs with this ``a`` and/or ``b`` (every pair without either), sorted."""


class UnitOfWork(ABC):
    """One transaction over every repository (see the module doc)."""

    campaigns: Repository[Campaign]
    templates: Repository[CampaignTemplate]
    publish_jobs: Repository[PublishJob]
    ab_tests: Repository[ABTest]
    ab_test_variants: Repository[ABTestVariant]
    automations: Repository[Automation]
    automation_executions: Repository[AutomationExecution]
    automation_runs: Repository[AutomationRun]
    automation_step_runs: Repository[AutomationStepRun]
    automation_versions: Repository[AutomationVersion]
    automation_triggers: Repository[AutomationTrigger]
    automation_trigger_matches: Repository[AutomationTriggerMatch]
    segments: Repository[Segment]
    segment_members: Repository[SegmentMember]
    campaign_metrics: Repository[CampaignMetric]
    campaign_conversions: Repository[CampaignConversion]
    fans: Repository[Fan]
    fan_events: Repository[FanEvent]
    audit_records: Repository[AuditRecord]
    ab_test_validations: Repository[WinnerValidation]
    rate_limits: Repository[RateLimitState]
    credentials: Repository[PlatformCredentialRecord]
    tracking_events: Repository[TrackingEventRecord]
    campaign_analytics_state: Repository[CampaignAnalyticsState]
    broadcasts: Repository[Broadcast]
    deliveries: Repository[Delivery]
    fan_consents: Repository[FanConsent]
    consent_events: Repository[ConsentEvent]
    suppressions: Repository[Suppression]
    unsubscribe_token_uses: Repository[UnsubscribeTokenUse]
    delivery_events: Repository[DeliveryEvent]
    message_templates: Repository[MessageTemplate]
    idempotency_records: Repository[IdempotencyRecord]

    @abstractmethod
    def commit(self) -> None:
        """Make every write of this unit of work durable and visible."""

    @abstractmethod
    def rollback(self) -> None:
        """Discard every write of this unit of work."""

    @property
    def automation_campaigns(self) -> LinkRepository:
        """The workflows linked to campaigns (``_AutomationToCampaign``: ``a`` the workflow, ``b`` the campaign).

        The library links a workflow to each campaign its ``create_campaign``
        steps create, in the same unit of work; an app sharing the database
        links others (Prisma's ``connect``). A unit of work that wraps another
        passes it through from ``inner``.

        Raises:
            NotImplementedError: a store that keeps no links.
        """
        inner = _inner(self)
        if inner is None:
            raise NotImplementedError(f"{type(self).__name__} keeps no automation-campaign links")
        return inner.automation_campaigns

    def repository(self, name: str) -> Repository[Any]:
        """The repository called ``name`` (``"campaigns"``...)."""
        repo = getattr(self, name, None)
        if not isinstance(repo, Repository):
            raise KeyError(name)
        return repo

    def audience_queries(self) -> AudienceQueries | None:
        """The store's criteria evaluation, bound to this unit of work, or ``None``.

        Present when :attr:`StoreCapabilities.audience_queries` is declared.
        Services use it when it is there and fall back to loading the fans and
        evaluating them in Python otherwise, with the same results. A unit of
        work that wraps another (the auditing one) exposes it as ``inner``;
        this default passes the question through to it.

        Returns:
            An :class:`AudienceQueries` reading inside this transaction, or ``None``.
        """
        inner = _inner(self)
        return None if inner is None else inner.audience_queries()

    def tracking_aggregates(self) -> TrackingAggregates | None:
        """The store's tracking aggregates, bound to this unit of work, or ``None``.

        Present when :attr:`StoreCapabilities.tracking_aggregates` is declared
        (the SQL store computes them with ``GROUP BY``); otherwise analytics
        computes the same numbers from ``tracking_events``. Passed through a
        wrapping unit of work's ``inner`` like :meth:`audience_queries`.

        Returns:
            A :class:`TrackingAggregates` reading inside this transaction, or ``None``.
        """
        inner = _inner(self)
        return None if inner is None else inner.tracking_aggregates()


def _inner(uow: UnitOfWork) -> UnitOfWork | None:
    inner = getattr(uow, "inner", None)
    return inner if isinstance(inner, UnitOfWork) and inner is not uow else None


@attrs.frozen(kw_only=True)
class StoreCapabilities:
    """What a store declares it can do beyond the repository contract.

    Returned by :meth:`Store.capabilities`; the library reads these flags and
    nothing else (no ``hasattr``, no names) to choose how to use a store, and
    the contract suite in :mod:`campaign_core.testing` checks each declared
    one against the reference. The defaults describe a minimal store.

    Attributes:
        skip_locked: concurrent claims run in parallel, each skipping records
            another claim holds (``FOR UPDATE SKIP LOCKED``); otherwise claims
            are serialized (one writer).
        audience_queries: :meth:`UnitOfWork.audience_queries` returns criteria
            evaluation in the store, with the per-fan evaluator's answers.
        tracking_aggregates: :meth:`UnitOfWork.tracking_aggregates` returns
            aggregates computed in the store, equal to the repository path's.
        batched_queries: every repository call is a round trip to a server and
            a failed write may spoil the transaction, so callers read many
            records in one query, check unique keys before writing, and write
            in batches (the automation engine does, on such stores).
        max_parameters: the most values one query may carry (an ``In`` list,
            mainly); callers split longer lists. ``None``: no limit.
        max_batch_rows: the most records one ``add_many``/``update_many`` call
            may carry; callers split longer batches. ``None``: no limit (the
            store splits them itself if it must).
    """

    skip_locked: bool = False
    audience_queries: bool = False
    tracking_aggregates: bool = False
    batched_queries: bool = False
    max_parameters: int | None = None
    max_batch_rows: int | None = None


class ReadOnlyRepository(Repository[R]):
    """Mixed in before a store's repository class: every write raises (a read-only unit of work)."""

    def _refuse(self) -> NoReturn:
        raise RuntimeError("a read-only unit of work cannot write")

    def add(self, record: R) -> None:
        self._refuse()

    def add_many(self, records: Sequence[R]) -> None:
        self._refuse()

    def update(self, record: R) -> None:
        self._refuse()

    def update_many(self, records: Sequence[R], *, fields: Sequence[str] | None = None) -> None:
        self._refuse()

    def delete(self, record_id: str) -> bool:
        self._refuse()

    def delete_where(self, where: Cond) -> int:
        self._refuse()

    def increment(self, record_id: str, deltas: Mapping[str, float]) -> None:
        self._refuse()

    def claim(
        self,
        where: Cond,
        *,
        order_by: Sequence[Order],
        limit: int,
        owner: str,
        until: datetime,
        now: datetime,
    ) -> list[R]:
        self._refuse()


class Store(ABC):
    """A place to persist the library's records."""

    @abstractmethod
    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """Open a unit of work (one transaction)."""

    def read_only_unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """Open a unit of work that only reads; by default an ordinary one.

        Returns:
            A context manager giving a unit of work whose repositories may refuse
            writes (``RuntimeError``); a store overrides this when reads can be
            served more cheaply (no write lock).
        """
        return self.unit_of_work()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and resources."""

    def maintain(self, now: datetime) -> tuple[str, ...]:
        """Housekeeping the store needs on a schedule; ``core.tick()`` calls it each time.

        The SQL store creates PostgreSQL's monthly partitions of the tracking
        events ahead of time; a store with nothing to do keeps this default.
        It must be cheap when there is nothing to do, and safe from several
        workers at once.

        Args:
            now: the tick's instant (the injected clock's).

        Returns:
            The names of what it created (empty when nothing was needed).
        """
        del now
        return ()

    def capabilities(self) -> StoreCapabilities:
        """What this store can do beyond the repository contract (see :class:`StoreCapabilities`).

        The same answer every time for one store. This default declares none.
        """
        return StoreCapabilities()


@runtime_checkable
class Messenger(Protocol):
    """Sends messages to fans (welcome messages, offers, broadcasts...).

    Contract: ``send`` must deduplicate on ``idempotency_key`` where it can,
    because the engine delivers at least once. It returns a provider message id,
    or raises; any exception counts as a failed attempt to be retried.

    ``channel`` (``dm``, ``email``, ``sms``, ``push``...), ``address`` (the fan's
    address on it; the fan's id for a platform DM), ``parts`` (rendered
    message parts, when the core renders; None: render ``template`` with
    ``variables`` yourself) and ``unsubscribe`` (this message's own signed
    unsubscribe ``token`` for the fan, channel and topic, and with
    ``MessagingSettings.unsubscribe_url`` its ``url`` and the
    ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` header values) are passed
    only to a ``send`` that names them: a messenger written before they existed
    keeps working.
    """

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Mapping[str, Any],
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Mapping[str, Any] | None = None,
        unsubscribe: Mapping[str, str] | None = None,
    ) -> str: ...


@runtime_checkable
class AddressBook(Protocol):
    """Where the core finds a fan's address on a channel (an email, a phone number, a push token).

    The default, :class:`StoredAddresses`, reads the fan record's ``addresses``
    (``upsert_fan(..., addresses={"email": ...})``). A host that keeps addresses
    itself (a CRM, its user table) passes its own to
    ``CampaignCore(address_book=...)``: every send path (broadcasts, the workflow
    ``send_message`` step, ``execute_action``), the suppression list lookups and
    delivery feedback then ask it.

    Contract: ``addresses`` answers for a batch of fans of one account at once
    (a broadcast asks once per batch), leaves out what it does not know (the
    fan is then ``no_address`` on that channel, or falls back to the next
    channel), and raises only when it cannot answer at all (the batch is tried
    again later; no fan is marked). Channels the settings call ``addressless``
    (a platform's DM) reach a fan by their id when the book has nothing.
    """

    def addresses(
        self, *, owner_id: str, fans: Sequence[Fan], channels: Sequence[str]
    ) -> Mapping[str, Mapping[str, str]]:
        """``{fan_id: {channel: address}}`` for ``fans`` on ``channels`` (unknown ones left out)."""
        ...


class StoredAddresses:
    """The default :class:`AddressBook`: the addresses kept on the fan records."""

    def addresses(
        self, *, owner_id: str, fans: Sequence[Fan], channels: Sequence[str]
    ) -> Mapping[str, Mapping[str, str]]:
        """Each fan's ``addresses`` entries for ``channels`` (empty ones left out)."""
        out: dict[str, dict[str, str]] = {}
        for fan in fans:
            found = {c: a for c in channels if (a := fan.addresses.get(c))}
            if found:
                out[fan.fan_id] = found
        return out


_NEW_MESSENGER_ARGS: Final = ("channel", "address", "parts", "unsubscribe")
_accepted_cache: dict[type, frozenset[str]] = {}


def _accepted(messenger: Any) -> frozenset[str]:
    """The new keyword arguments ``messenger.send`` names."""
    kind = type(messenger)
    if kind in _accepted_cache:
        return _accepted_cache[kind]
    try:
        params = inspect.signature(messenger.send).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        names: frozenset[str] = frozenset()
    else:
        # only what ``send`` names: a ``**kwargs`` wrapper often forwards to an older send
        names = frozenset(n for n in _NEW_MESSENGER_ARGS if n in params)
    _accepted_cache[kind] = names
    return names


def messenger_accepts(messenger: Any, name: str) -> bool:
    """Whether ``messenger.send`` names the keyword argument ``name`` (``unsubscribe``...)."""
    return name in _accepted(messenger)


def send_through(
    messenger: Messenger,
    *,
    owner_id: str,
    fan_id: str,
    template: str,
    variables: Mapping[str, Any],
    idempotency_key: str,
    channel: str = "dm",
    address: str | None = None,
    parts: Mapping[str, Any] | None = None,
    unsubscribe: Mapping[str, str] | None = None,
) -> str:
    """Call ``messenger.send`` with the keyword arguments it accepts.

    ``channel``, ``address``, ``parts`` and ``unsubscribe`` go to a messenger whose
    ``send`` names them; an older messenger (or a ``**kwargs`` wrapper around one)
    gets the original five.
    """
    accepted = _accepted(messenger)
    extra = {
        k: v
        for k, v in (
            ("channel", channel),
            ("address", address),
            ("parts", parts),
            ("unsubscribe", unsubscribe),
        )
        if k in accepted
    }
    send: Callable[..., str] = messenger.send
    return send(
        owner_id=owner_id,
        fan_id=fan_id,
        template=template,
        variables=variables,
        idempotency_key=idempotency_key,
        **extra,
    )


@attrs.frozen(kw_only=True)
class TrackingCounts:
    """Aggregates of one campaign's tracking events, as a SQL ``GROUP BY`` returns them.

    Attributes:
        campaign_id: the campaign.
        cells: one mapping per (platform, variant) cell present:
            ``platform``, ``variantId``, ``impressions``, ``clicks``,
            ``conversions``, ``revenue``, ``spent``, ``revenueSumSquares``
            (the input of :func:`campaign_core.analytics.metrics_from_counts`).
        reach: distinct fans with an impression: ``{"total": n, "byPlatform":
            {platform: n}, "byVariant": {variant: n}}`` (``None`` keys for
            impressions without a platform or variant).
        first_event_at: the earliest event counted, if any.
        last_event_at: the latest event counted, if any.
    """

    campaign_id: str
    cells: tuple[Mapping[str, Any], ...] = ()
    reach: Mapping[str, Any] = attrs.field(factory=lambda: {"total": 0})
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


class TrackingAggregates(ABC):
    """Optional store capability: tracking aggregates computed in the database.

    Got from ``uow.tracking_aggregates()``; it reads and writes
    inside that unit of work's transaction. Without it the analytics service
    computes the same numbers from ``uow.tracking_events`` in Python. The
    results must be exactly what the repository path gives (the service's
    tests compare both).

    Every method takes campaign ids the caller has already scoped to one
    account; any number of ids (the adapter splits long ``IN`` lists).
    """

    @abstractmethod
    def counts(
        self, campaign_ids: Sequence[str], *, before: datetime | None = None
    ) -> dict[str, TrackingCounts]:
        """Per campaign, the counters per (platform, variant) cell and the reach figures.

        Args:
            campaign_ids: the campaigns.
            before: count only events with ``occurred_at < before`` (``None``: all).

        Returns:
            ``{campaign_id: TrackingCounts}`` for every given id (empty counts
            for a campaign without events).
        """

    @abstractmethod
    def columns(
        self,
        campaign_ids: Sequence[str],
        *,
        since: datetime | None = None,
        before: datetime | None = None,
        kinds: Sequence[str] | None = None,
        fan_ids: Sequence[str] | None = None,
    ) -> dict[str, list[Any]]:
        """The matching events as columns, without building records.

        Args:
            campaign_ids: the campaigns.
            since: only events with ``occurred_at >= since``.
            before: only events with ``occurred_at < before``.
            kinds: only these kinds.
            fan_ids: only these fans.

        Returns:
            ``{"campaign_id", "kind", "occurred_at", "value", "fan_id",
            "platform", "variant_id"}``: equal-length lists, in no particular order.
        """

    @abstractmethod
    def anonymize_fan(self, campaign_ids: Sequence[str], fan_id: str, token: str) -> int:
        """Replace ``fan_id`` by ``token`` in the campaigns' events; returns how many changed."""


@attrs.frozen
class AudienceSummary:
    """Sufficient statistics over a set of fans (members of a segment, a criteria match).

    Sums cover the fans whose value is present (``engagement_count`` of them have
    an engagement score). Conversions are the ``campaign_conversions`` of those
    fans in campaigns of the same owner; ``conversion_value_sum_sq`` sums each
    fan's total conversion value squared over every fan (0 for fans without any),
    so revenue per fan can be compared with Welch's test.
    """

    fans: int
    engagement_count: int = 0
    engagement_sum: float = 0.0
    engagement_sum_sq: float = 0.0
    lifetime_value_count: int = 0
    lifetime_value_sum: float = 0.0
    lifetime_value_sum_sq: float = 0.0
    converters: int = 0
    conversions: int = 0
    conversion_value_sum: float = 0.0
    conversion_value_sum_sq: float = 0.0


@runtime_checkable
class AudienceQueries(Protocol):
    """Optional store capability: criteria evaluated where the fans are.

    A unit of work whose :meth:`UnitOfWork.audience_queries` returns one
    lets the segment service count and list matching fans in the store (the
    SQLAlchemy store compiles criteria to SQL). Without it the service loads the
    owner's fans and events and evaluates them in Python (vectorized).

    Contract, for every method:

    - **Same answers as the per-fan evaluator.** A fan matches when
      :func:`campaign_core.criteria.evaluate` on the fan as stored says so, with
      ``now`` and the fan's memberships (see ``docs/howto/segments.md`` for how a
      stored fan becomes evaluator input: ``id`` is the host's ``fan_id``, a trait
      whose JSON type is not its declared type is missing, datetime traits are
      ISO-8601 UTC text).
    - **Scoped.** Only fans with ``owner_id`` are considered; ``in_segment``
      reads the stored members of that owner's segments (a segment of another
      owner, or no segment, has no members).
    - **Inside the unit of work.** Reads see the unit of work's own writes.
    - **Errors.** Invalid criteria for ``registry`` raise
      :class:`~campaign_core.errors.ValidationError`; driver failures are
      translated as for repositories.
    """

    def count_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> int:
        """How many of the owner's fans match ``criteria`` at ``now``."""
        ...

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
        """The matching fans' ``fan_id`` in code point order, ``limit`` from ``offset``.

        ``after`` keeps only the ids after it in code point order (keyset paging:
        a broadcast's snapshot walks a criteria audience batch by batch from a
        cursor, memory flat, without the shifts of an offset).
        """
        ...

    def summarize_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> AudienceSummary:
        """Engagement, lifetime value and conversion sums over the matching fans."""
        ...
