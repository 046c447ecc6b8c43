"""The audience as the criteria evaluators read it, and the per-fan fallback stores use.

A segment's members are the fans matching its criteria. This module says how a
stored fan and a stored segment are read for that (:func:`fan_record`,
``fan_columns``, ``segment_criteria``), and evaluates criteria over any
unit of work in Python (:class:`PythonAudience`). A store may do better through
the ``audience`` capability (:class:`~campaign_core.ports.AudienceQueries`; the
SQLAlchemy store compiles criteria to SQL); ``audience_for`` picks the
store's when there is one and this fallback otherwise. Every evaluator follows
the per-fan evaluator's semantics on the fan *as stored*.

Stored criteria are canonical (``Criteria.to_json()``) in the seed's
``segments.criteria`` JSON column; fans removed by hand from a hybrid segment
are listed under ``EXCLUDE_KEY`` beside ``"version"`` and ``"root"``.

This module sits beside the storage ports (``docs/explanation/architecture.md``):
stores import it; it imports no runtime and no service.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from campaign_core.clock import truncate_ms
from campaign_core.criteria import (
    Condition,
    Criteria,
    EventColumns,
    EventCondition,
    FieldRegistry,
    FieldSource,
    FieldSpec,
    FieldType,
    InSegment,
    compile_criteria,
)
from campaign_core.errors import ValidationError
from campaign_core.models import Fan, FanEvent, Segment, SegmentType
from campaign_core.ports import AudienceQueries, AudienceSummary, UnitOfWork
from campaign_core.query import And, Cond, Eq, Gt, Gte, In, Order

__all__ = [
    "PythonAudience",
    "fan_record",
    "segment_criteria",
    "segment_exclusions",
]

_log = logging.getLogger("campaign_core.segments")

EXCLUDE_KEY: Final = "exclude"
"""The key, next to ``version`` and ``root`` in ``segments.criteria``, listing the fans
removed by hand from a hybrid segment."""

_CHUNK: Final = 500
_MS: Final = timedelta(milliseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

CANONICAL_INSTANT: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"
)
"""How stores keep a ``datetime`` trait: ISO-8601 UTC text ending in ``Z`` (what the
fan service writes). Other text is an unknown instant, in every evaluator."""


# -- stored criteria ------------------------------------------------------------------------


def segment_criteria(segment: Segment, registry: FieldRegistry | None = None) -> Criteria | None:
    """A segment's criteria as a tree (``None`` for a static segment).

    Stored criteria are canonical; the hybrid segments' exclusion list beside them
    is left out (see :func:`segment_exclusions`).

    Args:
        segment: the stored segment.
        registry: the fields of its account (``registry_for``), needed when the
            criteria use custom traits.

    Raises:
        ValidationError: the stored criteria are not valid for ``registry`` (a
            trait they use is no longer declared).
    """
    data = segment.criteria
    if not data or segment.type is SegmentType.STATIC:
        return None
    return Criteria.from_json(
        {k: v for k, v in data.items() if k != EXCLUDE_KEY}, registry=registry
    )


def segment_exclusions(segment: Segment) -> tuple[str, ...]:
    """The fans removed by hand from a hybrid segment (empty for other types)."""
    if segment.type is not SegmentType.HYBRID:
        return ()
    listed = segment.criteria.get(EXCLUDE_KEY) or ()
    return tuple(str(v) for v in listed)


def valid_segment_criteria(segment: Segment, registry: FieldRegistry) -> Criteria | None:
    """A segment's criteria, or ``None`` when it is static or its criteria no longer validate.

    For reading other segments' criteria (references, refresh order), where a
    segment whose stored criteria use a trait no longer declared must not fail
    the caller.
    """
    try:
        return segment_criteria(segment, registry)
    except ValidationError:
        return None


def stored_criteria(criteria: Criteria | None, exclusions: Iterable[str] = ()) -> dict[str, Any]:
    """What ``segments.criteria`` holds: canonical criteria and the sorted exclusions.

    Args:
        criteria: the tree (``None`` for a static segment: stores ``{}``).
        exclusions: fans removed by hand from a hybrid segment.

    Returns:
        The JSON object to store.
    """
    if criteria is None:
        return {}
    out = criteria.to_json()
    excluded = sorted(set(exclusions))
    if excluded:
        out[EXCLUDE_KEY] = excluded
    return out


# -- fans as the evaluators read them --------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _registry(
    traits: tuple[tuple[str, str], ...], platforms: tuple[str, ...] | None = None
) -> FieldRegistry:
    try:
        return FieldRegistry.with_traits(dict(traits), platforms=platforms)
    except ValidationError:
        pass
    # Settings accept a few names the criteria language cannot address (a leading
    # '_'); those traits stay out of criteria rather than disabling segments.
    usable = []
    for name, kind in traits:
        try:
            FieldRegistry.with_traits({name: kind})
        except ValidationError as error:
            _log.warning("trait %r cannot be used in criteria: %s", name, error)
        else:
            usable.append((name, kind))
    return FieldRegistry.with_traits(dict(usable), platforms=platforms)


def registry_for(settings: Any) -> FieldRegistry:
    """The criteria fields of a core: the built-ins plus ``Settings.fan_traits``, with the
    ``platform`` field taking the values of ``Settings.platforms``.

    A declared trait whose name criteria cannot address (such as ``_internal``)
    is left out, with a warning in the log.
    """
    declared = getattr(settings, "fan_traits", None) or {}
    registry = getattr(settings, "platforms", None)
    return _registry(
        tuple(sorted((str(k), str(getattr(v, "value", v))) for k, v in declared.items())),
        None if registry is None else registry.criteria_values,
    )


def instant_trait_key(text: object) -> str | None:
    """The comparable key of a stored datetime trait: ``YYYY-MM-DDTHH:MM:SS.mmm``.

    Keys order like the instants they stand for (fractions are truncated to
    milliseconds, as every instant is). ``None`` when ``text`` is not canonical
    UTC text (``CANONICAL_INSTANT``) or not a real date.
    """
    if not isinstance(text, str) or CANONICAL_INSTANT.fullmatch(text) is None:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    fraction = text[20:-1] if len(text) > 20 else ""
    return f"{text[:19]}.{(fraction + '000')[:3]}"


def _stored_trait(value: Any, kind: FieldType) -> Any:
    """A stored trait value read as ``kind``; ``None`` when it is of another type."""
    if value is None:
        return None
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return number if math.isfinite(number) else None
    if kind is FieldType.STRING:
        return value if isinstance(value, str) else None
    if kind is FieldType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind is FieldType.DATETIME:
        if instant_trait_key(value) is None:
            return None
        return truncate_ms(datetime.fromisoformat(value))
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _trait_specs(registry: FieldRegistry) -> list[tuple[FieldSpec, str | None]]:
    out = []
    for spec in registry.specs:
        if spec.source is FieldSource.TRAIT:
            camel = next((a for a in spec.aliases if a.startswith("traits.")), None)
            out.append((spec, None if camel is None else camel.removeprefix("traits.")))
    return out


def _stored_traits(traits: Mapping[str, Any], registry: FieldRegistry) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for spec, camel in _trait_specs(registry):
        key = spec.key
        if key in traits:
            raw = traits[key]
        elif camel is not None and camel in traits:
            raw = traits[camel]
        else:
            continue
        value = _stored_trait(raw, spec.type)
        if value is not None:
            clean[key] = value
    return clean


def fan_record(fan: Fan, registry: FieldRegistry) -> dict[str, Any]:
    """A stored fan as the criteria evaluators read it.

    ``id`` is the host's ``fan_id``; a trait is kept only when its JSON type is
    its declared type (a trait stored as ``"12"`` for a number is missing), and a
    datetime trait must be ISO-8601 UTC text (``CANONICAL_INSTANT``). Every
    store's evaluation (SQL or Python) follows these rules.

    Args:
        fan: the stored record.
        registry: the fields (the owner's declared traits).

    Returns:
        A mapping for :func:`campaign_core.criteria.evaluate` / ``explain``.
    """
    return {
        "id": fan.fan_id,
        "owner_id": fan.owner_id,
        "platform": fan.platform,
        "spending_level": fan.spending_level,
        "engagement": fan.engagement,
        "lifetime_value": fan.lifetime_value,
        "subscription_status": fan.subscription_status,
        "subscribed_at": fan.subscribed_at,
        "last_activity_at": fan.last_activity_at,
        "time_zone": fan.time_zone,
        "opted_out": fan.opted_out,
        "created_at": fan.created_at,
        "traits": _stored_traits(fan.traits or {}, registry),
    }


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // _MS


def _text_column(values: list[str | None]) -> Any:
    missing = [v is None for v in values]
    strings = ["" if v is None else v for v in values]
    # numpy's str dtype drops trailing NULs and pads: use objects for odd strings
    if any(len(s) > 256 or s.endswith("\x00") for s in strings):
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column
    data = np.array(strings, dtype=str) if strings else np.array([], dtype="U1")
    return np.ma.MaskedArray(data, mask=missing) if any(missing) else data


def _object_column(values: list[Any]) -> Any:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


_BUILTIN_READ: Final[dict[str, Callable[[Fan], Any]]] = {
    "id": lambda f: f.fan_id,
    "owner_id": lambda f: f.owner_id,
    "platform": lambda f: f.platform,
    "spending_level": lambda f: f.spending_level,
    "engagement": lambda f: f.engagement,
    "lifetime_value": lambda f: f.lifetime_value,
    "subscription_status": lambda f: f.subscription_status,
    "subscribed_at": lambda f: f.subscribed_at,
    "last_activity_at": lambda f: f.last_activity_at,
    "time_zone": lambda f: f.time_zone,
    "opted_out": lambda f: f.opted_out,
    "created_at": lambda f: f.created_at,
}


def fan_columns(
    fans: Sequence[Fan], registry: FieldRegistry, fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """Stored fans as numpy columns for :func:`~campaign_core.criteria.evaluate_columns`.

    The same reading rules as :func:`fan_record` (``id`` is ``fan_id``; a trait of
    the wrong JSON type is missing).

    Args:
        fans: the records, one row each.
        registry: the fields.
        fields: the canonical field names needed (derived fields bring their
            source); every field when ``None``.

    Returns:
        Canonical field name -> column.
    """
    wanted: set[str] = set()
    names = [s.name for s in registry.specs] if fields is None else list(fields)
    for name in names:
        spec = registry.resolve(name)
        if spec.source is FieldSource.DERIVED:
            assert spec.depends_on is not None
            spec = registry.resolve(spec.depends_on)
        wanted.add(spec.name)
    columns: dict[str, Any] = {}
    traits = None
    for name in sorted(wanted):
        spec = registry.resolve(name)
        if spec.source is FieldSource.TRAIT:
            if traits is None:
                traits = [_stored_traits(f.traits or {}, registry) for f in fans]
            columns[name] = _object_column([t.get(spec.key) for t in traits])
            continue
        read = _BUILTIN_READ[name]
        values = [read(f) for f in fans]
        if spec.type is FieldType.NUMBER:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif spec.type is FieldType.DATETIME:
            nat = np.iinfo(np.int64).min
            ms = np.array([nat if v is None else _ms(v) for v in values], dtype=np.int64)
            columns[name] = ms.view("datetime64[ms]")
        elif spec.type is FieldType.BOOLEAN:
            flags = np.array([bool(v) for v in values], dtype=bool)
            missing = [v is None for v in values]
            columns[name] = np.ma.MaskedArray(flags, mask=missing) if any(missing) else flags
        else:
            columns[name] = _text_column(values)
    return columns


def _event_properties(criteria: Criteria) -> set[str]:
    names: set[str] = set()
    for path, node in criteria.nodes():
        if (
            ".where" in path
            and isinstance(node, Condition)
            and node.field.startswith("properties.")
        ):
            names.add(node.field.removeprefix("properties."))
    return names


def _earliest_window(criteria: Criteria, now: datetime) -> datetime | None:
    """The earliest event any behavioural leaf can see (``None``: all time)."""
    leaves = [n for _, n in criteria.nodes() if isinstance(n, EventCondition)]
    if not leaves or any(n.within is None for n in leaves):
        return None
    longest = max(n.within for n in leaves if n.within is not None)
    try:
        return now - longest
    except OverflowError:
        return None


def _event_columns(
    events: Sequence[FanEvent], index: Mapping[str, int], properties: Iterable[str]
) -> EventColumns:
    kept = [e for e in events if e.fan_id in index]
    props = {name: _object_column([e.properties.get(name) for e in kept]) for name in properties}
    return EventColumns(
        fan_index=np.array([index[e.fan_id] for e in kept], dtype=np.int64),
        name=_object_column([e.name for e in kept]),
        occurred_at=np.array([_ms(e.occurred_at) for e in kept], dtype=np.int64).view(
            "datetime64[ms]"
        ),
        value=np.array([np.nan if e.value is None else e.value for e in kept], dtype=np.float64),
        properties=props,
    )


# -- evaluating in Python --------------------------------------------------------------------


class PythonAudience:
    """:class:`~campaign_core.ports.AudienceQueries` over any unit of work, in Python.

    Loads the owner's fans (a page at a time, in ``fan_id`` order), the events the
    criteria look at and the referenced segments' members, and evaluates each page
    with the vectorized evaluator.

    Args:
        uow: the unit of work to read from.
        page_size: fans per page (keyset pagination on ``fan_id``); ``None`` reads
            them in one query (the in-memory store, whose queries scan every row).
        read: ``read(repository_name, where)`` returning the matching stored records
            without copying them (they are only read); the repositories' ``find``
            when ``None``.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        page_size: int | None = 20_000,
        read: Callable[[str, Cond], Sequence[Any]] | None = None,
    ) -> None:
        self._uow = uow
        self._page_size = page_size
        self._read = read

    def _find(self, repository: str, where: Cond) -> Sequence[Any]:
        if self._read is not None:
            return self._read(repository, where)
        return self._uow.repository(repository).find(where)

    # reading -----------------------------------------------------------------
    def _pages(self, owner_id: str, after: str | None = None) -> Iterator[list[Fan]]:
        fans = self._uow.fans
        if self._page_size is None:
            everyone = sorted(self._find("fans", Eq("owner_id", owner_id)), key=lambda f: f.fan_id)
            if after is not None:
                everyone = [f for f in everyone if f.fan_id > after]
            for start in range(0, len(everyone), 100_000):
                yield everyone[start : start + 100_000]
            return
        last: str | None = after
        while True:
            where: Cond = Eq("owner_id", owner_id)
            if last is not None:
                where = And(where, Gt("fan_id", last))
            page = fans.find(where, order_by=[Order("fan_id")], limit=self._page_size)
            if page:
                yield page
                last = page[-1].fan_id
            if len(page) < self._page_size:
                return

    def _members(self, owner_id: str, segment_ids: Iterable[str]) -> dict[str, set[str]]:
        """Member fan ids of each referenced segment (empty for others' segments)."""
        out: dict[str, set[str]] = {}
        for segment_id in segment_ids:
            segment = self._uow.segments.get(segment_id)
            if segment is None or segment.user_id != owner_id:
                out[segment_id] = set()
                continue
            rows = self._find("segment_members", Eq("segment_id", segment_id))
            out[segment_id] = {row.fan_id for row in rows}
        return out

    def _events(
        self,
        owner_id: str,
        names: Sequence[str],
        since: datetime | None,
        fan_ids: Sequence[str] | None,
    ) -> list[FanEvent]:
        conds: list[Cond] = [Eq("owner_id", owner_id), In("name", names)]
        if since is not None:
            conds.append(Gte("occurred_at", since))
        if fan_ids is not None:
            conds.append(In("fan_id", fan_ids))
        return list(self._find("fan_events", And(*conds)))

    def _matching(
        self,
        owner_id: str,
        criteria: Criteria,
        now: datetime,
        registry: FieldRegistry | None,
        *,
        after: str | None = None,
    ) -> Iterator[list[Fan]]:
        """The matching fans, page by page (each page in ``fan_id`` order; pages read
        from ``after`` on when given, pages ascending)."""
        compiled = compile_criteria(criteria, registry=registry)
        criteria = compiled.criteria
        segments = self._members(owner_id, sorted(criteria.segment_ids()))
        root = criteria.root
        if isinstance(root, InSegment):
            # a segment's own members: read them instead of scanning the audience
            ids = sorted(i for i in segments[root.segment_id] if after is None or i > after)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                found = self._find("fans", And(Eq("owner_id", owner_id), In("fan_id", chunk)))
                yield sorted(found, key=lambda f: f.fan_id)
            return
        names = sorted(criteria.event_names())
        properties = sorted(_event_properties(criteria))
        since = _earliest_window(criteria, now)
        fields = criteria.fields()
        all_events: dict[str, list[FanEvent]] | None = None
        if names and self._page_size is None:
            all_events = {}
            for event in self._events(owner_id, names, since, None):
                all_events.setdefault(event.fan_id, []).append(event)
        for page in self._pages(owner_id, after):
            index = {fan.fan_id: i for i, fan in enumerate(page)}
            events = None
            if names:
                if all_events is not None:
                    page_events = [e for f in page for e in all_events.get(f.fan_id, ())]
                else:
                    page_events = self._events(owner_id, names, since, list(index))
                events = _event_columns(page_events, index, properties)
            masks = {
                sid: np.fromiter((f.fan_id in members for f in page), bool, len(page))
                for sid, members in segments.items()
            }
            mask = compiled.evaluate_columns(
                fan_columns(page, compiled.registry, fields),
                now=now,
                events=events,
                segments=masks,
                length=len(page),
            )
            yield [fan for fan, hit in zip(page, mask.tolist(), strict=True) if hit]

    # AudienceQueries ---------------------------------------------------------
    def count_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> int:
        """How many of the owner's fans match (see the port's contract)."""
        return sum(len(page) for page in self._matching(owner_id, criteria, now, registry))

    def fan_ids_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: str | None = None,
    ) -> list[str]:
        """The matching fans' ids in code point order, paginated (see the port)."""
        if after is not None and limit is not None and self._page_size is not None:
            # keyset: read pages from ``after`` on, and stop once the page is full
            found: list[str] = []
            for page in self._matching(owner_id, criteria, now, registry, after=after):
                found.extend(f.fan_id for f in page if f.fan_id > after)
                if len(found) >= offset + limit:
                    break
            return sorted(found)[offset : offset + limit]
        ids = sorted(
            f.fan_id
            for page in self._matching(owner_id, criteria, now, registry, after=after)
            for f in page
            if after is None or f.fan_id > after
        )
        end = None if limit is None else offset + limit
        return ids[offset:end]

    def summarize_matching(
        self,
        owner_id: str,
        criteria: Criteria,
        *,
        now: datetime,
        registry: FieldRegistry | None = None,
    ) -> AudienceSummary:
        """Sums over the matching fans and their conversions (see the port)."""
        campaign_ids = [c.id for c in self._find("campaigns", Eq("user_id", owner_id))]
        totals = {
            "fans": 0,
            "engagement_count": 0,
            "engagement_sum": 0.0,
            "engagement_sum_sq": 0.0,
            "lifetime_value_count": 0,
            "lifetime_value_sum": 0.0,
            "lifetime_value_sum_sq": 0.0,
            "converters": 0,
            "conversions": 0,
            "conversion_value_sum": 0.0,
            "conversion_value_sum_sq": 0.0,
        }
        for page in self._matching(owner_id, criteria, now, registry):
            totals["fans"] += len(page)
            for fan in page:
                if fan.engagement is not None:
                    totals["engagement_count"] += 1
                    totals["engagement_sum"] += fan.engagement
                    totals["engagement_sum_sq"] += fan.engagement * fan.engagement
                if fan.lifetime_value is not None:
                    totals["lifetime_value_count"] += 1
                    totals["lifetime_value_sum"] += fan.lifetime_value
                    totals["lifetime_value_sum_sq"] += fan.lifetime_value**2
            if not campaign_ids or not page:
                continue
            per_fan: dict[str, list[float]] = {}
            ids = [f.fan_id for f in page]
            for start in range(0, len(ids), _CHUNK):
                found = self._find(
                    "campaign_conversions",
                    And(In("fan_id", ids[start : start + _CHUNK]), In("campaign_id", campaign_ids)),
                )
                for conversion in found:
                    per_fan.setdefault(conversion.fan_id, []).append(conversion.value)
            for values in per_fan.values():
                total = sum(values)
                totals["converters"] += 1
                totals["conversions"] += len(values)
                totals["conversion_value_sum"] += total
                totals["conversion_value_sum_sq"] += total * total
        return AudienceSummary(**totals)  # type: ignore[arg-type]


def audience_for(uow: UnitOfWork) -> AudienceQueries:
    """The criteria evaluation to use in ``uow``: the store's, or :class:`PythonAudience`.

    The one place the audience capability (``StoreCapabilities.audience_queries``)
    is looked up.

    Args:
        uow: the unit of work to read from.

    Returns:
        Queries answering inside ``uow``'s transaction.
    """
    found = uow.audience_queries()
    return PythonAudience(uow) if found is None else found
