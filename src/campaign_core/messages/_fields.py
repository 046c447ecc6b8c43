"""The variables a message template may read, checked when it is saved.

A template sees six names:

``fan``
    the fan's built-in fields (``fan.spending_level``, ``fan.lifetime_value``,
    derived ``fan.no_activity_days``...), the custom traits the account declared
    (``fan.favorite_game`` or ``fan.traits.favorite_game``), and the profile
    fields every message uses (``first_name``, ``last_name``, ``display_name``,
    ``username``, ``locale``: read from the fan's traits when present);
``campaign``
    the campaign being sent (``id``, ``name``, ``description``, ``type``,
    ``platforms``, ``budget``, ``scheduled_for``, and anything under
    ``campaign.content`` and ``campaign.goals``);
``account``
    the sending account (``id``, ``name``, ``currency``, ``default_locale``,
    ``time_zone``, ``website_url``);
``vars``
    the variables of the send (``{"discount": 20}``): any name, empty when missing;
``unsubscribe_url``
    the fan's signed unsubscribe link;
``now``
    the time of the send.

Anything else (``fan.frist_name``) is refused at save with its line and column,
so a typo is an error rather than an empty string in 100,000 messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from campaign_core.criteria import FieldRegistry

__all__ = [
    "ACCOUNT_FIELDS",
    "CAMPAIGN_FIELDS",
    "PROFILE_FIELDS",
    "ROOTS",
    "MessageFields",
]

PROFILE_FIELDS: Final = ("first_name", "last_name", "display_name", "username", "locale")
CAMPAIGN_FIELDS: Final = (
    "id",
    "name",
    "description",
    "type",
    "status",
    "platforms",
    "budget",
    "scheduled_for",
    "content",
    "goals",
)
_CAMPAIGN_OPEN: Final = frozenset({"content", "goals"})
ACCOUNT_FIELDS: Final = ("id", "name", "currency", "default_locale", "time_zone", "website_url")
ROOTS: Final = ("fan", "campaign", "account", "vars", "unsubscribe_url", "now")
# Liquid's own properties, valid after any value
_SPECIAL: Final = frozenset({"size", "first", "last"})

Segments = Sequence[object]


@attrs.frozen
class MessageFields:
    """The variables templates of one account may read.

    Build one per account from the traits it declared (the same declaration
    criteria and segments use)::

        fields = MessageFields.from_registry(FieldRegistry.with_traits({"tier": "number"}))
    """

    fan_fields: tuple[str, ...]
    traits: tuple[str, ...]
    trait_types: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_registry(cls, registry: FieldRegistry | None = None) -> MessageFields:
        """The variables for a field registry (built-in fan fields and declared traits)."""
        registry = registry or FieldRegistry.default()
        builtin = [spec.name for spec in registry.specs if not spec.name.startswith("traits.")]
        declared = [
            (spec.key, spec.type.value)
            for spec in registry.specs
            if spec.name.startswith("traits.")
        ]
        return cls(
            fan_fields=tuple(dict.fromkeys(["fan_id", *builtin, *PROFILE_FIELDS])),
            traits=tuple(dict.fromkeys([*(name for name, _ in declared), *PROFILE_FIELDS])),
            trait_types=tuple(declared),
        )

    @classmethod
    def for_traits(cls, traits: Mapping[str, str]) -> MessageFields:
        """The variables for the built-in fields plus ``traits`` (name -> type)."""
        return cls.from_registry(FieldRegistry.with_traits(traits))

    def problem(self, segments: Segments) -> str | None:
        """Why a variable path may not be read, or ``None`` when it may.

        Args:
            segments: the path as the template wrote it (``["fan", "first_name"]``).
        """
        root, rest = segments[0], list(segments[1:])
        shown = _show(segments)
        if root not in ROOTS:
            return f"unknown variable {shown!r}{_hint(str(root), ROOTS)}; templates read " + (
                ", ".join(ROOTS)
            )
        if root == "vars":
            return None
        if root == "fan":
            return self._fan_problem(rest, shown)
        if root == "campaign":
            return _record_problem(rest, shown, CAMPAIGN_FIELDS, _CAMPAIGN_OPEN, "campaign")
        if root == "account":
            return _record_problem(rest, shown, ACCOUNT_FIELDS, frozenset(), "account")
        return _scalar_tail(rest, shown)

    def _fan_problem(self, rest: list[object], shown: str) -> str | None:
        if not rest:
            return None
        head = rest[0]
        if not isinstance(head, str):
            return f"{shown!r}: fan fields are read by name, not by a computed key"
        if head == "traits":
            if len(rest) == 1:
                return None
            name = rest[1]
            if not isinstance(name, str) or name not in self.traits:
                return f"unknown trait in {shown!r}{_hint(str(name), self.traits)}"
            return _scalar_tail(rest[2:], shown)
        if head in self.fan_fields or head in self.traits:
            return _scalar_tail(rest[1:], shown)
        return f"unknown fan field in {shown!r}{_hint(head, (*self.fan_fields, *self.traits))}"


def _record_problem(
    rest: list[object], shown: str, known: Sequence[str], open_: frozenset[str], what: str
) -> str | None:
    if not rest:
        return None
    head = rest[0]
    if not isinstance(head, str) or head not in known:
        return f"unknown {what} field in {shown!r}{_hint(str(head), known)}"
    if head in open_:
        return None
    return _scalar_tail(rest[1:], shown)


def _scalar_tail(rest: list[object], shown: str) -> str | None:
    # a scalar (or a list of strings) has only Liquid's own properties and indexes
    for segment in rest:
        if isinstance(segment, int) or segment in _SPECIAL:
            continue
        return f"{shown!r}: {segment!r} is not a property of this value"
    return None


def _hint(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(segments: Segments) -> str:
    out = str(segments[0])
    for segment in segments[1:]:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif isinstance(segment, str):
            out += f".{segment}"
        else:
            out += "[...]"
    return out
