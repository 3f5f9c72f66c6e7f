import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { errorKindName } from "../common/script-errors.js";
import type { ExecuteResponse } from "../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { Pool } from "./pool/pool.js";

/** What the sandbox exposes: executions by kind and outcome, their duration, and the pool. */
export class SandboxMetrics {
  private readonly executions: Counter<"kind" | "outcome">;
  private readonly duration: Histogram<"kind">;
  private readonly secrets: Counter<"source">;

  constructor(
    private readonly registry: Registry,
    pool: Pool,
  ) {
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
    this.secrets = new Counter({
      name: "sandbox_secrets_opened_total",
      help: "Executions' secrets by source: hit (the cache of released values), fill (a release at the broker, then cached) or release (a release at the broker, not cacheable)",
      labelNames: ["source"],
      registers: [registry],
    });
    new Counter({
      name: "sandbox_process_kills_total",
      help: "Deno processes the pool ended as a last resort: a worker that did not end when told to, a process silent past an execution deadline, or one above its memory cap",
      labelNames: ["reason"],
      registers: [registry],
      // The pool keeps the counts; each scrape restates them.
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(pool.kills())) this.inc({ reason }, n);
      },
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

  /** Page runs in the browser's places and waiting for one (sandbox/page-trackers/fair-slots.ts). */
  watchPageRuns(state: () => { running: number; waiting: number }): void {
    new Gauge({
      name: "sandbox_page_runs",
      help: "Page tracker runs in the browser's places (running) and waiting for one (waiting), all accounts together",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        for (const [name, n] of Object.entries(state())) this.set({ state: name }, n);
      },
    });
  }

  secretsOpened(source: string): void {
    this.secrets.inc({ source });
  }

  executed(kind: string, response: ExecuteResponse | "lost", seconds: number): void {
    const outcome = response === "lost" ? "lost" : response.error ? (errorKindName(response.error.kind) ?? "error") : "ok";
    this.executions.inc({ kind, outcome });
    this.duration.observe({ kind }, seconds);
  }
}
