"""idempotency records

Revision ID: cc0013
Revises: cc0012
Create Date: 2026-12-08 00:40:00.000000

The HTTP layer's idempotency keys and the signed requests it has served (issue 22): table
``idempotency_records``, its primary key a digest of (scope, account, user, key) so that two
first uses of one key conflict from any process, and an index on ``expiresAt`` for the purge
``core.tick()`` runs in bounded batches.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0013"
down_revision = "cc0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("scope", t.KeyText, nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=False),
        sa.Column("actorId", t.KeyText, nullable=False),
        sa.Column("key", t.TextCol, nullable=False),
        sa.Column("method", t.KeyText, nullable=False),
        sa.Column("path", t.TextCol, nullable=False),
        sa.Column("requestHash", t.KeyText, nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("responseBody", t.TextCol, nullable=False),
        sa.Column("responseHeaders", t.Json(), nullable=False),
        sa.Column("createdAt", t.UtcDateTime(), nullable=False),
        sa.Column("expiresAt", t.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index("idempotency_records_expiresAt_idx", ["expiresAt"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index("idempotency_records_expiresAt_idx")
    op.drop_table("idempotency_records")
