"""automation to campaign

Revision ID: cc0012
Revises: cc0011
Create Date: 2026-12-07 21:55:00.000000

The seed's implicit many-to-many between ``Campaign`` and ``Automation``
(``campaigns Campaign[]`` / ``automations Automation[]``), as Prisma expects it:
table ``_AutomationToCampaign`` with ``A`` (the automation) and ``B`` (the
campaign), the unique index ``_AutomationToCampaign_AB_unique`` and the index
``_AutomationToCampaign_B_index`` (issue 21). The foreign keys cascade on
delete and update, so a campaign or workflow deleted by either client leaves no
dangling link. A table Prisma Migrate created first is adopted as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0012"
down_revision = "cc0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not op.get_context().as_sql and sa.inspect(op.get_bind()).has_table("_AutomationToCampaign"):
        # Prisma Migrate made it first (the seed's implicit many-to-many; Prisma 6 and later
        # key it by a primary key "_AutomationToCampaign_AB_pkey" rather than the unique
        # index): adopted as it is, with its cascading foreign keys
        return
    op.create_table(
        "_AutomationToCampaign",
        sa.Column("A", t.KeyText, nullable=False),
        sa.Column("B", t.KeyText, nullable=False),
        sa.ForeignKeyConstraint(
            ["A"],
            ["automations.id"],
            name="_AutomationToCampaign_A_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["B"],
            ["campaigns.id"],
            name="_AutomationToCampaign_B_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )
    op.create_index(
        "_AutomationToCampaign_AB_unique", "_AutomationToCampaign", ["A", "B"], unique=True
    )
    op.create_index("_AutomationToCampaign_B_index", "_AutomationToCampaign", ["B"])


def downgrade() -> None:
    op.drop_table("_AutomationToCampaign")
