"""WinnerDeterminationAccuracy: the definition, its edge cases and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_core.errors import ValidationError
from campaign_core.metrics import (
    ArmCounts,
    DecisionVerdict,
    WinnerDecisionRecord,
    winner_determination_accuracy,
)
from campaign_core.metrics._accuracy import validate_winner_decision

DECIDED = datetime(2026, 1, 1, tzinfo=UTC)


def _record(winner: tuple[int, int], baseline: tuple[int, int]) -> WinnerDecisionRecord:
    return WinnerDecisionRecord("B", "A", DECIDED, ArmCounts(*winner), ArmCounts(*baseline))


def test_winner_still_ahead_is_confirmed() -> None:
    """A strictly higher post-decision rate confirms the decision."""
    assert validate_winner_decision(_record((1000, 60), (1000, 50))) is DecisionVerdict.CONFIRMED


def test_winner_behind_or_tied_is_refuted() -> None:
    """A lower or equal post-decision rate refutes it (ties do not confirm)."""
    assert validate_winner_decision(_record((1000, 40), (1000, 50))) is DecisionVerdict.REFUTED
    assert validate_winner_decision(_record((1000, 50), (2000, 100))) is DecisionVerdict.REFUTED
    assert validate_winner_decision(_record((500, 0), (500, 0))) is DecisionVerdict.REFUTED


def test_too_little_validation_data_is_unvalidated() -> None:
    """Either arm below min_impressions leaves the decision unjudged."""
    assert validate_winner_decision(_record((99, 50), (1000, 1))) is DecisionVerdict.UNVALIDATED
    assert (
        validate_winner_decision(_record((99, 50), (1000, 1)), min_impressions=50)
        is DecisionVerdict.CONFIRMED
    )


def test_accuracy_over_records() -> None:
    """Accuracy = 100 x confirmed / (confirmed + refuted); unvalidated ones do not count."""
    records = [
        _record((1000, 60), (1000, 50)),
        _record((1000, 70), (1000, 50)),
        _record((1000, 40), (1000, 50)),
        _record((10, 5), (10, 1)),
    ]
    report = winner_determination_accuracy(records)
    assert (report.confirmed, report.refuted, report.unvalidated) == (2, 1, 1)
    assert report.validated == 3
    assert report.accuracy == pytest.approx(200 / 3)


def test_no_validated_decision_gives_no_value() -> None:
    """Without a validated decision the accuracy is None, not 0 or 100."""
    assert winner_determination_accuracy([]).accuracy is None
    assert winner_determination_accuracy([_record((1, 1), (1, 0))]).accuracy is None


def test_record_validation_reports_every_problem() -> None:
    """Bad names, equal arms and a naive datetime are each reported."""
    with pytest.raises(ValidationError) as exc:
        WinnerDecisionRecord("", 3, datetime(2026, 1, 1), ArmCounts(1, 0), "x")  # type: ignore[arg-type]  # noqa: DTZ001
    assert {p.path for p in exc.value.problems} == {
        "winner",
        "baseline",
        "decided_at",
        "baseline_after",
    }
    with pytest.raises(ValidationError, match="differ"):
        WinnerDecisionRecord("A", "A", DECIDED, ArmCounts(1, 0), ArmCounts(1, 0))


def test_decided_at_becomes_utc() -> None:
    """An aware decision time in another zone is stored in UTC."""
    record = WinnerDecisionRecord(
        "B",
        "A",
        datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        ArmCounts(1, 0),
        ArmCounts(1, 0),
    )
    assert record.decided_at == DECIDED
    assert record.decided_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("impressions", "conversions", "path", "code"),
    [
        (-1, 0, "impressions", "out_of_range"),
        (10, 11, "conversions", "invalid_value"),
        (1.5, 0, "impressions", "invalid_type"),
        (True, 0, "impressions", "invalid_type"),
        (10**16, 0, "impressions", "out_of_range"),
    ],
)
def test_arm_counts_validation(impressions: Any, conversions: Any, path: str, code: str) -> None:
    """Counts must be sane non-negative integers with conversions <= impressions."""
    with pytest.raises(ValidationError) as exc:
        ArmCounts(impressions, conversions)
    assert (exc.value.problems[0].path, exc.value.problems[0].code) == (path, code)


def test_bad_inputs_to_the_functions() -> None:
    """Non-records and a non-positive minimum raise with their path."""
    with pytest.raises(ValidationError) as exc:
        winner_determination_accuracy([_record((1, 0), (1, 0)), "nope"])  # type: ignore[list-item]
    assert exc.value.problems[0].path == "records[1]"
    with pytest.raises(ValidationError) as exc:
        winner_determination_accuracy([], min_impressions=0)
    assert exc.value.problems[0].path == "min_impressions"
    with pytest.raises(ValidationError):
        validate_winner_decision("nope")  # type: ignore[arg-type]


_arms = st.integers(min_value=0, max_value=5000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n))
)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(_arms, _arms), max_size=30))
def test_accuracy_invariants(pairs: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    """Counts partition the records, accuracy lies in [0, 100] and matches per-record verdicts."""
    records = [_record(w, b) for w, b in pairs]
    report = winner_determination_accuracy(records)
    assert report.confirmed + report.refuted + report.unvalidated == len(records)
    verdicts = [validate_winner_decision(r) for r in records]
    assert report.confirmed == verdicts.count(DecisionVerdict.CONFIRMED)
    if report.validated:
        assert report.accuracy is not None
        assert 0 <= report.accuracy <= 100
    else:
        assert report.accuracy is None


@settings(max_examples=150, deadline=None)
@given(winner=_arms, baseline=_arms)
def test_swapping_arms_never_confirms_both(
    winner: tuple[int, int], baseline: tuple[int, int]
) -> None:
    """A decision and its reverse cannot both be confirmed."""
    forward = validate_winner_decision(_record(winner, baseline), min_impressions=1)
    reverse = validate_winner_decision(_record(baseline, winner), min_impressions=1)
    assert not (forward is DecisionVerdict.CONFIRMED and reverse is DecisionVerdict.CONFIRMED)
