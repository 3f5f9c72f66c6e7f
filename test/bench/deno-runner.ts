// A sandbox Deno runner driven directly, with no Node service, gRPC or
// gateway in front: each worker kept busy with one trivial responder
// execution after another, the next sent the moment the last answers. For
// measuring the Deno side alone (CPU per execution from /proc, split by
// thread) and for long runs that hunt rare failures (`--busy` keeps a core
// busy meanwhile). `--runner` points at another checkout's
// sandbox/deno/runner.js for an A/B in one sitting. Linux only (/proc).
//
//   node --import tsx test/bench/deno-runner.ts [--runner F] [--workers 2]
//     [--executions 6000] [--heap-mb 16] [--v8-flags F,G] [--busy] [--runs 1]
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import { bundledDeno } from "../../sandbox/config.js";
import { controlLine, execMessage, inputLine, parseOutputLine } from "../../sandbox/deno/protocol.js";
import { DENO_RUNNER } from "../../sandbox/files.js";
import { DENO_FLAGS } from "../../sandbox/pool/deno-process.js";

const SCRIPT = '(async () => ({ statusCode: 200, body: context.secrets.A ? "ok" : "missing" }))()';
const CONTEXT = JSON.stringify({ method: "GET", path: "/x", query: {}, headers: { accept: "*/*" } });
const SECRETS = JSON.stringify({ A: "alpha", B: "beta" });
const TIMEOUT_MS = 5_000;

const { values: args } = parseArgs({
  options: {
    runner: { type: "string", default: DENO_RUNNER },
    workers: { type: "string", default: "2" },
    executions: { type: "string", default: "6000" },
    "heap-mb": { type: "string", default: "16" },
    "v8-flags": { type: "string", default: "" },
    busy: { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
  },
});

/** CPU time (ms) of each thread of `pid`, summed by name (digits dropped: worker-1 and worker-2 are one row). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 1000 / 100; // USER_HZ
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+/g, "#");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tick);
  }
  return out;
}

interface RunResult {
  executionsPerSecond: number;
  cpuMsPerExecution: number;
  byThread: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  failures: string[];
}

function once(workers: number, total: number): Promise<RunResult> {
  const flags = DENO_FLAGS.map((f) => (f.startsWith("--v8-flags=") && args["v8-flags"] ? `${f},${args["v8-flags"]}` : f));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "deno-runner-bench-"));
  const deno = process.env.DENO_PATH ?? bundledDeno();
  if (!deno) throw new Error("no Deno binary for this platform in node_modules; set DENO_PATH");
  const child: ChildProcess = spawn(deno, [...flags, path.resolve(args.runner)], {
    cwd: home,
    env: { DENO_DIR: home, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", PATH: "/usr/bin:/bin" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const pid = child.pid!;
  return new Promise((resolve, reject) => {
    const sentAt = new Map<number, { worker: number; at: number }>();
    const latencies: number[] = [];
    const failures: string[] = [];
    let nextId = 0;
    let sent = 0;
    let ready = 0;
    let started = 0;
    let cpuBefore = new Map<string, number>();
    const send = (worker: number) => {
      const id = ++nextId;
      sent++;
      sentAt.set(id, { worker, at: performance.now() });
      const json = execMessage({
        t: "exec", id, kind: "responder", script: SCRIPT, context: CONTEXT, secrets: SECRETS,
        timeoutMs: TIMEOUT_MS, maxResultBytes: 1 << 20, maxLogBytes: 1 << 16, bufferBytes: 64 << 20,
      });
      child.stdin!.write(inputLine(worker, TIMEOUT_MS, json));
    };
    const finish = () => {
      const ms = performance.now() - started;
      const after = threadCpu(pid);
      let cpu = 0;
      const byThread: Record<string, number> = {};
      for (const [name, v] of after) {
        const d = v - (cpuBefore.get(name) ?? 0);
        cpu += d;
        if (d / total >= 0.005) byThread[name] = Number((d / total).toFixed(3));
      }
      latencies.sort((a, b) => a - b);
      child.stdin!.end();
      child.once("exit", () => fs.rmSync(home, { recursive: true, force: true }));
      resolve({
        executionsPerSecond: Math.round((total / ms) * 1000),
        cpuMsPerExecution: Number((cpu / total).toFixed(3)),
        byThread,
        p50Ms: Number(latencies[Math.floor(latencies.length * 0.5)]!.toFixed(3)),
        p99Ms: Number(latencies[Math.floor(latencies.length * 0.99)]!.toFixed(3)),
        failures,
      });
    };
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = parseOutputLine(line);
      if (event === undefined) return;
      if (event.type === "ready") {
        if (++ready < workers) return;
        cpuBefore = threadCpu(pid);
        started = performance.now();
        for (let w = 1; w <= workers; w++) send(w);
        return;
      }
      if (event.type === "gone") {
        // A worker lost is a failure of the run: report it and stop.
        failures.push(`worker ${event.worker} gone (${event.reason}) after ${latencies.length} executions`);
        child.kill();
        return resolve({ executionsPerSecond: 0, cpuMsPerExecution: 0, byThread: {}, p50Ms: 0, p99Ms: 0, failures });
      }
      if (event.type !== "result") return;
      const s = sentAt.get(event.exec);
      if (!s) return reject(new Error(`a result for an execution never sent: ${event.exec}`));
      sentAt.delete(event.exec);
      latencies.push(performance.now() - s.at);
      if (!event.outcome.startsWith("R")) failures.push(event.outcome.slice(0, 120));
      if (sent < total) send(s.worker);
      else if (latencies.length === total) finish();
    });
    for (let w = 1; w <= workers; w++) child.stdin!.write(controlLine({ t: "spawn", w, heapMb: Number(args["heap-mb"]) }));
  });
}

const busy = args.busy ? spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }) : undefined;
try {
  for (let r = 1; r <= Number(args.runs); r++) {
    const result = await once(Number(args.workers), Number(args.executions));
    console.log(JSON.stringify({ run: r, ...result }));
  }
} finally {
  busy?.kill();
}
