"""``random_split``: a weighted, sticky random choice of path (the A/B assignment hashing)."""

from __future__ import annotations

from typing import Any, Final

from campaign_core.abtesting import assign_variant
from campaign_core.jobs.automation._experiments import experiment_test_id
from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.models import ABTest, ABTestStatus

__all__ = ["NAME", "experiment_id", "run"]

NAME: Final = "random_split"


def experiment_id(automation_id: str, step_id: str) -> str:
    """The id a split's paths are assigned under: the same fan always gets the same path."""
    return f"{automation_id}/{step_id}"


def run(call: StepCall) -> StepResult:
    """Choose the fan's path by :func:`~campaign_core.abtesting.assign_variant`.

    Args:
        call: the step being run.

    In experiment mode, while the experiment runs, the output also names it
    (``experiment``: its A/B test id) so the run is counted in it; once it has a
    winner, every fan takes the winning path (``routed: "winner"``, not counted).

    Returns:
        The chosen path (``branch``, its ``index``), recorded in the run's history; the
        run jumps to it. The choice depends only on the workflow, the step and the fan
        (not on the run), so a fan who enters again takes the same path.
    """
    step = call.step
    output: dict[str, Any] = {}
    chosen: str | None = None
    if step.experiment is not None:
        test_id = experiment_test_id(call.automation.id, step)
        ctx = call.round
        if test_id not in ctx.experiments:
            ctx.experiments[test_id] = call.read(lambda tx: tx.uow.ab_tests.get(test_id))
        test: ABTest | None = ctx.experiments[test_id]
        if test is not None and test.status is ABTestStatus.RUNNING:
            output["experiment"] = test_id
        elif test is not None and test.winner_id and test.winner_id.startswith(f"{test_id}."):
            chosen = test.winner_id[len(test_id) + 1 :]
            output.update(experiment=test_id, routed="winner")
    if chosen is None or all(b.name != chosen for b in step.split):
        weights = {b.name: b.weight or 0.0 for b in step.split}
        chosen = assign_variant(
            experiment_id(call.automation.id, step.id), call.state.run.fan_id, weights
        )
        output.pop("routed", None)
    index = next(i for i, b in enumerate(step.split) if b.name == chosen)
    return StepResult(
        {"branch": chosen, "index": index, **output}, next=step.split[index].next, jump=True
    )
