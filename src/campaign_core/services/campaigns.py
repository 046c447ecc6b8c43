"""CampaignService: the seed's campaign CRUD, templates, lifecycle, budget and duplication.

Every method runs in one unit of work for the workspace's actor: it checks the
actor's permission, reads only the actor's account, validates every input
before writing, and either commits everything or nothing. Alerts and metrics
go out after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from campaign_core._naming import camel
from campaign_core._runtime import Runtime
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_datetime,
    v_enum_list,
    v_id,
    v_int,
    v_money,
    v_text,
)
from campaign_core.abtesting import WinnerDecision
from campaign_core.alerts import Alert
from campaign_core.audit import audited
from campaign_core.errors import (
    InvalidTransitionError,
    ProblemCollector,
    ValidationError,
)
from campaign_core.jobs.budget import budget_alert, record_spend
from campaign_core.lifecycle import ACTIVE_ONLY_EDITABLE, DELETABLE, TERMINAL
from campaign_core.models import (
    ABTestVariant,
    Campaign,
    CampaignStatus,
    CampaignType,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.query import (
    And,
    Cond,
    Eq,
    Gt,
    Gte,
    HasAny,
    In,
    IsNull,
    Lt,
    NotNull,
    Or,
    Order,
    TextMatch,
)
from campaign_core.services._campaign_base import (
    _CRITERIA,
    _FIELDS,
    _NAME_MAX,
    _ORDERABLE,
    S,
    _decode_cursor,
    _encode_cursor,
)
from campaign_core.services._campaign_lifecycle import CampaignLifecycle
from campaign_core.services._campaign_templates import CampaignTemplates
from campaign_core.services._paging import Page, keyset_rows
from campaign_core.services.abtests import ABTestDetails, ABTestService

__all__: list[str] = []


class CampaignService(CampaignLifecycle, CampaignTemplates):
    """Campaigns of one account, as one actor (get it from ``core.for_actor(actor).campaigns``).

    The CRUD is here; templates, lifecycle and publishing come from
    ``CampaignTemplates`` and ``CampaignLifecycle``. Its A/B test methods are
    those of the workspace's
    :class:`~campaign_core.services.abtests.ABTestService` (``ws.abtests``),
    which it delegates to.
    """

    def __init__(
        self, runtime: Runtime, actor: Actor, *, abtests: ABTestService | None = None
    ) -> None:
        super().__init__(runtime, actor)
        self._abtests = abtests if abtests is not None else ABTestService(runtime, actor)

    # ------------------------------------------------------------------ A/B tests
    def create_ab_test(
        self, campaign_id: str, variants: Any, traffic_split: Any = None, **options: Any
    ) -> ABTestDetails:
        """Start an A/B(/n) test on a campaign: :meth:`~campaign_core.services.abtests.ABTestService.create_ab_test`."""
        return self._abtests.create_ab_test(campaign_id, variants, traffic_split, **options)

    def get_ab_test(self, test_id: str) -> ABTestDetails:
        """A test and its variants: :meth:`~campaign_core.services.abtests.ABTestService.get_ab_test`."""
        return self._abtests.get_ab_test(test_id)

    def list_ab_tests(self, *, campaign_id: Any = None, status: Any = None) -> list[ABTestDetails]:
        """The account's tests: :meth:`~campaign_core.services.abtests.ABTestService.list_ab_tests`."""
        return self._abtests.list_ab_tests(campaign_id=campaign_id, status=status)

    def get_variant_for_fan(self, test_id: str, fan_id: Any) -> ABTestVariant:
        """The variant a fan sees: :meth:`~campaign_core.services.abtests.ABTestService.get_variant_for_fan`."""
        return self._abtests.get_variant_for_fan(test_id, fan_id)

    def track_variant_performance(
        self, variant_id: str, metrics: Any = None, **counts: Any
    ) -> ABTestVariant:
        """Add counts to a variant: :meth:`~campaign_core.services.abtests.ABTestService.track_variant_performance`."""
        return self._abtests.track_variant_performance(variant_id, metrics, **counts)

    def determine_winner(
        self, test_id: str, *, policy: Any = None, metric: Any = None
    ) -> WinnerDecision:
        """Decide the test now: :meth:`~campaign_core.services.abtests.ABTestService.determine_winner`."""
        return self._abtests.determine_winner(test_id, policy=policy, metric=metric)

    def apply_winner(self, test_id: str) -> ABTestDetails:
        """Apply the winner's content and complete the test: :meth:`~campaign_core.services.abtests.ABTestService.apply_winner`."""
        return self._abtests.apply_winner(test_id)

    def cancel_ab_test(self, test_id: str) -> ABTestDetails:
        """Stop a running test without a winner: :meth:`~campaign_core.services.abtests.ABTestService.cancel_ab_test`."""
        return self._abtests.cancel_ab_test(test_id)

    # ------------------------------------------------------------------ CRUD
    @audited("campaign.create")
    def create_campaign(
        self,
        *,
        name: Any = MISSING,
        type: Any = MISSING,
        description: Any = MISSING,
        platforms: Any = MISSING,
        segment_ids: Any = MISSING,
        content: Any = MISSING,
        media_urls: Any = MISSING,
        budget: Any = MISSING,
        goals: Any = MISSING,
        scheduled_for: Any = MISSING,
        template_id: Any = MISSING,
        message: Any = MISSING,
        audience_criteria: Any = MISSING,
        **unknown: Any,
    ) -> Campaign:
        """Create a campaign in draft (or scheduled, when ``scheduled_for`` is given).

        Args:
            name: 1-200 characters.
            type: ppv, subscription, promotion, engagement or retention.
            description: optional text.
            platforms: onlyfans, instagram, tiktok, reddit (no repeats).
            segment_ids: the account's segments to target.
            content: JSON object: ``title``, ``description``, ``cta``, ``price``...
                and optional per-platform overrides under ``platforms``.
            media_urls: http(s) URLs.
            budget: a finite amount >= 0, or None for no budget.
            goals: JSON object of targets (``{"conversions": 100, "revenue": 5000}``).
            scheduled_for: an aware datetime in the future: the campaign is
                created scheduled (it must be launchable, and conflicts are
                reported, as for ``schedule_campaign``).
            template_id: the template it came from, if any.
            message: what to deliver to each fan of ``segment_ids`` when the
                campaign launches: ``{"channel": "dm", "template": "..." (or
                "content": {...}), "topic": "promotions", "variables": {...},
                "sendAtLocal": "09:00", "fallbackChannels": ["email"]}`` (see
                the how-to *Send a campaign to its audience*); needs segments.
                Without it the campaign only posts to its platforms.
            audience_criteria: the message's audience as criteria (the segments'
                criteria language, e.g. ``{"spendingLevel": "high"}``) instead of
                ``segment_ids``: the fans matching them when the campaign launches
                (evaluated at the launch instant, walked in fan id order like a
                segment's members). Needs a message; not with ``segment_ids``.

        Returns:
            The new campaign.

        Raises:
            ValidationError: every bad or unknown field, with its name as path.
            PermissionDeniedError: the actor's role may not write.
        """
        self._svc._require(Permission.WRITE)
        given = {
            k: v
            for k, v in {
                "name": name,
                "type": type,
                "description": description,
                "platforms": platforms,
                "segment_ids": segment_ids,
                "content": content,
                "media_urls": media_urls,
                "budget": budget,
                "goals": goals,
                "template_id": template_id,
            }.items()
            if v is not MISSING
        }
        return self._create(
            given, scheduled_for, unknown, message=message, audience_criteria=audience_criteria
        )

    @audited("campaign.update")
    def update_campaign(self, campaign_id: str, **changes: Any) -> Campaign:
        """Change fields of a campaign, as the lifecycle's editing rules allow.

        Args:
            campaign_id: the campaign.
            **changes: any of name, description, type, platforms, segment_ids,
                content, media_urls, budget, goals, and ``message`` (before
                launch; None removes it). Status and schedule change through the
                lifecycle methods only.

        Raises:
            ValidationError: a bad or unknown field, or a field not editable in
                the campaign's status (path: the field).
            InvalidTransitionError: the campaign is completed or cancelled.
            ConflictError: someone else changed it meanwhile (stale version).
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        changes = dict(changes)
        new_message = changes.pop("message", MISSING)
        new_criteria = changes.pop(_CRITERIA, MISSING)
        editable = set(_FIELDS) - {"template_id"}
        unknown = {k: v for k, v in changes.items() if k not in editable}
        for key in ("status", "scheduled_for"):
            if key in unknown:
                problems.add(
                    key,
                    "changes only through the lifecycle methods (schedule_campaign...)",
                    "read_only",
                )
                unknown.pop(key)
        check_unknown(unknown, problems, editable | {"message", _CRITERIA})
        clean = self._clean_fields(
            {k: v for k, v in changes.items() if k in editable}, problems, creating=False
        )
        criteria = self._audience_criteria(new_criteria, clean.get("segment_ids"), problems)
        spec = self._message(new_message, clean.get("segment_ids"), problems, criteria)
        problems.raise_if_any()
        alert: Alert | None = None
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status in TERMINAL:
                raise InvalidTransitionError(campaign.status.value, "update")
            if campaign.status is S.ACTIVE:
                for key in clean:
                    if key not in ACTIVE_ONLY_EDITABLE:
                        problems.add(
                            key,
                            "cannot change while the campaign is active; pause it first",
                            "read_only",
                        )
            if new_message is not MISSING and campaign.status not in (S.DRAFT, S.SCHEDULED):
                problems.add("message", "cannot change once the campaign has launched", "read_only")
            # the stored message and audience matter only when the update touches the audience
            # or the message (a stored campaign never has both segments and audience criteria)
            touches_audience = (
                "segment_ids" in clean or new_criteria is not MISSING or new_message is not MISSING
            )
            broadcast = tx.uow.broadcasts.get(campaign.id) if touches_audience else None
            audience = (
                (broadcast.audience_criteria if broadcast is not None else None)
                if new_criteria is MISSING
                else criteria
            )
            segments = clean.get("segment_ids", campaign.segment_ids)
            if audience is not None and segments and not problems:
                problems.add(
                    _CRITERIA,
                    "a campaign's audience is its segment_ids or its audience_criteria, not both",
                    "invalid_value",
                )
            if new_criteria is not MISSING or new_message is not MISSING:
                if campaign.status not in (S.DRAFT, S.SCHEDULED):
                    if new_criteria is not MISSING:
                        problems.add(
                            _CRITERIA, "cannot change once the campaign has launched", "read_only"
                        )
                else:
                    has_message = (
                        spec is not None if new_message is not MISSING else broadcast is not None
                    )
                    if new_criteria is not MISSING and criteria is not None and not has_message:
                        problems.add(
                            _CRITERIA, "audience criteria need a message to deliver", "required"
                        )
                    if (
                        new_message is not MISSING
                        and spec is not None
                        and not (segments or audience)
                    ):
                        problems.add(
                            "segment_ids",
                            "a campaign with a message needs segments (or audience_criteria)"
                            " to deliver to",
                            "required",
                        )
            problems.raise_if_any()
            if clean.get("segment_ids"):
                self._check_segments(tx, clean["segment_ids"])
            self._check_criteria_segments(tx, criteria)
            if new_message is not MISSING:
                self._save_message(tx, campaign, spec, audience)
            elif new_criteria is not MISSING and broadcast is not None:
                self._save_message(tx, campaign, broadcast.message, audience)
            extra: dict[str, Any] = {}
            if "content" in clean or "media_urls" in clean or "platforms" in clean:
                extra["content_version"] = campaign.content_version + 1
            candidate = attrs.evolve(campaign, **clean)
            self._check_platform_content(candidate, problems)
            problems.raise_if_any()
            if (
                candidate.status is S.ACTIVE
                and candidate.budget is not None
                and candidate.spent >= candidate.budget
            ):
                extra.update(status=S.PAUSED, paused_reason="budget_exhausted")
                alert = budget_alert(candidate, self._rt.now())
            updated = self._save(tx, campaign, **clean, **extra)
            if alert is not None:
                self._rt.alert(tx, alert)
        return updated

    @audited("campaign.delete")
    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a draft, completed or cancelled campaign (its publish jobs, broadcast and deliveries too).

        Raises:
            InvalidTransitionError: the campaign is scheduled, active or paused.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status not in DELETABLE:
                raise InvalidTransitionError(campaign.status.value, "delete")
            tx.uow.publish_jobs.delete_where(Eq("campaign_id", campaign.id))
            tx.uow.deliveries.delete_where(Eq("campaign_id", campaign.id))
            tx.uow.broadcasts.delete(campaign.id)
            tx.uow.campaigns.delete(campaign.id)

    def list_campaigns(
        self,
        *,
        status: Any = None,
        type: Any = None,
        platform: Any = None,
        segment_id: Any = None,
        search: Any = None,
        created_from: Any = None,
        created_to: Any = None,
        scheduled_from: Any = None,
        scheduled_to: Any = None,
        is_ab_test: Any = None,
        include_archived: Any = False,
        order_by: Any = "created_at",
        descending: Any = True,
        limit: Any = None,
        cursor: Any = None,
        **unknown: Any,
    ) -> Page:
        """The account's campaigns, filtered, in a stable order, a page at a time.

        Args:
            status / type / platform: one value or a list of values.
            segment_id: campaigns targeting this segment.
            search: case-insensitive text in name or description.
            created_from / created_to: ``created_at`` in [from, to).
            scheduled_from / scheduled_to: ``scheduled_for`` in [from, to).
            is_ab_test: only A/B campaigns (True) or only others (False).
            include_archived: list archived campaigns too (by default they
                are left out; see :meth:`archive_campaign`).
            order_by: created_at, updated_at, name or scheduled_for; ties break by id.
            descending: sort direction.
            limit: page size (default 20, at most 200).
            cursor: from the previous page's ``next_cursor``.

        Returns:
            A :class:`Page`. Paging is by keyset, so it stays stable while
            campaigns are added or changed.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        check_unknown(
            unknown,
            problems,
            (
                "status",
                "type",
                "platform",
                "segment_id",
                "search",
                "created_from",
                "created_to",
                "scheduled_from",
                "scheduled_to",
                "is_ab_test",
                "include_archived",
                "order_by",
                "descending",
                "limit",
                "cursor",
            ),
        )
        settings = self._rt.settings
        size = (
            settings.default_page_size
            if limit is None
            else v_int(limit, "limit", problems, minimum=1, maximum=settings.max_page_size)
        )
        if order_by not in _ORDERABLE:
            problems.add("order_by", f"must be one of: {', '.join(_ORDERABLE)}", "invalid_value")
        if not isinstance(descending, bool):
            problems.add("descending", "expected true or false", "invalid_type")
        conds: list[Cond] = [Eq("user_id", self._account)]

        def one_or_many(value: Any, path: str, kind: Any, field: str) -> None:
            if value is None:
                return
            values = list(value) if isinstance(value, list | tuple) else [value]
            clean: tuple[Any, ...] | None
            if kind is None:
                clean = self._rt.settings.platforms.check_list(values, path, problems)
            else:
                clean = v_enum_list(values, path, problems, kind)
            if clean is not None:
                conds.append(In(field, clean) if field != "platforms" else HasAny(field, clean))

        one_or_many(status, "status", CampaignStatus, "status")
        one_or_many(type, "type", CampaignType, "type")
        one_or_many(platform, "platform", None, "platforms")
        if segment_id is not None and v_id(segment_id, "segment_id", problems):
            conds.append(HasAny("segment_ids", [segment_id]))
        if search is not None and v_text(search, "search", problems, max_length=200):
            conds.append(TextMatch(("name", "description"), search.strip()))
        for value, path, field, op in (
            (created_from, "created_from", "created_at", Gte),
            (created_to, "created_to", "created_at", Lt),
            (scheduled_from, "scheduled_from", "scheduled_for", Gte),
            (scheduled_to, "scheduled_to", "scheduled_for", Lt),
        ):
            if value is not None:
                when = v_datetime(value, path, problems)
                if when is not None:
                    conds.append(op(field, when))
        if is_ab_test is not None:
            if isinstance(is_ab_test, bool):
                conds.append(Eq("is_ab_test", is_ab_test))
            else:
                problems.add("is_ab_test", "expected true or false", "invalid_type")
        if not isinstance(include_archived, bool):
            problems.add("include_archived", "expected true or false", "invalid_type")
        elif not include_archived:
            conds.append(IsNull("archived_at"))
        after: list[Any] | None = None
        if cursor is not None:
            if not isinstance(cursor, str):
                problems.add("cursor", "expected a string", "invalid_type")
            else:
                try:
                    after = _decode_cursor(cursor)
                except ValidationError as error:
                    problems.extend(error)
        problems.raise_if_any()
        assert size is not None
        where = And(*conds)
        orders = [Order(order_by, descending), Order("id", descending)]
        with self._rt.transaction() as tx:
            total = tx.uow.campaigns.count(where)
            page_where: Cond = where
            if after is not None:
                page_where = And(where, self._after(order_by, descending, after))
            items = tx.uow.campaigns.find(page_where, order_by=orders, limit=size + 1)
            skipped = tx.uow.campaigns.take_skipped()
        items, corrupt, last = keyset_rows(items, skipped, size)
        next_cursor = None
        if last is not None:
            next_cursor = _encode_cursor([getattr(last, order_by), last.id])
        return Page(items=tuple(items), total=total, next_cursor=next_cursor, problems=corrupt)

    @staticmethod
    def _after(field: str, descending: bool, after: list[Any]) -> Cond:
        value, last_id = after
        if field in ("created_at", "updated_at", "scheduled_for") and value is not None:
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise ValidationError.single(
                    "cursor", "is not a cursor returned by this list"
                ) from None
        if not isinstance(last_id, str):
            raise ValidationError.single("cursor", "is not a cursor returned by this list")
        beyond = Lt if descending else Gt
        if value is None:
            # nulls sort first ascending / last descending (see campaign_core.query.Order)
            if descending:
                return And(IsNull(field), beyond("id", last_id))
            return Or(And(IsNull(field), beyond("id", last_id)), NotNull(field))
        same = And(Eq(field, value), beyond("id", last_id))
        if descending:
            return Or(beyond(field, value), same, IsNull(field))
        return Or(beyond(field, value), same)

    @audited("campaign.duplicate")
    def duplicate_campaign(
        self, campaign_id: str, modifications: Mapping[str, Any] | None = None
    ) -> Campaign:
        """Copy a campaign's content and settings into a new draft (never metrics or status).

        A campaign with a message (a broadcast) passes its message to the copy; the
        copy's audience is snapshotted when the copy launches.

        Args:
            campaign_id: the campaign to copy.
            modifications: fields to change in the copy (as for ``create_campaign``;
                snake_case or the seed's camelCase). The name defaults to
                ``"<name> (copy)"``.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        mods: dict[str, Any] = {}
        if modifications is not None:
            if not isinstance(modifications, Mapping):
                raise ValidationError.single("modifications", "expected an object", "invalid_type")
            by_camel = {camel(f): f for f in _FIELDS}
            for key, value in modifications.items():
                field = by_camel.get(key, key)
                if field not in _FIELDS or field == "template_id":
                    problems.add(f"modifications.{key}", "unknown field", "unknown_field")
                else:
                    mods[field] = value
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            source = self._load(tx, campaign_id)
            broadcast = tx.uow.broadcasts.get(source.id)
        # the message is copied as it was saved (its canonical form), without run-time notes
        message: Any = (
            MISSING
            if broadcast is None
            else {k: v for k, v in broadcast.message.items() if not k.startswith("_")}
        )
        given: dict[str, Any] = {
            "name": (source.name + " (copy)")[:_NAME_MAX],
            "description": source.description,
            "type": source.type.value,
            "platforms": [str(p) for p in source.platforms],
            "segment_ids": list(source.segment_ids),
            "content": source.content,
            "media_urls": list(source.media_urls),
            "budget": source.budget,
            "goals": source.goals,
            "template_id": source.template_id,
        }
        given.update(mods)
        criteria = broadcast.audience_criteria if broadcast is not None else None
        return self._create(
            given,
            MISSING,
            {},
            message=message,
            audience_criteria=MISSING if criteria is None else criteria,
        )

    # ------------------------------------------------------------------ budget
    @audited("campaign.record_spend")
    def record_spend(self, campaign_id: str, amount: Any) -> Campaign:
        """Add spend to a campaign; reaching the budget pauses it and alerts.

        Args:
            campaign_id: the campaign (not draft).
            amount: a finite amount > 0.

        Returns:
            The campaign after the spend (paused with ``paused_reason``
            ``budget_exhausted`` if the budget is now reached).

        Raises:
            ValidationError: a bad amount.
            InvalidTransitionError: the campaign is a draft (nothing runs yet).
        """
        self._svc._require(Permission.SPEND)
        problems = ProblemCollector()
        clean = v_money(amount, "amount", problems, positive=True)
        problems.raise_if_any()
        assert clean is not None
        return record_spend(self._rt, self._account, campaign_id, clean)
