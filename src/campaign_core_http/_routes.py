"""The route table: one declarative spec per service method.

A :class:`Route` names the HTTP method and path, the service method it calls
(``"campaigns.launch_campaign"`` is ``core.for_actor(actor).campaigns.launch_campaign``), its
success status and how its result is shaped; the app and the OpenAPI document are both
derived from :data:`ROUTES`. Path parameters (``{campaignId}``) and, for requests with a
body, the body's top-level keys become the method's keyword arguments (camelCase to
snake_case); a GET's query parameters are listed with their types.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from campaign_core.models import Automation, Campaign, Segment

__all__ = ["ROUTES", "QueryType", "Route"]

QueryType = Literal["string", "integer", "number", "boolean", "array"]


def _frozen(value: Mapping[str, QueryType]) -> Mapping[str, QueryType]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Route:
    """One service method on the wire.

    Attributes:
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: the path, parameters in braces and camelCase (``/campaigns/{campaignId}``).
        call: ``service.method`` on the actor's workspace.
        status: the status of a success (204 when the method returns None).
        query: a GET's query parameters, camelCase name to type.
        page_of: the record class of a :class:`~campaign_core.services.Page`'s items;
            the answer is ``{"items", "total", "next"}``, ``next`` the cursor to pass back.
        keyset: the query parameter a list is continued with, given its last item's id
            (``before`` for the audit trail); the answer then carries ``next`` too.
        wrap: a scalar result (a count, a yes/no) is answered as ``{wrap: value}``.
        download: the result is a file (``format=csv|pdf``) unless JSON was asked for.
        own_json: the result is written by its own ``to_json()`` (a workflow definition in
            the form it is written in), not by the records' converter.
        tag: the OpenAPI tag.
        body_fields: for a method taking ``**fields``, the fields of the record it answers
            with that a body may carry (snake_case): the OpenAPI body lists them, typed
            from the record's schema, and no others.
    """

    method: str
    path: str
    call: str
    status: int = 200
    query: Mapping[str, QueryType] = attrs.field(factory=dict, converter=_frozen)
    page_of: type[Any] | None = None
    keyset: str | None = None
    wrap: str | None = None
    download: bool = False
    own_json: bool = False
    tag: str = ""
    body_fields: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        return self.call.split(".", 1)[0]

    @property
    def operation_id(self) -> str:
        return self.call.replace(".", "_")


_PAGE: Mapping[str, QueryType] = {"limit": "integer", "cursor": "string"}
_OFFSET: Mapping[str, QueryType] = {"limit": "integer", "offset": "integer"}


def _routes() -> tuple[Route, ...]:
    c = "/campaigns/{campaignId}"
    t = "/ab-tests/{testId}"
    w = "/workflows/{workflowId}"
    s = "/segments/{segmentId}"
    f = "/fans/{fanId}"
    msg = "message-templates"
    camp, tmpl, ab, an, fan, seg, aut, aud, cred = (
        "campaigns",
        "templates",
        "ab-tests",
        "analytics",
        "fans",
        "segments",
        "automations",
        "audit",
        "credentials",
    )
    return (
        # campaigns and their lifecycle
        Route("POST", "/campaigns", "campaigns.create_campaign", 201, tag=camp),
        Route(
            "GET",
            "/campaigns",
            "campaigns.list_campaigns",
            query={
                "status": "array",
                "type": "array",
                "platform": "array",
                "segmentId": "string",
                "search": "string",
                "createdFrom": "string",
                "createdTo": "string",
                "scheduledFrom": "string",
                "scheduledTo": "string",
                "isABTest": "boolean",
                "includeArchived": "boolean",
                "orderBy": "string",
                "descending": "boolean",
                **_PAGE,
            },
            page_of=Campaign,
            tag=camp,
        ),
        Route("GET", c, "campaigns.get_campaign", tag=camp),
        Route(
            "PATCH",
            c,
            "campaigns.update_campaign",
            tag=camp,
            body_fields=(
                "name",
                "description",
                "type",
                "platforms",
                "segment_ids",
                "content",
                "media_urls",
                "budget",
                "goals",
                "message",
                "audience_criteria",
            ),
        ),
        Route("DELETE", c, "campaigns.delete_campaign", 204, tag=camp),
        Route("POST", f"{c}/duplicate", "campaigns.duplicate_campaign", 201, tag=camp),
        Route("POST", f"{c}/launch", "campaigns.launch_campaign", tag=camp),
        Route("POST", f"{c}/schedule", "campaigns.schedule_campaign", tag=camp),
        Route("POST", f"{c}/unschedule", "campaigns.unschedule_campaign", tag=camp),
        Route("POST", f"{c}/pause", "campaigns.pause_campaign", tag=camp),
        Route("POST", f"{c}/resume", "campaigns.resume_campaign", tag=camp),
        Route("POST", f"{c}/cancel", "campaigns.cancel_campaign", tag=camp),
        Route("POST", f"{c}/complete", "campaigns.complete_campaign", tag=camp),
        Route("POST", f"{c}/archive", "campaigns.archive_campaign", tag=camp),
        Route("POST", f"{c}/restore", "campaigns.restore_campaign", tag=camp),
        Route("GET", f"{c}/delivery", "campaigns.get_delivery_status", tag=camp),
        Route(
            "GET",
            f"{c}/schedule-conflicts",
            "campaigns.find_schedule_conflicts",
            query={"scheduledFor": "string"},
            tag=camp,
        ),
        Route("POST", f"{c}/spend", "campaigns.record_spend", tag=camp),
        # publishing and preview
        Route("POST", f"{c}/publications", "campaigns.publish_to_platforms", tag=camp),
        Route("GET", f"{c}/publications", "campaigns.get_publish_status", tag=camp),
        Route(
            "GET",
            f"{c}/preview",
            "campaigns.preview_platform_content",
            query={"platforms": "array"},
            tag=camp,
        ),
        # templates
        Route("GET", "/templates", "campaigns.get_templates", query={"niche": "string"}, tag=tmpl),
        Route("POST", f"{c}/templates", "campaigns.save_as_template", 201, tag=tmpl),
        Route(
            "POST",
            "/templates/{templateId}/campaigns",
            "campaigns.create_from_template",
            201,
            tag=tmpl,
        ),
        Route("DELETE", "/templates/{templateId}", "campaigns.delete_template", 204, tag=tmpl),
        # A/B tests
        Route("POST", f"{c}/ab-tests", "abtests.create_ab_test", 201, tag=ab),
        Route(
            "GET",
            "/ab-tests",
            "abtests.list_ab_tests",
            query={"campaignId": "string", "status": "array"},
            tag=ab,
        ),
        Route("GET", t, "abtests.get_ab_test", tag=ab),
        Route("POST", f"{t}/cancel", "abtests.cancel_ab_test", tag=ab),
        Route("POST", f"{t}/winner", "abtests.determine_winner", tag=ab),
        Route("POST", f"{t}/apply-winner", "abtests.apply_winner", tag=ab),
        Route("POST", f"{t}/assignments", "abtests.get_variant_for_fan", tag=ab),
        Route(
            "POST",
            "/ab-test-variants/{variantId}/performance",
            "abtests.track_variant_performance",
            tag=ab,
        ),
        # analytics
        Route("GET", f"{c}/metrics", "analytics.get_campaign_metrics", tag=an),
        Route("GET", f"{c}/roi", "analytics.get_campaign_roi", tag=an),
        Route("GET", f"{c}/budget-pacing", "analytics.get_budget_pacing", tag=an),
        Route(
            "GET",
            f"{c}/funnel",
            "analytics.get_conversion_funnel",
            query={"platform": "string", "variantId": "string"},
            tag=an,
        ),
        Route(
            "GET",
            f"{c}/platform-comparison",
            "analytics.compare_platforms",
            query={"alpha": "number"},
            tag=an,
        ),
        Route(
            "GET",
            f"{c}/report",
            "analytics.generate_report",
            query={
                "format": "string",
                "since": "string",
                "until": "string",
                "csvDialect": "string",
            },
            download=True,
            tag=an,
        ),
        Route("POST", f"{c}/impressions", "analytics.track_impression", 201, tag=an),
        Route("POST", f"{c}/clicks", "analytics.track_click", 201, tag=an),
        Route("POST", f"{c}/conversions", "analytics.track_conversion", 201, tag=an),
        Route("POST", f"{c}/spend-events", "analytics.track_spend", 201, tag=an),
        Route("POST", "/tracking-events", "analytics.track_events", tag=an),
        Route("POST", "/analytics/campaign-comparison", "analytics.compare_campaigns", tag=an),
        Route(
            "GET",
            "/analytics/trends",
            "analytics.get_performance_trends",
            query={
                "timeframe": "string",
                "campaignId": "string",
                "start": "string",
                "end": "string",
                "bucket": "string",
                "timezone": "string",
                "source": "string",
            },
            tag=an,
        ),
        Route("GET", "/analytics/recommendations", "analytics.get_recommendations", tag=an),
        Route(
            "GET",
            "/analytics/top-campaigns",
            "analytics.get_top_performing_campaigns",
            query={"limit": "integer", "by": "string", "minSpent": "number"},
            tag=an,
        ),
        Route(
            "GET",
            "/analytics/patterns",
            "analytics.identify_patterns",
            query={"metric": "string", "alpha": "number", "timezone": "string"},
            tag=an,
        ),
        # fans, events, consent and GDPR
        Route(
            "GET",
            "/fans",
            "fans.list_fans",
            query={
                "platform": "array",
                "subscriptionStatus": "array",
                "optedOut": "boolean",
                **_OFFSET,
            },
            tag=fan,
        ),
        Route("POST", "/fans/import", "fans.import_fans", tag=fan),
        Route(
            "PUT",
            f,
            "fans.upsert_fan",
            tag=fan,
            body_fields=(
                "platform",
                "spending_level",
                "engagement",
                "lifetime_value",
                "subscription_status",
                "subscribed_at",
                "last_activity_at",
                "time_zone",
                "opted_out",
                "traits",
                "addresses",
            ),
        ),
        Route("GET", f, "fans.get_fan", tag=fan),
        Route("DELETE", f, "fans.erase_fan", tag=fan),
        Route("GET", f"{f}/export", "fans.export_fan", tag=fan),
        Route("POST", f"{f}/events", "fans.record_event", 201, tag=fan),
        Route(
            "GET",
            f"{f}/events",
            "fans.list_events",
            query={"name": "string", "since": "string", "until": "string", "limit": "integer"},
            tag=fan,
        ),
        Route("PUT", f"{f}/consent", "fans.set_consent", tag=fan),
        Route(
            "GET",
            f"{f}/consent",
            "fans.get_consent",
            query={"channel": "string", "topic": "string"},
            tag=fan,
        ),
        Route(
            "GET",
            f"{f}/consent-history",
            "fans.consent_history",
            query={"channel": "string", "topic": "string", "limit": "integer"},
            tag=fan,
        ),
        Route("POST", f"{f}/unsubscribe-tokens", "fans.unsubscribe_token", wrap="token", tag=fan),
        Route("POST", "/suppressions", "fans.suppress", 201, tag=fan),
        Route(
            "GET",
            "/suppressions/{channel}/{address}",
            "fans.is_suppressed",
            wrap="suppressed",
            tag=fan,
        ),
        Route(
            "DELETE",
            "/suppressions/{channel}/{address}",
            "fans.unsuppress",
            wrap="changed",
            tag=fan,
        ),
        Route("POST", "/delivery-events", "fans.record_delivery_events", tag=fan),
        # message templates
        Route("POST", "/message-templates", "messages.create", 201, tag=msg),
        Route("GET", "/message-templates", "messages.list", query={"channel": "string"}, tag=msg),
        Route("GET", "/message-templates/{templateId}", "messages.get", tag=msg),
        Route("GET", "/message-templates/by-name/{name}", "messages.get_by_name", tag=msg),
        Route("PATCH", "/message-templates/{templateId}", "messages.update", tag=msg),
        Route("DELETE", "/message-templates/{templateId}", "messages.delete", 204, tag=msg),
        Route(
            "POST",
            "/message-templates/by-name/{template}/preview",
            "messages.render_preview",
            tag=msg,
        ),
        # segments
        Route("POST", "/segments", "segments.create_segment", 201, tag=seg),
        Route(
            "GET",
            "/segments",
            "segments.list_segments",
            query={"type": "string", "search": "string", **_PAGE},
            page_of=Segment,
            tag=seg,
        ),
        Route("POST", "/segments/size", "segments.calculate_segment_size", wrap="size", tag=seg),
        Route("POST", "/segments/comparison", "segments.compare_segments", tag=seg),
        Route("GET", s, "segments.get_segment", tag=seg),
        Route(
            "PATCH",
            s,
            "segments.update_segment",
            tag=seg,
            body_fields=("name", "description", "type", "criteria"),
        ),
        Route("DELETE", s, "segments.delete_segment", 204, tag=seg),
        Route("GET", f"{s}/members", "segments.get_segment_members", query=_OFFSET, tag=seg),
        Route("GET", f"{s}/performance", "segments.get_segment_performance", tag=seg),
        Route("POST", f"{s}/refresh", "segments.refresh_segment", tag=seg),
        Route("PUT", f"{s}/fans/{{fanId}}", "segments.add_fan_to_segment", wrap="changed", tag=seg),
        Route(
            "DELETE",
            f"{s}/fans/{{fanId}}",
            "segments.remove_fan_from_segment",
            wrap="changed",
            tag=seg,
        ),
        Route("POST", f"{f}/criteria-evaluation", "segments.evaluate_criteria", tag=seg),
        # automations
        Route("POST", "/workflows", "automations.create_workflow", 201, tag=aut),
        Route(
            "GET",
            "/workflows",
            "automations.list_workflows",
            query={
                "status": "array",
                "triggerType": "array",
                "includeArchived": "boolean",
                **_OFFSET,
            },
            page_of=Automation,
            tag=aut,
        ),
        Route("GET", w, "automations.get_workflow", tag=aut),
        Route("PATCH", w, "automations.update_workflow", tag=aut),
        Route("DELETE", w, "automations.delete_workflow", 204, tag=aut),
        Route("POST", f"{w}/activate", "automations.activate_workflow", tag=aut),
        Route("POST", f"{w}/deactivate", "automations.deactivate_workflow", tag=aut),
        Route("POST", f"{w}/archive", "automations.archive_workflow", tag=aut),
        Route("POST", f"{w}/restore", "automations.restore_workflow", tag=aut),
        Route(
            "GET",
            f"{w}/definition",
            "automations.get_definition",
            query={"version": "integer"},
            own_json=True,
            tag=aut,
        ),
        Route("PUT", f"{w}/trigger", "automations.register_trigger", tag=aut),
        Route("POST", f"{w}/enrollments", "automations.enroll_fans", wrap="enrolled", tag=aut),
        Route("POST", f"{w}/executions", "automations.execute_workflow", tag=aut),
        Route(
            "GET",
            f"{w}/executions",
            "automations.get_execution_history",
            query={"status": "array", "fanId": "string", **_OFFSET},
            tag=aut,
        ),
        Route(
            "GET",
            f"{w}/stats",
            "automations.get_execution_stats",
            query={"sample": "integer"},
            tag=aut,
        ),
        Route("GET", f"{w}/goal-stats", "automations.get_goal_stats", tag=aut),
        Route(
            "GET",
            f"{w}/runs",
            "automations.list_runs",
            query={"status": "array", "fanId": "string", **_OFFSET},
            tag=aut,
        ),
        Route("GET", "/runs/{runId}", "automations.get_run", tag=aut),
        Route("POST", "/runs/{runId}/cancel", "automations.cancel_run", tag=aut),
        Route("GET", "/runs/{runId}/steps", "automations.get_step_history", tag=aut),
        Route(
            "POST",
            "/automations/trigger-evaluation",
            "automations.evaluate_trigger",
            wrap="matches",
            tag=aut,
        ),
        Route("POST", "/automations/action-executions", "automations.execute_action", tag=aut),
        # audit
        Route(
            "GET",
            "/audit",
            "audit.list_records",
            query={
                "entity": "string",
                "entityId": "string",
                "fanId": "string",
                "actorId": "string",
                "action": "string",
                "since": "string",
                "until": "string",
                "limit": "integer",
                "before": "string",
            },
            keyset="before",
            tag=aud,
        ),
        # credentials
        Route("GET", "/credentials", "credentials.list_platform_credentials", tag=cred),
        Route(
            "PUT",
            "/credentials/{platform}",
            "credentials.set_platform_credentials",
            tag=cred,
        ),
        Route(
            "DELETE",
            "/credentials/{platform}",
            "credentials.delete_platform_credentials",
            204,
            tag=cred,
        ),
        Route(
            "POST",
            "/credentials/rotation",
            "credentials.rotate_credentials",
            wrap="rotated",
            tag=cred,
        ),
    )


ROUTES: tuple[Route, ...] = _routes()
"""Every route of the API, in the order the OpenAPI document lists them."""
