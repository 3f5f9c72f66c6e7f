// A sandbox Deno runner driven directly, with no Node service, gRPC or
// gateway in front: each worker kept busy with one trivial responder
// execution after another, the next sent the moment the last answers. For
// measuring the Deno side alone (CPU per execution from /proc, split by
// thread, and the process's resident memory under the load) and for long
// runs that hunt rare failures (`--busy` keeps a core busy meanwhile).
// `--runner` points at another checkout's sandbox/deno/runner.js for an A/B
// in one sitting. Linux only (/proc).
//
//   node --import tsx test/bench/deno-runner.ts [--runner F] [--workers 2]
//     [--executions 6000] [--share-mb 10] [--heap-mb 32] [--headroom-mb 16]
//     [--v8-flags F,G] [--busy] [--runs 1] [--gap-ms 0] [--scheduling batch|normal]
// `--gap-ms` waits that long after each result before the worker's next
// execution, as at one connection where the answer travels back to the
// client and the next request in: the worker is idle meanwhile, and
// latency, not throughput, is what that run measures.
// The defaults are the pool's for a default lease: the script's share, the
// heap limit that adds the worker's own heap and the collection headroom,
// and that headroom.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { bundledDeno } from "../../sandbox/config.js";
import { DENO_RUNNER } from "../../sandbox/files.js";
import { DenoProcess } from "../../sandbox/pool/deno-process.js";
import { statusKib, threadCpuMs } from "./cpu.js";
import { DEFAULT_HEAP, DEFAULT_POOL, EXEC_TIMEOUT_MS, trivialExec } from "./direct-exec.js";
import { percentile } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    runner: { type: "string", default: DENO_RUNNER },
    workers: { type: "string", default: "2" },
    executions: { type: "string", default: "6000" },
    "share-mb": { type: "string", default: String(DEFAULT_HEAP.shareMb) },
    "heap-mb": { type: "string", default: String(DEFAULT_HEAP.heapMb) },
    "headroom-mb": { type: "string", default: String(DEFAULT_HEAP.headroomMb) },
    "v8-flags": { type: "string", default: "" },
    busy: { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    "gap-ms": { type: "string", default: "0" },
    // The pool's default unless given (sandbox/pool/scheduling.ts).
    scheduling: { type: "string", default: DEFAULT_POOL.scheduling },
  },
});

interface RunResult {
  executionsPerSecond: number;
  cpuMsPerExecution: number;
  byThread: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** The Deno process's resident memory under the load: the mean of readings every 100 ms, and its peak (VmHWM). */
  rssMib: number;
  peakRssMib: number;
  failures: string[];
}

const statusMib = (pid: number, field: "VmRSS" | "VmHWM") => statusKib(pid, field) / 1024;

function once(denoPath: string, workers: number, total: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const sentAt = new Map<number, { worker: number; at: number }>();
    const latencies: number[] = [];
    const failures: string[] = [];
    let nextId = 0;
    let ready = 0;
    let started = 0;
    let cpuBefore = new Map<string, number>();
    const rssReadings: number[] = [];
    let rssTimer: NodeJS.Timeout | undefined;
    const end = (result: RunResult) => {
      clearInterval(rssTimer);
      void deno.stop();
      resolve(result);
    };
    const send = (worker: number) => {
      const id = ++nextId;
      sentAt.set(id, { worker, at: performance.now() });
      deno.toWorker(worker, EXEC_TIMEOUT_MS, trivialExec(id));
    };
    const finish = () => {
      const ms = performance.now() - started;
      let cpu = 0;
      const byThread: Record<string, number> = {};
      for (const [name, v] of threadCpuMs(deno.pid!)) {
        const d = v - (cpuBefore.get(name) ?? 0);
        cpu += d;
        if (d / total >= 0.005) byThread[name] = Number((d / total).toFixed(3));
      }
      latencies.sort((a, b) => a - b);
      const mean = rssReadings.reduce((a, b) => a + b, 0) / Math.max(1, rssReadings.length);
      end({
        executionsPerSecond: Math.round((total / ms) * 1000),
        cpuMsPerExecution: Number((cpu / total).toFixed(3)),
        byThread,
        p50Ms: Number(percentile(latencies, 50).toFixed(3)),
        p99Ms: Number(percentile(latencies, 99).toFixed(3)),
        rssMib: Number(mean.toFixed(1)),
        peakRssMib: Number(statusMib(deno.pid!, "VmHWM").toFixed(1)),
        failures,
      });
    };
    const deno: DenoProcess = new DenoProcess(
      1,
      denoPath,
      {
        workerReady() {
          if (++ready < workers) return;
          cpuBefore = threadCpuMs(deno.pid!);
          started = performance.now();
          rssTimer = setInterval(() => rssReadings.push(statusMib(deno.pid!, "VmRSS")), 100);
          for (let w = 1; w <= workers; w++) send(w);
        },
        // A worker lost (a hang ends at the runner's deadline as "time") fails the run.
        workerGone(worker, reason) {
          failures.push(`worker ${worker} gone (${reason}) after ${latencies.length} executions`);
          end({ executionsPerSecond: 0, cpuMsPerExecution: 0, byThread: {}, p50Ms: 0, p99Ms: 0, rssMib: 0, peakRssMib: 0, failures });
        },
        workerExited() {},
        request() {},
        exited(how) {
          if (latencies.length < total && failures.length === 0) reject(new Error(`Deno exited during the run (${how})`));
        },
        result(exec, outcome) {
          const s = sentAt.get(exec);
          if (!s) return reject(new Error(`a result for an execution never sent: ${exec}`));
          sentAt.delete(exec);
          latencies.push(performance.now() - s.at);
          if (!outcome.startsWith("R")) failures.push(outcome.slice(0, 120));
          if (nextId < total) {
            if (gapMs > 0) setTimeout(() => send(s.worker), gapMs);
            else send(s.worker);
          }
          else if (latencies.length === total) finish();
        },
      },
      { runner: args.runner, v8Flags: args["v8-flags"], scheduling: args.scheduling === "normal" ? "normal" : "batch" },
    );
    for (let w = 1; w <= workers; w++) deno.spawnWorker(w, { heapMb: Number(args["heap-mb"]), headroomMb: Number(args["headroom-mb"]), shareMb: Number(args["share-mb"]) });
  });
}

const gapMs = Number(args["gap-ms"]);
const denoPath = process.env.DENO_PATH ?? bundledDeno();
if (!denoPath) throw new Error("no Deno binary for this platform in node_modules; set DENO_PATH");
const busy = args.busy ? spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }) : undefined;
try {
  for (let r = 1; r <= Number(args.runs); r++) {
    const result = await once(denoPath, Number(args.workers), Number(args.executions));
    console.log(JSON.stringify({ run: r, ...result }));
  }
} finally {
  busy?.kill();
}
