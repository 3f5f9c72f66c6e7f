import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../common/config.js";
import { loadSandboxConfig as load } from "../../sandbox/config.js";
import { workerHeap } from "../../sandbox/pool/types.js";

// The sandbox's worker heap, page tracker and secrets cache settings as the service reads them at start.

// The page tracker cases run without the cache of released secrets, which needs a key file.
const loadSandboxConfig = (env: NodeJS.ProcessEnv) => load({ SCRIPT_SECRETS_CACHE_MAX_BYTES: "0", ...env });

const problemsOf = (env: NodeJS.ProcessEnv, loader = loadSandboxConfig): string[] => {
  try {
    loader(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("worker heap", () => {
  it("is the script's share, 6 MiB for the worker and a collection headroom of SANDBOX_GC_HEADROOM_MB (default 16, 0 allowed)", () => {
    const { pool } = loadSandboxConfig({});
    expect(pool.gcHeadroomMb).toBe(16);
    expect(workerHeap(pool, pool.defaultMemoryMb)).toEqual({ heapMb: 10 + 6 + 16, headroomMb: 16, shareMb: 10 });
    expect(workerHeap(loadSandboxConfig({ SANDBOX_GC_HEADROOM_MB: "0" }).pool, 20)).toEqual({ heapMb: 20 + 6, headroomMb: 0, shareMb: 20 });
    for (const bad of ["-1", "1.5", "2048", "lots"]) {
      const problems = problemsOf({ SANDBOX_GC_HEADROOM_MB: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]!.startsWith("SANDBOX_GC_HEADROOM_MB:"), problems[0]).toBe(true);
    }
  });
});

describe("page tracker settings", () => {
  it("defaults to Debian's Chromium binary, 2 concurrent runs, Chromium's sandbox on unless root, 512 MiB of renderer memory per run and nice 10", () => {
    const { browser } = loadSandboxConfig({});
    expect(browser).toEqual({
      executablePath: "/usr/lib/chromium/chromium",
      maxConcurrentRuns: 2,
      maxWaitingPerUser: 8,
      chromiumSandbox: process.getuid?.() !== 0,
      maxRendererMb: 512,
      nice: 10,
    });
  });

  it("PAGE_TRACKER_BROWSER_NICE, SANDBOX_PARALLEL_NICE and SANDBOX_PROXY_NICE take a nice value from 0 to 19", () => {
    expect(loadSandboxConfig({ PAGE_TRACKER_BROWSER_NICE: "0" }).browser.nice).toBe(0);
    expect(loadSandboxConfig({ SANDBOX_PARALLEL_NICE: "19" }).pool.parallelNice).toBe(19);
    expect(loadSandboxConfig({}).pool.parallelNice).toBe(10);
    expect(loadSandboxConfig({ SANDBOX_PROXY_NICE: "0" }).proxyNice).toBe(0);
    expect(loadSandboxConfig({}).proxyNice).toBe(10);
    for (const name of ["PAGE_TRACKER_BROWSER_NICE", "SANDBOX_PARALLEL_NICE", "SANDBOX_PROXY_NICE"]) {
      for (const bad of ["20", "-1", "1.5", "low"]) expect(problemsOf({ [name]: bad }), `${name}=${bad}`).toHaveLength(1);
    }
  });

  it("SANDBOX_DENO_SCHEDULING is auto unless set to batch or normal", () => {
    expect(loadSandboxConfig({}).pool.scheduling).toBe("auto");
    expect(loadSandboxConfig({ SANDBOX_DENO_SCHEDULING: "batch" }).pool.scheduling).toBe("batch");
    expect(loadSandboxConfig({ SANDBOX_DENO_SCHEDULING: "normal" }).pool.scheduling).toBe("normal");
    for (const bad of ["idle", "BATCH", "fifo"]) expect(problemsOf({ SANDBOX_DENO_SCHEDULING: bad }), bad).toHaveLength(1);
  });

  it("PAGE_TRACKER_MAX_RENDERER_MB sets the renderer memory cap, from 64 MiB up", () => {
    expect(loadSandboxConfig({ PAGE_TRACKER_MAX_RENDERER_MB: "256" }).browser.maxRendererMb).toBe(256);
    expect(loadSandboxConfig({ PAGE_TRACKER_MAX_RENDERER_MB: "64" }).browser.maxRendererMb).toBe(64);
    for (const bad of ["63", "0", "-1", "1.5", "lots"]) {
      const problems = problemsOf({ PAGE_TRACKER_MAX_RENDERER_MB: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]!.startsWith("PAGE_TRACKER_MAX_RENDERER_MB:"), problems[0]).toBe(true);
    }
  });

  it.each([
    ["on", true],
    ["off", false],
  ])("CHROMIUM_SANDBOX=%s", (value, expected) => {
    expect(loadSandboxConfig({ CHROMIUM_SANDBOX: value }).browser.chromiumSandbox).toBe(expected);
  });

  it("names each bad value once", () => {
    const problems = problemsOf({ CHROMIUM_SANDBOX: "maybe", PAGE_TRACKER_MAX_CONCURRENT_RUNS: "0", PAGE_TRACKER_MAX_RENDERER_MB: "10" });
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => p.startsWith("PAGE_TRACKER_MAX_RENDERER_MB:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("CHROMIUM_SANDBOX:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("PAGE_TRACKER_MAX_CONCURRENT_RUNS:"))).toBe(true);
  });
});

describe("the cache of released script secrets", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-config-"));
  const keyFile = path.join(dir, "verify-key.pem");
  fs.writeFileSync(keyFile, crypto.generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is on by default (8 MiB, 60 s) and reads the gateway's grant verify key", () => {
    const { secretsCache } = load({ SANDBOX_GRANT_VERIFY_KEY_FILE: keyFile });
    expect(secretsCache.maxBytes).toBe(8 * 1024 * 1024);
    expect(secretsCache.ttlMs).toBe(60_000);
    expect(secretsCache.verifyKey?.asymmetricKeyType).toBe("ed25519");
  });

  it("needs the key while on, and not when SCRIPT_SECRETS_CACHE_MAX_BYTES=0", () => {
    const missing = problemsOf({ SANDBOX_GRANT_VERIFY_KEY_FILE: path.join(dir, "absent.pem") }, load);
    expect(missing).toHaveLength(1);
    expect(missing[0]!.startsWith("SANDBOX_GRANT_VERIFY_KEY_FILE:"), missing[0]).toBe(true);
    expect(load({ SCRIPT_SECRETS_CACHE_MAX_BYTES: "0", SANDBOX_GRANT_VERIFY_KEY_FILE: path.join(dir, "absent.pem") }).secretsCache.verifyKey).toBeUndefined();
  });

  it("keeps values at most 60 s", () => {
    expect(load({ SANDBOX_GRANT_VERIFY_KEY_FILE: keyFile, SCRIPT_SECRETS_CACHE_TTL_MS: "5000" }).secretsCache.ttlMs).toBe(5000);
    for (const bad of ["60001", "0", "soon"]) {
      const problems = problemsOf({ SANDBOX_GRANT_VERIFY_KEY_FILE: keyFile, SCRIPT_SECRETS_CACHE_TTL_MS: bad }, load);
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]!.startsWith("SCRIPT_SECRETS_CACHE_TTL_MS:"), problems[0]).toBe(true);
    }
  });
});
