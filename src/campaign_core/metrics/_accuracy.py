"""WinnerDeterminationAccuracy: did declared A/B winners hold up afterwards?

Definition. A *winner decision* declares variant W better than a *baseline*
B (the control; or, when the control itself wins, the strongest challenger).
Its *validation data* are the impressions and conversions W and B receive
after the decision, during a validation window (while the test keeps running,
or from a holdout kept on B after the winner is applied). A decision is

- **confirmed** when both arms have at least ``min_impressions`` validation
  impressions and W's validation conversion rate is strictly higher than B's;
- **refuted** when both arms have enough impressions and W's rate is lower
  than or equal to B's;
- **unvalidated** when either arm has fewer impressions than that (it counts
  neither way).

WinnerDeterminationAccuracy = 100 x confirmed / (confirmed + refuted), or no
value when nothing was validated. It only uses data collected after the
decision, so it measures whether the decision generalised, not whether it
fitted the data it was made on.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import attrs

from campaign_core.clock import ensure_utc
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "DEFAULT_MIN_VALIDATION_IMPRESSIONS",
    "AccuracyReport",
    "ArmCounts",
    "DecisionVerdict",
    "WinnerDecisionRecord",
    "validate_winner_decision",
    "winner_determination_accuracy",
]

#: Minimum validation impressions per arm before a decision is judged.
DEFAULT_MIN_VALIDATION_IMPRESSIONS = 100

# Counts beyond this are typos or overflow, not traffic.
_MAX_COUNT = 10**15


def _check_count(problems: ProblemCollector, path: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"expected an integer count, got {type(value).__name__}", "invalid_type")
    elif value < 0:
        problems.add(path, "count must not be negative", "out_of_range")
    elif value > _MAX_COUNT:
        problems.add(path, f"count is larger than {_MAX_COUNT}", "out_of_range")


@attrs.frozen
class ArmCounts:
    """Validation-window traffic of one arm.

    Attributes:
        impressions: impressions received after the decision.
        conversions: conversions among them (at most ``impressions``).

    Raises:
        ValidationError: a count is not a non-negative integer, or there are
            more conversions than impressions.
    """

    impressions: int
    conversions: int

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        _check_count(problems, "impressions", self.impressions)
        _check_count(problems, "conversions", self.conversions)
        if not problems and self.conversions > self.impressions:
            problems.add("conversions", "more conversions than impressions", "invalid_value")
        problems.raise_if_any()

    @property
    def rate(self) -> float:
        """conversions / impressions (0.0 without impressions)."""
        return self.conversions / self.impressions if self.impressions else 0.0


@attrs.frozen
class WinnerDecisionRecord:
    """One winner decision and the data collected after it.

    Attributes:
        winner: the variant declared the winner.
        baseline: the variant it was declared better than (the control, or the
            strongest challenger when the control won).
        decided_at: when the decision was made (aware; stored in UTC).
        winner_after: the winner's traffic after the decision.
        baseline_after: the baseline's traffic after the decision.

    Raises:
        ValidationError: empty or equal variant names, a naive datetime, or
            counts that are not :class:`ArmCounts`.
    """

    winner: str
    baseline: str
    decided_at: datetime
    winner_after: ArmCounts
    baseline_after: ArmCounts

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        for field in ("winner", "baseline"):
            value = getattr(self, field)
            if not isinstance(value, str):
                problems.add(field, "expected a variant name", "invalid_type")
            elif not value.strip():
                problems.add(field, "variant name must not be empty", "required")
        if not problems and self.winner == self.baseline:
            problems.add("baseline", "the baseline must differ from the winner", "invalid_value")
        decided_at: object = self.decided_at
        if not isinstance(decided_at, datetime):
            problems.add("decided_at", "expected an aware datetime", "invalid_type")
        else:
            try:
                object.__setattr__(self, "decided_at", ensure_utc(decided_at, path="decided_at"))
            except ValidationError as exc:
                problems.extend(exc)
        for field in ("winner_after", "baseline_after"):
            if not isinstance(getattr(self, field), ArmCounts):
                problems.add(field, "expected ArmCounts", "invalid_type")
        problems.raise_if_any()


class DecisionVerdict(enum.StrEnum):
    """What the validation data say about one decision."""

    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    UNVALIDATED = "unvalidated"


@attrs.frozen
class AccuracyReport:
    """WinnerDeterminationAccuracy over a set of decisions.

    Attributes:
        confirmed: decisions the validation data confirmed.
        refuted: decisions the validation data refuted.
        unvalidated: decisions without enough validation data.
        accuracy: 100 x confirmed / (confirmed + refuted), or ``None`` when
            no decision could be validated.
    """

    confirmed: int
    refuted: int
    unvalidated: int
    accuracy: float | None

    @property
    def validated(self) -> int:
        """Decisions that count: confirmed + refuted."""
        return self.confirmed + self.refuted


def _check_min_impressions(min_impressions: object) -> int:
    if isinstance(min_impressions, bool) or not isinstance(min_impressions, int):
        raise ValidationError.single("min_impressions", "expected an integer", "invalid_type")
    if min_impressions < 1:
        raise ValidationError.single("min_impressions", "must be at least 1", "out_of_range")
    return min_impressions


def _verdict(record: WinnerDecisionRecord, min_impressions: int) -> DecisionVerdict:
    winner, baseline = record.winner_after, record.baseline_after
    if winner.impressions < min_impressions or baseline.impressions < min_impressions:
        return DecisionVerdict.UNVALIDATED
    # Cross-multiplied so equal rates compare equal exactly (no float rounding).
    if winner.conversions * baseline.impressions > baseline.conversions * winner.impressions:
        return DecisionVerdict.CONFIRMED
    return DecisionVerdict.REFUTED


def validate_winner_decision(
    record: WinnerDecisionRecord,
    *,
    min_impressions: int = DEFAULT_MIN_VALIDATION_IMPRESSIONS,
) -> DecisionVerdict:
    """Judge one winner decision on its post-decision data.

    Args:
        record: the decision and its validation-window counts.
        min_impressions: validation impressions each arm needs before the
            decision is judged.

    Returns:
        ``CONFIRMED`` when the winner's post-decision conversion rate is
        strictly higher than the baseline's, ``REFUTED`` when it is not,
        ``UNVALIDATED`` when an arm has fewer than ``min_impressions``.

    Raises:
        ValidationError: ``record`` is not a :class:`WinnerDecisionRecord`, or
            ``min_impressions`` is not a positive integer.
    """
    if not isinstance(record, WinnerDecisionRecord):
        raise ValidationError.single("record", "expected a WinnerDecisionRecord", "invalid_type")
    return _verdict(record, _check_min_impressions(min_impressions))


def winner_determination_accuracy(
    records: Iterable[WinnerDecisionRecord],
    *,
    min_impressions: int = DEFAULT_MIN_VALIDATION_IMPRESSIONS,
) -> AccuracyReport:
    """WinnerDeterminationAccuracy over decision records.

    Args:
        records: winner decisions with their validation-window counts.
        min_impressions: validation impressions each arm needs before a
            decision is judged.

    Returns:
        The counts of confirmed, refuted and unvalidated decisions and the
        accuracy in percent (``None`` when nothing could be validated).

    Raises:
        ValidationError: an item is not a :class:`WinnerDecisionRecord`
            (every bad item is reported with its index), or
            ``min_impressions`` is not a positive integer.
    """
    minimum = _check_min_impressions(min_impressions)
    items: list[object] = list(records)
    problems = ProblemCollector()
    for index, record in enumerate(items):
        if not isinstance(record, WinnerDecisionRecord):
            problems.add(
                join_path("records", index), "expected a WinnerDecisionRecord", "invalid_type"
            )
    problems.raise_if_any()
    counts = dict.fromkeys(DecisionVerdict, 0)
    for record in items:
        assert isinstance(record, WinnerDecisionRecord)  # checked above
        counts[_verdict(record, minimum)] += 1
    confirmed = counts[DecisionVerdict.CONFIRMED]
    refuted = counts[DecisionVerdict.REFUTED]
    validated = confirmed + refuted
    return AccuracyReport(
        confirmed=confirmed,
        refuted=refuted,
        unvalidated=counts[DecisionVerdict.UNVALIDATED],
        accuracy=100.0 * confirmed / validated if validated else None,
    )
