import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind, type ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// op_proxy_request decodes gzip, x-gzip, deflate, br and zstd bodies as they
// arrive (the runtime skill's "transparent decompression"), keeps what the
// upstream said as x-original-content-encoding / x-original-content-length,
// and applies the body limit and the execution's byte budget to the decoded
// bytes, stopping a decompression bomb at the limit.
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_EXECUTION_BYTES = 1024 * 1024;

const items = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ["zstd", "compressed"] }));
const JSON_TEXT = JSON.stringify({ status: "ok", items });
// JSON_TEXT as the zstd command line tool compresses it (`zstd -19`): Node 20 has no zstd encoder.
const JSON_ZSTD = Buffer.from(
  "KLUv/WTFB90FAPIJHhiAbQ4gvzEeRQyAQAagaWkTKaV4DyRhpjST8J5zrTHWzbyrmrl2LXzPudYY62beVc1cuvQ951pjrJt5VzUz8z3nWmOsm3lXNROqSXhhxGg4jcIQVy+eGD2Aj8fwXH0B8IYyLFcLvkAuBfBRMR7k6glz+Ag9wxMvBVCoEbDT/nfgpeYSiBD4JK/g3yGM9AMxBoyAt6N0HYE3XAVoSjpB0B137JYPkYL4+3lrGYy83/dUlZSlUd/pVgNevv/S",
  "base64",
);
const ENCODED: Record<string, { header: string; body: Buffer }> = {
  gzip: { header: "gzip", body: zlib.gzipSync(JSON_TEXT) },
  "x-gzip": { header: "x-gzip", body: zlib.gzipSync(JSON_TEXT) },
  deflate: { header: "deflate", body: zlib.deflateSync(JSON_TEXT) },
  "raw deflate": { header: "deflate", body: zlib.deflateRawSync(JSON_TEXT) },
  br: { header: "br", body: zlib.brotliCompressSync(JSON_TEXT) },
  zstd: { header: "zstd", body: JSON_ZSTD },
  "an upper-case coding with spaces": { header: " GZip ", body: zlib.gzipSync(JSON_TEXT) },
};

/** A zstd frame of RLE blocks: 4 bytes on the wire for every 128 KiB of output. */
function zstdRleBomb(blocks: number): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3]);
  const parts = [header];
  for (let i = 0; i < blocks; i++) {
    const h = (i === blocks - 1 ? 1 : 0) | (1 << 1) | (131072 << 3);
    parts.push(Buffer.from([h & 255, (h >> 8) & 255, (h >> 16) & 255, 0x41]));
  }
  return Buffer.concat(parts);
}
// Each well under the wire limit, each expanding to hundreds of MiB.
const BOMBS: Record<string, { header: string; body: Buffer; expands: number }> = {
  // 700 gzip members of 1 MiB of zeros each: one Gunzip reads them all.
  gzip: { header: "gzip", body: Buffer.concat(Array(700).fill(zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 }))), expands: 700 << 20 },
  br: {
    header: "br",
    body: zlib.brotliCompressSync(Buffer.alloc(256 << 20), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
    expands: 256 << 20,
  },
  zstd: { header: "zstd", body: zstdRleBomb(5600), expands: 5600 * 131072 },
};
// What the budget test fetches twice: 600 KiB once decoded, about 600 bytes on the wire.
const SIX_HUNDRED_KIB = zlib.gzipSync(Buffer.alloc(600 * 1024, 0x61));

let upstream: http.Server;
let port = 0;
let stack: Stack;
let sandbox: ScriptRunnerClient;
const user = randomUser();

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    res.on("error", () => {});
    const [, kind, name] = decodeURIComponent(req.url ?? "").split("/");
    const send = (header: string, body: Buffer) =>
      res.writeHead(200, { "content-type": "application/json", "content-encoding": header, "content-length": body.length }).end(req.method === "HEAD" ? undefined : body);
    if (kind === "encoded") return send(ENCODED[name!]!.header, ENCODED[name!]!.body);
    if (kind === "bomb") return send(BOMBS[name!]!.header, BOMBS[name!]!.body);
    if (kind === "600k") return send("gzip", SIX_HUNDRED_KIB);
    if (kind === "garbage") return send(name!, Buffer.from("this is not compressed at all"));
    if (kind === "unknown") return send("compress", Buffer.from("as it came"));
    if (kind === "truncated") return send("gzip", ENCODED.gzip!.body.subarray(0, 20));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  port = (upstream.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: {
      OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${port}`,
      OUTBOUND_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
      OUTBOUND_MAX_EXECUTION_BYTES: String(MAX_EXECUTION_BYTES),
    },
  });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  await stack?.stop();
  upstream?.closeAllConnections();
  upstream?.close();
});

const url = (...parts: string[]) => `http://127.0.0.1:${port}/${parts.map(encodeURIComponent).join("/")}`;

/** What the script saw of one response: the headers and the body as text. */
async function fetchThrough(target: string, extra = ""): Promise<{ headers: Record<string, string>; text: string; length: number }> {
  const body = await bodyOf(sandbox, {
    userId: user,
    script: `(async () => {
      const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(target)}${extra} });
      return { body: { headers: r.headers, text: Deno.core.decode(new Uint8Array(r.body)), length: r.body.length } };
    })()`,
  });
  return JSON.parse(body);
}

/** The message a failing op_proxy_request rejects with, caught by the script. */
async function failureOf(target: string): Promise<string> {
  return bodyOf(sandbox, {
    userId: user,
    script: `(async () => {
      try { await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(target)} }); return { body: "no error" }; }
      catch (e) { return { body: e.message }; }
    })()`,
  });
}

describe("transparent decompression", () => {
  it.each(Object.keys(ENCODED))("%s: the script gets the decoded body and the upstream's headers renamed", async (name) => {
    const { header, body } = ENCODED[name]!;
    const seen = await fetchThrough(url("encoded", name));
    expect(seen.text).toBe(JSON_TEXT);
    expect(JSON.parse(seen.text).items).toHaveLength(40);
    expect(seen.headers["content-encoding"]).toBeUndefined();
    expect(seen.headers["content-length"]).toBeUndefined();
    // Node's parser trims header values, as HTTP says to.
    expect(seen.headers["x-original-content-encoding"]).toBe(header.trim());
    expect(seen.headers["x-original-content-length"]).toBe(String(body.length));
    expect(seen.headers["content-type"]).toBe("application/json");
  });

  it("decompress: false hands over the bytes as they came, content-encoding kept", async () => {
    const seen = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("encoded", "gzip"))}, decompress: false });
        return { body: { headers: r.headers, body: r.body } };
      })()`,
    });
    const { headers, body } = JSON.parse(seen) as { headers: Record<string, string>; body: number[] };
    expect(Buffer.from(body).equals(ENCODED.gzip!.body)).toBe(true);
    expect(headers["content-encoding"]).toBe("gzip");
    expect(headers["x-original-content-encoding"]).toBeUndefined();
    expect(headers["x-original-content-length"]).toBe(String(ENCODED.gzip!.body.length));
  });

  it("a returned proxied response is served decoded, without a content-encoding that would lie about it", async () => {
    const o = await execute(sandbox, {
      userId: user,
      script: `(async () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("encoded", "br"))} }))()`,
    });
    expect(o.ok).toBe(true);
    if (!o.ok) return;
    expect(Buffer.from(o.value.responder!.body!).toString()).toBe(JSON_TEXT);
    const names = o.value.responder!.headers!.items.map((h) => h.name);
    expect(names).toContain("x-original-content-encoding");
    expect(names).not.toContain("content-encoding");
  });

  it("an unknown coding is passed on as is", async () => {
    const seen = await fetchThrough(url("unknown"));
    expect(seen.text).toBe("as it came");
    expect(seen.headers["content-encoding"]).toBe("compress");
    expect(seen.headers["x-original-content-encoding"]).toBeUndefined();
  });

  it("an empty body (HEAD) is not decoded and keeps its content-encoding", async () => {
    const seen = await fetchThrough(url("encoded", "gzip"), `, method: "HEAD"`);
    expect(seen.length).toBe(0);
    expect(seen.headers["content-encoding"]).toBe("gzip");
  });

  it.each([
    ["gzip", "Failed to decompress gzip response body: incorrect header check"],
    ["deflate", "Failed to decompress deflate response body: invalid code lengths set"],
    ["br", "Failed to decompress brotli response body: Decompression failed"],
    ["zstd", "Failed to decompress zstd response body: not a zstd frame"],
  ])("a body that is not %s fails in the documented wording", async (coding, message) => {
    const o = await execute(sandbox, { userId: user, script: `(async () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("garbage", coding))} }))()` });
    expect(o.ok && o.value.error).toEqual({ kind: ErrorKind.ERROR_KIND_UPSTREAM_FAILURE, message });
  });

  it("a truncated gzip body fails rather than passing on half of it", async () => {
    expect(await failureOf(url("truncated"))).toBe("Failed to decompress gzip response body: unexpected end of file");
  });
});

describe("limits count decoded bytes", () => {
  /** Peak resident memory of the sandbox service (kB), from /proc. */
  const peakKb = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${stack.sandbox.child.pid}/status`, "utf8"))![1]);

  it.each(Object.keys(BOMBS))("a %s bomb is refused at the limit without being expanded", async (name) => {
    const bomb = BOMBS[name]!;
    expect(bomb.body.length).toBeLessThan(MAX_RESPONSE_BYTES);
    expect(bomb.expands).toBeGreaterThan(250 * MAX_RESPONSE_BYTES);
    const before = peakKb();
    const o = await execute(sandbox, { userId: user, script: `(async () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("bomb", name))} }))()` });
    expect(o.ok && o.value.error).toEqual({
      kind: ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE,
      message: `Upstream response body too large: more than ${MAX_RESPONSE_BYTES} bytes once decompressed exceeds limit of ${MAX_RESPONSE_BYTES} bytes`,
    });
    // Expanded whole, it would have raised the service's peak by hundreds of MiB.
    expect(peakKb() - before).toBeLessThan(64 * 1024);
  });

  it("the execution's byte budget counts what the script gets, not what came over the wire", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        const first = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("600k"))} });
        try { await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url("600k"))} }); return { body: "second arrived" }; }
        catch (e) { return { body: first.body.length + " then: " + e.message }; }
      })()`,
    });
    expect(SIX_HUNDRED_KIB.length * 2).toBeLessThan(MAX_EXECUTION_BYTES / 100);
    expect(body).toBe(`${600 * 1024} then: op_proxy_request: this execution's responses exceed ${MAX_EXECUTION_BYTES} bytes in all`);
  });
});
