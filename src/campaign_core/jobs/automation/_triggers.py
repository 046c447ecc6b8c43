"""Behaviour sweeps and time triggers: claimed like runs, walked a page of fans at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from campaign_core._runtime import Tx
from campaign_core.automation import Trigger, TriggerType, Workflow
from campaign_core.criteria import compile_criteria
from campaign_core.errors import CampaignCoreError
from campaign_core.jobs.automation._enrol import Enrolment
from campaign_core.jobs.automation._state import ms, resolve_segment
from campaign_core.models import (
    Automation,
    AutomationStatus,
    AutomationTrigger,
    AutomationTriggerMatch,
    Fan,
)
from campaign_core.query import And, Cond, Eq, Gt, In, Lte, NotIn, Order
from campaign_core.serialization import format_datetime

__all__ = ["Triggers"]

_log = logging.getLogger("campaign_core.automation")


class Triggers(Enrolment):
    """Schedules and runs behaviour sweeps and time (cron or one-off) triggers."""

    # -- triggers --------------------------------------------------------------------------
    def schedule_trigger(self, tx: Tx, automation: Automation, workflow: Workflow) -> None:
        """(Re)create the sweep or fire schedule of an activated behaviour or time trigger."""
        tx.uow.automation_triggers.delete_where(Eq("automation_id", automation.id))
        trigger = workflow.trigger
        now = self.rt.now()
        if trigger.type is TriggerType.BEHAVIOR:
            next_run: datetime | None = now
        elif trigger.type is TriggerType.TIME:
            next_run = self._next_fire(trigger, now)
        else:
            return
        tx.uow.automation_triggers.add(
            AutomationTrigger(
                id=self.rt.ids.new_id("trigger"),
                automation_id=automation.id,
                owner_id=automation.user_id,
                kind=trigger.type.value,
                next_run_at=next_run,
                baseline=trigger.type is TriggerType.BEHAVIOR and not trigger.enrol_existing,
                updated_at=now,
            )
        )

    def _next_fire(self, trigger: Trigger, after: datetime) -> datetime | None:
        if trigger.cron is not None:
            return trigger.cron.next_after(after, trigger.time_zone or self.cfg.default_time_zone)
        if trigger.at is not None and trigger.at > after:
            return trigger.at
        return None

    def process_due_triggers(self) -> tuple[int, int]:
        """Run due behaviour sweeps and time triggers; returns (triggers, runs enrolled)."""
        rt = self.rt
        processed = enrolled = 0
        seen: list[str] = []  # a pass cut short by the budget resumes at the next tick
        while True:
            now = rt.now()
            due: Cond = Lte("next_run_at", now)
            if seen:
                due = And(due, NotIn("id", seen))
            with rt.transaction() as tx:
                claimed = tx.uow.automation_triggers.claim(
                    due,
                    order_by=[Order("next_run_at"), Order("id")],
                    limit=rt.settings.tick_batch_size,
                    owner=rt.worker_id,
                    until=now + rt.settings.lease_duration,
                    now=now,
                )
            if not claimed:
                return processed, enrolled
            for trigger in claimed:
                seen.append(trigger.id)
                try:
                    enrolled += self._run_trigger(trigger)
                except CampaignCoreError as error:
                    _log.warning("trigger %s failed (skipped): %s", trigger.id, error)
                    self._release_trigger(trigger, now + self.cfg.sweep_interval)
                processed += 1

    def _release_trigger(self, trigger: AutomationTrigger, next_run: datetime | None) -> None:
        with self.rt.transaction() as tx:
            current = tx.uow.automation_triggers.get(trigger.id)
            if current is None or current.lease_owner != self.rt.worker_id:
                return
            tx.uow.automation_triggers.update(
                attrs.evolve(
                    current,
                    next_run_at=next_run,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=self.rt.now(),
                    version=current.version + 1,
                )
            )

    def _run_trigger(self, trigger: AutomationTrigger) -> int:
        rt = self.rt
        with rt.transaction() as tx:
            automation = tx.uow.automations.get(trigger.automation_id)
        if automation is None or automation.status is not AutomationStatus.ACTIVE:
            self._release_trigger(trigger, None)
            return 0
        workflow = self.current(automation)
        if workflow.trigger.type.value != trigger.kind:
            self._release_trigger(trigger, None)
            return 0
        if trigger.kind == TriggerType.BEHAVIOR.value:
            return self._sweep(trigger, automation, workflow)
        return self._fire(trigger, automation, workflow)

    def _page_loop(
        self,
        trigger: AutomationTrigger,
        page: Callable[[Tx, str | None], list[Fan]],
        handle: Callable[[Tx, list[Fan], AutomationTrigger], int],
        done: Callable[[AutomationTrigger, datetime], dict[str, Any]],
    ) -> int:
        """Walk fans a page at a time, persisting the cursor with each page (resumable)."""
        rt = self.rt
        size = self.cfg.sweep_page_size
        handled = enrolled = 0
        current = trigger
        while True:
            now = rt.now()
            with rt.transaction() as tx:
                fresh = tx.uow.automation_triggers.get(current.id)
                if fresh is None or fresh.version != current.version:
                    return enrolled  # lost the lease (or deactivated): stop here
                fans = page(tx, current.cursor)
                enrolled += handle(tx, fans, current)
                last = len(fans) < size
                changes: dict[str, Any] = {
                    "cursor": fans[-1].fan_id if fans else current.cursor,
                    "pass_started_at": current.pass_started_at,
                    "updated_at": now,
                    "version": current.version + 1,
                }
                handled += len(fans)
                if last:
                    changes.update(done(current, now))
                    changes.update(lease_owner=None, lease_until=None, cursor=None)
                elif handled >= self.cfg.sweep_fans_per_tick:
                    changes.update(next_run_at=now, lease_owner=None, lease_until=None)
                current = attrs.evolve(current, **changes)
                tx.uow.automation_triggers.update(current)
            if current.lease_owner is None:
                return enrolled

    def _sweep(self, trigger: AutomationTrigger, automation: Automation, workflow: Workflow) -> int:
        assert workflow.trigger.criteria is not None
        compiled = compile_criteria(workflow.trigger.criteria, registry=self.registry)
        if trigger.pass_started_at is None:
            trigger = attrs.evolve(trigger, pass_started_at=self.rt.now())
        pass_ms = ms(trigger.pass_started_at or self.rt.now())
        owner = automation.user_id
        size = self.cfg.sweep_page_size

        def page(tx: Tx, cursor: str | None) -> list[Fan]:
            where: Cond = Eq("owner_id", owner)
            if cursor is not None:
                where = And(where, Gt("fan_id", cursor))
            return tx.uow.fans.find(where, order_by=[Order("fan_id")], limit=size)

        def handle(tx: Tx, fans: list[Fan], current: AutomationTrigger) -> int:
            if not fans:
                return 0
            now = self.rt.now()
            matching = {f.fan_id for f in self.evaluate(tx, compiled, fans, now, automation.id)}
            known = {
                m.fan_id: m
                for m in tx.uow.automation_trigger_matches.find(
                    And(Eq("automation_id", automation.id), In("fan_id", [f.fan_id for f in fans]))
                )
            }
            for fan_id, match in known.items():
                if fan_id not in matching:
                    tx.uow.automation_trigger_matches.delete(match.id)
            started = [f for f in fans if f.fan_id in matching and f.fan_id not in known]
            tx.uow.automation_trigger_matches.add_many(
                [
                    AutomationTriggerMatch(
                        id=self.rt.ids.new_id("match"),
                        automation_id=automation.id,
                        fan_id=f.fan_id,
                        matched_at=now,
                    )
                    for f in started
                ]
            )
            if current.baseline or not started:
                return 0
            condition = workflow.trigger.condition
            runs = self.enrol(
                tx,
                automation,
                workflow,
                started,
                entry=f"behavior:{pass_ms}",
                trigger_data=lambda fan: {
                    "type": "behavior",
                    "condition": condition,
                    "matchedAt": format_datetime(now),
                },
            )
            return len(runs)

        def done(current: AutomationTrigger, now: datetime) -> dict[str, Any]:
            return {
                "next_run_at": now + self.cfg.sweep_interval,
                "pass_started_at": None,
                "baseline": False,
            }

        return self._page_loop(trigger, page, handle, done)

    def _fire(self, trigger: AutomationTrigger, automation: Automation, workflow: Workflow) -> int:
        fire_at = trigger.pass_started_at or trigger.next_run_at or self.rt.now()
        trigger = attrs.evolve(trigger, pass_started_at=fire_at)
        owner = automation.user_id
        size = self.cfg.sweep_page_size
        ref = workflow.trigger.segment
        segment_id: str | None = None
        if ref is not None:
            with self.rt.transaction() as tx:
                segment = resolve_segment(tx, owner, ref)
            if segment is None:
                _log.warning(
                    "time trigger of %s: segment %r not found; skipped", automation.id, ref
                )
                self._release_trigger(trigger, self._next_fire(workflow.trigger, self.rt.now()))
                return 0
            segment_id = segment.id

        def page(tx: Tx, cursor: str | None) -> list[Fan]:
            if segment_id is None:
                where: Cond = Eq("owner_id", owner)
                if cursor is not None:
                    where = And(where, Gt("fan_id", cursor))
                return tx.uow.fans.find(where, order_by=[Order("fan_id")], limit=size)
            member_where: Cond = Eq("segment_id", segment_id)
            if cursor is not None:
                member_where = And(member_where, Gt("fan_id", cursor))
            members = tx.uow.segment_members.find(
                member_where, order_by=[Order("fan_id")], limit=size
            )
            if not members:
                return []
            found = {
                f.fan_id: f
                for f in tx.uow.fans.find(
                    And(Eq("owner_id", owner), In("fan_id", [m.fan_id for m in members]))
                )
            }
            # keep the page's length so the walk knows when it ends; erased fans are dropped later
            return [
                found.get(m.fan_id)
                or Fan(
                    id="",
                    owner_id=owner,
                    fan_id=m.fan_id,
                    opted_out=True,
                    created_at=fire_at,
                    updated_at=fire_at,
                )
                for m in members
            ]

        def handle(tx: Tx, fans: list[Fan], current: AutomationTrigger) -> int:
            runs = self.enrol(
                tx,
                automation,
                workflow,
                [f for f in fans if f.id],
                entry=f"time:{ms(fire_at)}",
                trigger_data=lambda fan: {
                    "type": "time",
                    "firedAt": format_datetime(fire_at),
                    "segmentId": segment_id,
                },
            )
            return len(runs)

        def done(current: AutomationTrigger, now: datetime) -> dict[str, Any]:
            return {"next_run_at": self._next_fire(workflow.trigger, now), "pass_started_at": None}

        return self._page_loop(trigger, page, handle, done)
