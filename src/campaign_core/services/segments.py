"""SegmentService: the seed's SegmentationService: who is in a segment, and how they do.

Segments come in three types:

- **static**: members are added and removed by hand (``add_fan_to_segment``);
- **dynamic**: members are the fans matching the segment's criteria, recomputed
  by ``refresh_segment`` (and daily by
  :func:`campaign_core.jobs.segments.refresh_due_segments` from ``tick()``);
- **hybrid**: the criteria's matches, plus fans added by hand, minus fans removed
  by hand.

Where things live (no schema change): criteria are stored canonical
(``Criteria.to_json()``) in the seed's ``segments.criteria`` JSON column. Hand-added
fans are ``segment_members`` rows with ``source = "manual"`` (a refresh keeps them);
fans removed by hand from a hybrid segment are listed under the key ``"exclude"``
next to ``"version"`` and ``"root"`` in that same JSON (at most
``MAX_EXCLUSIONS``; read them with
:func:`campaign_core.audience.segment_exclusions`). Members found by
the criteria are rows with ``source = "criteria"``.

Criteria are evaluated where the fans are, through
:func:`campaign_core.audience.audience_for`: the store's ``audience`` capability
(the SQLAlchemy store counts and lists matches in the database) or the per-fan
fallback :class:`~campaign_core.audience.PythonAudience`.

The service is composed of parts, each under ``campaign_core.services``: this
module creates, changes and deletes segments and their members; ``_segment_sizes``
counts criteria matches and explains one fan; ``_segment_performance`` measures
members and compares segments. They share the checks of ``_segment_scope``; the
recompute a refresh runs is the refresh job's (:mod:`campaign_core.jobs.segments`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_enum,
    v_id,
    v_int,
    v_str_list,
    v_text,
)
from campaign_core.audience import (
    segment_criteria,
    segment_exclusions,
    stored_criteria,
    valid_segment_criteria,
)
from campaign_core.audit import audit_note, audited, pseudonym_for
from campaign_core.clock import ensure_utc
from campaign_core.criteria import AllOf as CriteriaAll
from campaign_core.criteria import Criteria
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.jobs.segments import RefreshResult, recompute_segment
from campaign_core.models import (
    CampaignStatus,
    Fan,
    MemberSource,
    Segment,
    SegmentMember,
    SegmentType,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.query import (
    And,
    Cond,
    Eq,
    HasAny,
    In,
    Lt,
    Or,
    Order,
    TextMatch,
)
from campaign_core.services._paging import Page, keyset_rows
from campaign_core.services._segment_performance import (
    SegmentComparison,
    SegmentPerformance,
    SegmentPerformanceService,
)
from campaign_core.services._segment_scope import SegmentScope
from campaign_core.services._segment_sizes import (
    CriteriaEvaluation,
    SegmentSizes,
)

__all__: list[str] = []


MAX_EXCLUSIONS: Final = 10_000

_NAME_MAX: Final = 200
_DESCRIPTION_MAX: Final = 5000
_LIVE_CAMPAIGNS: Final = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.ACTIVE,
    CampaignStatus.PAUSED,
)


# -- results ---------------------------------------------------------------------------------


@attrs.frozen
class SegmentMembersPage:
    """One page of a segment's members (fan records, in ``fan_id`` order).

    Attributes:
        items: the members' fan records.
        total: how many members the segment has.
        offset: where this page starts.
        limit: the page size asked for.
        next_offset: the offset of the next page, or ``None`` after the last.
    """

    items: tuple[Fan, ...]
    total: int
    offset: int
    limit: int
    next_offset: int | None = None


# -- the service -------------------------------------------------------------------------------


class SegmentService(SegmentScope):
    """Segments of one account, as one actor (``core.for_actor(actor).segments``).

    Every method checks the actor's permission (read, write, delete), sees only the
    actor's account (another account's segment is "not found"), validates every
    input before writing and commits all or nothing.
    """

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        super().__init__(runtime, actor)
        self._sizes = SegmentSizes(runtime, actor)
        self._performance = SegmentPerformanceService(runtime, actor)

    def _clean_common(self, given: Mapping[str, Any], problems: ProblemCollector) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        if "name" in given:
            clean["name"] = v_text(given["name"], "name", problems, max_length=_NAME_MAX)
        if "description" in given:
            value = given["description"]
            clean["description"] = (
                None
                if value is None
                else v_text(value, "description", problems, max_length=_DESCRIPTION_MAX)
            )
        if "type" in given:
            clean["type"] = v_enum(given["type"], "type", problems, SegmentType)
        return clean

    # ------------------------------------------------------------------ CRUD
    @audited("segment.create")
    def create_segment(
        self,
        *,
        name: Any = MISSING,
        type: Any = SegmentType.DYNAMIC,
        description: Any = None,
        criteria: Any = None,
        fan_ids: Any = None,
        **unknown: Any,
    ) -> Segment:
        """Create a segment and compute its members.

        Args:
            name: 1-200 characters.
            type: ``static``, ``dynamic`` (default) or ``hybrid``.
            description: optional text.
            criteria: dynamic and hybrid segments: criteria in any input form (the
                seed's shorthand, condition lists, expression strings, the canonical
                tree); stored canonical. Static segments take none.
            fan_ids: static and hybrid segments: fans added by hand (at most 10,000;
                they must exist in the account).

        Returns:
            The segment, with its members counted (``member_count``, averages).
            Fans placed in it go to the ``segment_entered`` hooks.

        Raises:
            ValidationError: a bad or unknown field, criteria problems with their
                paths (``criteria.root.all[1].value``), a segment reference that is
                unknown or forms a cycle, an unknown fan (``fan_ids[3]``).
            PermissionDeniedError: the role may not write.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        check_unknown(unknown, problems, ("name", "type", "description", "criteria", "fan_ids"))
        clean = self._clean_common(
            {"name": None if name is MISSING else name, "description": description, "type": type},
            problems,
        )
        kind: SegmentType | None = clean.get("type")
        tree = self._criteria_for(kind, criteria, problems)
        members: tuple[str, ...] = ()
        if fan_ids is not None:
            if kind is SegmentType.DYNAMIC:
                problems.add(
                    "fan_ids",
                    "a dynamic segment takes its members from its criteria; use type='hybrid'",
                    "invalid_value",
                )
            else:
                members = v_str_list(fan_ids, "fan_ids", problems, max_items=10_000) or ()
        problems.raise_if_any()
        assert kind is not None
        now = self._rt.now()
        segment = Segment(
            id=self._rt.ids.new_id("segment"),
            user_id=self._account,
            name=clean["name"],
            description=clean["description"],
            type=kind,
            criteria=stored_criteria(tree),
            created_at=now,
            updated_at=now,
        )
        with self._rt.transaction() as tx:
            if tree is not None:
                self._check_references(tx, tree, segment.id)
            self._check_fans(tx, members, "fan_ids")
            tx.uow.segments.add(segment)
            result = recompute_segment(self._rt, tx, segment, now, pinned=members)
        return result.segment

    def _criteria_for(
        self, kind: SegmentType | None, raw: Any, problems: ProblemCollector
    ) -> Criteria | None:
        if kind is SegmentType.STATIC:
            if raw is not None:
                problems.add(
                    "criteria",
                    "a static segment has no criteria; use type='hybrid' for criteria plus"
                    " hand-picked fans",
                    "invalid_value",
                )
            return None
        if raw is None:
            if kind is not None:
                problems.add("criteria", f"a {kind.value} segment needs criteria", "required")
            return None
        return self._criteria(raw, problems)

    def get_segment(self, segment_id: str) -> Segment:
        """The segment with this id.

        Raises:
            NotFoundError: no such segment in the actor's account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction(read_only=True) as tx:
            return self._load(tx, segment_id)

    @audited("segment.update")
    def update_segment(self, segment_id: str, **changes: Any) -> Segment:
        """Change a segment's name, description, type or criteria.

        A change of criteria or type recomputes the members at once (entrants go to
        the ``segment_entered`` hooks). Turning a segment static drops its criteria
        and keeps its members; turning it dynamic drops hand-added fans and
        exclusions at the recompute.

        Raises:
            ValidationError: as :meth:`create_segment` (paths are the field names).
            NotFoundError: no such segment.
            ConflictError: someone else changed it meanwhile.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        check_unknown(
            {
                k: v
                for k, v in changes.items()
                if k not in ("name", "description", "type", "criteria")
            },
            problems,
            ("name", "description", "type", "criteria"),
        )
        clean = self._clean_common(changes, problems)
        problems.raise_if_any()
        now = self._rt.now()
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            kind: SegmentType = clean.get("type") or segment.type
            raw = changes.get("criteria", MISSING)
            tree: Criteria | None
            if raw is MISSING:
                tree = (
                    None if kind is SegmentType.STATIC else segment_criteria(segment, self.registry)
                )
                if tree is None and kind is not SegmentType.STATIC:
                    problems.add("criteria", f"a {kind.value} segment needs criteria", "required")
            else:
                tree = self._criteria_for(kind, raw, problems)
            problems.raise_if_any()
            if tree is not None:
                self._check_references(tx, tree, segment.id)
            exclusions = segment_exclusions(segment) if kind is SegmentType.HYBRID else ()
            recompute = raw is not MISSING or kind is not segment.type
            updated = attrs.evolve(
                segment,
                name=clean.get("name", segment.name),
                description=clean.get("description", segment.description),
                type=kind,
                criteria=stored_criteria(tree, exclusions),
                updated_at=now,
                version=segment.version + 1,
            )
            tx.uow.segments.update(updated)
            if recompute:
                updated = recompute_segment(self._rt, tx, updated, now).segment
            self._forget_sizes(tx)
        return updated

    @audited("segment.delete")
    def delete_segment(self, segment_id: str) -> None:
        """Delete a segment and its memberships.

        Raises:
            NotFoundError: no such segment.
            ConflictError: another segment's criteria refer to it (``in_segment``),
                or a draft, scheduled, active or paused campaign targets it.
            PermissionDeniedError: the role may not delete.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            users = [
                other.id
                for other in tx.uow.segments.find(Eq("user_id", self._account))
                if other.id != segment.id
                and segment.id
                in (
                    (
                        valid_segment_criteria(other, self.registry) or Criteria(CriteriaAll(()))
                    ).segment_ids()
                )
            ]
            if users:
                raise ConflictError(
                    f"segment {segment.id!r} is used by the criteria of {', '.join(sorted(users))}",
                    details={"segment_id": segment.id, "used_by_segments": sorted(users)},
                )
            campaigns = tx.uow.campaigns.find(
                And(
                    Eq("user_id", self._account),
                    HasAny("segment_ids", [segment.id]),
                    In("status", list(_LIVE_CAMPAIGNS)),
                )
            )
            if campaigns:
                ids = sorted(c.id for c in campaigns)
                raise ConflictError(
                    f"segment {segment.id!r} is targeted by campaigns {', '.join(ids)}",
                    details={"segment_id": segment.id, "used_by_campaigns": ids},
                )
            tx.uow.segment_members.delete_where(Eq("segment_id", segment.id))
            tx.uow.segments.delete(segment.id)
            self._forget_sizes(tx)

    def list_segments(
        self,
        *,
        type: Any = None,
        search: Any = None,
        limit: Any = None,
        cursor: Any = None,
        **unknown: Any,
    ) -> Page:
        """The account's segments, newest first, a page at a time.

        Args:
            type: ``static``, ``dynamic``, ``hybrid`` or a list of them.
            search: case-insensitive text in name or description.
            limit: page size (default 20, at most 200).
            cursor: the previous page's ``next_cursor``.

        Returns:
            A ``campaign_core.Page`` of segments (keyset paging: stable while
            segments are added).

        Raises:
            ValidationError: a bad filter, limit or cursor.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        check_unknown(unknown, problems, ("type", "search", "limit", "cursor"))
        settings = self._rt.settings
        size = (
            settings.default_page_size
            if limit is None
            else v_int(limit, "limit", problems, minimum=1, maximum=settings.max_page_size)
        )
        conds: list[Cond] = [Eq("user_id", self._account)]
        if type is not None:
            many = isinstance(type, list | tuple)
            kinds = [
                v_enum(k, join_path("type", i) if many else "type", problems, SegmentType)
                for i, k in enumerate(type if many else [type])
            ]
            conds.append(In("type", [k for k in kinds if k is not None]))
        if search is not None and v_text(search, "search", problems, max_length=200):
            conds.append(TextMatch(("name", "description"), search.strip()))
        after: tuple[datetime, str] | None = None
        if cursor is not None:
            after = _decode_cursor(cursor, problems)
        problems.raise_if_any()
        assert size is not None
        where = And(*conds)
        page_where: Cond = where
        if after is not None:
            when, last_id = after
            page_where = And(
                where, Or(Lt("created_at", when), And(Eq("created_at", when), Lt("id", last_id)))
            )
        with self._rt.transaction() as tx:
            total = tx.uow.segments.count(where)
            items = tx.uow.segments.find(
                page_where,
                order_by=[Order("created_at", True), Order("id", True)],
                limit=size + 1,
            )
            skipped = tx.uow.segments.take_skipped()
        items, corrupt, last = keyset_rows(items, skipped, size)
        next_cursor = None if last is None else _encode_cursor(last)
        return Page(items=tuple(items), total=total, next_cursor=next_cursor, problems=corrupt)

    # ------------------------------------------------------------------ sizes and members
    # ------------------------------------------------------------------ sizes, one fan, performance
    # (implemented by the parts: _segment_sizes and _segment_performance)
    def calculate_segment_size(self, criteria: Any) -> int:
        """How many of the account's fans match ``criteria`` now.

        Computed by the store where it can (SQL ``COUNT`` on the SQLAlchemy store)
        and cached for 5 minutes (the seed's TTL) per account and criteria;
        writes through this core to the account's segments or fans' events drop
        the cached sizes.

        Args:
            criteria: any input form.

        Returns:
            The number of matching fans.

        Raises:
            ValidationError: invalid criteria (paths under ``criteria``), or a
                reference to a segment the account does not have.
        """
        return self._sizes.calculate_segment_size(criteria)

    def evaluate_criteria(self, fan_id: str, criteria: Any) -> CriteriaEvaluation:
        """Whether one fan matches ``criteria``, with the explanation of every node.

        Uses the fan as stored, their events and their memberships of the
        account's segments; relative times resolve against the clock.

        Raises:
            ValidationError: a bad fan id or criteria (paths under ``criteria``).
            NotFoundError: the account has no such fan.
        """
        return self._sizes.evaluate_criteria(fan_id, criteria)

    def get_segment_performance(self, segment_id: str) -> SegmentPerformance:
        """Members, engagement, revenue and conversion of a segment's members.

        Revenue is the members' lifetime value (the seed's ``avgRevenue``) and the
        value of their conversions in the account's campaigns; the conversion rate
        is the share of members with at least one conversion.

        Raises:
            NotFoundError: no such segment.
        """
        return self._performance.get_segment_performance(segment_id)

    def compare_segments(self, segment_ids: Any) -> SegmentComparison:
        """Compare 2 to 10 segments pairwise: overlap and differences with significance.

        For each pair (A, B in the order given): the fans in both, the Jaccard index,
        Welch's t-test on mean engagement, lifetime value and conversion revenue per
        member (from sums; needs 2 members a side), and the pooled two-proportion
        z-test on the conversion rate. p-values are Holm-adjusted per metric over
        the pairs; ``significant`` means adjusted ``p < 0.05``.

        Raises:
            ValidationError: fewer than 2 or more than 10 ids, repeats.
            NotFoundError: a segment the account does not have.
        """
        return self._performance.compare_segments(segment_ids)

    def get_segment_members(
        self, segment_id: str, limit: Any = None, offset: Any = 0
    ) -> SegmentMembersPage:
        """A page of the segment's members (fan records, in ``fan_id`` order).

        Args:
            segment_id: the segment.
            limit: page size (default 20, at most 200).
            offset: members to skip.

        Raises:
            NotFoundError: no such segment.
            ValidationError: a bad limit or offset.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        settings = self._rt.settings
        size = (
            settings.default_page_size
            if limit is None
            else v_int(limit, "limit", problems, minimum=1, maximum=settings.max_page_size)
        )
        start = v_int(offset, "offset", problems, minimum=0, maximum=10**9)
        problems.raise_if_any()
        assert size is not None and start is not None
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            where = Eq("segment_id", segment.id)
            total = tx.uow.segment_members.count(where)
            rows = tx.uow.segment_members.find(
                where, order_by=[Order("fan_id"), Order("id")], limit=size, offset=start
            )
            ids = [row.fan_id for row in rows]
            found = (
                {
                    f.fan_id: f
                    for f in tx.uow.fans.find(And(Eq("owner_id", self._account), In("fan_id", ids)))
                }
                if ids
                else {}
            )
        items = tuple(found[i] for i in ids if i in found)
        more = start + len(rows) < total
        return SegmentMembersPage(
            items=items,
            total=total,
            offset=start,
            limit=size,
            next_offset=start + len(rows) if more else None,
        )

    @audited("segment.refresh")
    def refresh_segment(self, segment_id: str) -> RefreshResult:
        """Recompute a segment's members from its criteria now.

        Writes who entered and exited (members added or removed), updates
        ``memberCount``, ``lastRefreshedAt``, ``avgEngagement`` and ``avgRevenue``
        (mean lifetime value), and hands the entrants to the ``segment_entered``
        hooks (automations). A static segment keeps its members; only its
        statistics are refreshed.

        Raises:
            NotFoundError: no such segment.
            ConflictError: the segment changed meanwhile (retry).
        """
        self._svc._require(Permission.WRITE)
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            return recompute_segment(self._rt, tx, segment, self._rt.now())

    @audited("segment.add_fan")
    def add_fan_to_segment(self, fan_id: str, segment_id: str) -> bool:
        """Put a fan in a static or hybrid segment by hand.

        In a hybrid segment the fan is pinned: a refresh keeps them whatever the
        criteria say, and a previous removal is forgotten.

        Returns:
            ``True`` when the fan entered (they go to the ``segment_entered``
            hooks); ``False`` when they were already a member.

        Raises:
            NotFoundError: no such segment or fan in the account.
            InvalidTransitionError: the segment is dynamic.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        now = self._rt.now()
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            if segment.type is SegmentType.DYNAMIC:
                raise InvalidTransitionError("dynamic", "add fans by hand to", entity="segment")
            fans = tx.uow.fans.find(
                And(Eq("owner_id", self._account), Eq("fan_id", fan_id)), limit=1
            )
            if not fans:
                raise NotFoundError("fan", fan_id)
            rows = tx.uow.segment_members.find(
                And(Eq("segment_id", segment.id), Eq("fan_id", fan_id)), limit=1
            )
            exclusions = segment_exclusions(segment)
            if fan_id in exclusions:
                segment = attrs.evolve(
                    segment,
                    criteria=stored_criteria(
                        segment_criteria(segment, self.registry), set(exclusions) - {fan_id}
                    ),
                    updated_at=now,
                    version=segment.version + 1,
                )
                tx.uow.segments.update(segment)
            if rows:
                if rows[0].source is not MemberSource.MANUAL:
                    tx.uow.segment_members.update(attrs.evolve(rows[0], source=MemberSource.MANUAL))
                return False
            tx.uow.segment_members.add(
                SegmentMember(
                    id=self._rt.ids.new_id("member"),
                    segment_id=segment.id,
                    fan_id=fan_id,
                    added_at=now,
                    source=MemberSource.MANUAL,
                )
            )
            tx.uow.segments.increment(segment.id, {"member_count": 1})
            audit_note(
                tx.uow,
                "segment",
                segment.id,
                self._account,
                {"fan": pseudonym_for(tx.uow, self._account, fan_id), "member": "added"},
            )
            for hook in self._rt.segment_entered_hooks:
                hook(tx, segment, [fan_id])
            self._forget_sizes(tx)
        return True

    @audited("segment.remove_fan")
    def remove_fan_from_segment(self, fan_id: str, segment_id: str) -> bool:
        """Take a fan out of a static or hybrid segment by hand.

        In a hybrid segment the fan is also excluded: later refreshes leave them
        out even when the criteria match (until :meth:`add_fan_to_segment`).

        Returns:
            ``True`` when the fan was a member.

        Raises:
            NotFoundError: no such segment.
            InvalidTransitionError: the segment is dynamic.
            ConflictError: a hybrid segment already excludes 10,000 fans.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        now = self._rt.now()
        with self._rt.transaction() as tx:
            segment = self._load(tx, segment_id)
            if segment.type is SegmentType.DYNAMIC:
                raise InvalidTransitionError(
                    "dynamic", "remove fans by hand from", entity="segment"
                )
            removed = tx.uow.segment_members.delete_where(
                And(Eq("segment_id", segment.id), Eq("fan_id", fan_id))
            )
            exclusions = segment_exclusions(segment)
            if segment.type is SegmentType.HYBRID and fan_id not in exclusions:
                if len(exclusions) >= MAX_EXCLUSIONS:
                    raise ConflictError(
                        f"segment {segment.id!r} already excludes {MAX_EXCLUSIONS} fans",
                        details={"segment_id": segment.id, "limit": MAX_EXCLUSIONS},
                    )
                segment = attrs.evolve(
                    segment,
                    criteria=stored_criteria(
                        segment_criteria(segment, self.registry), (*exclusions, fan_id)
                    ),
                    updated_at=now,
                    version=segment.version + 1,
                )
                tx.uow.segments.update(segment)
            if removed:
                tx.uow.segments.increment(segment.id, {"member_count": -removed})
                for hook in self._rt.segment_exited_hooks:
                    hook(tx, segment, [fan_id])
                audit_note(
                    tx.uow,
                    "segment",
                    segment.id,
                    self._account,
                    {"fan": pseudonym_for(tx.uow, self._account, fan_id), "member": "removed"},
                )
                self._forget_sizes(tx)
        return bool(removed)


def _encode_cursor(segment: Segment) -> str:
    import base64

    raw = json.dumps([segment.created_at.isoformat(), segment.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any, problems: ProblemCollector) -> tuple[datetime, str] | None:
    import base64
    import binascii

    if not isinstance(cursor, str):
        problems.add("cursor", "expected a string", "invalid_type")
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        moment = ensure_utc(datetime.fromisoformat(when))
        if not isinstance(last_id, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, ValidationError):
        problems.add("cursor", "is not a cursor returned by this list", "invalid_value")
        return None
    return moment, last_id
