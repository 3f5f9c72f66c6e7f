import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../common/config.js";
import { describeTarget, openDb, type Db, type DbTarget } from "../common/db.js";
import { createLogger, type Logger } from "../common/log.js";
import { createRegistry, startMetricsServer } from "../common/metrics.js";
import { migrate } from "../common/migrate.js";
import { failStart, stopOnSignals } from "../common/service-process.js";
import { loadBrokerConfig } from "./config.js";
import { currentRole, grantRuntime, ownsTables } from "./database/runtime-role.js";
import { BrokerMetrics } from "./metrics.js";
import { checkKeyRing } from "./keyring/key-checks.js";
import { keyRingFromEnv, KeyRingError } from "./keyring/keyring.js";
import { reloadKeyRing, SwappableKeyRing } from "./keyring/reload.js";
import { startBroker } from "./server.js";
import { startFailedClosed } from "./status.js";

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
const MIGRATION_LOCK = 0x5ec0b0;

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
  await prepareDatabase(db, config.migrationDb, log);
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

/**
 * Migrates as the tables' owner and grants the runtime role what serving
 * needs (database/runtime-role.ts); with no owner connection, migrates as
 * the runtime role and, on Postgres, warns that the audit trail is then only
 * as safe as that role's password.
 */
async function prepareDatabase(db: Db, migrationDb: DbTarget | undefined, log: Logger): Promise<void> {
  const runtimeRole = await currentRole(db);
  if (!migrationDb) {
    await migrate(db, MIGRATIONS, MIGRATION_LOCK);
    if (db.kind === "postgres" && (await ownsTables(db, runtimeRole))) {
      log.warn(
        { role: runtimeRole },
        "the broker's database role owns the audit table, so it could disable its append-only trigger: set BROKER_MIGRATION_DATABASE_URL to an owner role",
      );
    }
    return;
  }
  const owner = await openDb(migrationDb, { poolSize: 1 });
  try {
    await migrate(owner, MIGRATIONS, MIGRATION_LOCK);
    await grantRuntime(owner, runtimeRole);
  } finally {
    await owner.close();
  }
  if (await ownsTables(db, runtimeRole)) throw new Error(`the runtime role ${runtimeRole} owns the audit table: BROKER_DATABASE_URL must log in as another role than BROKER_MIGRATION_DATABASE_URL`);
  log.info({ role: runtimeRole }, "tables migrated by their owner; the broker serves as a role that may only append to the audit trail");
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
