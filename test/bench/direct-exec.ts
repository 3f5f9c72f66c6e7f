// What the benches that drive a sandbox Deno runner directly (deno-runner.ts,
// worker-memory.ts) send it: one trivial responder execution reading a
// released secret, under the service's default pool and worker heap.
import { loadSandboxConfig } from "../../sandbox/config.js";
import { execMessage } from "../../sandbox/deno/protocol.js";
import { workerHeap } from "../../sandbox/pool/types.js";

const SCRIPT = '(async () => ({ statusCode: 200, body: context.secrets.A ? "ok" : "missing" }))()';
const CONTEXT = JSON.stringify({ method: "GET", path: "/x", query: {}, headers: { accept: "*/*" } });
const SECRETS = JSON.stringify({ A: "alpha", B: "beta" });
export const EXEC_TIMEOUT_MS = 5_000;
// The service's defaults (no cache of released secrets: it would want a key file).
export const DEFAULT_POOL = loadSandboxConfig({ SCRIPT_SECRETS_CACHE_MAX_BYTES: "0" }).pool;
export const DEFAULT_HEAP = workerHeap(DEFAULT_POOL, DEFAULT_POOL.defaultMemoryMb);

/** The exec message of execution `id`, for DenoProcess.toWorker(). */
export function trivialExec(id: number): string {
  return execMessage({
    t: "exec", id, kind: "responder", script: SCRIPT, context: CONTEXT, secrets: SECRETS,
    timeoutMs: EXEC_TIMEOUT_MS, maxResultBytes: 1 << 20, maxLogBytes: 1 << 16, bufferBytes: 64 << 20,
  });
}
