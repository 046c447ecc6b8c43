"""Winner validation: after ``apply_winner``, a holdout keeps the baseline, then tick() judges.

``apply_winner`` opens a :class:`~campaign_core.models.WinnerValidation`
(``Settings.winner_holdout_percent`` of fans keep the baseline for
``Settings.winner_validation_window``); when its window has ended this job
closes it with ``validate_winner_decision``'s
verdict and emits it.
"""

from __future__ import annotations

import attrs

from campaign_core._runtime import Runtime
from campaign_core.errors import ConflictError
from campaign_core.metrics import ArmCounts, WinnerDecisionRecord, validate_winner_decision
from campaign_core.query import And, Eq, Lte, Order

__all__ = ["validate_due_winners"]


def validate_due_winners(rt: Runtime, limit: int) -> int:
    """Close the validation holdouts whose window ended and emit their verdicts (for ``tick()``).

    Args:
        rt: the runtime.
        limit: how many due validations to read.

    Returns:
        How many validations were closed.
    """
    now = rt.now()
    with rt.transaction() as tx:
        due = tx.uow.ab_test_validations.find(
            And(Eq("status", "open"), Lte("ends_at", now)),
            order_by=[Order("ends_at"), Order("id")],
            limit=limit,
        )
    closed = 0
    for validation in due:
        record = WinnerDecisionRecord(
            winner=validation.winner_id,
            baseline=validation.baseline_id,
            decided_at=validation.decided_at,
            winner_after=ArmCounts(
                validation.winner_impressions,
                min(validation.winner_conversions, validation.winner_impressions),
            ),
            baseline_after=ArmCounts(
                validation.baseline_impressions,
                min(validation.baseline_conversions, validation.baseline_impressions),
            ),
        )
        verdict = validate_winner_decision(record)
        try:
            with rt.transaction() as tx:
                tx.uow.ab_test_validations.update(
                    attrs.evolve(
                        validation,
                        status=verdict.value,
                        closed_at=now,
                        version=validation.version + 1,
                    )
                )
        except ConflictError:
            continue  # another worker closed it
        rt.emitter.winner_decision_validated(record, owner_id=validation.owner_id)
        closed += 1
    return closed
