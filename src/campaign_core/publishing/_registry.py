"""The platform registry: every platform a core publishes to, built in or declared.

The four built-in platforms (:data:`~campaign_core.publishing.PLATFORMS`) are
always there. A host adds its own through ``Settings(platforms=...)``, as data:
the platform's limits, the value it takes in the CloudWatch ``Platform``
dimension and the value fans' ``platform`` field holds for it in criteria.
Everything that enumerates platforms (campaign validation, content overrides and
adaptation, criteria, metrics, tracking, credentials) reads the registry of the
core's settings, so a declared platform needs no change to the library::

    Settings(platforms={
        "threads": {
            "limits": {"caption": 500, "maxHashtags": 1, "links": "clickable"},
            "metricDimension": "threads",
        },
    })
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from campaign_core.errors import ProblemCollector, ValidationError, join_path
from campaign_core.models import to_platform
from campaign_core.publishing._content import GENERIC_FIELDS
from campaign_core.publishing._platform_rules import DEFAULT_PLATFORM_LIMITS, PlatformRules
from campaign_core.publishing._platforms import PLATFORM_NAME, PLATFORMS, PlatformLimits

__all__ = ["PlatformRegistry", "PlatformSpec"]

# The value of a metric dimension or of a fan's platform field.
_VALUE: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Content keys: a platform named so could not take top-level overrides.
_RESERVED: Final[frozenset[str]] = frozenset({*GENERIC_FIELDS, "platforms"})
_SPEC_KEYS: Final[Mapping[str, str]] = {
    "limits": "limits",
    "metricDimension": "metric_dimension",
    "metric_dimension": "metric_dimension",
    "criteriaValue": "criteria_value",
    "criteria_value": "criteria_value",
}


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not PLATFORM_NAME.match(name):
        raise ValidationError.single(
            "name",
            f"{name!r} is not a platform name (a lower-case letter, then at most 31 "
            "lower-case letters, digits or '_')",
        )
    if name in _RESERVED:
        raise ValidationError.single(
            "name", f"{name!r} is a content field and cannot name a platform"
        )


def _same_as_name(spec: PlatformSpec) -> str:
    return spec.name


@attrs.frozen
class PlatformSpec:
    """One platform: its name, its limits and the values other parts see it as.

    Attributes:
        name: the platform's name, as campaigns list it (``threads``): a
            lower-case letter, then at most 31 lower-case letters, digits or ``_``.
        limits: what a post on it may hold (:class:`PlatformLimits` for ``name``).
        metric_dimension: its value in the CloudWatch ``Platform`` dimension
            (the name by default); lower case, at most 64 characters.
        criteria_value: the value fans' ``platform`` field holds for it, which
            criteria compare against (the name by default).
    """

    name: str
    limits: PlatformLimits
    metric_dimension: str = attrs.field(default=attrs.Factory(_same_as_name, takes_self=True))
    criteria_value: str = attrs.field(default=attrs.Factory(_same_as_name, takes_self=True))

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        name: Any = self.name
        try:
            _check_name(name)
        except ValidationError as exc:
            problems.extend(exc)
        limits: Any = self.limits
        if not isinstance(limits, PlatformLimits):
            problems.add("limits", "must be PlatformLimits", "invalid_type")
        elif limits.platform != name:
            problems.add("limits", f"are the limits of {limits.platform}, not of {name}")
        for attr, path in (
            ("metric_dimension", "metricDimension"),
            ("criteria_value", "criteriaValue"),
        ):
            value: Any = getattr(self, attr)
            if not isinstance(value, str) or not _VALUE.match(value):
                problems.add(
                    path,
                    "must be lower-case letters, digits, '_', '.' or '-' (at most 64)",
                    "invalid_value",
                )
        problems.raise_if_any()

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> PlatformSpec:
        """A platform from its JSON declaration.

        Args:
            name: the platform's name.
            data: ``{"limits": {...}, "metricDimension": ..., "criteriaValue": ...}``;
                ``limits`` as :meth:`PlatformLimits.from_json` takes them, the
                other two optional.

        Returns:
            The platform.

        Raises:
            ValidationError: an unknown key or a bad value, with its path
                (``limits.caption.maxLength``, ``metricDimension``).
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single(
                "", "expected {'limits': {...}, 'metricDimension': ...}", "invalid_type"
            )
        _check_name(name)
        problems = ProblemCollector()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            attr = _SPEC_KEYS.get(key) if isinstance(key, str) else None
            if attr is None:
                problems.add(
                    str(key),
                    f"unknown key {key!r}; known: limits, metricDimension, criteriaValue",
                    "unknown_field",
                )
            else:
                kwargs[attr] = value
        raw_limits = kwargs.pop("limits", None)
        if raw_limits is None:
            problems.add("limits", "is required", "required")
        elif isinstance(raw_limits, PlatformLimits):
            kwargs["limits"] = raw_limits
        else:
            try:
                kwargs["limits"] = PlatformLimits.from_json(name, raw_limits)
            except ValidationError as exc:
                problems.extend(exc, "limits")
        problems.raise_if_any()
        return cls(name=name, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """The platform as JSON, as :meth:`from_json` takes it."""
        return {
            "limits": self.limits.to_json(),
            "metricDimension": self.metric_dimension,
            "criteriaValue": self.criteria_value,
        }


_BUILTIN_SPECS: Final[tuple[PlatformSpec, ...]] = tuple(
    PlatformSpec(name, DEFAULT_PLATFORM_LIMITS[name]) for name in PLATFORMS
)


def _specs(value: Iterable[PlatformSpec]) -> tuple[PlatformSpec, ...]:
    return tuple(value)


@attrs.frozen
class PlatformRegistry:
    """Every platform of a core: the built-in four, then the host's, in order.

    Build it with :meth:`default` or :meth:`declare`; a core's registry is
    ``settings.platforms`` (its limits are ``settings.platform_rules``).

    Attributes:
        specs: one :class:`PlatformSpec` per platform.
    """

    specs: tuple[PlatformSpec, ...] = attrs.field(converter=_specs)
    _by_name: Mapping[str, PlatformSpec] = attrs.field(init=False, eq=False, hash=False, repr=False)
    _rules: PlatformRules = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = ProblemCollector()
        by_name: dict[str, PlatformSpec] = {}
        values: dict[str, str] = {}
        items: tuple[Any, ...] = self.specs
        for index, spec in enumerate(items):
            path = join_path("platforms", index)
            if not isinstance(spec, PlatformSpec):
                problems.add(path, "must be a PlatformSpec", "invalid_type")
                continue
            if spec.name in by_name:
                problems.add(path, f"{spec.name} is given twice", "duplicate")
                continue
            other = values.get(spec.criteria_value)
            if other is not None:
                problems.add(
                    join_path(join_path("platforms", spec.name), "criteriaValue"),
                    f"{spec.criteria_value!r} is already the criteria value of {other}",
                    "duplicate",
                )
            by_name[spec.name] = spec
            values[spec.criteria_value] = spec.name
        missing = [name for name in PLATFORMS if name not in by_name]
        if missing:
            problems.add("platforms", f"missing the built-in {', '.join(missing)}", "required")
        problems.raise_if_any()
        order = {name: index for index, name in enumerate(PLATFORMS)}
        ordered = sorted(by_name.values(), key=lambda s: (order.get(s.name, len(order)), s.name))
        object.__setattr__(self, "specs", tuple(ordered))
        object.__setattr__(self, "_by_name", {spec.name: spec for spec in ordered})
        object.__setattr__(self, "_rules", PlatformRules(spec.limits for spec in ordered))

    @classmethod
    def default(cls) -> PlatformRegistry:
        """The built-in platforms only, with their documented limits."""
        return _DEFAULT

    @classmethod
    def declare(cls, platforms: Any) -> PlatformRegistry:
        """The built-in platforms plus the host's (what ``Settings(platforms=...)`` takes).

        Args:
            platforms: a :class:`PlatformRegistry` (returned as is), a mapping of
                name to :class:`PlatformSpec` or to its JSON declaration (see
                :meth:`PlatformSpec.from_json`), or an iterable of
                :class:`PlatformSpec`; ``None`` for the built-ins only.

        Returns:
            The registry.

        Raises:
            ValidationError: a bad declaration or one that names a built-in
                platform (change those with ``platform_rules``); paths are
                ``platforms.<name>...``.
        """
        if isinstance(platforms, PlatformRegistry):
            return platforms
        return _DEFAULT.with_platforms(platforms or {})

    def with_platforms(
        self, platforms: Mapping[str, PlatformSpec | Mapping[str, Any]] | Iterable[PlatformSpec]
    ) -> PlatformRegistry:
        """A copy with more platforms (see :meth:`declare` for what is accepted).

        Raises:
            ValidationError: a bad declaration or a platform that is already
                registered, with its path (``platforms.threads.limits.caption``).
        """
        problems = ProblemCollector()
        added: list[PlatformSpec] = []
        given: Any = platforms
        if isinstance(given, Mapping):
            entries: list[tuple[str, Any]] = [(str(k), v) for k, v in given.items()]
        elif isinstance(given, str | bytes) or not isinstance(given, Iterable):
            raise ValidationError.single(
                "platforms", "expected a mapping of platform name to declaration", "invalid_type"
            )
        else:
            entries = [(getattr(spec, "name", str(i)), spec) for i, spec in enumerate(given)]
        for name, declared in entries:
            path = join_path("platforms", name)
            if name in self._by_name:
                problems.add(path, f"{name} is already a platform", "duplicate")
                continue
            try:
                if isinstance(declared, PlatformSpec):
                    if declared.name != name:
                        raise ValidationError.single("name", f"must be {name!r}")
                    spec = declared
                else:
                    spec = PlatformSpec.from_json(name, declared)
            except ValidationError as exc:
                problems.extend(exc, path)
                continue
            added.append(spec)
        problems.raise_if_any()
        return PlatformRegistry((*self.specs, *added))

    def with_rules(self, rules: PlatformRules) -> PlatformRegistry:
        """A copy whose platforms have the limits ``rules`` gives them.

        A registered platform ``rules`` does not cover keeps its limits.

        Raises:
            ValidationError: ``rules`` hold limits for a platform that is not
                registered (path ``platform_rules.<name>``).
        """
        problems = ProblemCollector()
        for limits in rules:
            if limits.platform not in self._by_name:
                problems.add(
                    join_path("platform_rules", limits.platform),
                    f"{limits.platform} is not a platform of this core; declare it in "
                    "Settings(platforms=...)",
                    "unknown_field",
                )
        problems.raise_if_any()
        return PlatformRegistry(
            attrs.evolve(spec, limits=rules[spec.name]) if spec.name in rules else spec
            for spec in self.specs
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Every platform's name, built-ins first."""
        return tuple(self._by_name)

    @property
    def rules(self) -> PlatformRules:
        """Every platform's limits."""
        return self._rules

    @property
    def criteria_values(self) -> tuple[str, ...]:
        """The values fans' ``platform`` field may hold, in platform order."""
        return tuple(spec.criteria_value for spec in self.specs)

    @property
    def metric_dimensions(self) -> Mapping[str, str]:
        """Platform name to its value in the CloudWatch ``Platform`` dimension."""
        return {spec.name: spec.metric_dimension for spec in self.specs}

    def __getitem__(self, name: str) -> PlatformSpec:
        """The platform called ``name``.

        Raises:
            ValidationError: no such platform (path ``platform``).
        """
        spec = self._by_name.get(name)
        if spec is None:
            raise ValidationError.single(
                "platform",
                f"unknown platform {name!r}; known: {', '.join(self.names)}",
                "invalid_value",
            )
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[PlatformSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def check(self, value: Any, path: str, problems: ProblemCollector) -> str | None:
        """``value`` if it names a platform (a built-in as its ``Platform``), else
        ``None`` with a problem at ``path``."""
        name = _check_choice(value, path, problems, self._by_name)
        return None if name is None else to_platform(name)

    def check_list(
        self, value: Any, path: str, problems: ProblemCollector, *, max_items: int = 50
    ) -> tuple[str, ...] | None:
        """``value`` as a tuple of platform names, each at most once.

        Returns:
            The names, or ``None`` with a problem per bad item (``platforms[1]``).
        """
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            problems.add(path, f"expected a list, got {type(value).__name__}", "invalid_type")
            return None
        if len(value) > max_items:
            problems.add(path, f"must have at most {max_items} items", "too_long")
            return None
        out: list[str] = []
        ok = True
        for index, item in enumerate(value):
            name = self.check(item, join_path(path, index), problems)
            if name is None:
                ok = False
            elif name in out:
                problems.add(join_path(path, index), f"{name!r} is listed twice", "duplicate")
                ok = False
            else:
                out.append(name)
        return tuple(out) if ok else None

    def check_criteria_value(self, value: Any, path: str, problems: ProblemCollector) -> str | None:
        """``value`` if fans' ``platform`` field may hold it, else ``None`` with a problem."""
        return _check_choice(value, path, problems, self.criteria_values)


def _check_choice(
    value: Any, path: str, problems: ProblemCollector, choices: Iterable[str]
) -> str | None:
    # The same wording as the enum check the built-in platforms used to get.
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}", "invalid_type")
        return None
    allowed = tuple(choices)
    if value not in allowed:
        problems.add(path, f"{value!r} is not one of: {', '.join(allowed)}", "invalid_value")
        return None
    return str(value)


_DEFAULT: Final = PlatformRegistry(_BUILTIN_SPECS)
