import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { refusalMessage } from "../../common/grant-verify.js";
import { balanced, BROKER_DEADLINE_MS, BROKER_RETRY, instancesProbe, unary, type InstanceState } from "../../common/grpc-client.js";
import { grpcTarget } from "../../common/grpc-target.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";

const STATUS_DEADLINE_MS = 1_000;

export interface BrokerState {
  up: boolean;
  /** Why it does not serve, when the broker itself said so (GetStatus). */
  reason?: string;
  /** Each instance the broker URL names. */
  instances: InstanceState[];
}

/**
 * The SecretBroker client, spreading calls over every healthy broker instance
 * `url` names, and a status probe; all share one set of credentials.
 */
export function connectBroker(url: string, tls: TlsFiles) {
  const credentials = clientCredentials(tls);
  const { target, options } = balanced(url, BROKER_CHANNEL_OPTIONS, BROKER_RETRY);
  const client = new SecretBrokerClient(target, credentials, options);
  const instances = instancesProbe(url, credentials, BROKER_CHANNEL_OPTIONS);
  // Unbalanced: the balanced client sends nothing to a broker that says NOT_SERVING, which is the one to ask why.
  const statusClient = new SecretBrokerClient(grpcTarget(url), credentials, BROKER_CHANNEL_OPTIONS);
  const state = async (): Promise<BrokerState> => {
    // Up while one instance serves: the balanced client then has one to call.
    const each = await instances();
    if (each.some((i) => i.serving)) return { up: true, instances: each };
    // Health only says no; a broker that is up but refuses to serve says why.
    const reason = await unary(statusClient.getStatus, statusClient, {}, STATUS_DEADLINE_MS).then(
      (s) => (s.serving ? undefined : s.reason),
      () => undefined,
    );
    return reason ? { up: false, reason, instances: each } : { up: false, instances: each };
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

/**
 * The broker refused a grant as already used. For a grant the gateway just
 * minted this means a call repeated after its broker died had already been
 * answered there: the caller may mint a new grant and ask once more.
 */
export class GrantAlreadyUsed extends DomainError {
  constructor() {
    super("unavailable", "the secret broker is unavailable");
  }
}

/**
 * The call reached a broker and its connection broke before the answer was
 * whole (the broker died with it in flight), and grpc-js did not send it
 * again: it never repeats a call whose answer had begun to arrive. The
 * broker may have used the grant. (With waitForReady, no reachable broker
 * at all ends in DEADLINE_EXCEEDED instead.)
 */
export class BrokerCallLost extends DomainError {
  constructor() {
    super("unavailable", "the secret broker is unavailable");
  }
}

export function toDomainError(err: grpc.ServiceError): Error {
  switch (err.code) {
    case grpc.status.PERMISSION_DENIED:
      if (err.details === refusalMessage("reused")) return new GrantAlreadyUsed();
      return new Error(`broker call failed: PERMISSION_DENIED`);
    case grpc.status.INVALID_ARGUMENT:
      return new DomainError("invalid", err.details);
    case grpc.status.NOT_FOUND:
      return new DomainError("not_found", err.details);
    case grpc.status.ALREADY_EXISTS:
      return new DomainError("conflict", err.details);
    case grpc.status.FAILED_PRECONDITION:
      return new DomainError("limit", err.details);
    case grpc.status.UNAVAILABLE:
      return new BrokerCallLost();
    case grpc.status.DEADLINE_EXCEEDED:
      return new DomainError("unavailable", "the secret broker is unavailable");
    default:
      return new Error(`broker call failed: ${grpc.status[err.code] ?? err.code}`);
  }
}
