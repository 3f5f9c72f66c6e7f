// `npm run admin -- <command>`: operator tasks against a running system.
//   create-user --email E [--key-name N] [--scopes a,b]
//                                           user + first API key (prints {user, token, scopes});
//                                           default scopes: everything but key management
//   rewrap [--batch N]                      move every data key to the active master key
//   verify                                  decrypt-check every stored secret (no values shown)
//   pki --out DIR                           a CA and one certificate per service identity
// Defaults follow `npm start`: gateway http://127.0.0.1:$PORT, broker
// 127.0.0.1:$BROKER_PORT, credentials under $DATA_DIR.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import {
  SecretBrokerClient,
  type RewrapResponse,
  type VerifyResponse,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import { SCOPES } from "../../gateway/auth/scopes.js";
import { devPaths } from "../dev-material.js";
import { ensureDevPki } from "../pki.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials } from "../tls.js";

const [command, ...rest] = process.argv.slice(2);
const { values: opts } = parseArgs({
  args: rest,
  options: {
    email: { type: "string" },
    "key-name": { type: "string", default: "default" },
    scopes: { type: "string" },
    url: { type: "string" },
    broker: { type: "string" },
    batch: { type: "string", default: "100" },
    out: { type: "string" },
  },
});
const dev = devPaths(process.env.DATA_DIR ?? ".data");

function die(message: string): never {
  process.stderr.write(`admin: ${message}\n`);
  process.exit(2);
}

function operatorToken(): string {
  if (process.env.OPERATOR_TOKEN) return process.env.OPERATOR_TOKEN;
  const file = process.env.OPERATOR_TOKEN_FILE ?? dev.operatorTokenFile;
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return die(`no operator token: set OPERATOR_TOKEN or create ${file} (npm start does)`);
  }
}

async function post(url: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  }).catch(() => die(`cannot reach the gateway at ${url}`));
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) die(`${url} answered ${res.status}: ${String(json.message ?? "")}`);
  return json;
}

async function createUser() {
  if (!opts.email) die("create-user needs --email");
  // Checked before the user is made, so a typo does not leave a user without a key.
  const asked = opts.scopes?.split(",").map((s) => s.trim());
  const unknown = asked?.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown && unknown.length > 0) die(`unknown scope(s) ${unknown.join(", ")}: use ${SCOPES.join(", ")}`);
  const base = opts.url ?? `http://127.0.0.1:${process.env.PORT ?? 7070}`;
  const token = operatorToken();
  const user = await post(`${base}/api/users`, token, { email: opts.email });
  // Without --scopes the gateway gives the key its default scopes.
  const scopes = asked === undefined ? {} : { scopes: asked };
  const key = await post(`${base}/api/users/${String(user.id)}/api_keys`, token, { name: opts["key-name"], ...scopes });
  process.stdout.write(JSON.stringify({ user, token: key.token, scopes: key.scopes }) + "\n");
}

function brokerClient(): SecretBrokerClient {
  const pki = dev.pkiDir;
  const creds = clientCredentials({
    ca: process.env.ADMIN_TLS_CA ?? path.join(pki, "ca.crt"),
    cert: process.env.ADMIN_TLS_CERT ?? path.join(pki, "internal.crt"),
    key: process.env.ADMIN_TLS_KEY ?? path.join(pki, "internal.key"),
  });
  return new SecretBrokerClient(opts.broker ?? `127.0.0.1:${process.env.BROKER_PORT ?? 7071}`, creds, BROKER_CHANNEL_OPTIONS);
}

function unary<Res>(fn: (cb: (err: grpc.ServiceError | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve) =>
    fn((err, res) => (err ? die(`broker: ${grpc.status[err.code]}: ${err.details}`) : resolve(res))),
  );
}

async function main() {
  switch (command) {
    case "create-user":
      return createUser();
    case "rewrap": {
      const client = brokerClient();
      const res = await unary<RewrapResponse>((cb) => client.rewrap({ batchSize: Number(opts.batch) }, cb));
      process.stdout.write(JSON.stringify(res) + "\n");
      if (res.failedIds.length > 0) process.exitCode = 1;
      return;
    }
    case "verify": {
      const client = brokerClient();
      const res = await unary<VerifyResponse>((cb) => client.verify({}, cb));
      process.stdout.write(JSON.stringify(res) + "\n");
      if (res.failedIds.length > 0) process.exitCode = 1;
      return;
    }
    case "pki": {
      if (!opts.out) die("pki needs --out DIR");
      await ensureDevPki(opts.out);
      process.stdout.write(`certificates in ${path.resolve(opts.out)}\n`);
      return;
    }
    default:
      die("usage: npm run admin -- create-user --email E | rewrap | verify | pki --out DIR");
  }
}

await main();
process.exit();
