import type { AddressInfo } from "node:net";
import { ConfigError } from "../common/config.js";
import { describeTarget } from "../common/db.js";
import { createLogger } from "../common/log.js";
import { createRegistry, startMetricsServer, type MetricsServer } from "../common/metrics.js";
import { failStart, stopOnSignals } from "../common/service-process.js";
import { buildApp } from "./app.js";
import { connectBroker } from "./broker/client.js";
import { openGatewayDb } from "./database.js";
import { connectSandbox } from "./sandbox/client.js";
import { loadGatewayConfig } from "./config.js";
import { GrantMinter } from "./grants/mint.js";
import { SecretsGenerations } from "./secrets/generations.js";
import { GatewayMetrics } from "./metrics.js";
import { WebhookUrls } from "./responders/urls.js";

const fail = (message: string): never => failStart("gateway", message);

async function main() {
  let config;
  try {
    config = loadGatewayConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log = createLogger("gateway", config.logLevel);
  const db = await openGatewayDb(config.db);
  const { client, state: brokerState } = connectBroker(config.brokerUrl, config.tls);
  const sandbox = connectSandbox(config.sandboxUrl, config.tls);
  const urls = new WebhookUrls(config.webhooksDomain, { scheme: config.webhooksUrlScheme, port: config.webhooksUrlPort });
  const registry = createRegistry("gateway");
  const generations = new SecretsGenerations();
  const { app, directory, schedulers, history } = await buildApp({
    metrics: new GatewayMetrics(registry),
    db,
    log,
    broker: client,
    brokerState,
    sandbox: sandbox.client,
    sandboxState: sandbox.state,
    grants: new GrantMinter(config.grantSigningKey, { generationOf: (userId) => generations.of(userId) }),
    generations,
    operatorToken: config.operatorToken,
    kratosUrl: config.kratosUrl,
    apiKeysPerUser: config.apiKeysPerUser,
    userScriptsPerUser: config.userScriptsPerUser,
    tagsPerUser: config.tagsPerUser,
    exportMaxBytes: config.exportMaxBytes,
    respondersPerUser: config.respondersPerUser,
    webhooks: {
      urls,
      trustedProxies: config.trustedProxies,
      bodyLimit: config.webhooksBodyLimit,
      scriptTimeoutMs: config.responderScriptTimeoutMs,
      renderCache: { maxBytes: config.templateCacheMaxBytes, ttlMs: config.templateCacheTtlMs },
      historyBytesPerUser: config.historyBytesPerUser,
      trackedResponseMaxBytes: config.trackedResponseMaxBytes,
    },
    trackers: config.trackers,
  });
  await directory.start();
  await generations.start(db, log);
  if (!config.operatorToken) log.warn("no operator token configured: the operator endpoints are disabled");
  let stopping = false;
  let metricsServer: MetricsServer | undefined;
  // Before the port opens: an orchestrator that stops the gateway once it
  // answers (or once it says it is ready) gets a clean stop, not a kill.
  // A stop that comes while it is still starting to listen waits for that.
  let listening: Promise<unknown> = Promise.resolve();
  stopOnSignals("gateway", log, async () => {
    stopping = true;
    await listening.catch(() => {});
    // close() lets in-flight requests finish before the listener goes away.
    await app.close();
    // Entries of requests already answered are written before the database goes.
    await history.drain();
    await Promise.all(schedulers.map((s) => s.stop()));
    await metricsServer?.stop();
    await directory.stop();
    await generations.stop();
    client.close();
    sandbox.client.close();
    await db.close();
  });
  listening = app.listen({ host: config.host, port: config.port });
  await listening;
  if (stopping) return;
  urls.port ??= (app.server.address() as AddressInfo).port;
  for (const s of schedulers) s.start();
  if (config.metrics) metricsServer = await startMetricsServer(registry, config.metrics.host, config.metrics.port, log);
  log.info({ db: describeTarget(config.db), broker: config.brokerUrl, sandbox: config.sandboxUrl, kratos: config.kratosUrl ?? null, webhooks: urls.of("<handle>", undefined, "/") }, "gateway ready");
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
