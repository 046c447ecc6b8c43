"""Post-decision validation of an A/B winner (for WinnerDeterminationAccuracy)."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["WinnerValidation"]


@attrs.frozen(kw_only=True)
class WinnerValidation:
    """A holdout kept after ``apply_winner`` to check the decision (table ``ab_test_validations``).

    For ``ends_at - decided_at`` a share ``holdout_percent`` of the test's fans
    keeps seeing the baseline (the control, or the strongest challenger when
    the control won); the rest see the winner. Their impressions and
    conversions after the decision are counted here; when the window closes
    ``tick()`` judges the decision (confirmed, refuted or unvalidated) and
    emits WinnerDeterminationAccuracy.
    """

    id: str
    owner_id: str
    test_id: str
    winner_id: str
    baseline_id: str
    decided_at: datetime
    ends_at: datetime
    holdout_percent: float
    winner_impressions: int = 0
    winner_conversions: int = 0
    baseline_impressions: int = 0
    baseline_conversions: int = 0
    status: str = "open"
    closed_at: datetime | None = None
    version: int = 1
