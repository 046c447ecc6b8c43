"""The durable workflow interpreter: enrolment, runs, steps, triggers, hooks.

How a run moves (see ``docs/explanation/engine-guarantees.md``):

1. **Enrolment** creates one ``automation_runs`` row per (workflow, fan,
   entry) inside the transaction of whatever caused it (a fan event, a segment
   entry, a sweep page, a manual start). Its cursor is on the first step; a
   first ``wait`` is armed at once.
2. ``tick()`` **claims** due runs with a lease (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), then **plans** each one outside any transaction: it runs
   bookkeeping steps (waits, checks) and at most one step with an effect.
   Port calls (``Messenger``, custom handlers, campaign creation) happen here,
   each with an idempotency key ``<run>:<step>:<visit>``.
3. The outcomes of the claimed batch are **recorded** in one transaction: each
   run's new cursor, wake time, attempts and variables (version-checked, so a
   worker that lost its lease writes nothing), the store-side effects of
   ``add_to_segment``, ``update_fan`` and ``emit_event``, one history row per
   step attempt, and the seed's ``AutomationExecution`` row when a run ends.

A crash between 2 and 3 loses nothing: the lease expires, another tick plans
the same step again, and the port sees the same idempotency key.
"""

from __future__ import annotations

from typing import Any

from campaign_core._runtime import Runtime, Tx
from campaign_core.jobs.automation._advance import Advancing
from campaign_core.jobs.automation._experiments import Experiments
from campaign_core.jobs.automation._ports import AutomationPorts
from campaign_core.jobs.automation._privacy import PrivacyHooks
from campaign_core.jobs.automation._triggers import Triggers

__all__ = ["Engine", "install"]


class Engine(Advancing, Triggers, PrivacyHooks, Experiments):
    """The interpreter over one runtime. Cheap to build; holds no state between calls.

    Its parts, one module each: claim and advance (:mod:`._advance`, recording in
    :mod:`._record`), enrolment (:mod:`._enrol`), behaviour and time triggers
    (:mod:`._triggers`), privacy hooks (:mod:`._privacy`), experiment paths
    (:mod:`._experiments`); every step runs through
    its action in :mod:`.actions`.

    Args:
        rt: the core's runtime.
        ports: what the services do for the built-in actions.
    """


def install(rt: Runtime, ports: AutomationPorts) -> None:
    """Register the engine's hooks on a runtime (done once by ``CampaignCore``)."""

    def event_hook(tx: Tx, event: Any) -> None:
        Engine(rt, ports).on_fan_event(tx, event)

    def opt_out_hook(tx: Tx, fan: Any) -> None:
        Engine(rt, ports).on_opt_out(tx, fan)

    def segment_hook(tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        Engine(rt, ports).on_segment_entered(tx, segment, fan_ids)

    def segment_exit_hook(tx: Tx, segment: Any, fan_ids: list[str]) -> None:
        Engine(rt, ports).on_segment_exited(tx, segment, fan_ids)

    def erase_hook(tx: Tx, fan: Any, token: str) -> dict[str, int]:
        return Engine(rt, ports).on_erase(tx, fan, token)

    def export_hook(tx: Tx, fan: Any) -> dict[str, Any]:
        return Engine(rt, ports).on_export(tx, fan)

    rt.fan_event_hooks.append(event_hook)
    rt.fan_opt_out_hooks.append(opt_out_hook)
    rt.segment_entered_hooks.append(segment_hook)
    rt.segment_exited_hooks.append(segment_exit_hook)
    rt.fan_erase_hooks.append(erase_hook)
    rt.fan_export_hooks.append(export_hook)
