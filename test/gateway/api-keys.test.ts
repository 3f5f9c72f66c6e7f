import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser } from "../helpers/http.js";
import { KratosStandIn } from "../helpers/kratos-stand-in.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
let kratos: KratosStandIn;

beforeAll(async () => {
  kratos = await KratosStandIn.start();
  stack = await Stack.start({ gatewayEnv: { KRATOS_URL: kratos.url, API_KEYS_PER_USER: "30" } });
});
afterAll(async () => {
  await stack?.stop();
  await kratos?.close();
});

/** A signed-in user: a Kratos session cookie the stand-in knows. */
function session(email = `s-${crypto.randomUUID()}@example.test`) {
  const cookieValue = crypto.randomBytes(16).toString("hex");
  kratos.addSession(cookieValue, { id: crypto.randomUUID(), email });
  return { cookie: `ory_kratos_session=${cookieValue}` };
}

const secrets = (auth: { bearer: string }) => call(stack, "GET", "/api/user/secrets", { auth });

describe("API keys", () => {
  it("create, list without tokens, use, rename, regenerate, delete", async () => {
    const me = session();
    const created = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "ci" } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^su_ak_[0-9a-f]{64}$/);
    expect(created.body).toMatchObject({ id: expect.any(String), name: "ci", createdAt: expect.any(Number), expiresAt: null, lastUsedAt: null });
    // The reference's flat fields, and its guide's `apiKey` beside them.
    const { apiKey, token: _token, ...flat } = created.body;
    expect(apiKey).toEqual(flat);
    const token = created.body.token as string;

    const listed = await call(stack, "GET", "/api/user/api_keys", { auth: me });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ id: created.body.id, name: "ci" })]);
    expect(listed.text).not.toContain(token);
    expect(listed.text).not.toContain("token");
    expect(listed.body[0]).toMatchObject({ expiresAt: null, lastUsedAt: null });
    expect(listed.body[0].apiKey).toBeUndefined();

    // The key authenticates as the session's user: both see the same secrets.
    const s = await call(stack, "POST", "/api/user/secrets", { auth: { bearer: token }, json: { name: "K", value: "v" } });
    expect(s.status).toBe(201);
    expect((await call(stack, "GET", "/api/user/secrets", { auth: me })).body.items).toEqual([expect.objectContaining({ id: s.body.id })]);
    const used = await call(stack, "GET", "/api/user/api_keys", { auth: me });
    expect(used.body[0].lastUsedAt).toBeGreaterThanOrEqual(created.body.createdAt);

    const renamed = await call(stack, "PUT", `/api/user/api_keys/${created.body.id}`, { auth: me, json: { name: "deploy" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.body.id, name: "deploy" });
    expect(renamed.text).not.toContain("su_ak_");
    expect((await secrets({ bearer: token })).status).toBe(200);

    const regenerated = await call(stack, "POST", `/api/user/api_keys/${created.body.id}/_regenerate`, { auth: me });
    expect(regenerated.status).toBe(200);
    expect(regenerated.body).toMatchObject({ id: created.body.id, name: "deploy", lastUsedAt: null, apiKey: { id: created.body.id, name: "deploy" } });
    const newToken = regenerated.body.token as string;
    expect(newToken).toMatch(/^su_ak_[0-9a-f]{64}$/);
    expect(newToken).not.toBe(token);
    expect((await secrets({ bearer: token })).status).toBe(401);
    expect((await secrets({ bearer: newToken })).status).toBe(200);

    const deleted = await call(stack, "DELETE", `/api/user/api_keys/${created.body.id}`, { auth: me });
    expect(deleted.status).toBe(204);
    expect((await secrets({ bearer: newToken })).status).toBe(401);
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: me })).body).toEqual([]);
  });

  it("an expired key is refused", async () => {
    const me = session();
    const soon = Math.floor(Date.now() / 1000) + 2;
    const created = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "short", expiresAt: soon } });
    expect(created.status).toBe(201);
    expect(created.body.expiresAt).toBe(soon);
    const auth = { bearer: created.body.token as string };
    expect((await secrets(auth)).status).toBe(200);
    // Wait for the expiry itself: poll until the key stops working, bounded.
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await secrets(auth)).status;
    }
    expect(status).toBe(401);
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(soon);
  });

  it("regenerates with the expiry asked for, or none, as the reference does", async () => {
    const me = session();
    const later = Math.floor(Date.now() / 1000) + 3600;
    const created = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "rotated", expiresAt: later } });
    const path = `/api/user/api_keys/${created.body.id}/_regenerate`;

    const refused = await call(stack, "POST", path, { auth: me, json: { expiresAt: 1000 } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe("expiresAt must be in the future");
    // Nothing changed: the first token still works.
    expect((await secrets({ bearer: created.body.token })).status).toBe(200);

    const further = later + 3600;
    const withExpiry = await call(stack, "POST", path, { auth: me, json: { expiresAt: further } });
    expect(withExpiry.status).toBe(200);
    expect(withExpiry.body).toMatchObject({ expiresAt: further, apiKey: { expiresAt: further } });
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: me })).body[0].expiresAt).toBe(further);

    const withoutExpiry = await call(stack, "POST", path, { auth: me, json: {} });
    expect(withoutExpiry.status).toBe(200);
    expect(withoutExpiry.body.expiresAt).toBeNull();
    expect((await secrets({ bearer: withoutExpiry.body.token })).status).toBe(200);

    // A JSON content type with nothing after it is no body too, as curl sends it with -H and no -d.
    const named = await call(stack, "POST", path, { auth: me, headers: { "content-type": "application/json" } });
    expect(named.status, named.text).toBe(200);
    expect(named.body.expiresAt).toBeNull();
  });

  it("takes names of up to 128 characters, as the reference does", async () => {
    const me = session();
    expect((await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "n".repeat(128) } })).status).toBe(201);
    const long = await call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name: "n".repeat(129) } });
    expect(long.status).toBe(400);
    expect(typeof long.body.message).toBe("string");
  });

  it("refuses an expiry in the past, or past what can be stored", async () => {
    const res = await call(stack, "POST", "/api/user/api_keys", { auth: session(), json: { name: "old", expiresAt: 1000 } });
    expect(res.status).toBe(400);
    // Past what Postgres can store: refused as input, not failed as a 500.
    const far = await call(stack, "POST", "/api/user/api_keys", { auth: session(), json: { name: "far", expiresAt: 1e15 } });
    expect(far.status, far.text).toBe(400);
  });

  it("answers 403 to every key endpoint when authenticated by an API key", async () => {
    const u = await newUser(stack);
    const id = crypto.randomUUID();
    for (const [method, path, json] of [
      ["GET", "/api/user/api_keys", undefined],
      ["POST", "/api/user/api_keys", { name: "x" }],
      ["PUT", `/api/user/api_keys/${id}`, { name: "y" }],
      ["DELETE", `/api/user/api_keys/${id}`, undefined],
      ["POST", `/api/user/api_keys/${id}/_regenerate`, undefined],
    ] as const) {
      const res = await call(stack, method, path, { auth: u.auth, json });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(typeof res.body.message).toBe("string");
    }
  });

  it("answers 401 for a missing or unknown token", async () => {
    expect((await call(stack, "GET", "/api/user/api_keys")).status).toBe(401);
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: { bearer: "su_ak_" + "a".repeat(64) } })).status).toBe(401);
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: { cookie: "ory_kratos_session=unknown" } })).status).toBe(401);
  });

  it("names are unique per user and at most 30 keys are allowed", async () => {
    const me = session();
    const make = (name: string) => call(stack, "POST", "/api/user/api_keys", { auth: me, json: { name } });
    expect((await make("k0")).status).toBe(201);
    expect((await make("k0")).status).toBe(409);
    const race = await Promise.all(Array.from({ length: 35 }, (_, i) => make(`k${i + 1}`)));
    expect(race.filter((r) => r.status === 201)).toHaveLength(29);
    expect(race.filter((r) => r.status === 400)).toHaveLength(6);
    expect((await call(stack, "GET", "/api/user/api_keys", { auth: me })).body).toHaveLength(30);
  });

  it("another user's key id is 404", async () => {
    const owner = session();
    const key = await call(stack, "POST", "/api/user/api_keys", { auth: owner, json: { name: "mine" } });
    const other = session();
    expect((await call(stack, "DELETE", `/api/user/api_keys/${key.body.id}`, { auth: other })).status).toBe(404);
    expect((await call(stack, "POST", `/api/user/api_keys/${key.body.id}/_regenerate`, { auth: other })).status).toBe(404);
    expect((await secrets({ bearer: key.body.token })).status).toBe(200);
  });
});

describe("Kratos sessions (against a local stand-in for Kratos)", () => {
  it("a session user is created on first sign-in and is the same user afterwards", async () => {
    const me = session();
    const a = await call(stack, "POST", "/api/user/secrets", { auth: me, json: { name: "S", value: "v" } });
    expect(a.status).toBe(201);
    expect((await call(stack, "GET", "/api/user/secrets", { auth: me })).body.items).toHaveLength(1);
    expect((await call(stack, "GET", "/api/user/secrets", { auth: session() })).body).toEqual({ items: [], total: 0 });
  });

  it("an operator-made user with the same verified email is linked, not duplicated", async () => {
    const email = `linked-${crypto.randomUUID()}@example.test`;
    const u = await newUser(stack, email);
    await call(stack, "POST", "/api/user/secrets", { auth: u.auth, json: { name: "FROM_KEY", value: "v" } });
    const listed = await call(stack, "GET", "/api/user/secrets", { auth: session(email) });
    expect(listed.body.items.map((s: { name: string }) => s.name)).toEqual(["FROM_KEY"]);
  });

  it("answers 503 with JSON when Kratos fails", async () => {
    const me = session();
    kratos.down = true;
    try {
      const res = await call(stack, "GET", "/api/user/secrets", { auth: me });
      expect(res.status).toBe(503);
      expect(typeof res.body.message).toBe("string");
    } finally {
      kratos.down = false;
    }
  });
});

describe("operator access", () => {
  it("creates users and keys only with the operator token", async () => {
    const op = { bearer: stack.operatorToken };
    const user = await call(stack, "POST", "/api/users", { auth: op, json: { email: "op@example.test" } });
    expect(user.status).toBe(201);
    expect(user.body).toEqual({ id: expect.any(String), email: "op@example.test", handle: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await call(stack, "POST", "/api/users", { auth: op, json: { email: "op@example.test" } })).status).toBe(409);
    expect((await call(stack, "POST", "/api/users", { auth: op, json: { email: "not an email" } })).status).toBe(400);

    const key = await call(stack, "POST", `/api/users/${user.body.id}/api_keys`, { auth: op, json: { name: "boot" } });
    expect(key.status).toBe(201);
    expect(key.body.token).toMatch(/^su_ak_[0-9a-f]{64}$/);
    expect((await call(stack, "POST", `/api/users/${crypto.randomUUID()}/api_keys`, { auth: op, json: { name: "x" } })).status).toBe(404);

    const asUser = { bearer: key.body.token as string };
    expect((await call(stack, "POST", "/api/users", { auth: asUser, json: { email: "x@example.test" } })).status).toBe(403);
    expect((await call(stack, "POST", "/api/users", { json: { email: "x@example.test" } })).status).toBe(401);
    expect((await call(stack, "POST", "/api/users", { auth: { bearer: "su_op_wrong" }, json: { email: "x@example.test" } })).status).toBe(401);
  });
});
