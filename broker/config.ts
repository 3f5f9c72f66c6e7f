import type { KeyObject } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { ConfigError, logLevel, parseEnv, port, positiveInt, postgresUrl, metricsListen, optionalPort, type MetricsListen } from "../common/config.js";
import type { DbTarget } from "../common/db.js";
import { readGrantKey } from "../common/grant-token.js";
import type { TlsFiles } from "../common/tls.js";

const schema = z.object({
  DATA_DIR: z.string().default(".data"),
  BROKER_HOST: z.string().default("127.0.0.1"),
  BROKER_PORT: port(7071),
  BROKER_DATABASE_URL: postgresUrl,
  BROKER_MIGRATION_DATABASE_URL: postgresUrl,
  BROKER_TLS_CA: z.string().optional(),
  BROKER_TLS_CERT: z.string().optional(),
  BROKER_TLS_KEY: z.string().optional(),
  BROKER_MAX_SECRETS_PER_USER: positiveInt(100),
  BROKER_GRANT_VERIFY_KEY_FILE: z.string().optional(),
  BROKER_METRICS_PORT: optionalPort,
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: logLevel,
});

export interface BrokerConfig {
  host: string;
  port: number;
  db: DbTarget;
  /**
   * The table owner's connection, for migrations and for granting the
   * runtime role (BROKER_DATABASE_URL's) what it may do; without it the
   * broker migrates as its runtime role, which then owns the tables.
   */
  migrationDb?: DbTarget;
  tls: TlsFiles;
  maxSecretsPerUser: number;
  grantVerifyKey: KeyObject;
  /** Prometheus metrics listener; off when unset. */
  metrics?: MetricsListen;
  logLevel: string;
}

export function loadBrokerConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const e = parseEnv(schema, env);
  const pki = path.join(e.DATA_DIR, "pki");
  if (e.BROKER_MIGRATION_DATABASE_URL && !e.BROKER_DATABASE_URL) {
    throw new ConfigError(["BROKER_MIGRATION_DATABASE_URL: needs BROKER_DATABASE_URL (the runtime role's connection to the same database)"]);
  }
  return {
    host: e.BROKER_HOST,
    port: e.BROKER_PORT,
    db: e.BROKER_DATABASE_URL ? { url: e.BROKER_DATABASE_URL } : { pgliteDir: path.join(e.DATA_DIR, "broker", "db") },
    ...(e.BROKER_MIGRATION_DATABASE_URL ? { migrationDb: { url: e.BROKER_MIGRATION_DATABASE_URL } } : {}),
    tls: {
      ca: e.BROKER_TLS_CA ?? path.join(pki, "ca.crt"),
      cert: e.BROKER_TLS_CERT ?? path.join(pki, "broker.crt"),
      key: e.BROKER_TLS_KEY ?? path.join(pki, "broker.key"),
    },
    maxSecretsPerUser: e.BROKER_MAX_SECRETS_PER_USER,
    grantVerifyKey: readGrantKey(
      "BROKER_GRANT_VERIFY_KEY_FILE",
      e.BROKER_GRANT_VERIFY_KEY_FILE ?? path.join(e.DATA_DIR, "grants", "verify-key.pem"),
      "public",
    ),
    metrics: metricsListen(e.METRICS_HOST, e.BROKER_METRICS_PORT),
    logLevel: e.LOG_LEVEL,
  };
}
