import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServiceEnv, ensureDevMaterial, type DevPaths } from "../../common/dev-material.js";
import { BACKEND, createDatabase, dropDatabase } from "../helpers/databases.js";
import { ServiceProcess } from "../helpers/process.js";

let dev: DevPaths;
let dbUrl: string | undefined;

beforeAll(async () => {
  dev = await ensureDevMaterial(fs.mkdtempSync(path.join(os.tmpdir(), "broker-start-")));
  if (BACKEND === "postgres") dbUrl = await createDatabase("startup");
});
afterAll(async () => {
  if (dbUrl) await dropDatabase(dbUrl);
  fs.rmSync(dev.dataDir, { recursive: true, force: true });
});

function broker(keys: Record<string, string | undefined>) {
  const env = devServiceEnv(dev, { PATH: process.env.PATH, BROKER_PORT: "0", ...(dbUrl ? { BROKER_DATABASE_URL: dbUrl } : {}) });
  delete env.BROKER_MASTER_KEYS_FILE;
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) env[k] = v;
  return new ServiceProcess("broker/main.ts", env);
}

const key = () => crypto.randomBytes(32).toString("base64");

describe("broker start-up fails closed", () => {
  it.each([
    ["no key at all", {}, /no master key configured/],
    ["a missing key file", { BROKER_MASTER_KEYS_FILE: "/nonexistent/keys.json" }, /cannot read master key file/],
    ["a short key", { BROKER_MASTER_KEYS: JSON.stringify({ active: "a", keys: { a: crypto.randomBytes(16).toString("base64") } }) }, /must decode to 32 bytes, got 16/],
    ["malformed JSON", { BROKER_MASTER_KEYS: "{active:" }, /not valid JSON/],
    ["an active id not in the ring", { BROKER_MASTER_KEYS: JSON.stringify({ active: "b", keys: { a: key() } }) }, /active master key b is not in the key ring/],
  ])("refuses to start with %s", async (_what, env, message) => {
    const p = broker(env);
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.output).toMatch(/broker: cannot start:/);
    expect(p.output).toMatch(message);
    expect(p.output).not.toMatch(/listening/);
  });

  it("refuses a different key under an id the database already knows", async () => {
    const good = broker({ BROKER_MASTER_KEYS: JSON.stringify({ active: "main", keys: { main: key() } }) });
    await good.waitFor(/broker listening/);
    await good.stop();
    const wrong = broker({ BROKER_MASTER_KEYS: JSON.stringify({ active: "main", keys: { main: key() } }) });
    const { code } = await wrong.exited;
    expect(code).toBe(1);
    expect(wrong.output).toMatch(/master key main is not the key this database was sealed with/);
  });
});
