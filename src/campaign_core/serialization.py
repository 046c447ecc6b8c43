"""JSON for hosts: the seed's camelCase names, ISO-8601 UTC timestamps, enums as strings.

``to_json(obj)`` turns any record or result of the library (frozen attrs
classes, possibly nested, lists, dicts, enums, datetimes) into JSON-safe
Python data. ``from_json(cls, data)`` builds a record from such data,
**strictly**: unknown keys, wrong types, NaN/infinity, naive or malformed
timestamps and unknown enum values are all reported, each with its path, in
one :class:`~campaign_core.errors.ValidationError`::

    >>> from campaign_core.serialization import to_json
    >>> from datetime import datetime, UTC
    >>> to_json({"at": datetime(2026, 1, 1, tzinfo=UTC)})
    {'at': '2026-01-01T00:00:00.000Z'}

One converter serves the whole library (and the host's Next.js routes).
``json_schema(cls)`` describes what ``to_json`` gives for a class, as a JSON
Schema a host can validate against or turn into TypeScript types.
"""

from __future__ import annotations

import collections.abc
import enum
import math
import re
import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from campaign_core._naming import (
    camel,
    snake,
)
from campaign_core._naming import (
    external_names as external_names,
)
from campaign_core._text import (
    is_storable as is_storable,
)
from campaign_core._text import (
    text_problem,
)
from campaign_core.clock import truncate_ms
from campaign_core.durations import format_duration
from campaign_core.errors import CampaignCoreError, Problem, ValidationError, join_path
from campaign_core.models import Platform, PlatformName, to_platform

__all__ = [
    "error_to_json",
    "from_json",
    "json_schema",
    "kwargs_from_json",
    "to_json",
]

T = TypeVar("T")

MAX_JSON_DEPTH = 32
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$")


class _Invalid(ValueError):
    """A leaf problem raised inside structuring hooks; carries a stable code."""

    def __init__(self, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.code = code


def format_datetime(value: datetime) -> str:
    """``2026-01-01T09:30:00.000Z``: UTC, millisecond precision, as JavaScript prints it."""
    # isoformat (C) rather than strftime: it was the costliest part of writing a run's history
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_datetime(value: object, path: str = "") -> datetime:
    """Parse an ISO-8601 timestamp with a zone (``Z`` or an offset) to aware UTC (ms).

    Raises:
        ValidationError: not a string, not ISO-8601, or without a time zone.
    """
    try:
        return _structure_datetime(value, datetime)
    except _Invalid as error:
        raise ValidationError.single(path, str(error), error.code) from None


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _Invalid("datetime must be timezone-aware")
        return truncate_ms(value.astimezone(UTC))
    if not isinstance(value, str):
        raise _Invalid(
            f"expected an ISO-8601 timestamp string, got {type(value).__name__}", "invalid_type"
        )
    text = value.strip()
    if not _ISO_RE.match(text):
        raise _Invalid(
            f"{value!r} is not an ISO-8601 timestamp with a time zone (e.g. 2026-01-01T09:30:00Z)"
        )
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"{value!r} is not a valid date and time") from None
    return truncate_ms(parsed.astimezone(UTC))


def _structure_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {type(value).__name__}", "invalid_type")
    return value


def _structure_bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {type(value).__name__}", "invalid_type")
    return value


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected an integer, got {type(value).__name__}", "invalid_type")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("must be a finite number", "not_finite")
        if not value.is_integer():
            raise _Invalid(f"expected an integer, got {value!r}", "invalid_type")
        value = int(value)
    if abs(value) > 2**53:
        raise _Invalid("integer is too large", "out_of_range")
    return int(value)


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number, got {type(value).__name__}", "invalid_type")
    result = float(value)
    if not math.isfinite(result):
        raise _Invalid("must be a finite number (not NaN or infinity)", "not_finite")
    return result


def check_json_value(value: Any, path: str = "", depth: int = 0) -> list[Problem]:
    """Problems that keep ``value`` from being plain JSON (NaN, non-string keys, objects...)."""
    problems: list[Problem] = []
    if depth > MAX_JSON_DEPTH:
        return [Problem(path, f"nested deeper than {MAX_JSON_DEPTH} levels", "too_deep")]
    if isinstance(value, str):
        problem = text_problem(value)
        return [] if problem is None else [Problem(path, problem, "invalid_value")]
    if value is None or isinstance(value, bool | int):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            problems.append(Problem(path, "integer is too large for JSON", "out_of_range"))
        return problems
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(
                Problem(path, "must be a finite number (not NaN or infinity)", "not_finite")
            )
        return problems
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(
                    Problem(path, f"object keys must be strings, got {key!r}", "invalid_type")
                )
                continue
            problem = text_problem(key)
            if problem is not None:  # the key itself stays out of the path and the message
                problems.append(Problem(path, f"an object key {problem}", "invalid_value"))
                continue
            problems.extend(check_json_value(item, join_path(path, key), depth + 1))
        return problems
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problems.extend(check_json_value(item, join_path(path, index), depth + 1))
        return problems
    return [Problem(path, f"{type(value).__name__} is not a JSON value", "invalid_type")]


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(f"expected an object, got {type(value).__name__}", "invalid_type")
    problems = check_json_value(value)
    if problems:
        raise ValidationError(problems)
    return dict(value)


def _structure_any(value: Any, _: Any) -> Any:
    problems = check_json_value(value)
    if problems:
        raise ValidationError(problems)
    return value


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise _Invalid(f"{value!r} is not one of {allowed}") from None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], _structure_json_object)
    conv.register_structure_hook_func(lambda t: t is typing.Any, _structure_any)
    # Which names are platforms depends on the core's registry, checked by the services.
    conv.register_structure_hook(PlatformName, lambda v, _: to_platform(_structure_str(v, str)))
    # string enums are str subclasses: register them by class so they beat the str hook
    # (the models' StrEnum dispatches to enum.StrEnum's hooks)
    for base in (enum.Enum, enum.StrEnum):
        conv.register_structure_hook(base, _structure_enum)
        conv.register_unstructure_hook(base, lambda e: e.value)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(date, lambda d: d.isoformat())
    conv.register_unstructure_hook(timedelta, format_duration)

    def structure_factory(cls: type[Any]) -> Any:
        names = external_names(cls)
        overrides: dict[str, Any] = {
            attr: override(rename=ext) for attr, ext in names.items() if attr != ext
        }
        return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **overrides)

    def unstructure_factory(cls: type[Any]) -> Any:
        names = external_names(cls)
        overrides: dict[str, Any] = {
            attr: override(rename=ext) for attr, ext in names.items() if attr != ext
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = _make_converter()


def to_json(obj: Any) -> Any:
    """JSON-safe data for ``obj``: camelCase keys, ISO-8601 UTC timestamps, enums as strings."""
    if isinstance(obj, Mapping) and not attrs.has(type(obj)):
        return {str(_plain_key(k)): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple) and not attrs.has(type(obj)):
        return [to_json(v) for v in obj]
    return converter.unstructure(obj)


def _plain_key(key: Any) -> Any:
    return key.value if isinstance(key, enum.Enum) else key


def from_json(cls: type[T], data: Any, *, path: str = "") -> T:
    """Build a ``cls`` from JSON data, strictly.

    Args:
        cls: an attrs record or result class of the library.
        data: parsed JSON (dicts, lists, strings, numbers, booleans, None).
        path: prefix for problem paths (where ``data`` sits in a larger input).

    Returns:
        The record.

    Raises:
        ValidationError: every problem found, each with its path (``content.title``,
            ``platforms[1]``), using the JSON (camelCase) names.
    """
    if attrs.has(cls) and not isinstance(data, Mapping):
        raise ValidationError.single(
            path, f"expected an object, got {type(data).__name__}", "invalid_type"
        )
    try:
        return converter.structure(data, cls)
    except Exception as error:
        problems = _problems(error, path, cls)
        if not problems:
            problems = [Problem(path, str(error) or type(error).__name__)]
        raise ValidationError(problems) from None


def _problems(error: BaseException, path: str, cls: Any) -> list[Problem]:
    if isinstance(error, ValidationError):
        return list(error.prefixed(path).problems)
    if isinstance(error, ForbiddenExtraKeysError):
        return [
            Problem(join_path(path, key), "unknown field", "unknown_field")
            for key in sorted(error.extra_fields)
        ]
    if isinstance(error, ClassValidationError):
        names = external_names(error.cl) if attrs.has(error.cl) else {}
        out: list[Problem] = []
        with_notes, without_notes = error.group_exceptions()
        pairs: list[tuple[Any, Any]] = [*with_notes, *((e, None) for e in without_notes)]
        for sub, note in pairs:
            if note is None:
                out.extend(_problems(sub, path, error.cl))
                continue
            name = names.get(note.name, note.name)
            sub_path = join_path(path, name)
            if isinstance(sub, KeyError):
                out.append(Problem(sub_path, "required field is missing", "required"))
            else:
                out.extend(_problems(sub, sub_path, note.type))
        return out
    if isinstance(error, IterableValidationError):
        out = []
        with_index, without_index = error.group_exceptions()
        ipairs: list[tuple[Any, Any]] = [*with_index, *((e, None) for e in without_index)]
        for sub, note in ipairs:
            sub_path = join_path(path, note.index) if note is not None else path
            out.extend(_problems(sub, sub_path, None))
        return out
    if isinstance(error, BaseExceptionGroup):
        out = []
        subs: tuple[Any, ...] = error.exceptions
        for sub in subs:
            out.extend(_problems(sub, path, cls))
        return out
    if isinstance(error, _Invalid):
        return [Problem(path, str(error), error.code)]
    if isinstance(error, TypeError | ValueError | AttributeError):
        return [Problem(path, str(error), "invalid_value")]
    return [Problem(path, f"{type(error).__name__}: {error}", "invalid_value")]


def kwargs_from_json(body: Any, *, path: str = "") -> dict[str, Any]:
    """A JSON request body's top-level camelCase keys as snake_case keyword arguments.

    ``{"scheduledFor": ..., "segmentIds": [...], "isABTest": true}`` becomes
    ``{"scheduled_for": ..., "segment_ids": [...], "is_ab_test": True}``; values are left as they
    are (nested JSON such as ``content`` keeps its keys). The service then
    validates everything, unknown keys included, with their paths.

    Raises:
        ValidationError: the body is not a JSON object.
    """
    if not isinstance(body, Mapping):
        raise ValidationError.single(
            path, f"expected a JSON object, got {type(body).__name__}", "invalid_type"
        )
    return {snake(str(key)): value for key, value in body.items()}


_FIRST_SEGMENT = re.compile(r"^([A-Za-z0-9_]+)(.*)$", re.DOTALL)


def error_to_json(error: CampaignCoreError) -> dict[str, Any]:
    """``error.to_json()`` with each problem's path in the request's camelCase names.

    The services report paths in their keyword names (``scheduled_for``); a body read
    with :func:`kwargs_from_json` spelled them ``scheduledFor``. Only the first segment
    of a path is renamed, the one :func:`kwargs_from_json` renamed: keys inside nested
    JSON (``content.my_key``) are the caller's own and stay as they are.
    """
    body = error.to_json()
    if isinstance(error, ValidationError):
        renamed = []
        for problem in error.problems:
            match = _FIRST_SEGMENT.match(problem.path)
            path = camel(match[1]) + match[2] if match else problem.path
            renamed.append(attrs.evolve(problem, path=path))
        details = body["error"].setdefault("details", {})
        details["problems"] = [p.to_json() for p in renamed]
        if error.message == ValidationError.summary(error.problems):
            body["error"]["message"] = ValidationError.summary(renamed)
    return body


# ---------------------------------------------------------------------- JSON Schema

_DATETIME_PATTERN: typing.Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
_SCALARS: typing.Final[dict[Any, dict[str, Any]]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    datetime: {"type": "string", "format": "date-time", "pattern": _DATETIME_PATTERN},
    date: {"type": "string", "format": "date"},
    timedelta: {"type": "string", "description": "an ISO-8601 duration (PT5M, P3D)"},
}


def json_schema(
    cls: type[Any], *, title: str | None = None, platforms: typing.Iterable[str] | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of what :func:`to_json` gives for ``cls``.

    Derived from the class's annotations, the same ones the converter follows:
    camelCase property names (with the records' own spellings such as
    ``isABTest``), every property required (``to_json`` always writes every
    field, ``null`` where a value is absent), no other properties, timestamps as
    ``2026-01-01T09:30:00.000Z`` strings, enums as their values, nested records
    under ``$defs``. Free-form JSON (``content``, ``metadata``) is any JSON value.
    A Next.js host can generate TypeScript types from it (for example with
    ``json-schema-to-typescript``) or validate responses in its tests.

    Args:
        cls: an attrs record or result class of the library (``Campaign``,
            ``ReportData``, ``ABTestAnalysis``...).
        title: the schema's title (default: the class name).
        platforms: the platform names a ``Platform`` value may take (a core's
            ``settings.platforms.names``); the built-in platforms by default.

    Returns:
        The schema, a JSON-safe dict.

    Raises:
        TypeError: ``cls`` is not an attrs class, or has a field of a type the
            converter has no JSON form for.
    """
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise TypeError(f"json_schema takes an attrs class, got {cls!r}")
    defs: dict[str, dict[str, Any]] = {}
    if platforms is not None:
        defs[Platform.__name__] = {"enum": list(platforms), "type": "string"}
    root = _object_schema(cls, defs)
    if platforms is not None and not _mentions(root, defs, f"#/$defs/{Platform.__name__}"):
        defs.pop(Platform.__name__)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title or cls.__name__,
        **root,
    }
    defs.pop(cls.__name__, None)
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return schema


def _mentions(root: dict[str, Any], defs: dict[str, dict[str, Any]], ref: str) -> bool:
    return ref in repr(root) or ref in repr(defs)


def _object_schema(cls: type[Any], defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    names = external_names(cls)
    properties = {
        names[f.name]: _type_schema(hints[f.name], defs, f"{cls.__name__}.{f.name}")
        for f in attrs.fields(cls)
    }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    doc = (cls.__doc__ or "").strip().split("\n", 1)[0]
    if doc:
        schema["description"] = doc
    return schema


def _ref(cls: type[Any], defs: dict[str, dict[str, Any]], build: Any) -> dict[str, Any]:
    name = cls.__name__
    if name not in defs:
        defs[name] = {}  # a placeholder first: records may refer to themselves
        defs[name] = build()
    return {"$ref": f"#/$defs/{name}"}


def _type_schema(tp: Any, defs: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    if tp is typing.Any or tp is object:
        return {}
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    if tp is PlatformName:
        # the built-in platforms unless json_schema was given a registry's names
        return _type_schema(Platform, defs, where)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = list(tp)
        return _ref(
            tp,
            defs,
            lambda: {
                "enum": [m.value for m in members],
                **({"type": "string"} if all(isinstance(m.value, str) for m in members) else {}),
            },
        )
    if isinstance(tp, type) and attrs.has(tp):
        return _ref(tp, defs, lambda: _object_schema(tp, defs))
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a, defs, where) for a in args]
        if len(options) == 2 and {"type": "null"} in options:
            other = options[0] if options[1] == {"type": "null"} else options[1]
            if set(other) == {"type"} and isinstance(other["type"], str):
                return {"type": [other["type"], "null"]}
        return {"anyOf": options}
    if origin is typing.Literal:
        return {"enum": [a.value if isinstance(a, enum.Enum) else a for a in args]}
    if origin in (tuple, list, set, frozenset, collections.abc.Sequence, collections.abc.Set):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {
                "type": "array",
                "prefixItems": [_type_schema(a, defs, where) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        item = args[0] if args else typing.Any
        return {"type": "array", "items": _type_schema(item, defs, where)}
    if tp in (list, tuple):
        return {"type": "array"}
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        value = args[1] if len(args) == 2 else typing.Any
        schema: dict[str, Any] = {"type": "object"}
        item = _type_schema(value, defs, where)
        if item:
            schema["additionalProperties"] = item
        return schema
    raise TypeError(f"{where}: no JSON form for {tp!r}")
