"""``add_to_segment``: put the fan in a static or hybrid segment by hand (in the run's transaction)."""

from __future__ import annotations

from typing import Final

from campaign_core._runtime import Tx
from campaign_core.automation import ActionFailed
from campaign_core.jobs.automation._state import StepCall, StepResult, resolve_segment
from campaign_core.models import SegmentType

__all__ = ["NAME", "change_membership", "run"]

NAME: Final = "add_to_segment"


def change_membership(call: StepCall, *, adding: bool) -> StepResult:
    """Resolve the step's segment and plan the membership change.

    Args:
        call: the step being run.
        adding: add the fan (else remove them).

    Returns:
        The segment's id and name, with the write to do (the segments port's rules).

    Raises:
        ActionFailed: no such segment, or it is dynamic.
    """
    ref = str(call.step.params["segment"])
    owner = call.automation.user_id
    segment = call.read(lambda tx: resolve_segment(tx, owner, ref))
    if segment is None:
        raise ActionFailed(f"segment {ref!r} not found", retryable=False)
    if segment.type is SegmentType.DYNAMIC:
        raise ActionFailed(
            f"segment {ref!r} is dynamic: its members come from its criteria", retryable=False
        )
    segments = call.ports.segments
    segment_id = segment.id
    fan_id = call.fan.fan_id

    def apply(tx: Tx) -> None:
        # the segments service's rules for hand-made membership, in the run's transaction
        segments.change(tx, segment_id, fan_id, adding=adding)

    return StepResult({"segmentId": segment_id, "segment": segment.name}, op=apply)


def run(call: StepCall) -> StepResult:
    """Add the fan to the step's segment (see :func:`change_membership`)."""
    return change_membership(call, adding=True)
