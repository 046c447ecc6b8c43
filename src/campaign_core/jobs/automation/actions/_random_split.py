"""``random_split``: a weighted, sticky random choice of path (the A/B assignment hashing)."""

from __future__ import annotations

from typing import Final

from campaign_core.abtesting import assign_variant
from campaign_core.jobs.automation._state import StepCall, StepResult

__all__ = ["NAME", "experiment_id", "run"]

NAME: Final = "random_split"


def experiment_id(automation_id: str, step_id: str) -> str:
    """The id a split's paths are assigned under: the same fan always gets the same path."""
    return f"{automation_id}/{step_id}"


def run(call: StepCall) -> StepResult:
    """Choose the fan's path by :func:`~campaign_core.abtesting.assign_variant`.

    Args:
        call: the step being run.

    Returns:
        The chosen path (``branch``, its ``index``), recorded in the run's history; the
        run jumps to it. The choice depends only on the workflow, the step and the fan
        (not on the run), so a fan who enters again takes the same path.
    """
    step = call.step
    weights = {b.name: b.weight or 0.0 for b in step.split}
    chosen = assign_variant(
        experiment_id(call.automation.id, step.id), call.state.run.fan_id, weights
    )
    index = next(i for i, b in enumerate(step.split) if b.name == chosen)
    return StepResult({"branch": chosen, "index": index}, next=step.split[index].next, jump=True)
