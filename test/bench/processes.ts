import { spawn } from "node:child_process";
import crypto from "node:crypto";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { compiled } from "../helpers/process.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Bind-then-release leaves a small race, but the broker only reports its port
// in an info log, which LOG_LEVEL=warn suppresses.
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Child {
  readonly name: string;
  readonly pid: number | undefined;
  /** Resolves with the exit code or signal; rejects never. */
  readonly exited: Promise<string>;
  /** The last few KB of stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** A TypeScript file of the bench itself (not a service), loaded through tsx. */
export function spawnTs(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv): Child {
  return spawnCommand(name, process.execPath, ["--import", "tsx", entry, ...args], env);
}

/**
 * A service (e.g. "broker/main.ts") run as `npm start` runs it: compiled, from
 * dist/. Through tsx its heap also held tsx's loader and every file's source
 * map (the soak's gateway kept 39 MiB after a collection, against 32 MiB
 * compiled), which is not what a user runs.
 */
export function spawnService(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv): Child {
  return spawnCommand(name, process.execPath, [compiled(entry), ...args], env);
}

export function spawnCommand(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (b: Buffer) => void (tail = (tail + b.toString()).slice(-4000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => ((done = true), resolve(err.message)));
    child.once("exit", (code, signal) => ((done = true), resolve(String(code ?? signal))));
  });
  return {
    name,
    pid: child.pid,
    exited,
    output: () => tail.trim(),
    async stop() {
      if (done) return;
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(force);
    },
  };
}

const NOT_YET = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

/** Retries `probe` until it answers; a child that exits first fails the wait with its output. */
export async function waitServing(child: Child, probe: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: string | undefined;
  const died = child.exited.then((how) => {
    exit = how;
    throw new Error(`${child.name} exited (${how}) before serving:\n${child.output()}`);
  });
  for (;;) {
    // A probe that fails fast would win every race against `died`, hence the explicit check.
    if (exit !== undefined) await died;
    try {
      await Promise.race([died, probe()]);
      return;
    } catch (err) {
      const code = (err as Partial<grpc.ServiceError>).code;
      if (code === undefined || !NOT_YET.has(code)) throw err;
      if (Date.now() > deadline) throw new Error(`${child.name} not serving after ${timeoutMs} ms:\n${child.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface BenchDb {
  url: string;
  /** e.g. "PostgreSQL 15.2" */
  server: string;
  drop(): Promise<void>;
}

/** A fresh database on the given server, or undefined when it does not answer. */
export async function createBenchDb(adminUrl: string): Promise<BenchDb | undefined> {
  const admin = () => new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  const c = admin();
  c.on("error", () => undefined);
  try {
    await c.connect();
  } catch {
    return undefined;
  }
  const name = `bench_${crypto.randomBytes(6).toString("hex")}`;
  let server: string;
  try {
    server = `PostgreSQL ${(await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?"}`;
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    server,
    async drop() {
      const d = admin();
      await d.connect();
      try {
        // FORCE: a broker that had to be SIGKILLed may have left sessions behind.
        await d.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await d.end();
      }
    },
  };
}
