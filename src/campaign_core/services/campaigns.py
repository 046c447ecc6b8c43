"""CampaignService: the seed's campaign CRUD, templates, lifecycle, budget and duplication.

Every method runs in one unit of work for the workspace's actor: it checks the
actor's permission, reads only the actor's account, validates every input
before writing, and either commits everything or nothing. Alerts and metrics
go out after the commit.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from campaign_core._naming import camel
from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_bool,
    v_datetime,
    v_enum,
    v_enum_list,
    v_id,
    v_int,
    v_json_object,
    v_money,
    v_str_list,
    v_text,
    v_url_list,
)
from campaign_core.abtesting import WinnerDecision
from campaign_core.alerts import Alert, AlertKind
from campaign_core.audit import audited
from campaign_core.catalog import BUILTIN_TEMPLATES, builtin_template
from campaign_core.catalog import (
    deep_merge as deep_merge,  # the automation engine imports it from here
)
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.jobs.budget import budget_alert, record_spend
from campaign_core.jobs.launches import launch, launch_problems
from campaign_core.jobs.publishing import (
    PlatformPublishResult,
    adapt_campaign,
    cancel_pending_jobs,
    enqueue_publish_jobs,
    run_publish_jobs,
)
from campaign_core.lifecycle import ACTIVE_ONLY_EDITABLE, DELETABLE, TERMINAL, next_status
from campaign_core.models import (
    ABTestVariant,
    Campaign,
    CampaignStatus,
    CampaignTemplate,
    CampaignType,
    Niche,
    Platform,
    PublishStatus,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.publishing import AdaptationResult, check_content
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
    Lte,
    NotNull,
    Or,
    Order,
    TextMatch,
)
from campaign_core.services._paging import Page
from campaign_core.services.abtests import ABTestDetails, ABTestService

__all__ = [
    "CampaignLaunchResult",
    "CampaignService",
    "Page",
    "ScheduleConflict",
]

S = CampaignStatus
_NAME_MAX: Final = 200
_DESCRIPTION_MAX: Final = 5000
_FIELDS: Final = (
    "name",
    "description",
    "type",
    "platforms",
    "segment_ids",
    "content",
    "media_urls",
    "budget",
    "goals",
    "template_id",
)
_ORDERABLE: Final = ("created_at", "updated_at", "name", "scheduled_for")


@attrs.frozen
class ScheduleConflict:
    """Another campaign of the owner too close in time on a shared platform or segment."""

    campaign_id: str
    name: str
    status: CampaignStatus
    at: datetime
    platforms: tuple[Platform, ...]
    segment_ids: tuple[str, ...]


@attrs.frozen
class CampaignLaunchResult:
    """What a launch did: the campaign as it is now and one result per platform."""

    campaign: Campaign
    platforms: tuple[PlatformPublishResult, ...]

    @property
    def ok(self) -> bool:
        """True when every platform is published (none pending, retrying or failed)."""
        return all(p.status == "published" for p in self.platforms)


def _encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError.single("cursor", "is not a cursor returned by this list") from None


class CampaignService:
    """Campaigns of one account, as one actor (get it from ``core.for_actor(actor).campaigns``).

    Its A/B test methods are those of the workspace's :class:`ABTestService`
    (``ws.abtests``), which it delegates to.
    """

    def __init__(
        self, runtime: Runtime, actor: Actor, *, abtests: ABTestService | None = None
    ) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime
        self._abtests = abtests if abtests is not None else ABTestService(runtime, actor)

    # ------------------------------------------------------------------ A/B tests
    def create_ab_test(
        self, campaign_id: str, variants: Any, traffic_split: Any = None, **options: Any
    ) -> ABTestDetails:
        """Start an A/B(/n) test on a campaign: :meth:`ABTestService.create_ab_test`."""
        return self._abtests.create_ab_test(campaign_id, variants, traffic_split, **options)

    def get_ab_test(self, test_id: str) -> ABTestDetails:
        """A test and its variants: :meth:`ABTestService.get_ab_test`."""
        return self._abtests.get_ab_test(test_id)

    def list_ab_tests(self, *, campaign_id: Any = None, status: Any = None) -> list[ABTestDetails]:
        """The account's tests: :meth:`ABTestService.list_ab_tests`."""
        return self._abtests.list_ab_tests(campaign_id=campaign_id, status=status)

    def get_variant_for_fan(self, test_id: str, fan_id: Any) -> ABTestVariant:
        """The variant a fan sees: :meth:`ABTestService.get_variant_for_fan`."""
        return self._abtests.get_variant_for_fan(test_id, fan_id)

    def track_variant_performance(
        self, variant_id: str, metrics: Any = None, **counts: Any
    ) -> ABTestVariant:
        """Add counts to a variant: :meth:`ABTestService.track_variant_performance`."""
        return self._abtests.track_variant_performance(variant_id, metrics, **counts)

    def determine_winner(
        self, test_id: str, *, policy: Any = None, metric: Any = "conversion_rate"
    ) -> WinnerDecision:
        """Decide the test now: :meth:`ABTestService.determine_winner`."""
        return self._abtests.determine_winner(test_id, policy=policy, metric=metric)

    def apply_winner(self, test_id: str) -> ABTestDetails:
        """Apply the winner's content and complete the test: :meth:`ABTestService.apply_winner`."""
        return self._abtests.apply_winner(test_id)

    def cancel_ab_test(self, test_id: str) -> ABTestDetails:
        """Stop a running test without a winner: :meth:`ABTestService.cancel_ab_test`."""
        return self._abtests.cancel_ab_test(test_id)

    @property
    def _account(self) -> str:
        return self._svc.account_id

    # ------------------------------------------------------------------ helpers
    def _load(self, tx: Tx, campaign_id: Any) -> Campaign:
        if not isinstance(campaign_id, str):
            raise ValidationError.single("campaign_id", "expected an id string", "invalid_type")
        record: Campaign = self._svc._owned(
            tx.uow.campaigns.get(campaign_id), "campaign", campaign_id
        )
        return record

    def _clean_fields(
        self, fields: Mapping[str, Any], problems: ProblemCollector, *, creating: bool
    ) -> dict[str, Any]:
        """Validate campaign fields given as keyword arguments; return the clean ones."""
        clean: dict[str, Any] = {}
        if "name" in fields or creating:
            clean["name"] = v_text(fields.get("name"), "name", problems, max_length=_NAME_MAX)
        if "description" in fields:
            clean["description"] = v_text(
                fields["description"],
                "description",
                problems,
                required=False,
                max_length=_DESCRIPTION_MAX,
                allow_blank=True,
            )
        if "type" in fields or creating:
            clean["type"] = v_enum(fields.get("type"), "type", problems, CampaignType)
        if "platforms" in fields:
            clean["platforms"] = v_enum_list(fields["platforms"], "platforms", problems, Platform)
        if "segment_ids" in fields:
            clean["segment_ids"] = v_str_list(
                fields["segment_ids"], "segment_ids", problems, max_items=100
            )
        if "content" in fields:
            clean["content"] = self._clean_content(fields["content"], problems)
        if "media_urls" in fields:
            clean["media_urls"] = v_url_list(fields["media_urls"], "media_urls", problems)
        if "budget" in fields:
            clean["budget"] = (
                None if fields["budget"] is None else v_money(fields["budget"], "budget", problems)
            )
        if "goals" in fields:
            clean["goals"] = self._clean_goals(fields["goals"], problems)
        if "template_id" in fields:
            value = fields["template_id"]
            clean["template_id"] = None if value is None else v_id(value, "template_id", problems)
        return clean

    @staticmethod
    def _clean_content(value: Any, problems: ProblemCollector) -> dict[str, Any] | None:
        content = v_json_object(value, "content", problems)
        if content is None:
            return None
        try:
            check_content(content)
        except ValidationError as error:
            problems.extend(error)
            return None
        return content

    @staticmethod
    def _clean_goals(value: Any, problems: ProblemCollector) -> dict[str, Any] | None:
        goals = v_json_object(value, "goals", problems, max_bytes=8_000)
        if goals is None:
            return None
        for key, goal in goals.items():
            if goal is not None:
                v_money(goal, f"goals.{key}", problems)
        return goals

    def _check_platform_content(self, campaign: Campaign, problems: ProblemCollector) -> None:
        per_platform = campaign.content.get("platforms") or {}
        for key in per_platform:
            if key not in {p.value for p in campaign.platforms}:
                problems.add(
                    f"content.platforms.{key}",
                    "content for a platform the campaign does not target",
                    "invalid_value",
                )

    def _conflicts(self, tx: Tx, campaign: Campaign, at: datetime) -> list[ScheduleConflict]:
        window = self._rt.settings.schedule_conflict_window
        near = tx.uow.campaigns.find(
            And(
                Eq("user_id", self._account),
                In("status", [S.SCHEDULED, S.ACTIVE]),
                Gte("scheduled_for", at - window),
                Lte("scheduled_for", at + window),
            ),
            order_by=[Order("scheduled_for"), Order("id")],
            limit=200,
        )
        platforms = set(campaign.platforms)
        segments = set(campaign.segment_ids)
        out = []
        for other in near:
            if other.id == campaign.id or other.scheduled_for is None:
                continue
            if platforms & set(other.platforms) or segments & set(other.segment_ids):
                out.append(
                    ScheduleConflict(
                        campaign_id=other.id,
                        name=other.name,
                        status=other.status,
                        at=other.scheduled_for,
                        platforms=tuple(sorted(platforms & set(other.platforms))),
                        segment_ids=tuple(sorted(segments & set(other.segment_ids))),
                    )
                )
        return out

    def _save(self, tx: Tx, old: Campaign, **changes: Any) -> Campaign:
        if attrs.evolve(old, **changes) == old:
            return old  # nothing changes: no write, no new version, no audit record
        new = attrs.evolve(old, **changes, updated_at=self._rt.now(), version=old.version + 1)
        tx.uow.campaigns.update(new)
        return new

    def _transition(self, tx: Tx, campaign: Campaign, action: str, **changes: Any) -> Campaign:
        status = next_status(campaign.status, action)
        return self._save(tx, campaign, status=status, **changes)

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
        return self._create(given, scheduled_for, unknown)

    def _create(
        self,
        given: Mapping[str, Any],
        scheduled_for: Any,
        unknown: Mapping[str, Any],
        *,
        count_template_use: bool = False,
    ) -> Campaign:
        problems = ProblemCollector()
        check_unknown(unknown, problems, (*_FIELDS, "scheduled_for"))
        clean = self._clean_fields(given, problems, creating=True)
        now = self._rt.now()
        when = None
        if scheduled_for is not MISSING and scheduled_for is not None:
            when = v_datetime(scheduled_for, "scheduled_for", problems)
            if when is not None and when <= now:
                problems.add("scheduled_for", "must be in the future", "out_of_range")
        problems.raise_if_any()
        campaign = Campaign(
            id=self._rt.ids.new_id("campaign"),
            user_id=self._account,
            created_at=now,
            updated_at=now,
            **{
                k: v
                for k, v in clean.items()
                if v is not None or k in ("description", "budget", "template_id")
            },
        )
        self._check_platform_content(campaign, problems)
        if when is not None and not problems:
            problems.problems.extend(launch_problems(self._rt, campaign))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            self._check_segments(tx, campaign.segment_ids)
            if campaign.template_id is not None:
                template = self._get_template(tx, campaign.template_id)
                if count_template_use:
                    tx.uow.templates.increment(template.id, {"usage_count": 1})
                    # usageCount of a built-in template is shared by every account
                    tx.after_commit.append(self._forget_all_templates)
            if when is not None:
                conflicts = self._conflicts(tx, campaign, when)
                self._on_conflicts(tx, campaign, conflicts)
                campaign = attrs.evolve(campaign, status=S.SCHEDULED, scheduled_for=when)
            tx.uow.campaigns.add(campaign)
            tx.after_commit.append(
                lambda: self._rt.emitter.campaign_created(
                    campaign_type=campaign.type.value, owner_id=campaign.user_id
                )
            )
        return campaign

    def _check_segments(self, tx: Tx, segment_ids: Sequence[str]) -> None:
        """Every targeted segment exists in the actor's account (another's is not found)."""
        problems = ProblemCollector()
        owned = {
            s.id
            for s in tx.uow.segments.find(
                And(Eq("user_id", self._account), In("id", list(segment_ids)))
            )
        }
        for index, segment_id in enumerate(segment_ids):
            if segment_id not in owned:
                problems.add(
                    join_path("segment_ids", index),
                    f"no segment {segment_id!r} in this account",
                    "not_found",
                )
        problems.raise_if_any()

    def get_campaign(self, campaign_id: str) -> Campaign:
        """The campaign with this id.

        Raises:
            NotFoundError: no such campaign in the actor's account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            return self._load(tx, campaign_id)

    @audited("campaign.update")
    def update_campaign(self, campaign_id: str, **changes: Any) -> Campaign:
        """Change fields of a campaign, as the lifecycle's editing rules allow.

        Args:
            campaign_id: the campaign.
            **changes: any of name, description, type, platforms, segment_ids,
                content, media_urls, budget, goals. Status and schedule change
                through the lifecycle methods only.

        Raises:
            ValidationError: a bad or unknown field, or a field not editable in
                the campaign's status (path: the field).
            InvalidTransitionError: the campaign is completed or cancelled.
            ConflictError: someone else changed it meanwhile (stale version).
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
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
        check_unknown(unknown, problems, editable)
        clean = self._clean_fields(
            {k: v for k, v in changes.items() if k in editable}, problems, creating=False
        )
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
            problems.raise_if_any()
            if clean.get("segment_ids"):
                self._check_segments(tx, clean["segment_ids"])
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
        """Delete a draft, completed or cancelled campaign (and its publish jobs).

        Raises:
            InvalidTransitionError: the campaign is scheduled, active or paused.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status not in DELETABLE:
                raise InvalidTransitionError(campaign.status.value, "delete")
            tx.uow.publish_jobs.delete_where(Eq("campaign_id", campaign.id))
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
            values = value if isinstance(value, list | tuple) else [value]
            clean = v_enum_list(list(values), path, problems, kind)
            if clean is not None:
                conds.append(In(field, clean) if field != "platforms" else HasAny(field, clean))

        one_or_many(status, "status", CampaignStatus, "status")
        one_or_many(type, "type", CampaignType, "type")
        one_or_many(platform, "platform", Platform, "platforms")
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
        next_cursor = None
        if len(items) > size:
            items = items[:size]
            last = items[-1]
            next_cursor = _encode_cursor([getattr(last, order_by), last.id])
        return Page(items=tuple(items), total=total, next_cursor=next_cursor)

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

    # ------------------------------------------------------------------ templates
    def _ensure_catalog(self, tx: Tx) -> None:
        ids = [t.id for t in BUILTIN_TEMPLATES]
        present = {t.id for t in tx.uow.templates.find(In("id", ids))}
        missing = [t for t in BUILTIN_TEMPLATES if t.id not in present]
        if missing:
            tx.uow.templates.add_many(missing)

    def _get_template(self, tx: Tx, template_id: str) -> CampaignTemplate:
        self._ensure_catalog(tx)
        template = tx.uow.templates.get(template_id)
        if template is None:
            # workflows refer to built-in templates by key ("win_back_offer")
            builtin = builtin_template(template_id)
            template = None if builtin is None else tx.uow.templates.get(builtin.id)
        if template is None or (
            template.owner_id is not None and template.owner_id != self._account
        ):
            raise NotFoundError("template", template_id)
        return template

    def _forget_all_templates(self) -> None:
        self._rt.caches.templates.invalidate()

    def _forget_templates(self) -> None:
        self._rt.caches.for_account(self._rt.caches.templates, self._account)

    def get_templates(self, niche: Any = None) -> list[CampaignTemplate]:
        """Built-in templates plus the account's own, optionally for one niche.

        Args:
            niche: fitness, gaming, adult, fashion or general.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        clean = None if niche is None else v_enum(niche, "niche", problems, Niche)
        problems.raise_if_any()
        where: Cond = Or(IsNull("owner_id"), Eq("owner_id", self._account))
        if clean is not None:
            where = And(where, Eq("niche", clean))

        def load() -> list[CampaignTemplate]:
            with self._rt.transaction() as tx:
                self._ensure_catalog(tx)
                return tx.uow.templates.find(
                    where, order_by=[Order("niche"), Order("name"), Order("id")]
                )

        # cached per account and niche for the seed's hour; this core's writes invalidate it
        key = (self._account, "templates", None if clean is None else clean.value)
        cached: list[CampaignTemplate] = self._rt.caches.templates.get_or_load(key, load)  # type: ignore[assignment]
        return list(cached)

    @audited("campaign.create_from_template")
    def create_from_template(
        self, template_id: str, customization: Any = None, **overrides: Any
    ) -> Campaign:
        """Create a draft campaign from a template.

        The template's content and settings (goals, platforms, budget...) are
        deep-merged with ``customization`` (JSON, camelCase as the seed sends it)
        and then ``overrides`` (keyword arguments, snake_case). The template's
        ``usageCount`` grows by one.

        Args:
            template_id: a template id, or a built-in template's key.
            customization: e.g. ``{"name": "Spring", "content": {"price": 39.99}}``.
            **overrides: the same fields as ``create_campaign``.

        Raises:
            NotFoundError: no such template visible to the account.
            ValidationError: a bad or unknown customization field.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        custom: dict[str, Any] = {}
        if customization is not None:
            if not isinstance(customization, Mapping):
                problems.add("customization", "expected an object", "invalid_type")
            else:
                by_camel = {camel(f): f for f in (*_FIELDS, "scheduled_for")}
                for key, value in customization.items():
                    field = by_camel.get(key, key) if isinstance(key, str) else key
                    if field not in (*_FIELDS, "scheduled_for") or field == "template_id":
                        problems.add(f"customization.{key}", "unknown field", "unknown_field")
                    else:
                        custom[field] = value
                inner = ProblemCollector()
                self._clean_fields(
                    {k: v for k, v in custom.items() if k != "scheduled_for"}, inner, creating=False
                )
                if "scheduled_for" in custom and custom["scheduled_for"] is not None:
                    v_datetime(custom["scheduled_for"], "scheduled_for", inner)
                for problem in inner.problems:
                    problems.add(
                        f"customization.{camel(problem.path)}", problem.message, problem.code
                    )
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            template = self._get_template(tx, template_id)
        settings = template.default_settings
        base: dict[str, Any] = {
            "name": template.name,
            "description": template.description,
            "type": template.type.value,
            "content": template.content,
        }
        for key in ("platforms", "goals", "budget", "mediaUrls", "segmentIds"):
            if key in settings:
                field = {camel(f): f for f in _FIELDS}[key]
                base[field] = settings[key]
        merged = base
        for layer in (custom, overrides):
            for key, value in layer.items():
                if (
                    key in ("content", "goals")
                    and isinstance(value, Mapping)
                    and isinstance(merged.get(key), Mapping)
                ):
                    merged[key] = deep_merge(merged[key], value)
                else:
                    merged[key] = value
        scheduled_for = merged.pop("scheduled_for", MISSING)
        merged["template_id"] = template.id
        unknown = {k: v for k, v in merged.items() if k not in _FIELDS}
        given = {k: v for k, v in merged.items() if k in _FIELDS}
        return self._create(given, scheduled_for, unknown, count_template_use=True)

    @audited("template.create")
    def save_as_template(
        self, campaign_id: str, name: Any, *, niche: Any = "general", description: Any = MISSING
    ) -> CampaignTemplate:
        """Save a campaign's content and settings as a template only this account sees.

        Raises:
            NotFoundError: no such campaign.
            ValidationError: bad name or niche.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        clean_name = v_text(name, "name", problems, max_length=_NAME_MAX)
        clean_niche = v_enum(niche, "niche", problems, Niche)
        clean_description = None
        if description is not MISSING:
            clean_description = v_text(
                description,
                "description",
                problems,
                required=False,
                max_length=_DESCRIPTION_MAX,
                allow_blank=True,
            )
        problems.raise_if_any()
        assert clean_name is not None
        assert clean_niche is not None
        now = self._rt.now()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            settings: dict[str, Any] = {
                "platforms": [p.value for p in campaign.platforms],
                "goals": campaign.goals,
                "mediaUrls": list(campaign.media_urls),
                "segmentIds": list(campaign.segment_ids),
            }
            if campaign.budget is not None:
                settings["budget"] = campaign.budget
            template = CampaignTemplate(
                id=self._rt.ids.new_id("template"),
                name=clean_name,
                description=clean_description
                if description is not MISSING
                else campaign.description,
                niche=clean_niche,
                type=campaign.type,
                content=copy.deepcopy(campaign.content),
                default_settings=settings,
                owner_id=self._account,
                created_at=now,
                updated_at=now,
            )
            tx.uow.templates.add(template)
            tx.after_commit.append(self._forget_templates)
        return template

    @audited("template.delete")
    def delete_template(self, template_id: str) -> None:
        """Delete one of the account's own templates (built-ins are read-only).

        Raises:
            NotFoundError: no such template of the account.
            PermissionDeniedError: the template is built in.
        """
        self._svc._require(Permission.DELETE)
        with self._rt.transaction() as tx:
            template = self._get_template(tx, template_id)
            if template.owner_id is None:
                raise PermissionDeniedError("built-in templates are read-only")
            tx.uow.templates.delete(template.id)
            tx.after_commit.append(self._forget_templates)

    # ------------------------------------------------------------------ lifecycle
    def _on_conflicts(self, tx: Tx, campaign: Campaign, conflicts: list[ScheduleConflict]) -> None:
        if not conflicts:
            return
        data = {"conflicts": [c.campaign_id for c in conflicts]}
        if self._rt.settings.strict_scheduling:
            raise ConflictError(
                f"campaign {campaign.id!r} would run within "
                f"{self._rt.settings.schedule_conflict_window} of {len(conflicts)} other campaign(s)",
                details=data,
            )
        self._rt.alert(
            tx,
            Alert(
                kind=AlertKind.SCHEDULE_CONFLICT,
                owner_id=campaign.user_id,
                message=f"'{campaign.name}' is scheduled close to {len(conflicts)} other campaign(s) "
                "on a shared platform or segment",
                entity="campaign",
                entity_id=campaign.id,
                at=self._rt.now(),
                data=data,
            ),
        )

    def find_schedule_conflicts(
        self, campaign_id: str, scheduled_for: Any
    ) -> list[ScheduleConflict]:
        """The account's other campaigns that would clash with scheduling this one at ``scheduled_for``."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        when = v_datetime(scheduled_for, "scheduled_for", problems)
        problems.raise_if_any()
        assert when is not None
        with self._rt.transaction() as tx:
            return self._conflicts(tx, self._load(tx, campaign_id), when)

    @audited("campaign.schedule")
    def schedule_campaign(self, campaign_id: str, scheduled_for: Any) -> Campaign:
        """Schedule (or reschedule) a campaign; ``tick()`` launches it when due.

        Other campaigns of the account within ``settings.schedule_conflict_window``
        on a shared platform or segment are reported through the alerter (see
        :meth:`find_schedule_conflicts`); with ``settings.strict_scheduling`` the
        call raises ``ConflictError`` instead.

        The campaign must be launchable now, by the checks of
        :meth:`launch_campaign` (a platform, content every platform accepts, a
        budget not spent), so that a mistake shows when scheduling rather than
        at launch time. A scheduled campaign that has become unlaunchable by its
        time (edited, or its budget spent) is returned to draft by ``tick()``
        with a ``launch_failed`` alert.

        Raises:
            ValidationError: ``scheduled_for`` is not an aware datetime in the
                future, or the campaign could not launch (same paths as
                :meth:`launch_campaign`).
            InvalidTransitionError: the campaign is not draft or scheduled.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        when = v_datetime(scheduled_for, "scheduled_for", problems)
        if when is not None and when <= self._rt.now():
            problems.add("scheduled_for", "must be in the future", "out_of_range")
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            next_status(campaign.status, "schedule")
            problems.problems.extend(launch_problems(self._rt, campaign))
            problems.raise_if_any()
            self._on_conflicts(tx, campaign, self._conflicts(tx, campaign, when))  # type: ignore[arg-type]
            return self._transition(tx, campaign, "schedule", scheduled_for=when)

    @audited("campaign.unschedule")
    def unschedule_campaign(self, campaign_id: str) -> Campaign:
        """Return a scheduled campaign to draft."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            return self._transition(tx, campaign, "unschedule", scheduled_for=None)

    @audited("campaign.launch")
    def launch_campaign(self, campaign_id: str) -> CampaignLaunchResult:
        """Launch now: validate, go active, and publish to every target platform.

        One publish job per platform is queued in the same transaction as the
        status change, then tried at once. A platform that fails with a
        retryable error is retried by ``tick()`` with exponential backoff; the
        result shows each platform's status. Once the campaign is active this
        method does not raise for one platform's failure: a stored credential
        the core cannot open (sealed with another key, or no
        ``credential_keys`` configured) fails that platform (``failed``, with
        an alert to the owner) and an unexpected error counts as a failed
        attempt retried later; the other platforms are published either way.

        Raises:
            InvalidTransitionError: not draft or scheduled.
            ValidationError: nothing to launch (no platform, no content, budget spent).
        """
        self._svc._require(Permission.LIFECYCLE)
        campaign, job_ids = launch(self._rt, campaign_id, self._account)
        results = run_publish_jobs(self._rt, job_ids)
        return CampaignLaunchResult(
            campaign=self.get_campaign(campaign.id), platforms=tuple(results)
        )

    @audited("campaign.publish")
    def publish_to_platforms(
        self,
        campaign_id: str,
        platforms: Any,
        *,
        force: bool = False,
        retry_failed: bool = False,
    ) -> list[PlatformPublishResult]:
        """Publish an active campaign's current content to some of its platforms now.

        Platforms already published for the current content version are not
        published again, nor are failed ones (unless ``retry_failed``); a
        platform waiting for its retry (``retrying`` with ``next_attempt_at``
        still ahead) is not tried before that time unless ``force`` is true.
        Their result is reported as it stands.

        Args:
            campaign_id: an active campaign.
            platforms: a list of the campaign's platforms.
            force: retry now the platforms that are waiting for their backoff
                (each such retry still counts against the retry policy's
                ``max_attempts``).
            retry_failed: give the listed platforms that ``failed`` (for this
                content version) a new round of attempts, from now: for after the
                cause is fixed (a credential sealed again, a rejected account
                reinstated). A failed job never posted, so this cannot post twice.

        Raises:
            ValidationError: a platform the campaign does not target.
            InvalidTransitionError: the campaign is not active.
        """
        self._svc._require(Permission.LIFECYCLE)
        problems = ProblemCollector()
        clean = v_enum_list(platforms, "platforms", problems, Platform)
        v_bool(force, "force", problems)
        v_bool(retry_failed, "retry_failed", problems)
        problems.raise_if_any()
        assert clean is not None
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status is not S.ACTIVE:
                raise InvalidTransitionError(campaign.status.value, "publish")
            _check_targets(campaign, clean, problems)
            problems.raise_if_any()
            enqueue_publish_jobs(tx, self._rt, campaign, clean)
            keys = [f"{campaign.id}:{p.value}:v{campaign.content_version}" for p in clean]
            jobs = [tx.uow.publish_jobs.find(Eq("idempotency_key", k), limit=1)[0] for k in keys]
            if retry_failed:
                now = self._rt.now()
                for job in jobs:
                    if job.status is PublishStatus.FAILED:
                        tx.uow.publish_jobs.update(
                            attrs.evolve(
                                job,
                                status=PublishStatus.PENDING,
                                attempts=0,
                                next_attempt_at=None,
                                last_error=None,
                                updated_at=now,
                                version=job.version + 1,
                            )
                        )
        return run_publish_jobs(self._rt, [j.id for j in jobs], force=force)

    def preview_platform_content(
        self, campaign_id: str, platforms: Any = None
    ) -> list[AdaptationResult]:
        """What each platform would get if the campaign were published now, and why.

        The campaign's content adapted for each target platform (or the listed
        ones), the way launching and publishing adapt it, each with its report
        of what adaptation changed (``changes``: a caption trimmed, hashtags
        dropped, media beyond the platform's count left out...). Nothing is
        written; any campaign status works, so a draft can be checked before
        it is scheduled.

        Raises:
            ValidationError: a platform the campaign does not target, or
                content that cannot fit a platform (the same problems
                ``launch_campaign`` would report).
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        clean = (
            None if platforms is None else v_enum_list(platforms, "platforms", problems, Platform)
        )
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
        _check_targets(campaign, clean or (), problems)
        problems.raise_if_any()
        adapted = adapt_campaign(self._rt, campaign, clean or campaign.platforms)
        return list(adapted.values())

    def get_publish_status(self, campaign_id: str) -> list[PlatformPublishResult]:
        """Each platform's publishing state for the campaign's latest content version."""
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            jobs = tx.uow.publish_jobs.find(
                Eq("campaign_id", campaign.id),
                order_by=[Order("content_version", True), Order("platform")],
            )
        latest: dict[str, PlatformPublishResult] = {}
        for job in jobs:
            latest.setdefault(job.platform.value, PlatformPublishResult.of(job))
        return [latest[p] for p in sorted(latest)]

    @audited("campaign.pause")
    def pause_campaign(self, campaign_id: str) -> Campaign:
        """Pause an active campaign."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            return self._transition(
                tx, self._load(tx, campaign_id), "pause", paused_reason="manual"
            )

    @audited("campaign.resume")
    def resume_campaign(self, campaign_id: str) -> Campaign:
        """Resume a paused campaign.

        Raises:
            ConflictError: it was paused because its budget is spent and the
                budget has not been raised.
        """
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            next_status(campaign.status, "resume")
            if campaign.budget is not None and campaign.spent >= campaign.budget:
                raise ConflictError(
                    "the campaign's budget is spent; raise the budget before resuming",
                    details={"budget": campaign.budget, "spent": campaign.spent},
                )
            return self._transition(tx, campaign, "resume", paused_reason=None)

    @audited("campaign.complete")
    def complete_campaign(self, campaign_id: str) -> Campaign:
        """Complete an active or paused campaign."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            return self._transition(tx, campaign, "complete", completed_at=self._rt.now())

    @audited("campaign.cancel")
    def cancel_campaign(self, campaign_id: str) -> Campaign:
        """Cancel a campaign that is not yet completed; pending publish jobs stop."""
        self._svc._require(Permission.LIFECYCLE)
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            updated = self._transition(tx, campaign, "cancel", completed_at=self._rt.now())
            cancel_pending_jobs(tx, self._rt, campaign.id)
            return updated

    @audited("campaign.duplicate")
    def duplicate_campaign(
        self, campaign_id: str, modifications: Mapping[str, Any] | None = None
    ) -> Campaign:
        """Copy a campaign's content and settings into a new draft (never metrics or status).

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
        given: dict[str, Any] = {
            "name": (source.name + " (copy)")[:_NAME_MAX],
            "description": source.description,
            "type": source.type.value,
            "platforms": [p.value for p in source.platforms],
            "segment_ids": list(source.segment_ids),
            "content": source.content,
            "media_urls": list(source.media_urls),
            "budget": source.budget,
            "goals": source.goals,
            "template_id": source.template_id,
        }
        given.update(mods)
        return self._create(given, MISSING, {})

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


def _check_targets(
    campaign: Campaign, platforms: Sequence[Platform], problems: ProblemCollector
) -> None:
    """A problem at ``platforms[i]`` for each listed platform the campaign does not target."""
    for index, platform in enumerate(platforms):
        if platform not in campaign.platforms:
            problems.add(f"platforms[{index}]", "the campaign does not target this platform")
