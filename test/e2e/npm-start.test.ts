import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ServiceProcess } from "../helpers/process.js";

const run = promisify(execFile);

// `npm start` exactly as a new user runs it: default ports, embedded
// databases, generated development keys. It needs ports 7070-7072 (and
// 7170-7173 for the second block) free, which only this test file uses.
// With TEST_DATABASE_URL set the suite is about the real Postgres, and
// vitest.config.ts leaves this file out of that run: npm start's embedded
// default is what it checks.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-"));
let npm: ServiceProcess;

describe("npm start", () => {
  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir };
    for (const k of ["PORT", "BROKER_PORT", "GATEWAY_DATABASE_URL", "BROKER_DATABASE_URL", "OPERATOR_TOKEN", "BROKER_MASTER_KEYS"]) delete env[k];
    // Its own process group, so a Ctrl-C can be sent to the whole tree like a terminal does.
    npm = new ServiceProcess({ cmd: "npm", args: ["start"], detached: true }, env);
    // The services start side by side: each one's own line, not the gateway's alone.
    await npm.waitFor(/"msg":"gateway ready"/, 90_000);
    await npm.waitFor(/"msg":"broker listening"/, 90_000);
    await npm.waitFor(/"msg":"sandbox listening"/, 90_000);
  });

  afterAll(async () => {
    if (npm.child.exitCode === null) {
      try {
        process.kill(-npm.child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("reports every component up", async () => {
    const res = await fetch("http://127.0.0.1:7070/api/status");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      components: { database: "ok", broker: "ok", sandbox: "ok" },
      instances: { broker: [{ state: "ok" }], sandbox: [{ state: "ok" }] },
    });
    // The launcher, the broker and the gateway (and npm's own processes).
    expect(processesWith(`DATA_DIR=${dataDir}`).length).toBeGreaterThanOrEqual(3);
  });

  it("generates development keys once, readable only by the owner", () => {
    const files = ["operator-token", "broker/master-keys.json", "pki/ca.crt", "pki/ca.key", ...["broker", "gateway", "sandbox", "internal"].flatMap((id) => [`pki/${id}.crt`, `pki/${id}.key`])];
    for (const f of files) {
      const stat = fs.statSync(path.join(dataDir, f));
      expect((stat.mode & 0o777).toString(8), f).toBe("600");
    }
    expect(fs.existsSync(path.join(dataDir, "broker/db"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, "gateway/db"))).toBe(true);
  });

  it("runs the seed's first step verbatim after `npm run admin -- create-user`", async () => {
    const admin = await run("npm", ["run", "--silent", "admin", "--", "create-user", "--email", "seed@example.test"], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir },
    });
    const created = JSON.parse(admin.stdout) as { user: { id: string; email: string; handle: string }; token: string };
    expect(created.user).toMatchObject({ email: "seed@example.test", handle: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(created.token).toMatch(/^su_ak_[0-9a-f]{64}$/);

    const seed = `curl -sX POST http://127.0.0.1:7070/api/user/secrets -H "Authorization: Bearer $KEY" -H "content-type: application/json" -d '{"name":"THIRD_PARTY_API_KEY","value":"sk-prod-..."}' | jq -r .id`;
    const { stdout } = await run("bash", ["-c", seed], { env: { ...process.env, KEY: created.token } });
    expect(stdout.trim()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const list = await fetch("http://127.0.0.1:7070/api/user/secrets", { headers: { authorization: `Bearer ${created.token}` } });
    expect(await list.json()).toEqual({ items: [expect.objectContaining({ id: stdout.trim(), name: "THIRD_PARTY_API_KEY" })], total: 1 });
  });

  it("stops every process cleanly on Ctrl-C", async () => {
    process.kill(-npm.child.pid!, "SIGINT");
    const { code, signal } = await npm.exited;
    // npm itself may die of the SIGINT it received; what matters is that it ended and took everything with it.
    expect(code === 0 || code === 130 || signal === "SIGINT").toBe(true);
    expect(npm.output).toMatch(/"msg":"broker stopping"/);
    expect(npm.output).toMatch(/"msg":"gateway stopping"/);
    // Nothing is left listening.
    await expect(fetch("http://127.0.0.1:7070/api/status")).rejects.toThrow();
    expect(processesWith(`DATA_DIR=${dataDir}`)).toEqual([]);
  });
});

describe("npm start with SANDBOX_INSTANCES=2", () => {
  const moreDir = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-more-"));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: moreDir, PORT: "7170", BROKER_PORT: "7171", SANDBOX_PORT: "7172", SANDBOX_INSTANCES: "2" };
  for (const k of ["GATEWAY_DATABASE_URL", "BROKER_DATABASE_URL", "OPERATOR_TOKEN", "BROKER_MASTER_KEYS", "BROKER_INSTANCES"]) delete env[k];
  afterAll(() => fs.rmSync(moreDir, { recursive: true, force: true }));

  it("runs two sandboxes on consecutive ports, both serving in /api/status", async () => {
    const npm2 = new ServiceProcess({ cmd: "npm", args: ["start"], detached: true }, env);
    try {
      // The services start side by side: the gateway may be ready before the others listen.
      await npm2.waitFor(/"msg":"gateway ready"/, 90_000);
      await npm2.waitFor(/"msg":"broker listening"/, 90_000);
      // Both sandboxes listen where the layout says.
      await npm2.waitFor(/"port":7172,.*"msg":"sandbox listening"/, 90_000);
      await npm2.waitFor(/"port":7173,.*"msg":"sandbox listening"/, 90_000);
      expect(npm2.output).toContain("instances: broker 7171, sandbox-1 7172, sandbox-2 7173, gateway");
      const status = await (await fetch("http://127.0.0.1:7170/api/status")).json();
      expect(status.instances).toEqual({ broker: [{ state: "ok" }], sandbox: [{ state: "ok" }, { state: "ok" }] });
    } finally {
      process.kill(-npm2.child.pid!, "SIGINT");
      await npm2.exited;
    }
  });

  it("refuses BROKER_INSTANCES=2 on the embedded database, saying what it needs", async () => {
    const npm3 = new ServiceProcess({ cmd: "npm", args: ["start"], detached: true }, { ...env, BROKER_INSTANCES: "2" });
    const { code } = await npm3.exited;
    expect(code).not.toBe(0);
    expect(npm3.output).toContain("BROKER_INSTANCES > 1 needs BROKER_DATABASE_URL");
  });
});

/** Pids of live processes whose environment contains the given entry. */
function processesWith(entry: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, "utf8").split("\0").includes(entry)) pids.push(Number(name));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}
