import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveKey, KDF } from "../../gateway/user-data/secret-values.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, createTracker, PAGE_TRACKERS, refresh, startUpstream } from "../helpers/trackers.js";
import { createResponder, historyOf, hitUrl } from "../helpers/webhooks.js";

// Export and import of a whole workspace (../shared/reference/export-import.SKILL.md,
// and the reference API's /_export, /_import and /_import_preview). Secret
// values never leave the broker: an export carries names, a request for
// values is refused, and an import makes a named secret with a placeholder.

const SCRIPTS_LIMIT = 4;
/** USER_DATA_EXPORT_MAX_BYTES here: far above every other test's document, below three 100 KB requests. */
const EXPORT_MAX_BYTES = 256 * 1024;
let stack: Stack;
// An API for a tracker to fetch a revision from, allow-listed for the sandbox.
let upstream: Awaited<ReturnType<typeof startUpstream>>;

beforeAll(async () => {
  upstream = await startUpstream(() => ({ body: JSON.stringify({ price: 42 }) }));
  stack = await Stack.start({
    gatewayEnv: {
      TRACKER_SCHEDULER_POLL_MS: "0",
      USER_SCRIPTS_PER_USER: String(SCRIPTS_LIMIT),
      TAGS_PER_USER: String(SCRIPTS_LIMIT),
      USER_DATA_EXPORT_MAX_BYTES: String(EXPORT_MAX_BYTES),
    },
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
  });
});
afterAll(() => {
  upstream?.close();
  return stack?.stop();
});

const EVERYTHING = { scripts: true, secrets: true, responders: true, apiTrackers: true, pageTrackers: true, tags: true, settings: true };
const VALUE_A = "export-test-value-A-5a1f";
const VALUE_B = "export-test-value-B-77c2";

interface Doc {
  version: number;
  exportedAt: number;
  data: Record<string, Record<string, unknown>[]>;
}

const exportOf = async (u: TestUser, include: Record<string, unknown> = EVERYTHING, path = "/api/user/data/export") => {
  const res = await call<Doc>(stack, "POST", path, { auth: u.auth, json: { include } });
  expect(res.status, res.text).toBe(200);
  return res;
};
const importInto = async (u: TestUser, body: Record<string, unknown>, status = 200) => {
  const res = await call(stack, "POST", "/api/user/data/import", { auth: u.auth, json: body });
  expect(res.status, res.text).toBe(status);
  return res;
};
const items = async (u: TestUser, path: string) => {
  const res = await call(stack, "GET", `${path}?pageSize=100`, { auth: u.auth });
  expect(res.status, res.text).toBe(200);
  return res.body.items as { id: string; name: string; [k: string]: unknown }[];
};

/** A user with one of everything, tagged, the responder reading one selected secret. */
async function workspace() {
  const u = await newUser(stack);
  const tag = (await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "prod", color: "#54B399" } })).body;
  const a = await createSecret(stack, u, "API_TOKEN", VALUE_A);
  await createSecret(stack, u, "OTHER", VALUE_B);
  await call(stack, "PUT", `/api/user/secrets/${a}`, { auth: u.auth, json: { tagIds: [tag.id] } });
  const script = await call(stack, "POST", "/api/user/scripts", { auth: u.auth, json: { name: "helper", type: "universal", content: "(() => 1)();", tagIds: [tag.id] } });
  expect(script.status, script.text).toBe(201);
  const responder = await call(stack, "POST", "/api/webhooks/responders", {
    auth: u.auth,
    json: {
      name: "echo",
      location: { pathType: "=", path: "/echo" },
      method: "GET",
      settings: { requestsToTrack: 3, statusCode: 200, headers: [["x-a", "1"]], script: "(() => ({ body: Object.keys(context.secrets).join(',') }))();", secrets: { selected: [a] } },
      tagIds: [tag.id],
    },
  });
  expect(responder.status, responder.text).toBe(201);
  const api = await call(stack, "POST", API_TRACKERS, {
    auth: u.auth,
    json: { name: "prices", config: { revisions: 2 }, target: { url: "https://api.example.test/prices" }, secrets: "all" },
  });
  expect(api.status, api.text).toBe(201);
  const page = await call(stack, "POST", PAGE_TRACKERS, {
    auth: u.auth,
    json: { name: "home", config: { revisions: 1 }, target: { extractor: "export async function execute(page) { return 1; }" } },
  });
  expect(page.status, page.text).toBe(201);
  return { u, tag, secretA: a, responder: responder.body };
}

describe("export", () => {
  it("writes every collection asked for, secrets by name only", async () => {
    const { u, tag, secretA } = await workspace();
    expect((await call(stack, "POST", "/api/user/settings", { auth: u.auth, json: { "common.uiTheme": "system" } })).status).toBe(200);
    const res = await exportOf(u);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="export-\d+\.secutils\.json"$/);
    const doc = res.body;
    expect(doc.version).toBe(1);
    expect(Math.abs(doc.exportedAt - Date.now() / 1000)).toBeLessThan(60);
    expect(Object.keys(doc.data).sort()).toEqual(["apiTrackers", "pageTrackers", "responders", "scripts", "secrets", "settings", "tags"]);
    expect(doc.data.tags).toEqual([expect.objectContaining({ id: tag.id, name: "prod", color: "#54B399" })]);
    expect(doc.data.settings).toEqual({ "common.uiTheme": "system" });
    expect(doc.data.secrets!.map((s) => s.name).sort()).toEqual(["API_TOKEN", "OTHER"]);
    expect(doc.data.secrets!.find((s) => s.id === secretA)).toMatchObject({ tags: [{ id: tag.id, name: "prod" }] });
    expect(doc.data.responders![0]).toMatchObject({ name: "echo", settings: { secrets: { selected: [secretA] } } });
    expect(doc.data.responders![0]).not.toHaveProperty("history");
    expect(doc.data.apiTrackers![0]).toMatchObject({ name: "prices", secrets: "all" });
    expect(doc.data.pageTrackers![0]).toMatchObject({ name: "home" });
    expect(res.text).not.toContain(VALUE_A);
    expect(res.text).not.toContain(VALUE_B);
  });

  it("writes the reference's collections this system does not keep, when asked, as empty lists", async () => {
    const { u } = await workspace();
    const include = { tags: true, certificateTemplates: true, privateKeys: { type: "all" }, contentSecurityPolicies: false };
    const doc = (await exportOf(u, include)).body;
    expect(Object.keys(doc.data).sort()).toEqual(["certificateTemplates", "privateKeys", "tags"]);
    expect(doc.data).toMatchObject({ certificateTemplates: [], privateKeys: [] });
  });

  it("refuses to carry secret values, whatever the passphrase, and writes nothing else in their place", async () => {
    const { u } = await workspace();
    const res = await call(stack, "POST", "/api/user/data/export", { auth: u.auth, json: { include: { secrets: true }, secretsPassphrase: "correct horse battery staple" } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/write-only/);
    expect(res.text).not.toContain(VALUE_A);
    // Without secrets, a passphrase has nothing to protect and is ignored.
    const other = await call(stack, "POST", "/api/user/data/export", { auth: u.auth, json: { include: { tags: true }, secretsPassphrase: "correct horse battery staple" } });
    expect(other.status, other.text).toBe(200);
  });

  it("takes the reference API's selections and history flag at /_export", async () => {
    const { u, responder } = await workspace();
    await createResponder(stack, u, { name: "second" });
    const hit = await hitUrl(stack, responder.url as string, {}, "?q=1");
    expect(hit.status).toBe(200);
    let doc: Doc;
    // History is written just after the answer leaves.
    for (;;) {
      doc = (await exportOf(u, { responders: { type: "selected", ids: [responder.id], includeHistory: true } }, "/api/user/data/_export")).body;
      if ((doc.data.responders![0]!.history as unknown[]).length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Object.keys(doc.data)).toEqual(["responders"]);
    expect(doc.data.responders!.map((r) => r.name)).toEqual(["echo"]);
    expect(doc.data.responders![0]!.history).toEqual([expect.objectContaining({ responderId: responder.id, method: "GET", url: "/echo?q=1", createdAt: expect.any(Number) })]);
  });

  it("refuses, with what to leave out, an export larger than USER_DATA_EXPORT_MAX_BYTES, and exports the rest", async () => {
    const u = await newUser(stack);
    const responder = await createResponder(stack, u, { name: "large", method: "POST", settings: { requestsToTrack: 5 } });
    for (let i = 0; i < 3; i++) expect((await hitUrl(stack, responder.url, { method: "POST", body: "b".repeat(100_000) })).status).toBe(200);
    expect(await historyOf(stack, u, responder.id, 3)).toHaveLength(3);
    const res = await call(stack, "POST", "/api/user/data/export", { auth: u.auth, json: { include: { responders: true, respondersHistory: true } } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: `the export would be larger than ${EXPORT_MAX_BYTES} bytes: leave out the history (respondersHistory, apiTrackersHistory, pageTrackersHistory), or export fewer collections at a time`,
    });
    const without = await exportOf(u, { responders: true });
    expect(without.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(without.body.data.responders!.map((r) => r.name)).toEqual(["large"]);
  });

  it("adds a tracker's revisions when asked, as its _history answers them", async () => {
    const u = await newUser(stack);
    const id = await createTracker(stack, u, { name: "price", target: { url: `http://127.0.0.1:${upstream.port}/price` } });
    const run = await refresh(stack, u, id);
    expect(run.status, run.text).toBe(200);
    for (const include of [{ apiTrackers: true, apiTrackersHistory: true }, { apiTrackers: { type: "all", includeHistory: true } }]) {
      const [tracker] = (await exportOf(u, include)).body.data.apiTrackers!;
      expect(tracker!.history).toEqual([{ id: run.body[0]!.id, trackerId: id, data: { original: { price: 42 } }, createdAt: run.body[0]!.createdAt }]);
    }
    expect((await exportOf(u, { apiTrackers: true })).body.data.apiTrackers![0]).not.toHaveProperty("history");
  });

  it("needs the scope of every collection it reads", async () => {
    const u = await newUser(stack);
    const key = await call(stack, "POST", `/api/users/${u.id}/api_keys`, { auth: { bearer: stack.operatorToken }, json: { name: "narrow", scopes: ["responders"] } });
    const narrow = { bearer: key.body.token as string };
    const refused = await call(stack, "POST", "/api/user/data/export", { auth: narrow, json: { include: { responders: true, secrets: true } } });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/secrets scope/);
    const allowed = await call(stack, "POST", "/api/user/data/export", { auth: narrow, json: { include: { responders: true } } });
    expect(allowed.status, allowed.text).toBe(200);
  });
});

describe("import", () => {
  it("restores a workspace into another account: tags and secrets mapped by name, values as placeholders", async () => {
    const { u } = await workspace();
    const doc = (await exportOf(u)).body;
    const v = await newUser(stack);
    const res = await importInto(v, { mode: "merge", conflict: "rename", document: doc });
    const r = res.body.results;
    expect(r.tags).toMatchObject({ imported: 1, failed: 0 });
    expect(r.scripts).toMatchObject({ imported: 1, failed: 0 });
    expect(r.secrets).toMatchObject({ imported: 2, failed: 0 });
    expect(r.responders).toMatchObject({ imported: 1, failed: 0, errors: [] });
    expect(r.apiTrackers).toMatchObject({ imported: 1, failed: 0 });
    expect(r.pageTrackers).toMatchObject({ imported: 1, failed: 0 });
    expect(res.body.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/secret 'API_TOKEN' was created with a placeholder value/)]));

    const [tag] = await items(v, "/api/user/tags");
    const secrets = await items(v, "/api/user/secrets");
    const token = secrets.find((s) => s.name === "API_TOKEN")!;
    expect(token.tags).toEqual([{ id: tag!.id, name: "prod", color: "#54B399" }]);
    const [responder] = await items(v, "/api/webhooks/responders");
    expect(responder).toMatchObject({ name: "echo", settings: { secrets: { selected: [token.id] }, headers: [["x-a", "1"]] }, tags: [{ id: tag!.id }] });
    // The restored responder runs and sees the secret by its name.
    const served = await hitUrl(stack, responder!.url as string);
    expect(served.text).toBe("API_TOKEN");
    expect((await items(v, API_TRACKERS))[0]).toMatchObject({ name: "prices", secrets: "all" });
  });

  it("resolves same-named items by skip (the default), rename or overwrite", async () => {
    const { u, responder } = await workspace();
    const doc = (await exportOf(u)).body;
    const skipped = (await importInto(u, { document: doc })).body.results;
    expect(skipped.responders).toMatchObject({ imported: 0, skipped: 1 });
    expect(skipped.secrets).toMatchObject({ imported: 0, skipped: 2 });
    expect(skipped.tags).toMatchObject({ imported: 0, skipped: 1 });

    // A copy of a responder needs a path of its own.
    doc.data.responders![0]!.location = { pathType: "=", path: "/echo-copy" };
    const renamed = (await importInto(u, { conflict: "rename", document: doc })).body.results;
    expect(renamed.scripts).toMatchObject({ imported: 1 });
    expect(renamed.responders).toMatchObject({ imported: 1, errors: [] });
    expect((await items(u, "/api/webhooks/responders")).map((r) => r.name).sort()).toEqual(["echo", "echo (Copy 1)"]);
    expect((await items(u, "/api/user/secrets")).map((s) => s.name).sort()).toEqual(["API_TOKEN", "API_TOKEN_COPY_1", "OTHER", "OTHER_COPY_1"]);
    expect((await items(u, "/api/user/scripts")).map((s) => s.name).sort()).toEqual(["helper", "helper (Copy 1)"]);

    doc.data.responders![0]!.location = { pathType: "=", path: "/echo" };
    (doc.data.responders![0]!.settings as Record<string, unknown>).statusCode = 202;
    const overwritten = (await importInto(u, { conflict: "overwrite", document: doc })).body.results;
    expect(overwritten.responders).toMatchObject({ updated: 1, errors: [] });
    const echo = (await items(u, "/api/webhooks/responders")).find((r) => r.name === "echo")!;
    expect(echo).toMatchObject({ id: responder.id, settings: { statusCode: 202 } });
    // Overwriting a secret keeps its value: a document has none.
    expect(overwritten.secrets).toMatchObject({ updated: 2 });
    expect((await hitUrl(stack, responder.url as string)).text).toBe("API_TOKEN");
  });

  it("meets a responder where it answers as the one it would replace, as the reference does", async () => {
    const u = await newUser(stack);
    const old = await createResponder(stack, u, { name: "old-name", location: { pathType: "=", path: "/here" } });
    const doc = { version: 1, data: { responders: [{ id: crypto.randomUUID(), name: "new-name", location: { pathType: "=", path: "/HERE" }, method: "GET", settings: { requestsToTrack: 0, statusCode: 201 } }] } };

    const preview = await call(stack, "POST", "/api/user/data/_import_preview", { auth: u.auth, json: { data: doc, mode: "apply" } });
    expect(preview.body.summary.responders.conflicts).toEqual([{ sourceId: doc.data.responders[0]!.id, name: "new-name", existingId: old.id, renameAllowed: false }]);
    expect(preview.body.toDelete).toEqual({ responders: [] });

    const renamed = (await importInto(u, { conflict: "rename", document: doc })).body.results.responders;
    expect(renamed).toMatchObject({ imported: 0, failed: 1, errors: ["Responder 'new-name': a responder with this location and method already exists"] });
    expect((await importInto(u, { document: doc })).body.results.responders).toMatchObject({ skipped: 1 });

    const applied = (await importInto(u, { mode: "apply", document: doc })).body;
    expect(applied.results.responders).toMatchObject({ updated: 1, failed: 0 });
    expect(applied.toDelete).toEqual({ responders: [] });
    expect(await items(u, "/api/webhooks/responders")).toEqual([expect.objectContaining({ id: old.id, name: "new-name", settings: expect.objectContaining({ statusCode: 201 }) })]);
  });

  it("takes per-item selections as the reference API sends them", async () => {
    const { u } = await workspace();
    const doc = (await exportOf(u, { scripts: true })).body;
    const script = doc.data.scripts![0]!;
    const res = await call(stack, "POST", "/api/user/data/_import", {
      auth: u.auth,
      json: { data: doc, mode: "merge", selections: { scripts: [{ sourceId: script.id, action: "import", conflictResolution: "rename" }] } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.scripts).toMatchObject({ imported: 1 });
    const skip = await call(stack, "POST", "/api/user/data/_import", {
      auth: u.auth,
      json: { data: doc, mode: "merge", conflict: "rename", selections: { scripts: [{ sourceId: script.id, action: "skip" }] } },
    });
    expect(skip.body.results.scripts).toMatchObject({ imported: 0, skipped: 1 });

    // A tag left out leaves the items that had it, as in the reference.
    const tagged = (await exportOf(u, { scripts: true, tags: true })).body;
    const v = await newUser(stack);
    const untagged = await call(stack, "POST", "/api/user/data/_import", {
      auth: v.auth,
      json: { data: tagged, mode: "merge", selections: { tags: [{ sourceId: tagged.data.tags![0]!.id, action: "skip" }] } },
    });
    // u has the script and the copy made above.
    expect(untagged.body.results).toMatchObject({ tags: { imported: 0, skipped: 1 }, scripts: { imported: 2, failed: 0 } });
    expect(await items(v, "/api/user/tags")).toEqual([]);
    const scripts = await items(v, "/api/user/scripts");
    expect(scripts.length).toBe(2);
    for (const s of scripts) expect(s).not.toHaveProperty("tags");
  });

  it("refuses a document with a bad item, and writes nothing of it", async () => {
    const { u } = await workspace();
    const doc = (await exportOf(u)).body;
    doc.data.scripts!.push({ name: "fresh-script", type: "universal", content: "1" });
    (doc.data.responders![0]!.settings as Record<string, unknown>).statusCode = 99;
    const res = await importInto(u, { conflict: "rename", document: doc }, 400);
    expect(res.body.message).toMatch(/^nothing was imported: data\.responders\[0\] \('echo'\): \/settings\/statusCode must be >= 200/);
    expect((await items(u, "/api/user/scripts")).map((s) => s.name)).toEqual(["helper"]);

    for (const [body, pattern] of [
      [{ document: { ...doc, version: 2 } }, /unsupported document version 2/],
      [{}, /document is required/],
      [{ document: doc, data: doc }, /not both/],
      [{ document: { version: 1, data: { secrets: [{ name: "X", encryptedValue: "AAAA" }] } } }, /no secretsEncryption/],
      [{ document: doc, confirmDeletions: true }, /only made in apply mode/],
    ] as const) {
      const bad = await importInto(u, body as Record<string, unknown>, 400);
      expect(bad.body.message).toMatch(pattern);
    }
    expect((await items(u, "/api/user/secrets")).length).toBe(2);
  });

  it("refuses an import that would take scripts or tags past their per-user limit, and writes nothing", async () => {
    const u = await newUser(stack);
    for (const name of ["one", "two", "three"]) {
      expect((await call(stack, "POST", "/api/user/scripts", { auth: u.auth, json: { name, type: "universal", content: "1" } })).status).toBe(201);
    }
    const script = (name: string) => ({ name, type: "universal", content: "2" });
    const tag = (name: string) => ({ id: crypto.randomUUID(), name, color: "default" });
    // Same names are skipped (no room needed); two new ones would make five.
    const over = { version: 1, data: { tags: [tag("a")], scripts: [script("one"), script("four"), script("five")] } };
    const refused = await importInto(u, { document: over }, 400);
    expect(refused.body.message).toBe("nothing was imported: 2 new scripts would make 5, over the limit of 4 per user");
    expect(await items(u, "/api/user/tags")).toEqual([]);
    // Renamed copies count too.
    expect((await importInto(u, { conflict: "rename", document: { version: 1, data: { scripts: [script("one"), script("four")] } } }, 400)).body.message).toMatch(/2 new scripts/);
    const tags = { version: 1, data: { tags: ["a", "b", "c", "d", "e"].map(tag) } };
    expect((await importInto(u, { document: tags }, 400)).body.message).toMatch(/5 new tags would make 5, over the limit of 4/);
    const fits = await importInto(u, { document: { ...over, data: { ...over.data, scripts: over.data.scripts.slice(0, 2) } } });
    expect(fits.body.results.scripts).toMatchObject({ imported: 1, skipped: 1 });
    expect((await items(u, "/api/user/scripts")).length).toBe(4);
  });

  it("uses the account's own tag of a name as it is, whatever the conflict setting or mode: the document's colour is ignored", async () => {
    const u = await newUser(stack);
    const have = (await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "production", color: "#54B399" } })).body;
    const source = crypto.randomUUID();
    const doc = (name: string) => ({
      version: 1,
      data: {
        tags: [{ id: source, name: "PRODUCTION ", color: "#000000" }],
        scripts: [{ name, type: "universal", content: "1", tags: [{ id: source, name: "PRODUCTION ", color: "#000000" }] }],
      },
    });
    for (const [i, params] of [{ conflict: "overwrite" }, { conflict: "rename" }, { conflict: "skip" }, { mode: "apply" }].entries()) {
      const done = await importInto(u, { ...params, document: doc(`tagged-${i}`) });
      expect(done.body.results.tags, JSON.stringify(params)).toMatchObject({ imported: 0, updated: 0, skipped: 1 });
      expect(await items(u, "/api/user/tags")).toEqual([expect.objectContaining({ id: have.id, name: "production", color: "#54B399" })]);
      const script = (await items(u, "/api/user/scripts")).find((x) => x.name === `tagged-${i}`);
      expect(script?.tags).toEqual([expect.objectContaining({ id: have.id, color: "#54B399" })]);
    }
  });

  it("apply mode lists what the document leaves out, and deletes it only when confirmed; never a secret", async () => {
    const { u } = await workspace();
    const extra = await createResponder(stack, u, { name: "extra" });
    const doc = (await exportOf(u)).body;
    doc.data.responders = doc.data.responders!.filter((r) => r.name === "echo");
    doc.data.secrets = [];
    delete (doc.data as Record<string, unknown>).scripts;

    const preview = await call(stack, "POST", "/api/user/data/_import_preview", { auth: u.auth, json: { data: doc, mode: "apply" } });
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body).toMatchObject({ valid: true, version: 1, toDelete: { responders: [{ id: extra.id, name: "extra" }] } });
    expect(preview.body.summary.responders).toMatchObject({ total: 1, conflicts: [expect.objectContaining({ name: "echo" })] });
    expect(preview.body.toDelete).not.toHaveProperty("secrets");

    const unconfirmed = (await importInto(u, { mode: "apply", document: doc })).body;
    expect(unconfirmed.toDelete.responders).toEqual([{ id: extra.id, name: "extra" }]);
    expect(unconfirmed.results.responders).toMatchObject({ updated: 1, deleted: 0 });
    expect((await items(u, "/api/webhooks/responders")).length).toBe(2);

    const confirmed = (await importInto(u, { mode: "apply", document: doc, confirmDeletions: true })).body;
    expect(confirmed.results.responders).toMatchObject({ deleted: 1 });
    expect(confirmed.toDelete.responders).toEqual([]);
    expect((await items(u, "/api/webhooks/responders")).map((r) => r.name)).toEqual(["echo"]);
    // Left out of the document: untouched.
    expect((await items(u, "/api/user/scripts")).length).toBe(1);
    expect((await items(u, "/api/user/secrets")).length).toBe(2);
  });

  it("an API key without secrets:grant cannot give imported scripts secrets", async () => {
    const { u } = await workspace();
    const doc = (await exportOf(u)).body;
    const v = await newUser(stack);
    const key = await call(stack, "POST", `/api/users/${v.id}/api_keys`, {
      auth: { bearer: stack.operatorToken },
      json: { name: "no-grant", scopes: ["secrets", "responders", "trackers", "scripts", "tags"] },
    });
    const res = await call(stack, "POST", "/api/user/data/import", { auth: { bearer: key.body.token }, json: { document: doc } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.responders).toMatchObject({ imported: 0, failed: 1, errors: [expect.stringMatching(/^Responder 'echo': .*secrets:grant/)] });
    expect(res.body.results.apiTrackers).toMatchObject({ failed: 1 });
    expect(res.body.results.pageTrackers).toMatchObject({ imported: 1 });
    const narrow = await call(stack, "POST", `/api/users/${v.id}/api_keys`, { auth: { bearer: stack.operatorToken }, json: { name: "narrow", scopes: ["scripts"] } });
    const refused = await call(stack, "POST", "/api/user/data/import", { auth: { bearer: narrow.body.token }, json: { document: doc } });
    expect(refused.status).toBe(403);
  });
});

describe("a document the reference itself exported", () => {
  // The shapes of the reference's export (its export types): scripts with scriptType alone,
  // access settings by secret names, trackers nested under `retrack` with retrack's tagged
  // target and its params, collections this system does not keep, and user settings.
  const TAG = "0190a1b2-0000-7000-8000-000000000001";
  const document = {
    version: 1,
    exportedAt: 1740000000,
    data: {
      tags: [{ id: TAG, name: "ops", color: "#F1D86F", createdAt: 1740000000, updatedAt: 1740000000 }],
      scripts: [{ id: "0190a1b2-0000-7000-8000-000000000002", name: "gate", scriptType: "responder", content: "({ statusCode: 401 })", createdAt: 1740000000, updatedAt: 1740000000 }],
      secrets: [{ id: "0190a1b2-0000-7000-8000-000000000003", name: "APP_PASSWORD", tags: [{ id: TAG, name: "ops", color: "#F1D86F" }], createdAt: 1740000000, updatedAt: 1740000000 }],
      responders: [
        {
          id: "0190a1b2-0000-7000-8000-000000000004",
          name: "login",
          location: { pathType: "=", path: "/login" },
          method: "POST",
          enabled: true,
          settings: { requestsToTrack: 10, statusCode: 200, headers: [["content-type", "application/json"]], script: "({ body: String(Object.keys(context.secrets)) })", secrets: { type: "selected", secrets: ["APP_PASSWORD"] } },
          tags: [{ id: TAG, name: "ops", color: "#F1D86F" }],
          createdAt: 1740000000,
          updatedAt: 1740000000,
        },
      ],
      apiTrackers: [
        {
          id: "0190a1b2-0000-7000-8000-000000000005",
          name: "status-api",
          retrack: {
            enabled: true,
            config: { revisions: 3, timeout: 10000, job: { schedule: "0 0 * * * *" } },
            target: { type: "api", requests: [{ url: "https://api.example.test/status", method: "GET", headers: { accept: "application/json" } }], extractor: "(() => context.responses)()", params: { secutils: { id: "x" } } },
            notifications: false,
          },
          secrets: { type: "all" },
          createdAt: 1740000000,
          updatedAt: 1740000000,
        },
      ],
      pageTrackers: [
        {
          id: "0190a1b2-0000-7000-8000-000000000006",
          name: "landing",
          retrack: { enabled: false, config: { revisions: 1 }, target: { type: "page", extractor: "export async function execute(page) { return 1; }", engine: { type: "chromium" }, userAgent: "Mozilla/5.0" }, notifications: true },
          createdAt: 1740000000,
          updatedAt: 1740000000,
        },
      ],
      certificateTemplates: [{ id: "0190a1b2-0000-7000-8000-000000000007", name: "root-ca", attributes: {} }],
      settings: { "common.uiTheme": "dark", "common.notASetting": 1 },
    },
  };

  it("imports every collection this system keeps, and says what it skipped", async () => {
    const v = await newUser(stack);
    const res = await importInto(v, { mode: "merge", conflict: "rename", document });
    const r = res.body.results;
    for (const c of ["tags", "scripts", "secrets", "responders", "apiTrackers", "pageTrackers"]) expect(r[c], c).toMatchObject({ imported: 1, failed: 0, errors: [] });
    expect(r.certificateTemplates).toMatchObject({ skipped: 1 });
    // The settings replace the account's, as the reference's import does; a key this system does not know is left out and named.
    expect(r.settings).toMatchObject({ imported: 1 });
    expect(res.body.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^certificateTemplates: 1 item/), "settings: common.notASetting left out: not a setting this system knows, or a value it does not take"]),
    );
    expect((await call(stack, "GET", "/api/user/settings", { auth: v.auth })).body).toEqual({ "common.uiTheme": "dark" });
    const again = await importInto(v, { mode: "merge", conflict: "skip", document, selections: { importSettings: false } });
    expect(again.body.results.settings).toMatchObject({ imported: 0, skipped: 1 });

    const [tag] = await items(v, "/api/user/tags");
    expect(tag).toMatchObject({ name: "ops", color: "#F1D86F" });
    expect(tag!.id).not.toBe(TAG);
    expect((await items(v, "/api/user/scripts"))[0]).toMatchObject({ name: "gate", type: "responder", scriptType: "responder" });
    const [secret] = await items(v, "/api/user/secrets");
    expect(secret).toMatchObject({ name: "APP_PASSWORD", tags: [{ id: tag!.id }] });
    const [responder] = await items(v, "/api/webhooks/responders");
    expect(responder).toMatchObject({ name: "login", method: "POST", settings: { secrets: { selected: [secret!.id] } }, tags: [{ id: tag!.id }] });
    expect((await hitUrl(stack, responder!.url as string, { method: "POST" })).text).toBe("APP_PASSWORD");
    expect((await items(v, API_TRACKERS))[0]).toMatchObject({
      name: "status-api",
      secrets: "all",
      config: { revisions: 3, timeout: 10000, job: { schedule: "0 0 * * * *" } },
      target: { url: "https://api.example.test/status", headers: { accept: "application/json" } },
    });
    expect((await items(v, PAGE_TRACKERS))[0]).toMatchObject({ name: "landing", enabled: false, notifications: true, target: { userAgent: "Mozilla/5.0", engine: { type: "chromium" } } });
  });
});

describe("import of secret values the reference encrypted with a passphrase", () => {
  const PASSPHRASE = "correct horse battery staple";
  const NEW_VALUE = "imported-value-from-reference-31d9";

  /** A document as the reference writes one with "Include secret values": one salt, a nonce per value. */
  async function encryptedDocument(values: Record<string, string>, passphrase = PASSPHRASE) {
    const salt = crypto.randomBytes(16);
    const key = await deriveKey(passphrase, salt);
    const secrets = Object.entries(values).map(([name, value]) => {
      const nonce = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce);
      const sealed = Buffer.concat([nonce, cipher.update(value, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return { id: crypto.randomUUID(), name, encryptedValue: sealed.toString("base64"), createdAt: 1740000000, updatedAt: 1740000000 };
    });
    const responder = {
      id: crypto.randomUUID(),
      name: "reads-token",
      location: { pathType: "=", path: "/token" },
      method: "GET",
      enabled: true,
      settings: { requestsToTrack: 0, statusCode: 200, headers: [], script: "({ body: context.secrets.API_TOKEN })", secrets: { selected: [secrets[0]!.id] } },
    };
    return {
      version: 1,
      exportedAt: 1740000000,
      secretsEncryption: { alg: "aes-256-gcm", kdf: "argon2id", kdfParams: KDF, salt: salt.toString("base64") },
      data: { secrets, responders: [responder] },
    };
  }

  it("writes each value as a POST would, and the imported responder serves it", async () => {
    const v = await newUser(stack);
    const doc = await encryptedDocument({ API_TOKEN: NEW_VALUE, SECOND: "second-value" });
    const res = await importInto(v, { mode: "merge", secretsPassphrase: PASSPHRASE, document: doc });
    expect(res.body.results.secrets).toMatchObject({ imported: 2, failed: 0 });
    expect(res.body.results.responders).toMatchObject({ imported: 1, errors: [] });
    expect(res.body.warnings.join(" ")).not.toMatch(/placeholder/);
    expect(res.text).not.toContain(NEW_VALUE);
    const [responder] = await items(v, "/api/webhooks/responders");
    expect((await hitUrl(stack, responder!.url as string)).text).toBe(NEW_VALUE);
  });

  it("overwrite rotates the account's secret in place", async () => {
    const v = await newUser(stack);
    const id = await createSecret(stack, v, "API_TOKEN", "the-old-value");
    const doc = await encryptedDocument({ API_TOKEN: NEW_VALUE });
    const res = await importInto(v, { conflict: "overwrite", secretsPassphrase: PASSPHRASE, document: doc });
    expect(res.body.results.secrets).toMatchObject({ updated: 1, imported: 0 });
    expect((await items(v, "/api/user/secrets")).map((s) => s.id)).toEqual([id]);
    const [responder] = await items(v, "/api/webhooks/responders");
    expect((await hitUrl(stack, responder!.url as string)).text).toBe(NEW_VALUE);
  });

  it("a missing or wrong passphrase, or an altered value, is 400 and nothing is written", async () => {
    const v = await newUser(stack);
    const doc = await encryptedDocument({ API_TOKEN: NEW_VALUE, SECOND: "second-value" });
    const altered = structuredClone(doc);
    const sealed = Buffer.from(altered.data.secrets[1]!.encryptedValue, "base64");
    sealed[14]! ^= 0xff;
    altered.data.secrets[1]!.encryptedValue = sealed.toString("base64");
    for (const [body, pattern] of [
      [{ document: doc }, /secretsPassphrase is required/],
      [{ document: doc, secretsPassphrase: "not the passphrase" }, /secret 'API_TOKEN': the passphrase does not open its value/],
      [{ document: altered, secretsPassphrase: PASSPHRASE }, /secret 'SECOND': the passphrase does not open its value/],
      [{ document: { ...doc, secretsEncryption: { ...doc.secretsEncryption, kdfParams: { m: 4194304, t: 2, p: 1 } } }, secretsPassphrase: PASSPHRASE }, /kdfParams must be/],
    ] as const) {
      const res = await importInto(v, body as Record<string, unknown>, 400);
      expect(res.body.message).toMatch(pattern);
      expect(res.text).not.toContain(NEW_VALUE);
    }
    expect(await items(v, "/api/user/secrets")).toEqual([]);
    expect(await items(v, "/api/webhooks/responders")).toEqual([]);
    const preview = await call(stack, "POST", "/api/user/data/_import_preview", { auth: v.auth, json: { data: doc, mode: "merge" } });
    expect(preview.body.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/needs the secretsPassphrase/)]));
  });
});
