// Resident memory per leased worker, measured on a sandbox Deno runner driven
// directly: no Node service, gRPC or spare workers, so a run takes seconds
// and moves by ~0.05 MiB, against ~0.1 for the sandbox bench's figure (which
// is the one issue 17's goal is read from). Each run starts a runner, leases
// two workers, then `--workers` more, each running one trivial responder
// execution (direct-exec.ts), so each holds a dead realm and a spare, as a
// leased worker does; the process's RSS between the two, per worker. Runs of
// `--runner` (another checkout's sandbox/deno/runner.js) and of this checkout
// take turns for an A/B in one sitting; an empty node:worker_threads worker
// is the floor.
//
//   node --import tsx test/bench/worker-memory.ts [--runner F] [--workers 24] [--runs 3]
import path from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { bundledDeno } from "../../sandbox/config.js";
import { DENO_RUNNER } from "../../sandbox/files.js";
import { DenoProcess } from "../../sandbox/pool/deno-process.js";
import { statusKib } from "./cpu.js";
import { DEFAULT_HEAP as HEAP, EXEC_TIMEOUT_MS, trivialExec } from "./direct-exec.js";
import { emptyWorkerMib } from "./empty-worker.js";

const { values: args } = parseArgs({
  options: {
    runner: { type: "string" },
    workers: { type: "string", default: "24" },
    runs: { type: "string", default: "3" },
  },
});

/** MiB of resident memory per leased worker, for one start of `runner`. */
async function perWorker(denoPath: string, runner: string, workers: number): Promise<number> {
  let onReady: (() => void) | undefined;
  let onResult: ((outcome: string) => void) | undefined;
  let failure: string | undefined;
  let id = 0;
  const deno: DenoProcess = new DenoProcess(
    1,
    denoPath,
    {
      workerReady: () => onReady?.(),
      workerGone: (w, reason) => (failure ??= `worker ${w} gone (${reason})`),
      workerExited() {},
      request() {},
      exited: (how) => (failure ??= `Deno exited (${how})`),
      result: (_exec, outcome) => onResult?.(outcome),
    },
    { runner, scheduling: "normal" },
  );
  const lease = async (w: number) => {
    await new Promise<void>((resolve) => {
      onReady = resolve;
      deno.spawnWorker(w, HEAP);
    });
    const outcome = await new Promise<string>((resolve) => {
      onResult = resolve;
      deno.toWorker(w, EXEC_TIMEOUT_MS, trivialExec(++id));
    });
    if (!outcome.startsWith("R")) failure ??= `an execution failed: ${outcome.slice(0, 120)}`;
  };
  // The median of five readings once the workers' spare realms are made.
  const rssKib = async () => {
    await sleep(1500);
    const readings: number[] = [];
    for (let i = 0; i < 5; i++) {
      readings.push(statusKib(deno.pid!, "VmRSS"));
      await sleep(100);
    }
    return readings.sort((a, b) => a - b)[2]!;
  };
  try {
    // Two first, so what the process pays once (its first worker, the input thread's buffers) is not counted per worker.
    for (let w = 1; w <= 2; w++) await lease(w);
    const before = await rssKib();
    for (let w = 3; w < 3 + workers; w++) await lease(w);
    const after = await rssKib();
    if (failure) throw new Error(failure);
    return (after - before) / workers / 1024;
  } finally {
    await deno.stop();
  }
}

const denoPath = process.env.DENO_PATH ?? bundledDeno();
if (!denoPath) throw new Error("no Deno binary for this platform in node_modules; set DENO_PATH");
const workers = Number(args.workers);
const cases: Array<[string, string]> = [["this checkout", DENO_RUNNER]];
if (args.runner) cases.unshift([args.runner, path.resolve(args.runner)]);
const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
const floors: number[] = [];
console.log(`RSS per leased worker, ${workers} leased, heap ${HEAP.heapMb} MiB (headroom ${HEAP.headroomMb}); MiB`);
for (let run = 1; run <= Number(args.runs); run++) {
  for (const [name, runner] of cases) results.get(name)!.push(await perWorker(denoPath, runner, workers));
  floors.push(emptyWorkerMib(denoPath, "thread", HEAP, workers));
  console.log(`  run ${run}: ${cases.map(([name]) => `${name} ${results.get(name)!.at(-1)!.toFixed(3)}`).join(", ")}, empty worker ${floors.at(-1)!.toFixed(3)}`);
}
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
for (const [name] of cases) console.log(`${name}: ${range(results.get(name)!)} MiB per leased worker`);
console.log(`an empty node:worker_threads worker: ${range(floors)} MiB`);
