import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { devServiceEnv, ensureDevMaterial, type DevPaths } from "../../common/dev-material.js";
import { openDb, type Db, type DbTarget } from "../../common/db.js";
import { BACKEND, createBrokerDatabase, createDatabase, dropDatabase, type BrokerDatabase } from "./databases.js";
import { reservePort } from "./ports.js";
import { ServiceProcess } from "./process.js";
import { until } from "./wait.js";

export interface StackOptions {
  /** Extra environment for both services. */
  env?: Record<string, string>;
  brokerEnv?: Record<string, string>;
  sandboxEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
}

/**
 * The real system as `npm start` runs it: the broker and the gateway as their
 * own processes, development keys generated under a fresh DATA_DIR, each
 * service on its own database (PGlite folders, or throwaway databases on the
 * real Postgres when TEST_DATABASE_URL is set). Ports are chosen by the OS.
 */
export class Stack {
  broker!: ServiceProcess;
  sandbox!: ServiceProcess;
  gateway!: ServiceProcess;
  url = "";
  brokerAddr = "";
  sandboxAddr = "";
  private readonly extraGateways: ServiceProcess[] = [];
  /** Output of processes that have already been replaced. */
  private pastOutput = "";
  /** The settings the broker was last started with, which a restart for direct database access keeps. */
  private brokerExtra: Record<string, string> = {};
  private sandboxExtra: Record<string, string> = {};

  private constructor(
    readonly dev: DevPaths,
    readonly operatorToken: string,
    readonly brokerDb: DbTarget,
    readonly gatewayDb: DbTarget,
    private readonly options: StackOptions,
    readonly brokerRoles?: BrokerDatabase,
  ) {}

  static async start(options: StackOptions = {}): Promise<Stack> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "secutils-test-"));
    const dev = await ensureDevMaterial(dataDir);
    // On Postgres the broker migrates as the tables' owner and serves as a role that may only append to the audit trail.
    const brokerRoles = BACKEND === "postgres" ? await createBrokerDatabase() : undefined;
    const [brokerDb, gatewayDb]: DbTarget[] = brokerRoles
      ? [{ url: brokerRoles.adminUrl }, { url: await createDatabase("gateway") }]
      : [{ pgliteDir: path.join(dataDir, "broker", "db") }, { pgliteDir: path.join(dataDir, "gateway", "db") }];
    const token = fs.readFileSync(dev.operatorTokenFile, "utf8").trim();
    const stack = new Stack(dev, token, brokerDb!, gatewayDb!, options, brokerRoles);
    // All three at once, as `npm start` runs them: each waits for the others
    // by itself, and only the gRPC ports must be known in advance.
    const [brokerPort, sandboxPort] = [await reservePort(), await reservePort()];
    stack.brokerAddr = `127.0.0.1:${brokerPort}`;
    stack.sandboxAddr = `127.0.0.1:${sandboxPort}`;
    try {
      // Every start settles first, so that none is still on its way when the stack is stopped below.
      const started = await Promise.allSettled([stack.startBroker(), stack.startSandbox(), stack.startGateway()]);
      for (const s of started) if (s.status === "rejected") throw s.reason;
      await stack.untilServing();
    } catch (err) {
      // The test file fails; the services that did start must not outlive it
      // (they were once left running, polling, through the files after it).
      await stack.stop().catch(() => {});
      throw err;
    }
    return stack;
  }

  /**
   * Until the gateway's /api/status says every component serves: a gateway
   * that listened before its broker or sandbox did sees them come up a
   * moment later, and tests expect what a started system does.
   */
  private async untilServing(): Promise<void> {
    const status = async () => {
      const res = await fetch(`${this.url}/api/status`);
      return { code: res.status, body: await res.text() };
    };
    const last = await until(status, (s) => s.code === 200, 30_000);
    if (last.code !== 200) throw new Error(`the stack did not come up: /api/status ${last.code} ${last.body}`);
  }

  private env(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = {
      ...baseServiceEnv(),
      // CI runs the suite once with the sandbox's cache of released secrets off (see .ci/run).
      ...(process.env.SCRIPT_SECRETS_CACHE_MAX_BYTES === undefined ? {} : { SCRIPT_SECRETS_CACHE_MAX_BYTES: process.env.SCRIPT_SECRETS_CACHE_MAX_BYTES }),
      ...this.options.env,
      ...extra,
    };
    return devServiceEnv(this.dev, base);
  }

  async startBroker(extra: Record<string, string> = {}): Promise<void> {
    this.brokerExtra = extra;
    [this.broker, this.brokerAddr] = await this.launch("broker", this.brokerEnv(extra));
  }

  private brokerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const db: Record<string, string> = this.brokerRoles
      ? { BROKER_DATABASE_URL: this.brokerRoles.runtimeUrl, BROKER_MIGRATION_DATABASE_URL: this.brokerRoles.ownerUrl }
      : {};
    return this.env({ BROKER_PORT: portOf(this.brokerAddr), ...db, ...this.options.brokerEnv, ...extra });
  }

  private sandboxEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return this.env({ SANDBOX_PORT: portOf(this.sandboxAddr), BROKER_URL: this.brokerAddr, ...this.options.sandboxEnv, ...extra });
  }

  /**
   * Starts another broker, sandbox or gateway as the stack starts its own,
   * and sends it SIGTERM the moment it says it listens (an orchestrator that
   * stops what it has just seen ready; for the gateway, fastify's "Server
   * listening" line, before its own "gateway ready"); resolves with how it
   * exited. Stop the stack's own first: they would share a port and a PGlite
   * folder.
   */
  async stopOnceListening(name: "broker" | "sandbox" | "gateway", withinMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const env = name === "broker" ? this.brokerEnv(this.brokerExtra) : name === "sandbox" ? this.sandboxEnv(this.sandboxExtra) : this.gatewayEnv();
    const proc = new ServiceProcess(`${name}/main.ts`, env);
    await started(proc, STARTED[name]);
    return proc.stop("SIGTERM", withinMs);
  }

  async stopBroker(): Promise<void> {
    await this.halt(this.broker);
  }

  async restartBroker(extra: Record<string, string> = {}): Promise<void> {
    await this.stopBroker();
    await this.startBroker(extra);
  }

  async startSandbox(extra: Record<string, string> = {}): Promise<void> {
    this.sandboxExtra = extra;
    [this.sandbox, this.sandboxAddr] = await this.launch("sandbox", this.sandboxEnv(extra));
  }

  async stopSandbox(): Promise<void> {
    await this.halt(this.sandbox);
  }

  /** kill -9: no drain, no goodbye to its callers. */
  async killSandbox(): Promise<void> {
    await this.halt(this.sandbox, "SIGKILL");
  }

  /** Starts a gRPC service; a restart keeps the port it had. */
  private async launch(name: "broker" | "sandbox", env: NodeJS.ProcessEnv): Promise<[ServiceProcess, string]> {
    const proc = new ServiceProcess(`${name}/main.ts`, env);
    const m = await started(proc, STARTED[name]);
    return [proc, `127.0.0.1:${m[1]}`];
  }

  /** Stops a process, keeping what it printed for output(). */
  private async halt(proc: ServiceProcess, signal?: NodeJS.Signals): Promise<void> {
    const { code } = await proc.stop(signal);
    // A service gives up a stop that overran its deadline (exit 1, an error
    // line) rather than hang; the test goes on, but the output says why.
    if (signal !== "SIGKILL" && code !== 0) console.warn(`a service exited ${code} when stopped; its last output:\n${proc.tail()}`);
    this.pastOutput += proc.output;
    proc.output = "";
  }

  /** Starts the stack's gateway (again, after stopGateway), on a port of its own choosing: `url` follows it. */
  async startGateway(): Promise<void> {
    [this.gateway, this.url] = await this.spawnGateway();
  }

  async stopGateway(): Promise<void> {
    await this.halt(this.gateway);
  }

  /** Another gateway replica on the same database (real Postgres only: a PGlite folder has one owner). */
  async addGateway(extra: Record<string, string> = {}): Promise<{ proc: ServiceProcess; url: string }> {
    if (!("url" in this.gatewayDb)) throw new Error("a second gateway needs the real Postgres backend");
    const [proc, url] = await this.spawnGateway(extra);
    this.extraGateways.push(proc);
    return { proc, url };
  }

  private gatewayEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const db: Record<string, string> = "url" in this.gatewayDb ? { GATEWAY_DATABASE_URL: this.gatewayDb.url } : {};
    return this.env({ PORT: "0", BROKER_URL: this.brokerAddr, SANDBOX_URL: this.sandboxAddr, ...db, ...this.options.gatewayEnv, ...extra });
  }

  private async spawnGateway(extra: Record<string, string> = {}): Promise<[ServiceProcess, string]> {
    const proc = new ServiceProcess("gateway/main.ts", this.gatewayEnv(extra));
    const m = await started(proc, STARTED.gateway);
    return [proc, m[1]!];
  }

  /** Everything every process of this stack (added gateway replicas too) has printed so far. */
  output(): string {
    return this.pastOutput + this.broker.output + this.sandbox.output + this.gateway.output + this.extraGateways.map((g) => g.output).join("");
  }

  /**
   * Direct access to the broker's database, as an attacker with disk or SQL
   * access would have. An embedded PGlite folder has one owner at a time, so
   * the broker is stopped meanwhile and started again afterwards.
   */
  async withBrokerDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const embedded = "pgliteDir" in this.brokerDb;
    if (embedded) await this.stopBroker();
    const db = await openDb(this.brokerDb, { poolSize: 2 });
    try {
      return await fn(db);
    } finally {
      await db.close();
      if (embedded) await this.startBroker(this.brokerExtra);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.extraGateways.map((g) => g.stop()), this.gateway?.stop(), this.sandbox?.stop(), this.broker?.stop()]);
    for (const target of [this.brokerDb, this.gatewayDb]) if ("url" in target) await dropDatabase(target.url);
    fs.rmSync(this.dev.dataDir, { recursive: true, force: true });
  }
}

/** The line each service prints once it listens, capturing where (for the gateway, fastify's, before its own "gateway ready"). */
const STARTED = {
  broker: /"port":(\d+),.*"msg":"broker listening"/,
  sandbox: /"port":(\d+),.*"msg":"sandbox listening"/,
  gateway: /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
} as const;

/** Waits for the line that says a service started; one that never says it is killed, not left running. */
async function started(proc: ServiceProcess, line: RegExp): Promise<RegExpMatchArray> {
  try {
    return await proc.waitFor(line);
  } catch (err) {
    await proc.stop("SIGKILL").catch(() => {});
    throw err;
  }
}

/** What every service a test starts is given, before its own settings. */
export function baseServiceEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "info",
    // The whole pool from the start (`npm start` holds part of it back until
    // the first lease): several tests count the Deno processes before their
    // first execution. test/sandbox/warm-up.test.ts covers the held-back start.
    SANDBOX_WARMUP_DELAY_MS: "0",
    // Every service serves metrics on a port of its own choosing (logged as metricsPort).
    BROKER_METRICS_PORT: "0",
    SANDBOX_METRICS_PORT: "0",
    GATEWAY_METRICS_PORT: "0",
  };
}

const portOf = (addr: string) => (addr ? addr.split(":")[1]! : "0");
