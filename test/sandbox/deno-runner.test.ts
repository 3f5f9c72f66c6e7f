// The Deno runner (sandbox/deno/runner.js, its input thread reader.js and
// worker.js) driven over its pipes by the supervisor's own DenoProcess, with
// no pool or service in front: what the runner itself promises about the
// lines it reads, and how DenoProcess writes them.
import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { execMessage, failureOutcome } from "../../sandbox/deno/protocol.js";
import type { DenoProcess } from "../../sandbox/pool/deno-process.js";
import { startRunner } from "../helpers/deno-runner.js";
import { threadsOf } from "../helpers/threads.js";

const exec = (id: number, script: string, timeoutMs: number) =>
  execMessage({
    t: "exec",
    id,
    kind: "responder",
    script,
    context: JSON.stringify({ method: "GET", path: "/", query: {}, headers: {} }),
    secrets: "{}",
    timeoutMs,
    maxResultBytes: 1 << 20,
    maxLogBytes: 1 << 16,
    bufferBytes: 1 << 20,
  });

let running: DenoProcess | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe("the Deno runner", () => {
  it("hands each worker its own executions, and answers for a worker it does not have", async () => {
    const { deno, next, worker } = startRunner();
    running = deno;
    await Promise.all([worker(1), worker(2)]);
    deno.toWorker(1, 5000, exec(11, '(async () => ({ statusCode: 200, body: "one" }))()', 5000));
    deno.toWorker(2, 5000, exec(12, '(async () => ({ statusCode: 201, body: "two" }))()', 5000));
    const one = await next((e) => e.type === "result" && e.args[0] === 11);
    const two = await next((e) => e.type === "result" && e.args[0] === 12);
    // A responder's body comes back as base64.
    expect(JSON.parse(String(one.args[1]).slice(1))).toMatchObject({ statusCode: 200, body: btoa("one") });
    expect(JSON.parse(String(two.args[1]).slice(1))).toMatchObject({ statusCode: 201, body: btoa("two") });

    deno.toWorker(7, 5000, exec(13, "1", 5000));
    expect((await next((e) => e.type === "workerGone" && e.args[0] === 7)).args[1]).toBe("crashed");
  });

  it("writes the lines of one callback in one write, before the event loop's next check phase", async () => {
    const { deno, next, worker } = startRunner();
    running = deno;
    await Promise.all([worker(1), worker(2)]);
    // The runner's stdin is a socket of this process: its writes are the ones that start with a worker's line.
    const writes: string[] = [];
    const write = net.Socket.prototype.write;
    const spy = vi.spyOn(net.Socket.prototype, "write").mockImplementation(function (this: net.Socket, ...args: unknown[]) {
      if (/^\d+\t\d+\t/.test(String(args[0]))) writes.push(String(args[0]));
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    });
    try {
      // Queued before the lines: a flush left to the check phase would come after it.
      const atCheck = new Promise<string[]>((resolve) => setImmediate(() => resolve([...writes])));
      deno.toWorker(1, 5000, exec(31, '(async () => ({ statusCode: 200, body: "a" }))()', 5000));
      deno.toWorker(2, 5000, exec(32, '(async () => ({ statusCode: 200, body: "b" }))()', 5000));
      expect(writes).toEqual([]);
      const written = await atCheck;
      expect(written).toHaveLength(1);
      expect(written[0]!.split("\n").filter(Boolean)).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
    await next((e) => e.type === "result" && e.args[0] === 31);
    await next((e) => e.type === "result" && e.args[0] === 32);
  });

  it("ends a worker that has not answered by the deadline its line gave, and reports it as time", async () => {
    const { deno, events, next, worker } = startRunner();
    running = deno;
    await worker(3);
    // The script never settles, and its own limit (60 s) is far off: only the runner's watch, from the line's 50 ms, ends it.
    deno.toWorker(3, 50, exec(21, "new Promise(() => {})", 60_000));
    expect((await next((e) => e.type === "workerGone" && e.args[0] === 3)).args[1]).toBe("time");
    await next((e) => e.type === "workerExited" && e.args[0] === 3);
    expect(events.some((e) => e.type === "result")).toBe(false);
  });

  it.each([
    ["waits on a promise that never settles", "new Promise(() => {})"],
    // Once a host call is out, the line's deadline no longer watches the execution (the call may take its time).
    ["waits on a host call never answered", "Deno.core.ops.op_proxy_request({ url: 'https://example.com/' })"],
  ])("ends an execution that %s at its own time limit, and the worker serves the next", async (_what, script) => {
    const { deno, events, next, worker } = startRunner();
    running = deno;
    await worker(5);
    // The line's deadline (60 s) is far off: only the worker's own limit (300 ms) can end it in time.
    deno.toWorker(5, 60_000, exec(41, script, 300));
    const ended = await next((e) => e.type === "result" && e.args[0] === 41);
    expect(ended.args[1]).toBe(failureOutcome("time_limit", "the script exceeded its time limit of 300 ms"));
    deno.toWorker(5, 5000, exec(42, '(async () => ({ statusCode: 200, body: "next" }))()', 5000));
    const served = await next((e) => e.type === "result" && e.args[0] === 42);
    expect(JSON.parse(String(served.args[1]).slice(1))).toMatchObject({ statusCode: 200, body: btoa("next") });
    expect(events.filter((e) => e.type === "workerGone")).toEqual([]);
  });

  // sched(7): 0 is the normal policy (SCHED_OTHER), 3 SCHED_BATCH.
  it.each([
    ["batch", 3],
    ["normal", 0],
  ] as const)("runs every thread under the %s policy, the workers' and those started for an execution included", async (scheduling, policy) => {
    const { deno, next, worker } = startRunner(scheduling);
    running = deno;
    await worker(4);
    // vm's time limit runs on a thread of Deno's blocking pool: an execution makes sure one has started.
    deno.toWorker(4, 5000, exec(31, '(async () => ({ statusCode: 200, body: "ran" }))()', 5000));
    const ran = await next((e) => e.type === "result" && e.args[0] === 31);
    expect(JSON.parse(String(ran.args[1]).slice(1))).toMatchObject({ statusCode: 200, body: btoa("ran") });
    const threads = threadsOf(deno.pid!);
    expect(threads.map((t) => t.comm)).toEqual(expect.arrayContaining(["deno", expect.stringMatching(/^worker-/)]));
    expect(threads.filter((t) => t.policy !== policy)).toEqual([]);
  });

  it("stops when its input closes, with no error", async () => {
    const { deno, next, worker } = startRunner();
    await worker(6);
    await deno.stop();
    expect((await next((e) => e.type === "exited")).args[0]).toBe("exit code 0");
  });
});
