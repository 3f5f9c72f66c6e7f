// How `npm start` lays out more than one broker or sandbox on one machine:
// BROKER_INSTANCES and SANDBOX_INSTANCES (default 1) of each, on consecutive
// ports, with every client pointed at all of them.
import { z } from "zod";
import { parseEnv, positiveInt } from "../config.js";

export interface ServiceRun {
  name: string;
  entry: string;
  env: Record<string, string>;
}

const schema = z.object({
  BROKER_INSTANCES: positiveInt(1),
  SANDBOX_INSTANCES: positiveInt(1),
  BROKER_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SANDBOX_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  BROKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SANDBOX_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BROKER_DATABASE_URL: z.string().optional(),
});

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/**
 * The processes to start, or a message saying what to change. Brokers take
 * BROKER_PORT (7071) onwards; sandboxes SANDBOX_PORT (7072) onwards, or,
 * when SANDBOX_PORT is not set and the brokers need 7072, the port after the
 * last broker.
 */
export function layOut(env: NodeJS.ProcessEnv): ServiceRun[] | string {
  const e = parseEnv(schema, env);
  if (e.BROKER_INSTANCES > 1 && !e.BROKER_DATABASE_URL) {
    return "BROKER_INSTANCES > 1 needs BROKER_DATABASE_URL: an embedded database folder has one owner, so several brokers need a shared Postgres";
  }
  const brokerPorts = range(e.BROKER_PORT ?? 7071, e.BROKER_INSTANCES);
  const sandboxFrom = e.SANDBOX_PORT ?? (brokerPorts.includes(7072) ? brokerPorts.at(-1)! + 1 : 7072);
  const sandboxPorts = range(sandboxFrom, e.SANDBOX_INSTANCES);
  const clash = sandboxPorts.find((p) => brokerPorts.includes(p));
  if (clash !== undefined) return `a broker and a sandbox would both listen on port ${clash}: set SANDBOX_PORT past the brokers' ports`;

  const list = (ports: number[]) => ports.map((p) => `127.0.0.1:${p}`).join(",");
  // A metrics port set for a kind is where its first instance serves; the others take the next ones.
  const metrics = (variable: string, base: number | undefined, i: number): Record<string, string> =>
    base === undefined ? {} : { [variable]: String(base === 0 ? 0 : base + i) };
  const numbered = (kind: string, i: number, count: number) => (count > 1 ? `${kind}-${i + 1}` : kind);
  return [
    ...brokerPorts.map((port, i) => ({
      name: numbered("broker", i, brokerPorts.length),
      entry: "broker/main.js",
      env: { BROKER_PORT: String(port), ...metrics("BROKER_METRICS_PORT", e.BROKER_METRICS_PORT, i) },
    })),
    ...sandboxPorts.map((port, i) => ({
      name: numbered("sandbox", i, sandboxPorts.length),
      entry: "sandbox/main.js",
      env: { SANDBOX_PORT: String(port), BROKER_URL: list(brokerPorts), ...metrics("SANDBOX_METRICS_PORT", e.SANDBOX_METRICS_PORT, i) },
    })),
    { name: "gateway", entry: "gateway/main.js", env: { BROKER_URL: list(brokerPorts), SANDBOX_URL: list(sandboxPorts) } },
  ];
}
