import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { ErrorKind, type ExecuteResponse } from "../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { Pool } from "./pool/pool.js";

const OUTCOMES: Partial<Record<ErrorKind, string>> = {
  [ErrorKind.ERROR_KIND_TIME_LIMIT]: "time_limit",
  [ErrorKind.ERROR_KIND_MEMORY_LIMIT]: "memory_limit",
  [ErrorKind.ERROR_KIND_SCRIPT_ERROR]: "script_error",
  [ErrorKind.ERROR_KIND_UPSTREAM_FAILURE]: "upstream_failure",
  [ErrorKind.ERROR_KIND_URL_NOT_ALLOWED]: "url_not_allowed",
  [ErrorKind.ERROR_KIND_UPSTREAM_TOO_LARGE]: "upstream_too_large",
  [ErrorKind.ERROR_KIND_RESULT_TOO_LARGE]: "result_too_large",
};

/** What the sandbox exposes: executions by kind and outcome, their duration, and the pool. */
export class SandboxMetrics {
  private readonly executions: Counter<"kind" | "outcome">;
  private readonly duration: Histogram<"kind">;

  constructor(registry: Registry, pool: Pool) {
    this.executions = new Counter({
      name: "sandbox_executions_total",
      help: "Script executions by kind (responder, configurator, extractor) and outcome (ok, an error kind, or lost with its process)",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "sandbox_execution_duration_seconds",
      help: "Script executions from the request to the answer, waiting for a worker included",
      labelNames: ["kind"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [registry],
    });
    new Gauge({
      name: "sandbox_pool",
      help: "The pool: Deno processes up, workers (all, spare, leased), executions running and queued, users holding leases",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        for (const [state, n] of Object.entries(pool.stats())) this.set({ state }, n);
      },
    });
  }

  executed(kind: string, response: ExecuteResponse | "lost", seconds: number): void {
    const outcome = response === "lost" ? "lost" : response.error ? (OUTCOMES[response.error.kind] ?? "error") : "ok";
    this.executions.inc({ kind, outcome });
    this.duration.observe({ kind }, seconds);
  }
}
