import crypto, { type KeyObject } from "node:crypto";
import type { GrantClaims } from "../../proto/gen/secutils/broker/v1/broker.js";
import { GRANT_BATCH_MAX, GRANT_MAX_LIFETIME_SECONDS, GRANT_PURPOSE, signGrants, type Purpose } from "../../common/grant-token.js";

/** A responder's or tracker's access setting, minus "none" (which gets no grant at all). */
export type GrantAccess = "all" | { selected: string[] };

export interface GrantRequest {
  userId: string;
  purpose: Purpose;
  access: GrantAccess;
  /** What the execution serves, for the broker's audit log, e.g. "responder:<id>". */
  consumer: string;
  ttlSeconds?: number;
}

/** The user's secrets generation as this gateway knows it; see SecretsGenerations. */
export type GenerationOf = (userId: string) => string;

export interface MintedGrant {
  token: string;
  executionId: string;
}

// Long enough for one script run (the sandbox's wall clock) and the broker
// call that follows; short, so a leaked grant is worth seconds.
const DEFAULT_TTL_SECONDS = 30;

interface Unsigned {
  claims: GrantClaims;
  resolve(token: string): void;
  reject(err: unknown): void;
}

/**
 * Signs execution grants with the gateway's Ed25519 private key. Each grant
 * names a fresh execution id, which the broker accepts once. The grants
 * asked for in one turn of the event loop are signed together, once per
 * GRANT_BATCH_MAX (common/grant-token.ts), when the turn's callbacks are done.
 */
export class GrantMinter {
  private readonly defaultTtl: number;

  private unsigned: Unsigned[] = [];

  private readonly generationOf: GenerationOf | undefined;

  /**
   * With `generationOf`, script grants carry the user's secrets generation, and
   * the sandbox may serve them from its cache of released values; without it
   * every script grant is a release at the broker.
   */
  constructor(
    private readonly privateKey: KeyObject,
    opts: { defaultTtlSeconds?: number; generationOf?: GenerationOf } = {},
  ) {
    if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
      throw new TypeError("a grant signing key must be an Ed25519 private key");
    }
    this.defaultTtl = checkTtl(opts.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS);
    this.generationOf = opts.generationOf;
  }

  async mint(req: GrantRequest): Promise<MintedGrant> {
    const ttl = checkTtl(req.ttlSeconds ?? this.defaultTtl);
    const executionId = crypto.randomUUID();
    const issuedAt = Math.floor(Date.now() / 1000);
    const claims: GrantClaims = {
      userId: req.userId,
      purpose: GRANT_PURPOSE[req.purpose],
      all: req.access === "all",
      secretIds: req.access === "all" ? [] : [...req.access.selected],
      executionId,
      consumer: req.consumer,
      issuedAt,
      expiresAt: issuedAt + ttl,
      secretsGeneration: req.purpose === "script" && this.generationOf ? this.generationOf(req.userId) : "",
    };
    const token = await new Promise<string>((resolve, reject) => {
      if (this.unsigned.length === 0) setImmediate(() => this.signTurn());
      this.unsigned.push({ claims, resolve, reject });
    });
    return { token, executionId };
  }

  private signTurn(): void {
    const turn = this.unsigned;
    this.unsigned = [];
    for (let at = 0; at < turn.length; at += GRANT_BATCH_MAX) {
      const batch = turn.slice(at, at + GRANT_BATCH_MAX);
      try {
        const tokens = signGrants(batch.map((u) => u.claims), this.privateKey);
        batch.forEach((u, i) => u.resolve(tokens[i]!));
      } catch (err) {
        for (const u of batch) u.reject(err);
      }
    }
  }
}

// The broker refuses lifetimes above the cap; minting one would only fail later.
function checkTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > GRANT_MAX_LIFETIME_SECONDS) {
    throw new RangeError(`grant ttl must be a whole number of seconds in 1..${GRANT_MAX_LIFETIME_SECONDS}`);
  }
  return ttl;
}
