"""What each store persists: one :class:`EntitySpec` per repository.

Stores read this registry to build their repositories, so the in-memory and
SQL stores hold the same record types under the same names and enforce the
same unique keys. A new aggregate adds its record class here, a table in the
SQLAlchemy schema and a migration.
"""

from __future__ import annotations

from typing import Any

import attrs

from campaign_core.models import (
    ABTest,
    ABTestVariant,
    AuditRecord,
    Automation,
    AutomationExecution,
    AutomationRun,
    AutomationStepRun,
    AutomationTrigger,
    AutomationTriggerMatch,
    AutomationVersion,
    Broadcast,
    Campaign,
    CampaignAnalyticsState,
    CampaignConversion,
    CampaignMetric,
    CampaignTemplate,
    ConsentEvent,
    Delivery,
    DeliveryEvent,
    Fan,
    FanConsent,
    FanEvent,
    IdempotencyRecord,
    MessageTemplate,
    PlatformCredentialRecord,
    PublishJob,
    RateLimitState,
    Segment,
    SegmentMember,
    Suppression,
    TrackingEventRecord,
    UnsubscribeTokenUse,
    WinnerValidation,
)

__all__ = ["ENTITIES", "EntitySpec", "register_entity"]


@attrs.frozen
class EntitySpec:
    """How one record type is stored.

    Attributes:
        name: the repository's attribute on a unit of work (``campaigns``).
        record: the attrs record class.
        unique: extra unique keys (tuples of field names) besides ``id``.
    """

    name: str
    record: type[Any]
    unique: tuple[tuple[str, ...], ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(a.name for a in attrs.fields(self.record))

    @property
    def versioned(self) -> bool:
        return "version" in self.fields


ENTITIES: dict[str, EntitySpec] = {}


def register_entity(spec: EntitySpec) -> EntitySpec:
    """Add ``spec`` to the registry (idempotent for the same spec)."""
    existing = ENTITIES.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"entity {spec.name!r} already registered differently")
    ENTITIES[spec.name] = spec
    return spec


register_entity(EntitySpec("campaigns", Campaign))
register_entity(EntitySpec("templates", CampaignTemplate, unique=(("owner_id", "key"),)))
register_entity(EntitySpec("publish_jobs", PublishJob, unique=(("idempotency_key",),)))
register_entity(EntitySpec("ab_tests", ABTest))
register_entity(EntitySpec("ab_test_variants", ABTestVariant))
register_entity(EntitySpec("automations", Automation))
register_entity(EntitySpec("automation_executions", AutomationExecution))
register_entity(EntitySpec("segments", Segment))
register_entity(EntitySpec("segment_members", SegmentMember, unique=(("segment_id", "fan_id"),)))
register_entity(EntitySpec("campaign_metrics", CampaignMetric, unique=(("rollup_key",),)))
register_entity(EntitySpec("campaign_conversions", CampaignConversion))
register_entity(EntitySpec("fans", Fan, unique=(("owner_id", "fan_id"),)))
register_entity(EntitySpec("fan_events", FanEvent))
register_entity(
    EntitySpec("automation_runs", AutomationRun, unique=(("automation_id", "fan_id", "entry_key"),))
)
register_entity(EntitySpec("automation_step_runs", AutomationStepRun))
register_entity(
    EntitySpec(
        "automation_versions", AutomationVersion, unique=(("automation_id", "workflow_version"),)
    )
)
register_entity(EntitySpec("automation_triggers", AutomationTrigger, unique=(("automation_id",),)))
register_entity(
    EntitySpec(
        "automation_trigger_matches", AutomationTriggerMatch, unique=(("automation_id", "fan_id"),)
    )
)
register_entity(EntitySpec("audit_records", AuditRecord))
register_entity(EntitySpec("rate_limits", RateLimitState))
register_entity(
    EntitySpec("credentials", PlatformCredentialRecord, unique=(("owner_id", "platform"),))
)
register_entity(EntitySpec("tracking_events", TrackingEventRecord))
register_entity(EntitySpec("campaign_analytics_state", CampaignAnalyticsState))
register_entity(EntitySpec("ab_test_validations", WinnerValidation))

# -- audience delivery, consent, suppression, feedback
register_entity(EntitySpec("broadcasts", Broadcast, unique=(("campaign_id",),)))
register_entity(EntitySpec("deliveries", Delivery, unique=(("campaign_id", "fan_id", "channel"),)))
register_entity(
    EntitySpec("fan_consents", FanConsent, unique=(("owner_id", "fan_id", "channel", "topic"),))
)
register_entity(EntitySpec("consent_events", ConsentEvent))
register_entity(
    EntitySpec("suppressions", Suppression, unique=(("owner_id", "channel", "address_hash"),))
)
register_entity(EntitySpec("unsubscribe_token_uses", UnsubscribeTokenUse))
register_entity(
    EntitySpec("delivery_events", DeliveryEvent, unique=(("provider", "provider_event_id"),))
)

# -- message templates (issue 18): an account's own; built-ins live in campaign_core.messages
register_entity(EntitySpec("message_templates", MessageTemplate, unique=(("owner_id", "name"),)))

# -- the HTTP layer's idempotency keys and signed requests seen (issue 22); the id is the key
register_entity(EntitySpec("idempotency_records", IdempotencyRecord))
