import { z } from "zod";
import { isGrpcTarget } from "./grpc-target.js";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses environment variables with a zod object schema whose keys are the
 * variable names. Every problem is reported at once, one line each, naming the
 * variable but never echoing its value (it may be a key or a token).
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    input[key] = value === "" ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`));
  }
  return result.data;
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
/** Where a gRPC service's instances are: `host:port`, a comma-separated list of them, or `dns:///name:port`. */
export const grpcTargetValue = z
  .string()
  .refine(isGrpcTarget, "must be host:port, a comma-separated list of host:port, or dns:///name:port")
  .optional();
export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");
export const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
  .optional();

/** A listener that is off unless its port is set (0 lets the OS pick one). */
export const optionalPort = z.coerce.number().int().min(0).max(65535).optional();

/** Where a service serves Prometheus metrics, when `<SERVICE>_METRICS_PORT` is set. */
export interface MetricsListen {
  host: string;
  port: number;
}

export function metricsListen(host: string, port: number | undefined): MetricsListen | undefined {
  return port === undefined ? undefined : { host, port };
}
