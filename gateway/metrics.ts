import { Counter, Histogram, type Registry } from "prom-client";

/** What the gateway exposes: API requests, webhook hits, tracker runs. */
export class GatewayMetrics {
  readonly httpRequests: Counter<"route" | "method" | "code">;
  readonly httpDuration: Histogram<"route" | "method">;
  readonly webhookRequests: Counter<"kind" | "code">;
  readonly trackerRuns: Counter<"kind" | "trigger" | "outcome">;
  readonly trackerRunDuration: Histogram<"kind" | "trigger">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.httpRequests = new Counter({
      name: "gateway_http_requests_total",
      help: "REST API requests by route pattern, method and status code",
      labelNames: ["route", "method", "code"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "gateway_http_request_duration_seconds",
      help: "REST API request duration by route pattern and method",
      labelNames: ["route", "method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.webhookRequests = new Counter({
      name: "gateway_webhook_requests_total",
      help: "Responder hits by kind (static, scripted; unmatched: no such handle, responder or method; failed: a dependency was down) and status class",
      labelNames: ["kind", "code"],
      registers,
    });
    this.trackerRuns = new Counter({
      name: "gateway_tracker_runs_total",
      help: "Tracker runs by kind (api, page), trigger (schedule, manual) and outcome (ok, failed)",
      labelNames: ["kind", "trigger", "outcome"],
      registers,
    });
    this.trackerRunDuration = new Histogram({
      name: "gateway_tracker_run_duration_seconds",
      help: "Tracker runs from the grant to the stored log, by kind (api, page) and trigger",
      labelNames: ["kind", "trigger"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }
}

/** "2xx", "4xx", ...: responders choose any status up to 999, so exact codes would be unbounded labels. */
export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;
