"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Portable across SQLite, PostgreSQL and MariaDB: use the types from
campaign_core_sqlalchemy._types, keep additions to seed tables nullable or
defaulted, and alter existing tables inside ``op.batch_alter_table`` (SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t
${imports if imports else ""}
# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
