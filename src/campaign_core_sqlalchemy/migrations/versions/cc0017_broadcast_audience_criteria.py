"""broadcast audience criteria

Revision ID: cc0017
Revises: cc0016
Create Date: 2026-12-08 01:30:00.000000

``broadcasts.audienceCriteria``: a campaign's audience given as criteria (the
segments' criteria language, canonical JSON) instead of segments; the snapshot
walks the fans matching it from a cursor. Nullable: existing broadcasts deliver
to their campaign's segments.

Portable across SQLite, PostgreSQL and MariaDB: use the types from
campaign_core_sqlalchemy._types, keep additions nullable or defaulted, and alter
existing tables inside ``op.batch_alter_table`` (SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0017"
down_revision = "cc0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audienceCriteria", t.Json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("audienceCriteria")
