import { pino, type DestinationStream, type Logger } from "pino";

// Paths pino censors wherever they appear in a logged object. Secret values
// travel in `value`; tokens, grants and credentials under the other names.
export const REDACT_PATHS = [
  "value",
  "*.value",
  "token",
  "*.token",
  "password",
  "*.password",
  "secrets",
  "*.secrets",
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers['x-api-key']",
  "res.headers['set-cookie']",
  "headers.authorization",
  "headers.cookie",
];

export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = { name: service, level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { service } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
