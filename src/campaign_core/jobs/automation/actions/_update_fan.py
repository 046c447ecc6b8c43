"""``update_fan``: write fan fields and traits in the run's transaction (through the fans port)."""

from __future__ import annotations

from typing import Final

from campaign_core._runtime import Tx
from campaign_core.automation import ActionFailed
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.jobs.automation._state import StepCall, StepResult

__all__ = ["NAME", "run"]

NAME: Final = "update_fan"


def run(call: StepCall) -> StepResult:
    """Check the step's fields and plan their write.

    Args:
        call: the step being run.

    Returns:
        The names of the fields written, with the write to do.

    Raises:
        ActionFailed: the fields are not valid now (a trait no longer declared...).
    """
    fans = call.ports.fans
    owner = call.automation.user_id
    problems = ProblemCollector()
    clean = fans.clean_fields(owner, call.step.params["fields"], problems, "fields")
    if problems:
        raise ActionFailed(str(ValidationError(problems.problems)), retryable=False)
    fan_id = call.fan.fan_id

    def apply(tx: Tx) -> None:
        fans.write(tx, owner, fan_id, clean)

    return StepResult({"fields": sorted(clean)}, op=apply)
