"""campaign archived at

Revision ID: cc0010
Revises: cc0009
Create Date: 2026-12-07 21:45:00.000000

``campaigns.archivedAt``: set while a completed or cancelled campaign is
archived (``ws.campaigns.archive_campaign``); the status keeps its seed
values. Nullable: existing campaigns are not archived.

Portable across SQLite, PostgreSQL and MariaDB: use the types from
campaign_core_sqlalchemy._types, keep additions to seed tables nullable or
defaulted, and alter existing tables inside ``op.batch_alter_table`` (SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0010"
down_revision = "cc0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archivedAt", t.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("archivedAt")
