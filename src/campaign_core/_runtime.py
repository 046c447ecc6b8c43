"""What every service shares: the ports, the settings, transactions with after-commit hooks."""

from __future__ import annotations

import contextvars
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import attrs

from campaign_core.alerts import Alert, Alerter
from campaign_core.audit import AuditingUnitOfWork
from campaign_core.automation._settings import AutomationSettings
from campaign_core.cache import Caches
from campaign_core.clock import Clock, truncate_ms
from campaign_core.entities import ENTITIES
from campaign_core.errors import NotFoundError, ValidationError
from campaign_core.ids import IdFactory
from campaign_core.metrics import MetricsEmitter, MetricsSink
from campaign_core.permissions import Actor, Permission, require
from campaign_core.ports import Messenger, Store, UnitOfWork
from campaign_core.publishing import PlatformRules, Publisher, RetryPolicy
from campaign_core.ratelimit import RateLimiter, RateLimits

__all__ = ["Runtime", "Service", "Settings", "Tx"]

_log = logging.getLogger("campaign_core")
_NOW: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "campaign_core_now", default=None
)


def _positive_span(instance: Any, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError.single(f"settings.{attribute.name}", "must be a positive duration")


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.single(f"settings.{attribute.name}", "must be a positive integer")


def _automation_settings(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, AutomationSettings):
        raise ValidationError.single(
            "settings.automation", "expected an AutomationSettings", "invalid_type"
        )


def _holdout(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 50.0:
        raise ValidationError.single(
            "settings.winner_holdout_percent", "must be a number from 0 to 50"
        )


def _key_bytes(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise ValidationError.single("settings.pseudonym_key", "must be at least 16 bytes")
    return raw


def _trait_types(value: Mapping[str, Any]) -> Mapping[str, Any]:
    from campaign_core.services.fans import validate_trait_types

    return validate_trait_types(value)


@attrs.frozen(kw_only=True)
class Settings:
    """Tunable behaviour of a :class:`~campaign_core.CampaignCore`.

    Attributes:
        schedule_conflict_window: campaigns of one owner scheduled this close
            together on a shared platform or segment are reported as conflicts.
        strict_scheduling: raise ``ConflictError`` on a scheduling conflict
            instead of reporting it.
        default_page_size / max_page_size: list pagination.
        publish_retry: how failed publishes are retried (attempts, exponential
            backoff with jitter, honouring a platform's retry-after).
        platform_rules: each platform's limits (caption length, hashtags, media,
            prices...), overridable: ``PlatformRules.default().with_overrides({...})``.
        lease_duration: how long a worker holds claimed work before another may take it.
        tick_batch_size: how many items of each kind one ``tick()`` handles.
        winner_holdout_percent: after ``apply_winner``, the share of a test's
            fans that keep seeing the baseline for ``winner_validation_window``,
            so the decision can be checked on fresh data (WinnerDeterminationAccuracy);
            0 turns the check off.
        winner_validation_window: how long that holdout lasts.
        rate_limits: per-account limits on API calls, launches and automation
            runs (:class:`~campaign_core.ratelimit.RateLimits`; off by default).
        pseudonym_key: the secret for keyed pseudonyms of fans in audit records
            and analytics output. The default is public, so anyone who knows a
            fan's id could recompute its pseudonym: production hosts must set
            their own (a str or bytes of at least 16), the same in every process.
        fan_traits: the host's custom fan traits and their types
            (``{"favorite_game": "string", "tier": "number"}``; types: string,
            number, boolean, datetime, string_list).
        automation: the automation engine's tunables and custom action types
            (:class:`~campaign_core.automation.AutomationSettings`: retries and
            backoff, run timeout, step budget, sweep interval, engagement
            events, known message templates, default time zone, actions).
    """

    schedule_conflict_window: timedelta = attrs.field(
        default=timedelta(hours=24), validator=_positive_span
    )
    strict_scheduling: bool = False
    default_page_size: int = attrs.field(default=20, validator=_positive_int)
    max_page_size: int = attrs.field(default=200, validator=_positive_int)
    publish_retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    platform_rules: PlatformRules = attrs.field(factory=PlatformRules.default)
    lease_duration: timedelta = attrs.field(default=timedelta(minutes=5), validator=_positive_span)
    tick_batch_size: int = attrs.field(default=100, validator=_positive_int)
    fan_traits: Mapping[str, Any] = attrs.field(factory=dict, converter=_trait_types)
    automation: AutomationSettings = attrs.field(
        factory=AutomationSettings, validator=_automation_settings
    )
    rate_limits: RateLimits = attrs.field(factory=RateLimits)
    winner_holdout_percent: float = attrs.field(default=10.0, validator=_holdout)
    winner_validation_window: timedelta = attrs.field(
        default=timedelta(days=7), validator=_positive_span
    )
    pseudonym_key: bytes = attrs.field(
        default=b"campaign-core-pseudonyms", converter=_key_bytes, repr=False
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
    caches: Caches = attrs.field()
    fan_event_hooks: list[Callable[[Tx, Any], None]] = attrs.field(factory=list)
    fan_opt_out_hooks: list[Callable[[Tx, Any], None]] = attrs.field(factory=list)
    # (tx, fan) -> extra export sections; (tx, fan, token) -> counts of erased/anonymized rows
    fan_export_hooks: list[Callable[[Tx, Any], dict[str, Any]]] = attrs.field(factory=list)
    fan_erase_hooks: list[Callable[[Tx, Any, str], dict[str, int]]] = attrs.field(factory=list)
    # (tx, segment, fan_ids): fans that entered a segment (refresh or manual add)
    segment_entered_hooks: list[Callable[[Tx, Any, list[str]], None]] = attrs.field(factory=list)
    worker_id: str = attrs.field(
        factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )

    limiter: RateLimiter = attrs.field()

    @limiter.default
    def _default_limiter(self) -> RateLimiter:
        return RateLimiter(self)

    @caches.default
    def _default_caches(self) -> Caches:
        return Caches(self.clock)

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
    def transaction(self) -> Iterator[Tx]:
        """One unit of work; committed if the block succeeds, then after-commit hooks run.

        The unit of work audits every change to an audited record in the same
        transaction (see :mod:`campaign_core.audit`).
        """
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
