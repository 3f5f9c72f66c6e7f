// A run whose secrets the sandbox lost with a broker that stopped is sent
// once more, under a new grant: nothing of it had started (the release comes
// first), and the lost call may have used the first grant at that broker.
// Each release stays audited under its own grant.
import * as grpc from "@grpc/grpc-js";
import { RELEASE_LOST_MESSAGE } from "../../common/script-errors.js";
import { underGrant } from "../grants/under-grant.js";

/** The sandbox answered that the run's release was lost with its broker (sandbox/broker/secrets.ts). */
export function releaseLost(err: unknown): boolean {
  const e = err as Partial<grpc.ServiceError>;
  return e.code === grpc.status.UNAVAILABLE && e.details === RELEASE_LOST_MESSAGE;
}

/**
 * `send` under a grant from `mint` (undefined: the run gets no secrets), and
 * once more under a new grant when its release was lost.
 */
export function underScriptGrant<T>(mint: () => Promise<string | undefined>, send: (grant: string | undefined) => Promise<T>): Promise<T> {
  return underGrant(mint, send, releaseLost);
}
