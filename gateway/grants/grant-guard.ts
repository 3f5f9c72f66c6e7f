import { DomainError } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Principal } from "../auth/authenticate.js";
import { callBroker } from "../broker/client.js";
import { newlyGranted, type AccessChange } from "./widening.js";

/** Refuses (403) a change that would give scripts or templates secrets the caller may not grant. */
export type GrantCheck = (change: AccessChange) => Promise<void>;

const REFUSED =
  "this API key lacks the secrets:grant scope, which giving scripts and templates access to secrets needs " +
  "(creating or widening a secrets access setting, or changing the script or target of one that grants any)";

/**
 * Decides, per caller, whether an access setting may be created or widened.
 * A session may; an API key may only with the secrets:grant scope. A refusal
 * goes into the user's audit trail (the broker's append-only table, the one
 * `_audit` reads) with the key, what the setting belongs to and the secret
 * ids it asked for: never a value.
 */
export class GrantGuard {
  constructor(private readonly deps: { broker: SecretBrokerClient; log: Logger }) {}

  /** The check for a request's caller; undefined when the caller may grant. */
  checkFor(principal: Principal | undefined): GrantCheck | undefined {
    if (principal?.kind !== "user") throw new Error("route is missing its user auth hook");
    if (principal.via !== "api_key" || principal.scopes.has("secrets:grant")) return undefined;
    const { userId, apiKeyId } = principal;
    return async (change) => {
      const granted = newlyGranted(change);
      if (!granted) return;
      await this.record(userId, apiKeyId, change.consumer, granted);
      throw new DomainError("forbidden", REFUSED);
    };
  }

  private async record(userId: string, apiKeyId: string, consumer: string, granted: NonNullable<ReturnType<typeof newlyGranted>>) {
    const { broker, log } = this.deps;
    log.warn({ userId, apiKeyId, consumer }, "refused an API key without secrets:grant that tried to grant secrets");
    try {
      await callBroker(broker.recordGrantRefusal, broker, {
        userId,
        consumer,
        apiKeyId,
        all: granted.all,
        secretIds: granted.all ? [] : granted.ids,
      });
    } catch (err) {
      // The refusal stands either way; only its record is missing, which the log says.
      log.error({ userId, apiKeyId, consumer, err: { message: err instanceof Error ? err.message : String(err) } }, "could not audit a refused grant");
    }
  }
}
