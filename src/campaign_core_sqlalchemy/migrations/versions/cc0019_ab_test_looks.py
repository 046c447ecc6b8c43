"""ab test spending function and recorded looks

Revision ID: cc0019
Revises: cc0018
Create Date: 2026-12-08 01:45:00.000000

Issue 20: a ``group_sequential`` test stores its Lan-DeMets spending function
(``spending``) and the information fractions of the looks it has recorded (``looks``,
a JSON array), which fix how much of its alpha each later look may spend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t
from campaign_core_sqlalchemy.migrations.versions.cc0011_database_invariants import (
    VERSIONED,
    bump_version_triggers,
)

# revision identifiers, used by Alembic.
revision = "cc0019"
down_revision = "cc0018"
branch_labels = None
depends_on = None

_COUNTERS = (*VERSIONED["ab_tests"], "riskThreshold", "probThreshold")


def upgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spending", t.KeyText, nullable=True))
        batch_op.add_column(sa.Column("looks", t.Json(), nullable=True))
    # the version trigger compares the new columns too (SQLite, MariaDB: as of its creation)
    bump_version_triggers("ab_tests", _COUNTERS)


def downgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.drop_column("looks")
        batch_op.drop_column("spending")
    bump_version_triggers("ab_tests", _COUNTERS)
