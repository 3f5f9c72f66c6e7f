// The Deno runner (sandbox/deno/runner.js, its input thread reader.js and
// worker.js) driven over its pipes by the supervisor's own DenoProcess, with
// no pool or service in front: what the runner itself promises about the
// lines it reads.
import { afterEach, describe, expect, it } from "vitest";
import { bundledDeno } from "../../sandbox/config.js";
import { execMessage } from "../../sandbox/deno/protocol.js";
import { DenoProcess, type ProcessEvents } from "../../sandbox/pool/deno-process.js";
import type { Policy } from "../../sandbox/pool/scheduling.js";
import { threadsOf } from "../helpers/threads.js";

const denoPath = process.env.DENO_PATH ?? bundledDeno()!;
const HEAP = { heapMb: 42, headroomMb: 16, shareMb: 10 };

type Event = { type: keyof ProcessEvents; args: unknown[] };

/** A runner whose every event is kept; `next` waits for one that matches. */
function start(scheduling?: Policy) {
  const events: Event[] = [];
  const waiters: Array<{ match: (e: Event) => boolean; resolve: (e: Event) => void }> = [];
  const record =
    (type: keyof ProcessEvents) =>
    (...args: unknown[]) => {
      const e = { type, args };
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.match(e)) w.resolve(e);
        else waiters.push(w);
      }
    };
  const deno = new DenoProcess(
    1,
    denoPath,
    {
      workerReady: record("workerReady"),
      workerGone: record("workerGone"),
      workerExited: record("workerExited"),
      result: record("result"),
      request: record("request"),
      exited: record("exited"),
    },
    { scheduling },
  );
  const next = (match: (e: Event) => boolean) =>
    new Promise<Event>((resolve) => {
      const seen = events.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { deno, events, next };
}

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
    const { deno, next } = start();
    running = deno;
    deno.spawnWorker(1, HEAP);
    deno.spawnWorker(2, HEAP);
    await next((e) => e.type === "workerReady" && e.args[0] === 1);
    await next((e) => e.type === "workerReady" && e.args[0] === 2);
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

  it("ends a worker that has not answered by the deadline its line gave, and reports it as time", async () => {
    const { deno, events, next } = start();
    running = deno;
    deno.spawnWorker(3, HEAP);
    await next((e) => e.type === "workerReady" && e.args[0] === 3);
    // The script never settles, and its own limit (60 s) is far off: only the runner's watch, from the line's 50 ms, ends it.
    deno.toWorker(3, 50, exec(21, "new Promise(() => {})", 60_000));
    expect((await next((e) => e.type === "workerGone" && e.args[0] === 3)).args[1]).toBe("time");
    await next((e) => e.type === "workerExited" && e.args[0] === 3);
    expect(events.some((e) => e.type === "result")).toBe(false);
  });

  // sched(7): 0 is the normal policy (SCHED_OTHER), 3 SCHED_BATCH.
  it.each([
    ["batch", 3],
    ["normal", 0],
  ] as const)("runs every thread under the %s policy, the workers' and those started for an execution included", async (scheduling, policy) => {
    const { deno, next } = start(scheduling);
    running = deno;
    deno.spawnWorker(4, HEAP);
    await next((e) => e.type === "workerReady" && e.args[0] === 4);
    // vm's time limit runs on a thread of Deno's blocking pool: an execution makes sure one has started.
    deno.toWorker(4, 5000, exec(31, '(async () => ({ statusCode: 200, body: "ran" }))()', 5000));
    const ran = await next((e) => e.type === "result" && e.args[0] === 31);
    expect(JSON.parse(String(ran.args[1]).slice(1))).toMatchObject({ statusCode: 200, body: btoa("ran") });
    const threads = threadsOf(deno.pid!);
    expect(threads.map((t) => t.comm)).toEqual(expect.arrayContaining(["deno", expect.stringMatching(/^worker-/)]));
    expect(threads.filter((t) => t.policy !== policy)).toEqual([]);
  });

  it("stops when its input closes, with no error", async () => {
    const { deno, next } = start();
    deno.spawnWorker(6, HEAP);
    await next((e) => e.type === "workerReady" && e.args[0] === 6);
    await deno.stop();
    expect((await next((e) => e.type === "exited")).args[0]).toBe("exit code 0");
  });
});
