import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, PAGE_TRACKERS, logsOf, refresh, startUpstream, trackerCalls } from "../helpers/trackers.js";

// What both tracker collections share, each kind through the same code: pages,
// status codes, notifications, the reference's schedule forms, `_clear_logs`,
// `_logs_summary` and the OpenAPI document.

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let failing = false;

beforeAll(async () => {
  upstream = await startUpstream(() => (failing ? { status: 500, body: "{}" } : { body: '{"ok":true}' }));
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
    gatewayEnv: { TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  upstream?.close();
  await stack?.stop();
});

const KINDS = [
  { kind: "API", base: API_TRACKERS, target: () => ({ url: `http://127.0.0.1:${upstream.port}/ok` }) },
  { kind: "page", base: PAGE_TRACKERS, target: () => ({ extractor: "export async function execute(page) { return 1; }" }) },
];

type Kind = (typeof KINDS)[number];
const create = (u: TestUser, k: Kind, body: Record<string, unknown>) =>
  call(stack, "POST", k.base, { auth: u.auth, json: { config: { revisions: 3 }, target: k.target(), ...body } });
const page = (u: TestUser, k: Kind, query = "") => call<{ items: { id: string; name: string; [k: string]: unknown }[]; total: number }>(stack, "GET", `${k.base}${query}`, { auth: u.auth });
const names = async (u: TestUser, k: Kind, query: string) => {
  const res = await page(u, k, query);
  expect(res.status, res.text).toBe(200);
  return { names: res.body.items.map((t) => t.name), total: res.body.total };
};

describe.each(KINDS)("$kind trackers", (k) => {
  it("GET answers a page: by name by default, pageSize, page, order, q on the name or the id", async () => {
    const u = await newUser(stack);
    expect((await page(u, k)).body).toEqual({ items: [], total: 0 });
    const ids: Record<string, string> = {};
    for (const name of ["delta", "alpha", "Charlie", "bravo"]) {
      const res = await create(u, k, { name });
      expect(res.status, res.text).toBe(201);
      ids[name] = res.body.id;
    }
    expect(await names(u, k, "")).toEqual({ names: ["alpha", "bravo", "Charlie", "delta"], total: 4 });
    expect(await names(u, k, "?pageSize=3")).toEqual({ names: ["alpha", "bravo", "Charlie"], total: 4 });
    expect(await names(u, k, "?pageSize=3&page=1")).toEqual({ names: ["delta"], total: 4 });
    expect(await names(u, k, "?pageSize=3&page=2")).toEqual({ names: [], total: 4 });
    expect(await names(u, k, "?order=desc&pageSize=2")).toEqual({ names: ["delta", "Charlie"], total: 4 });
    expect(await names(u, k, "?q=AR")).toEqual({ names: ["Charlie"], total: 1 });
    expect(await names(u, k, `?q=${ids.bravo}`)).toEqual({ names: ["bravo"], total: 1 });
    expect(await names(u, k, "?sort=createdAt&order=desc&pageSize=1")).toEqual({ names: [expect.any(String)], total: 4 });
    // Out-of-range sizes are clamped as the reference does; unknown sort fields fall back to the name.
    expect(await names(u, k, "?pageSize=0")).toEqual({ names: ["alpha"], total: 4 });
    expect(await names(u, k, "?sort=nonsense")).toEqual({ names: ["alpha", "bravo", "Charlie", "delta"], total: 4 });
    // The reference's tag filters: a tag no tracker has leaves none; what is not an id filters nothing.
    expect((await names(u, k, `?tags=${crypto.randomUUID()}`)).total).toBe(0);
    expect((await names(u, k, "?tags=x,,y&globalTags=z")).total).toBe(4);
    for (const bad of ["?page=x", "?pageSize=-1", "?order=up"]) {
      const res = await page(u, k, bad);
      expect(res.status, bad).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
    // Parameters the reference does not know are ignored there (a client's cache buster), and here.
    expect((await page(u, k, "?_=1733140000")).body.total).toBe(4);
    // Another user's trackers are not counted.
    expect((await page(await newUser(stack), k)).body).toEqual({ items: [], total: 0 });
  });

  it("PUT and DELETE answer 204 without a body", async () => {
    const u = await newUser(stack);
    const t = await create(u, k, { name: "codes" });
    const put = await call(stack, "PUT", `${k.base}/${t.body.id}`, { auth: u.auth, json: { name: "renamed" } });
    expect([put.status, put.text]).toEqual([204, ""]);
    expect((await names(u, k, "")).names).toEqual(["renamed"]);
    const del = await call(stack, "DELETE", `${k.base}/${t.body.id}`, { auth: u.auth });
    expect([del.status, del.text]).toEqual([204, ""]);
    expect((await page(u, k)).body.total).toBe(0);
  });

  it("accepts, stores and returns notifications (false unless sent)", async () => {
    const u = await newUser(stack);
    const on = await create(u, k, { name: "on", notifications: true });
    expect(on.status, on.text).toBe(201);
    expect(on.body.notifications).toBe(true);
    const off = await create(u, k, { name: "off" });
    expect(off.body.notifications).toBe(false);
    expect((await page(u, k)).body.items.map((t) => [t.name, t.notifications])).toEqual([
      ["off", false],
      ["on", true],
    ]);
    expect((await call(stack, "PUT", `${k.base}/${on.body.id}`, { auth: u.auth, json: { notifications: false } })).status).toBe(204);
    // A change elsewhere keeps it.
    expect((await call(stack, "PUT", `${k.base}/${off.body.id}`, { auth: u.auth, json: { notifications: true } })).status).toBe(204);
    expect((await call(stack, "PUT", `${k.base}/${off.body.id}`, { auth: u.auth, json: { name: "off-renamed" } })).status).toBe(204);
    expect((await page(u, k)).body.items.map((t) => [t.name, t.notifications])).toEqual([
      ["off-renamed", true],
      ["on", false],
    ]);
    const bad = await create(u, k, { name: "bad", notifications: "yes" });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/notifications/);
  });

  it.each([
    ["the 7-field form with a year and ?", "0 0 0/1 * * ? *", "0 0 0/1 * * ? *"],
    ["a year in the future", "0 0 0 1 1 ? 2150", "0 0 0 1 1 ? 2150"],
    ["? in the day of month", "0 30 9 ? * MON-FRI", "0 30 9 ? * MON-FRI"],
    ["5 fields", "*/15 * * * *", "*/15 * * * *"],
  ])("accepts a schedule in %s and keeps it as written", async (_label, schedule, kept) => {
    const u = await newUser(stack);
    const res = await create(u, k, { name: "cron", config: { revisions: 3, job: { schedule } } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.config).toEqual({ revisions: 3, job: { schedule: kept } });
  });

  it("turns @hourly and @daily into expressions anchored at the time they are saved, as the reference stores them", async () => {
    const u = await newUser(stack);
    const now = new Date();
    const hourly = await create(u, k, { name: "hourly", config: { revisions: 3, job: { schedule: "@hourly" } } });
    expect(hourly.status, hourly.text).toBe(201);
    const minutes = [now.getUTCMinutes(), new Date().getUTCMinutes()];
    expect(minutes.map((m) => `0 ${m} * * * *`)).toContain(hourly.body.config.job.schedule);
    const daily = await create(u, k, { name: "daily", config: { revisions: 3, job: { schedule: "@daily" } } });
    expect(daily.body.config.job.schedule).toMatch(/^0 \d{1,2} \d{1,2} \* \* \*$/);
  });

  it.each([
    ["a year that has passed", "0 0 0 1 1 ? 2020", /never fires again/],
    ["a malformed year", "0 0 0 1 1 ? 20x0", /year field/],
    ["8 fields", "0 0 0 1 1 ? * *", /7 with a year/],
    ["every second in the 7-field form", "* * * * * ? *", /once a minute/],
  ])("refuses a schedule with %s", async (_label, schedule, message) => {
    const u = await newUser(stack);
    const res = await create(u, k, { name: "bad cron", config: { revisions: 3, job: { schedule } } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it("_clear_logs is 204 for the owner and 404 for anyone else; _logs_summary lists each tracker of the caller", async () => {
    const [u, other] = [await newUser(stack), await newUser(stack)];
    const t = await create(u, k, { name: "logged" });
    const summary = await call(stack, "GET", `${k.base}/_logs_summary`, { auth: u.auth });
    expect(summary.status, summary.text).toBe(200);
    expect(summary.body).toEqual({ [t.body.id]: [] });
    expect((await call(stack, "GET", `${k.base}/_logs_summary`, { auth: other.auth })).body).toEqual({});
    const foreign = await call(stack, "POST", `${k.base}/${t.body.id}/_clear_logs`, { auth: other.auth });
    expect(foreign.status).toBe(404);
    const own = await call(stack, "POST", `${k.base}/${t.body.id}/_clear_logs`, { auth: u.auth });
    expect([own.status, own.text]).toEqual([204, ""]);
    expect((await call(stack, "POST", `${k.base}/not-a-uuid/_clear_logs`, { auth: u.auth })).status).toBe(400);
    expect((await call(stack, "GET", `${k.base}/_logs_summary`)).status).toBe(401);
  });
});

describe("run logs of API trackers", () => {
  it("_logs_summary gives each tracker's newest 10 runs, newest first; _clear_logs empties one tracker's logs and keeps its revisions", async () => {
    const u = await newUser(stack);
    const api = trackerCalls(API_TRACKERS);
    const busy = await api.create(stack, u, { name: "busy", target: { url: `http://127.0.0.1:${upstream.port}/busy` } });
    const once = await api.create(stack, u, { name: "once", target: { url: `http://127.0.0.1:${upstream.port}/once` } });
    const idle = await api.create(stack, u, { name: "idle", target: { url: `http://127.0.0.1:${upstream.port}/idle` } });
    for (let i = 0; i < 11; i++) {
      failing = i === 10;
      await refresh(stack, u, busy);
    }
    failing = false;
    expect((await refresh(stack, u, once)).status).toBe(200);

    const summary = await call<Record<string, { id: string; outcome: string }[]>>(stack, "GET", `${API_TRACKERS}/_logs_summary`, { auth: u.auth });
    expect(summary.status).toBe(200);
    expect(Object.keys(summary.body).sort()).toEqual([busy, once, idle].sort());
    const allBusy = await logsOf(stack, u, busy);
    expect(allBusy).toHaveLength(11);
    expect(summary.body[busy]).toEqual(allBusy.slice(0, 10));
    expect(summary.body[busy]!.map((l) => l.outcome)).toEqual(["failed", ...Array(9).fill("ok")]);
    expect(summary.body[once]!.map((l) => l.outcome)).toEqual(["ok"]);
    expect(summary.body[idle]).toEqual([]);

    expect((await call(stack, "POST", `${API_TRACKERS}/${busy}/_clear_logs`, { auth: u.auth })).status).toBe(204);
    expect(await logsOf(stack, u, busy)).toEqual([]);
    expect(await logsOf(stack, u, once)).toHaveLength(1);
    expect(await api.revisionsOf(stack, u, busy)).toHaveLength(1);
  });
});

describe("OpenAPI", () => {
  it("gives every tracker operation a unique camelCase operationId, a summary and the web_scraping tag", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    const ops: { path: string; method: string; op: { operationId?: string; summary?: string; tags?: string[] } }[] = [];
    for (const [path, item] of Object.entries<Record<string, { operationId?: string; summary?: string; tags?: string[] }>>(doc.paths)) {
      if (!path.startsWith("/api/web_scraping/")) continue;
      for (const [method, op] of Object.entries(item)) ops.push({ path, method, op });
    }
    const routes = ops.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    for (const base of [API_TRACKERS, PAGE_TRACKERS]) {
      for (const route of [
        `GET ${base}`,
        `POST ${base}`,
        `PUT ${base}/{tracker_id}`,
        `DELETE ${base}/{tracker_id}`,
        `POST ${base}/{tracker_id}/_history`,
        `POST ${base}/{tracker_id}/_clear`,
        `GET ${base}/{tracker_id}/_logs`,
        `POST ${base}/{tracker_id}/_clear_logs`,
        `GET ${base}/_logs_summary`,
        `POST ${base}/_debug`,
      ]) {
        expect(routes).toContain(route);
      }
    }
    expect(routes).toContain(`POST ${API_TRACKERS}/_test`);
    for (const { op } of ops) {
      expect(op.operationId).toMatch(/^[a-z][a-zA-Z]+$/);
      expect(op.summary).toEqual(expect.any(String));
      expect(op.tags).toEqual(["web_scraping"]);
    }
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths[API_TRACKERS].get.operationId).toBe("listApiTrackers");
    expect(doc.paths[`${PAGE_TRACKERS}/{tracker_id}`].put.responses["204"]).toBeDefined();
    expect(Object.keys(doc.paths[API_TRACKERS].get.responses["200"].content["application/json"].schema.properties).sort()).toEqual(["items", "total"]);
  });
});
