"""What every service shares: the ports, the settings, transactions with after-commit hooks."""

from __future__ import annotations

import contextvars
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import attrs

from campaign_core.alerts import Alert, Alerter
from campaign_core.audience import registry_for
from campaign_core.audit import AuditingUnitOfWork
from campaign_core.automation import RecordingWebhookSender
from campaign_core.cache import Caches
from campaign_core.clock import Clock, truncate_ms
from campaign_core.entities import ENTITIES
from campaign_core.errors import NotFoundError
from campaign_core.ids import IdFactory
from campaign_core.messages import MessageFields, MessageRenderer
from campaign_core.metrics import MetricsEmitter, MetricsSink
from campaign_core.permissions import Actor, Permission, require
from campaign_core.ports import (
    AddressBook,
    Messenger,
    Store,
    StoredAddresses,
    UnitOfWork,
    WebhookSender,
)
from campaign_core.publishing import Publisher
from campaign_core.ratelimit import RateLimiter
from campaign_core.settings import Settings

__all__ = ["Runtime", "Service", "Settings", "Tx"]

_log = logging.getLogger("campaign_core")
_NOW: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "campaign_core_now", default=None
)


class Tx:
    """A unit of work plus callbacks to run once it has committed (alerts, metrics)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.after_commit: list[Callable[[], None]] = []


@attrs.define
class Runtime:
    """The ports and settings one :class:`~campaign_core.CampaignCore` wires together."""

    store: Store
    clock: Clock
    ids: IdFactory
    metrics: MetricsSink
    emitter: MetricsEmitter
    publisher: Publisher
    messenger: Messenger
    content: Any
    alerter: Alerter
    settings: Settings
    cipher: Any = None  # a CredentialCipher when the host gave credential keys
    address_book: AddressBook = attrs.field(factory=StoredAddresses)
    webhooks: WebhookSender = attrs.field(factory=RecordingWebhookSender)
    caches: Caches = attrs.field()
    fan_event_hooks: list[Callable[[Tx, Any], None]] = attrs.field(factory=list)
    fan_opt_out_hooks: list[Callable[[Tx, Any], None]] = attrs.field(factory=list)
    # (tx, fan) -> extra export sections; (tx, fan, token) -> counts of erased/anonymized rows
    fan_export_hooks: list[Callable[[Tx, Any], dict[str, Any]]] = attrs.field(factory=list)
    fan_erase_hooks: list[Callable[[Tx, Any, str], dict[str, int]]] = attrs.field(factory=list)
    # (tx, segment, fan_ids): fans that entered a segment (refresh or manual add)
    segment_entered_hooks: list[Callable[[Tx, Any, list[str]], None]] = attrs.field(factory=list)
    # (tx, segment, fan_ids): fans that left a segment (refresh or manual removal)
    segment_exited_hooks: list[Callable[[Tx, Any, list[str]], None]] = attrs.field(factory=list)
    worker_id: str = attrs.field(
        factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )

    limiter: RateLimiter = attrs.field()

    @limiter.default
    def _default_limiter(self) -> RateLimiter:
        return RateLimiter(self)

    # built on first use: rendering needs the templates extra, the rest of the core does not
    _message_renderer: MessageRenderer | None = attrs.field(default=None, init=False, repr=False)
    _message_fields: MessageFields | None = attrs.field(default=None, init=False, repr=False)

    @caches.default
    def _default_caches(self) -> Caches:
        return Caches(self.clock)

    def message_renderer(self) -> MessageRenderer:
        """The core's message renderer; compiled templates live in ``caches.templates``.

        Raises:
            MissingDependencyError: the ``templates`` extra is not installed.
        """
        if self._message_renderer is None:
            self._message_renderer = MessageRenderer(cache=self.caches.templates)
        return self._message_renderer

    def message_fields(self) -> MessageFields:
        """What the core's message templates may read: fan fields and ``Settings.fan_traits``."""
        if self._message_fields is None:
            self._message_fields = MessageFields.from_registry(registry_for(self.settings))
        return self._message_fields

    def now(self) -> datetime:
        fixed = _NOW.get()
        return fixed if fixed is not None else truncate_ms(self.clock.now())

    @contextmanager
    def fixed_now(self, instant: datetime) -> Iterator[None]:
        """Run the block as if the clock said ``instant`` (``tick(now=...)`` with a real clock)."""
        token = _NOW.set(truncate_ms(instant))
        try:
            yield
        finally:
            _NOW.reset(token)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Tx]:
        """One unit of work; committed if the block succeeds, then after-commit hooks run.

        The unit of work audits every change to an audited record in the same
        transaction (see :mod:`campaign_core.audit`). A ``read_only`` one writes
        nothing (its repositories refuse writes), so it needs no auditing, and the
        store may serve it without a write lock (SQLite).
        """
        if read_only:
            with self.store.read_only_unit_of_work() as inner:
                tx = Tx(inner)
                yield tx
                inner.commit()
        else:
            with self.store.unit_of_work() as inner:
                uow = AuditingUnitOfWork(
                    inner,
                    ids=lambda: self.ids.new_id("audit"),
                    now=self.now,
                    key=self.settings.pseudonym_key,
                    repositories=tuple(ENTITIES),
                )
                tx = Tx(uow)
                yield tx
                uow.commit()
        for hook in tx.after_commit:
            try:
                hook()
            except Exception:
                _log.exception("after-commit hook failed")

    def alert(self, tx: Tx, alert: Alert) -> None:
        """Send ``alert`` once ``tx`` has committed."""
        tx.after_commit.append(lambda: self.alerter.alert(alert))


class Service:
    """Base of the workspace services: an actor, the runtime, scoping helpers."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._rt = runtime
        self._actor = actor

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def account_id(self) -> str:
        return self._actor.account_id

    def _require(self, permission: Permission) -> None:
        require(self._actor, permission)
        # every workspace call checks its permission first: the per-account API limit counts here
        self._rt.limiter.hit(self._actor.account_id, "api")

    def _owned(self, record: Any, entity: str, record_id: str, owner_field: str = "user_id") -> Any:
        """``record`` if it exists and belongs to the actor's account, else NotFoundError.

        Another account's record behaves exactly like a missing one, so ids do
        not leak existence across accounts.
        """
        if record is None or getattr(record, owner_field) != self.account_id:
            raise NotFoundError(entity, record_id)
        return record
