import * as grpc from "@grpc/grpc-js";
import { isDatabaseUnavailable, type Db } from "../common/db.js";
import { DomainError } from "../common/errors.js";
import { GRPC_STATUS } from "../common/grpc-server.js";
import type { Logger } from "../common/log.js";
import { peerIdentity } from "../common/tls.js";
import { appendAudit } from "./audit/store.js";
import { allowed, type Rpc } from "./auth/policy.js";
import type { BrokerMetrics } from "./metrics.js";


export interface CallContext {
  identity: string;
}

type Impl<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res>;

/**
 * Wraps one RPC implementation: authorises the caller's certificate identity
 * (refusals are audited), then maps domain errors to gRPC statuses and a
 * database that went away to UNAVAILABLE. Anything else becomes INTERNAL
 * with a fixed message; the detail goes only to the log, which never
 * receives request values.
 */
export function makeGuard(db: Db, log: Logger, metrics: BrokerMetrics) {
  return function guard<Req, Res>(rpc: Rpc, impl: Impl<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, answer) => {
      const started = performance.now();
      const callback: grpc.sendUnaryData<Res> = (err, res) => {
        metrics.call(rpc, err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK, (performance.now() - started) / 1000);
        answer(err, res);
      };
      const identity = peerIdentity(call);
      if (!allowed(identity, rpc)) {
        void refuseIdentity(db, log, identity, rpc).then(callback);
        return;
      }
      impl(call.request, { identity: identity! }).then(
        (res) => callback(null, res),
        (err: unknown) => callback(statusOf(err, rpc, log)),
      );
    };
  };
}

/**
 * The caller's identity when it may call this streaming RPC; otherwise the
 * refusal is audited, the call ends PERMISSION_DENIED, and undefined.
 */
export async function streamIdentity(db: Db, log: Logger, call: grpc.ServerDuplexStream<unknown, unknown>, rpc: Rpc): Promise<string | undefined> {
  const identity = peerIdentity(call);
  if (allowed(identity, rpc)) return identity;
  call.emit("error", await refuseIdentity(db, log, identity, rpc));
  return undefined;
}

/** Logs and audits a call from an identity the RPC is not for; the status to end it with. */
async function refuseIdentity(db: Db, log: Logger, identity: string | undefined, rpc: Rpc): Promise<grpc.ServiceError> {
  log.warn({ rpc, caller: identity ?? "(none)" }, "refused call from an identity not allowed this rpc");
  await appendAudit(db, { caller: identity ?? "(none)", rpc, outcome: "refused", reason: "identity not allowed" }).catch((err: unknown) =>
    log.error({ err, rpc }, "could not write audit event"),
  );
  const details = `identity ${identity ?? "(none)"} may not call ${rpc}`;
  return Object.assign(new Error(details), { code: grpc.status.PERMISSION_DENIED, details, metadata: new grpc.Metadata() });
}

/**
 * The status an RPC answers for an error: a domain error's own, a database
 * that went away as UNAVAILABLE, anything else INTERNAL with a fixed message
 * (the detail goes only to the log).
 */
export function statusOf(err: unknown, rpc: Rpc, log: Logger): { code: grpc.status; details: string } {
  if (err instanceof DomainError) return { code: GRPC_STATUS[err.kind], details: err.message };
  // A restart or failover of the database: the caller may retry, and
  // the gateway answers 503 for it rather than 500.
  if (isDatabaseUnavailable(err)) {
    log.warn({ rpc, code: (err as { code?: unknown }).code }, "the database is unavailable");
    return { code: grpc.status.UNAVAILABLE, details: "the database is unavailable" };
  }
  log.error({ err, rpc }, "rpc failed");
  return { code: grpc.status.INTERNAL, details: "internal error" };
}

export type Guard = ReturnType<typeof makeGuard>;
