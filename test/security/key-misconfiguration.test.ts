import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { devServiceEnv, ensureDevMaterial, type DevPaths } from "../../common/dev-material.js";
import { clientCredentials } from "../../common/tls.js";
import { SecretBrokerClient, type BrokerStatus } from "../../proto/gen/secutils/broker/v1/broker.js";
import { CHANNEL, must, rpc } from "../helpers/broker-client.js";
import { BACKEND, createDatabase, dropDatabase } from "../helpers/databases.js";
import { reservePort } from "../helpers/ports.js";
import { until } from "../helpers/wait.js";
import { ServiceProcess } from "../helpers/process.js";

let dev: DevPaths;
let dbUrl: string | undefined;
let gatewayDbUrl: string | undefined;

beforeAll(async () => {
  dev = await ensureDevMaterial(fs.mkdtempSync(path.join(os.tmpdir(), "broker-start-")));
  if (BACKEND === "postgres") [dbUrl, gatewayDbUrl] = await Promise.all([createDatabase("startup"), createDatabase("startup_gateway")]);
});
afterAll(async () => {
  if (dbUrl) await dropDatabase(dbUrl);
  if (gatewayDbUrl) await dropDatabase(gatewayDbUrl);
  fs.rmSync(dev.dataDir, { recursive: true, force: true });
});

function broker(keys: Record<string, string | undefined>, port = "0") {
  const env = devServiceEnv(dev, { PATH: process.env.PATH, BROKER_PORT: port, ...(dbUrl ? { BROKER_DATABASE_URL: dbUrl } : {}) });
  delete env.BROKER_MASTER_KEYS_FILE;
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) env[k] = v;
  return new ServiceProcess("broker/main.ts", env);
}

const key = () => crypto.randomBytes(32).toString("base64");
const identity = (id: string) => ({ ca: path.join(dev.pkiDir, "ca.crt"), cert: path.join(dev.pkiDir, `${id}.crt`), key: path.join(dev.pkiDir, `${id}.key`) });

describe("master key problems: the broker fails closed and says why", () => {
  // One gateway for every case, pointed at the port each case's broker then
  // listens on: it follows the broker that is there now.
  let brokerPort = "";
  let gateway: ServiceProcess;
  let gatewayUrl = "";
  beforeAll(async () => {
    brokerPort = String(await reservePort());
    gateway = new ServiceProcess(
      "gateway/main.ts",
      devServiceEnv(dev, { PATH: process.env.PATH, PORT: "0", BROKER_URL: `127.0.0.1:${brokerPort}`, SANDBOX_URL: "127.0.0.1:1", ...(gatewayDbUrl ? { GATEWAY_DATABASE_URL: gatewayDbUrl } : {}) }),
    );
    gatewayUrl = (await gateway.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  /** The gateway's status once it names this broker's reason (it still names the previous broker's for a moment). */
  async function gatewayStatusNaming(message: RegExp) {
    const status = async () => {
      const res = await fetch(`${gatewayUrl}/api/status`);
      return { status: res.status, body: (await res.json()) as { components: Record<string, string>; reasons?: { broker?: string } } };
    };
    return until(status, (s) => message.test(s.body.reasons?.broker ?? ""), 20_000);
  }

  // Up, but serving nothing: every RPC is UNAVAILABLE with the reason, GetStatus
  // and health say so, and the gateway's /api/status names the reason.
  async function expectFailedClosed(p: ServiceProcess, message: RegExp) {
    const port = (await p.waitFor(/"port":(\d+),.*"msg":"broker listening but not serving/))[1]!;
    expect(p.output).toMatch(/broker: not serving:/);
    expect(p.output).toMatch(message);
    const client = new SecretBrokerClient(`127.0.0.1:${port}`, clientCredentials(identity("gateway")), CHANNEL);
    try {
      const status = await must(rpc<BrokerStatus>((m, o, cb) => client.getStatus({}, m, o, cb)));
      expect(status.serving).toBe(false);
      expect(status.reason).toMatch(message);
      const create = await rpc((m, o, cb) => client.createSecret({ userId: crypto.randomUUID(), name: "A", value: "v" }, m, o, cb));
      expect(create).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
      expect((create as { details: string }).details).toMatch(message);
      const { status: code, body } = await gatewayStatusNaming(message);
      expect(code).toBe(503);
      expect(body.components.broker).toBe("unavailable");
      expect(body.reasons?.broker).toMatch(message);
    } finally {
      client.close();
      await p.stop();
    }
  }

  it.each([
    ["no key at all", {}, /no master key configured/],
    ["a missing key file", { BROKER_MASTER_KEYS_FILE: "/nonexistent/keys.json" }, /cannot read master key file/],
    ["a short key", { BROKER_MASTER_KEYS: JSON.stringify({ active: "a", keys: { a: crypto.randomBytes(16).toString("base64") } }) }, /must decode to 32 bytes, got 16/],
    ["malformed JSON", { BROKER_MASTER_KEYS: "{active:" }, /not valid JSON/],
    ["an active id not in the ring", { BROKER_MASTER_KEYS: JSON.stringify({ active: "b", keys: { a: key() } }) }, /active master key b is not in the key ring/],
  ])("serves nothing with %s", async (_what, env, message) => {
    await expectFailedClosed(broker(env, brokerPort), message);
  });

  it("serves nothing with a different key under an id the database already knows", async () => {
    const good = broker({ BROKER_MASTER_KEYS: JSON.stringify({ active: "main", keys: { main: key() } }) }, brokerPort);
    await good.waitFor(/"msg":"broker listening"/);
    await good.stop();
    await expectFailedClosed(
      broker({ BROKER_MASTER_KEYS: JSON.stringify({ active: "main", keys: { main: key() } }) }, brokerPort),
      /master key main is not the key this database was sealed with/,
    );
  });
});

describe("grant keys fail closed", () => {
  const file = (name: string, content: string) => {
    const p = path.join(dev.dataDir, name);
    fs.writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const pem = (kind: "ed25519" | "rsa", part: "private" | "public") => {
    const pair = kind === "rsa" ? crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }) : crypto.generateKeyPairSync("ed25519");
    return part === "private"
      ? pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      : pair.publicKey.export({ type: "spki", format: "pem" }).toString();
  };
  const ring = JSON.stringify({ active: "a", keys: { a: key() } });

  it.each([
    ["a missing verify key", () => "/nonexistent/verify-key.pem", /BROKER_GRANT_VERIFY_KEY_FILE: cannot read \/nonexistent\/verify-key.pem/],
    ["the private key as the verify key", () => dev.grantSigningKeyFile, /BROKER_GRANT_VERIFY_KEY_FILE: .* is not an Ed25519 public key/],
    ["an RSA public key", () => file("rsa.pub.pem", pem("rsa", "public")), /is not an Ed25519 public key/],
    ["text that is no key", () => file("junk.pem", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"), /is not an Ed25519 public key/],
  ])("the broker refuses to start with %s", async (_what, keyFile, message) => {
    const p = broker({ BROKER_MASTER_KEYS: ring, BROKER_GRANT_VERIFY_KEY_FILE: keyFile() });
    expect((await p.exited).code).toBe(1);
    expect(p.output).toMatch(/broker: cannot start:/);
    expect(p.output).toMatch(message);
  });

  it.each([
    ["a missing signing key", () => "/nonexistent/signing-key.pem", /GRANT_SIGNING_KEY_FILE: cannot read/],
    ["the public key as the signing key", () => dev.grantVerifyKeyFile, /GRANT_SIGNING_KEY_FILE: .* is not an Ed25519 private key/],
    ["an RSA private key", () => file("rsa.pem", pem("rsa", "private")), /is not an Ed25519 private key/],
  ])("the gateway refuses to start with %s", async (_what, keyFile, message) => {
    const env = devServiceEnv(dev, { PATH: process.env.PATH, PORT: "0", GRANT_SIGNING_KEY_FILE: keyFile() });
    const p = new ServiceProcess("gateway/main.ts", env);
    expect((await p.exited).code).toBe(1);
    expect(p.output).toMatch(/gateway: cannot start:/);
    expect(p.output).toMatch(message);
    expect(p.output).not.toMatch(/listening/i);
  });
});
