"""The template methods of ``ws.campaigns``: the catalog, creating from a template, saving one."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import attrs

from campaign_core._naming import camel
from campaign_core._tracking_fallback import chunked, tracking_aggregates
from campaign_core._validate import (
    MISSING,
    v_datetime,
    v_enum,
    v_text,
)
from campaign_core.audit import audited
from campaign_core.catalog import deep_merge
from campaign_core.errors import (
    PermissionDeniedError,
    ProblemCollector,
)
from campaign_core.jobs.rollup import campaign_metrics
from campaign_core.models import (
    Campaign,
    CampaignStatus,
    CampaignTemplate,
    Niche,
)
from campaign_core.permissions import Permission
from campaign_core.query import (
    And,
    Cond,
    Eq,
    In,
    IsNull,
    Or,
    Order,
)
from campaign_core.services._campaign_base import (
    _DESCRIPTION_MAX,
    _FIELDS,
    _NAME_MAX,
    CampaignServiceBase,
)

__all__ = ["CampaignTemplates"]


class CampaignTemplates(CampaignServiceBase):
    """Templates: built-in and the account's own (part of :class:`CampaignService`)."""

    def get_templates(self, niche: Any = None) -> list[CampaignTemplate]:
        """Built-in templates plus the account's own, optionally for one niche.

        Each template's ``avg_performance`` (the seed's ``avgPerformance``) is
        computed when read, for this account: the mean conversion rate
        (conversions / clicks) of the account's **completed** campaigns created
        from the template, over those with at least one click; None when there
        are none. A built-in template shows each account its own campaigns only.

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
        return self._with_performance(list(cached))

    def _with_performance(self, templates: list[CampaignTemplate]) -> list[CampaignTemplate]:
        """The templates with ``avg_performance`` computed for this account (see get_templates)."""
        if not templates:
            return templates
        ids = [t.id for t in templates]
        with self._rt.transaction(read_only=True) as tx:
            campaigns = [
                c
                for chunk in chunked(ids)
                for c in tx.uow.campaigns.find(
                    And(
                        Eq("user_id", self._account),
                        Eq("status", CampaignStatus.COMPLETED),
                        In("template_id", chunk),
                    )
                )
            ]
            counts = (
                tracking_aggregates(tx.uow).counts([c.id for c in campaigns]) if campaigns else {}
            )
        rates: dict[str, list[float]] = {}
        for campaign in campaigns:
            totals = campaign_metrics(campaign, counts[campaign.id]).totals
            if totals.clicks and totals.conversion_rate is not None:
                rates.setdefault(str(campaign.template_id), []).append(totals.conversion_rate)
        return [
            attrs.evolve(
                t,
                avg_performance=(
                    math.fsum(rates[t.id]) / len(rates[t.id]) if t.id in rates else None
                ),
            )
            for t in templates
        ]

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
        return self._from_template(template_id, customization, overrides)

    @audited("campaign.create_from_template")
    def _from_template(
        self,
        template_id: str,
        customization: Any,
        overrides: Mapping[str, Any],
        *,
        workflow_id: str | None = None,
    ) -> Campaign:
        """:meth:`create_from_template`; ``workflow_id`` links the campaign to the workflow that made it."""
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
        return self._create(
            given, scheduled_for, unknown, count_template_use=True, workflow_id=workflow_id
        )

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
                "platforms": [str(p) for p in campaign.platforms],
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
