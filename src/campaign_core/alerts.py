"""The Alerter port: user-facing alerts (failures, conflicts, budget, timeouts)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from campaign_core.models import StrEnum

__all__ = [
    "Alert",
    "AlertKind",
    "LoggingAlerter",
    "RecordingAlerter",
]

_log = logging.getLogger("campaign_core.alerts")


class AlertKind(StrEnum):
    BUDGET_EXHAUSTED = "budget_exhausted"
    #: spend passed the overspend alarm (110 % of the budget, the seed's alarm)
    BUDGET_OVERSPEND = "budget_overspend"
    SCHEDULE_CONFLICT = "schedule_conflict"
    #: a scheduled campaign could not launch (nothing to publish, content a platform
    #: rejects, budget spent) and was returned to draft
    LAUNCH_FAILED = "launch_failed"
    PUBLISH_FAILED = "publish_failed"
    #: publishing waits for a configuration fix: stored credentials the keys cannot open
    CREDENTIALS_UNUSABLE = "credentials_unusable"
    AUTOMATION_FAILED = "automation_failed"
    AUTOMATION_TIMEOUT = "automation_timeout"


@attrs.frozen(kw_only=True)
class Alert:
    """Something the owner should know.

    Attributes:
        kind: what happened.
        owner_id: the account to tell.
        message: a sentence for a human.
        entity: ``"campaign"``, ``"automation"``...
        entity_id: which one.
        at: when (from the clock).
        data: JSON-safe details (no fan identifiers).
    """

    kind: AlertKind = attrs.field(converter=AlertKind)
    owner_id: str
    message: str
    entity: str
    entity_id: str
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class Alerter(Protocol):
    """Delivers alerts to owners (email, in-app, Slack...).

    Contract: called after the change that caused the alert is committed; must
    not raise for delivery failures (the engine logs and moves on).
    """

    def alert(self, alert: Alert) -> None: ...


class RecordingAlerter:
    """Default alerter: keeps alerts in memory (and logs them); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.alerts: list[Alert] = []

    def alert(self, alert: Alert) -> None:
        with self._lock:
            self.alerts.append(alert)
        _log.info(
            "alert %s for %s %s: %s", alert.kind, alert.entity, alert.entity_id, alert.message
        )

    def of_kind(self, kind: str) -> list[Alert]:
        with self._lock:
            return [a for a in self.alerts if a.kind == kind]


class LoggingAlerter:
    """Logs alerts at WARNING level and keeps nothing."""

    def alert(self, alert: Alert) -> None:
        _log.warning(
            "alert %s for %s %s: %s", alert.kind, alert.entity, alert.entity_id, alert.message
        )
