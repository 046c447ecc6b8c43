"""``exit``: the run ends at once (status exited) with the step's reason."""

from __future__ import annotations

from typing import Final

from campaign_core.jobs.automation._state import StepCall, StepResult

__all__ = ["NAME", "run"]

NAME: Final = "exit"


def run(call: StepCall) -> StepResult:
    """End the run.

    Args:
        call: the step being run.

    Returns:
        An exit with the step's ``reason`` (default ``exit step``).
    """
    return StepResult(exit=str(call.step.params.get("reason") or "exit step"))
