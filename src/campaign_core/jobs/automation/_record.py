"""Recording: the outcomes of a claimed batch written in one transaction, then metrics and alerts."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import attrs

from campaign_core._runtime import Tx
from campaign_core.alerts import Alert, AlertKind
from campaign_core.audit import audited
from campaign_core.errors import CampaignCoreError, ConflictError, NotFoundError
from campaign_core.jobs.automation._base import EngineBase
from campaign_core.jobs.automation._state import (
    ROUND_FIELDS,
    Outcome,
    Stale,
    execution_status,
    metric_trigger,
)
from campaign_core.jobs.sending import log_sends
from campaign_core.models import (
    AutomationExecution,
    AutomationStepRun,
    Delivery,
    ExecutionStatus,
)

__all__ = ["Recording"]

_log = logging.getLogger("campaign_core.automation")


class Recording(EngineBase):
    """Writes what advancing a batch of runs produced."""

    # -- recording --------------------------------------------------------------------------
    @audited("automation.run")
    def record(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Write every outcome of a batch in one transaction (one by one if that fails).

        Audited as ``automation.run`` by the system (fan updates, segment changes).
        """
        if not outcomes:
            return []
        if self._sql and len(outcomes) > 1:
            try:
                with self.rt.transaction() as tx:
                    kept = self._apply(tx, outcomes, bulk=True)
                self._after(kept)
                return kept
            except Stale:
                pass  # some run changed since the claim: write them one by one below
            except CampaignCoreError as error:
                _log.warning("recording %d runs failed (%s); one by one", len(outcomes), error)
                return self._record_each(outcomes)
        try:
            with self.rt.transaction() as tx:
                kept = self._apply(tx, outcomes)
            self._after(kept)
            return kept
        except CampaignCoreError as error:
            if len(outcomes) == 1:
                return self._record_failed_effect(outcomes[0], error)
            _log.warning(
                "recording a batch of %d runs failed (%s); one by one", len(outcomes), error
            )
        return self._record_each(outcomes)

    def _record_each(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        kept_all: list[Outcome] = []
        for outcome in outcomes:
            kept_all.extend(self.record([outcome]))
        return kept_all

    def _record_failed_effect(self, outcome: Outcome, error: CampaignCoreError) -> list[Outcome]:
        """A run's own record failed (its store effect raised): count a failed attempt instead."""
        if not outcome.ops:
            _log.warning("recording run %s failed: %s", outcome.run.id, error)
            return []
        with self.rt.transaction() as tx:
            current = tx.uow.automation_runs.get(outcome.run.id)
            if current is None or current.version != outcome.run.version - 1:
                return []
            now = self.rt.now()
            attempts = current.attempts + 1
            wake = now + self.cfg.retry_delay(attempts)
            failed = attrs.evolve(
                current,
                attempts=attempts,
                wake_at=min(wake, current.deadline) if current.deadline else wake,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
                version=current.version + 1,
            )
            tx.uow.automation_runs.update(failed)
        _log.warning("the store effect of run %s failed (will retry): %s", outcome.run.id, error)
        return [Outcome(run=failed, trigger_type=outcome.trigger_type)]

    def _apply(self, tx: Tx, outcomes: Sequence[Outcome], *, bulk: bool = False) -> list[Outcome]:
        kept: list[Outcome] = []
        rows: list[AutomationStepRun] = []
        sends: list[Delivery] = []
        executions: list[AutomationExecution] = []
        counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if bulk:
            # one batch UPDATE of what a round changes, each run where its version is still
            # the claim's: if any was changed meanwhile (a lost lease, an opt-out), nothing
            # is written and the caller starts over with one update per run
            try:
                tx.uow.automation_runs.update_many([o.run for o in outcomes], fields=ROUND_FIELDS)
            except ConflictError:
                raise Stale() from None
        for outcome in outcomes:
            if not bulk:
                try:
                    tx.uow.automation_runs.update(outcome.run)
                except (ConflictError, NotFoundError):
                    continue  # lost the lease, cancelled meanwhile, or erased: theirs is the record
            for op in outcome.ops:
                op(tx)
            rows.extend(outcome.steps)
            sends.extend(outcome.sends)
            if outcome.finished:
                execution = self._execution(outcome)
                executions.append(execution)
                if execution.status is ExecutionStatus.SUCCESS:
                    counters[outcome.run.automation_id]["success_count"] += 1
                elif execution.status is ExecutionStatus.FAILURE:
                    counters[outcome.run.automation_id]["failure_count"] += 1
            kept.append(outcome)
        if rows:
            tx.uow.automation_step_runs.add_many(rows)
        log_sends(tx, sends)  # the message log frequency caps count (every send path)
        if executions:
            tx.uow.automation_executions.add_many(executions)
        for automation_id, deltas in counters.items():
            with contextlib.suppress(NotFoundError):  # the workflow was deleted meanwhile
                tx.uow.automations.increment(automation_id, dict(deltas))
        return kept

    def _after(self, kept: Sequence[Outcome]) -> None:
        """Metrics and (grouped) alerts once a batch is committed."""
        emitter = self.rt.emitter
        failures: dict[tuple[str, str], list[str]] = defaultdict(list)
        timeouts: dict[tuple[str, str], int] = defaultdict(int)
        for outcome in kept:
            run = outcome.run
            for action_type in outcome.failed_attempts:
                emitter.automation_action_failed(action_type=action_type, owner_id=run.owner_id)
            for failure in outcome.failures:
                failures[(run.owner_id, run.automation_id)].append(failure)
            if outcome.timed_out:
                timeouts[(run.owner_id, run.automation_id)] += 1
            if outcome.finished:
                status = execution_status(run.status, run.errors)
                processing = float(run.state.get("processingMs", 0.0))
                emitter.automation_executed(
                    status=status.value,
                    duration_ms=processing,
                    trigger_type=metric_trigger(run.trigger_type),
                    owner_id=run.owner_id,
                )
        now = self.rt.now()
        for (owner, automation_id), messages in failures.items():
            self.rt.alerter.alert(
                Alert(
                    kind=AlertKind.AUTOMATION_FAILED,
                    owner_id=owner,
                    message=f"{len(messages)} step failure(s) in automation {automation_id}: "
                    + "; ".join(messages[:_ALERT_SAMPLE]),
                    entity="automation",
                    entity_id=automation_id,
                    at=now,
                    data={"failures": len(messages), "sample": messages[:_ALERT_SAMPLE]},
                )
            )
        for (owner, automation_id), count in timeouts.items():
            self.rt.alerter.alert(
                Alert(
                    kind=AlertKind.AUTOMATION_TIMEOUT,
                    owner_id=owner,
                    message=f"{count} run(s) of automation {automation_id} timed out and were cancelled",
                    entity="automation",
                    entity_id=automation_id,
                    at=now,
                    data={"runs": count},
                )
            )


_ALERT_SAMPLE: Final = 5
