// `npm run bench`: the broker's gRPC cost against a bare grpc-js echo server,
// the envelope crypto cost against one plain AES-256-GCM seal, and the
// sandbox's per-execution cost against the same echo server and the reference
// implementation's isolate, every baseline measured in the same run on the
// same machine, and webhook responders served by the gateway against a
// Fastify hello world, and one account's responder while another attacks the
// sandbox. `npm run bench -- sandbox` (or `-- broker`, `-- responders`,
// `-- attacks`, `-- startup`) runs one part; `-- startup` times `npm start`.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ensureDevMaterial, type DevPaths } from "../../common/dev-material.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import {
  CreateSecretRequest,
  SecretBrokerClient,
  type ListSecretsResponse,
  type SecretMetadata,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import { probeOptions, promised, ready, within } from "./calls.js";
import { EchoClient } from "./echo.js";
import { benchEnvelope } from "./envelope.js";
import { createBenchDb, freePort, spawnService, spawnTs } from "./processes.js";
import { Report } from "./report.js";
import { benchAttacks } from "./attacks.js";
import { benchResponders } from "./responders.js";
import { benchSandbox } from "./sandbox.js";
import { benchStartup } from "./startup.js";
import { fmt, latency, throughput, type Latency } from "./stats.js";

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WARMUP = 200;
const SAMPLES = { echo: 2000, create: 600, list: 1000 };
const TOTAL = { echo: 8000, create: 3000, list: 4000 };
const CONCURRENCY = 32;
const LIST_SIZE = 20;
const SIZES = [32, 1024, 10_240];

const CHANNEL_OPTIONS = BROKER_CHANNEL_OPTIONS;
const PROBE_OPTIONS = probeOptions(CHANNEL_OPTIONS);

const PARTS = ["broker", "sandbox", "responders", "attacks", "startup"] as const;
type Part = (typeof PARTS)[number];

const report = new Report();

const cleanups: Array<() => unknown> = [];
async function cleanup() {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function selectedParts(args: string[]): Set<Part> {
  const unknown = args.filter((a) => !(PARTS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new Error(`unknown bench part ${unknown.join(", ")}; choose from ${PARTS.join(", ")} (none: all)`);
  return new Set(args.length === 0 ? PARTS : (args as Part[]));
}

async function main() {
  const parts = selectedParts(process.argv.slice(2));
  const started = performance.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secutils-bench-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const dev = await ensureDevMaterial(tmp);
  const pki = (file: string) => path.join(dev.pkiDir, file);
  const clientCreds = clientCredentials({ ca: pki("ca.crt"), cert: pki("gateway.crt"), key: pki("gateway.key") });

  const db = parts.has("broker") ? await createBenchDb(ADMIN_URL) : undefined;
  if (db) cleanups.push(db.drop);
  // Only our own settings: an inherited BROKER_* or SANDBOX_* (e.g.
  // BROKER_MASTER_KEYS) would change what runs.
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BROKER|SANDBOX)_/.test(k)));

  const echoPort = await freePort();
  const echoServer = spawnTs("echo server", "test/bench/echo-server.ts", [String(echoPort), dev.pkiDir], baseEnv);
  cleanups.push(echoServer.stop);
  const echoAddr = `127.0.0.1:${echoPort}`;
  const broker = parts.has("broker") ? await startBroker(dev, tmp, baseEnv, db?.url, clientCreds) : undefined;
  await ready(echoServer, new EchoClient(echoAddr, clientCreds, PROBE_OPTIONS), (c) =>
    promised<Buffer | undefined>((cb) => c.echo(Buffer.alloc(1), new grpc.Metadata(), within(2000), cb)),
  );
  const echoClient = new EchoClient(echoAddr, clientCreds, CHANNEL_OPTIONS);
  cleanups.push(() => echoClient.close());

  const backend = db ? `${db.server} (fresh database)` : "embedded PGlite";
  const cpus = os.cpus();
  const context = `Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"} × ${cpus.length}${broker ? `, broker database: ${backend}` : ""}`;
  console.log(`${context}\nstart-up (dev PKI, ${broker ? "database, broker, " : ""}echo): ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  // The echo payload is a real encoded CreateSecret request, so both sides move the same bytes through TLS.
  const payload = Buffer.from(CreateSecretRequest.encode(createReq(0)).finish());
  const echo = () =>
    promised<Buffer | undefined>((cb) => echoClient.echo(payload, cb)).then((res) => {
      if (!res?.equals(payload)) throw new Error("echo returned different bytes");
    });

  if (broker) {
    await benchBroker(broker, echo);
    console.log("\nEnvelope crypto in-process (fastest of interleaved batches); baseline: one AES-256-GCM seal of the same bytes");
    for (const size of SIZES) {
      const r = benchEnvelope(size);
      const label = size >= 1024 ? `${size / 1024} KB` : `${size} B`;
      const base = `${fmt.us(r.baseline)} (AES-GCM seal)`;
      report.add(`envelope seal+open, ${label}`, fmt.us(r.sealOpen), base, r.sealOpen / r.baseline);
      report.add(`envelope seal, ${label}`, fmt.us(r.seal), base, r.seal / r.baseline);
      report.add(`envelope open, ${label}`, fmt.us(r.open), base, r.open / r.baseline);
    }
    const brokerLog = broker.child.output();
    if (brokerLog) console.log(`\nbroker log (warn and above):\n${brokerLog}`);
  }

  if (parts.has("sandbox")) {
    console.log("");
    await benchSandbox({ dev, env: baseEnv, echo, report, cleanups });
  }

  if (parts.has("responders")) {
    console.log("");
    await benchResponders({ dev, env: baseEnv, adminUrl: ADMIN_URL, report, cleanups });
  }

  if (parts.has("attacks")) {
    console.log("\n== one account's trivial responder while another attacks the sandbox");
    await benchAttacks({ dev, env: baseEnv, adminUrl: ADMIN_URL, report, cleanups });
  }

  if (parts.has("startup")) {
    console.log("\n== npm start");
    await benchStartup({ report, cleanups });
  }

  console.log(`\ntotal run time so far ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`\n${context}\n`);
  console.log(report.table());
}

const value = () => crypto.randomBytes(16).toString("hex"); // 32 bytes of UTF-8
const createReq = (i: number): CreateSecretRequest => ({ userId: crypto.randomUUID(), name: `s${i}`, value: value() });

interface Broker {
  child: ReturnType<typeof spawnTs>;
  client: SecretBrokerClient;
}

async function startBroker(
  dev: DevPaths,
  dataDir: string,
  baseEnv: NodeJS.ProcessEnv,
  dbUrl: string | undefined,
  clientCreds: grpc.ChannelCredentials,
): Promise<Broker> {
  const pki = (file: string) => path.join(dev.pkiDir, file);
  const serverTls: TlsFiles = { ca: pki("ca.crt"), cert: pki("broker.crt"), key: pki("broker.key") };
  const brokerPort = await freePort();
  const child = spawnService("broker", "broker/main.ts", [], {
    ...baseEnv,
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    BROKER_HOST: "127.0.0.1",
    BROKER_PORT: String(brokerPort),
    BROKER_MASTER_KEYS_FILE: dev.masterKeysFile,
    BROKER_TLS_CA: serverTls.ca,
    BROKER_TLS_CERT: serverTls.cert,
    BROKER_TLS_KEY: serverTls.key,
    BROKER_MAX_SECRETS_PER_USER: "1000000",
    ...(dbUrl ? { BROKER_DATABASE_URL: dbUrl } : {}),
  });
  cleanups.push(child.stop);
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  await ready(child, new SecretBrokerClient(brokerAddr, clientCreds, PROBE_OPTIONS), (c) =>
    promised<ListSecretsResponse>((cb) => c.listSecrets({ userId: crypto.randomUUID() }, new grpc.Metadata(), within(2000), cb)),
  );
  const client = new SecretBrokerClient(brokerAddr, clientCreds, CHANNEL_OPTIONS);
  cleanups.push(() => client.close());
  return { child, client };
}

async function benchBroker({ client }: Broker, echo: () => Promise<void>) {
  // A fresh random user per call: the per-user lock and count never contend, as with many real users.
  const create = (i: number) => promised<SecretMetadata>((cb) => client.createSecret(createReq(i), cb));
  const listUser = crypto.randomUUID();
  for (let i = 0; i < LIST_SIZE; i++) {
    await promised<SecretMetadata>((cb) => client.createSecret({ userId: listUser, name: `s${i}`, value: value() }, cb));
  }
  const list = () =>
    promised<ListSecretsResponse>((cb) => client.listSecrets({ userId: listUser }, cb)).then((res) => {
      if (res.secrets.length !== LIST_SIZE) throw new Error(`listed ${res.secrets.length} secrets, expected ${LIST_SIZE}`);
    });

  console.log(`gRPC over loopback, mutual TLS (client identity: gateway); latency from sequential calls after ${WARMUP} warm-up calls, throughput at concurrency ${CONCURRENCY}`);
  const echoLat = await latency(echo, WARMUP, SAMPLES.echo);
  const echoRate = await throughput(echo, TOTAL.echo, CONCURRENCY);
  console.log(`  echo baseline: p50 ${fmt.ms(echoLat.p50)}, p99 ${fmt.ms(echoLat.p99)}, ${fmt.rate(echoRate)}`);
  const rpc = async (name: string, call: (i: number) => Promise<unknown>, samples: number, total: number) => {
    const lat: Latency = await latency(call, WARMUP, samples);
    report.add(`${name} p50 latency`, fmt.ms(lat.p50), `${fmt.ms(echoLat.p50)} (echo)`, lat.p50 / echoLat.p50);
    report.add(`${name} p99 latency`, fmt.ms(lat.p99), `${fmt.ms(echoLat.p99)} (echo)`, lat.p99 / echoLat.p99);
    const rate = await throughput(call, total, CONCURRENCY, WARMUP + samples);
    report.add(`${name} throughput (c=${CONCURRENCY})`, fmt.rate(rate), `${fmt.rate(echoRate)} (echo)`, rate / echoRate);
  };
  await rpc("CreateSecret (32 B value)", create, SAMPLES.create, TOTAL.create);
  await rpc(`ListSecrets (${LIST_SIZE} secrets)`, list, SAMPLES.list, TOTAL.list);
}

let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  console.error("bench interrupted, cleaning up");
  void cleanup().finally(() => process.exit(130));
});
main().then(
  () => cleanup(),
  async (err: unknown) => {
    // Calls failing because cleanup closed the channels are not worth a stack trace.
    if (!interrupted) console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exitCode = 1;
  },
);
