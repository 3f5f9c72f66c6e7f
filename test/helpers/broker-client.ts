import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials } from "../../common/tls.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Stack } from "./stack.js";

export const CHANNEL = BROKER_CHANNEL_OPTIONS;

/** A broker client presenting the development certificate of one identity; `addr` picks one broker of several. */
export function brokerAs(stack: Pick<Stack, "dev" | "brokerAddr">, identity: string, addr = stack.brokerAddr): SecretBrokerClient {
  const pki = stack.dev.pkiDir;
  return new SecretBrokerClient(
    addr,
    clientCredentials({ ca: path.join(pki, "ca.crt"), cert: path.join(pki, `${identity}.crt`), key: path.join(pki, `${identity}.key`) }),
    CHANNEL,
  );
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: grpc.status; details: string };

/** Runs one unary call with a deadline and reports its outcome instead of throwing. */
export function rpc<T>(fn: (meta: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<Outcome<T>> {
  return new Promise((resolve) =>
    fn(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) =>
      resolve(err ? { ok: false, code: err.code, details: err.details } : { ok: true, value: res }),
    ),
  );
}

export async function must<T>(p: Promise<Outcome<T>>): Promise<T> {
  const o = await p;
  if (!o.ok) throw new Error(`rpc failed: ${grpc.status[o.code]} ${o.details}`);
  return o.value;
}
