import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, denoPids, execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// Many large upstream answers at once must cost the execution that asked
// for them, and nobody else: two executions of 64 parallel op_proxy_request
// calls to an allow-listed server answering 10 MiB each once took a shared
// Deno process down (every byte was escaped as JSON at every hop).
const TEN_MIB = crypto.randomBytes(10 * 1024 * 1024);
let upstream: http.Server;
let bigUrl = "";
let smallUrl = "";
let stack: Stack;
let sandbox: ScriptRunnerClient;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    res.on("error", () => {});
    if (req.url === "/small") {
      // Every byte value, so the bytes the script gets can be checked exactly.
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    } else {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": TEN_MIB.length }).end(TEN_MIB);
    }
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const port = (upstream.address() as AddressInfo).port;
  bigUrl = `http://127.0.0.1:${port}/big`;
  smallUrl = `http://127.0.0.1:${port}/small`;
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${port}` } });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  await stack?.stop();
  upstream?.closeAllConnections();
  upstream?.close();
});

// Each request may take the longest an upstream request may (30 s), not the
// default 10 s: on a starved machine (a slow day, the suite's other files on
// both cores) an answer once took longer than 10 s to arrive, and the budget,
// not the clock, is what this test is about.
const FLOOD = (url: string) => `(async () => {
  const settled = await Promise.allSettled(Array.from({ length: 64 }, () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(url)}, timeout: 30000 })));
  const reasons = [...new Set(settled.filter((s) => s.status === "rejected").map((s) => String(s.reason && s.reason.message)))];
  return { body: JSON.stringify({ fulfilled: settled.filter((s) => s.status === "fulfilled").length, reasons }) };
})()`;

describe("64 parallel 10 MiB answers, twice at once", () => {
  it("fail the flooding executions with a clear error; the Deno processes survive and others are served meanwhile", async () => {
    const pidsBefore = denoPids(stack).sort();
    const other = randomUser();
    // Below the test's own 60 s, so a flood that hangs shows as its time limit, not as a test timeout.
    const floods = [randomUser(), randomUser()].map((user) => execute(sandbox, { userId: user, script: FLOOD(bigUrl), limits: { timeoutMs: 45_000 } }));
    // Another user's executions while the floods are on.
    const others: string[] = [];
    let done = false;
    const served = (async () => {
      while (!done) others.push(await bodyOf(sandbox, { userId: other, script: `({ body: "ok" })` }));
    })();
    const outcomes = await Promise.all(floods);
    done = true;
    await served;
    for (const o of outcomes) {
      expect(o.ok).toBe(true);
      if (!o.ok) continue;
      if (o.value.error) {
        // The script may run out of its own memory holding what it did get.
        expect(o.value.error.message).toBe("the script exceeded its memory limit of 10 MiB");
      } else {
        const result = JSON.parse(Buffer.from(o.value.responder!.body!).toString()) as { fulfilled: number; reasons: string[] };
        expect(result.fulfilled).toBeLessThan(64);
        expect(result.reasons.length).toBeGreaterThan(0);
        for (const reason of result.reasons) expect(reason).toMatch(/^op_proxy_request: this execution's responses exceed \d+ bytes (in flight|in all)$/);
      }
    }
    expect(others.length).toBeGreaterThan(0);
    expect(new Set(others)).toEqual(new Set(["ok"]));
    expect(denoPids(stack).sort()).toEqual(pidsBefore);
  });

  it("one answer too big for the script's heap fails it with the memory limit at once, not at its time limit", async () => {
    // The 10 MiB answer reaches the worker as about 13 MiB of base64, more
    // than a 10 MiB script's heap can read: the reply itself runs out of
    // memory. It used to be lost, and the script waited for it until its time
    // limit (the floods above hung the same way on a busy machine).
    const script = `(async () => {
      const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(bigUrl)} });
      return { body: String(r.body.length) };
    })()`;
    const o = await execute(sandbox, { userId: randomUser(), script, limits: { timeoutMs: 45_000 } });
    expect(o.ok && o.value.error?.message).toBe("the script exceeded its memory limit of 10 MiB");
  });

  it("every byte value still arrives exactly", async () => {
    const script = `(async () => {
      const r = await Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(smallUrl)} });
      return { body: r.body };
    })()`;
    const o = await execute(sandbox, { userId: randomUser(), script });
    expect(o.ok && Buffer.from(o.value.responder!.body!)).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  });
});
