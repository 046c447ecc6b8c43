"""database invariants

Revision ID: cc0011
Revises: cc0010
Create Date: 2026-12-07 21:45:00.000000

The database defends what the core relies on, whichever client writes (issue 21):

- CHECK constraints on every enum-valued column (the models' enums at this revision) and on
  the JSON columns the core reads as objects (``jsonb_typeof(c) = 'object'`` on PostgreSQL,
  ``JSON_TYPE(c) = 'OBJECT'`` on MariaDB; JSON null is refused where the column is NOT
  NULL), named ``ck_<table>_<column>``. PostgreSQL adds them ``NOT VALID`` and MariaDB with
  ``check_constraint_checks`` off, so rows written before them do not stop the upgrade
  (reads report such rows, see CorruptRecordError); every new write is checked. SQLite gets
  no CHECKs: adding one needs a rebuild of every table, and a SQLite file is not shared
  with another client the way a server is.
- ``version`` bumped by a trigger on every UPDATE that leaves it as it was but changes a
  column other than the numeric ones (the counters the library increments without a new
  version: ``spent``, ``memberCount``...), so the library's optimistic concurrency sees
  writes from other clients (a Prisma update always changes ``updatedAt``). The library's
  own updates set ``version`` themselves and are not bumped twice. PostgreSQL: one plpgsql
  function (``campaign_core_bump_version``, the exempt columns as trigger arguments, the
  row compared as jsonb, so columns added later are compared too); MariaDB: a BEFORE UPDATE
  trigger per table; SQLite: an AFTER UPDATE trigger per table. On MariaDB and SQLite the
  compared columns are the table's columns when this revision runs: a later revision that
  adds a column to a versioned table recreates the trigger (``bump_version_triggers``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "cc0011"
down_revision = "cc0010"
branch_labels = None
depends_on = None

# the values of each enum-valued column (the models' enums at this revision)
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ab_tests", "status"): ("running", "completed", "cancelled"),
    ("automation_executions", "status"): ("success", "failure", "partial"),
    ("automation_runs", "status"): (
        "active",
        "held",
        "completed",
        "exited",
        "failed",
        "cancelled",
        "timed_out",
    ),
    ("automation_step_runs", "status"): ("completed", "retrying", "failed", "skipped"),
    ("automations", "status"): ("active", "paused", "archived"),
    ("broadcasts", "status"): ("snapshotting", "delivering", "paused", "done", "cancelled"),
    ("campaign_templates", "niche"): ("fitness", "gaming", "adult", "fashion", "general"),
    ("campaign_templates", "type"): ("ppv", "subscription", "promotion", "engagement", "retention"),
    ("campaigns", "status"): ("draft", "scheduled", "active", "paused", "completed", "cancelled"),
    ("campaigns", "type"): ("ppv", "subscription", "promotion", "engagement", "retention"),
    ("message_deliveries", "status"): (
        "queued",
        "sending",
        "sent",
        "delivered",
        "opened",
        "clicked",
        "failed",
        "suppressed",
        "cancelled",
    ),
    ("publish_jobs", "status"): ("pending", "retrying", "published", "failed", "cancelled"),
    ("segment_members", "source"): ("criteria", "manual"),
    ("segments", "type"): ("static", "dynamic", "hybrid"),
    ("suppressions", "reason"): ("hard_bounce", "complaint", "manual", "unsubscribe"),
}

# JSON columns the core reads as objects: column -> nullable
OBJECTS: dict[tuple[str, str], bool] = {
    ("ab_test_variants", "content"): False,
    ("ab_tests", "minPValues"): True,
    ("ab_tests", "trafficSplit"): False,
    ("audit_records", "after"): True,
    ("audit_records", "before"): True,
    ("automation_executions", "triggerData"): False,
    ("automation_runs", "state"): False,
    ("automation_runs", "triggerData"): False,
    ("automation_runs", "variables"): False,
    ("automation_step_runs", "output"): False,
    ("automation_versions", "definition"): False,
    ("automations", "settings"): False,
    ("automations", "trigger"): False,
    ("broadcasts", "message"): False,
    ("campaign_templates", "content"): False,
    ("campaign_templates", "defaultSettings"): False,
    ("campaigns", "content"): False,
    ("campaigns", "goals"): False,
    ("delivery_events", "payload"): False,
    ("fan_events", "properties"): False,
    ("fans", "addresses"): False,
    ("fans", "traits"): False,
    ("message_templates", "parts"): False,
    ("publish_jobs", "adaptedContent"): True,
    ("rate_limits", "state"): False,
    ("segments", "criteria"): False,
}

# versioned tables -> their numeric columns (counters the library increments without a new version)
VERSIONED: dict[str, tuple[str, ...]] = {
    "ab_test_validations": (
        "holdoutPercent",
        "winnerImpressions",
        "winnerConversions",
        "baselineImpressions",
        "baselineConversions",
    ),
    "ab_test_variants": ("impressions", "clicks", "conversions", "revenue", "revenueSumSquares"),
    "ab_tests": (
        "minSampleSize",
        "confidenceLevel",
        "significance",
        "plannedMde",
        "baselineRate",
        "plannedHorizon",
        "mixingTau",
    ),
    "automation_runs": ("workflowVersion", "attempts", "stepCount", "chainDepth"),
    "automation_triggers": (),
    "automations": ("executionCount", "successCount", "failureCount", "workflowVersion"),
    "broadcasts": ("audienceSize",),
    "campaign_analytics_state": ("overspendAlertBudget",),
    "campaign_templates": ("usageCount", "avgPerformance"),
    "campaigns": ("budget", "spent", "contentVersion"),
    "fan_consents": (),
    "fans": ("engagement", "lifetimeValue"),
    "message_deliveries": ("attempts", "cost"),
    "message_templates": (),
    "platform_credentials": (),
    "publish_jobs": ("contentVersion", "attempts"),
    "rate_limits": (),
    "segments": ("memberCount", "avgEngagement", "avgRevenue"),
}


def _q(name: str) -> str:
    return str(op.get_bind().dialect.identifier_preparer.quote(name))


def _checks() -> list[tuple[str, str, str]]:
    """(table, constraint name, condition) for this database."""
    dialect = op.get_bind().dialect.name
    out: list[tuple[str, str, str]] = []
    for (table, column), values in ENUMS.items():
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        out.append((table, f"ck_{table}_{column}", f"{_q(column)} IN ({listed})"))
    for (table, column), nullable in OBJECTS.items():
        if dialect == "postgresql":
            test = f"jsonb_typeof({_q(column)}) = 'object'"
        else:
            test = f"JSON_TYPE({_q(column)}) = 'OBJECT'"
        if nullable:
            test = f"{_q(column)} IS NULL OR {test}"
        out.append((table, f"ck_{table}_{column}", test))
    return out


def _compared(table: str, counters: tuple[str, ...]) -> list[str]:
    exempt = {*counters, "version"}
    columns = sa.inspect(op.get_bind()).get_columns(table)
    return [c["name"] for c in columns if c["name"] not in exempt]


def bump_version_triggers(table: str, counters: tuple[str, ...] | None = None) -> None:
    """(Re)create ``table``'s version trigger (MariaDB, SQLite: the compared columns as of now).

    ``counters``: the numeric columns whose increments leave the version alone (default:
    this migration's list; a later migration adding such columns passes the longer list).
    """
    dialect = op.get_bind().dialect.name
    name = f"cc_bump_version_{table}"
    exempt = VERSIONED[table] if counters is None else counters
    if dialect == "postgresql":
        args = ", ".join("'" + c + "'" for c in exempt)
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON "{table}"')
        op.execute(
            f'CREATE TRIGGER {name} BEFORE UPDATE ON "{table}" FOR EACH ROW'
            f" EXECUTE FUNCTION campaign_core_bump_version({args})"
        )
        return
    op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "sqlite":
        same = " AND ".join(f"NEW.{_q(c)} IS OLD.{_q(c)}" for c in _compared(table, exempt))
        op.execute(
            f"CREATE TRIGGER {name} AFTER UPDATE ON {_q(table)} FOR EACH ROW"
            f" WHEN NEW.version = OLD.version AND NOT ({same})"
            f" BEGIN UPDATE {_q(table)} SET version = OLD.version + 1 WHERE id = NEW.id; END"
        )
        return
    same = " AND ".join(f"NEW.{_q(c)} <=> OLD.{_q(c)}" for c in _compared(table, exempt))
    op.execute(
        f"CREATE TRIGGER {name} BEFORE UPDATE ON {_q(table)} FOR EACH ROW"
        f" SET NEW.version = IF(NEW.version = OLD.version AND NOT ({same}),"
        " OLD.version + 1, NEW.version)"
    )


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION campaign_core_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- a write that left version as it was but changed more than the counters: a new version
  IF NEW.version = OLD.version
     AND (to_jsonb(NEW) - TG_ARGV) IS DISTINCT FROM (to_jsonb(OLD) - TG_ARGV) THEN
    NEW.version := OLD.version + 1;
  END IF;
  RETURN NEW;
END
$$
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table, name, test in _checks():
            op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT {name} CHECK ({test}) NOT VALID')
        op.execute(_PG_FUNCTION)
    elif dialect in ("mysql", "mariadb"):
        op.execute("SET SESSION check_constraint_checks = 0")
        try:
            for table, name, test in _checks():
                op.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {name} CHECK ({test})")
        finally:
            op.execute("SET SESSION check_constraint_checks = 1")
    for table in VERSIONED:
        bump_version_triggers(table)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in VERSIONED:
        name = f"cc_bump_version_{table}"
        if dialect == "postgresql":
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON "{table}"')
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS campaign_core_bump_version()")
    if dialect != "sqlite":
        for table, name, _ in _checks():
            op.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {name}")
