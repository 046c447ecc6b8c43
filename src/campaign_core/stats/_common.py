"""Pieces shared by the statistics modules: the result type variable and argument parsing."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypeVar

import numpy as np

from campaign_core._numeric_checks import (
    FloatArray,
    all_scalars,
    array_count,
    check_not_above,
    first_index_path,
    scalar_count,
)
from campaign_core.errors import ProblemCollector, ValidationError

__all__ = [
    "ALTERNATIVES",
    "Alternative",
    "F",
    "broadcast_or_raise",
    "parse_two_samples",
    "to_output",
]

#: A result field: a Python ``float`` for scalar inputs, a float64 array otherwise.
F = TypeVar("F", float, FloatArray)

Alternative: TypeAlias = Literal["two-sided", "larger", "smaller"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "larger", "smaller")


def broadcast_or_raise(named: dict[str, Any]) -> tuple[int, ...]:
    """The common shape of the named arrays.

    Raises:
        ValidationError: (path ``""``) if the shapes do not broadcast.
    """
    shapes = {name: np.shape(value) for name, value in named.items()}
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        detail = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValidationError.single(
            "", f"the arguments cannot be broadcast together: {detail}", "invalid_value"
        ) from None


def parse_two_samples(
    successes_a: object,
    n_a: object,
    successes_b: object,
    n_b: object,
    *,
    min_n: int = 1,
) -> tuple[bool, Any, Any, Any, Any]:
    """Validate two binomial samples.

    Returns:
        ``(scalar, k_a, n_a, k_b, n_b)``: floats when every input is a number,
        numpy arrays (integer dtypes kept) otherwise.

    Raises:
        ValidationError: every problem, each with the argument name (and index) as path.
    """
    problems = ProblemCollector()
    if all_scalars(successes_a, n_a, successes_b, n_b):
        ka = scalar_count("successes_a", successes_a, problems)
        na = scalar_count("n_a", n_a, problems)
        kb = scalar_count("successes_b", successes_b, problems)
        nb = scalar_count("n_b", n_b, problems)
        if problems:
            problems.raise_if_any()
        if na < min_n:
            problems.add("n_a", f"must be at least {min_n}, got {na:g}", "out_of_range")
        if nb < min_n:
            problems.add("n_b", f"must be at least {min_n}, got {nb:g}", "out_of_range")
        check_not_above("successes_a", ka, "n_a", na, problems)
        check_not_above("successes_b", kb, "n_b", nb, problems)
        problems.raise_if_any()
        return True, ka, na, kb, nb
    ka_arr = array_count("successes_a", successes_a, problems)
    na_arr = array_count("n_a", n_a, problems)
    kb_arr = array_count("successes_b", successes_b, problems)
    nb_arr = array_count("n_b", n_b, problems)
    problems.raise_if_any()
    broadcast_or_raise({"successes_a": ka_arr, "n_a": na_arr, "successes_b": kb_arr, "n_b": nb_arr})
    for name, arr in (("n_a", na_arr), ("n_b", nb_arr)):
        if arr.size and arr.min() < min_n:
            problems.add(
                first_index_path(name, arr < min_n), f"must be at least {min_n}", "out_of_range"
            )
    check_not_above("successes_a", ka_arr, "n_a", na_arr, problems)
    check_not_above("successes_b", kb_arr, "n_b", nb_arr, problems)
    problems.raise_if_any()
    return False, ka_arr, na_arr, kb_arr, nb_arr


def to_output(value: Any, scalar: bool) -> Any:
    """``float`` for the scalar path, a float64 ndarray otherwise."""
    if scalar:
        return float(value)
    return np.asarray(value, dtype=np.float64)
