// A throwaway PostgreSQL cluster of the soak's own (trust auth, loopback, a
// spare port), so the soak can restart it without touching anyone's server.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../bench/processes.js";

const run = promisify(execFile);

export interface Cluster {
  port: number;
  url(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** pg_ctl restart -m fast: every connection is dropped. Resolves when it accepts connections again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(root, v, "bin", "initdb"))) return path.join(root, v, "bin");
  throw new Error("initdb not found under /usr/lib/postgresql (install the postgresql package)");
}

/** initdb and pg_ctl refuse to run as root; as root they run as the postgres user. */
function command(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
}

export async function startCluster(): Promise<Cluster> {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soak-pg-"));
  if (process.getuid?.() === 0) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    fs.chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  fs.chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  const ctl = (args: string[]) => {
    const [cmd, a] = command(path.join(bin, "pg_ctl"), args);
    return run(cmd, a);
  };
  const [initCmd, initArgs] = command(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"]);
  await run(initCmd, initArgs);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  await ctl(["-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async restart() {
      await ctl(["-D", data, "-o", options, "-l", path.join(dir, "log"), "-m", "fast", "-w", "restart"]);
    },
    async stop() {
      await ctl(["-D", data, "-m", "fast", "-w", "stop"]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
