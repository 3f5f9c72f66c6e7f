import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { BROKER_DEADLINE_MS, healthProbe, unary } from "../../common/grpc-client.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";

const STATUS_DEADLINE_MS = 1_000;

export interface BrokerState {
  up: boolean;
  /** Why it does not serve, when the broker itself said so (GetStatus). */
  reason?: string;
}

/** The SecretBroker client and a status probe, sharing one set of credentials. */
export function connectBroker(url: string, tls: TlsFiles) {
  const credentials = clientCredentials(tls);
  const client = new SecretBrokerClient(url, credentials, BROKER_CHANNEL_OPTIONS);
  const healthy = healthProbe(url, credentials, BROKER_CHANNEL_OPTIONS);
  const state = async (): Promise<BrokerState> => {
    if (await healthy()) return { up: true };
    // Health only says no; a broker that is up but refuses to serve says why.
    const reason = await unary(client.getStatus, client, {}, STATUS_DEADLINE_MS).then(
      (s) => (s.serving ? undefined : s.reason),
      () => undefined,
    );
    return reason ? { up: false, reason } : { up: false };
  };
  return { client, state };
}

/** Calls one unary RPC with a deadline and turns gRPC failures into domain errors. */
export function callBroker<Req, Res>(fn: Parameters<typeof unary<Req, Res>>[0], client: grpc.Client, req: Req): Promise<Res> {
  // A broker being restarted is waited for (within the deadline), not failed at once.
  return unary(fn, client, req, BROKER_DEADLINE_MS, { waitForReady: true }).catch((err: grpc.ServiceError) => {
    throw toDomainError(err);
  });
}

export function toDomainError(err: grpc.ServiceError): Error {
  switch (err.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new DomainError("invalid", err.details);
    case grpc.status.NOT_FOUND:
      return new DomainError("not_found", err.details);
    case grpc.status.ALREADY_EXISTS:
      return new DomainError("conflict", err.details);
    case grpc.status.FAILED_PRECONDITION:
      return new DomainError("limit", err.details);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new DomainError("unavailable", "the secret broker is unavailable");
    default:
      return new Error(`broker call failed: ${grpc.status[err.code] ?? err.code}`);
  }
}
