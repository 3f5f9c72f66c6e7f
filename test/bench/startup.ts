// The start-up part of `npm run bench` (`-- startup`): `npm start` until
// GET /api/status answers 200, on a new data folder (keys, certificates and
// embedded databases created) and again on the same folder, each three
// times; the median against the goals (5 s and 3 s). Also when each service
// said it was listening, to show where the time goes.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, ROOT } from "./processes.js";
import type { Report } from "./report.js";
import { fmt } from "./stats.js";

// BENCH_STARTUP_RUNS: more starts for a steadier median (default 3).
const RUNS = Number(process.env.BENCH_STARTUP_RUNS) || 3;
const GOAL_NEW_MS = 5000;
const GOAL_EXISTING_MS = 3000;

interface Start {
  readyMs: number;
  /** Milliseconds from the command to each service's "listening" line. */
  services: Record<string, number>;
}

async function startOnce(dataDir: string): Promise<Start> {
  const [port, brokerPort, sandboxPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const t0 = performance.now();
  const child = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), BROKER_PORT: String(brokerPort), SANDBOX_PORT: String(sandboxPort), LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const services: Record<string, number> = {};
  let output = "";
  const watch = (chunk: Buffer) => {
    output += chunk.toString();
    for (const m of chunk.toString().matchAll(/"service":"(\w+)".*?"msg":"(?:\w+ listening|gateway ready)"/g)) services[m[1]!] ??= performance.now() - t0;
  };
  child.stdout.on("data", watch);
  child.stderr.on("data", watch);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let readyMs = 0;
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited:\n${output.slice(-2000)}`);
      const status = await fetch(`http://127.0.0.1:${port}/api/status`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.status)
        .catch(() => 0);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`/api/status not 200 after 120 s:\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    readyMs = performance.now() - t0;
  } finally {
    // The whole group, as Ctrl-C in a terminal does.
    process.kill(-child.pid!, "SIGINT");
    await exited;
  }
  return { readyMs, services };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchStartup(d: { report: Report; cleanups: Array<() => unknown> }): Promise<void> {
  console.log(`npm start until /api/status answers 200 (polled every 25 ms), ${RUNS} times each, median; ${os.cpus().length} CPUs`);
  const fresh: Start[] = [];
  const again: Start[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "secutils-startup-"));
    d.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fresh.push(await startOnce(dir));
    again.push(await startOnce(dir));
  }
  for (const [label, runs, goal] of [
    ["new data folder", fresh, GOAL_NEW_MS],
    ["existing data folder", again, GOAL_EXISTING_MS],
  ] as const) {
    const ms = median(runs.map((r) => r.readyMs));
    const parts = ["broker", "sandbox", "gateway"].map((s) => `${s} ${fmt.s(median(runs.map((r) => r.services[s] ?? NaN)))}`).join(", ");
    console.log(`  ${label}: ready in ${runs.map((r) => fmt.s(r.readyMs)).join(", ")}; listening at ${parts}`);
    d.report.add(`npm start to /api/status 200, ${label}, goal ≤ ${goal / 1000} s: ${ms <= goal ? "pass" : "FAIL"}`, fmt.s(ms), `${fmt.s(goal)} (goal)`, ms / goal);
  }
}
