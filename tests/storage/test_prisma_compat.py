"""PostgreSQL's catalog matches the seed's Prisma schema, column by column and index by index.

The expected schema is the seed's Prisma models, pasted below and parsed here
with Prisma's documented PostgreSQL mapping; nothing is derived from our
SQLAlchemy metadata, so a drift on either side fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from campaign_core_sqlalchemy import SqlAlchemyStore
from tests.conftest import make_store

pytestmark = pytest.mark.postgres

# The seed's models (marketing-campaigns-backend-design.md, "Prisma Schema Extensions"),
# relations included as written; comments dropped.
SEED_PRISMA = """
model Campaign {
  id              String   @id @default(cuid())
  userId          String
  name            String
  description     String?
  type            String
  status          String
  platforms       String[]
  segmentIds      String[]
  content         Json
  mediaUrls       String[]
  scheduledFor    DateTime?
  startedAt       DateTime?
  completedAt     DateTime?
  budget          Float?
  spent           Float    @default(0)
  goals           Json
  isABTest        Boolean  @default(false)
  abTestId        String?
  templateId      String?
  isTemplate      Boolean  @default(false)
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  user            User     @relation(fields: [userId], references: [id])
  metrics         CampaignMetric[]
  automations     Automation[]
  abTest          ABTest?  @relation(fields: [abTestId], references: [id])
  @@index([userId])
  @@index([status])
  @@index([scheduledFor])
  @@map("campaigns")
}

model CampaignTemplate {
  id              String   @id @default(cuid())
  name            String
  description     String?
  niche           String
  type            String
  content         Json
  defaultSettings Json
  usageCount      Int      @default(0)
  avgPerformance  Float?
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  @@index([niche])
  @@index([type])
  @@map("campaign_templates")
}

model ABTest {
  id              String   @id @default(cuid())
  userId          String
  name            String
  status          String
  trafficSplit    Json
  minSampleSize   Int      @default(100)
  confidenceLevel Float    @default(0.95)
  winnerId        String?
  significance    Float?
  startedAt       DateTime?
  completedAt     DateTime?
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  user            User     @relation(fields: [userId], references: [id])
  campaigns       Campaign[]
  variants        ABTestVariant[]
  @@index([userId])
  @@index([status])
  @@map("ab_tests")
}

model ABTestVariant {
  id              String   @id @default(cuid())
  testId          String
  name            String
  isControl       Boolean  @default(false)
  content         Json
  impressions     Int      @default(0)
  clicks          Int      @default(0)
  conversions     Int      @default(0)
  revenue         Float    @default(0)
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  test            ABTest   @relation(fields: [testId], references: [id])
  @@index([testId])
  @@map("ab_test_variants")
}

model Automation {
  id              String   @id @default(cuid())
  userId          String
  name            String
  description     String?
  status          String
  trigger         Json
  conditions      Json[]
  actions         Json[]
  executionCount  Int      @default(0)
  successCount    Int      @default(0)
  failureCount    Int      @default(0)
  lastExecutedAt  DateTime?
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  user            User     @relation(fields: [userId], references: [id])
  executions      AutomationExecution[]
  campaigns       Campaign[]
  @@index([userId])
  @@index([status])
  @@map("automations")
}

model AutomationExecution {
  id              String   @id @default(cuid())
  automationId    String
  status          String
  triggerData     Json
  executedActions Json[]
  errors          Json[]
  startedAt       DateTime
  completedAt     DateTime?
  duration        Int?
  automation      Automation @relation(fields: [automationId], references: [id])
  @@index([automationId])
  @@index([startedAt])
  @@map("automation_executions")
}

model Segment {
  id              String   @id @default(cuid())
  userId          String
  name            String
  description     String?
  type            String
  criteria        Json
  memberCount     Int      @default(0)
  lastRefreshedAt DateTime?
  avgEngagement   Float?
  avgRevenue      Float?
  createdAt       DateTime @default(now())
  updatedAt       DateTime @updatedAt
  user            User     @relation(fields: [userId], references: [id])
  members         SegmentMember[]
  @@index([userId])
  @@index([type])
  @@map("segments")
}

model SegmentMember {
  id              String   @id @default(cuid())
  segmentId       String
  userId          String
  addedAt         DateTime @default(now())
  segment         Segment  @relation(fields: [segmentId], references: [id])
  @@unique([segmentId, userId])
  @@index([segmentId])
  @@index([userId])
  @@map("segment_members")
}

model CampaignMetric {
  id              String   @id @default(cuid())
  campaignId      String
  platform        String?
  impressions     Int      @default(0)
  reach           Int      @default(0)
  clicks          Int      @default(0)
  conversions     Int      @default(0)
  revenue         Float    @default(0)
  spent           Float    @default(0)
  ctr             Float?
  conversionRate  Float?
  roi             Float?
  cpa             Float?
  recordedAt      DateTime @default(now())
  campaign        Campaign @relation(fields: [campaignId], references: [id])
  @@index([campaignId])
  @@index([recordedAt])
  @@map("campaign_metrics")
}

model CampaignConversion {
  id              String   @id @default(cuid())
  campaignId      String
  userId          String
  type            String
  value           Float
  platform        String
  clickedAt       DateTime?
  convertedAt     DateTime
  timeToConvert   Int?
  @@index([campaignId])
  @@index([userId])
  @@index([convertedAt])
  @@map("campaign_conversions")
}
"""

# Prisma's default PostgreSQL type per scalar, as information_schema shows it
# (data_type, udt_name): String text, Int integer, Float double precision,
# Boolean boolean, DateTime timestamp(3), Json jsonb, and lists as arrays.
PRISMA_PG_TYPES = {
    "String": ("text", "text"),
    "Int": ("integer", "int4"),
    "Float": ("double precision", "float8"),
    "Boolean": ("boolean", "bool"),
    "DateTime": ("timestamp without time zone", "timestamp"),
    "Json": ("jsonb", "jsonb"),
    "String[]": ("ARRAY", "_text"),
    "Json[]": ("ARRAY", "_jsonb"),
}
SCALARS = {"String", "Int", "Float", "Boolean", "DateTime", "Json"}


@attrs.frozen
class SeedColumn:
    name: str
    prisma_type: str  # "String", "Json[]"...
    nullable: bool
    default: str | None  # as PostgreSQL shows it in column_default


@attrs.frozen
class SeedIndex:
    name: str
    columns: tuple[str, ...]
    unique: bool


@attrs.frozen
class SeedTable:
    model: str
    table: str
    columns: tuple[SeedColumn, ...]
    indexes: tuple[SeedIndex, ...]


def _pg_default(prisma_default: str | None) -> str | None:
    """Prisma's migration SQL for a @default, as PostgreSQL's catalog prints it back."""
    if prisma_default is None or prisma_default in ("cuid()", "uuid()"):
        return None  # generated by the Prisma client, not the database
    if prisma_default == "now()":
        return "CURRENT_TIMESTAMP"
    return prisma_default  # 0, 100, 0.95, false


def parse_seed(text: str) -> list[SeedTable]:
    """The seed's models as tables, with Prisma's naming rules for PostgreSQL."""
    tables = []
    for model, body in re.findall(r"model (\w+) \{(.*?)\n\}", text, re.S):
        columns: list[SeedColumn] = []
        blocks: list[tuple[str, list[str]]] = []
        table = model
        for line in body.strip().splitlines():
            line = line.strip()
            if line.startswith("@@map"):
                table = re.findall(r'"(\w+)"', line)[0]
            elif line.startswith(("@@index", "@@unique")):
                kind = line[2 : line.index("(")]
                blocks.append((kind, re.findall(r"\w+", line[line.index("[") :])))
            elif line:
                name, type_, *_attributes = line.split()
                base = type_.rstrip("?[]")
                if base not in SCALARS:
                    continue  # a relation field: no column of its own
                default = re.search(r"@default\((.*)\)", line)
                columns.append(
                    SeedColumn(
                        name=name,
                        prisma_type=base + ("[]" if type_.endswith("[]") else ""),
                        # Prisma creates list columns without NOT NULL
                        nullable=type_.endswith(("?", "[]")),
                        default=_pg_default(default.group(1) if default else None),
                    )
                )
        indexes = [SeedIndex(f"{table}_pkey", ("id",), True)]
        for kind, cols in blocks:
            suffix = "key" if kind == "unique" else "idx"
            indexes.append(
                SeedIndex(f"{table}_{'_'.join(cols)}_{suffix}", tuple(cols), kind == "unique")
            )
        tables.append(SeedTable(model, table, tuple(columns), tuple(indexes)))
    return tables


SEED = parse_seed(SEED_PRISMA)


def test_the_seed_parses_into_ten_models() -> None:
    """The pasted seed holds the ten models the issue names, with their @@map table names."""
    assert [t.table for t in SEED] == [
        "campaigns",
        "campaign_templates",
        "ab_tests",
        "ab_test_variants",
        "automations",
        "automation_executions",
        "segments",
        "segment_members",
        "campaign_metrics",
        "campaign_conversions",
    ]
    campaign = SEED[0]
    assert len(campaign.columns) == 22
    assert SeedColumn("platforms", "String[]", True, None) in campaign.columns
    assert SeedColumn("createdAt", "DateTime", False, "CURRENT_TIMESTAMP") in campaign.columns
    assert (
        SeedIndex("segment_members_segmentId_userId_key", ("segmentId", "userId"), True)
        in SEED[7].indexes
    )


@pytest.fixture(scope="module")
def pg() -> Iterator[SqlAlchemyStore]:
    store = make_store("postgres")
    assert isinstance(store, SqlAlchemyStore)
    yield store
    store.close()


def _columns(store: SqlAlchemyStore, table: str) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT column_name, data_type, udt_name, datetime_precision, is_nullable,"
                " column_default FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = :t"
            ),
            {"t": table},
        ).mappings()
        return {r["column_name"]: dict(r) for r in rows}


def _indexes(store: SqlAlchemyStore, table: str) -> dict[str, SeedIndex]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = :t"
            ),
            {"t": table},
        ).all()
    found = {}
    for name, definition in rows:
        columns = re.search(r"USING btree \((.*)\)$", definition)
        assert columns is not None, definition
        found[name] = SeedIndex(
            name,
            tuple(c.strip().strip('"') for c in columns.group(1).split(",")),
            definition.startswith("CREATE UNIQUE INDEX"),
        )
    return found


@pytest.mark.parametrize("seed", SEED, ids=[t.table for t in SEED])
def test_seed_columns_have_prisma_names_types_nullability_and_defaults(
    pg: SqlAlchemyStore, seed: SeedTable
) -> None:
    """Every seed column exists with Prisma's name, PostgreSQL type, nullability and default."""
    actual = _columns(pg, seed.table)
    assert actual, f"table {seed.table} is missing"
    problems = []
    for column in seed.columns:
        got = actual.get(column.name)
        if got is None:
            problems.append(f"{column.name}: missing")
            continue
        data_type, udt = PRISMA_PG_TYPES[column.prisma_type]
        if (got["data_type"], got["udt_name"]) != (data_type, udt):
            problems.append(
                f"{column.name}: type {got['data_type']}/{got['udt_name']}, want {data_type}/{udt}"
            )
        if column.prisma_type == "DateTime" and got["datetime_precision"] != 3:
            problems.append(
                f"{column.name}: timestamp({got['datetime_precision']}), want timestamp(3)"
            )
        if (got["is_nullable"] == "YES") != column.nullable:
            problems.append(f"{column.name}: nullable={got['is_nullable']}, want {column.nullable}")
        if got["column_default"] != column.default:
            problems.append(
                f"{column.name}: default {got['column_default']!r}, want {column.default!r}"
            )
    assert problems == []


@pytest.mark.parametrize("seed", SEED, ids=[t.table for t in SEED])
def test_our_additions_to_seed_tables_are_nullable_or_defaulted(
    pg: SqlAlchemyStore, seed: SeedTable
) -> None:
    """A column the seed does not have never blocks an insert that only knows the seed's columns."""
    seed_names = {c.name for c in seed.columns}
    blocking = [
        name
        for name, got in _columns(pg, seed.table).items()
        if name not in seed_names and got["is_nullable"] == "NO" and got["column_default"] is None
    ]
    assert blocking == []


@pytest.mark.parametrize("seed", SEED, ids=[t.table for t in SEED])
def test_seed_indexes_and_unique_keys_have_prisma_names(
    pg: SqlAlchemyStore, seed: SeedTable
) -> None:
    """The primary key and every @@index/@@unique exist under Prisma's default names."""
    actual = _indexes(pg, seed.table)
    for index in seed.indexes:
        assert actual.get(index.name) == index
    # anything we add on a seed table follows Prisma's naming too, so `prisma db pull` keeps it tidy
    for name, index in actual.items():
        suffix = "key" if index.unique else "idx"
        assert (
            name == f"{seed.table}_pkey"
            or name == f"{seed.table}_{'_'.join(index.columns)}_{suffix}"
        )


def test_ids_are_text_primary_keys(pg: SqlAlchemyStore) -> None:
    """Every seed table's id is a text primary key named <table>_pkey, as Prisma creates it."""
    with pg.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT tc.table_name, tc.constraint_name, kcu.column_name, c.data_type"
                " FROM information_schema.table_constraints tc"
                " JOIN information_schema.key_column_usage kcu"
                "   ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema"
                " JOIN information_schema.columns c"
                "   ON c.table_schema = tc.table_schema AND c.table_name = tc.table_name"
                "  AND c.column_name = kcu.column_name"
                " WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"
            )
        ).all()
    keys = {r[0]: (r[1], r[2], r[3]) for r in rows}
    for seed in SEED:
        assert keys[seed.table] == (f"{seed.table}_pkey", "id", "text")


def test_a_row_written_as_prisma_writes_it_reads_back(pg: SqlAlchemyStore) -> None:
    """A campaign inserted with only the seed's columns (lists left NULL) reads back as a record."""
    with pg.engine.begin() as conn:
        conn.execute(
            sa.text(
                'INSERT INTO campaigns (id, "userId", name, type, status, content, goals, "updatedAt")'
                " VALUES ('prisma-1', 'u1', 'From Prisma', 'promotion', 'draft',"
                " '{\"title\": \"Hi\"}'::jsonb, '{}'::jsonb, '2026-01-02 03:04:05.678')"
            )
        )
    with pg.unit_of_work() as uow:
        got = uow.campaigns.get("prisma-1")
    assert got is not None
    assert (got.platforms, got.segment_ids, got.media_urls) == ((), (), ())
    assert got.content == {"title": "Hi"}
    assert got.updated_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert (got.spent, got.is_ab_test, got.version, got.content_version) == (0.0, False, 1, 1)
