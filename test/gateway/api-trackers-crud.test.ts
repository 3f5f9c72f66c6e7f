import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { API_TRACKER_KIND, type ApiTrackersService } from "../../gateway/api-trackers/kind.js";
import { TagsService } from "../../gateway/tags/service.js";
import { TrackersService } from "../../gateway/trackers/service.js";
import { insertUser } from "../../gateway/users/store.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { Stack } from "../helpers/stack.js";
import { trackerCrud, type TrackerBody as Body } from "../helpers/trackers.js";

const BASE = "/api/web_scraping/api_trackers";
const TRACKER_KEYS = ["config", "createdAt", "enabled", "id", "name", "notifications", "secrets", "target", "updatedAt"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const URL_A = "https://api.example.test/v1/items?page=1";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
let bobSecret: string;

const newSecret = (u: TestUser, name: string) => createSecret(stack, u, name, "v");

beforeAll(async () => {
  stack = await Stack.start();
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  bobSecret = await newSecret(bob, "TOKEN");
});
afterAll(() => stack?.stop());

const { unique, trackerBody, create, update, remove, list, created, listed } = trackerCrud(() => stack, BASE, "tracker", { url: URL_A });

describe("create, list, update, delete", () => {
  it("POST answers 201 with the tracker and its defaults: enabled, GET, no secrets", async () => {
    const u = await newUser(stack);
    const before = Math.floor(Date.now() / 1000);
    const res = await create(u, { name: "Prices", config: { revisions: 3 }, target: { url: URL_A } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "Prices",
      enabled: true,
      config: { revisions: 3 },
      target: { url: URL_A, method: "GET" },
      notifications: false,
      secrets: "none",
      createdAt: res.body.updatedAt,
      updatedAt: expect.any(Number),
    });
    expect(Object.keys(res.body).sort()).toEqual(TRACKER_KEYS);
    expect(res.body.createdAt).toBeGreaterThanOrEqual(before - 1);
    expect(res.body.createdAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    expect(await list(u)).toEqual([res.body]);
  });

  it("every field sent comes back as sent", async () => {
    const u = await newUser(stack);
    const body = {
      name: "Full",
      enabled: false,
      config: { revisions: 30, job: { schedule: "0 */5 * * * *" } },
      target: {
        url: "http://localhost:8080/graphql",
        method: "POST",
        headers: { "Content-Language": "en", "X-Empty": "" },
        body: { query: "{ items { id } }", variables: { first: 10, after: null }, flags: [true, false, 1.5, "x"] },
        mediaType: "application/json",
        acceptStatuses: [200, 201, 304],
        configurator: "return { requestHeaders: {} };",
        extractor: "return JSON.stringify(context.body);",
      },
      notifications: true,
      secrets: "all",
    };
    const res = await create(u, body);
    expect(res.status, res.text).toBe(201);
    const { name, enabled, config, target, notifications, secrets } = body;
    expect(res.body).toEqual({ id: expect.any(String), name, enabled, config, target, notifications, secrets, createdAt: expect.any(Number), updatedAt: expect.any(Number) });
    expect(await list(u)).toEqual([res.body]);
  });

  it("GET lists the caller's trackers only, sorted by name", async () => {
    const [u, other] = await Promise.all([newUser(stack), newUser(stack)]);
    expect(await list(u)).toEqual([]);
    const a = await created(u, { name: "first" });
    const b = await created(u, { name: "second" });
    const c = await created(u, { name: "third" });
    expect(await list(u)).toEqual([a, b, c]);
    expect(await list(other)).toEqual([]);
    const theirs = await created(other, { name: "first" });
    expect(await list(other)).toEqual([theirs]);
    expect((await list(u)).map((t) => t.id)).toEqual([a.id, b.id, c.id]);
  });

  it("PUT changes only what it names; config and target replace the old ones whole", async () => {
    const u = await newUser(stack);
    const secret = await newSecret(u, "S");
    const orig = await created(u, {
      name: "Orig",
      config: { revisions: 5, job: { schedule: "*/10 * * * *" } },
      target: {
        url: URL_A,
        method: "PUT",
        headers: { "x-h": "v" },
        body: { a: 1 },
        mediaType: "application/json",
        acceptStatuses: [200],
        configurator: "return {};",
        extractor: "return '';",
      },
      secrets: { selected: [secret] },
    });
    expect(orig.secrets).toEqual({ selected: [secret] });

    const renamed = await update(u, orig.id, { name: "Renamed" });
    expect(renamed.status).toBe(204);
    expect(renamed.body).toEqual({ ...orig, name: "Renamed", updatedAt: expect.any(Number) });
    expect(renamed.body.updatedAt).toBeGreaterThanOrEqual(orig.createdAt);

    const disabled = await update(u, orig.id, { enabled: false });
    expect(disabled.status).toBe(204);
    expect(disabled.body).toEqual({ ...renamed.body, enabled: false, updatedAt: expect.any(Number) });

    // A target without method, headers, body or scripts: those go, they are not kept from before.
    const retargeted = await update(u, orig.id, { target: { url: "https://other.example.test/" } });
    expect(retargeted.status).toBe(204);
    expect(retargeted.body).toEqual({ ...disabled.body, target: { url: "https://other.example.test/", method: "GET" }, updatedAt: expect.any(Number) });

    // A config without a job unschedules the tracker.
    const reconfigured = await update(u, orig.id, { config: { revisions: 1 } });
    expect(reconfigured.status).toBe(204);
    expect(reconfigured.body).toEqual({ ...retargeted.body, config: { revisions: 1 }, updatedAt: expect.any(Number) });

    const unshared = await update(u, orig.id, { secrets: "none" });
    expect(unshared.status).toBe(204);
    expect(unshared.body).toEqual({ ...reconfigured.body, secrets: "none", updatedAt: expect.any(Number) });
    expect(unshared.body).toMatchObject({ id: orig.id, createdAt: orig.createdAt });
    expect(await list(u)).toEqual([unshared.body]);
  });

  it("PUT with {} (or with fields it does not know only) is 400 and changes nothing", async () => {
    const u = await newUser(stack);
    const t = await created(u);
    for (const json of [{}, { labels: [] }]) {
      const res = await update(u, t.id, json);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: "nothing to update: send at least one field" });
    }
    expect(await list(u)).toEqual([t]);
  });

  it("DELETE answers 204, then 404 for the same id", async () => {
    const u = await newUser(stack);
    const keep = await created(u);
    const gone = await created(u);
    const del = await remove(u, gone.id);
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const again = await remove(u, gone.id);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: "API tracker not found" });
    const put = await update(u, gone.id, { name: "back" });
    expect(put.status).toBe(404);
    expect(put.body).toEqual({ message: "API tracker not found" });
    expect(await list(u)).toEqual([keep]);
  });

  it("another user's id answers exactly like an unknown one, and the tracker stays as it was", async () => {
    const mine = await created(alice, { name: "alice-private" });
    const unknown = crypto.randomUUID();
    for (const [method, json] of [
      ["PUT", { name: "stolen" }],
      ["DELETE", undefined],
    ] as const) {
      const foreign = await call(stack, method, `${BASE}/${mine.id}`, { auth: bob.auth, json });
      const absent = await call(stack, method, `${BASE}/${unknown}`, { auth: bob.auth, json });
      expect(foreign.status, method).toBe(404);
      expect(foreign.body).toEqual({ message: "API tracker not found" });
      expect(foreign.text).toBe(absent.text);
    }
    expect(await listed(alice, mine.id)).toEqual(mine);
    expect((await list(bob)).map((t) => t.id)).not.toContain(mine.id);
  });

  it.each(["PUT", "DELETE"])("a malformed id is 400 with a JSON message: %s", async (method) => {
    for (const id of ["not-a-uuid", "1", "6f1c1c8e-0000-4000-8000-00000000000Z"]) {
      const res = await call(stack, method, `${BASE}/${id}`, { auth: alice.auth, json: method === "PUT" ? { name: "x" } : undefined });
      expect(res.status, id).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
  });

  it("every route wants a signed-in user", async () => {
    const id = crypto.randomUUID();
    for (const [method, p] of [
      ["GET", BASE],
      ["POST", BASE],
      ["PUT", `${BASE}/${id}`],
      ["DELETE", `${BASE}/${id}`],
    ] as const) {
      const res = await call(stack, method, p, { json: method === "POST" || method === "PUT" ? trackerBody() : undefined });
      expect(res.status, `${method} ${p}`).toBe(401);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
  });
});

describe("target.body", () => {
  it.each<[string, unknown]>([
    ["an object", { nested: { list: [1, "two", null, false, { "k y": "é \" \\ \u2028" }] }, empty: {}, n: -0.5e-3 }],
    ["a string", "plain text, not JSON: {"],
    ["the string \"null\"", "null"],
    ["an empty string", ""],
    ["an array", [1, [2, [3]], { a: null }]],
    ["a number", 42.25],
    ["zero", 0],
    ["false", false],
  ])("%s round-trips through POST, GET and PUT", async (_label, body) => {
    const u = await newUser(stack);
    const t = await created(u, { target: { url: URL_A, method: "POST", body } });
    expect(t.target).toEqual({ url: URL_A, method: "POST", body });
    expect(typeof t.target.body).toBe(typeof body);
    expect((await listed(u, t.id))!.target.body).toEqual(body);
    // A change elsewhere keeps the body.
    const renamed = await update(u, t.id, { name: "renamed" });
    expect(renamed.body.target.body).toEqual(body);
    expect((await listed(u, t.id))!.target.body).toEqual(body);
  });

  it("null is no body: omitted from the answer", async () => {
    const u = await newUser(stack);
    const t = await created(u, { target: { url: URL_A, method: "POST", body: null } });
    expect(t.target).toEqual({ url: URL_A, method: "POST" });
    expect("body" in t.target).toBe(false);
    const replaced = await update(u, t.id, { target: { url: URL_A, body: { x: 1 } } });
    expect(replaced.body.target.body).toEqual({ x: 1 });
    const cleared = await update(u, t.id, { target: { url: URL_A, body: null } });
    expect(cleared.status).toBe(204);
    expect("body" in cleared.body.target).toBe(false);
    expect("body" in (await listed(u, t.id))!.target).toBe(false);
  });

  it("may be 32 KiB as JSON, counted in bytes, and no more", async () => {
    const u = await newUser(stack);
    // JSON.stringify adds the two quotes.
    const atLimit = "x".repeat(32 * 1024 - 2);
    expect((await create(u, trackerBody({ target: { url: URL_A, body: atLimit } }))).status).toBe(201);
    for (const body of ["x".repeat(32 * 1024 - 1), "é".repeat(16 * 1024), { s: "x".repeat(32 * 1024) }]) {
      const res = await create(u, trackerBody({ target: { url: URL_A, body } }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: expect.stringMatching(/target\.body/) });
    }
  });

  // The database cannot hold these; refusing them names the field instead of failing with a 500.
  // Sent as raw JSON text: the test's own JSON.stringify would give up on the deepest one.
  it.each<[string, string]>([
    ["a NUL character", '"a\\u0000b"'],
    ["a NUL character in a key", '{"a\\u0000": 1}'],
    ["a lone surrogate", '["\\ud800"]'],
    ["nesting 65 levels deep", "[".repeat(65) + "]".repeat(65)],
    ["nesting 5000 levels deep", "[".repeat(5000) + "]".repeat(5000)],
    ["nesting 200000 levels deep", "[".repeat(200_000) + "]".repeat(200_000)],
  ])("with %s is 400", async (_label, body) => {
    const raw = `{"name":"deep-${unique()}","config":{"revisions":1},"target":{"url":"${URL_A}","body":${body}}}`;
    const res = await call(stack, "POST", BASE, { auth: alice.auth, raw });
    expect(res.status, res.text).toBe(400);
    expect(res.body).toEqual({ message: expect.stringMatching(/target\.body/) });
  });

  it("nesting 64 levels deep is accepted", async () => {
    const body = JSON.parse("[".repeat(64) + "]".repeat(64));
    const t = await created(alice, { target: { url: URL_A, body } });
    expect(t.target.body).toEqual(body);
  });
});

describe("validation", () => {
  let v: TestUser;
  beforeAll(async () => {
    v = await newUser(stack);
  });

  const target = (b: Body) => b.target;
  const config = (b: Body) => b.config;
  const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, "v"]));

  interface Row {
    label: string;
    change: (b: Body) => void;
    status: 201 | 400;
    /** What the error message must mention (400 rows). */
    field?: RegExp;
  }

  const rows: Row[] = [
    { label: 'name ""', change: (b) => (b.name = ""), status: 400, field: /name/ },
    { label: "name of 101 characters", change: (b) => (b.name = "n".repeat(101)), status: 400, field: /name/ },
    { label: "name of 100 characters", change: (b) => (b.name = "n".repeat(96) + String(unique()).padStart(4, "0")), status: 201 },
    { label: "name missing", change: (b) => delete (b as Partial<Body>).name, status: 400, field: /name/ },
    { label: "name with a NUL character", change: (b) => (b.name = "a\u0000b"), status: 400, field: /name/ },
    { label: "the seed's tagIds at the top level is accepted", change: (b) => (b.tagIds = []), status: 201 },
    { label: 'enabled "true"', change: (b) => (b.enabled = "true"), status: 400, field: /enabled/ },
    { label: "enabled false", change: (b) => (b.enabled = false), status: 201 },

    { label: "config missing", change: (b) => delete (b as Partial<Body>).config, status: 400, field: /config/ },
    { label: "revisions missing", change: (b) => (b.config = {}), status: 400, field: /revisions/ },
    { label: "revisions 0", change: (b) => (config(b).revisions = 0), status: 400, field: /revisions/ },
    { label: "revisions 31", change: (b) => (config(b).revisions = 31), status: 400, field: /revisions/ },
    { label: "revisions 2.5", change: (b) => (config(b).revisions = 2.5), status: 400, field: /revisions/ },
    { label: 'revisions "3" (no coercion)', change: (b) => (config(b).revisions = "3"), status: 400, field: /revisions/ },
    { label: "revisions 1", change: (b) => (config(b).revisions = 1), status: 201 },
    { label: "revisions 30", change: (b) => (config(b).revisions = 30), status: 201 },
    { label: "unknown config field", change: (b) => (config(b).revison = 3), status: 400, field: /config/ },
    { label: "unknown job field (a misspelt schedule)", change: (b) => (config(b).job = { shedule: "* * * * *" }), status: 400, field: /job/ },
    { label: 'schedule "not cron"', change: (b) => (config(b).job = { schedule: "not cron" }), status: 400, field: /schedule/ },
    { label: 'schedule ""', change: (b) => (config(b).job = { schedule: "" }), status: 400, field: /schedule/ },
    { label: "schedule of 201 characters", change: (b) => (config(b).job = { schedule: "* ".repeat(100) + "*" }), status: 400, field: /schedule/ },
    { label: 'schedule "* * * * * *" (every second)', change: (b) => (config(b).job = { schedule: "* * * * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule "*/30 * * * * *"', change: (b) => (config(b).job = { schedule: "*/30 * * * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule "* * * * *"', change: (b) => (config(b).job = { schedule: "* * * * *" }), status: 201 },
    { label: 'schedule "0 */5 * * * *" (6 fields)', change: (b) => (config(b).job = { schedule: "0 */5 * * * *" }), status: 201 },
    { label: 'schedule "0 0 * * *"', change: (b) => (config(b).job = { schedule: "0 0 * * *" }), status: 201 },

    { label: "target missing", change: (b) => delete (b as Partial<Body>).target, status: 400, field: /target/ },
    { label: "url missing", change: (b) => (b.target = {}), status: 400, field: /url/ },
    { label: 'url "ftp://x"', change: (b) => (target(b).url = "ftp://x"), status: 400, field: /target\.url/ },
    { label: 'url "not a url"', change: (b) => (target(b).url = "not a url"), status: 400, field: /target\.url/ },
    { label: 'url "/x" (relative)', change: (b) => (target(b).url = "/x"), status: 400, field: /target\.url/ },
    { label: 'url "javascript:alert(1)"', change: (b) => (target(b).url = "javascript:alert(1)"), status: 400, field: /target\.url/ },
    { label: 'url "file:///etc/passwd"', change: (b) => (target(b).url = "file:///etc/passwd"), status: 400, field: /target\.url/ },
    { label: 'url ""', change: (b) => (target(b).url = ""), status: 400, field: /url/ },
    { label: "url of 2049 characters", change: (b) => (target(b).url = "https://a.test/" + "p".repeat(2034)), status: 400, field: /url/ },
    { label: "url of 2048 characters", change: (b) => (target(b).url = "https://a.test/" + "p".repeat(2033)), status: 201 },
    { label: 'url "HTTPS://A.TEST"', change: (b) => (target(b).url = "HTTPS://A.TEST"), status: 201 },
    { label: "url with a NUL character", change: (b) => (target(b).url = "https://a.test/\u0000"), status: 400, field: /target\.url/ },
    { label: 'method "FOO"', change: (b) => (target(b).method = "FOO"), status: 400, field: /method/ },
    { label: 'method "get" (lower case)', change: (b) => (target(b).method = "get"), status: 400, field: /method/ },
    { label: 'method "CONNECT"', change: (b) => (target(b).method = "CONNECT"), status: 400, field: /method/ },
    ...["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].map(
      (m): Row => ({ label: `method ${m}`, change: (b) => (target(b).method = m), status: 201 }),
    ),
    { label: 'header name "x a"', change: (b) => (target(b).headers = { "x a": "v" }), status: 400, field: /headers/ },
    { label: 'header name ""', change: (b) => (target(b).headers = { "": "v" }), status: 400, field: /headers/ },
    { label: 'header name "x:y"', change: (b) => (target(b).headers = { "x:y": "v" }), status: 400, field: /headers/ },
    { label: "header name of 257 characters", change: (b) => (target(b).headers = { ["x".repeat(257)]: "v" }), status: 400, field: /headers/ },
    { label: 'header value with "\\r\\n"', change: (b) => (target(b).headers = { "x-a": "v\r\nx-b: injected" }), status: 400, field: /headers.*"x-a"/ },
    { label: 'header value with "\\n"', change: (b) => (target(b).headers = { "x-a": "v\nw" }), status: 400, field: /headers.*"x-a"/ },
    { label: "header value with NUL", change: (b) => (target(b).headers = { "x-a": "v\u0000" }), status: 400, field: /headers.*"x-a"/ },
    { label: "header value of 8193 characters", change: (b) => (target(b).headers = { "x-a": "v".repeat(8193) }), status: 400, field: /headers/ },
    { label: "header value of 8192 characters", change: (b) => (target(b).headers = { "x-a": "v".repeat(8192) }), status: 201 },
    { label: "header value 5 (a number)", change: (b) => (target(b).headers = { "x-a": 5 }), status: 400, field: /headers/ },
    { label: "header value with a tab", change: (b) => (target(b).headers = { "x-a": "a\tb" }), status: 201 },
    { label: "101 headers", change: (b) => (target(b).headers = headers(101)), status: 400, field: /headers/ },
    { label: "100 headers", change: (b) => (target(b).headers = headers(100)), status: 201 },
    { label: "headers as pairs", change: (b) => (target(b).headers = [["x-a", "v"]]), status: 400, field: /headers/ },
    { label: 'mediaType ""', change: (b) => (target(b).mediaType = ""), status: 400, field: /mediaType/ },
    { label: "mediaType of 201 characters", change: (b) => (target(b).mediaType = "m".repeat(201)), status: 400, field: /mediaType/ },
    { label: 'mediaType with "\\r\\n"', change: (b) => (target(b).mediaType = "text/plain\r\nx: y"), status: 400, field: /mediaType/ },
    { label: "mediaType of 200 characters", change: (b) => (target(b).mediaType = "m".repeat(200)), status: 201 },
    { label: "acceptStatuses [99]", change: (b) => (target(b).acceptStatuses = [99]), status: 400, field: /acceptStatuses/ },
    { label: "acceptStatuses [1000]", change: (b) => (target(b).acceptStatuses = [1000]), status: 400, field: /acceptStatuses/ },
    { label: "acceptStatuses [200, 200]", change: (b) => (target(b).acceptStatuses = [200, 200]), status: 400, field: /acceptStatuses/ },
    { label: "acceptStatuses []", change: (b) => (target(b).acceptStatuses = []), status: 400, field: /acceptStatuses/ },
    { label: "acceptStatuses [200.5]", change: (b) => (target(b).acceptStatuses = [200.5]), status: 400, field: /acceptStatuses/ },
    {
      label: "acceptStatuses of 101 items",
      change: (b) => (target(b).acceptStatuses = Array.from({ length: 101 }, (_, i) => 100 + i)),
      status: 400,
      field: /acceptStatuses/,
    },
    { label: "acceptStatuses [100, 999]", change: (b) => (target(b).acceptStatuses = [100, 999]), status: 201 },
    { label: 'configurator ""', change: (b) => (target(b).configurator = ""), status: 400, field: /configurator/ },
    { label: 'configurator "   "', change: (b) => (target(b).configurator = "   "), status: 400, field: /configurator/ },
    { label: 'extractor "\\n\\t"', change: (b) => (target(b).extractor = "\n\t"), status: 400, field: /extractor/ },
    { label: "extractor of 65537 characters", change: (b) => (target(b).extractor = "x".repeat(65537)), status: 400, field: /extractor/ },
    { label: "extractor of 65536 characters", change: (b) => (target(b).extractor = "x".repeat(65536)), status: 201 },
    {
      label: "every field at its maximum at once",
      change: (b) => {
        b.name = "m".repeat(96) + String(unique()).padStart(4, "0");
        b.config = { revisions: 30, job: { schedule: "0 0 * * *" } };
        b.target = {
          url: "https://a.test/" + "p".repeat(2033),
          method: "POST",
          headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-${String(i).padStart(3, "0")}${"h".repeat(251)}`, "v".repeat(8192)])),
          body: "b".repeat(32 * 1024 - 2),
          mediaType: "m".repeat(200),
          acceptStatuses: Array.from({ length: 100 }, (_, i) => 200 + i),
          configurator: "c".repeat(65536),
          extractor: "e".repeat(65536),
        };
      },
      status: 201,
    },
    { label: "configurator with a NUL character", change: (b) => (target(b).configurator = "return 1;\u0000"), status: 400, field: /configurator/ },
    { label: "extractor of 40000 characters", change: (b) => (target(b).extractor = "x".repeat(40_000)), status: 201 },
    // A misspelt field must not silently save something else (e.g. a tracker without its extractor).
    { label: 'unknown target field "extracter"', change: (b) => (target(b).extracter = "return 1;"), status: 400, field: /target/ },
    { label: 'secrets "some"', change: (b) => (b.secrets = "some"), status: 400, field: /secrets/ },
    { label: "secrets selected [not-a-uuid]", change: (b) => (b.secrets = { selected: ["not-a-uuid"] }), status: 400, field: /secrets/ },
    { label: 'secrets "all"', change: (b) => (b.secrets = "all"), status: 201 },
  ];

  it.each(rows)("$label → $status", async (row) => {
    const body = trackerBody();
    row.change(body);
    const res = await create(v, body);
    expect(res.status, res.text).toBe(row.status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    if (row.status === 400) {
      expect(res.body).toEqual({ message: expect.any(String) });
      expect(res.body.message).toMatch(row.field!);
      expect((await list(v)).map((t) => t.name)).not.toContain(body.name);
      return;
    }
    expect(res.body).toMatchObject({ name: body.name, config: body.config, target: { ...body.target, method: body.target.method ?? "GET" } });
    expect(await listed(v, res.body.id)).toEqual(res.body);
  });

  it("no error message quotes a header value, nor an invalid name that may carry one", async () => {
    const badValue = await create(v, trackerBody({ target: { url: URL_A, headers: { Authorization: "Bearer planted-value\r\n" } } }));
    expect(badValue.status).toBe(400);
    expect(badValue.body.message).toContain('"Authorization"');
    expect(badValue.text).not.toContain("planted-value");
    const badName = await create(v, trackerBody({ target: { url: URL_A, headers: { "Authorization: Bearer planted-value": "" } } }));
    expect(badName.status).toBe(400);
    expect(badName.body.message).toMatch(/target\.headers/);
    expect(badName.text).not.toContain("planted-value");
  });

  it("PUT applies the same rules, and a refused PUT changes nothing", async () => {
    const t = await created(v);
    for (const change of [
      { name: "" },
      { enabled: "false" },
      { config: { revisions: 31 } },
      { config: { revisions: 1, job: { schedule: "* * * * * *" } } },
      { target: { url: "ftp://x" } },
      { target: { url: URL_A, headers: { "x a": "v" } } },
      { target: { url: URL_A, configurator: " " } },
      { target: { url: URL_A, extra: 1 } },
      { secrets: { selected: [bobSecret] } },
      { secrets: { selected: [crypto.randomUUID()] } },
    ]) {
      const res = await update(v, t.id, change);
      expect(res.status, JSON.stringify(change)).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
    expect(await listed(v, t.id)).toEqual(t);
  });

  it("refuses malformed JSON with a JSON error", async () => {
    const res = await call(stack, "POST", BASE, { auth: v.auth, raw: '{"name":"x",' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: "request body is not valid JSON" });
  });
});

describe("uniqueness", () => {
  it("names are unique per user, case-insensitively", async () => {
    const [u, other] = await Promise.all([newUser(stack), newUser(stack)]);
    await created(u, { name: "Prices" });
    for (const name of ["Prices", "prices", "PRICES"]) {
      const dup = await create(u, trackerBody({ name }));
      expect(dup.status, name).toBe(409);
      expect(dup.body).toEqual({ message: "an API tracker with this name already exists" });
    }
    expect((await list(u)).map((t) => t.name)).toEqual(["Prices"]);
    // Another user may use the same name.
    await created(other, { name: "Prices" });
  });

  it("a PUT that would collide is 409 and leaves the tracker as it was", async () => {
    const u = await newUser(stack);
    const a = await created(u, { name: "Alpha" });
    const b = await created(u, { name: "Beta" });
    for (const change of [{ name: "ALPHA" }, { name: "alpha", config: { revisions: 9 } }]) {
      const res = await update(u, b.id, change);
      expect(res.status, JSON.stringify(change)).toBe(409);
      expect(res.body).toEqual({ message: "an API tracker with this name already exists" });
    }
    expect(await list(u)).toEqual([a, b]);
    // Renaming onto its own name in another case is not a collision.
    const self = await update(u, b.id, { name: "BETA" });
    expect(self.status).toBe(204);
    expect(self.body.name).toBe("BETA");
  });
});

describe("secrets", () => {
  it("selected ids must be the caller's own secrets", async () => {
    const u = await newUser(stack);
    const own = await newSecret(u, "OWN");
    for (const selected of [[crypto.randomUUID()], [bobSecret], [own, bobSecret]]) {
      const res = await create(u, trackerBody({ secrets: { selected } }));
      expect(res.status, JSON.stringify(selected)).toBe(400);
      expect(res.body).toEqual({ message: "secrets.selected names a secret that does not exist" });
    }
    expect(await list(u)).toEqual([]);
    const ok = await create(u, trackerBody({ secrets: { selected: [own.toUpperCase()] } }));
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.secrets).toEqual({ selected: [own] });
    const empty = await create(u, trackerBody({ secrets: { selected: [] } }));
    expect(empty.status).toBe(201);
    expect(empty.body.secrets).toBe("none");
  });

  it("a deleted secret leaves the access lists; an emptied list becomes none", async () => {
    const u = await newUser(stack);
    const [one, two] = [await newSecret(u, "ONE"), await newSecret(u, "TWO")];
    const single = await created(u, { secrets: { selected: [one] } });
    const pair = await created(u, { secrets: { selected: [one, two] } });
    const all = await created(u, { secrets: "all" });
    const theirs = await created(bob, { secrets: { selected: [bobSecret] } });

    const del = await call(stack, "DELETE", `/api/user/secrets/${one}`, { auth: u.auth });
    expect(del.status).toBe(204);
    expect((await listed(u, single.id))!.secrets).toBe("none");
    expect((await listed(u, pair.id))!.secrets).toEqual({ selected: [two] });
    expect((await listed(u, all.id))!.secrets).toBe("all");
    expect(await listed(bob, theirs.id)).toEqual(theirs);

    expect((await call(stack, "DELETE", `/api/user/secrets/${two}`, { auth: u.auth })).status).toBe(204);
    expect((await listed(u, pair.id))!.secrets).toBe("none");
    // Everything else about the trackers is untouched.
    expect({ ...(await listed(u, pair.id)), updatedAt: 0 }).toEqual({ ...pair, secrets: "none", updatedAt: 0 });
  });
});

describe("OpenAPI", () => {
  it("documents the routes and the ApiTracker schema", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    expect(Object.keys(doc.paths[BASE]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths[`${BASE}/{tracker_id}`]).sort()).toEqual(["delete", "put"]);
    expect(doc.paths[BASE].post.tags).toEqual(["web_scraping"]);
    expect(Object.keys(doc.components.schemas.ApiTracker.properties).sort()).toEqual([...TRACKER_KEYS, "tags", "tagIds"].sort());
  });
});

// Below the API: what the scheduler will read (next_run_at) and how the store keeps a target.
describe("store and schedule", () => {
  let db: Db;
  let scratch: ScratchDatabase | undefined;
  let service: ApiTrackersService;
  const userId = crypto.randomUUID();

  beforeAll(async () => {
    scratch = await openScratchDatabase("trackers");
    db = scratch.db;
    await insertUser(db, { id: userId, email: `${userId}@example.test`, handle: crypto.randomBytes(8).toString("hex") });
    service = new TrackersService(API_TRACKER_KIND, { db, secretsOf: () => ({ existingIds: async () => [], idsByName: async () => new Map() }), tags: new TagsService(db, 100), maxPerUser: 100 });
  });
  afterAll(() => scratch?.close());

  const nextRun = async (id: string) =>
    (await db.query<{ at: Date | null }>("SELECT next_run_at AS at FROM api_trackers WHERE id = $1", [id]))[0]!.at;
  const input = (over: Record<string, unknown> = {}) => ({ name: `s-${unique()}`, config: { revisions: 1 }, target: { url: URL_A }, ...over });

  it("next_run_at is the next tick for an enabled, scheduled tracker, NULL otherwise", async () => {
    const before = Date.now();
    const t = await service.create(userId, input({ config: { revisions: 1, job: { schedule: "*/5 * * * *" } } }));
    const at = await nextRun(t.id);
    expect(at).toBeInstanceOf(Date);
    expect(at!.getTime()).toBeGreaterThan(before);
    expect(at!.getTime()).toBeLessThanOrEqual(before + 5 * 60_000);
    expect(at!.getUTCMinutes() % 5).toBe(0);
    expect(at!.getUTCSeconds()).toBe(0);

    await service.update(userId, t.id, { enabled: false });
    expect(await nextRun(t.id)).toBeNull();
    await service.update(userId, t.id, { enabled: true });
    expect(await nextRun(t.id)).toBeInstanceOf(Date);
    await service.update(userId, t.id, { config: { revisions: 1 } });
    expect(await nextRun(t.id)).toBeNull();

    const unscheduled = await service.create(userId, input());
    expect(await nextRun(unscheduled.id)).toBeNull();
    const disabled = await service.create(userId, input({ enabled: false, config: { revisions: 1, job: { schedule: "* * * * *" } } }));
    expect(await nextRun(disabled.id)).toBeNull();
  });

  it("owned() gives the record the runner works from", async () => {
    const t = await service.create(userId, input({ target: { url: URL_A, headers: { a: "1" }, body: "b", extractor: "return 1;" } }));
    const r = await service.owned(userId, t.id);
    expect(r).toEqual({
      id: t.id,
      userId,
      name: t.name,
      enabled: true,
      revisions: 1,
      notifications: false,
      tagIds: [],
      target: { url: URL_A, method: "GET", headers: { a: "1" }, body: "b", extractor: "return 1;" },
      access: { mode: "none", ids: [] },
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    });
    await expect(service.owned(crypto.randomUUID(), t.id)).rejects.toMatchObject({ kind: "not_found" });
  });

  it("the store keeps a JSON null body apart from no body", async () => {
    const base = { userId, enabled: true, revisions: 1, notifications: false, access: { mode: "none" as const, ids: [] } };
    const withNull = await service.store.insert(db, { ...base, id: crypto.randomUUID(), name: "null-body", target: { url: URL_A, method: "POST", headers: {}, body: null } }, null);
    const without = await service.store.insert(db, { ...base, id: crypto.randomUUID(), name: "no-body", target: { url: URL_A, method: "POST", headers: {} } }, null);
    const a = (await service.store.byId(db, userId, withNull.id))!.target;
    const b = (await service.store.byId(db, userId, without.id))!.target;
    expect("body" in a && a.body === null).toBe(true);
    expect("body" in b).toBe(false);
    expect(withNull.target).toEqual(a);
  });
});
