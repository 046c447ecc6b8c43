"""``wait_until``: wait for a fan event (with property filters), or a segment entry or exit,
or a timeout, whichever is first."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Final

from campaign_core._runtime import Tx
from campaign_core.automation import match_properties
from campaign_core.jobs.automation._state import Sleep, StepCall, StepResult, resolve_segment
from campaign_core.models import FanEvent
from campaign_core.query import And, Eq, Gte, In, Lte, Order
from campaign_core.serialization import format_datetime

__all__ = ["NAME", "run"]

NAME: Final = "wait_until"
_CHUNK: Final = 5000


def _awaited(call: StepCall, name: str) -> dict[tuple[str, str], list[FanEvent]]:
    """The events called ``name`` of the fan, or (SQL) of every fan of the batch in one read.

    Read once per batch and event name, from the earliest entry of the batch's runs to
    the batch's instant, sorted by time then id.
    """
    ctx = call.round
    now = call.now
    run = call.state.run
    if not call.sql or not ctx.runs:
        events = call.read(
            lambda tx: tx.uow.fan_events.find(
                And(
                    Eq("owner_id", run.owner_id),
                    Eq("fan_id", run.fan_id),
                    Eq("name", name),
                    Gte("occurred_at", call.state.step_entered_at or run.entered_at),
                    Lte("occurred_at", now),
                ),
                order_by=[Order("occurred_at"), Order("id")],
                limit=1000,
            )
        )
        return {(run.owner_id, run.fan_id): events}
    found = ctx.awaited.get(name)
    if found is None:
        floor = min(r.entered_at for r in ctx.runs)
        by_owner: dict[str, set[str]] = defaultdict(set)
        for other in ctx.runs:
            by_owner[other.owner_id].add(other.fan_id)

        def load(tx: Tx) -> dict[tuple[str, str], list[FanEvent]]:
            out: dict[tuple[str, str], list[FanEvent]] = defaultdict(list)
            for owner, fans in by_owner.items():
                ids = sorted(fans)
                for start in range(0, len(ids), _CHUNK):
                    for event in tx.uow.fan_events.find(
                        And(
                            Eq("owner_id", owner),
                            In("fan_id", ids[start : start + _CHUNK]),
                            Eq("name", name),
                            Gte("occurred_at", floor),
                            Lte("occurred_at", now),
                        )
                    ):
                        out[(owner, event.fan_id)].append(event)
            for events in out.values():
                events.sort(key=lambda e: (e.occurred_at, e.id))
            return out

        found = ctx.awaited[name] = call.read(load)
    return found


def _segment(call: StepCall, entered: datetime, until: datetime) -> StepResult:
    """A segment wait: the ``segment`` branch once the fan is in (``entered``) or out of
    (``exited``) the segment, the ``timeout`` branch at the timeout.

    What came first is the mark the segment hook left on the run, in the transaction
    that changed the membership (``segmentAt``), else the membership now, read when the
    step runs: at entry (a fan already in the segment goes on at once), when woken, and
    at the timeout (an entry recorded at or before it still counts, by its ``added_at``).
    """
    step = call.step
    now = call.now
    segment_branch, timeout_branch = step.split
    mark = call.state.state.get("step", {}).get("segmentAt")
    if mark and datetime.fromisoformat(mark) <= until:
        return StepResult({"outcome": "segment", "at": mark}, next=segment_branch.next, jump=True)
    owner, fan_id = call.state.run.owner_id, call.state.run.fan_id
    ref = str(step.params["segment"])
    entering = step.params.get("state", "entered") == "entered"

    def load(tx: Tx) -> tuple[bool, datetime | None]:
        segment = resolve_segment(tx, owner, ref)
        if segment is None:
            return False, None
        rows = tx.uow.segment_members.find(
            And(Eq("segment_id", segment.id), Eq("fan_id", fan_id)), limit=1
        )
        return True, rows[0].added_at if rows else None

    exists, added = call.read(load)
    member = added is not None
    if exists and member == entering:
        at = now
        if entering and added is not None and added > entered:
            at = min(now, max(added, entered))
        if at <= until:
            return StepResult(
                {"outcome": "segment", "at": format_datetime(at)},
                next=segment_branch.next,
                jump=True,
            )
    if until > now:
        raise Sleep(until, "waiting for segment")
    return StepResult(
        {"outcome": "timeout", "at": format_datetime(until)}, next=timeout_branch.next, jump=True
    )


def run(call: StepCall) -> StepResult:
    """Take the ``event`` branch if the awaited event was recorded since the step was entered,
    the ``timeout`` branch once the timeout has come, else sleep until it.

    The fan's events are the record (read by fan, name and time): a wake-up by the event
    hook only makes the run due sooner, so a run woken late or re-planned after a crash
    still takes the branch of whatever came first.

    Args:
        call: the step being run.

    Returns:
        ``{"outcome": "event", "eventId", "at"}`` or ``{"outcome": "timeout", "at"}``.

    Raises:
        Sleep: neither has come yet.
    """
    step = call.step
    now = call.now
    until_text = call.state.state.get("step", {}).get("until")
    entered = call.state.step_entered_at or call.state.run.entered_at
    until = datetime.fromisoformat(until_text) if until_text else now
    if "segment" in step.params:
        return _segment(call, entered, until)
    owner, fan_id = call.state.run.owner_id, call.state.run.fan_id
    horizon = min(now, until)
    events = [
        e
        for e in _awaited(call, step.events[0]).get((owner, fan_id), ())
        if entered <= e.occurred_at <= horizon
    ]
    event_branch, timeout_branch = step.split
    for event in events:
        if match_properties(step.filter, event.properties, event.value):
            return StepResult(
                {
                    "outcome": "event",
                    "eventId": event.id,
                    "at": format_datetime(event.occurred_at),
                },
                next=event_branch.next,
                jump=True,
            )
    if until > now:
        raise Sleep(until, "waiting for event")
    return StepResult(
        {"outcome": "timeout", "at": format_datetime(until)}, next=timeout_branch.next, jump=True
    )
