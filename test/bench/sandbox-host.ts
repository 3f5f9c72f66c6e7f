// The sandbox's own pieces inside the bench process, without gRPC: the Pool
// and ExecutionService as sandbox/main.ts builds them, and single Deno
// processes started the way the pool starts them.
import { createLogger } from "../../common/log.js";
import { SecretsSource } from "../../sandbox/broker/secrets.js";
import { loadSandboxConfig, type SandboxConfig } from "../../sandbox/config.js";
import { Registry } from "prom-client";
import { ExecutionService } from "../../sandbox/executions/service.js";
import { SandboxMetrics } from "../../sandbox/metrics.js";
import { DenoProcess } from "../../sandbox/pool/deno-process.js";
import { Pool } from "../../sandbox/pool/pool.js";
import { workerHeap } from "../../sandbox/pool/types.js";
import { expectBody, request, type ScriptCase } from "./sandbox-cases.js";
import { interleavedLatency, percentile } from "./stats.js";

const log = createLogger("sandbox-bench", "warn");

export interface Host {
  config: SandboxConfig;
  /** A pool and service with the given pool settings; `stop` ends both. */
  start(pool?: Partial<SandboxConfig["pool"]>): { pool: Pool; service: ExecutionService; stop(): Promise<void> };
}

/** `env` as the service would see it; no grant is ever sent, so the broker is never dialled. */
export function host(env: NodeJS.ProcessEnv): Host {
  const config = loadSandboxConfig(env);
  return {
    config,
    start(overrides = {}) {
      const pool = new Pool({ ...config.pool, ...overrides }, log);
      const secrets = new SecretsSource(config.brokerUrl, config.tls);
      const service = new ExecutionService(pool, secrets, config.outbound, config.limits, log, new SandboxMetrics(new Registry(), pool));
      return {
        pool,
        service,
        async stop() {
          await pool.stop();
          secrets.close();
        },
      };
    },
  };
}

/** Sequential `ExecutionService.execute` latency of each case, one user (its leased worker reused). */
export async function inHostLatency(h: Host, cases: readonly ScriptCase[], userId: string, warmup: number, samples: number, rounds: number) {
  const s = h.start();
  try {
    await s.pool.ready();
    const calls = cases.map((c) => {
      const req = request(userId, c);
      return async () => expectBody(await s.service.execute(req), c);
    });
    return await interleavedLatency(calls, warmup, samples, rounds);
  } finally {
    await s.stop();
  }
}

export interface DenoStart {
  /** Spawn until the runner reads its input (answers a line for an unknown worker). */
  process: number;
  /** Spawn until the first worker reports ready (the spawn line is sent at once). */
  firstWorker: number;
  /** A second worker on the running process: the cost of each new lease. */
  nextWorker: number;
}

const PROBE_WORKER = 999_999;

/** One Deno process started as the pool starts it (same binary, flags, runner), timed, then stopped. */
export async function denoStart(h: Host): Promise<DenoStart> {
  // A default worker's heap, as the pool asks for it.
  const heap = workerHeap(h.config.pool, h.config.pool.defaultMemoryMb);
  const arrivals = new Map<number, (t: number) => void>();
  const failures: Array<(err: Error) => void> = [];
  const arrival = (id: number) =>
    new Promise<number>((resolve, reject) => {
      arrivals.set(id, resolve);
      failures.push(reject);
    });
  const arrived = (id: number) => arrivals.get(id)?.(performance.now());
  const t0 = performance.now();
  // Every event the process may report; a variable, not a literal, so an
  // event this bench does not need (e.g. one added later) is no type error.
  const events = {
    workerReady: arrived,
    workerGone: arrived,
    workerWarm: () => {},
    workerExited: () => {},
    result: () => {},
    request: () => {},
    exited: (how: string) => failures.forEach((f) => f(new Error(`Deno exited during the start bench (${how})`))),
  };
  const deno = new DenoProcess(1, h.config.pool.denoPath, events);
  try {
    const up = arrival(PROBE_WORKER);
    const first = arrival(1);
    deno.toWorker(PROBE_WORKER, 0, "{}");
    deno.spawnWorker(1, heap);
    const [tUp, tFirst] = await Promise.all([up, first]);
    const next = arrival(2);
    const t1 = performance.now();
    deno.spawnWorker(2, heap);
    const tNext = await next;
    return { process: tUp - t0, firstWorker: tFirst - t0, nextWorker: tNext - t1 };
  } finally {
    await deno.stop();
  }
}

/** The fallback without a pool: a new Deno process and worker for one execution, until its answer. */
export async function processPerExecution(h: Host, c: ScriptCase, userId: string): Promise<number> {
  const t0 = performance.now();
  const s = h.start({ processes: 1, spareWorkers: 1 });
  try {
    expectBody(await s.service.execute(request(userId, c)), c);
    return performance.now() - t0;
  } finally {
    await s.stop();
  }
}

/** Median and maximum of `n` sequential runs. */
export async function repeat(n: number, run: () => Promise<number>): Promise<{ p50: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await run());
  return summarize(ms);
}

export function summarize(ms: number[]): { p50: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), max: sorted[sorted.length - 1]! };
}
