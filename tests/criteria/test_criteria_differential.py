"""Differential tests: the per-fan and the vectorized evaluators select the same fans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from criteria_strategies import (
    NOW,
    REGISTRY,
    SEGMENTS,
    populations,
    to_columns,
    to_event_columns,
    trees,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_core.criteria import compile_criteria, evaluate_dataframe, normalize

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _per_fan(
    tree: dict[str, Any],
    people: list[dict[str, Any]],
    events: list[tuple[int, dict[str, Any]]],
    memberships: list[set[str]],
) -> list[bool]:
    compiled = compile_criteria(tree, registry=REGISTRY)
    by_fan: list[list[dict[str, Any]]] = [[] for _ in people]
    for index, event in events:
        by_fan[index].append(event)
    return [
        compiled.evaluate(fan, by_fan[i], now=NOW, segments=memberships[i])
        for i, fan in enumerate(people)
    ]


def _segment_masks(memberships: list[set[str]]) -> dict[str, np.ndarray]:
    return {s: np.array([s in m for m in memberships], dtype=bool) for s in SEGMENTS}


@_SETTINGS
@given(
    tree=trees,
    population=populations(),
    styles=st.lists(st.integers(0, 2), min_size=1, max_size=5),
    event_style=st.integers(0, 1),
)
def test_per_fan_and_vectorized_select_the_same_fans(
    tree: dict[str, Any], population: Any, styles: list[int], event_style: int
) -> None:
    """Random trees over random populations give identical members in both evaluators."""
    people, events, memberships = population
    expected = _per_fan(tree, people, events, memberships)
    compiled = compile_criteria(tree, registry=REGISTRY)
    got = compiled.evaluate_columns(
        to_columns(people, styles),
        now=NOW,
        events=to_event_columns(events, event_style),
        segments=_segment_masks(memberships),
        length=len(people),
    )
    assert got.dtype == np.bool_
    assert got.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(tree=trees, population=populations())
def test_explain_agrees_with_evaluate(tree: dict[str, Any], population: Any) -> None:
    """explain() reaches the same verdict as evaluate() and traces every node."""
    people, events, memberships = population
    compiled = compile_criteria(tree, registry=REGISTRY)
    by_fan: list[list[dict[str, Any]]] = [[] for _ in people]
    for index, event in events:
        by_fan[index].append(event)
    node_count = sum(1 for path, _ in compiled.criteria.nodes() if ".where" not in path)
    for i, fan in enumerate(people):
        explanation = compiled.explain(fan, by_fan[i], now=NOW, segments=memberships[i])
        assert explanation.matched == compiled.evaluate(
            fan, by_fan[i], now=NOW, segments=memberships[i]
        )
        traced = 0
        stack = [explanation.trace]
        while stack:
            node = stack.pop()
            traced += 1
            stack.extend(node.children)
        assert traced == node_count


@settings(max_examples=60, deadline=None)
@given(tree=trees, population=populations())
def test_dataframe_matches_per_fan(tree: dict[str, Any], population: Any) -> None:
    """evaluate_dataframe over a pandas frame gives the per-fan members."""
    people, events, memberships = population
    expected = _per_fan(tree, people, events, memberships)
    columns = to_columns(people, [2])  # object columns: pandas keeps them as given
    frame = pd.DataFrame({name: list(values) for name, values in columns.items()})
    frame.index = pd.Index([f"fan{i}" for i in range(len(people))])
    event_frame = pd.DataFrame(
        {
            "fan_id": [f"fan{i}" for i, _ in events],
            "name": [e["name"] for _, e in events],
            "occurred_at": pd.Series([e["occurred_at"] for _, e in events], dtype=object),
            "value": [np.nan if e["value"] is None else e["value"] for _, e in events],
            "product": pd.Series([e["properties"].get("product") for _, e in events], dtype=object),
            "amount": pd.Series([e["properties"].get("amount") for _, e in events], dtype=object),
            "flag": pd.Series([e["properties"].get("flag") for _, e in events], dtype=object),
        }
    )
    masks = {
        s: pd.Series([s in m for m in memberships], index=frame.index, dtype=bool) for s in SEGMENTS
    }
    got = evaluate_dataframe(
        tree, frame, now=NOW, events=event_frame, segments=masks, registry=REGISTRY
    )
    assert list(got.index) == list(frame.index)
    assert got.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(tree=trees)
def test_canonical_trees_are_fixed_points(tree: dict[str, Any]) -> None:
    """A canonical tree normalizes to itself, and to_json round-trips."""
    criteria = normalize(tree, registry=REGISTRY)
    assert criteria.to_json() == tree
    assert normalize(criteria.to_json(), registry=REGISTRY) == criteria
