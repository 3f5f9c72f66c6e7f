// The system for the responders part, started the way `npm start` starts it:
// broker, sandbox and gateway each in their own process with the development
// keys, plus the hello-world baseline in a process of its own.
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { devServiceEnv, type DevPaths } from "../../common/dev-material.js";
import { createBenchDb, freePort, spawnService, spawnTs, type Child } from "./processes.js";

export interface StackDeps {
  dev: DevPaths;
  /** The bench's environment without BROKER_* and SANDBOX_* settings. */
  env: NodeJS.ProcessEnv;
  /** Postgres where fresh databases may be created; unreachable means embedded PGlite. */
  adminUrl: string;
  cleanups: Array<() => unknown>;
}

export interface Stack {
  gatewayPort: number;
  helloPort: number;
  operatorToken: string;
  /** BENCH_SANDBOX_ENV's settings, given to the sandbox (empty: its defaults). */
  sandboxSettings: Record<string, string>;
  /** e.g. "PostgreSQL 16.4 (fresh databases)" */
  backend: string;
  gateway: Child;
  children: Child[];
  gatewayPid: number;
  brokerPid: number;
  sandboxPid: number;
  helloPid: number;
  stop(): Promise<void>;
}

/**
 * BENCH_SANDBOX_ENV="SANDBOX_WORKERS_PER_USER=2 SANDBOX_PROCESSES=4": sandbox
 * settings to try, given on purpose (an inherited SANDBOX_* never reaches the
 * stack). Printed, so a run's figures say what they were measured with.
 */
function sandboxSettingsTried(text = process.env.BENCH_SANDBOX_ENV ?? ""): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of text.split(/\s+/).filter(Boolean)) {
    const m = /^((?:SANDBOX|SCRIPT)_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (!m) throw new Error(`BENCH_SANDBOX_ENV: expected SANDBOX_NAME=value or SCRIPT_NAME=value, got ${JSON.stringify(pair)}`);
    settings[m[1]!] = m[2]!;
  }
  return settings;
}

// Anything else the services read would change what runs (a different
// webhooks domain, no template cache, another operator token, Kratos sign-in).
const FOREIGN =
  /^(GATEWAY|GRANT|OPERATOR|KRATOS|WEBHOOKS|TEMPLATE|RESPONDER|OUTBOUND)_|^(PORT|HOST|DATA_DIR|LOG_LEVEL|API_KEYS_PER_USER|TRUSTED_PROXIES)$/;

/**
 * `part` names the embedded databases' folder (each part's stack has its
 * own); `sandboxEnv` holds settings of the sandbox's own (e.g.
 * OUTBOUND_ALLOW_HOSTS for a local upstream).
 */
export async function startStack(d: StackDeps, part = "responders", sandboxEnv: NodeJS.ProcessEnv = {}): Promise<Stack> {
  const tried = sandboxSettingsTried();
  const dbs = await databases(d);
  // Own folders for the embedded databases: another part's broker may hold dev.dataDir/broker/db.
  const dataDir = path.join(d.dev.dataDir, part);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const clean = Object.fromEntries(Object.entries(d.env).filter(([k]) => !FOREIGN.test(k)));
  const env = { ...devServiceEnv(d.dev, { ...clean, LOG_LEVEL: "warn" }), DATA_DIR: dataDir };
  const [brokerPort, sandboxPort, gatewayPort, helloPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);

  const spawn = (name: string, entry: string, args: string[], extra: NodeJS.ProcessEnv) => {
    const child = (entry.startsWith("test/") ? spawnTs : spawnService)(name, entry, args, { ...env, ...extra });
    d.cleanups.push(child.stop);
    return child;
  };
  const broker = spawn("broker", "broker/main.ts", [], {
    BROKER_HOST: "127.0.0.1",
    BROKER_PORT: String(brokerPort),
    ...(dbs.broker ? { BROKER_DATABASE_URL: dbs.broker } : {}),
  });
  const sandbox = spawn("sandbox", "sandbox/main.ts", [], {
    SANDBOX_HOST: "127.0.0.1",
    SANDBOX_PORT: String(sandboxPort),
    BROKER_URL: `127.0.0.1:${brokerPort}`,
    ...sandboxEnv,
    ...tried,
  });
  const gateway = spawn("gateway", "gateway/main.ts", [], {
    HOST: "127.0.0.1",
    PORT: String(gatewayPort),
    BROKER_URL: `127.0.0.1:${brokerPort}`,
    SANDBOX_URL: `127.0.0.1:${sandboxPort}`,
    ...(dbs.gateway ? { GATEWAY_DATABASE_URL: dbs.gateway } : {}),
  });
  const hello = spawn("hello server", "test/bench/hello-server.ts", [String(helloPort)], d.env);
  const children = [broker, sandbox, gateway, hello];

  // /api/status is 200 only once the gateway's database, the broker and the sandbox all answer.
  await Promise.all([
    waitHttpOk(`http://127.0.0.1:${gatewayPort}/api/status`, children, 120_000),
    waitHttpOk(`http://127.0.0.1:${helloPort}/`, [hello], 60_000),
  ]);
  return {
    gatewayPort,
    helloPort,
    operatorToken: fs.readFileSync(d.dev.operatorTokenFile, "utf8").trim(),
    backend: dbs.backend,
    sandboxSettings: tried,
    gateway,
    children,
    gatewayPid: pidOf(gateway),
    brokerPid: pidOf(broker),
    sandboxPid: pidOf(sandbox),
    helloPid: pidOf(hello),
    // Callers first: scripts still running for requests autocannon gave up on finish before the sandbox goes.
    stop: async () => {
      await Promise.all([gateway.stop(), hello.stop()]);
      await sandbox.stop();
      await broker.stop();
    },
  };
}

async function databases(d: StackDeps): Promise<{ broker?: string; gateway?: string; backend: string }> {
  const broker = await createBenchDb(d.adminUrl);
  if (!broker) return { backend: "embedded PGlite (no Postgres at BENCH_POSTGRES_URL)" };
  d.cleanups.push(broker.drop);
  const gateway = await createBenchDb(d.adminUrl);
  if (!gateway) throw new Error("Postgres answered once, then not again");
  d.cleanups.push(gateway.drop);
  return { broker: broker.url, gateway: gateway.url, backend: `${broker.server} (fresh databases)` };
}

function pidOf(c: Child): number {
  if (c.pid === undefined) throw new Error(`${c.name} has no process id`);
  return c.pid;
}

async function statusOf(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls until `url` answers 200; any of `children` exiting first fails the wait with its output. */
async function waitHttpOk(url: string, children: Child[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died: string | undefined;
  for (const c of children) void c.exited.then((how) => (died ??= `${c.name} exited (${how}) while starting:\n${c.output()}`));
  for (;;) {
    if (died) throw new Error(died);
    const status = await statusOf(url);
    if (status === 200) return;
    if (Date.now() > deadline) {
      const logs = children.map((c) => `--- ${c.name}\n${c.output()}`).join("\n");
      throw new Error(`${url} not 200 after ${timeoutMs} ms (last: ${status || "no answer"}):\n${logs}`);
    }
    await sleep(200);
  }
}
