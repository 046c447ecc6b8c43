"""automation to campaign primary key

Revision ID: cc0018
Revises: cc0017
Create Date: 2026-12-08 01:25:00.000000

``_AutomationToCampaign`` keyed as Prisma 6 and later key an implicit many-to-many: the
primary key ``_AutomationToCampaign_AB_pkey`` on (``A``, ``B``) instead of the unique index
``_AutomationToCampaign_AB_unique`` earlier Prisma releases made and ``cc0012`` created, so
Prisma Migrate sees no drift on a database the library created first (issue 21). A table
Prisma Migrate made (it has the primary key already) is left as it is. SQLite rebuilds
the table (it cannot add a primary key in place).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "cc0018"
down_revision = "cc0017"
branch_labels = None
depends_on = None

TABLE = "_AutomationToCampaign"
UNIQUE = "_AutomationToCampaign_AB_unique"
PKEY = "_AutomationToCampaign_AB_pkey"


def _has_primary_key() -> bool:
    if op.get_context().as_sql:
        return False  # offline (--sql): the table as cc0012 made it
    return bool(sa.inspect(op.get_bind()).get_pk_constraint(TABLE).get("constrained_columns"))


def upgrade() -> None:
    if _has_primary_key():
        return
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f'DROP INDEX "{UNIQUE}"')
        op.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{PKEY}" PRIMARY KEY ("A", "B")')
    elif dialect in ("mysql", "mariadb"):
        # one statement: the foreign key on A keeps an index on (A, ...) throughout
        op.execute(f"ALTER TABLE `{TABLE}` DROP INDEX `{UNIQUE}`, ADD PRIMARY KEY (`A`, `B`)")
    else:
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.drop_index(UNIQUE)
            batch.create_primary_key(PKEY, ["A", "B"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{PKEY}"')
        op.execute(f'CREATE UNIQUE INDEX "{UNIQUE}" ON "{TABLE}" ("A", "B")')
    elif dialect in ("mysql", "mariadb"):
        op.execute(
            f"ALTER TABLE `{TABLE}` ADD UNIQUE INDEX `{UNIQUE}` (`A`, `B`), DROP PRIMARY KEY"
        )
    else:
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.drop_constraint(PKEY, type_="primary")
            batch.create_index(UNIQUE, ["A", "B"], unique=True)
