import type { KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigError, grpcTargetValue, logLevel, parseEnv, port, positiveInt, postgresUrl, metricsListen, optionalPort, type MetricsListen } from "../common/config.js";
import type { DbTarget } from "../common/db.js";
import { readGrantKey } from "../common/grant-token.js";
import type { TlsFiles } from "../common/tls.js";
import { DEFAULT_EXPORT_MAX_BYTES } from "./user-data/export.js";
import { DEFAULT_HISTORY_BYTES_PER_USER } from "./webhooks/history-writer.js";

const schema = z.object({
  DATA_DIR: z.string().default(".data"),
  HOST: z.string().default("127.0.0.1"),
  PORT: port(7070),
  GATEWAY_DATABASE_URL: postgresUrl,
  BROKER_PORT: port(7071),
  BROKER_URL: grpcTargetValue,
  SANDBOX_PORT: port(7072),
  SANDBOX_URL: grpcTargetValue,
  GATEWAY_TLS_CA: z.string().optional(),
  GATEWAY_TLS_CERT: z.string().optional(),
  GATEWAY_TLS_KEY: z.string().optional(),
  OPERATOR_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  OPERATOR_TOKEN_FILE: z.string().optional(),
  GRANT_SIGNING_KEY_FILE: z.string().optional(),
  KRATOS_URL: z.url({ protocol: /^https?$/ }).optional(),
  WEBHOOKS_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, "must be a DNS name")
    .default("localhost"),
  // Where responder URLs point; the port defaults to the one the gateway listens on.
  WEBHOOKS_URL_SCHEME: z.enum(["http", "https"]).default("http"),
  WEBHOOKS_URL_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  WEBHOOKS_BODY_LIMIT: positiveInt(1024 * 1024),
  RESPONDER_SCRIPT_TIMEOUT_MS: z.coerce.number().int().min(1).max(300_000).default(30_000),
  TEMPLATE_CACHE_MAX_BYTES: z.coerce.number().int().min(0).default(8 * 1024 * 1024),
  TEMPLATE_CACHE_TTL_MS: positiveInt(60_000),
  TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean))
    .refine((list) => list.every((p) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(p)), {
      message: "must be a comma-separated list of IP addresses or CIDRs",
    }),
  TRACKER_SCRIPT_TIMEOUT_MS: z.coerce.number().int().min(1).max(300_000).default(30_000),
  TRACKER_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).max(300_000).default(10_000),
  // A page run loads pages in a browser: its one script gets the time both API tracker scripts share.
  PAGE_TRACKER_TIMEOUT_MS: z.coerce.number().int().min(1).max(300_000).default(60_000),
  // How often each replica looks for due trackers; 0 turns the scheduler off on this replica.
  TRACKER_SCHEDULER_POLL_MS: z.coerce.number().int().min(0).default(5_000),
  TRACKER_MAX_CONCURRENT_RUNS: positiveInt(4),
  API_KEYS_PER_USER: positiveInt(30),
  USER_SCRIPTS_PER_USER: positiveInt(100),
  TAGS_PER_USER: positiveInt(100),
  // The reference's defaults: 100 responders, and 100 trackers (here of each kind).
  RESPONDERS_PER_USER: positiveInt(100),
  TRACKERS_PER_USER: positiveInt(100),
  // Across all of an account's responders; the newest entry is kept whatever it weighs.
  RESPONDER_HISTORY_BYTES_PER_USER: positiveInt(DEFAULT_HISTORY_BYTES_PER_USER),
  // The reference's default: a kept response's body past it is cut (the caller still gets it whole).
  RESPONDER_TRACKED_RESPONSE_MAX_BYTES: positiveInt(1024 * 1024),
  // Across all of an account's trackers of both kinds; each tracker's newest revision is kept whatever it weighs.
  TRACKER_REVISIONS_BYTES_PER_USER: positiveInt(256 * 1024 * 1024),
  // The largest export document, built in the gateway's memory.
  USER_DATA_EXPORT_MAX_BYTES: positiveInt(DEFAULT_EXPORT_MAX_BYTES),
  GATEWAY_METRICS_PORT: optionalPort,
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: logLevel,
});

export interface GatewayConfig {
  host: string;
  port: number;
  db: DbTarget;
  brokerUrl: string;
  sandboxUrl: string;
  tls: TlsFiles;
  operatorToken?: string;
  /** Signs execution grants; the broker holds only the matching public key. */
  grantSigningKey: KeyObject;
  kratosUrl?: string;
  webhooksDomain: string;
  webhooksUrlScheme: "http" | "https";
  webhooksUrlPort?: number;
  webhooksBodyLimit: number;
  responderScriptTimeoutMs: number;
  trustedProxies: string[];
  templateCacheMaxBytes: number;
  templateCacheTtlMs: number;
  trackers: TrackerSettings;
  apiKeysPerUser: number;
  userScriptsPerUser: number;
  tagsPerUser: number;
  respondersPerUser: number;
  historyBytesPerUser: number;
  trackedResponseMaxBytes: number;
  exportMaxBytes: number;
  /** Prometheus metrics listener; off when unset. */
  metrics?: MetricsListen;
  logLevel: string;
}

export interface TrackerSettings {
  /** Wall clock of each of a run's two scripts. */
  scriptTimeoutMs: number;
  /** Per HTTP request of a run; the sandbox caps it at OUTBOUND_MAX_TIMEOUT_MS. */
  requestTimeoutMs: number;
  /** Wall clock of a page tracker's extractor, its browser calls included (capped by SANDBOX_MAX_TIMEOUT_MS). */
  pageTimeoutMs: number;
  /** 0: this replica runs no scheduled ticks. */
  schedulerPollMs: number;
  /** Scheduled runs in flight on this replica. */
  maxConcurrentRuns: number;
  /** Trackers of each kind one user may have. */
  perUser: number;
  /** What one account's revisions may weigh, both kinds together (trackers/revisions-store.ts). */
  revisionsBytesPerUser: number;
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv(schema, env);
  const pki = path.join(e.DATA_DIR, "pki");
  return {
    host: e.HOST,
    port: e.PORT,
    db: e.GATEWAY_DATABASE_URL ? { url: e.GATEWAY_DATABASE_URL } : { pgliteDir: path.join(e.DATA_DIR, "gateway", "db") },
    brokerUrl: e.BROKER_URL ?? `127.0.0.1:${e.BROKER_PORT}`,
    sandboxUrl: e.SANDBOX_URL ?? `127.0.0.1:${e.SANDBOX_PORT}`,
    tls: {
      ca: e.GATEWAY_TLS_CA ?? path.join(pki, "ca.crt"),
      cert: e.GATEWAY_TLS_CERT ?? path.join(pki, "gateway.crt"),
      key: e.GATEWAY_TLS_KEY ?? path.join(pki, "gateway.key"),
    },
    operatorToken: operatorToken(e.OPERATOR_TOKEN, e.OPERATOR_TOKEN_FILE),
    grantSigningKey: readGrantKey(
      "GRANT_SIGNING_KEY_FILE",
      e.GRANT_SIGNING_KEY_FILE ?? path.join(e.DATA_DIR, "grants", "signing-key.pem"),
      "private",
    ),
    kratosUrl: e.KRATOS_URL?.replace(/\/+$/, ""),
    webhooksDomain: e.WEBHOOKS_DOMAIN,
    webhooksUrlScheme: e.WEBHOOKS_URL_SCHEME,
    webhooksUrlPort: e.WEBHOOKS_URL_PORT,
    webhooksBodyLimit: e.WEBHOOKS_BODY_LIMIT,
    responderScriptTimeoutMs: e.RESPONDER_SCRIPT_TIMEOUT_MS,
    trustedProxies: e.TRUSTED_PROXIES,
    templateCacheMaxBytes: e.TEMPLATE_CACHE_MAX_BYTES,
    templateCacheTtlMs: e.TEMPLATE_CACHE_TTL_MS,
    trackers: {
      scriptTimeoutMs: e.TRACKER_SCRIPT_TIMEOUT_MS,
      requestTimeoutMs: e.TRACKER_REQUEST_TIMEOUT_MS,
      pageTimeoutMs: e.PAGE_TRACKER_TIMEOUT_MS,
      schedulerPollMs: e.TRACKER_SCHEDULER_POLL_MS,
      maxConcurrentRuns: e.TRACKER_MAX_CONCURRENT_RUNS,
      perUser: e.TRACKERS_PER_USER,
      revisionsBytesPerUser: e.TRACKER_REVISIONS_BYTES_PER_USER,
    },
    apiKeysPerUser: e.API_KEYS_PER_USER,
    userScriptsPerUser: e.USER_SCRIPTS_PER_USER,
    tagsPerUser: e.TAGS_PER_USER,
    respondersPerUser: e.RESPONDERS_PER_USER,
    historyBytesPerUser: e.RESPONDER_HISTORY_BYTES_PER_USER,
    trackedResponseMaxBytes: e.RESPONDER_TRACKED_RESPONSE_MAX_BYTES,
    exportMaxBytes: e.USER_DATA_EXPORT_MAX_BYTES,
    metrics: metricsListen(e.METRICS_HOST, e.GATEWAY_METRICS_PORT),
    logLevel: e.LOG_LEVEL,
  };
}

function operatorToken(inline: string | undefined, file: string | undefined): string | undefined {
  if (inline && file) throw new ConfigError(["set only one of OPERATOR_TOKEN and OPERATOR_TOKEN_FILE"]);
  if (!file) return inline;
  let token: string;
  try {
    token = fs.readFileSync(file, "utf8").trim();
  } catch {
    throw new ConfigError([`OPERATOR_TOKEN_FILE: cannot read ${file}`]);
  }
  if (token.length < 32) throw new ConfigError(["OPERATOR_TOKEN_FILE: the token must be at least 32 characters"]);
  return token;
}
