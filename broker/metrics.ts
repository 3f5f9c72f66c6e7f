import * as grpc from "@grpc/grpc-js";
import { Counter, Histogram, type Registry } from "prom-client";

const RELEASES = new Set(["openSecrets", "renderTemplates"]);

/** What the broker exposes: every RPC's latency and code, and plaintext releases. */
export class BrokerMetrics {
  private readonly rpcDuration: Histogram<"rpc" | "code">;
  private readonly releases: Counter<"rpc" | "outcome">;
  private readonly recordsPerCommit: Histogram;

  constructor(registry: Registry) {
    this.rpcDuration = new Histogram({
      name: "broker_rpc_duration_seconds",
      help: "SecretBroker calls by RPC and gRPC status code",
      labelNames: ["rpc", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    this.releases = new Counter({
      name: "broker_releases_total",
      help: "OpenSecrets and RenderTemplates calls: released, or refused (grant refused or wrong identity)",
      labelNames: ["rpc", "outcome"],
      registers: [registry],
    });
    this.recordsPerCommit = new Histogram({
      name: "broker_release_records_per_commit",
      help: "Releases recorded (grant spent, audit record written) by each commit: concurrent releases share one",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    });
  }

  /** One commit of release records. */
  committed(releases: number): void {
    this.recordsPerCommit.observe(releases);
  }

  /** One finished call; `code` is grpc.status.OK when it succeeded. */
  call(rpc: string, code: grpc.status, seconds: number): void {
    this.rpcDuration.observe({ rpc, code: grpc.status[code] ?? String(code) }, seconds);
    if (RELEASES.has(rpc)) this.release(rpc, code);
  }

  /** One release answered: a call of its own, or one of an OpenSecretsBatch's. */
  release(rpc: string, code: grpc.status): void {
    if (code === grpc.status.OK) this.releases.inc({ rpc, outcome: "released" });
    else if (code === grpc.status.PERMISSION_DENIED) this.releases.inc({ rpc, outcome: "refused" });
  }
}
