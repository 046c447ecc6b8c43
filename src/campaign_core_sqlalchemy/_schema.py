"""The tables: the seed's Prisma models with Prisma's names and types, plus our additions.

Seed models keep their ``@@map`` table names, camelCase column names and the
seed's indexes and unique constraints, so a Next.js app can read them with its
Prisma client. Everything we add (tables, and columns such as ``version`` or
``ownerId`` on templates) is additive: nullable or with a default.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, Table, UniqueConstraint, text

from campaign_core_sqlalchemy._types import (
    Bool,
    Float,
    Int,
    Json,
    KeyText,
    StringArray,
    TextCol,
    UtcDateTime,
)

__all__ = ["TABLES", "metadata"]

metadata = MetaData()

_NOW = text("CURRENT_TIMESTAMP")


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
    Column("platforms", StringArray, nullable=False),
    Column("segmentIds", StringArray, nullable=False),
    Column("content", Json, nullable=False),
    Column("mediaUrls", StringArray, nullable=False),
    Column("scheduledFor", UtcDateTime),
    Column("startedAt", UtcDateTime),
    Column("completedAt", UtcDateTime),
    Column("budget", Float),
    Column("spent", Float, nullable=False, server_default=text("0")),
    Column("goals", Json, nullable=False),
    Column("isABTest", Bool, nullable=False, server_default=text("false")),
    Column("abTestId", KeyText),
    Column("templateId", KeyText),
    Column("isTemplate", Bool, nullable=False, server_default=text("false")),
    Column("createdAt", UtcDateTime, nullable=False, server_default=_NOW),
    Column("updatedAt", UtcDateTime, nullable=False),
    # additions
    _version(),
    Column("contentVersion", Int, nullable=False, server_default=text("1")),
    Column("pausedReason", KeyText),
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
    UniqueConstraint("ownerId", "key", name="campaign_templates_ownerId_key_key"),
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
    UniqueConstraint("idempotencyKey", name="publish_jobs_idempotencyKey_key"),
    Index("publish_jobs_campaignId_idx", "campaignId"),
    Index("publish_jobs_status_nextAttemptAt_idx", "status", "nextAttemptAt"),
)

# repository name (campaign_core.entities) -> table
TABLES: dict[str, Table] = {
    "campaigns": campaigns,
    "templates": campaign_templates,
    "publish_jobs": publish_jobs,
}
