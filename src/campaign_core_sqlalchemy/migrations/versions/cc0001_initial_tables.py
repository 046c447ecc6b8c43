"""Initial tables: the seed's models (Prisma names and types) and our additions.

Revision ID: cc0001
Revises:
Create Date: 2026-01-01

Portable across SQLite, PostgreSQL and MariaDB.

A table that already exists is adopted instead of created: its missing columns
and indexes are added. That is the case of a database whose seed tables a
Next.js app created first with ``prisma migrate``: those tables have the seed's
columns, and this revision adds ours (all nullable or defaulted) next to them.
Every later revision is a plain one.

Downgrading this revision drops every table it lists, adopted seed tables and
their rows included: never downgrade to base a database a Prisma app shares.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0001"
down_revision = None
branch_labels = ("campaign_core",)
depends_on = None


def _inspector() -> sa.Inspector | None:
    context = op.get_context()
    if context.as_sql:  # offline (--sql): nothing to inspect, plain DDL
        return None
    return sa.inspect(op.get_bind())


def _create_or_adopt(name: str, *items: sa.Column[Any] | sa.PrimaryKeyConstraint) -> None:
    inspector = _inspector()
    if inspector is None or not inspector.has_table(name):
        op.create_table(name, *items)
        return
    present = {c["name"] for c in inspector.get_columns(name)}
    for item in items:
        if isinstance(item, sa.Column) and item.name not in present:
            op.add_column(name, item)


def _index(name: str, table: str, columns: list[str], *, unique: bool) -> None:
    inspector = _inspector()
    if inspector is not None:
        present = {i["name"] for i in inspector.get_indexes(table)}
        present |= {u["name"] for u in inspector.get_unique_constraints(table)}
        if name in present:
            return
    op.create_index(name, table, columns, unique=unique)


def upgrade() -> None:
    _create_or_adopt(
        "ab_test_variants",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("testId", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("isControl", sa.Boolean(), server_default=t.FalseDefault(), nullable=False),
        sa.Column("content", t.Json(), nullable=False),
        sa.Column("impressions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("clicks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("conversions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("revenue", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("revenueSumSquares", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ab_test_variants_testId_idx", "ab_test_variants", ["testId"], unique=False)

    _create_or_adopt(
        "ab_tests",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("status", t.KeyText, nullable=False),
        sa.Column("trafficSplit", t.Json(), nullable=False),
        sa.Column("minSampleSize", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column("confidenceLevel", t.Float, server_default=sa.text("0.95"), nullable=False),
        sa.Column("winnerId", t.KeyText, nullable=True),
        sa.Column("significance", t.Float, nullable=True),
        sa.Column("startedAt", t.UtcDateTime(), nullable=True),
        sa.Column("completedAt", t.UtcDateTime(), nullable=True),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("campaignId", t.KeyText, nullable=True),
        sa.Column("policy", t.KeyText, server_default=sa.text("'fixed_horizon'"), nullable=False),
        sa.Column("plannedMde", t.Float, nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ab_tests_status_idx", "ab_tests", ["status"], unique=False)
    _index("ab_tests_userId_idx", "ab_tests", ["userId"], unique=False)

    _create_or_adopt(
        "automation_executions",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("automationId", t.KeyText, nullable=False),
        sa.Column("status", t.KeyText, nullable=False),
        sa.Column("triggerData", t.Json(), nullable=False),
        sa.Column("executedActions", t.JsonArray(), nullable=True),
        sa.Column("errors", t.JsonArray(), nullable=True),
        sa.Column("startedAt", t.UtcDateTime(), nullable=False),
        sa.Column("completedAt", t.UtcDateTime(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("runId", t.KeyText, nullable=True),
        sa.Column("fanId", t.KeyText, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index(
        "automation_executions_automationId_idx",
        "automation_executions",
        ["automationId"],
        unique=False,
    )
    _index(
        "automation_executions_startedAt_idx", "automation_executions", ["startedAt"], unique=False
    )

    _create_or_adopt(
        "automations",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("description", t.TextCol, nullable=True),
        sa.Column("status", t.KeyText, nullable=False),
        sa.Column("trigger", t.Json(), nullable=False),
        sa.Column("conditions", t.JsonArray(), nullable=True),
        sa.Column("actions", t.JsonArray(), nullable=True),
        sa.Column("executionCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("successCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failureCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lastExecutedAt", t.UtcDateTime(), nullable=True),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("workflowVersion", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("settings", t.Json(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("automations_status_idx", "automations", ["status"], unique=False)
    _index("automations_userId_idx", "automations", ["userId"], unique=False)

    _create_or_adopt(
        "campaign_conversions",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("campaignId", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("type", t.KeyText, nullable=False),
        sa.Column("value", t.Float, nullable=False),
        sa.Column("platform", t.KeyText, nullable=False),
        sa.Column("clickedAt", t.UtcDateTime(), nullable=True),
        sa.Column("convertedAt", t.UtcDateTime(), nullable=False),
        sa.Column("timeToConvert", sa.Integer(), nullable=True),
        sa.Column("variantId", t.KeyText, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index(
        "campaign_conversions_campaignId_idx", "campaign_conversions", ["campaignId"], unique=False
    )
    _index(
        "campaign_conversions_convertedAt_idx",
        "campaign_conversions",
        ["convertedAt"],
        unique=False,
    )
    _index("campaign_conversions_userId_idx", "campaign_conversions", ["userId"], unique=False)

    _create_or_adopt(
        "campaign_metrics",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("campaignId", t.KeyText, nullable=False),
        sa.Column("platform", t.KeyText, nullable=True),
        sa.Column("impressions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reach", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("clicks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("conversions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("revenue", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column("spent", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column("ctr", t.Float, nullable=True),
        sa.Column("conversionRate", t.Float, nullable=True),
        sa.Column("roi", t.Float, nullable=True),
        sa.Column("cpa", t.Float, nullable=True),
        sa.Column(
            "recordedAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("periodStart", t.UtcDateTime(), nullable=True),
        sa.Column("rollupKey", t.KeyText, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("campaign_metrics_campaignId_idx", "campaign_metrics", ["campaignId"], unique=False)
    _index("campaign_metrics_recordedAt_idx", "campaign_metrics", ["recordedAt"], unique=False)
    _index("campaign_metrics_rollupKey_key", "campaign_metrics", ["rollupKey"], unique=True)

    _create_or_adopt(
        "campaign_templates",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("description", t.TextCol, nullable=True),
        sa.Column("niche", t.KeyText, nullable=False),
        sa.Column("type", t.KeyText, nullable=False),
        sa.Column("content", t.Json(), nullable=False),
        sa.Column("defaultSettings", t.Json(), nullable=False),
        sa.Column("usageCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("avgPerformance", t.Float, nullable=True),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=True),
        sa.Column("key", t.KeyText, nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("campaign_templates_niche_idx", "campaign_templates", ["niche"], unique=False)
    _index(
        "campaign_templates_ownerId_key_key", "campaign_templates", ["ownerId", "key"], unique=True
    )
    _index("campaign_templates_type_idx", "campaign_templates", ["type"], unique=False)

    _create_or_adopt(
        "campaigns",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("description", t.TextCol, nullable=True),
        sa.Column("type", t.KeyText, nullable=False),
        sa.Column("status", t.KeyText, nullable=False),
        sa.Column("platforms", t.StringArray(), nullable=True),
        sa.Column("segmentIds", t.StringArray(), nullable=True),
        sa.Column("content", t.Json(), nullable=False),
        sa.Column("mediaUrls", t.StringArray(), nullable=True),
        sa.Column("scheduledFor", t.UtcDateTime(), nullable=True),
        sa.Column("startedAt", t.UtcDateTime(), nullable=True),
        sa.Column("completedAt", t.UtcDateTime(), nullable=True),
        sa.Column("budget", t.Float, nullable=True),
        sa.Column("spent", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column("goals", t.Json(), nullable=False),
        sa.Column("isABTest", sa.Boolean(), server_default=t.FalseDefault(), nullable=False),
        sa.Column("abTestId", t.KeyText, nullable=True),
        sa.Column("templateId", t.KeyText, nullable=True),
        sa.Column("isTemplate", sa.Boolean(), server_default=t.FalseDefault(), nullable=False),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("contentVersion", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("pausedReason", t.KeyText, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("campaigns_scheduledFor_idx", "campaigns", ["scheduledFor"], unique=False)
    _index("campaigns_status_idx", "campaigns", ["status"], unique=False)
    _index("campaigns_userId_idx", "campaigns", ["userId"], unique=False)

    _create_or_adopt(
        "fan_events",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=False),
        sa.Column("fanId", t.KeyText, nullable=False),
        sa.Column("name", t.KeyText, nullable=False),
        sa.Column("occurredAt", t.UtcDateTime(), nullable=False),
        sa.Column("properties", t.Json(), nullable=False),
        sa.Column("value", t.Float, nullable=True),
        sa.Column("createdAt", t.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index(
        "fan_events_ownerId_fanId_name_occurredAt_idx",
        "fan_events",
        ["ownerId", "fanId", "name", "occurredAt"],
        unique=False,
    )
    _index(
        "fan_events_ownerId_name_occurredAt_idx",
        "fan_events",
        ["ownerId", "name", "occurredAt"],
        unique=False,
    )

    _create_or_adopt(
        "fans",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=False),
        sa.Column("fanId", t.KeyText, nullable=False),
        sa.Column("platform", t.KeyText, nullable=True),
        sa.Column("spendingLevel", t.KeyText, nullable=True),
        sa.Column("engagement", t.Float, nullable=True),
        sa.Column("lifetimeValue", t.Float, nullable=True),
        sa.Column("subscriptionStatus", t.KeyText, nullable=True),
        sa.Column("subscribedAt", t.UtcDateTime(), nullable=True),
        sa.Column("lastActivityAt", t.UtcDateTime(), nullable=True),
        sa.Column("timeZone", t.KeyText, nullable=True),
        sa.Column("optedOut", sa.Boolean(), server_default=t.FalseDefault(), nullable=False),
        sa.Column("traits", t.Json(), nullable=False),
        sa.Column("createdAt", t.UtcDateTime(), nullable=False),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("fans_ownerId_fanId_key", "fans", ["ownerId", "fanId"], unique=True)

    _create_or_adopt(
        "publish_jobs",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("campaignId", t.KeyText, nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=False),
        sa.Column("platform", t.KeyText, nullable=False),
        sa.Column("contentVersion", sa.Integer(), nullable=False),
        sa.Column("idempotencyKey", t.KeyText, nullable=False),
        sa.Column("status", t.KeyText, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("nextAttemptAt", t.UtcDateTime(), nullable=True),
        sa.Column("externalId", t.TextCol, nullable=True),
        sa.Column("url", t.TextCol, nullable=True),
        sa.Column("lastError", t.TextCol, nullable=True),
        sa.Column("leaseOwner", t.KeyText, nullable=True),
        sa.Column("leaseUntil", t.UtcDateTime(), nullable=True),
        sa.Column("createdAt", t.UtcDateTime(), nullable=False),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("publish_jobs_campaignId_idx", "publish_jobs", ["campaignId"], unique=False)
    _index("publish_jobs_idempotencyKey_key", "publish_jobs", ["idempotencyKey"], unique=True)
    _index(
        "publish_jobs_status_nextAttemptAt_idx",
        "publish_jobs",
        ["status", "nextAttemptAt"],
        unique=False,
    )

    _create_or_adopt(
        "segment_members",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("segmentId", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("addedAt", t.UtcDateTime(), server_default=t.CurrentTimestamp(), nullable=False),
        sa.Column("source", t.KeyText, server_default=sa.text("'criteria'"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("segment_members_segmentId_idx", "segment_members", ["segmentId"], unique=False)
    _index(
        "segment_members_segmentId_userId_key",
        "segment_members",
        ["segmentId", "userId"],
        unique=True,
    )
    _index("segment_members_userId_idx", "segment_members", ["userId"], unique=False)

    _create_or_adopt(
        "segments",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("userId", t.KeyText, nullable=False),
        sa.Column("name", t.TextCol, nullable=False),
        sa.Column("description", t.TextCol, nullable=True),
        sa.Column("type", t.KeyText, nullable=False),
        sa.Column("criteria", t.Json(), nullable=False),
        sa.Column("memberCount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lastRefreshedAt", t.UtcDateTime(), nullable=True),
        sa.Column("avgEngagement", t.Float, nullable=True),
        sa.Column("avgRevenue", t.Float, nullable=True),
        sa.Column(
            "createdAt",
            t.UtcDateTime(),
            server_default=t.CurrentTimestamp(),
            nullable=False,
        ),
        sa.Column("updatedAt", t.UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("segments_type_idx", "segments", ["type"], unique=False)
    _index("segments_userId_idx", "segments", ["userId"], unique=False)


def downgrade() -> None:
    op.drop_table("segments")
    op.drop_table("segment_members")
    op.drop_table("publish_jobs")
    op.drop_table("fans")
    op.drop_table("fan_events")
    op.drop_table("campaigns")
    op.drop_table("campaign_templates")
    op.drop_table("campaign_metrics")
    op.drop_table("campaign_conversions")
    op.drop_table("automations")
    op.drop_table("automation_executions")
    op.drop_table("ab_tests")
    op.drop_table("ab_test_variants")
