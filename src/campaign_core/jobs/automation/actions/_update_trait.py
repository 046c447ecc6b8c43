"""``update_trait``: set one of the fan's declared traits from a value expression.

The value is a literal or a small JSON expression (:mod:`campaign_core.automation`'s
value expressions: ``$ref``, ``$now``, ``$add``...), checked when the workflow was
saved. It is computed in the transaction that records the step, from the fan as
stored then (so ``{"$add": [{"$ref": "fan.traits.visits"}, 1]}`` counts every run
step once, whatever else wrote the fan since the batch was read), and written with
the run's next cursor: a crash before that commit leaves neither, a retry after it
finds the step done. Exactly once per step visit.
"""

from __future__ import annotations

from typing import Any, Final

from campaign_core._runtime import Tx
from campaign_core.automation import ActionFailed, ExpressionError, Scope, evaluate
from campaign_core.errors import ProblemCollector, ValidationError
from campaign_core.jobs.automation._state import StepCall, StepResult
from campaign_core.query import And, Eq

__all__ = ["NAME", "run"]

NAME: Final = "update_trait"


def _value(call: StepCall, scope: Scope) -> Any:
    """The trait's clean value for this scope.

    Raises:
        ActionFailed: the expression cannot be computed, or its value does not
            fit the trait (not retried: the same data gives the same answer).
    """
    trait = str(call.step.params["trait"])
    raw = call.step.params["value"]
    if isinstance(raw, list):
        raw = {"$literal": raw}
    try:
        value = evaluate(raw, scope)
    except ExpressionError as error:
        raise ActionFailed(f"trait {trait!r}: {error}", retryable=False) from error
    problems = ProblemCollector()
    clean = call.ports.fans.clean_fields(
        call.automation.user_id, {"traits": {trait: value}}, problems, "value"
    )
    if problems:
        raise ActionFailed(str(ValidationError(problems.problems)), retryable=False)
    return clean["traits"][trait]


def run(call: StepCall) -> StepResult:
    """Compute the value (to fail early) and plan the write.

    Args:
        call: the step being run.

    Returns:
        The trait and the value computed from the batch's copy of the fan, with
        the write (which computes it again from the stored fan).

    Raises:
        ActionFailed: the value cannot be computed or does not fit the trait.
    """
    trait = str(call.step.params["trait"])
    planned = _value(call, call.scope())
    owner, fan_id = call.automation.user_id, call.fan.fan_id
    fans = call.ports.fans

    def apply(tx: Tx) -> None:
        found = tx.uow.fans.find(And(Eq("owner_id", owner), Eq("fan_id", fan_id)), limit=1)
        if not found:
            return  # erased meanwhile: nothing to write
        value = _value(call, call.scope(found[0]))
        fans.write(tx, owner, fan_id, {"traits": {trait: value}})

    return StepResult({"trait": trait, "value": planned}, op=apply)
