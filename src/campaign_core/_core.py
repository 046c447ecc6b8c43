"""The composition root: CampaignCore wires the ports; workspaces scope services to an actor."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Runtime
from campaign_core.alerts import Alerter, RecordingAlerter
from campaign_core.audit import system_action
from campaign_core.automation import ActionRegistry, RecordingWebhookSender
from campaign_core.clock import Clock, FakeClock, SystemClock, ensure_utc
from campaign_core.errors import CampaignCoreError
from campaign_core.ids import CuidIds, IdFactory
from campaign_core.jobs.automation import Engine
from campaign_core.jobs.automation import install as install_automations
from campaign_core.jobs.consent import register_consent_hooks
from campaign_core.jobs.delivery import DeliveryRun, process_broadcasts
from campaign_core.jobs.launches import launch_due_campaigns
from campaign_core.jobs.publishing import process_due_publish_jobs
from campaign_core.jobs.retention import RetentionReport, purge_expired
from campaign_core.jobs.rollup import run_hourly_rollup
from campaign_core.jobs.segments import refresh_due_segments
from campaign_core.jobs.winners import validate_due_winners
from campaign_core.metrics import MetricsEmitter, MetricsSink, NullMetrics
from campaign_core.permissions import Actor
from campaign_core.ports import AddressBook, Messenger, Store, StoredAddresses, WebhookSender
from campaign_core.publishing import Publisher, RecordingPublisher
from campaign_core.services import UnsubscribeResult
from campaign_core.services.abtests import ABTestService
from campaign_core.services.analytics import AnalyticsService, register_analytics_hooks
from campaign_core.services.audit import AuditService
from campaign_core.services.automations import AutomationService, automation_ports
from campaign_core.services.campaigns import CampaignService
from campaign_core.services.credentials import CredentialService
from campaign_core.services.fans import FanService
from campaign_core.services.fans import list_unsubscribe as _list_unsubscribe
from campaign_core.services.fans import unsubscribe as _unsubscribe
from campaign_core.services.messages import MessageTemplateService
from campaign_core.services.segments import SegmentService
from campaign_core.settings import Settings

__all__ = ["CampaignCore", "RecordingMessenger", "TickReport", "Workspace"]

_log = logging.getLogger("campaign_core.engine")


class RecordingMessenger:
    """Default messenger: records every message (deduplicated by idempotency key), with its channel and address."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._keys: dict[str, str] = {}

    def send(
        self,
        *,
        owner_id: str,
        fan_id: str,
        template: str,
        variables: Any,
        idempotency_key: str,
        channel: str = "dm",
        address: str | None = None,
        parts: Any = None,
        unsubscribe: Any = None,
    ) -> str:
        if idempotency_key in self._keys:
            return self._keys[idempotency_key]
        message_id = f"msg-{len(self.messages) + 1}"
        self.messages.append(
            {
                "owner_id": owner_id,
                "fan_id": fan_id,
                "template": template,
                "variables": dict(variables),
                "idempotency_key": idempotency_key,
                "message_id": message_id,
                "channel": channel,
                "address": address,
                "parts": None if parts is None else dict(parts),
                "unsubscribe": None if unsubscribe is None else dict(unsubscribe),
            }
        )
        self._keys[idempotency_key] = message_id
        return message_id


@attrs.frozen
class TickError:
    """Something that failed during a tick (the tick itself goes on)."""

    job: str
    entity_id: str
    error: str


@attrs.frozen
class TickReport:
    """What one ``tick()`` did.

    Attributes:
        now: the instant the tick ran for.
        campaigns_launched: ids of scheduled campaigns launched.
        publish_attempts: publish jobs tried (first tries and retries).
        deliveries_enqueued: broadcast delivery rows written by audience snapshots.
        messages_sent: broadcast messages the messenger accepted.
        segments_refreshed: ids of dynamic segments refreshed (daily).
        winners_validated: A/B winner holdouts closed and judged.
        automation_runs_enrolled: runs started by behaviour sweeps and time triggers.
        automation_runs_advanced: runs whose due steps were executed (a run
            can be advanced more than once in a tick: once per side effect).
        automation_steps: workflow steps executed (retries not counted).
        automation_runs_finished: runs that ended (any final status).
        automation_triggers: behaviour sweeps and time triggers processed.
        campaigns_rolled_up: campaigns whose hourly analytics snapshots were written.
        metric_snapshots: ``CampaignMetric`` rows written (inserted or refreshed).
        overspend_alerts: budget overspend alarms raised (spend above 110 % of a budget).
        audit_records_purged: audit records deleted by retention (``settings.retention``).
        deliveries_purged: delivery rows deleted by retention.
        partitions_created: what ``store.maintain`` created (PostgreSQL: the monthly
            partitions of the tracking events, created ahead of time).
        idempotency_records_purged: expired idempotency keys and signed requests seen
            deleted by retention (``settings.retention.idempotency_hours``).
        errors: failures that were logged and skipped.
    """

    now: datetime
    campaigns_launched: tuple[str, ...] = ()
    publish_attempts: int = 0
    deliveries_enqueued: int = 0
    messages_sent: int = 0
    segments_refreshed: tuple[str, ...] = ()
    winners_validated: int = 0
    automation_runs_enrolled: int = 0
    automation_runs_advanced: int = 0
    automation_steps: int = 0
    automation_runs_finished: int = 0
    automation_triggers: int = 0
    campaigns_rolled_up: int = 0
    metric_snapshots: int = 0
    overspend_alerts: int = 0
    audit_records_purged: int = 0
    deliveries_purged: int = 0
    idempotency_records_purged: int = 0
    partitions_created: tuple[str, ...] = ()
    errors: tuple[TickError, ...] = ()

    @property
    def did_work(self) -> bool:
        return bool(
            self.campaigns_launched
            or self.publish_attempts
            or self.deliveries_enqueued
            or self.messages_sent
            or self.segments_refreshed
            or self.winners_validated
            or self.automation_runs_enrolled
            or self.automation_runs_advanced
            or self.automation_triggers
            or self.campaigns_rolled_up
            or self.metric_snapshots
            or self.overspend_alerts
        )


class Workspace:
    """The services, scoped to one actor. Get one with :meth:`CampaignCore.for_actor`."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self.actor = actor
        self.abtests = ABTestService(runtime, actor)
        self.campaigns = CampaignService(runtime, actor, abtests=self.abtests)
        self.automations = AutomationService(runtime, actor)
        self.analytics = AnalyticsService(runtime, actor)
        self.fans = FanService(runtime, actor)
        self.segments = SegmentService(runtime, actor)
        self.audit = AuditService(runtime, actor)
        self.credentials = CredentialService(runtime, actor)
        self.messages = MessageTemplateService(runtime, actor)

    def __repr__(self) -> str:
        return f"Workspace({self.actor!r})"


class CampaignCore:
    """The library's entry point.

    Args:
        store: where records live (``InMemoryStore()``, ``SqlAlchemyStore(url)``).
        clock: the time source (default: the system clock; tests pass ``FakeClock``).
        metrics: a :class:`~campaign_core.ports.MetricsSink` (default: discard).
        publisher: publishes to platforms (default: records calls in memory).
        messenger: sends messages to fans (default: records calls in memory).
        address_book: where fans' addresses per channel come from (default: the
            fan records' ``addresses``; a host keeping addresses itself passes
            its :class:`~campaign_core.ports.AddressBook`).
        webhooks: makes the HTTP calls of ``webhook`` steps (a
            :class:`~campaign_core.ports.WebhookSender`; default: records them
            in memory and answers 200).
        content: a content generator (default: the built-in adapter).
        alerter: delivers alerts to owners (default: records them in memory).
        ids: makes ids (default: cuid-like ids).
        settings: tunables (:class:`Settings`).
        credential_keys: Fernet keys (newest first) that encrypt platform
            credentials at rest (extra ``crypto``); without them credentials
            cannot be stored.

    Example::

        core = CampaignCore(InMemoryStore(), clock=FakeClock())
        ws = core.for_actor(Actor("creator-1"))
        campaign = ws.campaigns.create_campaign(name="Spring sale", type="promotion")
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        metrics: MetricsSink | None = None,
        publisher: Publisher | None = None,
        messenger: Messenger | None = None,
        address_book: AddressBook | None = None,
        webhooks: WebhookSender | None = None,
        content: Any = None,
        alerter: Alerter | None = None,
        ids: IdFactory | None = None,
        settings: Settings | None = None,
        credential_keys: Any = None,
    ) -> None:
        clock = clock or SystemClock()
        sink = metrics or NullMetrics()
        settings = settings or Settings()
        self.runtime = Runtime(
            store=store,
            clock=clock,
            ids=ids or CuidIds(),
            metrics=sink,
            emitter=MetricsEmitter(
                sink, clock=clock, platforms=settings.platforms.metric_dimensions
            ),
            publisher=publisher or RecordingPublisher(),
            messenger=messenger or RecordingMessenger(),
            address_book=address_book or StoredAddresses(),
            content=content,
            alerter=alerter or RecordingAlerter(),
            settings=settings,
            webhooks=webhooks or RecordingWebhookSender(),
        )
        if credential_keys is not None:
            from campaign_core.publishing import CredentialCipher

            self.runtime.cipher = CredentialCipher(
                credential_keys, clock=clock, platforms=settings.platforms.names
            )
        self._automation_ports = automation_ports(self.runtime)
        install_automations(self.runtime, self._automation_ports)
        register_analytics_hooks(self.runtime)
        register_consent_hooks(self.runtime)

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def publisher(self) -> Publisher:
        return self.runtime.publisher

    @property
    def webhooks(self) -> WebhookSender:
        """The sender of ``webhook`` steps' HTTP calls."""
        return self.runtime.webhooks

    @property
    def alerter(self) -> Alerter:
        return self.runtime.alerter

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def automation_actions(self) -> ActionRegistry:
        """The custom automation action types (``core.automation_actions.register(...)``)."""
        return self.runtime.settings.automation.actions

    @property
    def metrics(self) -> MetricsEmitter:
        """The emitter the services report through (its ``stats`` count dropped points)."""
        return self.runtime.emitter

    def close(self) -> None:
        """Flush metrics and release the store's connections."""
        self.runtime.emitter.close()
        self.runtime.store.close()

    def unsubscribe(self, token: str) -> UnsubscribeResult:
        """Apply an unsubscribe link's token: no actor, the signed token is the authority.

        The fan refuses the token's topic (every topic on its channel when the
        token names none), with source ``unsubscribe_link``. A token works once:
        a second use changes nothing and returns ``replayed=True``.

        Raises:
            InvalidTokenError: the token was tampered with, is malformed, or has
                expired (``reason`` says which).
        """
        return _unsubscribe(self.runtime, token)

    def list_unsubscribe(
        self,
        owner_id: str,
        fan_id: str,
        *,
        channel: str = "email",
        topic: str | None = None,
        url_base: str,
        mailto: str | None = None,
    ) -> dict[str, str]:
        """The ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` header values (RFC 8058).

        ``url_base`` is the host's HTTPS endpoint that passes the ``token`` query
        parameter to :meth:`unsubscribe` (on a POST, for one-click); ``mailto``
        an optional address for mail clients that unsubscribe by email.

        Raises:
            ValidationError: a bad argument (an http:// URL, an unknown channel...).
        """
        return _list_unsubscribe(
            self.runtime,
            owner_id,
            fan_id,
            channel=channel,
            topic=topic,
            url_base=url_base,
            mailto=mailto,
        )

    def for_actor(self, actor: Actor) -> Workspace:
        """The services as ``actor`` sees them (their account, their role)."""
        if not isinstance(actor, Actor):
            raise TypeError("for_actor expects an Actor")
        return Workspace(self.runtime, actor)

    def tick(self, now: datetime | None = None) -> TickReport:
        """Run, once, everything that is due: launches, publish retries, segment refreshes, roll-ups.

        In order: scheduled campaigns whose time has come are launched (one
        that cannot launch is returned to draft with a ``launch_failed``
        alert; one refused by the launch throttle has its ``scheduled_for``
        moved to when its owner may launch again, so neither holds back the
        campaigns due after it); publish jobs due for a (re)try are tried; dynamic segments due for
        their daily refresh are refreshed; campaigns whose last hour of
        tracking is complete are rolled up into the seed's hourly
        ``CampaignMetric`` snapshots (per platform and aggregated; idempotent),
        with their ROI and budget utilization emitted and the overspend alarm
        checked; once an hour the campaigns-by-status gauge is published.
        Then retention: audit and delivery records older than
        ``settings.retention`` allows, and the HTTP layer's expired idempotency
        records, are deleted, one bounded batch per kind
        (:mod:`campaign_core.jobs.retention`). Then the store's own
        housekeeping (``store.maintain``: PostgreSQL's monthly partitions of the
        tracking events, created ahead). Then broadcasts: each launched campaign with a message snapshots the next
        batch of its audience and sends its due messages (up to
        ``tick_batch_size`` per campaign). Then automations: due behaviour sweeps and time triggers (enrolling
        fans), due workflow steps (up to ``settings.automation.runs_per_tick``
        run advances), held runs of re-activated workflows, and the workflow experiments
        due for a look (a winner routes new entrants to its path).

        Safe to call from several workers at once: each item is taken by one.
        A failure of one item is logged, reported and skipped; the rest runs.

        Args:
            now: the instant to run for (default: the clock's now). With a
                ``FakeClock`` the clock is moved there; with another clock the
                whole tick runs as if it said ``now`` (a worker catching up).
        """
        rt = self.runtime
        if now is not None:
            now = ensure_utc(now, path="now")
            if isinstance(rt.clock, FakeClock):
                rt.clock.set(now)
            else:
                with rt.fixed_now(now):
                    return self._tick()
        return self._tick()

    def _tick(self) -> TickReport:
        rt = self.runtime
        now = rt.now()
        errors: list[TickError] = []
        batch = rt.settings.tick_batch_size
        launches = launch_due_campaigns(rt, batch)
        errors.extend(TickError("launch", c, m) for c, m in launches.errors)
        attempts = 0
        try:
            with system_action("tick.publish"):
                due_publish = process_due_publish_jobs(rt, batch)
            attempts = len(due_publish.jobs)
            errors.extend(TickError("publish", c, m) for c, m in due_publish.errors)
        except CampaignCoreError as error:
            errors.append(TickError("publish", "", str(error)))
            _log.warning("publish retries failed: %s", error)
        refreshed: list[str] = []
        try:
            with system_action("tick.segment_refresh"):
                refreshed = refresh_due_segments(rt, now, batch)
        except CampaignCoreError as error:
            errors.append(TickError("segments", "", str(error)))
            _log.warning("segment refresh failed: %s", error)
        validated = 0
        try:
            with system_action("tick.ab_validation"):
                validated = validate_due_winners(rt, batch)
        except CampaignCoreError as error:
            errors.append(TickError("ab_validation", "", str(error)))
            _log.warning("A/B winner validation failed: %s", error)
        rollup = None
        try:
            rollup = run_hourly_rollup(rt, now)
        except CampaignCoreError as error:
            errors.append(TickError("rollup", "", str(error)))
            _log.warning("analytics roll-up failed: %s", error)
        else:
            for campaign_id, message in rollup.errors:
                errors.append(TickError("rollup", campaign_id, message))
                _log.warning("roll-up of %s failed: %s", campaign_id, message)
        purged = RetentionReport()
        try:
            with system_action("tick.retention"):
                purged = purge_expired(rt, now)
        except CampaignCoreError as error:
            errors.append(TickError("retention", "", str(error)))
            _log.warning("retention purge failed: %s", error)
        partitions: tuple[str, ...] = ()
        try:
            partitions = rt.store.maintain(now)
        except CampaignCoreError as error:
            errors.append(TickError("maintenance", "", str(error)))
            _log.warning("store maintenance failed: %s", error)
        deliveries = DeliveryRun()
        try:
            with system_action("tick.delivery"):
                deliveries = process_broadcasts(rt, batch)
            errors.extend(TickError("delivery", c, m) for c, m in deliveries.errors)
        except CampaignCoreError as error:
            errors.append(TickError("delivery", "", str(error)))
            _log.warning("broadcast delivery failed: %s", error)
        engine = Engine(rt, self._automation_ports)
        triggers = enrolled = 0
        try:
            triggers, enrolled = engine.process_due_triggers()
        except CampaignCoreError as error:
            errors.append(TickError("automation_triggers", "", str(error)))
            _log.warning("automation triggers failed: %s", error)
        runs = engine.process_due_runs()
        try:
            engine.heal_held()
        except CampaignCoreError as error:
            errors.append(TickError("automation_resume", "", str(error)))
        try:
            engine.look_at_experiments()
        except CampaignCoreError as error:
            errors.append(TickError("automation_experiments", "", str(error)))
        return TickReport(
            now=now,
            campaigns_launched=launches.launched,
            publish_attempts=attempts,
            deliveries_enqueued=deliveries.enqueued,
            messages_sent=deliveries.sent,
            segments_refreshed=tuple(refreshed),
            winners_validated=validated,
            automation_runs_enrolled=enrolled,
            automation_runs_advanced=runs.runs_advanced,
            automation_steps=runs.steps_executed,
            automation_runs_finished=runs.runs_finished,
            automation_triggers=triggers,
            campaigns_rolled_up=0 if rollup is None else rollup.campaigns,
            metric_snapshots=0 if rollup is None else rollup.snapshots,
            overspend_alerts=0 if rollup is None else rollup.overspend_alerts,
            audit_records_purged=purged.audit_records,
            deliveries_purged=purged.deliveries,
            idempotency_records_purged=purged.idempotency_records,
            partitions_created=partitions,
            errors=tuple(errors),
        )
