"""The field registry: which fan fields criteria may read, their types and aliases.

Only names the registry knows are accepted, so a field name is never passed on
to a back end unchecked (an "injection" in a field name is just an unknown field).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

import attrs

from campaign_core.errors import ProblemCollector, ValidationError

__all__ = [
    "BUILTIN_FIELDS",
    "FieldRegistry",
    "FieldSource",
    "FieldSpec",
    "FieldType",
    "camel_to_snake",
    "snake_to_camel",
]


class FieldType(enum.StrEnum):
    """The type of a field; decides which operators and values are allowed."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    STRING_LIST = "string_list"
    ENUM = "enum"


class FieldSource(enum.StrEnum):
    """Where a field's value comes from."""

    BUILTIN = "builtin"
    """A column of the fan record."""
    DERIVED = "derived"
    """Computed from other fields and the evaluation's ``now``."""
    TRAIT = "trait"
    """A custom trait the owner declared, stored in the fan's ``traits``."""


@attrs.frozen
class FieldSpec:
    """One field criteria may read.

    Attributes:
        name: canonical name (snake_case; ``traits.<name>`` for traits).
        type: the value type.
        source: builtin column, derived from the clock, or declared trait.
        description: for documentation and UIs.
        members: for enums, the allowed values (lowercase), in rank order when ``ordered``.
        ordered: whether an enum's members are ranked (``gt``/``lt`` compare ranks).
        depends_on: for derived fields, the field they are computed from.
        aliases: other accepted spellings (camelCase, bare trait name...).
    """

    name: str
    type: FieldType
    source: FieldSource = FieldSource.BUILTIN
    description: str = ""
    members: tuple[str, ...] = ()
    ordered: bool = False
    depends_on: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The key of the value in the fan record (trait name without ``traits.``)."""
        return self.name.removeprefix("traits.")

    def rank(self, member: str) -> int:
        """The rank of an enum member (index in ``members``)."""
        return self.members.index(member)


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def camel_to_snake(name: str) -> str:
    """``spendingLevel`` -> ``spending_level`` (already snake names are unchanged)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def snake_to_camel(name: str) -> str:
    """``spending_level`` -> ``spendingLevel``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


SPENDING_LEVELS = ("none", "low", "medium", "high", "vip")
SUBSCRIPTION_STATUSES = ("active", "expired", "cancelled", "none")
PLATFORMS = ("onlyfans", "instagram", "tiktok", "reddit")

DAY_MS = 86_400_000
"""Milliseconds per day: derived ``*_days`` fields are ``floor((now - t) / DAY_MS)``."""


def _builtin(
    name: str,
    type_: FieldType,
    description: str,
    *,
    source: FieldSource = FieldSource.BUILTIN,
    members: tuple[str, ...] = (),
    ordered: bool = False,
    depends_on: str | None = None,
    extra_aliases: tuple[str, ...] = (),
) -> FieldSpec:
    camel = snake_to_camel(name)
    aliases = ((camel,) if camel != name else ()) + extra_aliases
    return FieldSpec(
        name=name,
        type=type_,
        source=source,
        description=description,
        members=members,
        ordered=ordered,
        depends_on=depends_on,
        aliases=aliases,
    )


BUILTIN_FIELDS: tuple[FieldSpec, ...] = (
    _builtin("id", FieldType.STRING, "The fan's id."),
    _builtin("owner_id", FieldType.STRING, "The creator account the fan belongs to."),
    _builtin(
        "platform",
        FieldType.ENUM,
        "The platform the fan follows the creator on.",
        members=PLATFORMS,
    ),
    _builtin(
        "spending_level",
        FieldType.ENUM,
        "Spending tier; ordered none < low < medium < high < vip.",
        members=SPENDING_LEVELS,
        ordered=True,
    ),
    _builtin("engagement", FieldType.NUMBER, "Engagement score (>= 0)."),
    _builtin("lifetime_value", FieldType.NUMBER, "Total revenue from the fan (>= 0)."),
    _builtin(
        "subscription_status",
        FieldType.ENUM,
        "Subscription status.",
        members=SUBSCRIPTION_STATUSES,
    ),
    _builtin("subscribed_at", FieldType.DATETIME, "When the fan (last) subscribed."),
    _builtin("last_activity_at", FieldType.DATETIME, "The fan's last activity."),
    _builtin("time_zone", FieldType.STRING, "IANA time zone name (Europe/Paris)."),
    _builtin("opted_out", FieldType.BOOLEAN, "The fan opted out of messages."),
    _builtin("created_at", FieldType.DATETIME, "When the fan record was created."),
    _builtin(
        "no_activity_days",
        FieldType.NUMBER,
        "Whole days since last_activity_at: floor((now - last_activity_at) / 1 day).",
        source=FieldSource.DERIVED,
        depends_on="last_activity_at",
    ),
    _builtin(
        "days_since_subscribed",
        FieldType.NUMBER,
        "Whole days since subscribed_at: floor((now - subscribed_at) / 1 day).",
        source=FieldSource.DERIVED,
        depends_on="subscribed_at",
    ),
    _builtin(
        "days_since_created",
        FieldType.NUMBER,
        "Whole days since created_at: floor((now - created_at) / 1 day).",
        source=FieldSource.DERIVED,
        depends_on="created_at",
    ),
    _builtin(
        "subscribed",
        FieldType.BOOLEAN,
        "subscription_status == 'active' (missing when the status is missing).",
        source=FieldSource.DERIVED,
        depends_on="subscription_status",
    ),
)

_TRAIT_TYPES = {
    FieldType.STRING,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.STRING_LIST,
}
_TRAIT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_TRAITS = 500

# Keys that have a meaning of their own in the input forms; a trait may not take them.
RESERVED_NAMES = frozenset(
    {
        "all",
        "any",
        "not",
        "field",
        "op",
        "operator",
        "value",
        "event",
        "in_segment",
        "version",
        "root",
        "traits",
        "properties",
        "now",
        "never",
        "measure",
        "within",
        "where",
    }
)


@attrs.frozen(cache_hash=True)  # a key of the compiled caches: hashed once
class FieldRegistry:
    """The fields criteria may use: the built-in fan fields plus declared custom traits.

    Immutable and hashable (compiled criteria are cached per registry). Build one
    per owner with the traits they declared::

        registry = FieldRegistry.with_traits({"favorite_color": "string", "tags": "string_list"})

    Traits are addressed as ``traits.<name>``; the bare ``<name>`` and the
    camelCase spelling are accepted too and normalized to ``traits.<name>``.
    """

    specs: tuple[FieldSpec, ...] = BUILTIN_FIELDS
    _by_name: Mapping[str, FieldSpec] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        index: dict[str, FieldSpec] = {}
        for spec in self.specs:
            index[spec.name] = spec
        # Aliases never shadow a canonical name (a trait's bare name vs a built-in).
        for spec in self.specs:
            for alias in spec.aliases:
                index.setdefault(alias, spec)
        object.__setattr__(self, "_by_name", index)

    @classmethod
    def default(cls) -> FieldRegistry:
        """The built-in fan fields only."""
        return _DEFAULT

    @classmethod
    def with_traits(
        cls,
        traits: Mapping[str, str | FieldType] | Iterable[tuple[str, str | FieldType]],
        *,
        platforms: Iterable[str] | None = None,
    ) -> FieldRegistry:
        """The built-in fields plus the given custom traits.

        Args:
            traits: trait name -> type (``string``, ``number``, ``boolean``,
                ``datetime``, ``string_list``). Names are snake_case identifiers
                (``favorite_color``); camelCase names are converted.
            platforms: the values the ``platform`` field may take (a core's
                ``settings.platforms.criteria_values``, with the platforms its
                host declared); the built-in platforms when ``None``.

        Returns:
            A registry with the built-ins and those traits.

        Raises:
            ValidationError: a bad trait name or type, a name that collides with a
                built-in field or a reserved word, or too many traits; paths are
                ``traits.<name>``.
        """
        items = list(traits.items() if isinstance(traits, Mapping) else traits)
        problems = ProblemCollector()
        if len(items) > MAX_TRAITS:
            problems.add("traits", f"at most {MAX_TRAITS} traits may be declared", "too_large")
            problems.raise_if_any()
        taken = {n for spec in BUILTIN_FIELDS for n in (spec.name, *spec.aliases)}
        specs = list(BUILTIN_FIELDS)
        if platforms is not None and tuple(platforms) != PLATFORMS:
            members = tuple(platforms)
            specs = [
                attrs.evolve(spec, members=members) if spec.name == "platform" else spec
                for spec in specs
            ]
        seen: set[str] = set()
        for raw_name, raw_type in items:
            path = f"traits.{raw_name}" if isinstance(raw_name, str) else "traits"
            if not isinstance(raw_name, str):
                problems.add(path, "a trait name must be a string", "invalid_type")
                continue
            name = camel_to_snake(raw_name)
            if not _TRAIT_NAME.match(name):
                problems.add(
                    path,
                    "a trait name must be a letter then letters, digits or '_' (at most 63)",
                    "invalid_value",
                )
                continue
            if name in taken or name in RESERVED_NAMES:
                problems.add(
                    path, f"{name!r} is a built-in field or a reserved word", "invalid_value"
                )
                continue
            if name in seen:
                problems.add(path, f"trait {name!r} is declared twice", "invalid_value")
                continue
            try:
                type_ = FieldType(raw_type)
            except ValueError:
                type_ = None
            if type_ not in _TRAIT_TYPES:
                problems.add(
                    path,
                    f"unknown trait type {raw_type!r}; expected one of "
                    + ", ".join(sorted(t.value for t in _TRAIT_TYPES)),
                    "invalid_value",
                )
                continue
            assert type_ is not None
            seen.add(name)
            camel = snake_to_camel(name)
            aliases = (name, *((camel, f"traits.{camel}") if camel != name else ()))
            specs.append(
                FieldSpec(
                    name=f"traits.{name}",
                    type=type_,
                    source=FieldSource.TRAIT,
                    description=f"Custom trait ({type_.value}).",
                    aliases=aliases,
                )
            )
        problems.raise_if_any()
        return cls(tuple(specs))

    @property
    def fields(self) -> Mapping[str, FieldSpec]:
        """Canonical name -> spec, in declaration order."""
        return {spec.name: spec for spec in self.specs}

    def get(self, name: str) -> FieldSpec | None:
        """The spec for a canonical name or alias, or ``None`` when unknown."""
        return self._by_name.get(name)

    def resolve(self, name: object, *, path: str = "field") -> FieldSpec:
        """The spec for a field name as a user wrote it.

        Args:
            name: canonical name or alias (``spendingLevel``, ``traits.tags``, ``tags``).
            path: where the name sits in the input, for the error.

        Returns:
            The field's spec.

        Raises:
            ValidationError: the name is not a string or not a known field.
        """
        if not isinstance(name, str):
            raise ValidationError.single(path, "a field name must be a string", "invalid_type")
        spec = self._by_name.get(name)
        if spec is None:
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise ValidationError.single(path, f"unknown field {shown!r}", "unknown_field")
        return spec


_DEFAULT = FieldRegistry()
