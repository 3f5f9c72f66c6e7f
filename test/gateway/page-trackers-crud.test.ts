import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { PAGE_TRACKER_KIND, type PageTrackersService } from "../../gateway/page-trackers/kind.js";
import { TagsService } from "../../gateway/tags/service.js";
import { TrackersService } from "../../gateway/trackers/service.js";
import { insertUser } from "../../gateway/users/store.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { Stack } from "../helpers/stack.js";
import { trackerCrud, type TrackerBody as Body } from "../helpers/trackers.js";

const BASE = "/api/web_scraping/page_trackers";
const TRACKER_KEYS = ["config", "createdAt", "enabled", "id", "name", "notifications", "secrets", "target", "updatedAt"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EXTRACTOR = "export async function execute(page, context) { return await page.title(); }";

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

const { unique, trackerBody, create, update, remove, list, created, listed } = trackerCrud(() => stack, BASE, "page", { extractor: EXTRACTOR });

describe("create, list, update, delete", () => {
  it("POST answers 201 with the tracker and its defaults: enabled, certificates verified, no secrets", async () => {
    const u = await newUser(stack);
    const before = Math.floor(Date.now() / 1000);
    const res = await create(u, { name: "Title", config: { revisions: 3 }, target: { extractor: EXTRACTOR } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "Title",
      enabled: true,
      config: { revisions: 3 },
      target: { extractor: EXTRACTOR, acceptInvalidCertificates: false, ignoreHttpsErrors: false },
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
      target: { extractor: "export async function execute(page) {\n  return [1, 'é', \"\\u2028\"];\n}", acceptInvalidCertificates: true },
      notifications: true,
      secrets: "all",
    };
    const res = await create(u, body);
    expect(res.status, res.text).toBe(201);
    const { name, enabled, config, target, notifications, secrets } = body;
    // The flag also comes back under the skill document's name.
    expect(res.body).toEqual({
      id: expect.any(String),
      name,
      enabled,
      config,
      target: { ...target, ignoreHttpsErrors: true },
      notifications,
      secrets,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
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
      target: { extractor: EXTRACTOR, acceptInvalidCertificates: true },
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

    // A target without acceptInvalidCertificates: the flag goes back to false, it is not kept from before.
    const retargeted = await update(u, orig.id, { target: { extractor: "return 2;" } });
    expect(retargeted.status).toBe(204);
    expect(retargeted.body).toEqual({ ...disabled.body, target: { extractor: "return 2;", acceptInvalidCertificates: false, ignoreHttpsErrors: false }, updatedAt: expect.any(Number) });

    // A config without a job unschedules the tracker.
    const reconfigured = await update(u, orig.id, { config: { revisions: 1 } });
    expect(reconfigured.status).toBe(204);
    expect(reconfigured.body).toEqual({ ...retargeted.body, config: { revisions: 1 }, updatedAt: expect.any(Number) });

    const unshared = await update(u, orig.id, { secrets: "none" });
    expect(unshared.status).toBe(204);
    expect(unshared.body).toEqual({ ...reconfigured.body, secrets: "none", updatedAt: expect.any(Number) });
    expect(unshared.body).toMatchObject({ id: orig.id, createdAt: orig.createdAt });

    const everything = await update(u, orig.id, {
      name: "Every",
      enabled: true,
      config: { revisions: 30, job: { schedule: "0 0 * * *" } },
      target: { extractor: "return 3;", acceptInvalidCertificates: true },
      secrets: "all",
    });
    expect(everything.status).toBe(204);
    expect(everything.body).toEqual({
      id: orig.id,
      name: "Every",
      enabled: true,
      config: { revisions: 30, job: { schedule: "0 0 * * *" } },
      target: { extractor: "return 3;", acceptInvalidCertificates: true, ignoreHttpsErrors: true },
      notifications: false,
      secrets: "all",
      createdAt: orig.createdAt,
      updatedAt: expect.any(Number),
    });
    expect(await list(u)).toEqual([everything.body]);
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
    expect(again.body).toEqual({ message: "page tracker not found" });
    const put = await update(u, gone.id, { name: "back" });
    expect(put.status).toBe(404);
    expect(put.body).toEqual({ message: "page tracker not found" });
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
      expect(foreign.body).toEqual({ message: "page tracker not found" });
      expect(foreign.text).toBe(absent.text);
    }
    expect(await listed(alice, mine.id)).toEqual(mine);
    expect((await list(bob)).map((t) => t.id)).not.toContain(mine.id);
  });

  it("an API tracker's id is not a page tracker's", async () => {
    const u = await newUser(stack);
    const api = await call(stack, "POST", "/api/web_scraping/api_trackers", {
      auth: u.auth,
      json: { name: "same-name", config: { revisions: 1 }, target: { url: "https://a.test/" } },
    });
    expect(api.status, api.text).toBe(201);
    // Each kind has its own names too.
    const page = await created(u, { name: "same-name" });
    expect((await update(u, api.body.id, { name: "x" })).status).toBe(404);
    expect((await remove(u, api.body.id)).status).toBe(404);
    expect(await list(u)).toEqual([page]);
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

describe("validation", () => {
  let v: TestUser;
  beforeAll(async () => {
    v = await newUser(stack);
  });

  const target = (b: Body) => b.target;
  const config = (b: Body) => b.config;

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
    { label: "name of 1 character", change: (b) => (b.name = String.fromCharCode(0x4e00 + unique())), status: 201 },
    { label: "name missing", change: (b) => delete (b as Partial<Body>).name, status: 400, field: /name/ },
    { label: "name 5 (a number)", change: (b) => ((b as Record<string, unknown>).name = 5), status: 400, field: /name/ },
    { label: "name with a NUL character", change: (b) => (b.name = "a\u0000b"), status: 400, field: /name/ },
    { label: "name with a lone surrogate", change: (b) => (b.name = "a\ud800b"), status: 400, field: /name/ },
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
    { label: 'schedule "61 * * * *"', change: (b) => (config(b).job = { schedule: "61 * * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule "* * * *" (4 fields)', change: (b) => (config(b).job = { schedule: "* * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule ""', change: (b) => (config(b).job = { schedule: "" }), status: 400, field: /schedule/ },
    { label: "schedule of 201 characters", change: (b) => (config(b).job = { schedule: "* ".repeat(100) + "*" }), status: 400, field: /schedule/ },
    { label: 'schedule "* * * * * *" (every second)', change: (b) => (config(b).job = { schedule: "* * * * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule "*/30 * * * * *"', change: (b) => (config(b).job = { schedule: "*/30 * * * * *" }), status: 400, field: /schedule/ },
    { label: 'schedule "* * * * *"', change: (b) => (config(b).job = { schedule: "* * * * *" }), status: 201 },
    { label: 'schedule "0 */5 * * * *" (6 fields)', change: (b) => (config(b).job = { schedule: "0 */5 * * * *" }), status: 201 },
    { label: 'schedule "0 0 * * *"', change: (b) => (config(b).job = { schedule: "0 0 * * *" }), status: 201 },
    { label: "job {} (no schedule)", change: (b) => (config(b).job = {}), status: 400, field: /schedule/ },

    { label: "target missing", change: (b) => delete (b as Partial<Body>).target, status: 400, field: /target/ },
    { label: "extractor missing", change: (b) => (b.target = {}), status: 400, field: /extractor/ },
    { label: 'extractor ""', change: (b) => (target(b).extractor = ""), status: 400, field: /extractor/ },
    { label: 'extractor "   "', change: (b) => (target(b).extractor = "   "), status: 400, field: /target\.extractor/ },
    { label: 'extractor "\\n\\t"', change: (b) => (target(b).extractor = "\n\t"), status: 400, field: /target\.extractor/ },
    { label: "extractor 5 (a number)", change: (b) => (target(b).extractor = 5), status: 400, field: /extractor/ },
    { label: "extractor null", change: (b) => (target(b).extractor = null), status: 400, field: /extractor/ },
    { label: "extractor of 65537 characters", change: (b) => (target(b).extractor = "x".repeat(65537)), status: 400, field: /extractor/ },
    { label: "extractor of 65536 characters", change: (b) => (target(b).extractor = "x".repeat(65536)), status: 201 },
    // Well over the gateway's default 64 KiB body limit on the wire, yet within the field's own.
    { label: "extractor of 65536 two-byte characters", change: (b) => (target(b).extractor = "é".repeat(65536)), status: 201 },
    { label: "extractor of 1 character", change: (b) => (target(b).extractor = "x"), status: 201 },
    { label: "extractor with a NUL character", change: (b) => (target(b).extractor = "return 1;\u0000"), status: 400, field: /target\.extractor/ },
    { label: "extractor with a lone surrogate", change: (b) => (target(b).extractor = "return '\udc00';"), status: 400, field: /target\.extractor/ },
    { label: 'acceptInvalidCertificates "true"', change: (b) => (target(b).acceptInvalidCertificates = "true"), status: 400, field: /acceptInvalidCertificates/ },
    { label: "acceptInvalidCertificates 1", change: (b) => (target(b).acceptInvalidCertificates = 1), status: 400, field: /acceptInvalidCertificates/ },
    { label: "acceptInvalidCertificates null", change: (b) => (target(b).acceptInvalidCertificates = null), status: 400, field: /acceptInvalidCertificates/ },
    { label: "acceptInvalidCertificates true", change: (b) => (target(b).acceptInvalidCertificates = true), status: 201 },
    { label: "acceptInvalidCertificates false", change: (b) => (target(b).acceptInvalidCertificates = false), status: 201 },
    // A misspelt field must not silently save something else (a tracker that checks the certificate after all).
    {
      label: 'unknown target field "acceptInvalidCertificate"',
      change: (b) => (target(b).acceptInvalidCertificate = true),
      status: 400,
      field: /target/,
    },
    { label: "an API tracker's target field (url)", change: (b) => (target(b).url = "https://a.test/"), status: 400, field: /target/ },
    { label: "target as a string", change: (b) => (b.target = EXTRACTOR as unknown as Record<string, unknown>), status: 400, field: /target/ },
    {
      label: "every field at its maximum at once",
      change: (b) => {
        b.name = "m".repeat(96) + String(unique()).padStart(4, "0");
        b.config = { revisions: 30, job: { schedule: "0 0 * * *" } };
        b.target = { extractor: "e".repeat(65536), acceptInvalidCertificates: true };
      },
      status: 201,
    },
    { label: 'secrets "some"', change: (b) => (b.secrets = "some"), status: 400, field: /secrets/ },
    { label: "secrets selected [not-a-uuid]", change: (b) => (b.secrets = { selected: ["not-a-uuid"] }), status: 400, field: /secrets/ },
    { label: 'secrets "none"', change: (b) => (b.secrets = "none"), status: 201 },
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
    expect(res.body).toMatchObject({
      name: body.name,
      config: body.config,
      target: { ...body.target, acceptInvalidCertificates: body.target.acceptInvalidCertificates ?? false, ignoreHttpsErrors: body.target.acceptInvalidCertificates ?? false },
    });
    expect(await listed(v, res.body.id)).toEqual(res.body);
  });

  it("no error message quotes the script or the name", async () => {
    for (const body of [
      trackerBody({ target: { extractor: "planted-value\u0000" } }),
      trackerBody({ name: "planted-value\u0000" }),
      trackerBody({ target: { extractor: "planted-value", planted: "planted-value" } }),
    ]) {
      const res = await create(v, body);
      expect(res.status).toBe(400);
      expect(res.text).not.toContain("planted-value");
    }
  });

  it("PUT applies the same rules, and a refused PUT changes nothing", async () => {
    const t = await created(v, { target: { extractor: EXTRACTOR, acceptInvalidCertificates: true } });
    for (const change of [
      { name: "" },
      { name: "n".repeat(101) },
      { enabled: "false" },
      { config: { revisions: 31 } },
      { config: { revisions: 0 } },
      { config: { revisions: 1, job: { schedule: "* * * * * *" } } },
      { config: { revisions: 1, extra: 1 } },
      { target: {} },
      { target: { extractor: " " } },
      { target: { extractor: "x".repeat(65537) } },
      { target: { extractor: "a\u0000" } },
      { target: { extractor: "x", acceptInvalidCertificates: "yes" } },
      { target: { extractor: "x", extra: 1 } },
      { secrets: "some" },
      { secrets: { selected: [bobSecret] } },
      { secrets: { selected: [crypto.randomUUID()] } },
      // A valid field does not carry an invalid one through.
      { name: "fine", target: { extractor: "" } },
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
      expect(dup.body).toEqual({ message: "a page tracker with this name already exists" });
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
      expect(res.body).toEqual({ message: "a page tracker with this name already exists" });
    }
    expect(await list(u)).toEqual([a, b]);
    // Renaming onto its own name in another case is not a collision.
    const self = await update(u, b.id, { name: "BETA" });
    expect(self.status).toBe(204);
    expect(self.body.name).toBe("BETA");
  });

  it("a deleted tracker's name is free again", async () => {
    const u = await newUser(stack);
    const t = await created(u, { name: "Reused" });
    expect((await remove(u, t.id)).status).toBe(204);
    const again = await created(u, { name: "reused" });
    expect(await list(u)).toEqual([again]);
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
    // The same on PUT: another user's secret is as unknown as an absent one.
    const put = await update(u, ok.body.id, { secrets: { selected: [bobSecret] } });
    expect(put.status).toBe(400);
    expect(put.body).toEqual({ message: "secrets.selected names a secret that does not exist" });
    expect((await listed(u, ok.body.id))!.secrets).toEqual({ selected: [own] });
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
  it("documents the routes and the PageTracker schema", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    expect(Object.keys(doc.paths[BASE]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths[`${BASE}/{tracker_id}`]).sort()).toEqual(["delete", "put"]);
    for (const op of [doc.paths[BASE].get, doc.paths[BASE].post, doc.paths[`${BASE}/{tracker_id}`].put, doc.paths[`${BASE}/{tracker_id}`].delete]) {
      expect(op.tags).toEqual(["web_scraping"]);
    }
    const schema = doc.components.schemas.PageTracker;
    expect(Object.keys(schema.properties).sort()).toEqual([...TRACKER_KEYS, "tags", "tagIds"].sort());
    expect(Object.keys(schema.properties.target.properties).sort()).toEqual(["acceptInvalidCertificates", "engine", "extractor", "ignoreHttpsErrors", "userAgent"]);
    const body = doc.paths[BASE].post.requestBody.content["application/json"].schema;
    expect(body.required.sort()).toEqual(["config", "name", "target"]);
    expect(body.properties.target.required).toEqual(["extractor"]);
    expect(body.properties.target.properties.extractor).toMatchObject({ minLength: 1, maxLength: 65536 });
  });
});

// Below the API: what the scheduler will read (next_run_at) and what the runner works from.
describe("store and schedule", () => {
  let db: Db;
  let scratch: ScratchDatabase | undefined;
  let service: PageTrackersService;
  const userId = crypto.randomUUID();

  beforeAll(async () => {
    scratch = await openScratchDatabase("pagetrackers");
    db = scratch.db;
    await insertUser(db, { id: userId, email: `${userId}@example.test`, handle: crypto.randomBytes(8).toString("hex") });
    service = new TrackersService(PAGE_TRACKER_KIND, { db, secretsOf: () => ({ existingIds: async (ids) => ids, idsByName: async () => new Map() }), tags: new TagsService(db, 100), maxPerUser: 100 });
  });
  afterAll(() => scratch?.close());

  const nextRun = async (id: string) =>
    (await db.query<{ at: Date | null }>("SELECT next_run_at AS at FROM page_trackers WHERE id = $1", [id]))[0]!.at;
  const input = (over: Record<string, unknown> = {}) => ({ name: `s-${unique()}`, config: { revisions: 1 }, target: { extractor: EXTRACTOR }, ...over });

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
    // A change elsewhere keeps the tracker scheduled.
    await service.update(userId, t.id, { name: `renamed-${unique()}` });
    expect(await nextRun(t.id)).toBeInstanceOf(Date);
    await service.update(userId, t.id, { config: { revisions: 1 } });
    expect(await nextRun(t.id)).toBeNull();
    await service.update(userId, t.id, { config: { revisions: 1, job: { schedule: "0 0 * * *" } } });
    const daily = await nextRun(t.id);
    expect(daily!.getTime()).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    expect([daily!.getUTCHours(), daily!.getUTCMinutes(), daily!.getUTCSeconds()]).toEqual([0, 0, 0]);

    const unscheduled = await service.create(userId, input());
    expect(await nextRun(unscheduled.id)).toBeNull();
    const disabled = await service.create(userId, input({ enabled: false, config: { revisions: 1, job: { schedule: "* * * * *" } } }));
    expect(await nextRun(disabled.id)).toBeNull();
  });

  it("owned() gives the record the runner works from", async () => {
    const secret = crypto.randomUUID();
    const t = await service.create(userId, input({ target: { extractor: "return 1;", acceptInvalidCertificates: true }, secrets: { selected: [secret] } }));
    const r = await service.owned(userId, t.id);
    expect(r).toEqual({
      id: t.id,
      userId,
      name: t.name,
      enabled: true,
      revisions: 1,
      notifications: false,
      tagIds: [],
      target: { extractor: "return 1;", acceptInvalidCertificates: true },
      access: { mode: "selected", ids: [secret] },
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    });
    expect(await service.store.byId(db, userId, t.id)).toEqual(r);
    await expect(service.owned(crypto.randomUUID(), t.id)).rejects.toMatchObject({ kind: "not_found" });
    await expect(service.delete(crypto.randomUUID(), t.id)).rejects.toMatchObject({ kind: "not_found" });
  });

  it("removing a secret touches only the rows that hold it", async () => {
    const [one, two] = [crypto.randomUUID(), crypto.randomUUID()];
    const base = { userId, enabled: true, revisions: 1, notifications: false, target: { extractor: "x", acceptInvalidCertificates: false } };
    const single = await service.store.insert(db, { ...base, id: crypto.randomUUID(), name: `r-${unique()}`, access: { mode: "selected", ids: [one] } }, null);
    const pair = await service.store.insert(db, { ...base, id: crypto.randomUUID(), name: `r-${unique()}`, access: { mode: "selected", ids: [one, two] } }, null);
    expect(await service.store.removeSecret(db, userId, one)).toBe(2);
    expect((await service.store.byId(db, userId, single.id))!.access).toEqual({ mode: "none", ids: [] });
    expect((await service.store.byId(db, userId, pair.id))!.access).toEqual({ mode: "selected", ids: [two] });
    expect(await service.store.removeSecret(db, userId, one)).toBe(0);
    expect(await service.store.removeSecret(db, crypto.randomUUID(), two)).toBe(0);
  });
});
