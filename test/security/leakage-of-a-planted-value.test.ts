import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, type DbTarget } from "../../common/db.js";
import { call, newUser, type Answer, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { createTracker, PAGE_TRACKERS, refresh, trackerCalls } from "../helpers/trackers.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// A value planted as a secret must never come back out: not in a response
// (body or header), an error, the OpenAPI document, an audit record, a run
// log, a metric, a log line of any of the three services, nor in plaintext in
// either database. It only reaches what its owner granted it to.
const SENTINEL = `SENTINEL${crypto.randomBytes(12).toString("hex")}`;
const ROTATED = `${SENTINEL}ROTATED`;
const forms = (s: string) => [s, Buffer.from(s).toString("hex"), Buffer.from(s).toString("base64").slice(0, 24)];

let stack: Stack;
let site: TestSite;
let user: TestUser;
const answers: Answer[] = [];

beforeAll(async () => {
  site = await startTestSite();
  stack = await Stack.start({ env: { LOG_LEVEL: "trace" }, sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port}` } });
  user = await newUser(stack);
});
afterAll(async () => {
  site?.close();
  await stack?.stop();
});

async function record(method: string, p: string, opts: Parameters<typeof call>[3] = {}) {
  const a = await call(stack, method, p, opts);
  answers.push(a);
  return a;
}

describe("a planted sentinel value", () => {
  it("is accepted and used through every endpoint and error path", async () => {
    const auth = user.auth;
    const created = await record("POST", "/api/user/secrets", { auth, json: { name: "PLANTED", value: SENTINEL } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await record("GET", "/api/user/secrets", { auth })).status).toBe(200);
    expect((await record("PUT", `/api/user/secrets/${id}`, { auth, json: { name: "RENAMED" } })).status).toBe(200);
    expect((await record("PUT", `/api/user/secrets/${id}`, { auth, json: { value: ROTATED } })).status).toBe(200);
    // Error paths that carry the value.
    expect((await record("POST", "/api/user/secrets", { auth, json: { name: "RENAMED", value: SENTINEL } })).status).toBe(409);
    expect((await record("POST", "/api/user/secrets", { auth, json: { name: "LONG", value: SENTINEL.repeat(400) } })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, json: { name: "1bad", value: SENTINEL } })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, json: { name: "ARR", value: [SENTINEL] } })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, raw: `{"name":"BROKEN","value":"${SENTINEL}` })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, raw: `{"name":"BROKEN","value":"${SENTINEL}"}}` })).status).toBe(400);
    // JSON.parse quotes the text around an unexpected token in its message.
    expect((await record("POST", "/api/user/secrets", { auth, raw: `{"value":${SENTINEL}}` })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, raw: SENTINEL })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, raw: SENTINEL, headers: { "content-type": "text/plain" } })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { auth, raw: SENTINEL, headers: { "content-type": "application/xml" } })).status).toBe(415);
    expect((await record("POST", "/api/user/secrets", { auth, json: { name: "HUGE", value: SENTINEL.repeat(3000) } })).status).toBe(413);
    expect((await record("PUT", `/api/user/secrets/${crypto.randomUUID()}`, { auth, json: { value: SENTINEL } })).status).toBe(404);
    expect((await record("PUT", `/api/user/secrets/not-a-uuid`, { auth, json: { value: SENTINEL } })).status).toBe(400);
    expect((await record("POST", "/api/user/secrets", { json: { name: "NOAUTH", value: SENTINEL } })).status).toBe(401);
    expect((await record("POST", "/api/user/secrets", { auth: { bearer: SENTINEL }, json: { name: "X", value: "v" } })).status).toBe(401);
    expect((await record("GET", "/api-docs/openapi.json")).status).toBe(200);
  });

  it("is released to a templated and a scripted responder, an API tracker and a page tracker, which leave no trace of it in logs, audit or metrics", async () => {
    const auth = user.auth;
    // The webhook answers carry the value on purpose (the owner asked for it) and are not recorded.
    const templated = await createResponder(stack, user, { location: { pathType: "=", path: "/t" }, settings: { body: "${secrets.RENAMED}", secrets: "all" } });
    expect((await hitUrl(stack, templated.url)).text).toBe(ROTATED);
    const scripted = await createResponder(stack, user, {
      location: { pathType: "=", path: "/s" },
      settings: { script: "({ body: String(context.secrets.RENAMED.length) })", secrets: "all" },
    });
    expect((await hitUrl(stack, scripted.url)).text).toBe(String(ROTATED.length));
    const tracker = await createTracker(stack, user, {
      name: "planted",
      target: {
        url: "https://example.test/",
        configurator: `(() => {
          console.log("the value is", context.params.secrets.RENAMED);
          return { responses: [{ statusCode: 200, body: String(context.params.secrets.RENAMED.length) }] };
        })()`,
      },
      secrets: "all",
    });
    answers.push(await refresh(stack, user, tracker));
    expect(answers.at(-1)!.status).toBe(200);
    const logs = await record("GET", `/api/web_scraping/api_trackers/${tracker}/_logs`, { auth });
    expect(JSON.stringify(logs.body)).toContain("the value is ********");
    // A page tracker types it into a page, puts it in a URL and logs it; then fails with it in the message.
    const pages = trackerCalls(PAGE_TRACKERS);
    const pageTracker = await pages.create(stack, user, {
      name: "planted-page",
      target: {
        extractor: `export async function execute(page, context) {
          const value = context.params.secrets.RENAMED;
          console.log("typing", value);
          await page.goto(${JSON.stringify(site.url("/login"))} + "?hint=" + encodeURIComponent(value));
          await page.fill("#password", value);
          await page.click("#go");
          throw new Error("could not log in with " + value + " at " + page.url());
        }`,
      },
      secrets: "all",
    });
    answers.push(await pages.refresh(stack, user, pageTracker));
    expect(answers.at(-1)!.status).toBe(422);
    const pageLogs = await record("GET", `${PAGE_TRACKERS}/${pageTracker}/_logs`, { auth });
    expect(JSON.stringify(pageLogs.body)).toContain("typing ********");
    expect(site.logins).toEqual([{ user: "", ok: false }]);
    const audit = await record("GET", "/api/user/secrets/_audit", { auth });
    // At least a template release and a script release (with the sandbox's cache on, the three
    // scripts share one: their grants name the same secrets and generation).
    const purposes = new Set((audit.body as { events: { purpose?: string }[] }).events.map((e) => e.purpose));
    expect([...purposes].sort()).toEqual(["script", "template"]);
    for (const proc of [stack.gateway, stack.broker, stack.sandbox]) {
      const port = (await proc.waitFor(/"metricsPort":(\d+)/))[1];
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const f of [...forms(SENTINEL), ...forms(ROTATED)]) expect(metrics).not.toContain(f);
    }
  });

  it("appears in no response body or header", () => {
    for (const a of answers) {
      const headers = JSON.stringify([...a.headers.entries()]);
      for (const f of [...forms(SENTINEL), ...forms(ROTATED)]) {
        expect(a.text).not.toContain(f);
        expect(headers).not.toContain(f);
      }
    }
    // Every error was JSON with a message.
    for (const a of answers.filter((x) => x.status >= 400)) expect(typeof (a.body as { message?: unknown }).message).toBe("string");
  });

  it("appears in no log line of any process, even at trace level", async () => {
    await stack.gateway.stop();
    await stack.stopBroker();
    const output = stack.output();
    expect(output).toContain("incoming request");
    for (const f of [...forms(SENTINEL), ...forms(ROTATED)]) expect(output).not.toContain(f);
  });

  it("is not stored in plaintext in either database", async () => {
    for (const target of [stack.brokerDb, stack.gatewayDb] as DbTarget[]) {
      const db = await openDb(target, { poolSize: 1 });
      try {
        const tables = await db.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        );
        expect(tables.length).toBeGreaterThan(0);
        for (const { table_name } of tables) {
          const rows = await db.query<{ r: string }>(`SELECT row_to_json(t)::text AS r FROM "${table_name}" t`);
          const dump = rows.map((x) => x.r).join("\n");
          for (const f of [...forms(SENTINEL), ...forms(ROTATED)]) expect(dump, table_name).not.toContain(f);
        }
      } finally {
        await db.close();
      }
      if ("pgliteDir" in target) expect(grepFiles(target.pgliteDir, SENTINEL)).toEqual([]);
    }
  });
});

/** Files under dir whose raw bytes contain needle (for embedded database folders). */
function grepFiles(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const bytes = Buffer.from(needle);
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(bytes)) hits.push(file);
  }
  return hits;
}
