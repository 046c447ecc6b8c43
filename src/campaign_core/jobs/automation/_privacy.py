"""Privacy hooks: an opt-out or an erasure cancels pending runs; an export lists them."""

from __future__ import annotations

import logging
from typing import Any

import attrs

from campaign_core._runtime import Tx
from campaign_core.jobs.automation._base import EngineBase
from campaign_core.jobs.automation._state import iso
from campaign_core.models import RunStatus
from campaign_core.query import And, Eq, In, Order

__all__ = ["PrivacyHooks"]

_log = logging.getLogger("campaign_core.automation")


class PrivacyHooks(EngineBase):
    """The fan opt-out, erasure and export hooks of the engine."""

    def on_opt_out(self, tx: Tx, fan: Any) -> None:
        """Opt-out hook: cancel the fan's open runs (pending sends never go out)."""
        self.stop_runs(
            tx,
            And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id)),
            RunStatus.CANCELLED,
            "fan opted out",
        )

    def on_erase(self, tx: Tx, fan: Any, token: str) -> dict[str, int]:
        """Erasure hook: cancel runs, replace the fan's id by ``token`` in run history."""
        self.on_opt_out(tx, fan)
        where = And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id))
        runs = tx.uow.automation_runs.find(where)
        for run in runs:
            tx.uow.automation_runs.update(
                attrs.evolve(
                    run,
                    fan_id=token,
                    trigger_data={"type": run.trigger_type},
                    variables={},
                    version=run.version + 1,
                )
            )
        steps = tx.uow.automation_step_runs.find(where)
        for step in steps:
            tx.uow.automation_step_runs.update(attrs.evolve(step, fan_id=token, output={}))
        automation_ids = [a.id for a in tx.uow.automations.find(Eq("user_id", fan.owner_id))]
        executions = (
            tx.uow.automation_executions.find(
                And(In("automation_id", automation_ids), Eq("fan_id", fan.fan_id))
            )
            if automation_ids
            else []
        )
        for execution in executions:
            tx.uow.automation_executions.update(
                attrs.evolve(
                    execution,
                    fan_id=token,
                    trigger_data={"type": execution.trigger_data.get("type")},
                )
            )
        matches = (
            tx.uow.automation_trigger_matches.delete_where(
                And(In("automation_id", automation_ids), Eq("fan_id", fan.fan_id))
            )
            if automation_ids
            else 0
        )
        return {
            "automation_runs_anonymized": len(runs),
            "automation_steps_anonymized": len(steps),
            "automation_executions_anonymized": len(executions),
            "automation_trigger_matches": matches,
        }

    def on_export(self, tx: Tx, fan: Any) -> dict[str, Any]:
        """Export hook: the fan's runs and executions (JSON)."""
        from campaign_core.serialization import to_json

        runs = tx.uow.automation_runs.find(
            And(Eq("owner_id", fan.owner_id), Eq("fan_id", fan.fan_id)),
            order_by=[Order("entered_at")],
        )
        return {
            "automationRuns": [
                {
                    "runId": r.id,
                    "workflowId": r.automation_id,
                    "status": r.status.value,
                    "enteredAt": iso(r.entered_at),
                    "finishedAt": iso(r.finished_at),
                    "triggerData": to_json(r.trigger_data),
                    "executedActions": to_json(list(r.executed_actions)),
                }
                for r in runs
            ]
        }
