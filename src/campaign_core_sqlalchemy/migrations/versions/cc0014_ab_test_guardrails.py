"""ab test guardrails and bayesian thresholds

Revision ID: cc0014
Revises: cc0013
Create Date: 2026-12-08 01:00:00.000000

What a test's decision needs fixed at creation beyond ``cc0009`` (issue 20): ``guardrails``
(a JSON array of ``{"metric", "margin", "relative"}``: metrics a winner must not degrade),
and the ``bayesian`` policy's ``riskThreshold`` and ``probThreshold`` (null: the defaults).
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
revision = "cc0014"
down_revision = "cc0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guardrails", t.Json(), nullable=True))
        batch_op.add_column(sa.Column("riskThreshold", t.Float, nullable=True))
        batch_op.add_column(sa.Column("probThreshold", t.Float, nullable=True))
    # the thresholds are numeric columns like the others the version trigger leaves alone,
    # and the trigger's compared columns (SQLite, MariaDB) now include guardrails
    bump_version_triggers("ab_tests", (*VERSIONED["ab_tests"], "riskThreshold", "probThreshold"))


def downgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.drop_column("probThreshold")
        batch_op.drop_column("riskThreshold")
        batch_op.drop_column("guardrails")
    bump_version_triggers("ab_tests")
