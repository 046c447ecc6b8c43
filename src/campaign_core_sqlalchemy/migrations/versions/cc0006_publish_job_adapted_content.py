"""publish job adapted content

Revision ID: cc0006
Revises: cc0005
Create Date: 2026-12-06 05:20:00.000000

The content a publish job's first attempt adapted, kept so that every retry
sends the same post under the job's idempotency key (a host's generator may
word it differently each time). Nullable: jobs queued before this revision
adapt on their next attempt, as before.

Portable across SQLite, PostgreSQL and MariaDB: use the types from
campaign_core_sqlalchemy._types, keep additions to seed tables nullable or
defaulted, and alter existing tables inside ``op.batch_alter_table`` (SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0006"
down_revision = "cc0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adaptedContent", t.Json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.drop_column("adaptedContent")
