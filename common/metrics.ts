import http from "node:http";
import type { AddressInfo } from "node:net";
import { constants, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Logger } from "./log.js";

/**
 * A Prometheus registry for one service: process metrics (CPU, resident
 * memory, event loop lag, heap) plus whatever the service registers. Every
 * series carries `service`.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const afterGc = new Gauge({
    name: "nodejs_heap_used_after_major_gc_bytes",
    help: "V8 heap (old generation, code and large objects) kept by the last major collection: what the process keeps, without the sawtooth of garbage between collections",
    registers: [registry],
  });
  watchMajorCollections((bytes) => afterGc.set(bytes));
  return registry;
}

const YOUNG = new Set(["new_space", "new_large_object_space"]);

let majorCollectionWatchers: ((heapBytes: number) => void)[] | undefined;

/** Calls `watch` with the heap in use after each major (mark-sweep-compact) collection, read as soon as it is reported. */
function watchMajorCollections(watch: (heapBytes: number) => void): void {
  if (!majorCollectionWatchers) {
    const watchers: ((heapBytes: number) => void)[] = [];
    majorCollectionWatchers = watchers;
    new PerformanceObserver((list) => {
      const major = list.getEntries().some((e) => (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (!major) return;
      // The entry arrives a moment after the collection. What was allocated
      // meanwhile sits in the young generation, which a major collection
      // leaves empty, so leaving it out reads what the collection kept rather
      // than that plus however busy the process was since.
      let used = 0;
      for (const space of v8.getHeapSpaceStatistics()) if (!YOUNG.has(space.space_name)) used += space.space_used_size;
      for (const w of watchers) w(used);
    }).observe({ entryTypes: ["gc"] });
  }
  majorCollectionWatchers.push(watch);
}

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * Serves `GET /metrics` in the Prometheus text format on its own listener,
 * apart from the service's API: scraping needs no API credentials, and the
 * port stays on an internal address (METRICS_HOST, default loopback).
 */
export async function startMetricsServer(registry: Registry, host: string, port: number, log: Logger): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, "could not collect metrics");
        res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ metricsPort: bound }, "metrics listening");
  return {
    port: bound,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
