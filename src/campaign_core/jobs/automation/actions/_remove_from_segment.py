"""``remove_from_segment``: take the fan out of a static or hybrid segment by hand."""

from __future__ import annotations

from typing import Final

from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.jobs.automation.actions._add_to_segment import change_membership

__all__ = ["NAME", "run"]

NAME: Final = "remove_from_segment"


def run(call: StepCall) -> StepResult:
    """Remove the fan from the step's segment (a hybrid segment also excludes them)."""
    return change_membership(call, adding=False)
