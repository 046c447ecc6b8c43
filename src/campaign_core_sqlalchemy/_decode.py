"""Rows to records without crashing: a row another client wrote that the record type
cannot hold (an unknown enum value, a JSON array where an object belongs, JSON null)
raises :class:`~campaign_core.errors.CorruptRecordError` naming the table, the id and
the field, instead of a raw ``ValueError`` or a later ``AttributeError``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from campaign_core.errors import CorruptRecordError

__all__ = ["Decoder", "decoder"]


def _is_dict(hint: Any) -> tuple[bool, bool]:
    """(whether the field holds a JSON object, whether it may be None)."""
    origin = typing.get_origin(hint)
    if origin is dict or hint is dict:
        return True, False
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args:
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1 and (typing.get_origin(rest[0]) is dict or rest[0] is dict):
                return True, True
    return False, False


@attrs.frozen
class Decoder:
    """Builds the records of one table, checking what the record's converters do not."""

    table: str
    record: type[Any]
    objects: tuple[str, ...]  # dict fields that must hold a JSON object
    optional_objects: tuple[str, ...]  # dict fields that may also be None
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]

    def __call__(self, fields: dict[str, Any]) -> Any:
        for name in self.objects:
            if type(fields[name]) is not dict:
                raise self.error(fields, name, _not_object(fields[name]))
        for name in self.optional_objects:
            value = fields[name]
            if value is not None and type(value) is not dict:
                raise self.error(fields, name, _not_object(value))
        try:
            return self.record(**fields)
        except Exception as error:
            raise self._locate(fields, error) from None

    def error(self, fields: dict[str, Any], field: str, reason: str) -> CorruptRecordError:
        return CorruptRecordError(self.table, str(fields.get("id", "")), field, reason)

    def _locate(self, fields: dict[str, Any], error: Exception) -> CorruptRecordError:
        # the slow path, after a failure: the first field whose converter refuses its value
        for name, convert in self.converters:
            try:
                convert(fields[name])
            except Exception as field_error:
                return self.error(fields, name, f"{_shown(fields[name])}: {field_error}")
        return self.error(fields, "", f"{type(error).__name__}: {error}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _not_object(value: Any) -> str:
    kind = "null" if value is None else "an array" if isinstance(value, list) else _shown(value)
    return f"expected a JSON object, found {kind}"


_DECODERS: dict[tuple[str, type[Any]], Decoder] = {}


def decoder(table: str, record: type[Any]) -> Decoder:
    """The decoder of ``record`` rows read from ``table`` (built once per type)."""
    known = _DECODERS.get((table, record))
    if known is not None:
        return known
    hints = typing.get_type_hints(record)
    objects: list[str] = []
    optional: list[str] = []
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for field in attrs.fields(record):
        is_dict, may_be_none = _is_dict(hints[field.name])
        if is_dict:
            (optional if may_be_none else objects).append(field.name)
        if field.converter is not None and callable(field.converter):
            converters.append((field.name, field.converter))
    built = Decoder(table, record, tuple(objects), tuple(optional), tuple(converters))
    _DECODERS[(table, record)] = built
    return built
