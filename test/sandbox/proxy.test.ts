import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind, type ExecuteResponse, type ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { createCa, issueCert } from "../../common/certificates.js";
import { createSecret, newUser } from "../helpers/http.js";
import { bodyOf, execute, randomUser, sandboxAs, scriptGrant } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// Deno.core.ops.op_proxy_request called from scripts, through the real
// sandbox, against HTTP servers this test runs on 127.0.0.1. Only the first
// server's port (and one port nobody listens on) is allow-listed.
const MAX_RESPONSE_BYTES = 1000;
/** Every byte value once: the exact bytes /echo answers with. */
const ECHO_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

interface Hit {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

interface LocalServer {
  server: http.Server;
  port: number;
  hits: Hit[];
}

/** A server on 127.0.0.1 that records each request (with its body), then calls `handler`. */
async function startServer(handler: (path: string, res: http.ServerResponse) => void): Promise<LocalServer> {
  const hits: Hit[] = [];
  const server = http.createServer(async (req, res) => {
    res.on("error", () => {});
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    hits.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
    handler(req.url!, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

async function stopServer(s: LocalServer | undefined): Promise<void> {
  if (!s) return;
  s.server.closeAllConnections();
  await new Promise((resolve) => s.server.close(resolve));
}

let hangArrived!: () => void;
const hang = new Promise<void>((resolve) => (hangArrived = resolve));

function route(path: string, res: http.ServerResponse): void {
  const pathname = path.split("?")[0];
  switch (pathname) {
    case "/echo":
      res.writeHead(201, { "x-reply": "yes", "content-type": "application/octet-stream", "content-length": ECHO_BYTES.length }).end(ECHO_BYTES);
      return;
    case "/empty":
      res.writeHead(200).end();
      return;
    case "/redirect":
      res.writeHead(302, { location: `http://127.0.0.1:${allowed.port}/target` }).end("moved");
      return;
    case "/hang":
      hangArrived(); // and never answer
      return;
    case "/exact":
      res.end(Buffer.alloc(MAX_RESPONSE_BYTES, 0x61));
      return;
    case "/big":
      res.end(Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x61));
      return;
    case "/big-chunked":
      res.write(Buffer.alloc(600, 0x61));
      res.end(Buffer.alloc(600, 0x62));
      return;
    default:
      res.writeHead(404).end("not here");
  }
}

/** A port nothing listens on (the OS gave it out, it is closed again). */
async function closedPort(): Promise<number> {
  const s = await startServer(() => {});
  await stopServer(s);
  return s.port;
}

let stack: Stack;
let sandbox: ScriptRunnerClient;
let allowed: LocalServer;
let other: LocalServer;
let refusedPort: number;
let secure: https.Server;
let securePort = 0;
const user = randomUser();

beforeAll(async () => {
  // The allow-list is read when the sandbox starts, so the ports come first.
  allowed = await startServer(route);
  other = await startServer(route);
  refusedPort = await closedPort();
  // Issued by a CA nobody trusts, as a self-signed upstream is.
  const leaf = await issueCert(await createCa("untrusted test CA"), "localhost");
  secure = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end("secure answer"));
  await new Promise<void>((resolve) => secure.listen(0, "127.0.0.1", resolve));
  securePort = (secure.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: {
      OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${allowed.port},127.0.0.1:${refusedPort},127.0.0.1:${securePort}`,
      OUTBOUND_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
    },
  });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  secure?.closeAllConnections();
  secure?.close();
  await Promise.all([stack?.stop(), stopServer(allowed), stopServer(other)]);
});

const url = (path: string) => `http://127.0.0.1:${allowed.port}${path}`;
const hitsTo = (path: string) => allowed.hits.filter((h) => h.url === path);

async function run(script: string): Promise<ExecuteResponse> {
  const o = await execute(sandbox, { userId: user, script });
  if (!o.ok) throw new Error(`rpc failed: ${o.code} ${o.details}`);
  return o.value;
}

/** A script that awaits one op_proxy_request and lets a failure escape. */
const uncaught = (request: string) => `(async () => { await Deno.core.ops.op_proxy_request(${request}); return { body: "no error" }; })()`;

describe("refused destinations", () => {
  // {allowed} and {other} stand for the servers' ports, known once they listen.
  // In the reference's wording, with our reason after the URL.
  const refused = [
    ["loopback on a port not allow-listed", "http://127.0.0.1:{other}/echo", "request to 127.0.0.1 refused: loopback address"],
    ["a private address", "http://10.0.0.1/", "request to 10.0.0.1 refused: private address"],
    ["the metadata address", "http://169.254.169.254/latest/meta-data/", "request to 169.254.169.254 refused: cloud metadata address"],
    ["IPv6 loopback on the allow-listed port", "http://[::1]:{allowed}/echo", "request to [::1] refused: loopback address"],
    [
      "a name resolving to 127.0.0.1, on the allow-listed port",
      "http://localhost:{allowed}/echo",
      "request to localhost refused: it resolves to a non-public address (loopback address)",
    ],
  ].map(([what, template, reason]) => [what!, template!, (url: string) => `URL not allowed (non-public address): ${url} (${reason})`] as const);
  const urlOf = (template: string) => template.replace("{allowed}", String(allowed.port)).replace("{other}", String(other.port));
  const target = (template: string) => JSON.stringify(urlOf(template));

  it.each(refused)("%s, uncaught: ERROR_KIND_URL_NOT_ALLOWED naming the URL and the reason", async (_what, template, messageFor) => {
    const before = allowed.hits.length;
    const r = await run(uncaught(`{ url: ${target(template!)} }`));
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_URL_NOT_ALLOWED, message: messageFor(urlOf(template)) });
    expect(other.hits).toEqual([]);
    expect(allowed.hits.length).toBe(before);
  });

  it.each(refused)("%s, caught: an Error the script can read", async (_what, template, messageFor) => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        try { await Deno.core.ops.op_proxy_request({ url: ${target(template!)} }); return { body: "no error" }; }
        catch (e) { return { body: [e instanceof Error, e.message].join(" | ") }; }
      })()`,
    });
    expect(body).toBe(`true | ${messageFor(urlOf(template))}`);
    expect(other.hits).toEqual([]);
  });

  it.each([
    ["a URL that does not parse", `{ url: "not a url" }`, "Invalid URL 'not a url': relative URL without a base"],
    ["a URL with a bad host", `{ url: "http://exa mple.com/" }`, "Invalid URL 'http://exa mple.com/': invalid URL syntax"],
    ["a scheme other than http(s)", `{ url: "ftp://example.com/x" }`, "URL not allowed (non-public address): ftp://example.com/x (URL scheme ftp: not allowed: only http: and https:)"],
    ["credentials in the URL (never shown)", `{ url: "http://user:pw@example.com/" }`, "URL not allowed (non-public address): http://example.com/ (URLs with credentials (user:password@) are not allowed)"],
    ["a method that is no token", `{ url: "http://example.com/", method: "GE T" }`, "Invalid HTTP method: 'GE T'"],
    ["CONNECT", `{ url: "http://example.com/", method: "CONNECT" }`, "Invalid HTTP method: 'CONNECT' (CONNECT is not allowed)"],
    ["a header name that is no token", `{ url: "http://example.com/", headers: { "x y": "1" } }`, "Invalid header name: 'x y'"],
    ["a header value with a line break", `{ url: "http://example.com/", headers: { "x-y": "a\\nb" } }`, "Invalid header value for 'x-y'"],
  ])("%s: refused before any connection, in the documented wording", async (_what, request, message) => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        try { await Deno.core.ops.op_proxy_request(${request}); return { body: "no error" }; }
        catch (e) { return { body: e.message }; }
      })()`,
    });
    expect(body).toBe(message);
  });
});

describe("the allow-listed server", () => {
  it("receives the method, headers and body, and its answer comes back exactly", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        const r = await Deno.core.ops.op_proxy_request({
          url: ${JSON.stringify(url("/echo?case=full"))},
          method: "PUT",
          headers: { "x-test": "yes", "x-multi": ["a", "b"], "x-num": 7 },
          body: "payload é",
        });
        return { body: { statusCode: r.statusCode, headers: r.headers, isArray: Array.isArray(r.body), body: r.body } };
      })()`,
    });
    const [hit] = hitsTo("/echo?case=full");
    expect(hit?.method).toBe("PUT");
    expect(hit?.body.toString("utf8")).toBe("payload é");
    const headerPairs = hit!.rawHeaders.flatMap((v, i, all) => (i % 2 === 0 ? [[v.toLowerCase(), all[i + 1]]] : []));
    expect(headerPairs).toEqual(
      expect.arrayContaining([
        ["x-test", "yes"],
        ["x-multi", "a"],
        ["x-multi", "b"],
        ["x-num", "7"],
        ["content-length", String(Buffer.byteLength("payload é"))],
      ]),
    );
    const answer = JSON.parse(body);
    expect(answer.statusCode).toBe(201);
    // The length is the one on the wire: the reference hands it over under another name.
    expect(answer.headers).toMatchObject({ "x-reply": "yes", "content-type": "application/octet-stream", "x-original-content-length": "256" });
    expect(answer.headers["content-length"]).toBeUndefined();
    expect(answer.isArray).toBe(true);
    expect(answer.body).toEqual([...ECHO_BYTES]);
  });

  it("the proxied response returned as is is the script's result", async () => {
    const r = await run(`(async () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("/echo?case=as-is"))} }))()`);
    expect(r.error).toBeUndefined();
    expect(r.responder?.statusCode).toBe(201);
    expect(r.responder?.headers?.items).toEqual(expect.arrayContaining([{ name: "x-reply", value: "yes" }]));
    expect(Buffer.from(r.responder!.body!).equals(ECHO_BYTES)).toBe(true);
  });

  it("an empty proxied response returned as is is an empty body, not the default", async () => {
    const r = await run(`(async () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("/empty"))} }))()`);
    expect(r.error).toBeUndefined();
    expect(r.responder?.statusCode).toBe(200);
    expect(r.responder?.body).toBeDefined();
    expect(r.responder!.body!.length).toBe(0);
  });

  it("a 302 comes back as is and its Location is never requested", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("/redirect"))} });
        return { body: { statusCode: r.statusCode, location: r.headers.location, text: String.fromCharCode(...r.body) } };
      })()`,
    });
    expect(JSON.parse(body)).toEqual({ statusCode: 302, location: url("/target"), text: "moved" });
    expect(hitsTo("/redirect")).toHaveLength(1);
    expect(hitsTo("/target")).toEqual([]);
  });

  it.each([
    ["a string, as UTF-8", `"héllo"`, Buffer.from("héllo", "utf8")],
    ["a Uint8Array, as is", "new Uint8Array([0, 255, 1])", Buffer.from([0, 255, 1])],
    ["a subarray, as its bytes", "new Uint8Array([9, 8, 7, 6]).subarray(1, 3)", Buffer.from([8, 7])],
    ["an array of numbers, as those bytes", "[104, 105, 0, 255]", Buffer.from([104, 105, 0, 255])],
    ["an object, as JSON", `{ a: [1, "x"], b: null }`, Buffer.from('{"a":[1,"x"],"b":null}')],
    ["an empty array, as an empty body", "[]", Buffer.alloc(0)],
    ["a number, as text", "12.5", Buffer.from("12.5")],
  ])("a request body given as %s arrives as the right bytes", async (what, expr, expected) => {
    const path = `/echo?body=${encodeURIComponent(what)}`;
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(path))}, method: "POST", body: ${expr} });
        return { body: String(r.statusCode) };
      })()`,
    });
    expect(body).toBe("201");
    const [hit] = hitsTo(path);
    expect(hit?.body.toString("hex")).toBe(expected.toString("hex"));
  });

  it("a response of exactly the cap is accepted", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => ({ body: String((await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("/exact"))} })).body.length) }))()`,
    });
    expect(body).toBe(String(MAX_RESPONSE_BYTES));
  });
});

describe("upstream failures", () => {
  it("a timeout: ERROR_KIND_UPSTREAM_FAILURE, timed out", async () => {
    const r = await run(uncaught(JSON.stringify({ url: url("/hang"), timeout: 200 })));
    await hang; // the request did reach the server, which never answered
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, message: "Upstream request timed out: no answer from 127.0.0.1 within 200 ms" });
  });

  it.each([
    ["with a Content-Length", "/big", `${MAX_RESPONSE_BYTES + 1} bytes`],
    ["chunked", "/big-chunked", `more than ${MAX_RESPONSE_BYTES} bytes`],
  ])("a response over the cap (%s): ERROR_KIND_UPSTREAM_TOO_LARGE", async (_what, path, size) => {
    const r = await run(uncaught(JSON.stringify({ url: url(path) })));
    expect(r.error).toEqual({
      kind: ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE,
      message: `Upstream response body too large: ${size} exceeds limit of ${MAX_RESPONSE_BYTES} bytes`,
    });
  });

  it("connection refused: ERROR_KIND_UPSTREAM_FAILURE", async () => {
    const r = await run(uncaught(JSON.stringify({ url: `http://127.0.0.1:${refusedPort}/` })));
    expect(r.error).toEqual({
      kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE,
      message: "Failed to connect to upstream: request to 127.0.0.1 failed: connection refused (ECONNREFUSED)",
    });
  });

  it("a caught upstream failure lets the script answer anyway", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        try { await Deno.core.ops.op_proxy_request({ url: "http://127.0.0.1:${refusedPort}/" }); return { body: "no error" }; }
        catch (e) { return { body: "fallback: " + e.message }; }
      })()`,
    });
    expect(body).toBe("fallback: Failed to connect to upstream: request to 127.0.0.1 failed: connection refused (ECONNREFUSED)");
  });
});

describe("insecure: accept an untrusted certificate for one request", () => {
  it("refused by default, in the documented wording; accepted with insecure: true", async () => {
    const target = JSON.stringify(`https://127.0.0.1:${securePort}/`);
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        let strict;
        try { await Deno.core.ops.op_proxy_request({ url: ${target} }); strict = "no error"; } catch (e) { strict = e.message; }
        const lenient = await Deno.core.ops.op_proxy_request({ url: ${target}, insecure: true });
        return { body: [strict, lenient.statusCode, Deno.core.decode(new Uint8Array(lenient.body))].join(" | ") };
      })()`,
    });
    expect(body).toBe(
      "Upstream request failed: request to 127.0.0.1 failed: certificate not issued by a trusted authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE) | 200 | secure answer",
    );
  });
});

describe("secrets in messages", () => {
  it("a secret the script put in a refused URL is masked in the message the caller would see", async () => {
    const owner = await newUser(stack);
    const value = "sk-live-77c1e0d4a9";
    const id = await createSecret(stack, owner, "KEY", value);
    const o = await execute(sandbox, {
      userId: owner.id,
      grant: await scriptGrant(stack, owner.id, { selected: [id] }),
      script: uncaught("{ url: `http://10.0.0.1/v1?key=${context.secrets.KEY}` }"),
    });
    expect(o.ok && o.value.error).toEqual({
      kind: ErrorKind.ERROR_KIND_URL_NOT_ALLOWED,
      message: "URL not allowed (non-public address): http://10.0.0.1/v1?key=******** (request to 10.0.0.1 refused: private address)",
    });
  });
});
