"""Automation records: the seed's ``Automation`` and ``AutomationExecution`` models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from campaign_core.models._common import StrEnum, to_tuple

__all__ = ["Automation", "AutomationExecution", "AutomationStatus", "ExecutionStatus"]


class AutomationStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class ExecutionStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"


@attrs.frozen(kw_only=True)
class Automation:
    """A workflow (table ``automations``): a trigger, conditions and actions.

    Additions: ``workflow_version`` grows with every change of the definition
    (runs pin the version they started with); ``settings`` holds the re-entry
    policy, quiet hours, frequency caps and timeout; ``version`` is the row version.
    """

    id: str
    user_id: str
    name: str
    description: str | None = None
    status: AutomationStatus = attrs.field(
        default=AutomationStatus.PAUSED, converter=AutomationStatus
    )
    trigger: dict[str, Any] = attrs.field(factory=dict)
    conditions: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    actions: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    execution_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    last_executed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    workflow_version: int = 1
    settings: dict[str, Any] = attrs.field(factory=dict)
    version: int = 1


@attrs.frozen(kw_only=True)
class AutomationExecution:
    """The seed's history record of one run of a workflow (table ``automation_executions``).

    Additions: ``run_id`` and ``fan_id`` link it to the durable run and its fan.
    """

    id: str
    automation_id: str
    status: ExecutionStatus = attrs.field(converter=ExecutionStatus)
    trigger_data: dict[str, Any] = attrs.field(factory=dict)
    executed_actions: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    errors: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=to_tuple)
    started_at: datetime
    completed_at: datetime | None = None
    duration: int | None = None
    run_id: str | None = None
    fan_id: str | None = None
