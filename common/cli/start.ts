// `npm start`: the whole system on one machine with no server to install.
// Generates development keys on first run, then runs each service as its own
// process on an embedded database under DATA_DIR, and stops them all on
// Ctrl-C. A service that dies takes the others down with a non-zero exit.
// BROKER_INSTANCES and SANDBOX_INSTANCES start more than one of each (see
// instances.ts).
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../config.js";
import { devServiceEnv, ensureDevMaterial } from "../dev-material.js";
import { layOut } from "./instances.js";

// This file runs compiled, from dist/ (see build.mjs), and so do the services.
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function services() {
  try {
    const runs = layOut(process.env);
    if (typeof runs === "string") throw new Error(runs);
    return runs;
  } catch (err) {
    process.stderr.write(`npm start: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
const SERVICES = services();

const dev = await ensureDevMaterial(process.env.DATA_DIR ?? ".data");
const env = devServiceEnv(dev, process.env);
const children = new Map<string, ChildProcess>();
let stopping = false;

function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const child of children.values()) child.kill("SIGKILL");
  }, 10_000);
  const waitAll = [...children.values()].map(
    (c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once("exit", () => resolve()))),
  );
  void Promise.all(waitAll).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}

for (const svc of SERVICES) {
  const child = spawn(process.execPath, [path.join(DIST, svc.entry)], {
    env: { ...env, ...svc.env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.set(svc.name, child);
  child.once("exit", (code, signal) => {
    if (stopping) return;
    process.stderr.write(`${svc.name} exited (${signal ?? `code ${code}`}); stopping the others\n`);
    stopAll(1);
  });
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
process.stderr.write(
  `secutils-secrets: data in ${dev.dataDir}; gateway on http://127.0.0.1:${process.env.PORT ?? 7070}; ` +
    `operator token in ${dev.operatorTokenFile}\n` +
    (SERVICES.length > 3 ? `instances: ${SERVICES.map((s) => `${s.name} ${s.env.BROKER_PORT ?? s.env.SANDBOX_PORT ?? ""}`.trim()).join(", ")}\n` : ""),
);
