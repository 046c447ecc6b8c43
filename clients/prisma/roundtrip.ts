// A Next.js app's Prisma client on a database campaign-core created and wrote
// (tests/storage/test_prisma_client.py drives it; it is not run by hand).
//
// Input (environment):
//   DATABASE_URL   postgresql://... of the database `store.upgrade()` created
//   CLIENT         the client `prisma generate` made from `campaign-core prisma schema`
//                  (the `prisma-client` generator: TypeScript, WebAssembly query compiler)
//   EXPECTED       JSON the pytest side wrote: every table's rows as the library's to_json,
//                  the Prisma delegate of each table, the links, the ids the app works with
//   OUT            where to write what happened (JSON)
//
// 1. reads every model the library wrote: every field decoded, equal to to_json;
// 2. writes what an app writes: a campaign (connected to its user and a workflow),
//    a rename, a status change, a many-to-many connect;
// 3. tries values the database must refuse, through the client and through raw SQL,
//    and checks that each one is refused and changes nothing.
// Exits 1 with every mismatch listed when something differs.

import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Expected {
  tables: Record<string, { delegate: string; rows: Record<string, Record<string, Json>> }>;
  links: [string, string][];
  app: { user: string; campaign: string; workflow: string; scheduledFor: string };
  libraryCampaign: string;
}

const expected: Expected = JSON.parse(readFileSync(process.env.EXPECTED!, "utf8"));
const { PrismaClient, Prisma } = await import(pathToFileURL(process.env.CLIENT!).href);
const prisma = new PrismaClient({
  adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }),
});

const mismatches: string[] = [];

function same(actual: unknown, wanted: Json): boolean {
  if (actual instanceof Date) {
    return typeof wanted === "string" && actual.getTime() === new Date(wanted).getTime();
  }
  if (typeof actual === "bigint") {
    return typeof wanted === "number" && actual === BigInt(wanted);
  }
  if (Array.isArray(actual)) {
    return (
      Array.isArray(wanted) &&
      actual.length === wanted.length &&
      actual.every((item, i) => same(item, wanted[i]))
    );
  }
  if (actual !== null && typeof actual === "object") {
    if (wanted === null || typeof wanted !== "object" || Array.isArray(wanted)) return false;
    const keys = Object.keys(actual as object).sort();
    const wantedKeys = Object.keys(wanted).sort();
    return (
      JSON.stringify(keys) === JSON.stringify(wantedKeys) &&
      keys.every((k) => same((actual as Record<string, unknown>)[k], wanted[k]))
    );
  }
  return actual === wanted;
}

// 1. every model the library wrote
const read: Record<string, number> = {};
for (const [table, { delegate, rows }] of Object.entries(expected.tables)) {
  const found: Record<string, unknown>[] = await prisma[delegate].findMany();
  read[table] = found.length;
  const ids = new Set(Object.keys(rows));
  if (found.length !== ids.size) {
    mismatches.push(`${table}: Prisma read ${found.length} rows, the library wrote ${ids.size}`);
  }
  for (const row of found) {
    const wanted = rows[row.id as string];
    if (wanted === undefined) {
      mismatches.push(`${table}: row ${row.id} was not written by the library`);
      continue;
    }
    const fields = Object.keys(row).sort();
    const wantedFields = Object.keys(wanted).sort();
    if (JSON.stringify(fields) !== JSON.stringify(wantedFields)) {
      mismatches.push(`${table}: fields ${fields} != to_json keys ${wantedFields}`);
    }
    for (const field of wantedFields) {
      if (!same(row[field], wanted[field])) {
        mismatches.push(
          `${table} ${row.id}.${field}: Prisma ${JSON.stringify(row[field], (_, v) =>
            typeof v === "bigint" ? v.toString() : v,
          )} != library ${JSON.stringify(wanted[field])}`,
        );
      }
    }
  }
}

// the library's links, through the relation fields of both sides
const linked: [string, string][] = [];
for (const campaign of await prisma.campaign.findMany({ include: { automations: true } })) {
  for (const automation of campaign.automations) linked.push([automation.id, campaign.id]);
}
linked.sort();
if (JSON.stringify(linked) !== JSON.stringify(expected.links)) {
  mismatches.push(`links: Prisma ${JSON.stringify(linked)} != library ${JSON.stringify(expected.links)}`);
}

// 2. what a Next.js app writes
const { app } = expected;
await prisma.user.create({ data: { id: app.user } });
const created = await prisma.campaign.create({
  data: {
    id: app.campaign,
    user: { connect: { id: app.user } },
    name: "Made by the app",
    type: "promotion",
    status: "draft",
    platforms: ["instagram"],
    segmentIds: [],
    content: { title: "Hello from Next.js", description: "20% off" },
    mediaUrls: ["https://cdn.example.com/app.jpg"],
    goals: { clicks: 100 },
    budget: 50,
  },
});
if (created.version !== 1) mismatches.push(`a created campaign has version ${created.version}`);
const renamed = await prisma.campaign.update({
  where: { id: app.campaign },
  data: { name: "Renamed by the app" },
});
if (renamed.version !== 2) {
  mismatches.push(`a rename left version at ${renamed.version} (the trigger bumps it)`);
}
const scheduled = await prisma.campaign.update({
  where: { id: app.campaign },
  data: { status: "scheduled", scheduledFor: new Date(app.scheduledFor) },
});
await prisma.automation.update({
  where: { id: app.workflow },
  data: { campaigns: { connect: { id: app.campaign } } },
});
const withLinks = await prisma.campaign.findUniqueOrThrow({
  where: { id: app.campaign },
  include: { automations: true },
});
if (withLinks.automations.map((a: { id: string }) => a.id).join() !== app.workflow) {
  mismatches.push(`connect: ${JSON.stringify(withLinks.automations)}`);
}

// 3. what the database must refuse, whichever way it is written
const refusals: Record<string, string> = {};
const before = JSON.stringify(
  await prisma.campaign.findUniqueOrThrow({ where: { id: app.campaign } }),
);
async function refused(name: string, write: () => Promise<unknown>, constraint: string) {
  try {
    await write();
    mismatches.push(`${name}: accepted, the database must refuse it`);
  } catch (error) {
    const message = String((error as Error).message ?? error);
    refusals[name] = message.split("\n").filter(Boolean).slice(-1)[0] ?? message;
    if (!message.includes(constraint)) {
      mismatches.push(`${name}: refused without naming ${constraint}: ${message}`);
    }
  }
}
const where = { id: app.campaign };
await refused("status DRAFT", () => prisma.campaign.update({ where, data: { status: "DRAFT" } }), "ck_campaigns_status");
await refused("type banner", () => prisma.campaign.update({ where, data: { type: "banner" } }), "ck_campaigns_type");
await refused("content array", () => prisma.campaign.update({ where, data: { content: [1, 2] } }), "ck_campaigns_content");
await refused("content string", () => prisma.campaign.update({ where, data: { content: "text" } }), "ck_campaigns_content");
await refused("goals JSON null", () => prisma.campaign.update({ where, data: { goals: Prisma.JsonNull } }), "ck_campaigns_goals");
await refused(
  "active without startedAt",
  () => prisma.campaign.update({ where, data: { status: "active" } }),
  "ck_campaigns_active_started",
);
await refused(
  "raw SQL status",
  () => prisma.$executeRawUnsafe(`UPDATE campaigns SET status = 'banner' WHERE id = $1`, app.campaign),
  "ck_campaigns_status",
);
await refused(
  "raw SQL criteria array",
  () => prisma.$executeRawUnsafe(`UPDATE segments SET criteria = '[]'::jsonb`),
  "ck_segments_criteria",
);
await refused(
  "a link to no campaign",
  () => prisma.$executeRawUnsafe(`INSERT INTO "_AutomationToCampaign" ("A", "B") VALUES ($1, 'nope')`, app.workflow),
  "_AutomationToCampaign_B_fkey",
);
const after = JSON.stringify(await prisma.campaign.findUniqueOrThrow({ where: { id: app.campaign } }));
if (after !== before) mismatches.push(`a refused write changed the row: ${before} -> ${after}`);

await prisma.$disconnect();
writeFileSync(
  process.env.OUT!,
  JSON.stringify({ read, links: linked, version: scheduled.version, refusals, mismatches }, null, 2),
);
if (mismatches.length) {
  console.error(mismatches.join("\n"));
  process.exit(1);
}
console.log(`read ${Object.values(read).reduce((a, b) => a + b, 0)} rows of ${Object.keys(read).length} tables; ${Object.keys(refusals).length} writes refused`);
