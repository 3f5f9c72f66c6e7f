import { ConfigError } from "../common/config.js";
import { describeTarget, openDb } from "../common/db.js";
import { createLogger, type Logger } from "../common/log.js";
import { createRegistry, startMetricsServer } from "../common/metrics.js";
import { failStart, stopOnSignals } from "../common/service-process.js";
import { loadBrokerConfig } from "./config.js";
import { DatabaseNotReady, prepareDatabase } from "./database/prepare.js";
import { BrokerMetrics } from "./metrics.js";
import { checkKeyRing } from "./keyring/key-checks.js";
import { keyRingFromEnv, KeyRingError } from "./keyring/keyring.js";
import { reloadKeyRing, SwappableKeyRing } from "./keyring/reload.js";
import { startBroker } from "./server.js";
import { startFailedClosed } from "./status.js";


const fail = (message: string): never => failStart("broker", message);

async function main() {
  let config;
  try {
    config = loadBrokerConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log = createLogger("broker", config.logLevel);
  const db = await openDb(config.db);
  try {
    await prepareDatabase(db, config.migrationDb, log);
  } catch (err) {
    await db.close();
    if (err instanceof DatabaseNotReady) fail(err.message);
    throw err;
  }
  let ring, orphanKeys: string[];
  try {
    ring = keyRingFromEnv(process.env);
    orphanKeys = await checkKeyRing(db, ring);
  } catch (err) {
    await db.close();
    if (err instanceof KeyRingError) return failClosed(err.message, config, log);
    throw err;
  }
  if (orphanKeys.length > 0) {
    log.error({ missingKeyIds: orphanKeys }, "some secrets are wrapped under master keys missing from the key ring");
  }
  const swappable = new SwappableKeyRing(ring);
  process.on("SIGHUP", () => {
    reloadKeyRing(swappable, () => keyRingFromEnv(process.env), db, log).catch((err: unknown) =>
      log.error({ err }, "master key ring reload failed"),
    );
  });
  const registry = createRegistry("broker");
  const broker = await startBroker(
    {
      metrics: new BrokerMetrics(registry),
      db,
      ring: swappable,
      log,
      tls: config.tls,
      maxSecretsPerUser: config.maxSecretsPerUser,
      grantVerifyKey: config.grantVerifyKey,
    },
    config.host,
    config.port,
  );
  const metricsServer = config.metrics && (await startMetricsServer(registry, config.metrics.host, config.metrics.port, log));
  // Before saying it listens: whoever stops it on seeing that line gets a clean stop, not a kill.
  stopOnSignals("broker", log, async () => {
    await broker.stop();
    await metricsServer?.stop();
    await db.close();
  });
  if (broker.unbound.length > 0) log.warn({ unbound: broker.unbound }, "broker could not listen on every address its host resolves to");
  log.info(
    { port: broker.port, addresses: broker.addresses, db: describeTarget(config.db), activeKeyId: ring.activeId, keyIds: ring.ids() },
    "broker listening",
  );
}

/**
 * Master keys missing or wrong: serve nothing, but stay up and say why (in
 * GetStatus, so in the gateway's /api/status) until an operator fixes the
 * keys and restarts the broker.
 */
async function failClosed(reason: string, config: ReturnType<typeof loadBrokerConfig>, log: Logger): Promise<void> {
  process.stderr.write(`broker: not serving: ${reason}\n`);
  const server = await startFailedClosed(reason, { tls: config.tls, log }, config.host, config.port);
  stopOnSignals("broker", log, () => server.stop());
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
