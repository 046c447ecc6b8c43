"""ab test plan

Revision ID: cc0009
Revises: cc0008
Create Date: 2026-12-07 20:55:00.000000

What an A/B test's decision needs fixed when the test is created (issue 20):
``metric`` (what it decides on; existing tests decided on conversion_rate),
``baselineRate`` (the control rate it was planned for), ``plannedHorizon``
(a fixed-horizon test's planned size), ``mixingTau`` (the always-valid
test's mixing standard deviation) and ``minPValues`` (each treatment's
running minimum always-valid p-value). All nullable or defaulted: tests
created before this revision keep deciding as before.

Portable across SQLite, PostgreSQL and MariaDB: use the types from
campaign_core_sqlalchemy._types, keep additions to seed tables nullable or
defaulted, and alter existing tables inside ``op.batch_alter_table`` (SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0009"
down_revision = "cc0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "metric",
                t.KeyText,
                nullable=False,
                server_default=sa.text("'conversion_rate'"),
            )
        )
        batch_op.add_column(sa.Column("baselineRate", t.Float, nullable=True))
        batch_op.add_column(sa.Column("plannedHorizon", t.Int, nullable=True))
        batch_op.add_column(sa.Column("mixingTau", t.Float, nullable=True))
        batch_op.add_column(sa.Column("minPValues", t.Json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ab_tests", schema=None) as batch_op:
        batch_op.drop_column("minPValues")
        batch_op.drop_column("mixingTau")
        batch_op.drop_column("plannedHorizon")
        batch_op.drop_column("baselineRate")
        batch_op.drop_column("metric")
