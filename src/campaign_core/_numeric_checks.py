"""Input checks shared by the statistics, the A/B decision and the analytics computations.

Every public function in :mod:`campaign_core.stats` accepts either scalars
(Python or numpy numbers) or array-likes. These helpers turn raw arguments into
floats (the scalar path, kept free of numpy so one call costs microseconds) or
numpy arrays (the vectorized path), and record every problem with the argument's
name as its path, so a caller sees all that is wrong at once in one
:class:`~campaign_core.errors.ValidationError`.

Counts must be finite, non-negative, integer-valued numbers no larger than
2**53 (beyond that a float cannot hold every integer, and no real A/B test is
that big). Booleans are rejected: ``True`` as a count is almost always a bug.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from campaign_core.errors import ProblemCollector, ValidationError, join_path

__all__ = [
    "MAX_COUNT",
    "FloatArray",
    "Scalar",
    "all_scalars",
    "array_count",
    "array_real",
    "check_choice",
    "check_not_above",
    "first_index_path",
    "open_unit",
    "scalar_count",
    "scalar_real",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: What the scalar overloads accept: a plain or numpy number (never a bool).
Scalar: TypeAlias = int | float | np.integer[Any] | np.floating[Any]

MAX_COUNT = 2**53

_FAST_TYPES = (int, float)


def all_scalars(*values: object) -> bool:
    """Whether every value is a number, not an array or a sequence.

    ``int`` and ``float`` are checked by exact type first because this runs on
    every scalar call; numpy scalars and other real numbers take the slow path.
    Booleans count as scalars here so that the scalar checks can reject them
    with a clear message.
    """
    for value in values:
        if type(value) in _FAST_TYPES:
            continue
        if isinstance(value, np.ndarray):
            return False
        if isinstance(value, numbers.Number | np.generic):
            continue
        return False
    return True


def _as_real(path: str, value: object, problems: ProblemCollector) -> float | None:
    """Convert a scalar to float or record why it cannot be one."""
    kind = type(value)
    if kind is float:
        result = value
    elif kind is int:
        try:
            result = float(value)  # type: ignore[arg-type]
        except OverflowError:
            problems.add(path, "is too large", "out_of_range")
            return None
    elif isinstance(value, bool | np.bool_):
        problems.add(path, "must be a number, not a boolean", "invalid_type")
        return None
    elif isinstance(value, numbers.Real | np.integer | np.floating):
        try:
            result = float(value)
        except (OverflowError, TypeError, ValueError):
            problems.add(path, "is not a representable real number", "invalid_type")
            return None
    else:
        problems.add(path, f"must be a number, not {type(value).__name__}", "invalid_type")
        return None
    assert isinstance(result, float)
    if not math.isfinite(result):
        problems.add(path, f"must be finite, got {result}", "not_finite")
        return None
    return result


def scalar_count(path: str, value: object, problems: ProblemCollector) -> float:
    """A count as a float: finite, integer-valued, in ``[0, 2**53]``.

    Returns 0.0 after recording a problem, so callers can keep checking the
    other arguments and raise once.
    """
    result = _as_real(path, value, problems)
    if result is None:
        return 0.0
    if result < 0:
        problems.add(path, f"must be a non-negative count, got {value}", "out_of_range")
        return 0.0
    if not result.is_integer():
        problems.add(path, f"must be a whole number (a count), got {value}", "invalid_value")
        return 0.0
    if result > MAX_COUNT:
        problems.add(path, f"must be at most 2**53, got {value}", "out_of_range")
        return 0.0
    return result


def scalar_real(
    path: str,
    value: object,
    problems: ProblemCollector,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real in the given range (bounds optional, open or closed)."""
    result = _as_real(path, value, problems)
    if result is None:
        return math.nan
    too_low = low is not None and (result <= low if low_open else result < low)
    too_high = high is not None and (result >= high if high_open else result > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        problems.add(path, f"must be in {left}{lo}, {hi}{right}, got {value}", "out_of_range")
        return math.nan
    return result


def open_unit(path: str, value: object) -> float:
    """A level such as alpha, power or a confidence: a finite float in (0, 1).

    Raises:
        ValidationError: naming ``path`` if the value is not in (0, 1).
    """
    problems = ProblemCollector()
    result = scalar_real(path, value, problems, low=0.0, high=1.0, low_open=True, high_open=True)
    problems.raise_if_any()
    return result


def check_choice(path: str, value: object, options: Iterable[str]) -> str:
    """A string option among ``options``.

    Raises:
        ValidationError: naming ``path`` and the allowed values.
    """
    allowed = tuple(options)
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError.single(
            path, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}", "invalid_value"
        )
    return value


def first_index_path(path: str, mask: npt.NDArray[np.bool_]) -> str:
    """``path`` extended by the index of the first true element of ``mask``."""
    flat = int(np.flatnonzero(mask)[0])
    index = np.unravel_index(flat, mask.shape) if mask.ndim else ()
    for part in index:
        path = join_path(path, int(part))
    return path


def _as_array(path: str, value: object, problems: ProblemCollector) -> npt.NDArray[Any] | None:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists and the like
        problems.add(path, f"must be a number or an array of numbers ({exc})", "invalid_type")
        return None
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr
    if kind == "b":
        problems.add(path, "must hold numbers, not booleans", "invalid_type")
        return None
    if kind == "O":
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
    problems.add(path, f"must hold real numbers, got dtype {arr.dtype}", "invalid_type")
    return None


def array_count(path: str, value: object, problems: ProblemCollector) -> npt.NDArray[Any]:
    """An array of counts (integer dtype kept as is, to save a copy).

    Returns an empty float array after recording a problem.
    """
    arr = _as_array(path, value, problems)
    if arr is None:
        return np.zeros(0)
    if arr.size == 0:
        return arr.astype(np.float64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            problems.add(first_index_path(path, bad), "must be finite", "not_finite")
            return np.zeros(0)
        bad = arr != np.floor(arr)
        if bad.any():
            problems.add(first_index_path(path, bad), "must be a whole number", "invalid_value")
            return np.zeros(0)
    if arr.dtype.kind != "u" and arr.min() < 0:
        problems.add(first_index_path(path, arr < 0), "must be non-negative", "out_of_range")
        return np.zeros(0)
    if arr.max() > MAX_COUNT:
        problems.add(
            first_index_path(path, arr > MAX_COUNT), "must be at most 2**53", "out_of_range"
        )
        return np.zeros(0)
    return arr


def array_real(
    path: str,
    value: object,
    problems: ProblemCollector,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> FloatArray:
    """An array of finite reals within the given range, as float64."""
    arr = _as_array(path, value, problems)
    if arr is None:
        return np.zeros(0)
    out = arr.astype(np.float64, copy=False)
    if out.size == 0:
        return out
    bad = ~np.isfinite(out)
    if bad.any():
        problems.add(first_index_path(path, bad), "must be finite", "not_finite")
        return np.zeros(0)
    bad = np.zeros(out.shape, dtype=bool)
    if low is not None:
        bad |= out <= low if low_open else out < low
    if high is not None:
        bad |= out >= high if high_open else out > high
    if bad.any():
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        problems.add(
            first_index_path(path, bad), f"must be in {left}{lo}, {hi}{right}", "out_of_range"
        )
        return np.zeros(0)
    return out


def check_not_above(
    small_path: str,
    small: Any,
    big_path: str,
    big: Any,
    problems: ProblemCollector,
) -> None:
    """Record a problem if ``small > big`` anywhere (after broadcasting)."""
    if isinstance(small, float) and isinstance(big, float):
        if small > big:
            problems.add(
                small_path, f"must not exceed {big_path} ({small:g} > {big:g})", "out_of_range"
            )
        return
    try:
        bad = np.asarray(small > big)
    except ValueError:
        problems.add(small_path, f"cannot be broadcast against {big_path}", "invalid_value")
        return
    if bad.any():
        if bad.shape == np.shape(small):
            problems.add(
                first_index_path(small_path, bad), f"must not exceed {big_path}", "out_of_range"
            )
        else:
            problems.add(small_path, f"must not exceed {big_path}", "out_of_range")
