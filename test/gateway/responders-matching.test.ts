import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hit, hitUrl, webhookHost, type ResponderInput, type WebhookAnswer } from "../helpers/webhooks.js";

const BASE = "/api/webhooks/responders";
const NOT_FOUND = JSON.stringify({ message: "not found" });

/**
 * Node's client frames a body of DELETE and OPTIONS only when told its length;
 * unframed, the body would reach the server as the start of a second request.
 */
const withBody = (method: string, body: string) =>
  method === "GET" || method === "HEAD" || method === "TRACE" ? { method } : { method, body, headers: { "content-length": String(Buffer.byteLength(body)) } };

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

const update = (u: TestUser, id: string, json: unknown) => call(stack, "PUT", `${BASE}/${id}`, { auth: u.auth, json });

/** A 404 of the webhook host: JSON, and nothing a responder set. */
function expectNotFound(res: WebhookAnswer) {
  expect(res.status).toBe(404);
  expect(res.header("content-type")).toBe("application/json; charset=utf-8");
  expect(res.text).toBe(NOT_FOUND);
}

/** Responders that answer their own name as the body, so a test sees which one answered. */
async function respondersOf(u: TestUser, defs: { name: string; pathType: "=" | "^"; path: string; method?: string; subdomainPrefix?: string }[]) {
  const out: Record<string, { id: string; url: string }> = {};
  for (const d of defs) {
    const input: ResponderInput = {
      name: d.name,
      location: { pathType: d.pathType, path: d.path, ...(d.subdomainPrefix ? { subdomainPrefix: d.subdomainPrefix } : {}) },
      method: d.method ?? "GET",
      settings: { body: d.name },
    };
    out[d.name] = await createResponder(stack, u, input);
  }
  return out;
}

describe("which responder answers", () => {
  let m: TestUser;
  beforeAll(async () => {
    m = await newUser(stack);
    await respondersOf(m, [
      { name: "prefix /", pathType: "^", path: "/" },
      { name: "prefix /a", pathType: "^", path: "/a" },
      { name: "exact /a", pathType: "=", path: "/a" },
      { name: "prefix /a/b", pathType: "^", path: "/a/b" },
      { name: "exact /", pathType: "=", path: "/" },
      { name: "exact POST /a/b/c", pathType: "=", path: "/a/b/c", method: "POST" },
      { name: "any /m", pathType: "^", path: "/m", method: "ANY" },
      { name: "get /m", pathType: "^", path: "/m", method: "GET" },
      { name: "exact /CaSe", pathType: "=", path: "/CaSe" },
    ]);
  });

  it.each([
    ["GET", "/a", "exact /a"],
    ["GET", "/A", "exact /a"],
    ["GET", "/a?x=1", "exact /a"],
    ["GET", "/a?/a/b/c", "exact /a"],
    ["GET", "/a/x", "prefix /a"],
    // A trailing slash is another path: the exact location no longer matches.
    ["GET", "/a/", "prefix /a"],
    // A prefix is a plain string prefix, not a path segment.
    ["GET", "/abc", "prefix /a"],
    ["GET", "/a/b", "prefix /a/b"],
    ["GET", "/a/b/c", "prefix /a/b"],
    ["GET", "/A/B/C", "prefix /a/b"],
    ["GET", "/a/b/c?q=/zzz", "prefix /a/b"],
    ["POST", "/a/b/c", "exact POST /a/b/c"],
    ["POST", "/A/b/C?x", "exact POST /a/b/c"],
    ["GET", "/zzz", "prefix /"],
    ["GET", "/zzz?a=/a", "prefix /"],
    ["GET", "/", "exact /"],
    ["GET", "/?a=b", "exact /"],
    ["GET", "/m/x", "get /m"],
    ["DELETE", "/m/x", "any /m"],
    ["POST", "/m", "any /m"],
    ["GET", "/case", "exact /CaSe"],
    ["GET", "/CASE", "exact /CaSe"],
  ])("%s %s → %s", async (method, path, expected) => {
    const res = await hit(stack, webhookHost(m), path, { method });
    expect(res.status).toBe(200);
    expect(res.text).toBe(expected);
  });

  it("with nothing matching the method, the answer is 404", async () => {
    // "prefix /" is GET only: a POST that only it would match finds nothing.
    expectNotFound(await hit(stack, webhookHost(m), "/zzz", { method: "POST" }));
    expectNotFound(await hit(stack, webhookHost(m), "/a", { method: "PUT" }));
  });
});

describe("methods", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await newUser(stack);
    await createResponder(stack, u, { location: { pathType: "=", path: "/only-get" }, method: "GET", settings: { body: "get" } });
    await createResponder(stack, u, { location: { pathType: "=", path: "/only-head" }, method: "HEAD", settings: { headers: [["x-h", "1"]], body: "head" } });
    await createResponder(stack, u, {
      location: { pathType: "=", path: "/any" },
      method: "ANY",
      settings: { statusCode: 202, headers: [["x-a", "1"]], body: "hello" },
    });
  });

  it("a GET responder answers GET only", async () => {
    const ok = await hit(stack, webhookHost(u), "/only-get");
    expect(ok.status).toBe(200);
    expect(ok.text).toBe("get");
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const res = await hit(stack, webhookHost(u), "/only-get", withBody(method, "x"));
      expect(res.status, method).toBe(404);
      expect(res.text).toBe(NOT_FOUND);
    }
    // HEAD is a method of its own: a GET responder does not answer it.
    const head = await hit(stack, webhookHost(u), "/only-get", { method: "HEAD" });
    expect(head.status).toBe(404);
    expect(head.text).toBe("");
  });

  it.each(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])("ANY answers %s", async (method) => {
    const res = await hit(stack, webhookHost(u), "/any", withBody(method, "payload"));
    expect(res.status).toBe(202);
    expect(res.header("x-a")).toBe("1");
    expect(res.text).toBe("hello");
  });

  it("HEAD gets the status and headers of the response without its body", async () => {
    const res = await hit(stack, webhookHost(u), "/any", { method: "HEAD" });
    expect(res.status).toBe(202);
    expect(res.header("x-a")).toBe("1");
    expect(res.header("content-length")).toBe("5");
    expect(res.body.length).toBe(0);
    const own = await hit(stack, webhookHost(u), "/only-head", { method: "HEAD" });
    expect(own.status).toBe(200);
    expect(own.header("x-h")).toBe("1");
    expect(own.header("content-length")).toBe("4");
    expect(own.body.length).toBe(0);
    expectNotFound(await hit(stack, webhookHost(u), "/only-head"));
  });
});

describe("subdomain prefixes", () => {
  let u: TestUser;
  let rs: Record<string, { id: string; url: string }>;
  beforeAll(async () => {
    u = await newUser(stack);
    rs = await respondersOf(u, [
      { name: "plain /p", pathType: "=", path: "/p" },
      { name: "api /p", pathType: "=", path: "/p", subdomainPrefix: "api" },
      { name: "api /only-api", pathType: "=", path: "/only-api", subdomainPrefix: "api" },
      { name: "plain /only-plain", pathType: "=", path: "/only-plain" },
      { name: "a-b-1 /p", pathType: "^", path: "/p", subdomainPrefix: "a-b-1" },
    ]);
  });

  it.each([
    ["", "/p", "plain /p"],
    ["api", "/p", "api /p"],
    ["api", "/only-api", "api /only-api"],
    ["a-b-1", "/p/q", "a-b-1 /p"],
    ["", "/only-api", undefined],
    ["api", "/only-plain", undefined],
    ["other", "/p", undefined],
    ["b-1", "/p", undefined],
    ["a-b", "/p", undefined],
  ])("%j-<handle> %s → %s", async (prefix, path, expected) => {
    const res = await hit(stack, webhookHost(u, prefix), path);
    if (expected === undefined) return expectNotFound(res);
    expect(res.status).toBe(200);
    expect(res.text).toBe(expected);
  });

  it("each responder answers at the url it reported", async () => {
    for (const [name, r] of Object.entries(rs)) {
      const res = await hitUrl(stack, r.url);
      expect(res.status, r.url).toBe(200);
      expect(res.text).toBe(name);
    }
  });
});

describe("changes show on the next request", () => {
  it("disabled is 404; enabling, changing, moving and deleting take effect at once", async () => {
    const u = await newUser(stack);
    const host = webhookHost(u);
    // An unknown-to-the-cache user: the first request caches "no responders".
    expectNotFound(await hit(stack, host, "/life"));
    const r = await createResponder(stack, u, { location: { pathType: "=", path: "/life" }, enabled: false, settings: { body: "v1" } });
    expectNotFound(await hit(stack, host, "/life"));

    expect((await update(u, r.id, { enabled: true })).status).toBe(204);
    const on = await hit(stack, host, "/life");
    expect(on.status).toBe(200);
    expect(on.text).toBe("v1");

    expect((await update(u, r.id, { settings: { requestsToTrack: 0, statusCode: 203, headers: [["x-v", "2"]], body: "v2" } })).status).toBe(204);
    const changed = await hit(stack, host, "/life");
    expect(changed.status).toBe(203);
    expect(changed.header("x-v")).toBe("2");
    expect(changed.text).toBe("v2");

    expect((await update(u, r.id, { location: { pathType: "=", path: "/moved" } })).status).toBe(204);
    expectNotFound(await hit(stack, host, "/life"));
    expect((await hit(stack, host, "/moved")).text).toBe("v2");

    expect((await update(u, r.id, { method: "POST" })).status).toBe(204);
    expectNotFound(await hit(stack, host, "/moved"));
    expect((await hit(stack, host, "/moved", { method: "POST" })).text).toBe("v2");

    expect((await update(u, r.id, { enabled: false })).status).toBe(204);
    expectNotFound(await hit(stack, host, "/moved", { method: "POST" }));
    expect((await update(u, r.id, { enabled: true })).status).toBe(204);
    expect((await hit(stack, host, "/moved", { method: "POST" })).text).toBe("v2");

    expect((await call(stack, "DELETE", `${BASE}/${r.id}`, { auth: u.auth })).status).toBe(204);
    expectNotFound(await hit(stack, host, "/moved", { method: "POST" }));
  });
});

describe("hosts", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await newUser(stack);
    await respondersOf(u, [
      { name: "root", pathType: "^", path: "/" },
      { name: "webhook api", pathType: "^", path: "/api" },
      { name: "prefixed", pathType: "=", path: "/x", subdomainPrefix: "api" },
    ]);
  });

  it("an unknown handle is 404 with a JSON message", async () => {
    expectNotFound(await hit(stack, "0123456789abcdef.webhooks.localhost", "/"));
    expectNotFound(await hit(stack, "api-0123456789abcdef.webhooks.localhost", "/x", { method: "POST", body: "{}" }));
  });

  it.each([
    ["localhost"],
    ["127.0.0.1"],
    ["localhost:8080"],
    ["example.com"],
    ["webhooks.localhost"],
  ])("Host %s is the REST API", async (host) => {
    const res = await hit(stack, host, BASE);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ message: expect.any(String) });
    const authed = await hit(stack, host, BASE, { headers: { authorization: `Bearer ${u.token}` } });
    expect(authed.status).toBe(200);
    expect(JSON.parse(authed.text).items.map((r: { name: string }) => r.name)).toEqual(["prefixed", "root", "webhook api"]);
  });

  it("on a webhook host the API paths are the responders' paths", async () => {
    const res = await hit(stack, webhookHost(u), BASE, { headers: { authorization: `Bearer ${u.token}` } });
    expect(res.status).toBe(200);
    expect(res.text).toBe("webhook api");
    const docs = await hit(stack, webhookHost(u), "/api-docs/openapi.json");
    expect(docs.text).toBe("webhook api");
  });

  it.each([
    ["<handle>.webhooks.localhost:1234", "/a", "root"],
    ["<HANDLE>.WEBHOOKS.LOCALHOST", "/a", "root"],
    ["<handle>.Webhooks.LocalHost:80", "/api/x", "webhook api"],
    ["API-<HANDLE>.webhooks.localhost:1", "/x", "prefixed"],
  ])("Host %s works", async (host, path, expected) => {
    const res = await hit(stack, host.replace("<handle>", u.handle).replace("<HANDLE>", u.handle.toUpperCase()), path);
    expect(res.status).toBe(200);
    expect(res.text).toBe(expected);
  });

  it.each(["/__webhook__", "/__webhook__?x=1", "/%5F%5Fwebhook%5F%5F", "/__webhook__/"])(
    "the internal route %s is not reachable on the API host",
    async (path) => {
      for (const method of ["GET", "POST"]) {
        const res = await hit(stack, "localhost", path, { method, headers: { "x-forwarded-host": webhookHost(u) } });
        expect(res.status, method).toBe(404);
        expect(JSON.parse(res.text)).toEqual({ message: "not found" });
      }
    },
  );

  it("on a webhook host /__webhook__ is an ordinary path", async () => {
    const res = await hit(stack, webhookHost(u), "/__webhook__");
    expect(res.status).toBe(200);
    expect(res.text).toBe("root");
  });
});

describe("static responses", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await newUser(stack);
  });

  it("sends the headers in order with duplicates, the status and the body exactly", async () => {
    const body = "exact body\n with ünïcode ✓ and trailing spaces  ";
    await createResponder(stack, u, {
      location: { pathType: "=", path: "/headers" },
      settings: { statusCode: 201, headers: [["x-a", "1"], ["X-B", "two words"], ["x-a", "3"], ["content-type", "text/x-test"]], body },
    });
    const res = await hit(stack, webhookHost(u), "/headers");
    expect(res.status).toBe(201);
    expect(res.headers.filter(([n]) => n.toLowerCase() !== "date" && n.toLowerCase() !== "connection")).toEqual([
      ["x-a", "1"],
      ["X-B", "two words"],
      ["x-a", "3"],
      ["content-type", "text/x-test"],
      ["content-length", String(Buffer.byteLength(body))],
    ]);
    expect(res.body.equals(Buffer.from(body))).toBe(true);
  });

  it.each([201, 204, 418, 599, 799, 999])("status %i", async (statusCode) => {
    await createResponder(stack, u, { location: { pathType: "=", path: `/status/${statusCode}` }, settings: { statusCode, body: statusCode === 204 ? undefined : "s" } });
    const res = await hit(stack, webhookHost(u), `/status/${statusCode}`);
    expect(res.status).toBe(statusCode);
    expect(res.text).toBe(statusCode === 204 ? "" : "s");
  });

  it("no body is an empty body", async () => {
    await createResponder(stack, u, { location: { pathType: "=", path: "/empty" }, settings: { body: undefined } });
    const res = await hit(stack, webhookHost(u), "/empty");
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.header("content-length")).toBe("0");
  });

  it("an empty string body is an empty body too", async () => {
    await createResponder(stack, u, { location: { pathType: "=", path: "/empty-string" }, settings: { body: "" } });
    const res = await hit(stack, webhookHost(u), "/empty-string");
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
  });

  it("the gateway frames the body itself: a responder's content-length or transfer-encoding is dropped", async () => {
    await createResponder(stack, u, {
      location: { pathType: "=", path: "/framing" },
      settings: { headers: [["Content-Length", "999"], ["transfer-encoding", "chunked"], ["x-keep", "1"]], body: "abc" },
    });
    const res = await hit(stack, webhookHost(u), "/framing");
    expect(res.status).toBe(200);
    expect(res.text).toBe("abc");
    expect(res.headers.filter(([n]) => /^(content-length|transfer-encoding)$/i.test(n))).toEqual([["content-length", "3"]]);
    expect(res.header("x-keep")).toBe("1");
  });
});

describe("users", () => {
  it("another user's responder at the same path is served only on that user's handle", async () => {
    const [one, two, three] = await Promise.all([newUser(stack), newUser(stack), newUser(stack)]);
    const r1 = await createResponder(stack, one, { location: { pathType: "=", path: "/same" }, settings: { body: "one" } });
    const r2 = await createResponder(stack, two, { location: { pathType: "=", path: "/same" }, settings: { body: "two" } });
    expect((await hit(stack, webhookHost(one), "/same")).text).toBe("one");
    expect((await hit(stack, webhookHost(two), "/same")).text).toBe("two");
    expectNotFound(await hit(stack, webhookHost(three), "/same"));

    expect((await call(stack, "DELETE", `${BASE}/${r2.id}`, { auth: two.auth })).status).toBe(204);
    expectNotFound(await hit(stack, webhookHost(two), "/same"));
    expect((await hit(stack, webhookHost(one), "/same")).text).toBe("one");
    expect(r1.url).toBe(`http://${one.handle}.webhooks.localhost:${new URL(stack.url).port}/same`);
  });
});

describe("hosts under the webhook domain", () => {
  it.each(["not-a-handle", "a.b", "-0123456789abcdef", "0123456789abcde"])(
    "%s.webhooks.localhost is a webhook host with no owner: 404, never the REST API",
    async (label) => {
      const res = await hit(stack, `${label}.webhooks.localhost`, BASE);
      expectNotFound(res);
    },
  );
});
