import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCert } from "../../common/certificates.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, createTracker, logsOf, refresh, startUpstream } from "../helpers/trackers.js";

// `_test`, `_debug` and target.acceptInvalidCertificates of API trackers,
// through the real gateway, broker and sandbox, against a local upstream (and
// an HTTPS one whose certificate no one trusts) that the sandbox allow-lists.

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let secure: https.Server;
let securePort: number;

beforeAll(async () => {
  upstream = await startUpstream((req) => {
    if (req.url.startsWith("/missing")) return { status: 404, body: "no such thing", type: "text/plain" };
    if (req.url.startsWith("/echo")) return { body: JSON.stringify({ method: req.method, body: req.body, auth: req.headers.authorization ?? null }) };
    if (req.url.startsWith("/large")) return { body: JSON.stringify({ filler: "é".repeat(40_000) }) };
    if (req.url.startsWith("/scripts/extractor.js")) {
      return { body: "(() => ({ body: { fromRemote: JSON.parse(Deno.core.decode(new Uint8Array(context.responses[0].body))).items } }))()", type: "text/javascript" };
    }
    if (req.url.startsWith("/scripts/configurator.js")) return { body: "(() => ({ requests: [{ url: context.requests[0].url + '?configured=1' }] }))()", type: "text/javascript" };
    return { body: JSON.stringify({ items: [1, 2, 3] }) };
  });
  const leaf = await issueCert(await createCa("untrusted test CA"), "localhost");
  secure = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("over tls"));
  await new Promise<void>((r) => secure.listen(0, "127.0.0.1", r));
  securePort = (secure.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port},127.0.0.1:${securePort}` },
    gatewayEnv: { TRACKER_SCRIPT_TIMEOUT_MS: "3000", TRACKER_REQUEST_TIMEOUT_MS: "2000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  upstream?.close();
  secure?.closeAllConnections();
  secure?.close();
  await stack?.stop();
});

const url = (path: string) => `http://127.0.0.1:${upstream.port}${path}`;
const seenAt = (marker: string) => upstream.seen.filter((r) => r.url.includes(marker));
const test = (u: TestUser, json: unknown) => call(stack, "POST", `${API_TRACKERS}/_test`, { auth: u.auth, json });
const debug = (u: TestUser, json: unknown, auth = u.auth) => call(stack, "POST", `${API_TRACKERS}/_debug`, { auth, json });
const total = async (u: TestUser) => (await call(stack, "GET", API_TRACKERS, { auth: u.auth })).body.total as number;

describe("_test", () => {
  it("sends the target's request once from the sandbox and answers the raw response, whatever its status; nothing is stored", async () => {
    const user = await newUser(stack);
    const res = await test(user, { target: { url: url("/missing?x=1"), headers: { "x-probe": "yes" } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ status: 404, headers: expect.objectContaining({ "content-type": "text/plain" }), body: "no such thing", latencyMs: expect.any(Number) });
    expect(Object.keys(res.body).sort()).toEqual(["body", "headers", "latencyMs", "status"]);
    const seen = seenAt("/missing?x=1");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers["x-probe"]).toBe("yes");
    expect(await total(user)).toBe(0);
  });

  it("sends the method and body, and runs none of the target's scripts", async () => {
    const user = await newUser(stack);
    const res = await test(user, {
      target: {
        url: url("/echo-test"),
        method: "POST",
        body: { q: 1 },
        configurator: "(() => { throw new Error('must not run'); })()",
        extractor: "(() => { throw new Error('must not run'); })()",
      },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe(200);
    expect(JSON.parse(res.body.body)).toEqual({ method: "POST", body: '{"q":1}', auth: null });
  });

  it("is 400 naming why when the request cannot be made, e.g. an address the outbound policy refuses", async () => {
    const user = await newUser(stack);
    const res = await test(user, { target: { url: "http://10.1.2.3/x" } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^Request failed: GET http:\/\/10\.1\.2\.3\/x: request to 10\.1\.2\.3 refused: private address$/);
    const bad = await test(user, { target: { url: "ftp://x" } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/target\.url/);
  });

  it("wants a signed-in user", async () => {
    expect((await call(stack, "POST", `${API_TRACKERS}/_test`, { json: { target: { url: url("/x") } } })).status).toBe(401);
  });
});

describe("target.acceptInvalidCertificates", () => {
  it("is refused by default and skips TLS verification for this tracker's request when true", async () => {
    const user = await newUser(stack);
    const strict = await test(user, { target: { url: `https://127.0.0.1:${securePort}/` } });
    expect(strict.status).toBe(400);
    expect(strict.body.message).toMatch(/^Request failed: /);
    const lenient = await test(user, { target: { url: `https://127.0.0.1:${securePort}/`, acceptInvalidCertificates: true } });
    expect(lenient.status, lenient.text).toBe(200);
    expect(lenient.body.body).toBe("over tls");
  });

  it("is stored and returned with the tracker, and its runs use it", async () => {
    const user = await newUser(stack);
    const created = await call(stack, "POST", API_TRACKERS, {
      auth: user.auth,
      json: { name: "tls", config: { revisions: 3 }, target: { url: `https://127.0.0.1:${securePort}/`, acceptInvalidCertificates: true } },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.target).toEqual({ url: `https://127.0.0.1:${securePort}/`, method: "GET", acceptInvalidCertificates: true });
    const run = await refresh(stack, user, created.body.id);
    expect(run.status, run.text).toBe(200);
    expect(run.body.map((r) => r.data.original)).toEqual(["over tls"]);

    // Replaced by a target without it, the tracker verifies certificates again.
    const put = await call(stack, "PUT", `${API_TRACKERS}/${created.body.id}`, { auth: user.auth, json: { target: { url: `https://127.0.0.1:${securePort}/` } } });
    expect(put.status).toBe(204);
    const strict = await refresh(stack, user, created.body.id);
    expect(strict.status).toBe(422);
    expect((await logsOf(stack, user, created.body.id))[0]!.stages[0]).toMatchObject({ stage: "request", ok: false });
  });
});

describe("_debug", () => {
  const SECRET = "debug-planted-value";
  const CONFIGURATOR = `(() => {
    console.log("token", context.params.secrets.TOKEN);
    const r = context.requests[0];
    return { requests: [{ ...r, headers: { ...r.headers, authorization: "Bearer " + context.params.secrets.TOKEN } }] };
  })()`;
  const EXTRACTOR = `(() => {
    const json = JSON.parse(Deno.core.decode(new Uint8Array(context.responses[0].body)));
    return { body: { sawAuth: json.auth === "Bearer " + context.params.secrets.TOKEN, method: json.method } };
  })()`;

  it("runs configurator, request and extractor once with a grant of its own, answers each stage, stores nothing and audits the release", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(stack, user, "TOKEN", SECRET);
    const res = await debug(user, {
      name: "ignored",
      config: { revisions: 3 },
      target: { url: url("/echo-debug"), configurator: CONFIGURATOR, extractor: EXTRACTOR },
      secrets: { selected: [secretId] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    const body = res.body;
    expect(body.result).toEqual({ sawAuth: true, method: "GET" });
    expect(body.error).toBeUndefined();
    expect(body.elapsedMs).toBe(body.durationMs);
    expect(body.target.type).toBe("api");
    // What it returned, as the reference's debug shows it, the secret masked.
    expect(body.target.configurator).toMatchObject({
      result: { requests: [{ url: url("/echo-debug"), method: "GET", headers: { authorization: "Bearer ********" } }] },
      logs: ["token ********"],
      durationMs: expect.any(Number),
    });
    // Each request as sent (after the configurator) and its response, the secret masked wherever it appears.
    const echoed = { method: "GET", body: "", auth: "Bearer ********" };
    const where = `http://127.0.0.1:${upstream.port}/echo-debug`;
    const rawSize = Buffer.byteLength(JSON.stringify({ ...echoed, auth: `Bearer ${SECRET}` }));
    const [sent] = body.target.requests;
    expect(sent).toEqual({
      index: 0,
      source: "configurator",
      method: "GET",
      url: where,
      requestHeaders: { authorization: "Bearer ********" },
      statusCode: 200,
      responseHeaders: expect.objectContaining({ "content-type": "application/json" }),
      responseBodyRaw: JSON.stringify(echoed),
      responseBodyRawSize: rawSize,
      responseBodyParsed: echoed,
      durationMs: expect.any(Number),
      request: { method: "GET", url: where, headers: { authorization: "Bearer ********" } },
      response: { statusCode: 200, headers: sent.responseHeaders, body: JSON.stringify(echoed) },
    });
    expect(body.target.requests).toHaveLength(1);
    // The pipeline again at the top, where the web-scraping-api document reads it.
    expect([body.configurator, body.requests, body.extractor]).toEqual([body.target.configurator, body.target.requests, body.target.extractor]);
    expect(body.target.extractor).toMatchObject({ result: { sawAuth: true, method: "GET" } });
    expect(body.stages.map((s: { stage: string; ok: boolean }) => [s.stage, s.ok])).toEqual([
      ["configurator", true],
      ["request", true],
      ["extractor", true],
    ]);
    expect(seenAt("/echo-debug")).toHaveLength(1);
    expect(await total(user)).toBe(0);

    const audit = await call(stack, "GET", "/api/user/secrets/_audit", { auth: user.auth });
    expect(audit.status).toBe(200);
    const releases = audit.body.events.filter((e: { consumer?: string }) => e.consumer === "api_tracker:_debug");
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({ outcome: "released", purpose: "script", secretIds: [secretId] });
    expect(stack.output()).not.toContain(SECRET);
  });

  it("answers a failed stage as a result with its error, the secret masked", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const res = await debug(user, {
      target: { url: url("/debug-fails"), extractor: "(() => { throw new Error('bad ' + context.params.secrets.TOKEN); })()" },
      secrets: "all",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    expect(res.body.result).toBeUndefined();
    expect(res.body.error).toMatch(/^the extractor stage failed: .*bad \*{8}/);
    expect(res.body.target.requests[0]).toMatchObject({ source: "original", statusCode: 200 });
    expect(res.body.target.extractor.error).toMatch(/bad \*{8}/);

    const refused = await debug(user, { target: { url: "http://10.1.2.3/x" } });
    expect(refused.status).toBe(200);
    expect(refused.body.target.requests).toEqual([
      {
        index: 0,
        source: "original",
        method: "GET",
        url: "http://10.1.2.3/x",
        requestHeaders: {},
        error: expect.stringMatching(/refused: private address$/),
        durationMs: expect.any(Number),
        request: { method: "GET", url: "http://10.1.2.3/x", headers: {} },
      },
    ]);
  });

  it("says what the configurator returned: responses (and no request sent), or nothing (the target's own request sent)", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const answered = await debug(user, {
      target: {
        url: url("/never-sent"),
        configurator: `(() => ({ responses: [
          { status: 200, headers: { "x-t": context.params.secrets.TOKEN }, body: Deno.core.encode(JSON.stringify({ n: 1, t: context.params.secrets.TOKEN })) },
          { status: 201, body: Deno.core.encode("plain text") },
        ] }))();`,
        // The content is the user's own (not masked): here it holds no value, so the whole answer can be checked.
        extractor: "(() => ({ body: { responses: context.responses.length } }))();",
      },
      secrets: "all",
    });
    expect(answered.status, answered.text).toBe(200);
    expect(answered.text).not.toContain(SECRET);
    // Each body as the JSON it holds, else as text, as the reference shows it.
    expect(answered.body.target.configurator.result).toEqual({
      responses: [
        { status: 200, headers: { "x-t": "********" }, body: { n: 1, t: "********" } },
        { status: 201, headers: {}, body: "plain text" },
      ],
    });
    expect(answered.body.target.requests).toEqual([]);
    expect(seenAt("/never-sent")).toHaveLength(0);

    const passed = await debug(user, { target: { url: url("/debug-own-request"), configurator: "(() => null)();" } });
    expect(passed.status, passed.text).toBe(200);
    expect(passed.body.target.configurator.result).toBeUndefined();
    expect(passed.body.target.requests).toMatchObject([{ source: "original", statusCode: 200 }]);
  });

  it("fetches scripts saved as URLs on each run, as the reference does; one that cannot be fetched fails its stage naming it", async () => {
    const user = await newUser(stack);
    const res = await debug(user, { target: { url: url("/items"), configurator: url("/scripts/configurator.js"), extractor: url("/scripts/extractor.js") } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({ fromRemote: [1, 2, 3] });
    expect(seenAt("/items?configured=1")).toHaveLength(1);
    const missing = await debug(user, { target: { url: url("/items"), extractor: url("/missing/extractor.js") } });
    expect(missing.body.error).toBe(`the extractor stage failed: the extractor script at ${url("/missing/extractor.js")} could not be fetched: it answered 404`);
    expect(missing.body.target.extractor.error).toMatch(/could not be fetched/);
  });

  it("shows a request's body with the secret masked, and cuts a long response's body to 64 KiB without a character cut in two", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const configurator = `(() => [context.requests[0], { ...context.requests[0], url: context.requests[0].url.replace("/large", "/echo-body"), method: "POST", body: Deno.core.encode("key=" + context.params.secrets.TOKEN) }])()`;
    const res = await debug(user, {
      target: { url: url("/large?q=hidden"), configurator: `(() => ({ requests: ${configurator} }))()`, extractor: "(() => ({ body: 1 }))()" },
      secrets: "all",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    const [large, posted] = res.body.target.requests;
    // The query is left out of the URL shown, as the run logs leave it out.
    expect(large.url).toBe(`http://127.0.0.1:${upstream.port}/large`);
    expect(large.responseBodyRawSize).toBe(Buffer.byteLength(JSON.stringify({ filler: "é".repeat(40_000) })));
    expect(large.responseBodyTruncated).toBe(true);
    expect(Buffer.byteLength(large.responseBodyRaw)).toBe(64 * 1024 - 1);
    expect(large.responseBodyRaw.endsWith("é")).toBe(true);
    expect(large).not.toHaveProperty("responseBodyParsed");
    expect(posted).toMatchObject({ method: "POST", requestBody: "key=********", statusCode: 200 });
    expect(posted).not.toHaveProperty("requestBodyTruncated");
    expect(posted.responseBodyParsed).toEqual({ method: "POST", body: "key=********", auth: null });
  });

  it("needs what creating the tracker would: an API key without secrets:grant may not give the run secrets", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const key = await call(stack, "POST", `/api/users/${user.id}/api_keys`, { auth: { bearer: stack.operatorToken }, json: { name: "narrow", scopes: ["trackers"] } });
    expect(key.status, key.text).toBe(201);
    const narrow = { bearer: key.body.token as string };
    const refused = await debug(user, { target: { url: url("/debug-narrow") }, secrets: "all" }, narrow);
    expect(refused.status).toBe(403);
    expect(seenAt("/debug-narrow")).toHaveLength(0);
    const plain = await debug(user, { target: { url: url("/debug-narrow") } }, narrow);
    expect(plain.status, plain.text).toBe(200);
    expect(plain.body.result).toEqual({ items: [1, 2, 3] });
  });

  it("refuses a target create would refuse, and wants a signed-in user", async () => {
    const user = await newUser(stack);
    const res = await debug(user, { target: { url: url("/x"), configurator: " " } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/target\.configurator/);
    expect((await call(stack, "POST", `${API_TRACKERS}/_debug`, { json: { target: { url: url("/x") } } })).status).toBe(401);
  });
});

describe("a tracker made from a debugged target", () => {
  it("runs as the debug run did", async () => {
    const user = await newUser(stack);
    const target = { url: url("/same") };
    const dbg = await debug(user, { target });
    const id = await createTracker(stack, user, { name: "same", target });
    const run = await refresh(stack, user, id);
    expect(run.body[0]!.data.original).toEqual(dbg.body.result);
  });
});
