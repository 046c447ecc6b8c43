"""Sticky assignment of fans to variants, and the traffic split's rules."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from campaign_core.abtesting._counts import _check_finite
from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = ["assign_variant", "validate_traffic_split"]

_SPLIT_TOLERANCE = 1e-9


def _split_items(split: Mapping[Any, Any], path: str) -> list[tuple[str, float]]:
    if not isinstance(split, Mapping) or not split:
        raise ValidationError.single(path, "must be a non-empty object of weights", "invalid_type")
    problems = ProblemCollector()
    items: list[tuple[str, float]] = []
    for key, value in split.items():
        item_path = join_path(path, str(key))
        if not isinstance(key, str):
            problems.add(item_path, "keys must be strings", "invalid_type")
            continue
        _check_finite(item_path, value, problems, minimum=0.0)
        if not problems:
            items.append((key, float(value)))
    problems.raise_if_any()
    return items


def assign_variant(test_id: str, fan_id: str, split: Mapping[str, float]) -> str:
    """The variant a fan sees in a test: deterministic, sticky, proportional to the split.

    The fan's point ``u`` in ``[0, 1)`` is the first 8 bytes of
    ``sha256(len(test_id) ":" test_id ":" fan_id)`` (UTF-8) as an integer over
    2**64: the same in every process, machine and Python version, independent
    across tests (a fan in B of one test is not more likely in B of the next).
    The split's keys are taken in sorted order (JSON object order is not
    reliable: PostgreSQL's ``jsonb`` reorders keys), and the fan gets the first
    key whose cumulative weight exceeds ``u * total``. Variants with weight 0
    get nobody. Changing the split moves only the fans whose point falls in the
    changed ranges.

    Args:
        test_id: the test's id.
        fan_id: the fan's id.
        split: variant key -> non-negative weight (percentages summing to 100,
            or any positive total).

    Returns:
        The chosen key of ``split``.

    Raises:
        ValidationError: ids that are not non-empty strings, or a split that is
            empty, has a negative or non-finite weight, or sums to 0.
    """
    problems = ProblemCollector()
    for name, value in (("test_id", test_id), ("fan_id", fan_id)):
        if not isinstance(value, str) or not value:
            problems.add(name, "must be a non-empty string", "invalid_type")
    problems.raise_if_any()
    items = sorted(_split_items(split, "split"))
    total = math.fsum(weight for _, weight in items)
    if total <= 0.0:
        raise ValidationError.single("split", "weights must have a positive sum", "out_of_range")
    digest = hashlib.sha256(f"{len(test_id)}:{test_id}:{fan_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    cumulative = 0.0
    chosen = None
    for key, weight in items:
        if weight <= 0.0:
            continue
        chosen = key
        cumulative += weight
        if point < cumulative:
            return key
    # Rounding can leave the last cumulative weight a hair under the total.
    assert chosen is not None
    return chosen


def validate_traffic_split(
    split: object, variant_names: Sequence[str], *, path: str = "traffic_split"
) -> dict[str, float]:
    """Check a traffic split against a test's variants.

    Rules: an object whose keys are exactly the variants' names (or ids),
    every value a finite number ``>= 0``, summing to 100 within 1e-9.

    Args:
        split: the split as given (``{"variantA": 50, "variantB": 50}``).
        variant_names: the test's variant keys the split must cover.
        path: where the split sits in the caller's input.

    Returns:
        The split as ``{key: float}`` in the variants' order.

    Raises:
        ValidationError: every problem, with paths like ``traffic_split.variantA``.
    """
    if not isinstance(split, Mapping):
        raise ValidationError.single(
            path, "must be an object of variant -> percentage", "invalid_type"
        )
    problems = ProblemCollector()
    values: dict[str, float] = {}
    names = list(variant_names)
    for key, value in split.items():
        item_path = join_path(path, str(key))
        if key not in names:
            problems.add(item_path, "is not one of the test's variants", "unknown_field")
            continue
        before = len(problems.problems)
        _check_finite(item_path, value, problems, minimum=0.0)
        if len(problems.problems) == before:
            values[key] = float(value)
    for name in names:
        if name not in split:
            problems.add(
                join_path(path, name), "is missing (every variant needs a share)", "required"
            )
    if not problems:
        total = math.fsum(values.values())
        if abs(total - 100.0) > _SPLIT_TOLERANCE:
            problems.add(path, f"must sum to 100, got {total:.12g}", "out_of_range")
    problems.raise_if_any()
    return {name: values[name] for name in names}
