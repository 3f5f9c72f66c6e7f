import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hit, historyOf, hitUrl, responderBody, webhookHost } from "../helpers/webhooks.js";

// What the reference product's documents promise about responders, through the
// whole stack: a script returning null keeps the static response (the auth
// gates rely on it), the reference's access setting shapes, "*" locations,
// request bodies on every method, ip:port client addresses and notification
// settings.

const BASE = "/api/webhooks/responders";
const BODY_LIMIT = 4096;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { WEBHOOKS_BODY_LIMIT: String(BODY_LIMIT) } });
});
afterAll(() => stack?.stop());

const STATIC_HEADERS: [string, string][] = [
  ["content-type", "text/html; charset=utf-8"],
  ["x-static", "kept"],
];

/** A responder whose static response is a small "app" page, gated by `script`. */
async function gated(u: TestUser, script: string, extra: Record<string, unknown> = {}) {
  return createResponder(stack, u, {
    method: "ANY",
    location: { pathType: "^", path: "/app" },
    settings: { statusCode: 200, headers: STATIC_HEADERS, body: "<h1>the app</h1>", script, secrets: { type: "selected", secrets: ["APP_PASSWORD"] }, ...extra },
  });
}

describe("a script that returns null or undefined keeps the static response", () => {
  it.each([
    ["null", "(() => null)()"],
    ["undefined", "(() => undefined)()"],
    ["a promise of null", "(async () => null)()"],
    ["nothing at the top level", "return;"],
  ])("%s: the static status, headers and body", async (_what, script) => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { settings: { statusCode: 200, headers: [["x-static", "yes"]], body: "default", script } });
    const res = await hitUrl(stack, r.url);
    expect(res.status).toBe(200);
    expect(res.text).toBe("default");
    expect(res.header("x-static")).toBe("yes");
  });

  it("with a static status other than 200 and a templated header", async () => {
    const u = await newUser(stack);
    await createSecret(stack, u, "TOKEN", "t-123");
    const r = await createResponder(stack, u, {
      settings: { statusCode: 418, headers: [["x-token", "${secrets.TOKEN}"]], body: "teapot", script: "null", secrets: "all" },
    });
    const res = await hitUrl(stack, r.url);
    expect([res.status, res.header("x-token"), res.text]).toEqual([418, "t-123", "teapot"]);
  });
});

// An HTTP Basic gate as the webhooks guide describes it: any user name, the
// password from the APP_PASSWORD secret, null once it matches.
const BASIC_GATE = `(() => {
  const want = context.secrets.APP_PASSWORD;
  if (!want) return { statusCode: 500, body: "APP_PASSWORD is not granted" };
  const m = /^Basic\\s+(\\S+)$/.exec(context.headers["authorization"] || "");
  if (m) {
    const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const bytes = [];
    let acc = 0, bits = 0;
    for (const ch of m[1].replace(/=+$/, "")) {
      acc = ((acc << 6) | abc.indexOf(ch)) & 0xffffff;
      bits += 6;
      if (bits >= 8) { bits -= 8; bytes.push((acc >> bits) & 255); }
    }
    const pair = Deno.core.decode(new Uint8Array(bytes));
    const colon = pair.indexOf(":");
    if (colon >= 0 && pair.slice(colon + 1) === want) return null;
  }
  return { statusCode: 401, headers: { "WWW-Authenticate": 'Basic realm="app"', "Content-Type": "text/plain" }, body: "sign in first" };
})()`;

// A cookie login as the guide describes it: a form on GET, the password POSTed
// to ?_auth=1 sets a cookie, ?_logout=1 clears it, a valid cookie gets null.
const COOKIE_GATE = `(() => {
  const want = context.secrets.APP_PASSWORD;
  const cookie = "app_auth=" + encodeURIComponent(want);
  const form = (note) => ({
    statusCode: 401,
    headers: { "Content-Type": "text/html", "Cache-Control": "no-store" },
    body: '<form method="POST" action="?_auth=1">' + note + '<input type="password" name="password"></form>',
  });
  if (context.query._logout === "1") {
    return { statusCode: 303, headers: { "Set-Cookie": "app_auth=; Path=/; Max-Age=0", Location: context.path }, body: "" };
  }
  if (context.method === "POST" && context.query._auth === "1") {
    const fields = {};
    for (const part of Deno.core.decode(new Uint8Array(context.body)).split("&")) {
      const [k, v = ""] = part.split("=");
      fields[decodeURIComponent(k)] = decodeURIComponent(v.replace(/\\+/g, " "));
    }
    if (fields.password === want) {
      return { statusCode: 303, headers: { "Set-Cookie": cookie + "; HttpOnly; Path=/", Location: context.path }, body: "" };
    }
    return form("wrong password");
  }
  const sent = (context.headers["cookie"] || "").split(";").map((c) => c.trim());
  if (sent.includes(cookie)) return null;
  return form("");
})()`;

describe("the documented auth gates", () => {
  it("HTTP Basic: 401 with a challenge until the password matches, then the static response", async () => {
    const u = await newUser(stack);
    await createSecret(stack, u, "APP_PASSWORD", "s3cret pass");
    const r = await gated(u, BASIC_GATE);
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });

    const none = await hitUrl(stack, r.url);
    expect(none.status).toBe(401);
    expect(none.header("www-authenticate")).toBe('Basic realm="app"');
    expect(none.text).toBe("sign in first");
    expect((await hitUrl(stack, r.url, { headers: basic("anyone", "wrong") })).status).toBe(401);

    for (const user of ["anyone", "someone-else", ""]) {
      const ok = await hitUrl(stack, r.url, { headers: basic(user, "s3cret pass") }, "/page");
      expect(ok.status).toBe(200);
      expect(ok.text).toBe("<h1>the app</h1>");
      expect(ok.header("x-static")).toBe("kept");
      expect(ok.header("content-type")).toBe("text/html; charset=utf-8");
    }
  });

  it("cookie login: form, wrong password, sign-in cookie, the static response with it, sign-out", async () => {
    const u = await newUser(stack);
    await createSecret(stack, u, "APP_PASSWORD", "open sesame");
    const r = await gated(u, COOKIE_GATE);

    const first = await hitUrl(stack, r.url);
    expect(first.status).toBe(401);
    expect(first.text).toContain('<form method="POST" action="?_auth=1">');

    const post = (password: string) =>
      hitUrl(stack, r.url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `password=${encodeURIComponent(password).replace(/%20/g, "+")}` }, "?_auth=1");
    const wrong = await post("nope");
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("wrong password");

    const signedIn = await post("open sesame");
    expect(signedIn.status).toBe(303);
    expect(signedIn.header("location")).toBe("/app");
    const cookie = signedIn.header("set-cookie")!.split(";")[0]!;
    expect(cookie).toBe(`app_auth=${encodeURIComponent("open sesame")}`);

    const app = await hitUrl(stack, r.url, { headers: { cookie: `other=1; ${cookie}` } });
    expect([app.status, app.text, app.header("x-static")]).toEqual([200, "<h1>the app</h1>", "kept"]);

    const out = await hitUrl(stack, r.url, { headers: { cookie } }, "?_logout=1");
    expect(out.status).toBe(303);
    expect(out.header("set-cookie")).toContain("Max-Age=0");
  });
});

describe("access settings in the reference's shapes", () => {
  it('{"type": "selected", "secrets": [names]} is saved as the ids of those names and shown in the seed\'s shape', async () => {
    const u = await newUser(stack);
    const a = await createSecret(stack, u, "ALPHA", "alpha-value");
    await createSecret(stack, u, "BETA", "beta-value");
    const res = await call(stack, "POST", BASE, {
      auth: u.auth,
      json: responderBody({ settings: { script: "({ body: JSON.stringify(context.secrets) })", secrets: { type: "selected", secrets: ["ALPHA"] } } }),
    });
    expect(res.status).toBe(201);
    expect(res.body.settings.secrets).toEqual({ selected: [a] });
    expect(res.text).not.toContain("alpha-value");
    expect(JSON.parse((await hitUrl(stack, res.body.url)).text)).toEqual({ ALPHA: "alpha-value" });
  });

  it('{"type": "all"} and {"type": "none"} are saved and shown as "all" and "none"', async () => {
    const u = await newUser(stack);
    await createSecret(stack, u, "ALPHA", "alpha-value");
    const all = await call(stack, "POST", BASE, {
      auth: u.auth,
      json: responderBody({ settings: { script: "({ body: Object.keys(context.secrets).join() })", secrets: { type: "all" } } }),
    });
    expect(all.body.settings.secrets).toBe("all");
    expect((await hitUrl(stack, all.body.url)).text).toBe("ALPHA");
    const none = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { script: "({ body: Object.keys(context.secrets).join() })", secrets: { type: "none" } } }) });
    expect(none.body.settings.secrets).toBe("none");
    expect((await hitUrl(stack, none.body.url)).text).toBe("");
    // An empty list of names grants nothing, as an empty list of ids does.
    const empty = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { secrets: { type: "selected", secrets: [] } } }) });
    expect(empty.body.settings.secrets).toBe("none");
  });

  it("an unknown name, or another user's, is a 400 naming it; on update too", async () => {
    const [u, other] = await Promise.all([newUser(stack), newUser(stack)]);
    await createSecret(stack, u, "ALPHA", "v");
    await createSecret(stack, other, "THEIRS", "v");
    const res = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { secrets: { type: "selected", secrets: ["ALPHA", "THEIRS"] } } }) });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('settings.secrets.secrets: no secret named "THEIRS"');
    // Names are case-sensitive, as secret names are.
    const r = await createResponder(stack, u);
    const put = await call(stack, "PUT", `${BASE}/${r.id}`, { auth: u.auth, json: { settings: { requestsToTrack: 0, statusCode: 200, secrets: { type: "selected", secrets: ["alpha"] } } } });
    expect(put.status).toBe(400);
    expect(put.body.message).toContain('"alpha"');
  });

  it("malformed tagged shapes are refused", async () => {
    const u = await newUser(stack);
    for (const secrets of [{ type: "some" }, { type: "selected" }, { type: "all", secrets: [] }, { type: "selected", secrets: ["1BAD"] }, { type: "selected", selected: [] }]) {
      const res = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { secrets } }) });
      expect(res.status, JSON.stringify(secrets)).toBe(400);
    }
  });
});

describe('location pathType "*"', () => {
  it("answers the path and every path below it, not a longer name", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { location: { pathType: "*", path: "/api" }, method: "ANY", settings: { body: "any", statusCode: 200 } });
    expect(r.url).toBe(`${stack.url.replace("127.0.0.1", `${u.handle}.webhooks.localhost`)}/api`);
    const host = webhookHost(u);
    for (const path of ["/api", "/api/", "/API/v1/users?x=1", "/api/a/b/c"]) expect((await hit(stack, host, path)).text, path).toBe("any");
    for (const path of ["/apis", "/ap", "/"]) expect((await hit(stack, host, path)).status, path).toBe(404);
    expect((await call(stack, "GET", `${BASE}?q=${encodeURIComponent(r.name)}`, { auth: u.auth })).body.items[0].location).toEqual({ pathType: "*", path: "/api" });
  });

  it('"/" catches everything, and a more specific location still wins', async () => {
    const u = await newUser(stack);
    await createResponder(stack, u, { location: { pathType: "*", path: "/" }, settings: { body: "root" } });
    await createResponder(stack, u, { location: { pathType: "=", path: "/api/v1" }, settings: { body: "exact" } });
    await createResponder(stack, u, { location: { pathType: "*", path: "/api" }, settings: { body: "sub" } });
    await createResponder(stack, u, { location: { pathType: "^", path: "/api" }, settings: { body: "prefix" } });
    const host = webhookHost(u);
    const body = async (path: string) => (await hit(stack, host, path)).text;
    expect(await body("/")).toBe("root");
    expect(await body("/anything/else")).toBe("root");
    expect(await body("/api/v1")).toBe("exact");
    // Same location length: a prefix is more specific than "*".
    expect(await body("/api/v2")).toBe("prefix");
    expect(await body("/apix")).toBe("prefix");
  });
});

describe("request bodies on every method", () => {
  const ECHO = "({ body: context.method + ' ' + Deno.core.decode(new Uint8Array(context.body)) })";

  it.each(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"])("%s with a body: the script sees it and the history keeps it", async (method) => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { method: "ANY", settings: { requestsToTrack: 5, script: ECHO } });
    const res = await hitUrl(stack, r.url, { method, headers: { "content-type": "application/json" }, body: '{"q":1}' });
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${method} {"q":1}`);
    const [entry] = await historyOf(stack, u, r.id, 1);
    expect(entry).toMatchObject({ method, body: [...Buffer.from('{"q":1}')] });
  });

  it("a chunked GET body, without a content type, arrives whole", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { method: "GET", settings: { requestsToTrack: 5, script: ECHO } });
    const target = new URL(stack.url);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: target.hostname, port: target.port, method: "GET", path: new URL(r.url).pathname, headers: { host: webhookHost(u), "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.write("part one, ");
      req.end("part two");
    });
    expect(answer).toEqual({ status: 200, text: "GET part one, part two" });
    const [entry] = await historyOf(stack, u, r.id, 1);
    expect(Buffer.from(entry!.body as number[]).toString()).toBe("part one, part two");
  });

  it("a GET body over the limit is refused with 413, as any other method's", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { method: "ANY", settings: { script: ECHO } });
    const big = "x".repeat(BODY_LIMIT + 1);
    for (const method of ["GET", "POST"]) {
      const res = await hitUrl(stack, r.url, { method, headers: { "content-type": "text/plain" }, body: big });
      expect(res.status, method).toBe(413);
    }
    expect((await hitUrl(stack, r.url, { method: "GET", headers: { "content-type": "text/plain" }, body: "x".repeat(BODY_LIMIT) })).status).toBe(200);
  });
});

describe("small shapes", () => {
  it("clientAddress is ip:port in the script's context and in the history", async () => {
    const u = await newUser(stack);
    const r = await createResponder(stack, u, { settings: { requestsToTrack: 5, script: "({ body: context.clientAddress })" } });
    const target = new URL(stack.url);
    // The caller's own port, to compare with what the responder saw.
    const { port, text } = await new Promise<{ port: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: target.hostname, port: target.port, path: new URL(r.url).pathname, headers: { host: webhookHost(u) } }, (res) => {
        const localPort = res.socket.localPort!;
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ port: localPort, text: body }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(text).toBe(`127.0.0.1:${port}`);
    const [entry] = await historyOf(stack, u, r.id, 1);
    expect(entry!.clientAddress).toBe(`127.0.0.1:${port}`);
  });

  it("settings.notifications is accepted, stored and returned; null or absent means none; it needs request tracking, as the reference's does", async () => {
    const u = await newUser(stack);
    const untracked = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { notifications: { throttleSeconds: 3600 } } }) });
    expect(untracked.status).toBe(400);
    expect(untracked.body.message).toMatch(/^settings\.notifications need request tracking/);
    const create = await call(stack, "POST", BASE, { auth: u.auth, json: responderBody({ settings: { requestsToTrack: 1, notifications: { throttleSeconds: 3600 } } }) });
    expect(create.status).toBe(201);
    expect(create.body.settings.notifications).toEqual({ throttleSeconds: 3600 });
    const id = create.body.id as string;
    const listed = async () => (await call(stack, "GET", `${BASE}?q=${id}`, { auth: u.auth })).body.items[0].settings;
    expect((await listed()).notifications).toEqual({ throttleSeconds: 3600 });

    const put = (notifications: unknown, requestsToTrack = 2) =>
      call(stack, "PUT", `${BASE}/${id}`, { auth: u.auth, json: { settings: { requestsToTrack, statusCode: 200, notifications } } });
    expect((await put({ throttleSeconds: 300 }, 0)).status).toBe(400);
    expect((await put({ throttleSeconds: 300 })).status).toBe(204);
    expect((await listed()).notifications).toEqual({ throttleSeconds: 300 });
    expect((await put(null, 0)).status).toBe(204);
    expect((await listed())).not.toHaveProperty("notifications");
    for (const bad of [{ throttleSeconds: 0 }, { throttleSeconds: "60" }, { throttle: 60 }, 60]) expect((await put(bad)).status, JSON.stringify(bad)).toBe(400);
  });

  it("null for an optional field means it is not set, as the reference's clients send it", async () => {
    const u = await newUser(stack);
    const res = await call(stack, "POST", BASE, {
      auth: u.auth,
      json: {
        name: "nulls",
        location: { pathType: "=", path: "/nulls", subdomainPrefix: null },
        method: "GET",
        settings: { requestsToTrack: 0, statusCode: 200, headers: null, body: null, script: null, secrets: "none", notifications: null },
        tagIds: [],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.location).toEqual({ pathType: "=", path: "/nulls" });
    expect(res.body.settings).toEqual({ requestsToTrack: 0, statusCode: 200, headers: [], secrets: "none" });
    const answer = await hitUrl(stack, res.body.url);
    expect([answer.status, answer.text]).toEqual([200, ""]);
  });
});
