"""One naming rule for JSON keys and SQL columns: the seed's camelCase.

``user_id`` -> ``userId``. A record field can override its external name with
``attrs.field(metadata={"name": "isABTest"})`` where the seed spells it oddly.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["camel", "external_name", "external_names", "snake"]


def camel(name: str) -> str:
    """``scheduled_for`` -> ``scheduledFor``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """``scheduledFor`` -> ``scheduled_for``, ``isABTest`` -> ``is_ab_test`` (inverse of :func:`camel`)."""
    return _WORD_START.sub("_", name).lower()


def external_name(field: attrs.Attribute[Any]) -> str:
    """The JSON key and SQL column name of a record field."""
    override = field.metadata.get("name")
    return override if isinstance(override, str) else camel(field.name)


_CACHE: dict[type[Any], dict[str, str]] = {}


def external_names(cls: type[Any]) -> dict[str, str]:
    """Attribute name -> external name, for every field of a record class."""
    names = _CACHE.get(cls)
    if names is None:
        names = _CACHE[cls] = {f.name: external_name(f) for f in attrs.fields(cls)}
    return names
