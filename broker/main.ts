import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../common/config.js";
import { describeTarget, openDb } from "../common/db.js";
import { createLogger } from "../common/log.js";
import { createRegistry, startMetricsServer } from "../common/metrics.js";
import { migrate } from "../common/migrate.js";
import { failStart, stopOnSignals } from "../common/service-process.js";
import { loadBrokerConfig } from "./config.js";
import { BrokerMetrics } from "./metrics.js";
import { checkKeyRing } from "./keyring/key-checks.js";
import { keyRingFromEnv, KeyRingError } from "./keyring/keyring.js";
import { reloadKeyRing, SwappableKeyRing } from "./keyring/reload.js";
import { startBroker } from "./server.js";

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
const MIGRATION_LOCK = 0x5ec0b0;

const fail = (message: string): never => failStart("broker", message);

async function main() {
  let config, ring;
  try {
    config = loadBrokerConfig();
    ring = keyRingFromEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KeyRingError) fail(err.message);
    throw err;
  }
  const log = createLogger("broker", config.logLevel);
  const db = await openDb(config.db);
  await migrate(db, MIGRATIONS, MIGRATION_LOCK);
  let orphanKeys: string[];
  try {
    orphanKeys = await checkKeyRing(db, ring);
  } catch (err) {
    await db.close();
    if (err instanceof KeyRingError) fail(err.message);
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
  log.info(
    { port: broker.port, db: describeTarget(config.db), activeKeyId: ring.activeId, keyIds: ring.ids() },
    "broker listening",
  );

  const metricsServer = config.metrics && (await startMetricsServer(registry, config.metrics.host, config.metrics.port, log));

  stopOnSignals("broker", log, async () => {
    await broker.stop();
    await metricsServer?.stop();
    await db.close();
  });
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
