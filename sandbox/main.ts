import { ConfigError } from "../common/config.js";
import { createRegistry, startMetricsServer } from "../common/metrics.js";
import { createLogger } from "../common/log.js";
import { failStart, stopOnSignals } from "../common/service-process.js";
import { SecretsSource } from "./broker/secrets.js";
import { GRPC_MAX_MESSAGE_BYTES, loadSandboxConfig } from "./config.js";
import { TrackerRunService } from "./api-trackers/run.js";
import { ExecutionService } from "./executions/service.js";
import { BrowserHost } from "./page-trackers/browser.js";
import { PageTrackerRunService } from "./page-trackers/run.js";
import { checkPageUrl } from "./page-trackers/urls.js";
import { SandboxMetrics } from "./metrics.js";
import { Pool } from "./pool/pool.js";
import { startSandboxServer } from "./server.js";

const fail = (message: string): never => failStart("sandbox", message);

async function main() {
  let config;
  try {
    config = loadSandboxConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log = createLogger("sandbox", config.logLevel);
  const pool = new Pool(config.pool, log);
  const secrets = new SecretsSource(config.brokerUrl, config.tls, config.secretsCache);
  const registry = createRegistry("sandbox");
  const metrics = new SandboxMetrics(registry, pool);
  secrets.onResult = (result) => metrics.secretsOpened(result);
  const service = new ExecutionService(pool, secrets, config.outbound, config.limits, log, metrics, config.proxyNice);
  const trackers = new TrackerRunService(service, secrets, config.outbound, config.limits);
  // Chromium starts with the first page tracker run, not here: most sandboxes never run one.
  const browsers = new BrowserHost(
    { executablePath: config.browser.executablePath, chromiumSandbox: config.browser.chromiumSandbox, maxRendererMb: config.browser.maxRendererMb, nice: config.browser.nice },
    config.outbound,
    log,
  );
  const pages = new PageTrackerRunService({
    executions: service,
    secrets,
    browsers,
    outbound: config.outbound,
    limits: config.limits,
    maxConcurrentRuns: config.browser.maxConcurrentRuns,
    maxWaitingPerUser: config.browser.maxWaitingPerUser,
    checkUrl: (url) => checkPageUrl(url, config.outbound),
  });
  metrics.watchPageRuns(() => pages.state());
  const started = performance.now();
  await pool.ready();
  // An execution at the default wall clock finishes; a longer one is cut (the platform's stop timeout decides anyway).
  const shutdownGraceMs = config.limits.timeoutMs.default + 5000;
  const server = await startSandboxServer(
    {
      service,
      trackers,
      pages,
      pool,
      log,
      tls: config.tls,
      maxMessageBytes: GRPC_MAX_MESSAGE_BYTES,
      shutdownGraceMs,
    },
    config.host,
    config.port,
  );
  const metricsServer = config.metrics && (await startMetricsServer(registry, config.metrics.host, config.metrics.port, log));
  // Before saying it listens: whoever stops it on seeing that line gets a clean stop, not a kill.
  stopOnSignals("sandbox", log, async () => {
    await server.stop();
    await metricsServer?.stop();
    await browsers.stop();
    await pool.stop();
    secrets.close();
  }, shutdownGraceMs + 10_000);
  if (server.unbound.length > 0) log.warn({ unbound: server.unbound }, "sandbox could not listen on every address its host resolves to");
  log.info(
    { port: server.port, addresses: server.addresses, processes: config.pool.processes, denoScheduling: pool.scheduling.description, warmupMs: Math.round(performance.now() - started) },
    "sandbox listening",
  );
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
