// The floor under the sandbox's memory per leased worker: what an empty
// worker adds to a Deno process started with the pool's flags
// (deno-worker-floor.js), for the benches that measure against it.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DENO_FLAGS } from "../../sandbox/pool/deno-process.js";
import type { WorkerHeap } from "../../sandbox/pool/types.js";

const FLOOR_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "deno-worker-floor.js");

/** Resident memory per empty worker of `kind`, `count` of them started (MiB). */
export function emptyWorkerMib(denoPath: string, kind: "thread" | "web", heap: WorkerHeap, count: number): number {
  const args = [...DENO_FLAGS, FLOOR_SCRIPT, kind, String(heap.heapMb), String(heap.headroomMb), String(count)];
  const out = execFileSync(denoPath, args, { encoding: "utf8", timeout: 120_000 });
  return Number(out.trim()) / 1024 / 1024;
}
