"""``condition_split``: the first branch whose criteria the fan meets, else the default."""

from __future__ import annotations

from typing import Any, Final

from campaign_core._runtime import Tx
from campaign_core.automation import ActionFailed
from campaign_core.criteria import (
    AllOf,
    AnyOf,
    EventCondition,
    InSegment,
    Node,
    Not,
    compile_criteria,
)
from campaign_core.errors import CampaignCoreError
from campaign_core.jobs.automation._definitions import field_registry
from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.query import And, Eq, In

__all__ = ["NAME", "run"]

NAME: Final = "condition_split"


def _walk(node: Node) -> Any:
    yield node
    if isinstance(node, AllOf | AnyOf):
        for child in node.children:
            yield from _walk(child)
    elif isinstance(node, Not):
        yield from _walk(node.child)


def run(call: StepCall) -> StepResult:
    """Evaluate the branches in order against the fan; the first that matches wins.

    Args:
        call: the step being run.

    Returns:
        The chosen branch (``branch``, its ``index``; the default is last), recorded
        in the run's history; the run jumps to that branch.
    """
    step = call.step
    nodes = [n for b in step.split if b.criteria is not None for n in _walk(b.criteria.root)]
    wants_events = any(isinstance(n, EventCondition) for n in nodes)
    wants_segments = any(isinstance(n, InSegment) for n in nodes)
    owner, fan_id = call.state.run.owner_id, call.state.run.fan_id

    def load(tx: Tx) -> tuple[list[Any], set[str] | None]:
        events: list[Any] = []
        segments: set[str] | None = None
        if wants_events:
            events = tx.uow.fan_events.find(And(Eq("owner_id", owner), Eq("fan_id", fan_id)))
        if wants_segments:
            owned = [s.id for s in tx.uow.segments.find(Eq("user_id", owner))]
            segments = (
                {
                    m.segment_id
                    for m in tx.uow.segment_members.find(
                        And(Eq("fan_id", fan_id), In("segment_id", owned))
                    )
                }
                if owned
                else set()
            )
        return events, segments

    events, segments = call.read(load) if wants_events or wants_segments else ([], None)
    registry = field_registry(call.rt)
    for index, branch in enumerate(step.split):
        try:
            matched = branch.criteria is None or compile_criteria(
                branch.criteria, registry=registry
            ).evaluate(call.fan, events, now=call.now, segments=segments)
        except CampaignCoreError as error:
            raise ActionFailed(
                f"branch {branch.name!r} could not be evaluated: {error}", retryable=False
            ) from error
        if matched:
            return StepResult({"branch": branch.name, "index": index}, next=branch.next, jump=True)
    raise AssertionError("a condition_split always has a default branch")  # pragma: no cover
