import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret as createSecretFor, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, historyOf, hitUrl } from "../helpers/webhooks.js";

// Secrets in responders, through the real gateway, broker and sandbox.

let stack: Stack;
let upstream: http.Server;
let upstreamPort = 0;
/** Requests the upstream holds until the test releases them. */
const held: http.ServerResponse[] = [];
let heldChanged: () => void = () => undefined;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    if (req.url === "/big") return res.end("x".repeat(4096));
    held.push(res);
    heldChanged();
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: {
      OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstreamPort}`,
      OUTBOUND_MAX_RESPONSE_BYTES: "1024",
      // Enough workers that ten executions of one user all run at once.
      SANDBOX_WORKERS_PER_USER: "12",
    },
    // Short enough for the time-limit case, long enough for ten workers to start under load.
    gatewayEnv: { RESPONDER_SCRIPT_TIMEOUT_MS: "5000" },
  });
});
afterAll(async () => {
  for (const res of held.splice(0)) res.end();
  upstream?.close();
  await stack?.stop();
});

const createSecret = (u: TestUser, name: string, value: string) => createSecretFor(stack, u, name, value);
const getResponder = async (u: TestUser, id: string) =>
  (await call<{ items: { id: string; settings: { secrets: unknown } }[] }>(stack, "GET", `/api/webhooks/responders?q=${id}`, { auth: u.auth })).body.items.find(
    (r) => r.id === id,
  )!;

describe("the seed's curl example", () => {
  it("runs verbatim apart from the host, then rotation, rename and delete behave as promised", async () => {
    const user = await newUser(stack);
    // The seed's commands, with https://secutils.dev replaced by this gateway.
    const script = `
      set -euo pipefail
      SECRET=$(curl -sX POST ${stack.url}/api/user/secrets \\
        -H "Authorization: Bearer $SECUTILS_API_KEY" \\
        -H "content-type: application/json" \\
        -d '{"name":"THIRD_PARTY_API_KEY","value":"sk-prod-..."}')
      SECRET_ID=$(echo "$SECRET" | jq -r '.id')

      # Create a responder that's allowed to read this one secret
      curl -sX POST ${stack.url}/api/webhooks/responders \\
        -H "Authorization: Bearer $SECUTILS_API_KEY" \\
        -H "content-type: application/json" \\
        -d "$(jq -n --arg sid "$SECRET_ID" '{
          name: "third-party-mock",
          location: {pathType:"=", path:"/"},
          method: "GET",
          enabled: true,
          settings: {
            requestsToTrack: 5,
            statusCode: 200,
            headers: [["x-token","Bearer \${secrets.THIRD_PARTY_API_KEY}"]],
            body: "ok",
            secrets: {selected: [$sid]}
          },
          tagIds: []
        }')"`;
    const { stdout } = await promisify(execFile)("bash", ["-c", script], { env: { ...process.env, SECUTILS_API_KEY: user.token } });
    const responder = JSON.parse(stdout) as { id: string; url: string };
    const [secret] = (await call<{ items: { id: string }[] }>(stack, "GET", "/api/user/secrets", { auth: user.auth })).body.items;
    expect(responder.url).toBe(`${stack.url.replace("127.0.0.1", `${user.handle}.webhooks.localhost`)}/`);

    // curl resolves *.localhost to loopback itself, so the responder URL works as returned.
    const { stdout: answer } = await promisify(execFile)("curl", ["-si", responder.url]);
    expect(answer).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nx-token: Bearer sk-prod-\.\.\.\r\n/);
    expect(answer.endsWith("\r\n\r\nok")).toBe(true);

    const put = (json: unknown) => call(stack, "PUT", `/api/user/secrets/${secret!.id}`, { auth: user.auth, json });
    expect((await put({ value: "sk-prod-rotated" })).status).toBe(200);
    expect((await hitUrl(stack, responder.url)).header("x-token")).toBe("Bearer sk-prod-rotated");

    // A grant holds ids, so the renamed secret is still granted, under its new name only.
    expect((await put({ name: "NEW_NAME" })).status).toBe(200);
    expect((await hitUrl(stack, responder.url)).header("x-token")).toBe("Bearer ${secrets.THIRD_PARTY_API_KEY}");
    const renamed = await call(stack, "PUT", `/api/webhooks/responders/${responder.id}`, {
      auth: user.auth,
      json: { settings: { requestsToTrack: 5, statusCode: 200, headers: [["x-token", "Bearer ${secrets.NEW_NAME}"]], body: "ok", secrets: { selected: [secret!.id] } } },
    });
    expect(renamed.status).toBe(204);
    expect((await hitUrl(stack, responder.url)).header("x-token")).toBe("Bearer sk-prod-rotated");

    expect((await call(stack, "DELETE", `/api/user/secrets/${secret!.id}`, { auth: user.auth })).status).toBe(204);
    const after = await hitUrl(stack, responder.url);
    expect(after.status).toBe(200);
    expect(after.header("x-token")).toBe("Bearer ${secrets.NEW_NAME}");
    expect((await getResponder(user, responder.id)).settings.secrets).toBe("none");
  });
});

describe("template expansion in static values", () => {
  let user: TestUser;
  let ids: Record<string, string>;
  beforeAll(async () => {
    user = await newUser(stack);
    ids = {
      A: await createSecret(user, "A", "alpha"),
      B: await createSecret(user, "B", "beta"),
      NESTED: await createSecret(user, "NESTED", "${secrets.A}"),
      HIDDEN: await createSecret(user, "HIDDEN", "not-granted"),
    };
  });

  it.each([
    ["two placeholders", "${secrets.A} and ${secrets.B}", "alpha and beta"],
    ["adjacent placeholders", "${secrets.A}${secrets.B}", "alphabeta"],
    ["a non-granted secret stays literal", "[${secrets.HIDDEN}]", "[${secrets.HIDDEN}]"],
    ["a missing secret stays literal", "${secrets.MISSING}", "${secrets.MISSING}"],
    ["__proto__ stays literal", "${secrets.__proto__}", "${secrets.__proto__}"],
    ["constructor stays literal", "${secrets.constructor}", "${secrets.constructor}"],
    ["an unterminated placeholder stays literal", "x ${secrets.A", "x ${secrets.A"],
    ["a value that names another secret is not expanded again", "${secrets.NESTED}", "${secrets.A}"],
    ["text without placeholders is untouched", "plain $ {secrets.A}", "plain $ {secrets.A}"],
  ])("%s", async (_label, template, expected) => {
    const r = await createResponder(stack, user, {
      settings: {
        body: template,
        headers: [["x-t", template]],
        secrets: { selected: [ids.A, ids.B, ids.NESTED] },
      },
    });
    const res = await hitUrl(stack, r.url);
    expect(res.status).toBe(200);
    expect(res.text).toBe(expected);
    expect(res.header("x-t")).toBe(expected);
  });

  it("header names are never expanded: a placeholder is not a valid header name", async () => {
    const res = await call(stack, "POST", "/api/webhooks/responders", {
      auth: user.auth,
      json: { name: "named", location: { pathType: "=", path: "/named" }, method: "GET", settings: { requestsToTrack: 0, statusCode: 200, headers: [["x-${secrets.A}", "v"]], secrets: "all" } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: "settings.headers[0] has an invalid header name" });
  });

  it('access "none" leaves every placeholder literal', async () => {
    const r = await createResponder(stack, user, { settings: { body: "${secrets.A}", headers: [["x-t", "${secrets.B}"]], secrets: "none" } });
    const res = await hitUrl(stack, r.url);
    expect(res.text).toBe("${secrets.A}");
    expect(res.header("x-t")).toBe("${secrets.B}");
  });

  it('"all" grants every secret of the user and nothing of another user', async () => {
    const other = await newUser(stack);
    await createSecret(other, "B", "other-users-beta");
    const r = await createResponder(stack, user, { settings: { body: "${secrets.HIDDEN}/${secrets.B}", secrets: "all" } });
    expect((await hitUrl(stack, r.url)).text).toBe("not-granted/beta");
  });

  it("a value that would put CR or LF into a header is refused with a 500 that names no value", async () => {
    const id = await createSecret(user, "CRLF", "evil\r\nx-injected: yes");
    const r = await createResponder(stack, user, { settings: { headers: [["x-t", "${secrets.CRLF}"]], secrets: { selected: [id] } } });
    const res = await hitUrl(stack, r.url);
    expect(res.status).toBe(500);
    expect(res.header("x-injected")).toBeUndefined();
    expect(res.header("content-type")).toMatch(/^text\/plain/);
    expect(res.text).not.toContain("evil");
    expect(res.text).toMatch(/header value/);
  });
});

describe("scripted responders", () => {
  let user: TestUser;
  let ids: Record<string, string>;
  beforeAll(async () => {
    user = await newUser(stack);
    ids = { A: await createSecret(user, "A", "alpha"), B: await createSecret(user, "B", "beta") };
  });

  const secretsScript = "(async () => ({ body: JSON.stringify(context.secrets) }))()";

  it.each([
    ["all", () => "all", { A: "alpha", B: "beta" }],
    ["selected", () => ({ selected: [ids.B] }), { B: "beta" }],
    ["none", () => "none", {}],
  ])("context.secrets holds exactly the granted secrets: %s", async (_label, access, expected) => {
    const r = await createResponder(stack, user, { settings: { script: secretsScript, secrets: access() } });
    const res = await hitUrl(stack, r.url);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(expected);
  });

  it("a non-granted secret is undefined and secrets is always an object", async () => {
    const r = await createResponder(stack, user, {
      settings: { script: "(async () => ({ body: typeof context.secrets + ':' + typeof context.secrets.A }))()", secrets: "none" },
    });
    expect((await hitUrl(stack, r.url)).text).toBe("object:undefined");
  });

  it("the script sees the request and never the expanded static values", async () => {
    const r = await createResponder(stack, user, {
      location: { pathType: "^", path: "/ctx" },
      method: "ANY",
      settings: {
        body: "static ${secrets.A}",
        headers: [["x-static", "${secrets.B}"]],
        script: "(async () => { const { secrets, ...rest } = context; return { headers: { 'x-keys': Object.keys(rest).join(',') }, body: JSON.stringify(rest) }; })()",
        secrets: "all",
      },
    });
    const res = await hitUrl(stack, r.url, { method: "POST", body: "hi", headers: { "x-custom": "1" } }, "/more?q=1&q=2&r=x");
    expect(res.status).toBe(200);
    expect(res.header("x-keys")).toBe("clientAddress,method,headers,path,rawQuery,query,body");
    expect(res.text).not.toContain("alpha");
    expect(res.text).not.toContain("beta");
    expect(res.text).not.toContain("static");
    const ctx = JSON.parse(res.text);
    expect(ctx).toMatchObject({ method: "POST", path: "/ctx/more", rawQuery: "q=1&q=2&r=x", query: { q: "2", r: "x" }, body: [104, 105] });
    expect(ctx.headers["x-custom"]).toBe("1");
  });

  it("the result is merged field by field with the static settings", async () => {
    const base = { statusCode: 201, headers: [["x-static", "${secrets.A}"]], body: "static ${secrets.B}", secrets: "all" };
    const headersOnly = await createResponder(stack, user, {
      settings: { ...base, script: "(async () => ({ headers: { 'x-script': 's' } }))()" },
    });
    let res = await hitUrl(stack, headersOnly.url);
    expect([res.status, res.header("x-static"), res.header("x-script"), res.text]).toEqual([201, undefined, "s", "static beta"]);

    const statusAndBody = await createResponder(stack, user, { settings: { ...base, script: "(async () => ({ statusCode: 202, body: 'b' }))()" } });
    res = await hitUrl(stack, statusAndBody.url);
    expect([res.status, res.header("x-static"), res.text]).toEqual([202, "alpha", "b"]);

    // Script output is never expanded.
    const echo = await createResponder(stack, user, { settings: { ...base, script: "(async () => ({ body: '${secrets.A}' }))()" } });
    expect((await hitUrl(stack, echo.url)).text).toBe("${secrets.A}");
  });

  it.each([
    ["time limit", 504, "(async () => { while (true) {} })()", /time/i],
    ["refused URL", 502, "(async () => Deno.core.ops.op_proxy_request({ url: 'http://10.1.2.3/' }))()", /refused: private address/],
    ["upstream failure", 502, "(async () => Deno.core.ops.op_proxy_request({ url: 'http://127.0.0.1:1/' }))()", /./],
    ["oversize upstream body", 413, "(async () => Deno.core.ops.op_proxy_request({ url: 'http://127.0.0.1:UPSTREAM/big' }))()", /./],
    ["script error", 500, "(async () => { throw new Error('boom from the script'); })()", /boom from the script/],
  ])("%s → %i as text/plain without host details", async (_label, status, script, message) => {
    const r = await createResponder(stack, user, {
      settings: { script: script.replace("UPSTREAM", String(upstreamPort)), requestsToTrack: 1 },
    });
    const res = await hitUrl(stack, r.url);
    expect(res.status).toBe(status);
    expect(res.header("content-type")).toMatch(/^text\/plain/);
    expect(res.text).toMatch(message);
    expect(res.text).not.toMatch(/\/work|node_modules|sandbox\/|\.ts:|\.js:\d/);
    // A failed execution is tracked with the response it produced.
    const [entry] = await historyOf(stack, user, r.id, 1);
    expect(entry?.responseStatusCode).toBe(status);
  });

  it("skipRequest records nothing; trackResponse records the response", async () => {
    const skip = await createResponder(stack, user, {
      settings: { requestsToTrack: 5, script: "(async () => ({ body: 'skipped', skipRequest: true }))()" },
    });
    const track = await createResponder(stack, user, {
      settings: { requestsToTrack: 5, script: "(async () => ({ statusCode: 203, body: 'kept', trackResponse: true }))()" },
    });
    const plain = await createResponder(stack, user, { settings: { requestsToTrack: 5, script: "(async () => ({ body: 'plain' }))()" } });
    // The reference keeps the first 1 MiB of a tracked body (RESPONDER_TRACKED_RESPONSE_MAX_BYTES); the caller gets it whole.
    const large = await createResponder(stack, user, {
      settings: { requestsToTrack: 5, script: "(async () => ({ headers: { 'x-kept': 'é' }, body: 'ab'.repeat(768 * 1024), trackResponse: true }))()" },
    });
    expect((await hitUrl(stack, skip.url)).text).toBe("skipped");
    expect((await hitUrl(stack, track.url)).text).toBe("kept");
    expect((await hitUrl(stack, plain.url)).text).toBe("plain");
    expect((await hitUrl(stack, large.url)).text).toHaveLength(1536 * 1024);
    const [tracked] = await historyOf(stack, user, track.id, 1);
    expect(tracked).toMatchObject({ responseStatusCode: 203, responseHeaders: [], responseBody: [...Buffer.from("kept")] });
    expect(tracked).not.toHaveProperty("response");
    const [untracked] = await historyOf(stack, user, plain.id, 1);
    expect(untracked).toBeDefined();
    expect(Object.keys(untracked!).filter((k) => k.startsWith("response"))).toEqual([]);
    const [cut] = await historyOf(stack, user, large.id, 1);
    expect(cut?.responseBody).toEqual([...Buffer.from("ab".repeat(512 * 1024))]);
    expect(cut?.responseHeaders).toEqual([["x-kept", [0xe9]]]);
    // The other two were recorded by now (same path, written in order), so an empty history means skipped.
    expect(await historyOf(stack, user, skip.id, 0)).toEqual([]);
  });

  it("11 concurrent slow requests: ten run, the eleventh gets 429 with Retry-After: 1", async () => {
    const r = await createResponder(stack, user, {
      settings: { script: `(async () => Deno.core.ops.op_proxy_request({ url: 'http://127.0.0.1:${upstreamPort}/hold', timeout: 20000 }))()` },
    });
    const allHeld = new Promise<void>((resolve) => {
      heldChanged = () => held.length >= 10 && resolve();
    });
    const ten = Array.from({ length: 10 }, () => hitUrl(stack, r.url));
    await allHeld;
    const eleventh = await hitUrl(stack, r.url);
    expect(eleventh.status).toBe(429);
    expect(eleventh.header("retry-after")).toBe("1");
    for (const res of held.splice(0)) res.end("released");
    const answers = await Promise.all(ten);
    expect(answers.map((a) => [a.status, a.text])).toEqual(Array.from({ length: 10 }, () => [200, "released"]));
    // The slots are free again.
    const again = hitUrl(stack, r.url);
    await new Promise<void>((resolve) => (heldChanged = () => held.length >= 1 && resolve()));
    for (const res of held.splice(0)) res.end("again");
    expect((await again).text).toBe("again");
  });
});
