import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCert } from "../../common/certificates.js";
import {
  ErrorKind,
  TrackerStage,
  type HttpRequestSpec,
  type RunApiTrackerRequest,
  type RunApiTrackerResponse,
  type ScriptRunnerClient,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { rpc } from "../helpers/broker-client.js";
import { createSecret, newUser, type TestUser } from "../helpers/http.js";
import { randomUser, sandboxAs, scriptGrant } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// RunApiTracker called directly, against local upstreams the outbound policy
// allow-lists: the contexts the runtime skill documents (`status`, `tags`,
// `previousContent`), the configurator and extractor results it allows
// (nothing, mocked `responses` with `status`), decompressed responses, and
// per-request acceptInvalidCertificates.
interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
}

let plain: http.Server;
let secure: https.Server;
let plainPort = 0;
let securePort = 0;
const seen: Seen[] = [];
let stack: Stack;
let sandbox: ScriptRunnerClient;

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.on("error", () => {});
  seen.push({ path: req.url ?? "", headers: req.headers });
  if (req.url?.startsWith("/gzip")) {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(zlib.gzipSync(JSON.stringify({ status: "compressed" })));
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "x-path": req.url ?? "" }).end(JSON.stringify({ status: "ok", path: req.url }));
}

beforeAll(async () => {
  plain = http.createServer(answer);
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  plainPort = (plain.address() as AddressInfo).port;
  // Issued by a CA nobody trusts: a self-signed development endpoint as a tracker meets it.
  const leaf = await issueCert(await createCa("untrusted test CA"), "localhost");
  secure = https.createServer({ cert: leaf.cert, key: leaf.key }, answer);
  await new Promise<void>((resolve) => secure.listen(0, "127.0.0.1", resolve));
  securePort = (secure.address() as AddressInfo).port;
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${plainPort},127.0.0.1:${securePort}` } });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  await stack?.stop();
  for (const s of [plain, secure]) {
    s?.closeAllConnections();
    s?.close();
  }
});

const plainUrl = (path: string) => `http://127.0.0.1:${plainPort}${path}`;
const secureUrl = (path: string) => `https://127.0.0.1:${securePort}${path}`;
const request = (url: string, extra: Partial<HttpRequestSpec> = {}): HttpRequestSpec => ({ url, method: "GET", headers: { items: [] }, ...extra });

async function runTracker(fields: Partial<RunApiTrackerRequest>): Promise<RunApiTrackerResponse> {
  const req: RunApiTrackerRequest = {
    userId: randomUser(),
    requests: [],
    acceptStatuses: [],
    requestTimeoutMs: 5000,
    limits: { timeoutMs: 0, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
    debug: false,
    ...fields,
  };
  const o = await rpc<RunApiTrackerResponse>((meta, opts, cb) => sandbox.runApiTracker(req, meta, { ...opts, deadline: Date.now() + 60_000 }, cb));
  if (!o.ok) throw new Error(`rpc failed: ${o.code} ${o.details}`);
  return o.value;
}

const contentOf = (r: RunApiTrackerResponse) => {
  const failed = r.stages.find((s) => s.error);
  if (failed) throw new Error(`stage ${failed.stage} failed: ${failed.error!.message}`);
  return Buffer.from(r.content!).toString("utf8");
};
const seenAt = (marker: string) => seen.filter((s) => s.path.includes(marker));

describe("the extractor's context", () => {
  it("responses carry status and statusCode; tags is an empty array; previousContent is where the skill puts it", async () => {
    const r = await runTracker({
      requests: [request(plainUrl("/ctx-a")), request(plainUrl("/ctx-b"))],
      previousContentJson: JSON.stringify({ original: { n: 4 } }),
      extractor: `(() => ({ body: {
        statuses: context.responses.map((r) => [r.status, r.statusCode]),
        paths: context.responses.map((r) => r.headers["x-path"]),
        tags: context.tags,
        top: context.previousContent,
        params: context.params.previousContent,
      } }))();`,
    });
    expect(JSON.parse(contentOf(r))).toEqual({
      statuses: [
        [200, 200],
        [200, 200],
      ],
      paths: ["/ctx-a", "/ctx-b"],
      tags: [],
      top: { original: { n: 4 } },
      params: { original: { n: 4 } },
    });
  });

  it("without a previous revision, previousContent is absent", async () => {
    const r = await runTracker({
      requests: [request(plainUrl("/ctx-first"))],
      extractor: `(() => ({ body: [typeof context.previousContent, typeof context.params.previousContent, Array.isArray(context.tags)] }))();`,
    });
    expect(JSON.parse(contentOf(r))).toEqual(["undefined", "undefined", true]);
  });

  // The service checks the previous content's shape only (common/json-shape.ts): it is written into the
  // context text, which the extractor's worker parses.
  it("a previous content that is not one object is refused; one shaped as an object but not JSON fails the extractor saying so", async () => {
    for (const previousContentJson of ['{"original":1},"responses":{', "[1]"]) {
      const req: RunApiTrackerRequest = { userId: randomUser(), requests: [], acceptStatuses: [], requestTimeoutMs: 5000, debug: false, previousContentJson, extractor: "1;" };
      const o = await rpc<RunApiTrackerResponse>((meta, opts, cb) => sandbox.runApiTracker(req, meta, opts, cb));
      expect(o).toMatchObject({ ok: false, details: "previous_content_json must be a JSON object" });
    }
    const r = await runTracker({ previousContentJson: '{"original":1,}', extractor: "(() => ({ body: 1 }))();" });
    const extractor = r.stages.find((s) => s.stage === TrackerStage.TRACKER_STAGE_EXTRACTOR);
    expect(extractor?.error).toEqual({ kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: "the execution's context is not JSON" });
    expect(r.content).toBeUndefined();
  });

  it("the skill's extractor reads a compressed JSON response, decoded before it runs", async () => {
    const r = await runTracker({
      requests: [request(plainUrl("/gzip"))],
      extractor: `(() => {
        const last = context.responses?.[context.responses.length - 1];
        if (!last) return { body: Deno.core.encode('no response') };
        const json = JSON.parse(Deno.core.decode(new Uint8Array(last.body)));
        return { body: Deno.core.encode(JSON.stringify({ status: json.status, encoding: last.headers['x-original-content-encoding'] })) };
      })();`,
    });
    expect(JSON.parse(contentOf(r))).toEqual({ status: "compressed", encoding: "gzip" });
  });
});

describe("results that leave the defaults", () => {
  it.each([
    ["null", "(() => null)();"],
    ["nothing", "(() => {})();"],
    ["an empty requests list", "(() => ({ requests: [] }))();"],
  ])("a configurator returning %s runs the tracker's own requests", async (_what, configurator) => {
    const marker = `/own-${Math.random().toString(36).slice(2)}`;
    const r = await runTracker({ requests: [request(plainUrl(marker))], configurator });
    expect(seenAt(marker)).toHaveLength(1);
    expect(JSON.parse(contentOf(r))).toEqual({ status: "ok", path: marker });
    expect(r.stages.find((s) => s.stage === TrackerStage.TRACKER_STAGE_CONFIGURATOR)?.summary).toBe("returned no requests; the tracker's own 1 request(s) are sent");
  });

  it.each([
    ["null", "(() => null)();"],
    ["{}", "(() => ({}))();"],
    ["{ body: null }", "(() => ({ body: null }))();"],
  ])("an extractor returning %s stores what no extractor would: the responses' bodies, as the reference keeps them", async (_what, extractor) => {
    const r = await runTracker({ requests: [request(plainUrl("/first")), request(plainUrl("/last"))], extractor });
    expect(JSON.parse(contentOf(r))).toEqual([
      { status: "ok", path: "/first" },
      { status: "ok", path: "/last" },
    ]);
    expect(r.stages.find((s) => s.stage === TrackerStage.TRACKER_STAGE_EXTRACTOR)?.summary).toMatch(/^returned no body; the responses' \d+ bytes are kept$/);
    const one = await runTracker({ requests: [request(plainUrl("/only"))], extractor });
    expect(JSON.parse(contentOf(one))).toEqual({ status: "ok", path: "/only" });
  });

  it("a configurator may mock the responses with `status`; nothing is sent and the extractor sees them", async () => {
    const marker = `/mocked-${Math.random().toString(36).slice(2)}`;
    const r = await runTracker({
      requests: [request(plainUrl(marker))],
      configurator: `(() => ({ responses: [{ status: 201, headers: { "content-type": "application/json" }, body: Deno.core.encode(JSON.stringify({ mocked: true })) }] }))();`,
      extractor: `(() => { const r = context.responses[0]; return { body: { status: r.status, statusCode: r.statusCode, type: r.headers["content-type"], json: JSON.parse(Deno.core.decode(new Uint8Array(r.body))) } }; })();`,
    });
    expect(JSON.parse(contentOf(r))).toEqual({ status: 201, statusCode: 201, type: "application/json", json: { mocked: true } });
    expect(seenAt(marker)).toEqual([]);
  });
});

describe("acceptInvalidCertificates, per request", () => {
  it("a request without it fails on an untrusted certificate, naming the reason", async () => {
    const r = await runTracker({ requests: [request(secureUrl("/strict"))] });
    const stage = r.stages.find((s) => s.stage === TrackerStage.TRACKER_STAGE_REQUEST)!;
    expect(stage.error).toEqual({
      kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE,
      message: `GET ${secureUrl("/strict")}: request to 127.0.0.1 failed: certificate not issued by a trusted authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    });
    expect(r.content).toBeUndefined();
  });

  it("the request that has it goes through; its neighbour without it still fails", async () => {
    const lenient = await runTracker({ requests: [request(secureUrl("/lenient"), { acceptInvalidCertificates: true })] });
    expect(JSON.parse(contentOf(lenient))).toEqual({ status: "ok", path: "/lenient" });

    const mixed = await runTracker({
      requests: [request(secureUrl("/mixed-ok"), { acceptInvalidCertificates: true }), request(secureUrl("/mixed-strict"))],
    });
    expect(mixed.stages.find((s) => s.error)?.error?.message).toMatch(/^GET https:\/\/127\.0\.0\.1:\d+\/mixed-strict: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    expect(seenAt("/mixed-ok")).toHaveLength(1);
  });

  it("the configurator sees the flag on each request and may set it", async () => {
    const r = await runTracker({
      requests: [request(secureUrl("/from-configurator"))],
      configurator: `(() => ({ requests: context.requests.map((r) => ({ ...r, headers: { ...r.headers, "x-saw": String(r.acceptInvalidCertificates) }, acceptInvalidCertificates: true })) }))();`,
    });
    expect(JSON.parse(contentOf(r))).toEqual({ status: "ok", path: "/from-configurator" });
    expect(seenAt("/from-configurator").at(-1)!.headers["x-saw"]).toBe("false");
  });
});

describe("secrets stay masked", () => {
  let user: TestUser;
  const VALUE = "tok-3f9a1c77e2";

  beforeAll(async () => {
    user = await newUser(stack);
  });

  it("in a configurator's refused URL", async () => {
    const id = await createSecret(stack, user, "TOKEN", VALUE);
    const grant = await scriptGrant(stack, user.id, { selected: [id] });
    const r = await runTracker({
      userId: user.id,
      grant: { token: grant },
      requests: [request(plainUrl("/masked"))],
      configurator: `(() => ({ requests: [{ url: "http://10.1.2.3/" + context.params.secrets.TOKEN, method: "GET", headers: {} }] }))();`,
    });
    const failed = r.stages.find((s) => s.error)!;
    expect(failed.error!.message).toBe("GET http://10.1.2.3/********: request to 10.1.2.3 refused: private address");
    expect(JSON.stringify(r)).not.toContain(VALUE);
  });
});
