"""Field checks shared by every service: each returns the clean value or records a problem.

Services gather every problem of one call in a :class:`ProblemCollector` and
raise them together, before anything is written.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from campaign_core._text import text_problem
from campaign_core.clock import truncate_ms
from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.serialization import check_json_value, parse_datetime

__all__ = [
    "MAX_MONEY",
    "MISSING",
    "check_unknown",
    "v_bool",
    "v_datetime",
    "v_enum",
    "v_enum_list",
    "v_id",
    "v_int",
    "v_json_object",
    "v_money",
    "v_number",
    "v_str_list",
    "v_text",
    "v_url_list",
]

E = TypeVar("E", bound=enum.Enum)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()
MAX_MONEY = 1e12
_ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,191}$")
_URL_RE = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


def check_unknown(
    unknown: Mapping[str, Any], problems: ProblemCollector, allowed: Iterable[str]
) -> None:
    """Record every unexpected keyword argument."""
    names = ", ".join(sorted(allowed))
    for key in unknown:
        problems.add(key, f"unknown field (expected one of: {names})", "unknown_field")


def v_text(
    value: Any,
    path: str,
    problems: ProblemCollector,
    *,
    required: bool = True,
    max_length: int = 10_000,
    allow_blank: bool = False,
) -> str | None:
    if value is None:
        if required:
            problems.add(path, "is required", "required")
        return None
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}", "invalid_type")
        return None
    if not allow_blank and not value.strip():
        problems.add(path, "must not be blank", "required")
        return None
    if len(value) > max_length:
        problems.add(path, f"must be at most {max_length} characters", "too_long")
        return None
    problem = text_problem(value)
    if problem is not None:
        problems.add(path, problem, "invalid_value")
        return None
    return value


def v_id(value: Any, path: str, problems: ProblemCollector) -> str | None:
    if not isinstance(value, str):
        problems.add(path, f"expected an id string, got {type(value).__name__}", "invalid_type")
        return None
    if not _ID_RE.match(value):
        problems.add(
            path, "is not a valid id (1-191 letters, digits, '-', '_', ':', '.')", "invalid_value"
        )
        return None
    return value


def v_number(
    value: Any,
    path: str,
    problems: ProblemCollector,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"expected a number, got {type(value).__name__}", "invalid_type")
        return None
    number = float(value)
    if not math.isfinite(number):
        problems.add(path, "must be a finite number (not NaN or infinity)", "not_finite")
        return None
    if minimum is not None and (number <= minimum if exclusive_minimum else number < minimum):
        problems.add(
            path, f"must be {'>' if exclusive_minimum else '>='} {minimum:g}", "out_of_range"
        )
        return None
    if maximum is not None and number > maximum:
        problems.add(path, f"must be <= {maximum:g}", "out_of_range")
        return None
    return number


def v_money(
    value: Any, path: str, problems: ProblemCollector, *, positive: bool = False
) -> float | None:
    return v_number(
        value, path, problems, minimum=0.0, maximum=MAX_MONEY, exclusive_minimum=positive
    )


def v_int(
    value: Any,
    path: str,
    problems: ProblemCollector,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        else:
            problems.add(path, f"expected an integer, got {type(value).__name__}", "invalid_type")
            return None
    if minimum is not None and value < minimum:
        problems.add(path, f"must be >= {minimum}", "out_of_range")
        return None
    if maximum is not None and value > maximum:
        problems.add(path, f"must be <= {maximum}", "out_of_range")
        return None
    return int(value)


def v_bool(value: Any, path: str, problems: ProblemCollector) -> bool | None:
    if not isinstance(value, bool):
        problems.add(path, f"expected true or false, got {type(value).__name__}", "invalid_type")
        return None
    return value


def v_enum(value: Any, path: str, problems: ProblemCollector, kind: type[E]) -> E | None:
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}", "invalid_type")
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        problems.add(path, f"{value!r} is not one of: {allowed}", "invalid_value")
        return None


def _as_list(value: Any, path: str, problems: ProblemCollector, max_items: int) -> list[Any] | None:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        problems.add(path, f"expected a list, got {type(value).__name__}", "invalid_type")
        return None
    if len(value) > max_items:
        problems.add(path, f"must have at most {max_items} items", "too_long")
        return None
    return list(value)


def v_enum_list(
    value: Any, path: str, problems: ProblemCollector, kind: type[E], *, max_items: int = 50
) -> tuple[E, ...] | None:
    items = _as_list(value, path, problems, max_items)
    if items is None:
        return None
    out: list[E] = []
    ok = True
    for index, item in enumerate(items):
        member = v_enum(item, join_path(path, index), problems, kind)
        if member is None:
            ok = False
        elif member in out:
            problems.add(join_path(path, index), f"{member.value!r} is listed twice", "duplicate")
            ok = False
        else:
            out.append(member)
    return tuple(out) if ok else None


def v_str_list(
    value: Any, path: str, problems: ProblemCollector, *, max_items: int = 1000, ids: bool = True
) -> tuple[str, ...] | None:
    items = _as_list(value, path, problems, max_items)
    if items is None:
        return None
    out: list[str] = []
    ok = True
    for index, item in enumerate(items):
        sub = join_path(path, index)
        clean = v_id(item, sub, problems) if ids else v_text(item, sub, problems)
        if clean is None:
            ok = False
        elif clean in out:
            problems.add(sub, f"{clean!r} is listed twice", "duplicate")
            ok = False
        else:
            out.append(clean)
    return tuple(out) if ok else None


def v_url_list(
    value: Any, path: str, problems: ProblemCollector, *, max_items: int = 50
) -> tuple[str, ...] | None:
    items = _as_list(value, path, problems, max_items)
    if items is None:
        return None
    ok = True
    for index, item in enumerate(items):
        sub = join_path(path, index)
        if not isinstance(item, str):
            problems.add(sub, f"expected a URL string, got {type(item).__name__}", "invalid_type")
            ok = False
        elif len(item) > 2048 or not _URL_RE.match(item):
            problems.add(sub, "must be an http(s) URL of at most 2048 characters", "invalid_value")
            ok = False
    return tuple(items) if ok else None


def v_json_object(
    value: Any, path: str, problems: ProblemCollector, *, max_bytes: int = 256_000
) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        problems.add(path, f"expected an object, got {type(value).__name__}", "invalid_type")
        return None
    found = check_json_value(value, path)
    if found:
        problems.problems.extend(found)
        return None
    if len(json.dumps(value)) > max_bytes:
        problems.add(path, f"is larger than {max_bytes} bytes of JSON", "too_long")
        return None
    copied: dict[str, Any] = json.loads(json.dumps(value))  # a deep copy the caller cannot mutate
    return copied


def v_datetime(value: Any, path: str, problems: ProblemCollector) -> datetime | None:
    """An aware datetime (or ISO-8601 string with a zone), to UTC, to the millisecond."""
    try:
        return truncate_ms(parse_datetime(value, path))
    except ValidationError as error:
        problems.extend(error)
        return None
