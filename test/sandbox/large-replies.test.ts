import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { sleepsOf, threadsOf } from "../helpers/threads.js";

// Upstream answers larger than one piece of a reply (sandbox/deno/protocol.js,
// ReplyPiece) reach the script through the real sandbox in pieces, sent as
// the Deno process's input has room. What the script reads must be the exact
// bytes, whatever the pieces' boundaries, also with two large answers to one
// execution in flight at once.

/** `/bytes?n=N&seed=S`: N pseudo-random bytes, the same for the same N and S. */
function bytesFor(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  let block = Buffer.alloc(0);
  for (let at = 0, i = 0; at < n; at += block.length, i++) {
    block = crypto.createHash("sha512").update(`${seed}:${i}`).digest();
    block.copy(out, at);
  }
  return out;
}

/** FNV-1a, as the scripts below compute it over the body they were handed. */
function fnv1a(bytes: Iterable<number>): number {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}
const FNV_IN_SCRIPT = `(body) => { let h = 2166136261; for (const b of body) h = Math.imul(h ^ b, 16777619) >>> 0; return h; }`;

let upstream: http.Server;
const finished = new Set<string>();
const waiting = new Map<string, () => void>();
let port = 0;
let stack: Stack;
let sandbox: ScriptRunnerClient;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    res.on("error", () => {});
    const q = new URL(req.url!, "http://x").searchParams;
    const seed = q.get("seed")!;
    const answer = () => res.writeHead(200, { "x-seed": seed }).end(bytesFor(Number(q.get("n")), seed));
    res.on("finish", () => {
      finished.add(seed);
      waiting.get(seed)?.();
    });
    // `after=S`: answered once the answer for seed S has been sent.
    const after = q.get("after");
    if (after === null || finished.has(after)) return answer();
    waiting.set(after, answer);
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  port = (upstream.address() as AddressInfo).port;
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${port}` } });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  await stack?.stop();
});

const url = (n: number, seed: string) => `http://127.0.0.1:${port}/bytes?n=${n}&seed=${seed}`;

describe("the proxy thread", () => {
  it("starts with the first call, at SANDBOX_PROXY_NICE (10), and the service's main thread stays at 0", async () => {
    const pid = stack.sandbox.child.pid!;
    const lowered = () => threadsOf(pid).filter((t) => t.nice === 10);
    expect(lowered()).toEqual([]);
    const body = await bodyOf(sandbox, {
      userId: randomUser(),
      script: `(async () => ({ body: (await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(10, "first"))} })).headers["x-seed"] }))()`,
    });
    expect(body).toBe("first");
    expect(lowered()).toHaveLength(1);
    expect(threadsOf(pid).find((t) => t.tid === String(pid))?.nice).toBe(0);
  });

  it("is not woken by executions that make no call", async () => {
    const pid = stack.sandbox.child.pid!;
    // Started by the test above (these run in order).
    const [proxy] = threadsOf(pid).filter((t) => t.nice === 10);
    expect(proxy).toBeDefined();
    const before = sleepsOf(pid, proxy!.tid);
    const user = randomUser();
    for (let i = 0; i < 40; i++) expect(await bodyOf(sandbox, { userId: user, script: `({ body: "quiet" })` })).toBe("quiet");
    // Each execution's end used to be posted to it: one wake-up each.
    expect(sleepsOf(pid, proxy!.tid) - before).toBeLessThan(8);
  });
});

describe("an upstream answer larger than a piece", () => {
  it("arrives as the exact bytes (sizes around the pieces' and the encoding's boundaries)", async () => {
    const sizes = [192 * 1024 + 1, 1024 * 1024 + 2, 1536 * 1024];
    const body = await bodyOf(sandbox, {
      userId: randomUser(),
      limits: { memoryMb: 64 },
      script: `(async () => {
        const fnv = ${FNV_IN_SCRIPT};
        const out = [];
        for (const n of ${JSON.stringify(sizes)}) {
          const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(0, "a"))}.replace("n=0", "n=" + n) });
          out.push([r.statusCode, r.headers["x-seed"], r.body.length, fnv(r.body)]);
        }
        return { body: out };
      })()`,
    });
    expect(JSON.parse(body)).toEqual(sizes.map((n) => [200, "a", n, fnv1a(bytesFor(n, "a"))]));
  });

  it("several at once to one execution each arrive whole, not mixed", async () => {
    // Two large ones; and a small one answered as the first large one is
    // sent upstream, so its reply (one piece) comes while that answer's
    // pieces are on their way to the worker.
    const [a, b, c] = [4 * 1024 * 1024 + 1, 700 * 1024 + 2, 10];
    const body = await bodyOf(sandbox, {
      userId: randomUser(),
      limits: { memoryMb: 128 },
      script: `(async () => {
        const fnv = ${FNV_IN_SCRIPT};
        const all = await Promise.all([
          Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(a, "x"))} }),
          Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(b, "y"))} }),
          Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(`${url(c, "z")}&after=x`)} }),
        ]);
        return { body: all.map((r) => [r.headers["x-seed"], r.body.length, fnv(r.body)]) };
      })()`,
    });
    expect(JSON.parse(body)).toEqual([
      ["x", a, fnv1a(bytesFor(a, "x"))],
      ["y", b, fnv1a(bytesFor(b, "y"))],
      ["z", c, fnv1a(bytesFor(c, "z"))],
    ]);
  });

  it("one still on its way when the execution ends reaches no later execution of the worker", async () => {
    const user = randomUser();
    const first = await bodyOf(sandbox, {
      userId: user,
      limits: { memoryMb: 64 },
      // The large answer is asked for, never awaited: the script is over once the small one is in.
      script: `(async () => {
        Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(4 * 1024 * 1024, "late"))} }).catch(() => {});
        const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(10, "small"))} });
        return { body: r.headers["x-seed"] };
      })()`,
    });
    expect(first).toBe("small");
    // The same user: the same leased worker, while pieces of the first answer may still be in the pipe.
    for (let i = 0; i < 3; i++) {
      const next = await bodyOf(sandbox, {
        userId: user,
        limits: { memoryMb: 64 },
        script: `(async () => {
          const fnv = ${FNV_IN_SCRIPT};
          const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url(300 * 1024, `next${i}`))} });
          return { body: [r.headers["x-seed"], r.body.length, fnv(r.body)] };
        })()`,
      });
      expect(JSON.parse(next)).toEqual([`next${i}`, 300 * 1024, fnv1a(bytesFor(300 * 1024, `next${i}`))]);
    }
  });
});
