// Starts test/bench/monolith-server.js (the scripted responder's work in one
// unguarded Deno process) with the sandbox's own Deno binary.
import path from "node:path";
import { loadSandboxConfig } from "../../sandbox/config.js";
import type { Target } from "./http-load.js";
import { freePort, ROOT, spawnCommand } from "./processes.js";

export interface Monolith {
  target: Target;
  pid: number;
}

export async function startMonolith(script: string, values: { A: string; B: string }, cleanups: Array<() => unknown>): Promise<Monolith> {
  const deno = loadSandboxConfig({ ...process.env, SCRIPT_SECRETS_CACHE_MAX_BYTES: "0" }).pool.denoPath;
  const port = await freePort();
  const child = spawnCommand(
    "monolith",
    deno,
    ["run", "--allow-net=127.0.0.1", "--no-prompt", path.join(ROOT, "test/bench/monolith-server.js"), String(port), script, values.A, values.B],
    { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
  );
  cleanups.push(child.stop);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      if ((await res.text()) === "ok") break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error(`the monolith did not answer:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (child.pid === undefined) throw new Error("the monolith has no process id");
  return {
    pid: child.pid,
    target: {
      label: "monolith (Deno, no boundaries)",
      port,
      host: `127.0.0.1:${port}`,
      path: "/",
      wrong: (r) => (r.status === 200 && r.body === "ok" ? undefined : `status ${r.status}, body ${JSON.stringify(r.body)}`),
    },
  };
}
