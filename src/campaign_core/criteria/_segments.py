"""Segment references: finding cycles through ``in_segment`` before a segment is saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from campaign_core.criteria._model import Criteria, InSegment
from campaign_core.errors import ValidationError, join_path

__all__ = [
    "MAX_SEGMENT_NESTING",
    "SegmentCycle",
    "ensure_no_segment_cycle",
    "find_segment_cycle",
]

MAX_SEGMENT_NESTING = 16
"""Longest chain of segments referring to segments."""

StoredCriteria: TypeAlias = Criteria | Mapping[str, Any] | None
Resolve: TypeAlias = Callable[[str], StoredCriteria]


@attrs.frozen
class SegmentCycle:
    """A cycle of segment references.

    Attributes:
        path: the canonical path of the ``in_segment`` node, in the criteria being
            checked, where the cycle starts (``root.all[1].in_segment``).
        chain: the segment ids around the cycle, first and last equal
            (``("vip", "whales", "vip")``).
    """

    path: str
    chain: tuple[str, ...]

    def describe(self) -> str:
        return " -> ".join(self.chain)


def _references(criteria: StoredCriteria) -> list[tuple[str, str]]:
    """``(path, segment_id)`` of every ``in_segment`` node, in tree order."""
    if criteria is None:
        return []
    if isinstance(criteria, Criteria):
        return [
            (f"{path}.in_segment", node.segment_id)
            for path, node in criteria.nodes()
            if isinstance(node, InSegment)
        ]
    found: list[tuple[str, str]] = []

    def walk(value: object, path: str, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(value, Mapping):
            if isinstance(value.get("in_segment"), str):
                found.append((join_path(path, "in_segment"), value["in_segment"]))
            for key in ("root", "all", "any", "not"):
                if key in value:
                    walk(value[key], join_path(path, key), depth + 1)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            for index, item in enumerate(value):
                walk(item, join_path(path, index), depth + 1)

    walk(criteria, "", 0)
    return found


def find_segment_cycle(
    segment_id: str, criteria: StoredCriteria, resolve: Resolve
) -> SegmentCycle | None:
    """Find a cycle of ``in_segment`` references reachable from ``criteria``.

    Args:
        segment_id: the id of the segment whose criteria are being saved.
        criteria: its new criteria (a :class:`Criteria`, canonical JSON, or ``None``).
        resolve: returns the stored criteria of another segment (``None`` for a
            static segment or one without criteria).

    Returns:
        The first cycle found (in tree order), or ``None``. A chain that comes back
        to ``segment_id`` is a cycle, as is one among the referenced segments.

    Raises:
        ValidationError: references nest deeper than ``MAX_SEGMENT_NESTING``
            (code ``too_deep``, at the path of the first reference on that chain).
    """
    references: dict[str, list[str]] = {}
    finished: set[str] = set()

    def children(current: str) -> list[str]:
        if current not in references:
            references[current] = [ref for _, ref in _references(resolve(current))]
        return references[current]

    def visit(current: str, chain: list[str], path: str) -> tuple[str, ...] | None:
        if current in chain:
            return (*chain[chain.index(current) :], current)
        if current in finished:
            return None
        if len(chain) > MAX_SEGMENT_NESTING:
            raise ValidationError.single(
                path,
                f"segment references nest more than {MAX_SEGMENT_NESTING} levels deep"
                f" ({' -> '.join(chain[:3])} -> ...)",
                "too_deep",
            )
        chain.append(current)
        for child in children(current):
            found = visit(child, chain, path)
            if found is not None:
                return found
        chain.pop()
        finished.add(current)
        return None

    for path, first in _references(criteria):
        cycle = visit(first, [segment_id], path)
        if cycle is not None:
            return SegmentCycle(path, cycle)
    return None


def ensure_no_segment_cycle(
    segment_id: str, criteria: StoredCriteria, resolve: Resolve, *, path: str = "criteria"
) -> None:
    """Raise when saving ``criteria`` for ``segment_id`` would create a reference cycle.

    Args:
        segment_id: the segment being saved.
        criteria: its new criteria.
        resolve: another segment's stored criteria by id (``None`` when it has none).
        path: where the criteria sit in the caller's input; prefixed to the node path.

    Raises:
        ValidationError: code ``segment_cycle`` at ``<path>.root...in_segment`` with
            the chain in the message; or ``too_deep`` for over-long chains.
    """
    try:
        cycle = find_segment_cycle(segment_id, criteria, resolve)
    except ValidationError as exc:
        raise exc.prefixed(path) from None
    if cycle is not None:
        full = cycle.path if not path else f"{path}.{cycle.path}"
        raise ValidationError.single(
            full, f"segment references form a cycle: {cycle.describe()}", "segment_cycle"
        )
