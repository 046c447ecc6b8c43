"""campaign state invariants

Revision ID: cc0015
Revises: cc0014
Create Date: 2026-12-08 00:45:00.000000

Invariants between a campaign's columns that the lifecycle keeps and that another client
(a Next.js app on Prisma) could break by writing ``status`` alone (issue 21):

- ``ck_campaigns_active_started``: an ``active``, ``paused`` or ``completed`` campaign has
  ``startedAt`` (launching sets it; pausing, resuming and completing keep it);
- ``ck_campaigns_scheduled_for``: a ``scheduled`` campaign has ``scheduledFor``;
- ``ck_campaigns_ended_at``: a ``completed`` or ``cancelled`` campaign has ``completedAt``
  (completing and cancelling set it).

PostgreSQL adds them ``NOT VALID`` and MariaDB with ``check_constraint_checks`` off, as
``cc0011`` does, so rows written before them do not stop the upgrade; every new write is
checked. SQLite gets none (see ``cc0011``).
"""

from __future__ import annotations

from alembic import op

# revision identifiers, used by Alembic.
revision = "cc0015"
down_revision = "cc0014"
branch_labels = None
depends_on = None

# name -> condition (PostgreSQL's quoting; MariaDB's is swapped in)
CHECKS: dict[str, str] = {
    "ck_campaigns_active_started": (
        "status NOT IN ('active', 'paused', 'completed') OR \"startedAt\" IS NOT NULL"
    ),
    "ck_campaigns_scheduled_for": "status <> 'scheduled' OR \"scheduledFor\" IS NOT NULL",
    "ck_campaigns_ended_at": (
        "status NOT IN ('completed', 'cancelled') OR \"completedAt\" IS NOT NULL"
    ),
}


def _condition(test: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return test
    return test.replace('"', "`")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, test in CHECKS.items():
            op.execute(f"ALTER TABLE campaigns ADD CONSTRAINT {name} CHECK ({test}) NOT VALID")
    elif dialect in ("mysql", "mariadb"):
        op.execute("SET SESSION check_constraint_checks = 0")
        try:
            for name, test in CHECKS.items():
                op.execute(
                    f"ALTER TABLE campaigns ADD CONSTRAINT {name} CHECK ({_condition(test)})"
                )
        finally:
            op.execute("SET SESSION check_constraint_checks = 1")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for name in CHECKS:
            op.execute(f"ALTER TABLE campaigns DROP CONSTRAINT {name}")
