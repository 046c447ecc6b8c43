"""``wait``: the run sleeps until the instant armed when the step was entered."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from campaign_core.jobs.automation._state import Sleep, StepCall, StepResult
from campaign_core.serialization import format_datetime

__all__ = ["NAME", "run"]

NAME: Final = "wait"


def run(call: StepCall) -> StepResult:
    """Finish the wait once its instant has come.

    Args:
        call: the step being run.

    Returns:
        The instant waited for.

    Raises:
        Sleep: the instant is still ahead.
    """
    until_text = call.state.state.get("step", {}).get("until")
    until = datetime.fromisoformat(until_text) if until_text else call.now
    if until > call.now:
        raise Sleep(until, "waiting")
    return StepResult({"waitedUntil": format_datetime(until)})
