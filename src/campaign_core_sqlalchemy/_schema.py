"""The tables: the seed's Prisma models with Prisma's names and types, plus our additions.

Seed models keep their ``@@map`` table names, camelCase column names, types,
nullability (list columns are nullable, as ``prisma migrate`` makes them),
database defaults and the seed's indexes under Prisma's default names
(``<table>_<cols>_idx``; unique keys are unique *indexes* named
``<table>_<cols>_key``), so a Next.js app can read them with its Prisma client.
The seed's relations are not declared as foreign keys (a Prisma app uses
``relationMode = "prisma"``, or keeps the keys it created itself).

Everything we add (tables, and columns such as ``version`` or ``ownerId`` on
templates) is additive: nullable or with a database default. A change here
needs a migration: see docs/howto/alembic-migrations.md.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, MetaData, PrimaryKeyConstraint, Table, text

from campaign_core_sqlalchemy._types import (
    Bool,
    CurrentTimestamp,
    FalseDefault,
    Float,
    Int,
    Json,
    JsonArray,
    KeyText,
    StringArray,
    TextCol,
    UtcDateTime,
)

__all__ = ["TABLES", "metadata"]

metadata = MetaData()

_NOW = CurrentTimestamp()


def _id() -> Column[str]:
    return Column("id", KeyText, primary_key=True)


def _version() -> Column[int]:
    return Column("version", Int, nullable=False, server_default=text("1"))


campaigns = Table(
    "campaigns",
    metadata,
    _id(),
    Column("userId", KeyText, nullable=False),
    Column("name", TextCol, nullable=False),
    Column("description", TextCol),
    Column("type", KeyText, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("platforms", StringArray),
    Column("segmentIds", StringArray),
    Column("content", Json, nullable=False),
    Column("mediaUrls", StringArray),
    Column("scheduledFor", UtcDateTime),
    Column("startedAt", UtcDateTime),
    Column("completedAt", UtcDateTime),
    Column("budget", Float),
    Column("spent", Float, nullable=False, server_default=text("0")),
    Column("goals", Json, nullable=False),
    Column("isABTest", Bool, nullable=False, server_default=FalseDefault()),
    Column("abTestId", KeyText),
    Column("templateId", KeyText),
    Column("isTemplate", Bool, nullable=False, server_default=FalseDefault()),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    _version(),
    Column("contentVersion", Int, nullable=False, server_default=text("1")),
    Column("pausedReason", KeyText),
    Column("archivedAt", UtcDateTime),
    Index("campaigns_userId_idx", "userId"),
    Index("campaigns_status_idx", "status"),
    Index("campaigns_scheduledFor_idx", "scheduledFor"),
)

campaign_templates = Table(
    "campaign_templates",
    metadata,
    _id(),
    Column("name", TextCol, nullable=False),
    Column("description", TextCol),
    Column("niche", KeyText, nullable=False),
    Column("type", KeyText, nullable=False),
    Column("content", Json, nullable=False),
    Column("defaultSettings", Json, nullable=False),
    Column("usageCount", Int, nullable=False, server_default=text("0")),
    Column("avgPerformance", Float),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    Column("ownerId", KeyText),
    Column("key", KeyText),
    _version(),
    Index("campaign_templates_niche_idx", "niche"),
    Index("campaign_templates_type_idx", "type"),
    Index("campaign_templates_ownerId_key_key", "ownerId", "key", unique=True),
)

publish_jobs = Table(
    "publish_jobs",
    metadata,
    _id(),
    Column("campaignId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("platform", KeyText, nullable=False),
    Column("contentVersion", Int, nullable=False),
    Column("idempotencyKey", KeyText, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("attempts", Int, nullable=False, server_default=text("0")),
    Column("nextAttemptAt", UtcDateTime),
    Column("externalId", TextCol),
    Column("url", TextCol),
    Column("lastError", TextCol),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    Column("adaptedContent", Json),  # cc0006
    Index("publish_jobs_idempotencyKey_key", "idempotencyKey", unique=True),
    Index("publish_jobs_campaignId_idx", "campaignId"),
    Index("publish_jobs_status_nextAttemptAt_idx", "status", "nextAttemptAt"),
)

ab_tests = Table(
    "ab_tests",
    metadata,
    _id(),
    Column("userId", KeyText, nullable=False),
    Column("name", TextCol, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("trafficSplit", Json, nullable=False),
    Column("minSampleSize", Int, nullable=False, server_default=text("100")),
    Column("confidenceLevel", Float, nullable=False, server_default=text("0.95")),
    Column("winnerId", KeyText),
    Column("significance", Float),
    Column("startedAt", UtcDateTime),
    Column("completedAt", UtcDateTime),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    Column("campaignId", KeyText),
    Column("policy", KeyText, nullable=False, server_default=text("'fixed_horizon'")),
    Column("plannedMde", Float),
    _version(),
    # cc0009: what the decision needs fixed at creation
    Column("metric", KeyText, nullable=False, server_default=text("'conversion_rate'")),
    Column("baselineRate", Float),
    Column("plannedHorizon", Int),
    Column("mixingTau", Float),
    Column("minPValues", Json),
    # cc0014: guardrails and the bayesian policy's thresholds
    Column("guardrails", Json),
    Column("riskThreshold", Float),
    Column("probThreshold", Float),
    # cc0019: a group-sequential test's spending function and recorded looks
    Column("spending", KeyText),
    Column("looks", Json),
    Index("ab_tests_userId_idx", "userId"),
    Index("ab_tests_status_idx", "status"),
)

ab_test_variants = Table(
    "ab_test_variants",
    metadata,
    _id(),
    Column("testId", KeyText, nullable=False),
    Column("name", TextCol, nullable=False),
    Column("isControl", Bool, nullable=False, server_default=FalseDefault()),
    Column("content", Json, nullable=False),
    Column("impressions", Int, nullable=False, server_default=text("0")),
    Column("clicks", Int, nullable=False, server_default=text("0")),
    Column("conversions", Int, nullable=False, server_default=text("0")),
    Column("revenue", Float, nullable=False, server_default=text("0")),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    Column("revenueSumSquares", Float, nullable=False, server_default=text("0")),
    _version(),
    Index("ab_test_variants_testId_idx", "testId"),
)

automations = Table(
    "automations",
    metadata,
    _id(),
    Column("userId", KeyText, nullable=False),
    Column("name", TextCol, nullable=False),
    Column("description", TextCol),
    Column("status", KeyText, nullable=False),
    Column("trigger", Json, nullable=False),
    Column("conditions", JsonArray),
    Column("actions", JsonArray),
    Column("executionCount", Int, nullable=False, server_default=text("0")),
    Column("successCount", Int, nullable=False, server_default=text("0")),
    Column("failureCount", Int, nullable=False, server_default=text("0")),
    Column("lastExecutedAt", UtcDateTime),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    Column("workflowVersion", Int, nullable=False, server_default=text("1")),
    Column("settings", Json, nullable=False, server_default=text("'{}'")),
    _version(),
    Index("automations_userId_idx", "userId"),
    Index("automations_status_idx", "status"),
)

automation_executions = Table(
    "automation_executions",
    metadata,
    _id(),
    Column("automationId", KeyText, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("triggerData", Json, nullable=False),
    Column("executedActions", JsonArray),
    Column("errors", JsonArray),
    Column("startedAt", UtcDateTime, nullable=False),
    Column("completedAt", UtcDateTime),
    Column("duration", Int),
    # additions
    Column("runId", KeyText),
    Column("fanId", KeyText),
    Index("automation_executions_automationId_idx", "automationId"),
    Index("automation_executions_startedAt_idx", "startedAt"),
)

segments = Table(
    "segments",
    metadata,
    _id(),
    Column("userId", KeyText, nullable=False),
    Column("name", TextCol, nullable=False),
    Column("description", TextCol),
    Column("type", KeyText, nullable=False),
    Column("criteria", Json, nullable=False),
    Column("memberCount", Int, nullable=False, server_default=text("0")),
    Column("lastRefreshedAt", UtcDateTime),
    Column("avgEngagement", Float),
    Column("avgRevenue", Float),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    _version(),
    Index("segments_userId_idx", "userId"),
    Index("segments_type_idx", "type"),
)

segment_members = Table(
    "segment_members",
    metadata,
    _id(),
    Column("segmentId", KeyText, nullable=False),
    Column("userId", KeyText, nullable=False),
    Column("addedAt", UtcDateTime, nullable=False, server_default=_NOW),
    # additions
    Column("source", KeyText, nullable=False, server_default=text("'criteria'")),
    Index("segment_members_segmentId_userId_key", "segmentId", "userId", unique=True),
    Index("segment_members_segmentId_idx", "segmentId"),
    Index("segment_members_userId_idx", "userId"),
)

campaign_metrics = Table(
    "campaign_metrics",
    metadata,
    _id(),
    Column("campaignId", KeyText, nullable=False),
    Column("platform", KeyText),
    Column("impressions", Int, nullable=False, server_default=text("0")),
    Column("reach", Int, nullable=False, server_default=text("0")),
    Column("clicks", Int, nullable=False, server_default=text("0")),
    Column("conversions", Int, nullable=False, server_default=text("0")),
    Column("revenue", Float, nullable=False, server_default=text("0")),
    Column("spent", Float, nullable=False, server_default=text("0")),
    Column("ctr", Float),
    Column("conversionRate", Float),
    Column("roi", Float),
    Column("cpa", Float),
    Column("recordedAt", UtcDateTime, nullable=False, server_default=_NOW),
    # additions
    Column("periodStart", UtcDateTime),
    Column("rollupKey", KeyText),
    Index("campaign_metrics_campaignId_idx", "campaignId"),
    Index("campaign_metrics_recordedAt_idx", "recordedAt"),
    Index("campaign_metrics_rollupKey_key", "rollupKey", unique=True),
)

campaign_conversions = Table(
    "campaign_conversions",
    metadata,
    _id(),
    Column("campaignId", KeyText, nullable=False),
    Column("userId", KeyText, nullable=False),
    Column("type", KeyText, nullable=False),
    Column("value", Float, nullable=False),
    Column("platform", KeyText, nullable=False),
    Column("clickedAt", UtcDateTime),
    Column("convertedAt", UtcDateTime, nullable=False),
    Column("timeToConvert", Int),
    # additions
    Column("variantId", KeyText),
    Index("campaign_conversions_campaignId_idx", "campaignId"),
    Index("campaign_conversions_userId_idx", "userId"),
    Index("campaign_conversions_convertedAt_idx", "convertedAt"),
)

fans = Table(
    "fans",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("platform", KeyText),
    Column("spendingLevel", KeyText),
    Column("engagement", Float),
    Column("lifetimeValue", Float),
    Column("subscriptionStatus", KeyText),
    Column("subscribedAt", UtcDateTime),
    Column("lastActivityAt", UtcDateTime),
    Column("timeZone", KeyText),
    Column("optedOut", Bool, nullable=False, server_default=FalseDefault()),
    Column("traits", Json, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    Column("addresses", Json, nullable=False, server_default=text("'{}'")),
    Index("fans_ownerId_fanId_key", "ownerId", "fanId", unique=True),
)

fan_events = Table(
    "fan_events",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("name", KeyText, nullable=False),
    Column("occurredAt", UtcDateTime, nullable=False),
    Column("properties", Json, nullable=False),
    Column("value", Float),
    Column("createdAt", UtcDateTime, nullable=False),
    Index("fan_events_ownerId_fanId_name_occurredAt_idx", "ownerId", "fanId", "name", "occurredAt"),
    Index("fan_events_ownerId_name_occurredAt_idx", "ownerId", "name", "occurredAt"),
)

audit_records = Table(
    "audit_records",
    metadata,
    _id(),
    Column("accountId", KeyText, nullable=False),
    Column("actorId", KeyText, nullable=False),
    Column("actorRole", KeyText, nullable=False),
    Column("action", KeyText, nullable=False),
    Column("entity", KeyText, nullable=False),
    Column("entityId", KeyText, nullable=False),
    Column("before", Json),
    Column("after", Json),
    Column("at", UtcDateTime, nullable=False),
    Index(
        "audit_records_accountId_entity_entityId_at_idx", "accountId", "entity", "entityId", "at"
    ),
    Index("audit_records_accountId_actorId_at_idx", "accountId", "actorId", "at"),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    _id(),
    Column("accountId", KeyText, nullable=False),
    Column("name", KeyText, nullable=False),
    Column("state", Json, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
)

platform_credentials = Table(
    "platform_credentials",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("platform", KeyText, nullable=False),
    Column("sealed", TextCol, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    Column("rotatedAt", UtcDateTime),
    _version(),
    Index("platform_credentials_ownerId_platform_key", "ownerId", "platform", unique=True),
)

tracking_events = Table(
    "tracking_events",
    metadata,
    # (id, occurredAt): PostgreSQL partitions this table by month of occurredAt (cc0015),
    # and a partitioned table's key must hold the partition column
    Column("id", KeyText, primary_key=True),
    Column("ownerId", KeyText, nullable=False),
    Column("campaignId", KeyText, nullable=False),
    Column("kind", KeyText, nullable=False),
    Column("fanId", KeyText),
    Column("platform", KeyText),
    Column("variantId", KeyText),
    Column("value", Float, nullable=False, server_default=text("0")),
    Column("occurredAt", UtcDateTime, nullable=False, primary_key=True),
    Column("createdAt", UtcDateTime, nullable=False),
    # time windows of one campaign (trends, roll-ups, as-of counts)
    Index("tracking_events_campaignId_kind_occurredAt_idx", "campaignId", "kind", "occurredAt"),
    # a fan's last click (attribution), reach (distinct fans), erasure and export
    Index(
        "tracking_events_campaignId_fanId_kind_occurredAt_idx",
        "campaignId",
        "fanId",
        "kind",
        "occurredAt",
    ),
)

campaign_analytics_state = Table(
    "campaign_analytics_state",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("campaignId", KeyText, nullable=False),
    Column("firstEventAt", UtcDateTime),
    Column("lastRolledHour", UtcDateTime),
    Column("nextRollupAt", UtcDateTime),
    Column("overspendAlertedAt", UtcDateTime),
    Column("overspendAlertBudget", Float),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    # what the hourly roll-up claims
    Index("campaign_analytics_state_nextRollupAt_idx", "nextRollupAt"),
    Index("campaign_analytics_state_ownerId_idx", "ownerId"),
)

# -- automation engine (our additions) ---------------------------------------------------

automation_runs = Table(
    "automation_runs",
    metadata,
    _id(),
    Column("automationId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("workflowVersion", Int, nullable=False),
    Column("entryKey", KeyText, nullable=False),
    Column("fanRef", KeyText),
    Column("triggerType", KeyText, nullable=False),
    Column("triggerData", Json, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("cursor", KeyText),
    Column("wakeAt", UtcDateTime),
    Column("attempts", Int, nullable=False, server_default=text("0")),
    Column("stepEnteredAt", UtcDateTime),
    Column("stepCount", Int, nullable=False, server_default=text("0")),
    Column("variables", Json, nullable=False),
    Column("state", Json, nullable=False),
    Column("executedActions", Json, nullable=False),
    Column("errors", Json, nullable=False),
    Column("enteredAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    Column("finishedAt", UtcDateTime),
    Column("deadline", UtcDateTime),
    Column("chainDepth", Int, nullable=False, server_default=text("0")),
    Column("outcome", TextCol),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    _version(),
    Index(
        "automation_runs_automationId_fanId_entryKey_key",
        "automationId",
        "fanId",
        "entryKey",
        unique=True,
    ),
    Index("automation_runs_status_wakeAt_idx", "status", "wakeAt"),
    Index("automation_runs_automationId_status_idx", "automationId", "status"),
    Index("automation_runs_ownerId_fanId_status_idx", "ownerId", "fanId", "status"),
)

automation_step_runs = Table(
    "automation_step_runs",
    metadata,
    _id(),
    Column("runId", KeyText, nullable=False),
    Column("automationId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("stepId", KeyText, nullable=False),
    Column("actionType", KeyText, nullable=False),
    Column("visit", Int, nullable=False, server_default=text("0")),
    Column("attempt", Int, nullable=False, server_default=text("1")),
    Column("status", KeyText, nullable=False),
    Column("startedAt", UtcDateTime, nullable=False),
    Column("finishedAt", UtcDateTime, nullable=False),
    Column("durationMs", Int, nullable=False, server_default=text("0")),
    Column("output", Json, nullable=False),
    Column("error", TextCol),
    Column("idempotencyKey", KeyText),
    Index("automation_step_runs_runId_idx", "runId"),
    Index("automation_step_runs_automationId_stepId_idx", "automationId", "stepId"),
    Index(
        "automation_step_runs_ownerId_fanId_actionType_finishedAt_idx",
        "ownerId",
        "fanId",
        "actionType",
        "finishedAt",
    ),
)

automation_versions = Table(
    "automation_versions",
    metadata,
    _id(),
    Column("automationId", KeyText, nullable=False),
    Column("workflowVersion", Int, nullable=False),
    Column("definition", Json, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Index(
        "automation_versions_automationId_workflowVersion_key",
        "automationId",
        "workflowVersion",
        unique=True,
    ),
)

automation_triggers = Table(
    "automation_triggers",
    metadata,
    _id(),
    Column("automationId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("kind", KeyText, nullable=False),
    Column("nextRunAt", UtcDateTime),
    Column("cursor", KeyText),
    Column("passStartedAt", UtcDateTime),
    Column("baseline", Bool, nullable=False, server_default=FalseDefault()),
    Column("updatedAt", UtcDateTime, nullable=False),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    _version(),
    Index("automation_triggers_automationId_key", "automationId", unique=True),
    Index("automation_triggers_nextRunAt_idx", "nextRunAt"),
)

automation_trigger_matches = Table(
    "automation_trigger_matches",
    metadata,
    _id(),
    Column("automationId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("matchedAt", UtcDateTime, nullable=False),
    Index(
        "automation_trigger_matches_automationId_fanId_key", "automationId", "fanId", unique=True
    ),
)

ab_test_validations = Table(
    "ab_test_validations",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("testId", KeyText, nullable=False),
    Column("winnerId", KeyText, nullable=False),
    Column("baselineId", KeyText, nullable=False),
    Column("decidedAt", UtcDateTime, nullable=False),
    Column("endsAt", UtcDateTime, nullable=False),
    Column("holdoutPercent", Float, nullable=False),
    Column("winnerImpressions", Int, nullable=False, server_default=text("0")),
    Column("winnerConversions", Int, nullable=False, server_default=text("0")),
    Column("baselineImpressions", Int, nullable=False, server_default=text("0")),
    Column("baselineConversions", Int, nullable=False, server_default=text("0")),
    Column("status", KeyText, nullable=False),
    Column("closedAt", UtcDateTime),
    _version(),
    Index("ab_test_validations_status_endsAt_idx", "status", "endsAt"),
)

# -- audience delivery, consent, suppression, feedback (our additions) -------------------

broadcasts = Table(
    "broadcasts",
    metadata,
    _id(),
    Column("campaignId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("message", Json, nullable=False),
    Column("status", KeyText, nullable=False),
    Column("cursor", KeyText),
    Column("audienceSize", Int, nullable=False, server_default=text("0")),
    Column("snapshotAt", UtcDateTime),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    Column("audienceCriteria", Json),
    Index("broadcasts_campaignId_key", "campaignId", unique=True),
    # what the snapshot step claims
    Index("broadcasts_status_leaseUntil_idx", "status", "leaseUntil"),
    Index("broadcasts_ownerId_idx", "ownerId"),
)

message_deliveries = Table(
    "message_deliveries",
    metadata,
    _id(),
    Column("campaignId", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("channel", KeyText, nullable=False),
    Column("topic", KeyText),
    Column("status", KeyText, nullable=False),
    Column("reason", TextCol),
    Column("sendAt", UtcDateTime),
    Column("attempts", Int, nullable=False, server_default=text("0")),
    Column("nextAttemptAt", UtcDateTime),
    Column("leaseOwner", KeyText),
    Column("leaseUntil", UtcDateTime),
    Column("idempotencyKey", KeyText, nullable=False),
    Column("providerMessageId", KeyText),
    Column("locale", KeyText),
    Column("cost", Float),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    Column("sentAt", UtcDateTime),
    Column("deliveredAt", UtcDateTime),
    Column("openedAt", UtcDateTime),
    Column("clickedAt", UtcDateTime),
    Column("failedAt", UtcDateTime),
    _version(),
    Index(
        "message_deliveries_campaignId_fanId_channel_key",
        "campaignId",
        "fanId",
        "channel",
        unique=True,
    ),
    # one campaign's due rows and its status counts
    Index("message_deliveries_campaignId_status_sendAt_idx", "campaignId", "status", "sendAt"),
    # due rows across campaigns (the send step's claim)
    Index("message_deliveries_status_sendAt_idx", "status", "sendAt"),
    # provider feedback finds its delivery
    Index("message_deliveries_providerMessageId_idx", "providerMessageId"),
    # a fan's recent sends (frequency caps), erasure and export
    Index("message_deliveries_ownerId_fanId_sentAt_idx", "ownerId", "fanId", "sentAt"),
)

fan_consents = Table(
    "fan_consents",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("channel", KeyText, nullable=False),
    Column("topic", KeyText, nullable=False),
    Column("granted", Bool, nullable=False),
    Column("source", KeyText, nullable=False),
    Column("reason", TextCol),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    Index(
        "fan_consents_ownerId_fanId_channel_topic_key",
        "ownerId",
        "fanId",
        "channel",
        "topic",
        unique=True,
    ),
)

consent_events = Table(
    "consent_events",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("fanId", KeyText, nullable=False),
    Column("channel", KeyText, nullable=False),
    Column("topic", KeyText, nullable=False),
    Column("granted", Bool, nullable=False),
    Column("source", KeyText, nullable=False),
    Column("reason", TextCol),
    Column("actorId", KeyText),
    Column("at", UtcDateTime, nullable=False),
    Index("consent_events_ownerId_fanId_at_idx", "ownerId", "fanId", "at"),
)

suppressions = Table(
    "suppressions",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("channel", KeyText, nullable=False),
    Column("addressHash", KeyText, nullable=False),
    Column("reason", KeyText, nullable=False),
    Column("fanId", KeyText),
    Column("source", TextCol),
    Column("createdAt", UtcDateTime, nullable=False),
    Index(
        "suppressions_ownerId_channel_addressHash_key",
        "ownerId",
        "channel",
        "addressHash",
        unique=True,
    ),
    Index("suppressions_ownerId_fanId_idx", "ownerId", "fanId"),
)

unsubscribe_token_uses = Table(
    "unsubscribe_token_uses",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("usedAt", UtcDateTime, nullable=False),
    Column("expiresAt", UtcDateTime, nullable=False),
    # the purge of expired uses
    Index("unsubscribe_token_uses_expiresAt_idx", "expiresAt"),
)

delivery_events = Table(
    "delivery_events",
    metadata,
    _id(),
    Column("ownerId", KeyText, nullable=False),
    Column("provider", KeyText, nullable=False),
    Column("providerEventId", KeyText, nullable=False),
    Column("type", KeyText, nullable=False),
    Column("providerMessageId", KeyText),
    Column("deliveryId", KeyText),
    Column("at", UtcDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Index(
        "delivery_events_provider_providerEventId_key", "provider", "providerEventId", unique=True
    ),
    Index("delivery_events_providerMessageId_idx", "providerMessageId"),
    Index("delivery_events_deliveryId_idx", "deliveryId"),
)

# repository name (campaign_core.entities) -> table
# -- message templates (issue 18) -------------------------------------------------------

message_templates = Table(
    "message_templates",
    metadata,
    _id(),
    Column("ownerId", KeyText),
    Column("name", KeyText, nullable=False),
    Column("channel", KeyText, nullable=False),
    Column("topic", KeyText),
    Column("description", TextCol),
    Column("parts", Json, nullable=False),
    Column("defaultLocale", KeyText, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("updatedAt", UtcDateTime, nullable=False),
    _version(),
    Index("message_templates_ownerId_name_key", "ownerId", "name", unique=True),
)

# -- the HTTP layer's idempotency keys and signed requests seen (issue 22) -------------------
# The id is a digest of (scope, account, user, key): the primary key is what refuses a second
# first use of one key, from any process. Rows are purged by expiresAt (core.tick()).
idempotency_records = Table(
    "idempotency_records",
    metadata,
    _id(),
    Column("scope", KeyText, nullable=False),
    Column("ownerId", KeyText, nullable=False),
    Column("actorId", KeyText, nullable=False),
    Column("key", TextCol, nullable=False),
    Column("method", KeyText, nullable=False),
    Column("path", TextCol, nullable=False),
    Column("requestHash", KeyText, nullable=False),
    Column("status", Int),
    Column("responseBody", TextCol, nullable=False),
    Column("responseHeaders", Json, nullable=False),
    Column("createdAt", UtcDateTime, nullable=False),
    Column("expiresAt", UtcDateTime, nullable=False),
    Index("idempotency_records_expiresAt_idx", "expiresAt"),
)

# The seed's implicit many-to-many between Campaign and Automation, as Prisma names it: A is
# the Automation (first in alphabetical order), B the Campaign; the primary key on (A, B)
# that Prisma 6 and later give it (earlier Prisma made a unique index instead, which
# migration cc0012 created and cc0018 replaced) and Prisma's index on B. The foreign keys cascade, so deleting a campaign or
# a workflow (through the library or not) leaves no dangling link. Not an entity (no id):
# the unit of work's ``automation_campaigns`` (SqlAlchemyLinks) reads and writes its pairs.
automation_to_campaign = Table(
    "_AutomationToCampaign",
    metadata,
    Column(
        "A",
        KeyText,
        ForeignKey(
            "automations.id",
            name="_AutomationToCampaign_A_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        nullable=False,
    ),
    Column(
        "B",
        KeyText,
        ForeignKey(
            "campaigns.id",
            name="_AutomationToCampaign_B_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        nullable=False,
    ),
    PrimaryKeyConstraint("A", "B", name="_AutomationToCampaign_AB_pkey"),
    Index("_AutomationToCampaign_B_index", "B"),
)

TABLES: dict[str, Table] = {
    "campaigns": campaigns,
    "templates": campaign_templates,
    "publish_jobs": publish_jobs,
    "ab_tests": ab_tests,
    "ab_test_variants": ab_test_variants,
    "automations": automations,
    "automation_executions": automation_executions,
    "segments": segments,
    "segment_members": segment_members,
    "campaign_metrics": campaign_metrics,
    "campaign_conversions": campaign_conversions,
    "fans": fans,
    "fan_events": fan_events,
    "audit_records": audit_records,
    "rate_limits": rate_limits,
    "credentials": platform_credentials,
    "tracking_events": tracking_events,
    "campaign_analytics_state": campaign_analytics_state,
    "automation_runs": automation_runs,
    "automation_step_runs": automation_step_runs,
    "automation_versions": automation_versions,
    "automation_triggers": automation_triggers,
    "automation_trigger_matches": automation_trigger_matches,
    "ab_test_validations": ab_test_validations,
    "broadcasts": broadcasts,
    "deliveries": message_deliveries,
    "fan_consents": fan_consents,
    "consent_events": consent_events,
    "suppressions": suppressions,
    "unsubscribe_token_uses": unsubscribe_token_uses,
    "delivery_events": delivery_events,
    "message_templates": message_templates,
    "idempotency_records": idempotency_records,
}
