// The seed's flows through the typed client against a running server; exits 1 on any mismatch.
// CAMPAIGN_CORE_URL and CAMPAIGN_CORE_HTTP_SECRET say where and how.
import { CampaignCoreClient, type Result, type Schemas } from "./client.js";
import { makeRouteHandler } from "./route.js";
import { signActor } from "./sign.js";

const URL_ = process.env.CAMPAIGN_CORE_URL ?? "http://127.0.0.1:8000";
const SECRET = process.env.CAMPAIGN_CORE_HTTP_SECRET ?? "";
const owner = { userId: "creator-ts", role: "owner", accountId: "creator-ts" } as const;
const api = new CampaignCoreClient(URL_, SECRET, owner);

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function ok<T>(result: Result<T>, what: string): T {
  if (!result.ok) throw new Error(`${what}: ${result.status} ${result.error.code}: ${result.error.message}`);
  return result.data;
}

function failed<T>(result: Result<T>, status: number, code: string, what: string): Extract<Result<T>, { ok: false }> {
  check(!result.ok, `${what} should fail`);
  check(result.status === status && result.error.code === code, `${what}: ${result.status} ${result.error.code}`);
  return result;
}

function isCampaign(value: Schemas["Campaign"]): void {
  check(typeof value.id === "string" && typeof value.createdAt === "string", "a Campaign");
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value.createdAt), "createdAt ISO-8601 ms Z");
}

async function templateToMetrics(): Promise<void> {
  const templates = ok(await api.call("get", "/templates"), "templates").items;
  const template = templates[0];
  check(template !== undefined, "a built-in template");
  const campaign = ok(
    await api.call("post", "/templates/{templateId}/campaigns", {
      params: { templateId: template.id },
      body: { name: "From a template", platforms: ["reddit"] },
    }),
    "create from template",
  );
  isCampaign(campaign);
  const at = new Date(Date.now() + 3_600_000).toISOString();
  const scheduled = ok(
    await api.call("post", "/campaigns/{campaignId}/schedule", { params: { campaignId: campaign.id }, body: { scheduledFor: at } }),
    "schedule",
  );
  check(scheduled.status === "scheduled", "scheduled");
  ok(await api.call("post", "/campaigns/{campaignId}/unschedule", { params: { campaignId: campaign.id } }), "unschedule");
  const launched = ok(await api.call("post", "/campaigns/{campaignId}/launch", { params: { campaignId: campaign.id } }), "launch");
  check(launched.campaign.status === "active", "active after launch");
  for (const fan of ["f1", "f2", "f3"]) {
    ok(await api.call("post", "/campaigns/{campaignId}/impressions", { params: { campaignId: campaign.id }, body: { fanId: fan } }), "impression");
  }
  ok(await api.call("post", "/campaigns/{campaignId}/clicks", { params: { campaignId: campaign.id }, body: { fanId: "f1" } }), "click");
  ok(
    await api.call("post", "/campaigns/{campaignId}/conversions", { params: { campaignId: campaign.id }, body: { fanId: "f1", value: 20 } }),
    "conversion",
  );
  const metrics = ok(await api.call("get", "/campaigns/{campaignId}/metrics", { params: { campaignId: campaign.id } }), "metrics");
  const totals = metrics.totals;
  check(totals.impressions === 3 && totals.clicks === 1 && totals.conversions === 1, `metrics ${JSON.stringify(totals)}`);
}

async function abTestToWinner(): Promise<void> {
  const campaign = ok(
    await api.call("post", "/campaigns", {
      body: { name: "Spring drop", type: "ppv", platforms: ["onlyfans"], content: { title: "Spring drop", price: 20 } },
    }),
    "create",
  );
  const created = ok(
    await api.call("post", "/campaigns/{campaignId}/ab-tests", {
      params: { campaignId: campaign.id },
      body: {
        variants: [
          { name: "A", content: { title: "Spring drop" }, isControl: true },
          { name: "B", content: { title: "Last chance: spring drop" } },
        ],
        trafficSplit: { A: 50, B: 50 },
      },
    }),
    "create A/B test",
  );
  const counts: Record<string, { impressions: number; clicks: number; conversions: number }> = {
    A: { impressions: 6000, clicks: 1800, conversions: 300 },
    B: { impressions: 6000, clicks: 1800, conversions: 540 },
  };
  for (const variant of created.variants) {
    const add = counts[variant.name];
    check(add !== undefined, `variant ${variant.name}`);
    ok(
      await api.call("post", "/ab-test-variants/{variantId}/performance", { params: { variantId: variant.id }, body: { metrics: add } }),
      "track variant",
    );
  }
  const decision = ok(await api.call("post", "/ab-tests/{testId}/winner", { params: { testId: created.test.id }, body: {} }), "winner");
  const b = created.variants.find((v) => v.name === "B");
  check(decision.winnerId === b?.id, `B wins: ${decision.message}`);
  const applied = ok(await api.call("post", "/ab-tests/{testId}/apply-winner", { params: { testId: created.test.id } }), "apply");
  check(applied.test.status === "completed", "completed");
}

async function aWorkflow(): Promise<void> {
  const workflow = ok(
    await api.call("post", "/workflows", {
      body: {
        name: "Welcome",
        trigger: { type: "event", event: "fan.subscribed" },
        actions: [{ type: "send_message", template: "welcome" }],
      },
    }),
    "create workflow",
  );
  const active = ok(await api.call("post", "/workflows/{workflowId}/activate", { params: { workflowId: workflow.id }, body: {} }), "activate");
  check(active.status === "active", `active: ${active.status}`);
  ok(await api.call("put", "/fans/{fanId}", { params: { fanId: "fan-w" }, body: { platform: "onlyfans" } }), "fan");
  const run = ok(
    await api.call("post", "/workflows/{workflowId}/executions", { params: { workflowId: workflow.id }, body: { fanId: "fan-w" } }),
    "execute",
  );
  check(run.entered && typeof run.run?.id === "string", `entered: ${run.reason}`);
  const stats = ok(await api.call("get", "/workflows/{workflowId}/stats", { params: { workflowId: workflow.id } }), "stats");
  check(stats.entered >= 1, "stats count the run");
}

async function aSegment(): Promise<void> {
  for (const [id, level] of [["fan-s1", "high"], ["fan-s2", "low"]] as const) {
    ok(await api.call("put", "/fans/{fanId}", { params: { fanId: id }, body: { platform: "onlyfans", spendingLevel: level } }), "fan");
  }
  const segment = ok(
    await api.call("post", "/segments", { body: { name: "High spenders", criteria: { spendingLevel: "high" } } }),
    "create segment",
  );
  const refreshed = ok(await api.call("post", "/segments/{segmentId}/refresh", { params: { segmentId: segment.id } }), "refresh");
  check(refreshed.segment.memberCount === 1, `members ${refreshed.segment.memberCount}`);
  const page = ok(await api.call("get", "/segments", { query: { limit: 1 } }), "segments");
  check(page.total >= 1 && Array.isArray(page.items), "a page");
}

async function badRequests(): Promise<void> {
  const invalid = failed(
    await api.call("post", "/campaigns", { body: { name: "", type: "banner" } as never }),
    422,
    "validation_error",
    "invalid campaign",
  );
  const problems = invalid.error.details?.["problems"] as { path: string }[];
  check(problems.some((p) => p.path === "type"), "a problem at type");
  failed(await api.raw("POST", "/campaigns", "{not json"), 400, "malformed_json", "malformed JSON");
  failed(await api.raw("POST", "/campaigns", "name=x", undefined, { "content-type": "text/plain" }), 415, "unsupported_media_type", "text body");
  failed(await api.raw("GET", "/campaigns/nope", ""), 404, "not_found", "unknown campaign");
  failed(await api.raw("GET", "/nowhere", ""), 404, "no_route", "unknown route");
  failed(await api.raw("PUT", "/campaigns", "{}"), 405, "method_not_allowed", "wrong method");
  const unsigned = await fetch(URL_ + "/campaigns");
  check(unsigned.status === 401, `unsigned: ${unsigned.status}`);
  const forged = await fetch(URL_ + "/campaigns", { headers: signActor("another-secret-of-32-bytes!!!!!!", "GET", "/campaigns", "", owner) });
  check(forged.status === 401, `forged: ${forged.status}`);
  // a captured signed write sent again inside its window is refused, whatever the body says
  const raw = JSON.stringify({ name: "Once only", type: "ppv", platforms: ["reddit"], content: { title: "x" } });
  const headers = { "content-type": "application/json", ...signActor(SECRET, "POST", "/campaigns", raw, owner) };
  const served = await fetch(URL_ + "/campaigns", { method: "POST", body: raw, headers });
  check(served.status === 201, `signed write: ${served.status}`);
  const replayed = await fetch(URL_ + "/campaigns", { method: "POST", body: raw, headers });
  const refusal = (await replayed.json()) as { error: { code: string } };
  check(replayed.status === 401 && refusal.error.code === "replayed_request", `replay: ${replayed.status}`);
}

async function idempotency(): Promise<void> {
  const body = { name: "Once", type: "ppv" as const, platforms: ["reddit" as const], content: { title: "x" } };
  const first = ok(await api.call("post", "/campaigns", { body, idempotencyKey: "ts-key-1" }), "first");
  const again = ok(await api.call("post", "/campaigns", { body, idempotencyKey: "ts-key-1" }), "again");
  check(first.id === again.id, "replayed");
  failed(
    await api.call("post", "/campaigns", { body: { ...body, name: "Other" }, idempotencyKey: "ts-key-1" }),
    422,
    "idempotency_key_reused",
    "reused key",
  );
}

async function routeHandler(): Promise<void> {
  const forward = makeRouteHandler(URL_, SECRET, async (req) =>
    req.headers.get("cookie") === "session=ok" ? owner : null,
  );
  const anonymous = await forward(new Request("http://next.local/api/campaigns"), "/campaigns");
  check(anonymous.status === 401, "the route handler refuses without a session");
  const listed = await forward(new Request("http://next.local/api/campaigns?limit=2", { headers: { cookie: "session=ok" } }), "/campaigns");
  check(listed.status === 200, `forwarded: ${listed.status}`);
  const page = (await listed.json()) as { items: unknown[]; next: string | null };
  check(page.items.length === 2 && typeof page.next === "string", "a page of two with a cursor");
  const bad = await forward(
    new Request("http://next.local/api/campaigns", { method: "POST", body: "{oops", headers: { cookie: "session=ok" } }),
    "/campaigns",
  );
  check(bad.status === 400, `malformed JSON forwarded: ${bad.status}`);
}

const flows: [string, () => Promise<void>][] = [
  ["template -> schedule -> launch -> metrics", templateToMetrics],
  ["A/B test to a winner", abTestToWinner],
  ["a workflow", aWorkflow],
  ["a segment", aSegment],
  ["bad requests", badRequests],
  ["idempotency", idempotency],
  ["a Next.js route handler", routeHandler],
];

let failures = 0;
for (const [name, flow] of flows) {
  try {
    await flow();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
console.log(failures ? `${failures} flow(s) failed` : "all flows passed");
process.exit(failures ? 1 : 0);
