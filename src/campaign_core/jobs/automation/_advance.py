"""Claim and advance: due runs are leased, planned outside any transaction, then recorded."""

from __future__ import annotations

import logging
import time as _time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from campaign_core._runtime import Tx
from campaign_core.automation import ActionFailed, Step, Workflow
from campaign_core.delivery import Send, Suppress
from campaign_core.errors import RateLimitedError
from campaign_core.jobs.automation._record import Recording
from campaign_core.jobs.automation._state import (
    EngineReport,
    Outcome,
    Round,
    RunState,
    Sleep,
    StepCall,
    StepResult,
    StoreFailure,
    held_out,
    iso,
    message_channel,
    message_topic,
    zone_of,
)
from campaign_core.jobs.automation.actions import invoke, lookup
from campaign_core.jobs.consent import check_send, load_consent
from campaign_core.jobs.sending import logged_send, recent_sends
from campaign_core.models import (
    Automation,
    AutomationRun,
    AutomationStatus,
    AutomationStepRun,
    Fan,
    RunStatus,
    StepStatus,
)
from campaign_core.query import And, Eq, In, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = ["Advancing"]

_log = logging.getLogger("campaign_core.automation")


class Advancing(Recording):
    """Claims due runs and advances each through its due steps."""

    # -- claiming and advancing -------------------------------------------------------------
    def process_due_runs(self, budget: int | None = None) -> EngineReport:
        """Claim and advance due runs, batch by batch, up to ``budget`` advances."""
        rt = self.rt
        remaining = self.cfg.runs_per_tick if budget is None else budget
        advanced = steps = finished = 0
        errors: list[tuple[str, str, str]] = []
        while remaining > 0:
            now = rt.now()
            with rt.transaction() as tx:
                claimed = tx.uow.automation_runs.claim(
                    And(Eq("status", RunStatus.ACTIVE), Lte("wake_at", now)),
                    order_by=[Order("wake_at"), Order("id")],
                    limit=min(rt.settings.tick_batch_size, remaining),
                    owner=rt.worker_id,
                    until=now + rt.settings.lease_duration,
                    now=now,
                )
                # what the batch needs is read in the claim's own transaction
                ctx = self._read_round(tx, claimed, now) if claimed else None
            if not claimed or ctx is None:
                break
            remaining -= len(claimed)
            outcomes = self.advance(claimed, ctx)
            recorded = self.record(outcomes)
            advanced += len(recorded)
            steps += sum(
                len([s for s in o.steps if s.status is not StepStatus.RETRYING]) for o in recorded
            )
            finished += sum(1 for o in recorded if o.finished)
        return EngineReport(
            runs_advanced=advanced,
            steps_executed=steps,
            runs_finished=finished,
            errors=tuple(errors),
        )

    def _read_round(self, tx: Tx, runs: Sequence[AutomationRun], now: datetime) -> Round:
        """The workflows, pinned versions and fans a batch of runs needs."""
        automations = {
            a.id: a
            for a in tx.uow.automations.find(In("id", sorted({r.automation_id for r in runs})))
        }
        workflows = self.pinned(
            tx, automations, {(r.automation_id, r.workflow_version) for r in runs}
        )
        fans: dict[tuple[str, str], Fan] = {}
        refs = sorted({r.fan_ref for r in runs if r.fan_ref})
        found = (
            tx.uow.fans.find(In("id", refs))
            if self._sql
            else [f for f in map(tx.uow.fans.get, refs) if f is not None]
        )
        for fan in found:
            fans[(fan.owner_id, fan.fan_id)] = fan
        by_owner: dict[str, set[str]] = defaultdict(set)
        for run in runs:
            if not run.fan_ref:  # runs from before fan_ref existed
                by_owner[run.owner_id].add(run.fan_id)
        for owner, fan_ids in by_owner.items():
            for fan in tx.uow.fans.find(And(Eq("owner_id", owner), In("fan_id", sorted(fan_ids)))):
                fans[(owner, fan.fan_id)] = fan
        return Round(now=now, automations=automations, workflows=workflows, fans=fans, runs=runs)

    def advance(self, runs: Sequence[AutomationRun], ctx: Round | None = None) -> list[Outcome]:
        """Plan each claimed run: execute its due steps (port calls happen here).

        Args:
            runs: runs this worker has just claimed.
            ctx: what they need, if already read (in the claim's transaction).
        """
        if ctx is None:
            now = self.rt.now()
            with self.rt.transaction() as tx:
                ctx = self._read_round(tx, runs, now)
        outcomes = []
        for run in runs:
            started = _time.perf_counter()
            try:
                outcome = self._advance_one(run, ctx)
            except StoreFailure as failure:
                raise failure.error from None
            except Exception as error:  # a bug must not stall the batch: fail the run
                _log.exception("advancing run %s failed", run.id)
                st = RunState.of(run)
                st.errors.append({"stepId": run.cursor, "error": f"engine error: {error}"})
                self._finish(st, RunStatus.FAILED, f"engine error: {error}", ctx.now)
                outcome = Outcome(
                    run=st.record(ctx.now), trigger_type=run.trigger_type, finished=True
                )
                outcome.failures.append(f"engine error: {error}")
            outcome.processing_ms = (_time.perf_counter() - started) * 1000
            outcomes.append(outcome)
        return outcomes

    def _advance_one(self, run: AutomationRun, ctx: Round) -> Outcome:
        now = ctx.now
        st = RunState.of(run)
        outcome = Outcome(run=run, trigger_type=run.trigger_type)
        automation = ctx.automations.get(run.automation_id)
        if automation is None:
            self._finish(st, RunStatus.CANCELLED, "workflow deleted", now)
            return self._close(st, outcome, now)
        if automation.status is not AutomationStatus.ACTIVE:
            st.status = RunStatus.HELD  # keeps wake_at: resuming applies the overdue policy
            outcome.run = st.record(now)
            return outcome
        workflow = ctx.workflows.get((run.automation_id, run.workflow_version))
        if not isinstance(workflow, Workflow):
            reason = f"workflow version {run.workflow_version} is unreadable: {workflow}"
            st.errors.append({"stepId": run.cursor, "error": reason, "at": iso(now)})
            self._finish(st, RunStatus.FAILED, reason, now)
            outcome.failures.append(reason)
            return self._close(st, outcome, now)
        fan = ctx.fans.get((run.owner_id, run.fan_id))
        if fan is None or fan.opted_out:
            reason = "fan erased" if fan is None else "fan opted out"
            self._finish(st, RunStatus.CANCELLED, reason, now)
            return self._close(st, outcome, now)
        if not st.state.get("started"):
            # the account's automation-run limit throttles starts: a run over it waits its turn
            try:
                self.rt.limiter.hit(run.owner_id, "automation_runs")
            except RateLimitedError as limited:
                st.wake_at = now + timedelta(seconds=max(1.0, limited.retry_after))
                st.state["step"] = {**st.state.get("step", {}), "deferred": "rate_limit"}
                return self._close(st, outcome, now)
            st.state["started"] = True
            if self.rt.settings.messaging.in_global_control(run.owner_id, run.fan_id):
                # the account's global control group: no workflow ever messages them
                st.state["heldOut"] = st.state["globalControl"] = True
            elif held_out(run.automation_id, run.fan_id, workflow.settings.holdout):
                st.state["heldOut"] = True  # tracked like the others, never messaged
        effect_done = False
        while st.status is RunStatus.ACTIVE:
            if run.deadline is not None and now >= run.deadline:
                reason = f"timed out: not finished by {format_datetime(run.deadline)}"
                st.errors.append({"stepId": st.cursor, "error": reason, "at": iso(now)})
                self._finish(st, RunStatus.TIMED_OUT, reason, now)
                outcome.timed_out = True
                break
            if st.wake_at is not None and st.wake_at > now:
                break
            step = workflow.step(st.cursor)
            if step is None:
                self._finish(st, RunStatus.COMPLETED, "completed", now)
                break
            if st.step_count >= self.cfg.max_steps_per_run:
                reason = f"step budget of {self.cfg.max_steps_per_run} steps exhausted"
                st.errors.append({"stepId": step.id, "error": reason, "at": iso(now)})
                self._finish(st, RunStatus.FAILED, reason, now)
                outcome.failures.append(reason)
                break
            if step.effect != "none" and effect_done:
                st.wake_at = now  # persist this effect before the next one
                break
            self._step(st, step, workflow, automation, fan, ctx, outcome)
            if step.effect != "none":
                effect_done = True
        return self._close(st, outcome, now)

    def _close(self, st: RunState, outcome: Outcome, now: datetime) -> Outcome:
        outcome.run = st.record(now)
        outcome.finished = st.status.finished
        return outcome

    def _history(
        self,
        st: RunState,
        step: Step,
        status: StepStatus,
        started: datetime,
        now: datetime,
        *,
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
        key: str | None = None,
    ) -> AutomationStepRun:
        run = st.run
        visit = st.visits.get(step.id, 0)
        return AutomationStepRun(
            # one row per attempt of a visit: a deterministic id (and no id factory call)
            id=f"{run.id}.{step.id}.{visit}.{st.attempts + 1}",
            run_id=run.id,
            automation_id=run.automation_id,
            owner_id=run.owner_id,
            fan_id=run.fan_id,
            step_id=step.id,
            action_type=step.type,
            visit=visit,
            attempt=st.attempts + 1,
            status=status,
            started_at=started,
            finished_at=now,
            duration_ms=max(0, int((now - started).total_seconds() * 1000)),
            output=dict(output or {}),
            error=error,
            idempotency_key=key,
        )

    def _step(
        self,
        st: RunState,
        step: Step,
        workflow: Workflow,
        automation: Automation,
        fan: Fan,
        ctx: Round,
        outcome: Outcome,
    ) -> None:
        """Run one step once and apply its result to the working state."""
        now = ctx.now
        waits = step.type in ("wait", "wait_until")
        started = (st.step_entered_at or now) if waits else now
        visit = st.visits.get(step.id, 0)
        key = f"{st.run.id}:{step.id}:{visit}"
        step_state: dict[str, Any] = st.state.setdefault("step", {})
        holdout = bool(st.state.get("heldOut")) and (
            step.messaging or bool(getattr(lookup(step.type, self.cfg.actions), "messaging", False))
        )
        if holdout or (step_state.get("skipOverdue") and not waits):
            st.state.pop("skipOverdue", None)
            outcome.steps.append(
                self._history(
                    st,
                    step,
                    StepStatus.SKIPPED,
                    now,
                    now,
                    output=(
                        {
                            "heldOut": True,
                            **({"globalControl": True} if st.state.get("globalControl") else {}),
                        }
                        if holdout
                        else None
                    ),
                    error="held out" if holdout else "overdue after pause",
                )
            )
            st.executed.append(
                {"stepId": step.id, "type": step.type, "status": "skipped", "at": iso(now)}
            )
            st.visits[step.id] = visit + 1
            st.step_count += 1
            self._enter(st, step.next, workflow, fan, now)
            return
        try:
            done = self.execute_step(st, step, workflow, automation, fan, ctx, key)
        except Sleep as sleep:
            step_state["deferred"] = sleep.reason
            deadline = st.run.deadline
            st.wake_at = min(sleep.until, deadline) if deadline is not None else sleep.until
            return
        except StoreFailure:
            raise  # our store failed, not the action: nothing is counted, the lease expires
        except ActionFailed as error:
            self._failed(
                st,
                step,
                workflow,
                fan,
                ctx,
                outcome,
                str(error),
                error.retryable,
                key,
                output=getattr(error, "output", None),
            )
            return
        except Exception as error:  # a port or handler failure: retried
            self._failed(
                st, step, workflow, fan, ctx, outcome, f"{type(error).__name__}: {error}", True, key
            )
            return
        output = dict(done.output)
        outcome.steps.append(
            self._history(
                st,
                step,
                StepStatus.COMPLETED,
                started,
                now,
                output=output,
                key=key if step.effect != "none" else None,
            )
        )
        if done.op is not None:
            outcome.ops.append(done.op)
        outcome.sends.extend(done.sends)
        entry: dict[str, Any] = {
            "stepId": step.id,
            "type": step.type,
            "status": "completed",
            "at": iso(now),
            "attempts": st.attempts + 1,
        }
        if output:
            entry["output"] = output
        st.executed.append(entry)
        st.visits[step.id] = visit + 1
        st.step_count += 1
        if done.exit is not None:
            self._finish(st, RunStatus.EXITED, done.exit, now)
            return
        self._enter(st, done.next if done.jump else step.next, workflow, fan, now)

    def _failed(
        self,
        st: RunState,
        step: Step,
        workflow: Workflow,
        fan: Fan,
        ctx: Round,
        outcome: Outcome,
        message: str,
        retryable: bool,
        key: str,
        *,
        output: Mapping[str, Any] | None = None,
    ) -> None:
        now = ctx.now
        attempt = st.attempts + 1
        retry = retryable and attempt <= self.cfg.action_retries
        outcome.failed_attempts.append(step.type)
        outcome.steps.append(
            self._history(
                st,
                step,
                StepStatus.RETRYING if retry else StepStatus.FAILED,
                now,
                now,
                output=output,
                error=message[:2000],
                key=key,
            )
        )
        if retry:
            st.attempts = attempt
            wake = now + self.cfg.retry_delay(attempt)
            deadline = st.run.deadline
            st.wake_at = min(wake, deadline) if deadline is not None else wake
            return
        st.errors.append(
            {
                "stepId": step.id,
                "type": step.type,
                "error": message[:2000],
                "attempts": attempt,
                "at": iso(now),
            }
        )
        outcome.failures.append(
            f"step {step.id} ({step.type}) failed after {attempt} attempt(s): {message[:300]}"
        )
        st.visits[step.id] = st.visits.get(step.id, 0) + 1
        st.step_count += 1
        policy = step.on_error
        if policy.kind == "continue":
            self._enter(st, step.next, workflow, fan, now)
        elif policy.kind == "goto":
            self._enter(st, policy.target, workflow, fan, now)
        else:
            self._finish(st, RunStatus.FAILED, f"step {step.id} failed: {message[:300]}", now)

    # -- actions ----------------------------------------------------------------------------
    def execute_step(
        self,
        st: RunState,
        step: Step,
        workflow: Workflow,
        automation: Automation,
        fan: Fan,
        ctx: Round,
        key: str,
    ) -> StepResult:
        """Run one step once through its action in the registry (built-in or custom).

        A messaging step (``send_message``, a custom messaging action) first asks the
        send policy (consent, suppression, address, quiet hours, frequency caps), and
        once it has sent, its message goes into the message log every send path
        counts (``StepResult.sends``).

        Raises:
            Sleep: the step cannot run yet (a wait, quiet hours, a frequency cap).
            StoreFailure: the engine's own store read failed.
            ActionFailed: the action failed (``retryable`` says whether to try again).
        """
        action = lookup(step.type, self.cfg.actions)
        messaging = step.messaging or bool(action is not None and action.messaging)
        verdict: Send | None = None
        if messaging:
            decided = self._eligible(step, fan, ctx)
            if isinstance(decided, Suppress):
                return StepResult({"suppressed": True, "reason": decided.reason})
            verdict = decided
            pinned = workflow
            if not step.messaging:
                # registered after the workflow was compiled: the run's pinned workflow
                found = ctx.workflows.get((st.run.automation_id, st.run.workflow_version))
                pinned = found if isinstance(found, Workflow) else workflow
            self._messaging_window(st, step, pinned, fan, ctx)
        if action is None:
            raise ActionFailed(
                f"no handler is registered for action type {step.type!r}", retryable=False
            )
        call = StepCall(
            rt=self.rt,
            ports=self.ports,
            sql=self._sql,
            state=st,
            step=step,
            workflow=workflow,
            automation=automation,
            fan=fan,
            round=ctx,
            key=key,
            send=verdict,
        )
        done = invoke(action, call)
        if verdict is None or done.output.get("suppressed"):
            return done
        fan_key = (st.run.owner_id, st.run.fan_id)
        ctx.sends[fan_key] = ctx.sends.get(fan_key, 0) + 1
        message_id = done.output.get("messageId")
        locale = done.output.get("locale")
        row = logged_send(
            owner_id=st.run.owner_id,
            fan_id=fan.fan_id,
            channel=verdict.channel,
            topic=message_topic(step, self.rt.settings.messaging),
            key=key,
            provider_message_id=None if message_id is None else str(message_id),
            now=ctx.now,
            locale=locale if isinstance(locale, str) else None,
        )
        return attrs.evolve(done, sends=(*done.sends, row))

    def _eligible(self, step: Step, fan: Fan, ctx: Round) -> Send | Suppress:
        """Whether the fan may get this step's message, and on which channel and address.

        The one consent check of every send path (:func:`~campaign_core.jobs.consent.check_send`):
        opt-out, the topic's consent on the step's channel (then its fallbacks),
        suppression, the fan's address for the channel. On SQL stores the consent and
        suppressions of the whole batch's fans are read once, at the batch's first message.
        """
        settings = self.rt.settings.messaging
        if fan.opted_out:
            return Suppress("opted_out")
        channels = settings.channel_chain(message_channel(step))
        topic = message_topic(step, settings)
        if not self._sql or not ctx.runs:
            return self._query(lambda tx: check_send(tx, self.rt, fan, channels, topic))
        snapshot = ctx.consents.get(fan.owner_id)
        if snapshot is None:
            owner = fan.owner_id
            fans = [f for (o, _), f in sorted(ctx.fans.items()) if o == owner]
            snapshot = self._query(lambda tx: load_consent(tx, self.rt, owner, fans))
            ctx.consents[owner] = snapshot
        return check_send(None, self.rt, fan, channels, topic, snapshot=snapshot)

    def _messaging_window(
        self, st: RunState, step: Step, workflow: Workflow, fan: Fan, ctx: Round
    ) -> None:
        """Defer a message that falls in quiet hours or over a frequency cap (fan's zone).

        The rules are :class:`~campaign_core.delivery.SendPolicy`'s, shared with
        broadcasts: the messaging settings' quiet hours (the workflow's own replace
        them) and frequency caps (the workflow's own is added), counted over the
        message log every send path writes (broadcasts, workflows, ``execute_action``).
        """
        now = ctx.now
        settings = workflow.settings
        zone = zone_of(fan, workflow, self.cfg)
        policy = self.send_policy
        quiet = (
            settings.quiet_hours
            if settings.quiet_hours is not None
            else policy.settings.quiet_hours
        )
        caps = [*policy.settings.frequency_caps]
        if settings.frequency_cap is not None:
            caps.append(settings.frequency_cap)
        sent: Sequence[datetime] = ()
        if caps:
            # one query back to the earliest period any cap counts in
            since = min(cap.period(now, zone).start for cap in caps)
            owner, fan_id = st.run.owner_id, st.run.fan_id
            found = self._query(lambda tx: recent_sends(tx, owner, [fan_id], since))
            sent = found.get(fan_id, ())
        wait = policy.timing(
            now=now,
            zone=zone,
            recent_sends=sent,
            pending=ctx.sends.get((st.run.owner_id, st.run.fan_id), 0),
            quiet_hours=quiet,
            frequency_caps=caps[len(policy.settings.frequency_caps) :],
        )
        if wait is not None:
            raise Sleep(wait.until, wait.reason)
