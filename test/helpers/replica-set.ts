import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { devServiceEnv, ensureDevMaterial, type DevPaths } from "../../common/dev-material.js";
import { createBrokerDatabase, createDatabase, dropDatabase, type BrokerDatabase } from "./databases.js";
import { ServiceProcess } from "./process.js";
import { baseServiceEnv } from "./stack.js";

/** One gRPC service instance; a restart keeps its address. */
export interface Instance {
  name: "broker" | "sandbox";
  proc: ServiceProcess;
  addr: string;
  /** Everything earlier processes at this address printed. */
  pastOutput: string;
}

export interface ReplicaSetOptions {
  brokers?: number;
  sandboxes?: number;
  gateways?: number;
  env?: Record<string, string>;
  sandboxEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
}

/**
 * Several brokers, sandboxes and gateways on one Postgres (a database for the
 * brokers, one for the gateways), every client given the whole list of its
 * peers' addresses, as an operator runs more than one of each. Real
 * processes; ports chosen by the OS and kept across restarts.
 */
export class ReplicaSet {
  readonly brokers: Instance[] = [];
  readonly sandboxes: Instance[] = [];
  readonly gateways: { proc: ServiceProcess; url: string }[] = [];

  private constructor(
    readonly dev: DevPaths,
    readonly operatorToken: string,
    readonly brokerDb: BrokerDatabase,
    readonly gatewayDbUrl: string,
    private readonly options: ReplicaSetOptions,
  ) {}

  /** The first gateway's URL, so the HTTP helpers can take a ReplicaSet. */
  get url(): string {
    return this.gateways[0]!.url;
  }

  static async start(options: ReplicaSetOptions = {}): Promise<ReplicaSet> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "secutils-replicas-"));
    const dev = await ensureDevMaterial(dataDir);
    const token = fs.readFileSync(dev.operatorTokenFile, "utf8").trim();
    const set = new ReplicaSet(dev, token, await createBrokerDatabase(), await createDatabase("gateway"), options);
    // The first of each kind migrates its database; the others then start together.
    for (let i = 0; i < (options.brokers ?? 2); i++) set.brokers.push(await set.launch("broker", "0"));
    await Promise.all(
      Array.from({ length: options.sandboxes ?? 2 }, async () => set.sandboxes.push(await set.launch("sandbox", "0"))),
    );
    for (let i = 0; i < (options.gateways ?? 2); i++) set.gateways.push(await set.spawnGateway());
    return set;
  }

  /** The comma-separated list every client of that kind is given. */
  addresses(kind: "broker" | "sandbox"): string {
    return (kind === "broker" ? this.brokers : this.sandboxes).map((i) => i.addr).join(",");
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return devServiceEnv(this.dev, {
      ...baseServiceEnv(),
      ...this.options.env,
      ...extra,
    });
  }

  private async launch(name: "broker" | "sandbox", port: string): Promise<Instance> {
    const env =
      name === "broker"
        ? this.env({ BROKER_PORT: port, BROKER_DATABASE_URL: this.brokerDb.runtimeUrl, BROKER_MIGRATION_DATABASE_URL: this.brokerDb.ownerUrl })
        : this.env({ SANDBOX_PORT: port, BROKER_URL: this.addresses("broker"), ...this.options.sandboxEnv });
    const proc = new ServiceProcess(`${name}/main.ts`, env);
    const m = await proc.waitFor(new RegExp(`"port":(\\d+),.*"msg":"${name} listening"`));
    return { name, proc, addr: `127.0.0.1:${m[1]}`, pastOutput: "" };
  }

  private async spawnGateway(): Promise<{ proc: ServiceProcess; url: string }> {
    const proc = new ServiceProcess(
      "gateway/main.ts",
      this.env({
        PORT: "0",
        GATEWAY_DATABASE_URL: this.gatewayDbUrl,
        BROKER_URL: this.addresses("broker"),
        SANDBOX_URL: this.addresses("sandbox"),
        ...this.options.gatewayEnv,
      }),
    );
    const m = await proc.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/);
    return { proc, url: m[1]! };
  }

  /** `kill -9`: no shutdown, no goodbye to its clients. */
  async kill(instance: Instance): Promise<void> {
    await instance.proc.stop("SIGKILL");
  }

  /** SIGTERM: the instance stops as a platform stops it, finishing what it took. */
  async terminate(instance: Instance): Promise<void> {
    await instance.proc.stop("SIGTERM");
  }

  /** Starts the instance again at its address. */
  async restart(instance: Instance): Promise<void> {
    instance.pastOutput += instance.proc.output;
    const again = await this.launch(instance.name, instance.addr.split(":")[1]!);
    instance.proc = again.proc;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.gateways, ...this.sandboxes, ...this.brokers].map((p) => p.proc.stop()));
    await dropDatabase(this.brokerDb.adminUrl);
    await dropDatabase(this.gatewayDbUrl);
    fs.rmSync(this.dev.dataDir, { recursive: true, force: true });
  }
}

/** The value of one series in a Prometheus text page, summed over the series whose labels match. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const [series, value] = line.split(" ");
    if (Object.entries(labels).every(([k, v]) => series!.includes(`${k}="${v}"`))) sum += Number(value);
  }
  return sum;
}

/** A service's metrics page (it logged the port it chose). */
export async function scrapeMetrics(proc: ServiceProcess): Promise<string> {
  const port = (await proc.waitFor(/"metricsPort":(\d+)/))[1];
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}
