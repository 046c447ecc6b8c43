"""Cycles through in_segment references are found before a segment is saved."""

from __future__ import annotations

from typing import Any

import pytest

from campaign_core.criteria import (
    Criteria,
    ensure_no_segment_cycle,
    find_segment_cycle,
    normalize,
)
from campaign_core.criteria._segments import MAX_SEGMENT_NESTING
from campaign_core.errors import ValidationError


def store(**segments: str | None) -> dict[str, Criteria | None]:
    return {sid: None if text is None else normalize(text) for sid, text in segments.items()}


def test_no_cycle() -> None:
    """References into a DAG are fine."""
    stored = store(b="in_segment(c) or in_segment(d)", c="in_segment(d)", d=None)
    criteria = normalize("in_segment(b) and in_segment(c)")
    assert find_segment_cycle("a", criteria, stored.get) is None
    ensure_no_segment_cycle("a", criteria, stored.get)


def test_self_reference() -> None:
    """A segment may not reference itself."""
    criteria = normalize("engagement > 1 and in_segment(a)")
    cycle = find_segment_cycle("a", criteria, lambda _: None)
    assert cycle is not None
    assert cycle.path == "root.all[1].in_segment"
    assert cycle.chain == ("a", "a")


def test_indirect_cycle_path_and_chain() -> None:
    """a -> b -> c -> a is reported at a's in_segment node, with the chain."""
    stored = store(b="in_segment(x) or in_segment(c)", c="not in_segment(a)", x=None)
    criteria = normalize({"any": ["engagement > 1", "in_segment(b)"]})
    with pytest.raises(ValidationError) as caught:
        ensure_no_segment_cycle("a", criteria, stored.get, path="criteria")
    problem = caught.value.problems[0]
    assert problem.path == "criteria.root.any[1].in_segment"
    assert problem.code == "segment_cycle"
    assert "a -> b -> c -> a" in problem.message


def test_cycle_among_referenced_segments() -> None:
    """A cycle that does not pass through the saved segment is still reported."""
    stored = store(b="in_segment(c)", c="in_segment(b)")
    cycle = find_segment_cycle("a", normalize("in_segment(b)"), stored.get)
    assert cycle is not None
    assert cycle.chain == ("b", "c", "b")


def test_stored_json_is_accepted() -> None:
    """resolve may return canonical JSON (as stored) instead of Criteria."""
    stored: dict[str, Any] = {"b": {"version": 1, "root": {"not": {"in_segment": "a"}}}}
    cycle = find_segment_cycle("a", {"version": 1, "root": {"in_segment": "b"}}, stored.get)
    assert cycle is not None
    assert cycle.path == "root.in_segment"


def test_deep_chains_are_rejected() -> None:
    """Chains of references longer than MAX_SEGMENT_NESTING are refused."""
    stored = {f"s{i}": normalize(f"in_segment(s{i + 1})") for i in range(MAX_SEGMENT_NESTING + 5)}
    with pytest.raises(ValidationError) as caught:
        ensure_no_segment_cycle("a", normalize("in_segment(s0)"), stored.get)
    assert caught.value.problems[0].code == "too_deep"
    assert caught.value.problems[0].path == "criteria.root.in_segment"


def test_shared_subtrees_are_resolved_once() -> None:
    """A diamond of references resolves each segment once."""
    calls: list[str] = []
    stored = store(b="in_segment(d)", c="in_segment(d)", d="in_segment(e)", e=None)

    def resolve(sid: str) -> Criteria | None:
        calls.append(sid)
        return stored.get(sid)

    assert find_segment_cycle("a", normalize("in_segment(b) or in_segment(c)"), resolve) is None
    assert sorted(calls) == ["b", "c", "d", "e"]
