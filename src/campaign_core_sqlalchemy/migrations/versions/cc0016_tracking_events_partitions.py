"""tracking events partitioned by month on postgresql

Revision ID: cc0016
Revises: cc0015
Create Date: 2026-12-08 01:10:00.000000

Issue 23. On PostgreSQL ``tracking_events`` becomes a table partitioned by range of
``occurredAt``, one partition a calendar month (UTC), plus a default partition for rows
outside them; the months of the existing rows and three months ahead are created here, and
``core.tick()`` keeps creating them ahead (``SqlAlchemyStore.maintain``). Existing rows are
copied. A partitioned table's primary key must hold the partition column, so the key
becomes ``(id, occurredAt)`` on every database (SQLite and MariaDB keep one plain table):
one schema, one generated Prisma model.
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

from campaign_core_sqlalchemy import _types as t

# revision identifiers, used by Alembic.
revision = "cc0016"
down_revision = "cc0015"
branch_labels = None
depends_on = None

_COLUMNS = (
    '"id", "ownerId", "campaignId", "kind", "fanId", "platform", "variantId", "value",'
    ' "occurredAt", "createdAt"'
)
_INDEXES = (
    (
        "tracking_events_campaignId_fanId_kind_occurredAt_idx",
        ["campaignId", "fanId", "kind", "occurredAt"],
    ),
    ("tracking_events_campaignId_kind_occurredAt_idx", ["campaignId", "kind", "occurredAt"]),
)


_MONTHS = """
DO $$
DECLARE
  utc_now timestamp := now() AT TIME ZONE 'UTC';
  m timestamp;
  last_month timestamp;
BEGIN
  SELECT date_trunc('month', LEAST(COALESCE(min("occurredAt"), utc_now), utc_now)),
         date_trunc('month', GREATEST(COALESCE(max("occurredAt"), utc_now), utc_now))
           + interval '3 months'
    INTO m, last_month
    FROM "tracking_events_old";
  WHILE m <= last_month LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF "tracking_events" FOR VALUES FROM (%L) TO (%L)',
      'tracking_events_p' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
    m := m + interval '1 month';
  END LOOP;
END
$$
"""


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", t.KeyText, nullable=False),
        sa.Column("ownerId", t.KeyText, nullable=False),
        sa.Column("campaignId", t.KeyText, nullable=False),
        sa.Column("kind", t.KeyText, nullable=False),
        sa.Column("fanId", t.KeyText, nullable=True),
        sa.Column("platform", t.KeyText, nullable=True),
        sa.Column("variantId", t.KeyText, nullable=True),
        sa.Column("value", t.Float, server_default=sa.text("0"), nullable=False),
        sa.Column("occurredAt", t.UtcDateTime(), nullable=False),
        sa.Column("createdAt", t.UtcDateTime(), nullable=False),
    ]


def _set_aside() -> None:
    """Rename the plain table, its key and its indexes out of the way (PostgreSQL)."""
    op.execute('ALTER TABLE "tracking_events" RENAME TO "tracking_events_old"')
    op.execute(
        'ALTER TABLE "tracking_events_old" RENAME CONSTRAINT "tracking_events_pkey"'
        ' TO "tracking_events_old_pkey"'
    )
    for i, (name, _) in enumerate(_INDEXES):
        op.execute(f'ALTER INDEX "{name}" RENAME TO "tracking_events_old_idx{i}"')


def _indexes() -> None:
    for name, columns in _INDEXES:
        op.create_index(name, "tracking_events", columns, unique=False)


def _sqlite_primary_key(columns: list[str]) -> None:
    """SQLite changes a key by copying the table (alembic's batch mode)."""
    with warnings.catch_warnings():
        # batch mode reflects the old key, then is told the new one: it warns, and uses the new
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_tracking_events' specifies")
        with op.batch_alter_table("tracking_events", recreate="always") as batch_op:
            batch_op.create_primary_key("tracking_events_pkey", columns)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        _set_aside()
        op.create_table(
            "tracking_events",
            *_columns(),
            sa.PrimaryKeyConstraint("id", "occurredAt", name="tracking_events_pkey"),
            postgresql_partition_by='RANGE ("occurredAt")',
        )
        _indexes()
        # the default partition, and the months of the rows there are, this month (the
        # database's clock) and 3 ahead; a DO block, so the offline SQL script does the same
        op.execute('CREATE TABLE "tracking_events_default" PARTITION OF "tracking_events" DEFAULT')
        op.execute(_MONTHS)
        op.execute(
            f'INSERT INTO "tracking_events" ({_COLUMNS}) SELECT {_COLUMNS} FROM "tracking_events_old"'
        )
        op.execute('DROP TABLE "tracking_events_old"')
    elif dialect in ("mysql", "mariadb"):
        op.execute("ALTER TABLE tracking_events DROP PRIMARY KEY, ADD PRIMARY KEY (id, occurredAt)")
    else:
        _sqlite_primary_key(["id", "occurredAt"])


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        _set_aside()
        op.create_table(
            "tracking_events",
            *_columns(),
            sa.PrimaryKeyConstraint("id", name="tracking_events_pkey"),
        )
        _indexes()
        op.execute(
            f'INSERT INTO "tracking_events" ({_COLUMNS}) SELECT {_COLUMNS} FROM "tracking_events_old"'
        )
        op.execute('DROP TABLE "tracking_events_old" CASCADE')
    elif dialect in ("mysql", "mariadb"):
        op.execute("ALTER TABLE tracking_events DROP PRIMARY KEY, ADD PRIMARY KEY (id)")
    else:
        _sqlite_primary_key(["id"])
