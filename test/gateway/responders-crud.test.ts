import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, headerBytes, headerTexts, hit, historyOf, responderBody, webhookHost } from "../helpers/webhooks.js";

const BASE = "/api/webhooks/responders";
const RESPONDER_KEYS = ["createdAt", "enabled", "id", "location", "method", "name", "settings", "updatedAt", "url"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let stack: Stack;
let port: string;
let alice: TestUser;
let bob: TestUser;
let aliceSecret: string;
let bobSecret: string;

const newSecret = (u: TestUser, name: string) => createSecret(stack, u, name, "v");

beforeAll(async () => {
  stack = await Stack.start();
  port = new URL(stack.url).port;
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  [aliceSecret, bobSecret] = await Promise.all([newSecret(alice, "TOKEN"), newSecret(bob, "TOKEN")]);
});
afterAll(() => stack?.stop());

type Body = ReturnType<typeof responderBody> & Record<string, unknown>;

const create = (u: TestUser, json: unknown) => call(stack, "POST", BASE, { auth: u.auth, json });
const update = (u: TestUser, id: string, json: unknown) => call(stack, "PUT", `${BASE}/${id}`, { auth: u.auth, json });
/** All of the user's responders (fewer than a page of 100 here), sorted by name. */
const list = async (u: TestUser) => {
  const res = await call<{ items: Record<string, any>[]; total: number }>(stack, "GET", `${BASE}?pageSize=100`, { auth: u.auth });
  expect(res.status).toBe(200);
  expect(res.body.total).toBe(res.body.items.length);
  return res.body.items;
};
/** PUT answers 204 with no body, as the reference's does; the responder as it now is, read back. */
const updated = async (u: TestUser, id: string, json: unknown) => {
  const res = await update(u, id, json);
  expect([res.status, res.text]).toEqual([204, ""]);
  return (await list(u)).find((r) => r.id === id)!;
};
const stats = async (u: TestUser) => {
  const res = await call<Record<string, unknown>[]>(stack, "GET", `${BASE}/_stats`, { auth: u.auth });
  expect(res.status).toBe(200);
  return res.body;
};
const urlOf = (u: TestUser, path: string, prefix?: string) => `http://${webhookHost(u, prefix)}:${port}${path}`;

describe("create, list, update, delete", () => {
  it("POST answers 201 with the whole responder and an absolute url", async () => {
    const u = await newUser(stack);
    const before = Math.floor(Date.now() / 1000);
    const body = {
      name: "Full",
      location: { pathType: "^", path: "/full" },
      method: "POST",
      settings: { requestsToTrack: 2, statusCode: 202, headers: [["x-a", "1"], ["x-a", "2"]], body: "hi" },
    };
    const res = await create(u, body);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "Full",
      location: { pathType: "^", path: "/full" },
      method: "POST",
      // `enabled` was not sent: it defaults to true.
      enabled: true,
      settings: { requestsToTrack: 2, statusCode: 202, headers: [["x-a", "1"], ["x-a", "2"]], body: "hi", secrets: "none" },
      url: `http://${u.handle}.webhooks.localhost:${port}/full`,
      createdAt: res.body.updatedAt,
      updatedAt: expect.any(Number),
    });
    expect(Object.keys(res.body).sort()).toEqual(RESPONDER_KEYS);
    expect(res.body.createdAt).toBeGreaterThanOrEqual(before - 1);
    expect(res.body.createdAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    expect(await list(u)).toEqual([res.body]);
  });

  it("the url of a prefixed responder is http://<prefix>-<handle>.webhooks.localhost:<port><path>", async () => {
    const u = await newUser(stack);
    const res = await create(u, responderBody({ location: { pathType: "=", path: "/hook", subdomainPrefix: "api" } }));
    expect(res.status).toBe(201);
    expect(res.body.url).toBe(`http://api-${u.handle}.webhooks.localhost:${port}/hook`);
    expect(res.body.location).toEqual({ pathType: "=", path: "/hook", subdomainPrefix: "api" });
    const root = await create(u, responderBody({ location: { pathType: "^", path: "/" } }));
    expect(root.body.url).toBe(`http://${u.handle}.webhooks.localhost:${port}/`);
  });

  it("a responder has exactly the listed fields in every answer, also with a script and secrets", async () => {
    const u = await newUser(stack);
    const secret = await newSecret(u, "K");
    const created = await create(
      u,
      responderBody({ settings: { script: "({ body: 'x' })", secrets: { selected: [secret] }, headers: [["a", "b"]] } }),
    );
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(RESPONDER_KEYS);
    expect(Object.keys(created.body.settings).sort()).toEqual(["body", "headers", "requestsToTrack", "script", "secrets", "statusCode"]);
    expect(Object.keys(created.body.location).sort()).toEqual(["path", "pathType"]);
    const listed = await updated(u, created.body.id, { enabled: false });
    expect(Object.keys(listed).sort()).toEqual(RESPONDER_KEYS);
    expect(listed).toEqual({ ...created.body, enabled: false, updatedAt: expect.any(Number) });
  });

  it("GET lists the caller's responders only, sorted by name", async () => {
    const [u, other] = await Promise.all([newUser(stack), newUser(stack)]);
    expect(await list(u)).toEqual([]);
    const a = await createResponder(stack, u, { name: "first", location: { pathType: "=", path: "/first" } });
    const b = await createResponder(stack, u, { name: "second", location: { pathType: "=", path: "/second" } });
    const mine = await list(u);
    expect(mine).toEqual([a, b]);
    expect(await list(other)).toEqual([]);
    const theirs = await createResponder(stack, other, { name: "first", location: { pathType: "=", path: "/first" } });
    expect(await list(other)).toEqual([theirs]);
    expect((await list(u)).map((r) => r.id)).toEqual([a.id, b.id]);
  });

  it("PUT changes only what it names; settings replace the old ones whole", async () => {
    const u = await newUser(stack);
    const secret = await newSecret(u, "S");
    const created = (
      await create(u, {
        name: "Orig",
        location: { pathType: "=", path: "/orig", subdomainPrefix: "pre" },
        method: "GET",
        settings: { requestsToTrack: 5, statusCode: 201, headers: [["x-h", "v"]], body: "b", secrets: { selected: [secret] } },
      })
    ).body;
    expect(created.settings.secrets).toEqual({ selected: [secret] });

    const renamed = await updated(u, created.id, { name: "Renamed" });
    expect(renamed).toEqual({ ...created, name: "Renamed", updatedAt: expect.any(Number) });
    expect(renamed.updatedAt).toBeGreaterThanOrEqual(created.createdAt);

    const disabled = await updated(u, created.id, { enabled: false, method: "ANY" });
    expect(disabled).toEqual({ ...renamed, enabled: false, method: "ANY", updatedAt: expect.any(Number) });

    const moved = await updated(u, created.id, { location: { pathType: "^", path: "/moved" } });
    expect(moved.location).toEqual({ pathType: "^", path: "/moved" });
    expect(moved.url).toBe(urlOf(u, "/moved"));
    expect(moved.settings).toEqual(created.settings);

    // Settings without headers, body or secrets: those go, they are not kept from before.
    const replaced = await updated(u, created.id, { settings: { requestsToTrack: 0, statusCode: 204 } });
    expect(replaced.settings).toEqual({ requestsToTrack: 0, statusCode: 204, headers: [], secrets: "none" });
    expect(replaced).toMatchObject({ id: created.id, name: "Renamed", method: "ANY", enabled: false, createdAt: created.createdAt });
    expect(replaced.updatedAt).toBeGreaterThanOrEqual(replaced.createdAt);
    expect(await list(u)).toEqual([replaced]);
  });

  it("PUT with {} is 400 and changes nothing", async () => {
    const u = await newUser(stack);
    const created = await createResponder(stack, u);
    const res = await update(u, created.id, {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: expect.stringMatching(/at least one field/) });
    expect(await list(u)).toEqual([created]);
  });

  it("DELETE answers 204, then 404 for the same id", async () => {
    const u = await newUser(stack);
    const keep = await createResponder(stack, u);
    const gone = await createResponder(stack, u);
    const del = await call(stack, "DELETE", `${BASE}/${gone.id}`, { auth: u.auth });
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const again = await call(stack, "DELETE", `${BASE}/${gone.id}`, { auth: u.auth });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: "responder not found" });
    expect(await list(u)).toEqual([keep]);
    const put = await update(u, gone.id, { name: "back" });
    expect(put.status).toBe(404);
  });

  it("another user's id answers exactly like an unknown one", async () => {
    const mine = await createResponder(stack, alice, {
      name: "alice-private",
      location: { pathType: "=", path: "/private" },
      settings: { requestsToTrack: 5 },
    });
    const unknown = crypto.randomUUID();
    const requests: [string, string, unknown][] = [
      ["PUT", "", { name: "stolen" }],
      ["DELETE", "", undefined],
      ["GET", "/_history", undefined],
      ["POST", "/_clear", undefined],
    ];
    for (const [method, suffix, json] of requests) {
      const foreign = await call(stack, method, `${BASE}/${mine.id}${suffix}`, { auth: bob.auth, json });
      const absent = await call(stack, method, `${BASE}/${unknown}${suffix}`, { auth: bob.auth, json });
      expect(foreign.status, `${method} ${suffix}`).toBe(404);
      expect(foreign.body).toEqual({ message: "responder not found" });
      expect(foreign.text).toBe(absent.text);
      expect([...foreign.headers.keys()].sort()).toEqual([...absent.headers.keys()].sort());
    }
    expect((await list(alice)).find((r) => r.id === mine.id)).toEqual(mine);
    expect((await list(bob)).map((r) => r.id)).not.toContain(mine.id);
  });

  it.each([
    ["PUT", ""],
    ["DELETE", ""],
    ["GET", "/_history"],
    ["POST", "/_clear"],
  ])("a malformed id is 400 with a JSON message: %s {id}%s", async (method, suffix) => {
    for (const id of ["not-a-uuid", "1", "6f1c1c8e-0000-4000-8000-00000000000Z", "'%20OR%201=1"]) {
      const json = method === "PUT" ? { name: "x" } : undefined;
      const res = await call(stack, method, `${BASE}/${id}${suffix}`, { auth: alice.auth, json });
      expect(res.status, id).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
  });

  it("every route wants a signed-in user", async () => {
    const id = crypto.randomUUID();
    for (const [method, path] of [
      ["GET", BASE],
      ["POST", BASE],
      ["GET", `${BASE}/_stats`],
      ["PUT", `${BASE}/${id}`],
      ["DELETE", `${BASE}/${id}`],
      ["GET", `${BASE}/${id}/_history`],
      ["POST", `${BASE}/${id}/_clear`],
    ] as const) {
      const res = await call(stack, method, path, { json: method === "POST" || method === "PUT" ? responderBody() : undefined });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
  });
});

describe("validation", () => {
  let v: TestUser;
  let ownSecret: string;
  beforeAll(async () => {
    v = await newUser(stack);
    ownSecret = await newSecret(v, "OWN");
  });

  const settings = (b: Body) => b.settings as Record<string, unknown>;
  const loc = (b: Body) => b.location as Record<string, unknown>;

  interface Row {
    label: string;
    change: (b: Body) => void;
    status: 201 | 400;
    /** What the error message must mention (400 rows). */
    field?: RegExp;
    /** The stored access setting when it is not the one sent (201 rows). */
    secrets?: unknown;
  }

  const rows: Row[] = [
    { label: 'name ""', change: (b) => (b.name = ""), status: 400, field: /name/ },
    { label: "name of 101 characters", change: (b) => (b.name = "n".repeat(101)), status: 400, field: /name/ },
    { label: "name of 100 characters", change: (b) => (b.name = "n".repeat(100)), status: 201 },
    // A misspelt field must not silently save something else (e.g. a static responder).
    { label: 'unknown settings field "sript"', change: (b) => (settings(b).sript = "(async () => 1)()"), status: 400, field: /settings/ },
    { label: "unknown location field", change: (b) => (loc(b).extra = 1), status: 400, field: /location/ },
    { label: "the seed's tagIds at the top level is accepted", change: (b) => (b.tagIds = []), status: 201 },
    { label: "name missing", change: (b) => delete (b as Partial<Body>).name, status: 400, field: /name/ },
    { label: 'path "a" (no leading /)', change: (b) => (loc(b).path = "a"), status: 400, field: /path/ },
    { label: 'path ""', change: (b) => (loc(b).path = ""), status: 400, field: /path/ },
    { label: 'path "/a/" (trailing /)', change: (b) => (loc(b).path = "/a/"), status: 400, field: /path/ },
    { label: 'path "/"', change: (b) => (loc(b).path = "/"), status: 201 },
    { label: "path of 101 characters", change: (b) => (loc(b).path = "/" + "p".repeat(100)), status: 400, field: /path/ },
    { label: "path of 100 characters", change: (b) => (loc(b).path = "/" + "p".repeat(99)), status: 201 },
    { label: "path with a space", change: (b) => (loc(b).path = "/a b"), status: 400, field: /path/ },
    { label: 'path with "?"', change: (b) => (loc(b).path = "/a?b"), status: 400, field: /path/ },
    { label: 'pathType "~"', change: (b) => (loc(b).pathType = "~"), status: 400, field: /pathType/ },
    { label: 'pathType "=="', change: (b) => (loc(b).pathType = "=="), status: 400, field: /pathType/ },
    { label: 'pathType "^"', change: (b) => (loc(b).pathType = "^"), status: 201 },
    { label: 'subdomainPrefix "a.b"', change: (b) => (loc(b).subdomainPrefix = "a.b"), status: 400, field: /subdomainPrefix/ },
    { label: 'subdomainPrefix "Api"', change: (b) => (loc(b).subdomainPrefix = "Api"), status: 400, field: /subdomainPrefix/ },
    { label: 'subdomainPrefix "-api"', change: (b) => (loc(b).subdomainPrefix = "-api"), status: 400, field: /subdomainPrefix/ },
    { label: 'subdomainPrefix "api-"', change: (b) => (loc(b).subdomainPrefix = "api-"), status: 400, field: /subdomainPrefix/ },
    { label: 'subdomainPrefix ""', change: (b) => (loc(b).subdomainPrefix = ""), status: 400, field: /subdomainPrefix/ },
    { label: "subdomainPrefix of 47 characters", change: (b) => (loc(b).subdomainPrefix = "p".repeat(47)), status: 400, field: /subdomainPrefix/ },
    { label: "subdomainPrefix of 46 characters", change: (b) => (loc(b).subdomainPrefix = "p".repeat(46)), status: 201 },
    { label: 'subdomainPrefix "abc-1"', change: (b) => (loc(b).subdomainPrefix = "abc-1"), status: 201 },
    { label: 'method "FOO"', change: (b) => (b.method = "FOO"), status: 400, field: /method/ },
    { label: 'method "get" (lower case)', change: (b) => (b.method = "get"), status: 400, field: /method/ },
    ...["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "ANY"].map(
      (m): Row => ({ label: `method ${m}`, change: (b) => (b.method = m), status: 201 }),
    ),
    { label: "statusCode 99", change: (b) => (settings(b).statusCode = 99), status: 400, field: /statusCode/ },
    { label: "statusCode 1000", change: (b) => (settings(b).statusCode = 1000), status: 400, field: /statusCode/ },
    // An informational status cannot end a response (see test/security/header-values-and-informational-status.test.ts).
    { label: "statusCode 100", change: (b) => (settings(b).statusCode = 100), status: 400, field: /statusCode/ },
    { label: "statusCode 199", change: (b) => (settings(b).statusCode = 199), status: 400, field: /statusCode/ },
    { label: "statusCode 200", change: (b) => (settings(b).statusCode = 200), status: 201 },
    { label: "statusCode 999", change: (b) => (settings(b).statusCode = 999), status: 201 },
    { label: 'statusCode "200" (no coercion)', change: (b) => (settings(b).statusCode = "200"), status: 400, field: /statusCode/ },
    { label: "statusCode 200.5", change: (b) => (settings(b).statusCode = 200.5), status: 400, field: /statusCode/ },
    { label: "requestsToTrack -1", change: (b) => (settings(b).requestsToTrack = -1), status: 400, field: /requestsToTrack/ },
    { label: "requestsToTrack 31", change: (b) => (settings(b).requestsToTrack = 31), status: 400, field: /requestsToTrack/ },
    { label: "requestsToTrack 0", change: (b) => (settings(b).requestsToTrack = 0), status: 201 },
    { label: "requestsToTrack 30", change: (b) => (settings(b).requestsToTrack = 30), status: 201 },
    { label: 'requestsToTrack "3"', change: (b) => (settings(b).requestsToTrack = "3"), status: 400, field: /requestsToTrack/ },
    { label: 'enabled "true"', change: (b) => (b.enabled = "true" as unknown as boolean), status: 400, field: /enabled/ },
    { label: 'name 5 (a number)', change: (b) => (b.name = 5 as unknown as string), status: 400, field: /name/ },
    { label: "settings missing", change: (b) => delete (b as Partial<Body>).settings, status: 400, field: /settings/ },
    { label: 'script ""', change: (b) => (settings(b).script = ""), status: 400, field: /script/ },
    { label: 'script "   "', change: (b) => (settings(b).script = "   "), status: 400, field: /script/ },
    { label: "a script", change: (b) => (settings(b).script = "({ body: 'x' })"), status: 201 },
    { label: 'header name "x a"', change: (b) => (settings(b).headers = [["x a", "v"]]), status: 400, field: /headers/ },
    { label: 'header name ""', change: (b) => (settings(b).headers = [["", "v"]]), status: 400, field: /headers/ },
    { label: 'header value with "\\r\\n"', change: (b) => (settings(b).headers = [["x-a", "v\r\nx-b: injected"]]), status: 400, field: /headers/ },
    { label: "header of three items", change: (b) => (settings(b).headers = [["x-a", "v", "w"]]), status: 400, field: /headers/ },
    { label: "headers with duplicates", change: (b) => (settings(b).headers = [["x-a", "1"], ["X-A", "2"], ["x-a", "1"]]), status: 201 },
    { label: 'secrets "some"', change: (b) => (settings(b).secrets = "some"), status: 400, field: /secrets/ },
    { label: 'secrets "all"', change: (b) => (settings(b).secrets = "all"), status: 201 },
    { label: 'secrets "none"', change: (b) => (settings(b).secrets = "none"), status: 201 },
    {
      label: "secrets selected [not-a-uuid]",
      change: (b) => (settings(b).secrets = { selected: ["not-a-uuid"] }),
      status: 400,
      field: /secrets/,
    },
    {
      label: "secrets selected [unknown uuid]",
      change: (b) => (settings(b).secrets = { selected: [crypto.randomUUID()] }),
      status: 400,
      field: /secrets/,
    },
    {
      label: "secrets selected [another user's secret]",
      change: (b) => (settings(b).secrets = { selected: [bobSecret] }),
      status: 400,
      field: /secrets/,
    },
    {
      label: "secrets selected [own secret, another user's secret]",
      change: (b) => (settings(b).secrets = { selected: [ownSecret, aliceSecret] }),
      status: 400,
      field: /secrets/,
    },
    { label: "secrets selected [own secret]", change: (b) => (settings(b).secrets = { selected: [ownSecret] }), status: 201 },
    { label: "secrets selected [] is stored as none", change: (b) => (settings(b).secrets = { selected: [] }), status: 201, secrets: "none" },
  ];

  it.each(rows)("$label → $status", async (row) => {
    const body = responderBody() as Body;
    row.change(body);
    const res = await create(v, body);
    expect(res.status, res.text).toBe(row.status);
    if (row.status === 400) {
      expect(res.body).toEqual({ message: expect.any(String) });
      expect(res.body.message).toMatch(row.field!);
      expect((await list(v)).map((r) => r.name)).not.toContain(body.name);
      return;
    }
    const sent = body.settings as Record<string, unknown>;
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: body.name,
      location: body.location,
      method: body.method,
      enabled: body.enabled,
      settings: { ...sent, secrets: row.secrets ?? sent.secrets ?? "none" },
      url: urlOf(v, body.location.path, body.location.subdomainPrefix),
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    expect((await list(v)).find((r) => r.id === res.body.id)).toEqual(res.body);
  });

  it("PUT applies the same rules, and a refused PUT changes nothing", async () => {
    const r = await createResponder(stack, v);
    for (const change of [
      { location: { pathType: "=", path: "/x/" } },
      { location: { pathType: "=", path: "/x", subdomainPrefix: "A" } },
      { method: "FOO" },
      { name: "" },
      { settings: { requestsToTrack: 31, statusCode: 200 } },
      { settings: { requestsToTrack: 0, statusCode: 200, headers: [["x", "a\nb"]] } },
      { settings: { requestsToTrack: 0, statusCode: 200, secrets: { selected: [bobSecret] } } },
      { enabled: "false" },
    ]) {
      const res = await update(v, r.id, change);
      expect(res.status, JSON.stringify(change)).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
    expect((await list(v)).find((x) => x.id === r.id)).toEqual(r);
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
    expect((await create(u, responderBody({ name: "Mock", location: { pathType: "=", path: "/one" } }))).status).toBe(201);
    const dup = await create(u, responderBody({ name: "mock", location: { pathType: "=", path: "/two" } }));
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ message: "a responder with this name already exists" });
    const exact = await create(u, responderBody({ name: "Mock", location: { pathType: "=", path: "/three" } }));
    expect(exact.status).toBe(409);
    expect((await list(u)).map((r) => r.name)).toEqual(["Mock"]);
    // Another user may use the same name (and the same location).
    expect((await create(other, responderBody({ name: "Mock", location: { pathType: "=", path: "/one" } }))).status).toBe(201);
  });

  it("location and method are unique per user; path case does not make a new location", async () => {
    const [u, other] = await Promise.all([newUser(stack), newUser(stack)]);
    const base = { pathType: "=" as const, path: "/loc" };
    expect((await create(u, responderBody({ location: base, method: "GET" }))).status).toBe(201);
    for (const location of [base, { ...base, path: "/LOC" }, { ...base, path: "/Loc" }]) {
      const res = await create(u, responderBody({ location, method: "GET" }));
      expect(res.status, location.path).toBe(409);
      expect(res.body).toEqual({ message: "a responder with this location and method already exists" });
    }
    for (const [location, method] of [
      [base, "POST"],
      [base, "ANY"],
      [{ ...base, pathType: "^" as const }, "GET"],
      [{ ...base, subdomainPrefix: "p" }, "GET"],
      [{ ...base, path: "/loc2" }, "GET"],
    ] as const) {
      const res = await create(u, responderBody({ location, method }));
      expect(res.status, `${JSON.stringify(location)} ${method}`).toBe(201);
    }
    expect(await list(u)).toHaveLength(6);
    expect((await create(other, responderBody({ location: base, method: "GET" }))).status).toBe(201);
  });

  it("a PUT that would collide is 409 and leaves the responder as it was", async () => {
    const u = await newUser(stack);
    const a = await createResponder(stack, u, { name: "Alpha", location: { pathType: "=", path: "/alpha" }, method: "GET" });
    const b = await createResponder(stack, u, { name: "Beta", location: { pathType: "=", path: "/beta" }, method: "GET" });
    const cases: [unknown, string][] = [
      [{ name: "ALPHA" }, "a responder with this name already exists"],
      [{ name: "alpha", settings: { requestsToTrack: 1, statusCode: 500 } }, "a responder with this name already exists"],
      [{ location: { pathType: "=", path: "/Alpha" } }, "a responder with this location and method already exists"],
      [{ location: { pathType: "=", path: "/alpha" }, enabled: false, method: "GET" }, "a responder with this location and method already exists"],
    ];
    for (const [change, message] of cases) {
      const res = await update(u, b.id, change);
      expect(res.status, JSON.stringify(change)).toBe(409);
      expect(res.body).toEqual({ message });
    }
    expect(await list(u)).toEqual([a, b]);
    // Renaming onto its own name in another case is not a collision.
    const self = await updated(u, b.id, { name: "BETA" });
    expect(self.name).toBe("BETA");
  });
});

describe("history and stats", () => {
  const history = (u: TestUser, id: string) => call<Record<string, any>[]>(stack, "GET", `${BASE}/${id}/_history`, { auth: u.auth });

  /** Waits until the newest entry of the history is `url` (the entry is written just after the response leaves). */
  async function newestIs(u: TestUser, id: string, url: string) {
    const until = Date.now() + 10_000;
    for (;;) {
      // Asking for more entries than are kept makes historyOf poll for its whole (short) timeout.
      const h = await historyOf(stack, u, id, Number.MAX_SAFE_INTEGER, 50);
      if (h[0]?.url === url || Date.now() > until) return h;
    }
  }

  it("keeps the newest requestsToTrack requests, newest first, with what the caller sent", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { location: { pathType: "^", path: "/h" }, method: "ANY", settings: { requestsToTrack: 3 } });
    const host = webhookHost(u);
    for (let i = 1; i <= 5; i++) {
      const res = await hit(stack, host, `/h/p?i=${i}&x=%20y`, {
        method: "POST",
        headers: { "X-Seq": String(i), "content-type": "text/plain" },
        body: `body-${i}-é`,
      });
      expect(res.status).toBe(200);
      expect(res.text).toBe("ok");
      await newestIs(u, r.id, `/h/p?i=${i}&x=%20y`);
    }
    const res = await history(u, r.id);
    expect(res.status).toBe(200);
    expect(res.body.map((e) => e.url)).toEqual(["/h/p?i=5&x=%20y", "/h/p?i=4&x=%20y", "/h/p?i=3&x=%20y"]);
    for (const [k, entry] of res.body.entries()) {
      const i = 5 - k;
      expect(Object.keys(entry).sort()).toEqual(["body", "clientAddress", "createdAt", "durationMs", "headers", "id", "method", "responderId", "url"]);
      expect(entry).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        responderId: r.id,
        clientAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        method: "POST",
        url: `/h/p?i=${i}&x=%20y`,
        headers: expect.arrayContaining([
          ["host", headerBytes(host)],
          ["X-Seq", headerBytes(String(i))],
          ["content-type", headerBytes("text/plain")],
        ]),
        body: [...Buffer.from(`body-${i}-é`)],
        durationMs: expect.any(Number),
        createdAt: expect.any(Number),
      });
      // Raw pairs, in the order they came, with the name as the caller spelled it.
      const names = headerTexts(entry.headers).map(([n]) => n);
      expect(names.indexOf("host")).toBeLessThan(names.indexOf("X-Seq"));
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
      expect(entry.createdAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    }
    expect(new Set(res.body.map((e) => e.id)).size).toBe(3);

    const clear = await call(stack, "POST", `${BASE}/${r.id}/_clear`, { auth: u.auth });
    expect(clear.status).toBe(204);
    expect(clear.text).toBe("");
    expect((await history(u, r.id)).body).toEqual([]);
    expect(await stats(u)).toEqual([{ responderId: r.id, requestCount: 0 }]);
  });

  it("shows a request answered before a read in that read, with no wait: history, stats, and a clear that leaves nothing to come", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { location: { pathType: "=", path: "/now" }, settings: { requestsToTrack: 5 } });
    const host = webhookHost(u);
    for (let i = 1; i <= 3; i++) {
      expect((await hit(stack, host, `/now?${i}`)).status).toBe(200);
      // Read straight after each answer, as a script following the webhooks guide does.
      expect((await history(u, r.id)).body.map((e) => e.url)[0]).toBe(`/now?${i}`);
    }
    expect((await hit(stack, host, "/now?4")).status).toBe(200);
    expect(await stats(u)).toEqual([{ responderId: r.id, requestCount: 4, lastRequestedAt: expect.any(Number) }]);
    // A request answered just before a clear is cleared with the rest, not written after it.
    expect((await hit(stack, host, "/now?5")).status).toBe(200);
    expect((await call(stack, "POST", `${BASE}/${r.id}/_clear`, { auth: u.auth })).status).toBe(204);
    expect((await history(u, r.id)).body).toEqual([]);
    // A later request is written as usual: nothing earlier came after the clear.
    expect((await hit(stack, host, "/now?6")).status).toBe(200);
    expect((await history(u, r.id)).body.map((e) => e.url)).toEqual(["/now?6"]);
  });

  it("records a GET without a body as an empty byte array", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { location: { pathType: "=", path: "/g" }, method: "GET", settings: { requestsToTrack: 1 } });
    expect((await hit(stack, webhookHost(u), "/g")).status).toBe(200);
    const [entry] = await historyOf(stack, u, r.id, 1);
    expect(entry).toMatchObject({ method: "GET", url: "/g", body: [] });
  });

  it("requestsToTrack 0 records nothing, and _stats counts the kept requests per responder", async () => {
    const u = await newUser(stack);
    const host = webhookHost(u);
    const none = await createResponder(stack, u, { location: { pathType: "=", path: "/none" }, settings: { requestsToTrack: 0 } });
    const two = await createResponder(stack, u, { location: { pathType: "=", path: "/two" }, settings: { requestsToTrack: 5 } });
    const idle = await createResponder(stack, u, { location: { pathType: "=", path: "/idle" }, settings: { requestsToTrack: 5 } });
    const capped = await createResponder(stack, u, { location: { pathType: "=", path: "/capped" }, settings: { requestsToTrack: 2 } });
    for (const path of ["/none", "/none?1", "/two?1", "/capped?1", "/two?2", "/capped?2", "/capped?3", "/capped?4", "/none?2"]) {
      expect((await hit(stack, host, path)).status).toBe(200);
    }
    await newestIs(u, two.id, "/two?2");
    await newestIs(u, capped.id, "/capped?4");
    expect((await history(u, none.id)).body).toEqual([]);
    expect((await history(u, capped.id)).body.map((e) => e.url)).toEqual(["/capped?4", "/capped?3"]);
    const s = await stats(u);
    expect(s).toEqual([
      { responderId: none.id, requestCount: 0 },
      { responderId: two.id, requestCount: 2, lastRequestedAt: expect.any(Number) },
      { responderId: idle.id, requestCount: 0 },
      // Stats count what the history keeps, not every request ever served.
      { responderId: capped.id, requestCount: 2, lastRequestedAt: expect.any(Number) },
    ]);
    expect(await stats(bob)).not.toContainEqual(expect.objectContaining({ responderId: two.id }));
  });

  it("holds the cap when many requests arrive at once", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { location: { pathType: "=", path: "/burst" }, settings: { requestsToTrack: 3 } });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => hit(stack, webhookHost(u), `/burst?${i}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await historyOf(stack, u, r.id, 3);
    // Every write trims in the same transaction, so no moment shows more than the cap.
    for (let i = 0; i < 5; i++) {
      const [s] = await stats(u);
      expect(s).toMatchObject({ responderId: r.id, requestCount: 3 });
    }
  });
});
