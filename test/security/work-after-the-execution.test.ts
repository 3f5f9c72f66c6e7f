import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind, type ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, denoPids, execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// Nothing a script schedules may run once its execution has answered: a
// callback that spins after the answer would hold a core no limit covers
// (Deno's worker terminate() does not stop it). FinalizationRegistry is the
// known door; the test tries every realm global that can defer a call. As a
// last resort, a worker that does not end when told to takes its process
// with it.
let stack: Stack;
let sandbox: ScriptRunnerClient;
// Long enough that the stop below surely comes before the lease ends.
const LEASE_IDLE_MS = 2000;

beforeAll(async () => {
  stack = await Stack.start({ sandboxEnv: { SANDBOX_PROCESSES: "1", SANDBOX_LEASE_IDLE_MS: String(LEASE_IDLE_MS), SANDBOX_METRICS_PORT: "0" } });
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  await stack?.stop();
});

/** CPU seconds (user + system) spent so far by these processes, from /proc. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone: it spends nothing more.
    }
  }
  return ticks / 100;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Registers many cells whose cleanup would loop forever, then drops them and
// makes garbage so that collections (and the cleanup task) follow at once.
const HOSTILE = `
  const spin = () => { for (;;) {} };
  const registries = [];
  const deferred = [];
  if (typeof FinalizationRegistry === "function") {
    const r = new FinalizationRegistry(spin);
    registries.push(r);
    for (let i = 0; i < 2000; i++) r.register({ i }, i);
    deferred.push("FinalizationRegistry");
  }
  for (const name of ["setTimeout", "setInterval", "setImmediate", "requestAnimationFrame", "addEventListener", "requestIdleCallback"]) {
    if (typeof globalThis[name] === "function") { try { globalThis[name](spin, 0); deferred.push(name); } catch {} }
  }
  if (typeof Atomics === "object" && typeof Atomics.waitAsync === "function") {
    try { Atomics.waitAsync(new Int32Array(4), 0, 0).value.then(spin); deferred.push("Atomics.waitAsync"); } catch {}
  }
  let junk = [];
  for (let i = 0; i < 200; i++) { junk.push(new Array(1000).fill(i)); if (junk.length > 20) junk = []; }
  ({ body: JSON.stringify(deferred) })`;

describe("work scheduled by a script", () => {
  it("finds no realm global that defers a call past the execution", async () => {
    expect(await bodyOf(sandbox, { userId: randomUser(), script: HOSTILE })).toBe("[]");
  });

  it("runs a queued microtask inside the execution, under its time limit", async () => {
    const o = await execute(sandbox, { userId: randomUser(), script: `queueMicrotask(() => { for (;;) {} }); ({ body: "answered" })`, limits: { timeoutMs: 1000 } });
    expect(o.ok && o.value.error).toEqual({ kind: ErrorKind.ERROR_KIND_TIME_LIMIT, message: "the script exceeded its time limit of 1000 ms" });
  });

  it("leaves no thread spinning after the answer, and the sandbox serves others at full speed", async () => {
    const pids = denoPids(stack);
    expect(pids.length).toBe(1);
    for (let i = 0; i < 4; i++) expect(await bodyOf(sandbox, { userId: randomUser(), script: HOSTILE })).toBe("[]");
    // The hostile leases end once idle and their workers are retired: let
    // that happen, then watch the process for a second.
    // (A measurement window, not a wait for an event: there is none to await.)
    await pause(LEASE_IDLE_MS + 300);
    const before = cpuSeconds(pids);
    await pause(1000);
    const spent = cpuSeconds(pids) - before;
    // A spinning cleanup would add a full core-second per hostile execution.
    expect(spent).toBeLessThan(0.5);
    expect(await bodyOf(sandbox, { userId: randomUser(), script: `({ body: "still fast" })` })).toBe("still fast");
  });
});

describe("a worker that does not end when told to", () => {
  it("takes its process with it, counted in the metrics, and the sandbox serves again", async () => {
    const user = randomUser();
    expect(await bodyOf(sandbox, { userId: user, script: `({ body: "leased" })` })).toBe("leased");
    const [pid] = denoPids(stack);
    // A stopped process stands in for a thread that terminate() cannot end:
    // neither reports the worker's exit. The lease idles out and its worker
    // is retired; no exit comes within the grace, so the process is killed.
    process.kill(pid!, "SIGSTOP");
    await stack.sandbox.waitFor(/a sandbox worker did not stop when told to; killing its process/);
    await stack.sandbox.waitFor(/sandbox process stopped; starting a new one/);
    expect(await bodyOf(sandbox, { userId: user, script: `({ body: "again" })` })).toBe("again");
    expect(denoPids(stack)).not.toContain(pid);
    const port = (await stack.sandbox.waitFor(/"metricsPort":(\d+)/))[1];
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('sandbox_process_kills_total{reason="stuck_worker",service="sandbox"} 1');
  });
});
