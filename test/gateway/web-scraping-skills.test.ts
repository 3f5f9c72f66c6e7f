import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { referenceDir } from "../helpers/reference-docs.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { API_TRACKERS, PAGE_TRACKERS, trackerCalls, type Revision } from "../helpers/trackers.js";

// The reference's web-scraping skill documents, run as an agent following them
// would: their curl examples, create payloads and scripts, read from the
// documents themselves (test/helpers/reference-docs.ts finds them) at test time, with
// https://secutils.dev pointed at this gateway and the example hosts at a local
// test site that the sandbox's outbound policy allow-lists.


const run = promisify(execFile);
const api = trackerCalls(API_TRACKERS);
const pages = trackerCalls(PAGE_TRACKERS);

let stack: Stack;
let site: TestSite;
const docs: Record<"api" | "page", string> = { api: "", page: "" };

beforeAll(async () => {
  for (const kind of ["api", "page"] as const) {
    const file = path.join(referenceDir(), `web-scraping-${kind}.SKILL.md`);
    docs[kind] = fs.readFileSync(file, "utf8");
  }
  site = await startTestSite();
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port}` },
    // Caps well above the payloads' timeouts, so that a run cut short shows the tracker's own.
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "40000", TRACKER_REQUEST_TIMEOUT_MS: "30000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  site?.close();
  await stack?.stop();
});

/** The fenced blocks of one language in a document, in document order. */
const blocks = (kind: "api" | "page", lang: string) => [...docs[kind].matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
/** The document's hosts pointed at this stack and the local site. */
const local = (text: string) =>
  text
    .replaceAll("https://secutils.dev", stack.url)
    .replaceAll("https://api.example.com/state", site.url("/api/echo"))
    .replaceAll("https://news.ycombinator.com/", site.url("/hn"));
/** The document's create payload (its first JSON block), pointed at the local site. */
const payload = (kind: "api" | "page") => JSON.parse(local(blocks(kind, "json")[0]!)) as Record<string, unknown> & { target: Record<string, unknown> };

/** Runs a bash block in a fresh folder holding `files`, as a user who saved the payloads there would. */
async function bash(user: TestUser, script: string, files: Record<string, string> = {}, env: Record<string, string> = {}): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skill-"));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    const { stdout } = await run("bash", ["-c", `set -euo pipefail\n${script}`], { cwd: dir, env: { ...process.env, SECUTILS_API_KEY: user.token, ...env } });
    return stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const onlyTracker = async (user: TestUser, base: string) => {
  const res = await call<{ items: Record<string, unknown>[]; total: number }>(stack, "GET", base, { auth: user.auth });
  expect(res.body.total).toBe(1);
  return res.body.items[0]! as { id: string; target: Record<string, unknown> } & Record<string, unknown>;
};

describe("web-scraping-api.SKILL.md", () => {
  it("has the examples this test runs", () => {
    expect(blocks("api", "bash")).toHaveLength(1);
    expect(blocks("api", "json").length).toBeGreaterThanOrEqual(1);
    expect(blocks("api", "javascript")).toHaveLength(2);
  });

  it("the curl example with the create payload as api-tracker.json: created, run, and the newest revision printed", async () => {
    const user = await newUser(stack);
    const [example] = blocks("api", "bash");
    const out = await bash(user, local(example!), { "api-tracker.json": local(blocks("api", "json")[0]!) });
    // The request went as written: POST, the JSON content type, the body a string sent verbatim.
    const newest = JSON.parse(out) as Revision;
    expect(newest.data.original).toEqual({ method: "POST", body: '{"key":"value"}', contentType: "application/json" });

    const tracker = await onlyTracker(user, API_TRACKERS);
    // Answered in the reference's shape: the (only) request flattened into the target.
    expect(tracker).toMatchObject({
      name: "App state",
      enabled: true,
      config: { revisions: 10, timeout: 10000, job: { schedule: "0 0 * * * *" } },
      target: { url: site.url("/api/echo"), method: "POST", headers: { "content-type": "application/json" }, body: '{"key":"value"}' },
      notifications: true,
      secrets: "none",
    });
    expect(Object.keys(tracker.target).sort()).toEqual(["body", "headers", "method", "url"]);
    expect("tagIds" in tracker).toBe(false);
  });

  it("_history answers newest first, as the example's jq '.[0]' expects", async () => {
    const user = await newUser(stack);
    const id = await api.create(stack, user, { name: "order", config: { revisions: 5 }, target: { url: site.url("/api/state") } });
    for (const headline of ["one", "two", "three"]) {
      site.headline = headline;
      expect((await api.refresh(stack, user, id)).status).toBe(200);
    }
    const history = [...blocks("api", "bash")[0]!.matchAll(/^curl -sX POST "https:\/\/secutils\.dev[^\n]*_history"[\s\S]*?jq '\.\[0\]'$/gm)].map((m) => m[0]);
    expect(history).toHaveLength(1);
    // The example's history call alone, against a tracker with three revisions, without refreshing.
    const out = await bash(user, local(history[0]!.replace('{"refresh":true}', '{"refresh":false}')), {}, { ID: id });
    expect((JSON.parse(out) as Revision).data.original).toMatchObject({ status: "three" });
    expect((await api.revisionsOf(stack, user, id)).map((r) => (r.data.original as { status: string }).status)).toEqual(["three", "two", "one"]);
  });

  it("the configurator and extractor scripts: the token from a secret goes out, the status alone is kept", async () => {
    const user = await newUser(stack);
    const secret = await createSecret(stack, user, "AUTH_TOKEN", "tok-from-the-skill");
    const [configurator, extractor] = blocks("api", "javascript");
    site.headline = "green";
    const body = { ...payload("api"), target: { url: site.url("/api/state"), configurator, extractor }, secrets: { selected: [secret] } };
    const created = await call(stack, "POST", API_TRACKERS, { auth: user.auth, json: body });
    expect(created.status, created.text).toBe(201);
    const res = await api.refresh(stack, user, created.body.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body[0]!.data.original).toEqual({ status: "green" });
    expect(site.headers["/api/state"]!.authorization).toBe("Bearer tok-from-the-skill");
  });

  it("_debug takes the create payload as it is (target, config, secrets) and answers the pipeline", async () => {
    const user = await newUser(stack);
    const res = await call(stack, "POST", `${API_TRACKERS}/_debug`, { auth: user.auth, json: payload("api") });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      result: { method: "POST", body: '{"key":"value"}', contentType: "application/json" },
      elapsedMs: expect.any(Number),
      target: { type: "api", requests: [{ index: 0, method: "POST", statusCode: 200 }] },
    });
  });

  it("several requests go out in order and the extractor sees every response; the answer lists them all and can be sent back", async () => {
    const user = await newUser(stack);
    const doc = payload("api");
    const [first] = doc.target.requests as Record<string, unknown>[];
    const second = { url: site.url("/api/search?q=next"), method: "GET" };
    const third = { url: site.url("/api/echo"), method: "PUT", body: "third" };
    const extractor = `(() => ({ body: context.responses.map((r) => JSON.parse(Deno.core.decode(new Uint8Array(r.body)))) }))()`;
    const created = await call(stack, "POST", API_TRACKERS, {
      auth: user.auth,
      json: { ...doc, target: { ...doc.target, requests: [first, second, third], extractor } },
    });
    expect(created.status, created.text).toBe(201);
    const primary = { url: site.url("/api/echo"), method: "POST", headers: { "content-type": "application/json" }, body: '{"key":"value"}' };
    expect(created.body.target).toEqual({ ...primary, requests: [primary, second, third], extractor });

    const res = await api.refresh(stack, user, created.body.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body[0]!.data.original).toEqual([
      { method: "POST", body: '{"key":"value"}', contentType: "application/json" },
      { items: ["next 1", "next 2"] },
      { method: "PUT", body: "third", contentType: "text/plain; charset=utf-8" },
    ]);

    // GET's answer, sent back whole, is accepted and changes nothing.
    const listed = await onlyTracker(user, API_TRACKERS);
    const { id, createdAt: _c, updatedAt: _u, ...change } = listed;
    const put = await call(stack, "PUT", `${API_TRACKERS}/${id}`, { auth: user.auth, json: change });
    expect(put.status, put.text).toBe(204);
    expect((await onlyTracker(user, API_TRACKERS)).target).toEqual(listed.target);
    // Both forms at once must describe the same first request.
    const mixed = await call(stack, "PUT", `${API_TRACKERS}/${id}`, { auth: user.auth, json: { target: { url: site.url("/other"), requests: [first] } } });
    expect(mixed.status).toBe(400);
    expect(mixed.body.message).toMatch(/target\.url .*target\.requests\[0\]/);
  });

  it("config.timeout bounds each request below the service's limit", async () => {
    const user = await newUser(stack);
    const doc = payload("api");
    const id = await api.create(stack, user, {
      ...doc,
      name: "slow",
      config: { revisions: 1, timeout: 400 },
      target: { requests: [{ url: site.url("/hang") }] },
    });
    const started = performance.now();
    const res = await api.refresh(stack, user, id);
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/request stage.*timed out/i);
    // The service's own limit here is 30 s.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("retryStrategy (the reference's shapes) and tagIds are stored and returned; the reference's bounds apply", async () => {
    const user = await newUser(stack);
    const doc = payload("api");
    const made = await call(stack, "POST", "/api/user/tags", { auth: user.auth, json: { name: "production", color: "#54B399" } });
    expect(made.status, made.text).toBe(201);
    const tag = made.body.id as string;
    const retryStrategy = { type: "exponential", initialInterval: 60000, multiplier: 2, maxInterval: 600000, maxAttempts: 5 };
    const config = { revisions: 3, job: { schedule: "0 0 * * * *", retryStrategy } };
    const created = await call(stack, "POST", API_TRACKERS, { auth: user.auth, json: { ...doc, config, tagIds: [tag] } });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ config, tagIds: [tag], tags: [{ id: tag, name: "production", color: "#54B399" }] });
    const constant = { type: "constant", interval: 120000, maxAttempts: 3 };
    const put = await call(stack, "PUT", `${API_TRACKERS}/${created.body.id}`, {
      auth: user.auth,
      json: { config: { revisions: 3, job: { schedule: "0 0 * * * *", retryStrategy: constant } }, tagIds: [] },
    });
    expect(put.status, put.text).toBe(204);
    const listed = await onlyTracker(user, API_TRACKERS);
    expect(listed.config).toEqual({ revisions: 3, job: { schedule: "0 0 * * * *", retryStrategy: constant } });
    expect("tagIds" in listed).toBe(false);
    expect("tags" in listed).toBe(false);
    for (const bad of [
      { ...constant, maxAttempts: 11 },
      { ...constant, interval: 59_999 },
      { ...retryStrategy, maxInterval: 12 * 3600_000 + 1 },
      { type: "random", interval: 60000, maxAttempts: 1 },
    ]) {
      const res = await call(stack, "POST", API_TRACKERS, { auth: user.auth, json: { ...doc, name: "bad", config: { revisions: 1, job: { schedule: "0 0 * * * *", retryStrategy: bad } } } });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  });
});

describe("web-scraping-page.SKILL.md", () => {
  it("has the examples this test runs", () => {
    expect(blocks("page", "bash")).toHaveLength(1);
    expect(blocks("page", "json")).toHaveLength(1);
  });

  it("the curl example with the create payload as page-tracker.json: created, no revision yet; after runs, the newest first", async () => {
    const user = await newUser(stack);
    const [example] = blocks("page", "bash");
    const files = { "page-tracker.json": local(blocks("page", "json")[0]!) };
    // Nothing has run: `.[0]` of an empty history.
    expect((await bash(user, local(example!), files)).trim()).toBe("null");

    const tracker = await onlyTracker(user, PAGE_TRACKERS);
    expect(tracker).toMatchObject({
      name: "Hacker News - Top Post",
      enabled: true,
      config: { revisions: 5, timeout: 30000, job: { schedule: "0 */15 * * * *" } },
      target: { extractor: expect.stringContaining(site.url("/hn")), acceptInvalidCertificates: false, ignoreHttpsErrors: false },
      notifications: true,
      secrets: "none",
    });
    // userAgent: null is no user agent.
    expect(Object.keys(tracker.target).sort()).toEqual(["acceptInvalidCertificates", "extractor", "ignoreHttpsErrors"]);

    for (const headline of ["older story", "newer story"]) {
      site.headline = headline;
      const res = await pages.refresh(stack, user, tracker.id);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    // The example's history call alone, with the tracker's id.
    const history = blocks("page", "bash")[0]!.match(/^curl -sX POST "https:\/\/secutils\.dev[^\n]*_history"[\s\S]*?jq '\.\[0\]'$/m);
    expect(history).not.toBeNull();
    const newest = JSON.parse(await bash(user, local(history![0]), {}, { ID: tracker.id })) as Revision;
    expect(newest.data.original).toBe("[newer story](/item?id=1)");
  });

  it("userAgent is the browser's for the tracker's runs; engine and ignoreHttpsErrors are taken", async () => {
    const user = await newUser(stack);
    const doc = payload("page");
    const extractor = `export async function execute(page) {
      await page.goto(${JSON.stringify(site.url("/news"))});
      return await page.evaluate(() => navigator.userAgent);
    }`;
    const created = await call(stack, "POST", PAGE_TRACKERS, {
      auth: user.auth,
      json: { ...doc, target: { ...doc.target, extractor, userAgent: "SkillAgent/1.0", engine: { type: "camoufox" }, ignoreHttpsErrors: true } },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.target).toEqual({ extractor, acceptInvalidCertificates: true, ignoreHttpsErrors: true, userAgent: "SkillAgent/1.0", engine: { type: "camoufox" } });
    const res = await pages.refresh(stack, user, created.body.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body[0]!.data.original).toBe("SkillAgent/1.0");
    expect(site.headers["/news"]!["user-agent"]).toBe("SkillAgent/1.0");

    const disagree = await call(stack, "POST", PAGE_TRACKERS, {
      auth: user.auth,
      json: { ...doc, name: "disagree", target: { ...doc.target, acceptInvalidCertificates: true, ignoreHttpsErrors: false } },
    });
    expect(disagree.status).toBe(400);
  });

  it("config.timeout bounds the run below the service's limit", async () => {
    const user = await newUser(stack);
    const doc = payload("page");
    const extractor = `export async function execute(page) { await page.goto(${JSON.stringify(site.url("/hang"))}); return "never"; }`;
    const id = await pages.create(stack, user, { ...doc, config: { revisions: 1, timeout: 1500 }, target: { extractor } });
    const started = performance.now();
    const res = await pages.refresh(stack, user, id);
    expect(res.status).toBe(422);
    // The service's own limit here is 40 s.
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
