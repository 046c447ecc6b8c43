"""What every campaign method builds on: the fields and their checks, loading and saving, conflicts.

:class:`CampaignServiceBase` holds one account's unit-of-work helpers; the
templates (``_campaign_templates``), the lifecycle and publishing
(``_campaign_lifecycle``) and the CRUD of
:class:`~campaign_core.services.campaigns.CampaignService` build on it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_datetime,
    v_enum,
    v_id,
    v_json_object,
    v_money,
    v_str_list,
    v_text,
    v_url_list,
)
from campaign_core.alerts import Alert, AlertKind
from campaign_core.audience import registry_for
from campaign_core.catalog import BUILTIN_TEMPLATES, builtin_template
from campaign_core.criteria import Criteria, normalize
from campaign_core.delivery import parse_message
from campaign_core.errors import (
    ConflictError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.jobs.launches import launch_problems
from campaign_core.jobs.publishing import (
    PlatformPublishResult,
)
from campaign_core.lifecycle import next_status
from campaign_core.models import (
    Broadcast,
    Campaign,
    CampaignStatus,
    CampaignTemplate,
    CampaignType,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.publishing import check_content
from campaign_core.query import (
    And,
    Eq,
    Gte,
    In,
    Lte,
    Order,
)

__all__ = ["CampaignLaunchResult", "CampaignServiceBase", "ScheduleConflict"]

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
_CRITERIA: Final = "audience_criteria"


@attrs.frozen
class ScheduleConflict:
    """Another campaign of the owner too close in time on a shared platform or segment."""

    campaign_id: str
    name: str
    status: CampaignStatus
    at: datetime
    platforms: tuple[str, ...]
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


class CampaignServiceBase:
    """One account's campaigns as one actor: the helpers the campaign methods share."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

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

    def get_campaign(self, campaign_id: str) -> Campaign:
        """The campaign with this id.

        Raises:
            NotFoundError: no such campaign in the actor's account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction(read_only=True) as tx:
            return self._load(tx, campaign_id)

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
            clean["platforms"] = self._rt.settings.platforms.check_list(
                fields["platforms"], "platforms", problems
            )
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

    def _clean_content(self, value: Any, problems: ProblemCollector) -> dict[str, Any] | None:
        content = v_json_object(value, "content", problems)
        if content is None:
            return None
        try:
            check_content(content, platforms=self._rt.settings.platforms.names)
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
            if key not in set(campaign.platforms):
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

    def _message(
        self,
        raw: Any,
        segment_ids: Sequence[str] | None,
        problems: ProblemCollector,
        criteria: Any = None,
    ) -> dict[str, Any] | None:
        """A campaign's message checked against the messaging settings (None: none or bad)."""
        if raw is MISSING or raw is None:
            return None
        message = parse_message(
            raw,
            self._rt.settings.messaging,
            problems,
            templates=self._rt.settings.automation.message_templates,
        )
        if segment_ids is not None and not segment_ids and criteria is None:
            problems.add(
                "segment_ids",
                "a campaign with a message needs segments (or audience_criteria) to deliver to",
                "required",
            )
        return message

    def _audience_criteria(
        self, raw: Any, segment_ids: Sequence[str] | None, problems: ProblemCollector
    ) -> dict[str, Any] | None:
        """A campaign's audience given as criteria, canonical (None: none or bad).

        The segments' criteria language, checked with the account's fields; a
        campaign's audience is its segments or its criteria, not both.
        """
        if raw is MISSING or raw is None:
            return None
        try:
            criteria = normalize(raw, registry=registry_for(self._rt.settings), path=_CRITERIA)
        except ValidationError as error:
            problems.extend(error)
            return None
        if segment_ids:
            problems.add(
                _CRITERIA,
                "a campaign's audience is its segment_ids or its audience_criteria, not both",
                "invalid_value",
            )
        return criteria.to_json()

    def _check_criteria_segments(self, tx: Tx, criteria: Mapping[str, Any] | None) -> None:
        """The segments the criteria's ``in_segment`` leaves name must be the account's."""
        if not criteria:
            return
        referenced = sorted(
            Criteria.from_json(criteria, registry=registry_for(self._rt.settings)).segment_ids()
        )
        if not referenced:
            return
        mine = {
            s.id
            for s in tx.uow.segments.find(And(Eq("user_id", self._account), In("id", referenced)))
        }
        problems = ProblemCollector()
        for segment_id in referenced:
            if segment_id not in mine:
                problems.add(_CRITERIA, f"no segment {segment_id!r} in this account", "not_found")
        problems.raise_if_any()

    def _save_message(
        self,
        tx: Tx,
        campaign: Campaign,
        message: dict[str, Any] | None,
        criteria: dict[str, Any] | object | None = MISSING,
    ) -> None:
        """Create, replace or (None) remove the campaign's broadcast before it launches.

        ``criteria``: the audience criteria to keep with it (MISSING: unchanged).
        """
        current = tx.uow.broadcasts.get(campaign.id)
        now = self._rt.now()
        if message is None:
            if current is not None:
                tx.uow.broadcasts.delete(current.id)
            return
        audience = (
            (current.audience_criteria if current is not None else None)
            if criteria is MISSING
            else criteria
        )
        assert audience is None or isinstance(audience, dict)
        if current is None:
            tx.uow.broadcasts.add(
                Broadcast(
                    id=campaign.id,
                    campaign_id=campaign.id,
                    owner_id=campaign.user_id,
                    message=message,
                    audience_criteria=audience,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif current.message != message or current.audience_criteria != audience:
            tx.uow.broadcasts.update(
                attrs.evolve(
                    current,
                    message=message,
                    audience_criteria=audience,
                    updated_at=now,
                    version=current.version + 1,
                )
            )

    def _create(
        self,
        given: Mapping[str, Any],
        scheduled_for: Any,
        unknown: Mapping[str, Any],
        *,
        count_template_use: bool = False,
        message: Any = MISSING,
        workflow_id: str | None = None,
        audience_criteria: Any = MISSING,
    ) -> Campaign:
        problems = ProblemCollector()
        check_unknown(unknown, problems, (*_FIELDS, "scheduled_for", "message", _CRITERIA))
        clean = self._clean_fields(given, problems, creating=True)
        criteria = self._audience_criteria(audience_criteria, clean.get("segment_ids"), problems)
        if criteria is not None and (message is MISSING or message is None):
            problems.add(_CRITERIA, "audience criteria need a message to deliver", "required")
        spec = self._message(message, clean.get("segment_ids") or (), problems, criteria)
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
            self._check_criteria_segments(tx, criteria)
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
            if workflow_id is not None:
                # the seed's Automation.campaigns: the workflow whose step made it
                tx.uow.automation_campaigns.link(workflow_id, campaign.id)
            if spec is not None:
                self._save_message(tx, campaign, spec, criteria)
            tx.after_commit.append(
                lambda: self._rt.emitter.campaign_created(
                    campaign_type=campaign.type.value, owner_id=campaign.user_id
                )
            )
        return campaign

    def _check_segments(self, tx: Tx, segment_ids: Sequence[str]) -> None:
        """Every targeted segment exists in the actor's account (another's is not found)."""
        if not segment_ids:
            return  # nothing to look up: no query
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
