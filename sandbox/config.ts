import type { KeyObject } from "node:crypto";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { ConfigError, grpcTargetValue, logLevel, parseEnv, port, positiveInt, metricsListen, optionalPort, type MetricsListen } from "../common/config.js";
import { readGrantKey } from "../common/grant-token.js";
import type { TlsFiles } from "../common/tls.js";
import { outboundPolicyFromEnv, type OutboundPolicy } from "./outbound/policy.js";
import type { LimitSettings } from "./executions/request.js";
import type { PoolOptions } from "./pool/types.js";

const schema = z.object({
  DATA_DIR: z.string().default(".data"),
  SANDBOX_HOST: z.string().default("127.0.0.1"),
  SANDBOX_PORT: port(7072),
  SANDBOX_TLS_CA: z.string().optional(),
  SANDBOX_TLS_CERT: z.string().optional(),
  SANDBOX_TLS_KEY: z.string().optional(),
  BROKER_PORT: port(7071),
  BROKER_URL: grpcTargetValue,
  DENO_PATH: z.string().optional(),
  SANDBOX_PROCESSES: positiveInt(Math.min(2, os.availableParallelism())),
  SANDBOX_MAX_WORKERS: positiveInt(64),
  SANDBOX_WORKERS_PER_USER: positiveInt(4),
  // Nice value of a user's running executions beyond their first (0: off).
  SANDBOX_PARALLEL_NICE: z.coerce.number().int().min(0).max(19).default(10),
  // Nice value of the thread that carries out scripts' op_proxy_request calls (0: normal).
  SANDBOX_PROXY_NICE: z.coerce.number().int().min(0).max(19).default(10),
  // Linux scheduling policy of the Deno processes (pool/scheduling.ts): batch
  // (SCHED_BATCH) keeps a thread that wakes from preempting a running script;
  // auto uses it while no two users run scripts at once.
  SANDBOX_DENO_SCHEDULING: z.enum(["auto", "batch", "normal"]).default("auto"),
  SANDBOX_SPARE_WORKERS: positiveInt(4),
  SANDBOX_WARMUP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  SANDBOX_QUEUE_PER_USER: positiveInt(1000),
  SANDBOX_LEASE_IDLE_MS: positiveInt(30_000),
  SANDBOX_MAX_PROCESS_RSS_MB: positiveInt(2048),
  SANDBOX_TIMEOUT_MS: positiveInt(30_000),
  SANDBOX_MAX_TIMEOUT_MS: positiveInt(120_000),
  SANDBOX_MEMORY_MB: positiveInt(10),
  SANDBOX_GC_HEADROOM_MB: z.coerce.number().int().min(0).max(1024).default(16),
  SANDBOX_MAX_MEMORY_MB: positiveInt(128),
  SANDBOX_MAX_RESULT_BYTES: positiveInt(4 * 1024 * 1024),
  SANDBOX_MAX_LOG_BYTES: positiveInt(64 * 1024),
  // Debian's package puts the browser itself here (/usr/bin/chromium is a shell
  // wrapper that adds flags and extensions from /etc/chromium.d). A page tracker
  // run fails with a clear message when it is missing.
  CHROMIUM_PATH: z.string().min(1).default("/usr/lib/chromium/chromium"),
  PAGE_TRACKER_MAX_CONCURRENT_RUNS: positiveInt(2),
  PAGE_TRACKER_MAX_WAITING_PER_USER: positiveInt(8),
  // Chromium's own process sandbox. auto: on, except as root, where it cannot start.
  // off is for containers without user namespaces, where the container is the boundary.
  CHROMIUM_SANDBOX: z.enum(["auto", "on", "off"]).default("auto"),
  // Private memory (anonymous and shared pages) of one page run's renderer
  // processes, summed; above it they are killed and the run fails with the
  // memory limit. Pages allocate outside every other limit of the sandbox.
  // An empty page's renderer alone holds some 30 MiB: below 64 every run would fail.
  PAGE_TRACKER_MAX_RENDERER_MB: z.coerce.number().int().min(64).default(512),
  // The browser's scheduling priority (nice, 0-19): page runs are background
  // work, and on a small machine a busy Chromium would otherwise take the
  // cores webhook responders answer from.
  PAGE_TRACKER_BROWSER_NICE: z.coerce.number().int().min(0).max(19).default(10),
  // Released script secrets kept in memory between executions (0: a release
  // at the broker for every execution). Each fill is a release, audited there.
  SCRIPT_SECRETS_CACHE_MAX_BYTES: z.coerce.number().int().min(0).default(8 * 1024 * 1024),
  SCRIPT_SECRETS_CACHE_TTL_MS: z.coerce.number().int().min(1).max(60_000).default(60_000),
  // The gateway's public key: the sandbox checks every grant itself before a cached value is used.
  SANDBOX_GRANT_VERIFY_KEY_FILE: z.string().optional(),
  SANDBOX_METRICS_PORT: optionalPort,
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: logLevel,
});

export interface SandboxConfig {
  host: string;
  port: number;
  tls: TlsFiles;
  brokerUrl: string;
  pool: Omit<PoolOptions, "denoPath"> & { denoPath: string };
  limits: LimitSettings;
  outbound: OutboundPolicy;
  /** The nice value of the proxy thread (executions/proxy-thread.ts). */
  proxyNice: number;
  browser: { executablePath: string; maxConcurrentRuns: number; maxWaitingPerUser: number; chromiumSandbox: boolean; maxRendererMb: number; nice: number };
  /** The cache of released script secrets; off (and no key needed) when maxBytes is 0. */
  secretsCache: { maxBytes: number; ttlMs: number; verifyKey?: KeyObject };
  /** Prometheus metrics listener; off when unset. */
  metrics?: MetricsListen;
  logLevel: string;
}

// Heap the Deno worker itself uses before any script (measured: ~6 MiB),
// added to the script's share so a 10 MiB limit leaves the script 10 MiB.
const WORKER_BASE_MB = 6;
// Results travel in one gRPC message; leave room for the envelope.
const GRPC_MESSAGE_BYTES = 16 * 1024 * 1024;

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const e = parseEnv(schema, env);
  const problems: string[] = [];
  const pair = (name: string, def: number, max: number) => {
    if (def > max) problems.push(`${name} must not exceed its maximum (${max})`);
    return { default: def, max };
  };
  const limits: LimitSettings = {
    timeoutMs: pair("SANDBOX_TIMEOUT_MS", e.SANDBOX_TIMEOUT_MS, e.SANDBOX_MAX_TIMEOUT_MS),
    memoryMb: pair("SANDBOX_MEMORY_MB", e.SANDBOX_MEMORY_MB, e.SANDBOX_MAX_MEMORY_MB),
    maxResultBytes: pair("SANDBOX_MAX_RESULT_BYTES", e.SANDBOX_MAX_RESULT_BYTES, GRPC_MESSAGE_BYTES / 2),
    maxLogBytes: pair("SANDBOX_MAX_LOG_BYTES", e.SANDBOX_MAX_LOG_BYTES, 1024 * 1024),
  };
  let outbound: OutboundPolicy | undefined;
  try {
    outbound = outboundPolicyFromEnv(env);
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  let verifyKey: KeyObject | undefined;
  if (e.SCRIPT_SECRETS_CACHE_MAX_BYTES > 0) {
    try {
      verifyKey = readGrantKey(
        "SANDBOX_GRANT_VERIFY_KEY_FILE",
        e.SANDBOX_GRANT_VERIFY_KEY_FILE ?? path.join(e.DATA_DIR, "grants", "verify-key.pem"),
        "public",
      );
    } catch (err) {
      problems.push(...(err instanceof ConfigError ? err.problems : [String(err)]));
    }
  }
  const denoPath = e.DENO_PATH ?? bundledDeno();
  if (!denoPath) problems.push("DENO_PATH: no Deno binary for this platform in node_modules; set DENO_PATH");
  if (problems.length > 0) throw new ConfigError(problems);
  const pki = path.join(e.DATA_DIR, "pki");
  return {
    host: e.SANDBOX_HOST,
    port: e.SANDBOX_PORT,
    tls: {
      ca: e.SANDBOX_TLS_CA ?? path.join(pki, "ca.crt"),
      cert: e.SANDBOX_TLS_CERT ?? path.join(pki, "sandbox.crt"),
      key: e.SANDBOX_TLS_KEY ?? path.join(pki, "sandbox.key"),
    },
    brokerUrl: e.BROKER_URL ?? `127.0.0.1:${e.BROKER_PORT}`,
    pool: {
      denoPath: denoPath!,
      processes: e.SANDBOX_PROCESSES,
      maxWorkers: e.SANDBOX_MAX_WORKERS,
      workersPerUser: e.SANDBOX_WORKERS_PER_USER,
      parallelNice: e.SANDBOX_PARALLEL_NICE,
      scheduling: e.SANDBOX_DENO_SCHEDULING,
      spareWorkers: e.SANDBOX_SPARE_WORKERS,
      queuePerUser: e.SANDBOX_QUEUE_PER_USER,
      leaseIdleMs: e.SANDBOX_LEASE_IDLE_MS,
      defaultMemoryMb: e.SANDBOX_MEMORY_MB,
      workerBaseMb: WORKER_BASE_MB,
      gcHeadroomMb: e.SANDBOX_GC_HEADROOM_MB,
      maxProcessRssMb: e.SANDBOX_MAX_PROCESS_RSS_MB,
      killGraceMs: 3000,
      workerExitGraceMs: 10_000,
      warmupDelayMs: e.SANDBOX_WARMUP_DELAY_MS,
    },
    limits,
    outbound: outbound!,
    proxyNice: e.SANDBOX_PROXY_NICE,
    browser: {
      executablePath: e.CHROMIUM_PATH,
      maxConcurrentRuns: e.PAGE_TRACKER_MAX_CONCURRENT_RUNS,
      maxWaitingPerUser: e.PAGE_TRACKER_MAX_WAITING_PER_USER,
      chromiumSandbox: e.CHROMIUM_SANDBOX === "auto" ? process.getuid?.() !== 0 : e.CHROMIUM_SANDBOX === "on",
      maxRendererMb: e.PAGE_TRACKER_MAX_RENDERER_MB,
      nice: e.PAGE_TRACKER_BROWSER_NICE,
    },
    secretsCache: { maxBytes: e.SCRIPT_SECRETS_CACHE_MAX_BYTES, ttlMs: e.SCRIPT_SECRETS_CACHE_TTL_MS, verifyKey },
    metrics: metricsListen(e.METRICS_HOST, e.SANDBOX_METRICS_PORT),
    logLevel: e.LOG_LEVEL,
  };
}

export const GRPC_MAX_MESSAGE_BYTES = GRPC_MESSAGE_BYTES;

// The real binary from the `deno` package's platform dependency: spawning the
// npm wrapper instead would leave Deno running when the wrapper is killed.
export function bundledDeno(): string | undefined {
  const suffix = process.platform === "linux" ? `linux-${process.arch}-glibc` : `${process.platform}-${process.arch}`;
  try {
    const pkg = createRequire(import.meta.url).resolve(`@deno/${suffix}/package.json`);
    return path.join(path.dirname(pkg), "deno");
  } catch {
    return undefined;
  }
}
