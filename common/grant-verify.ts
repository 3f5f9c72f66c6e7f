import type { KeyObject } from "node:crypto";
import {
  decodeGrant,
  GRANT_MAX_LIFETIME_SECONDS,
  GRANT_PURPOSE,
  GRANT_TYP,
  GrantTokenError,
  openGrantToken,
  type Purpose,
} from "./grant-token.js";
import { GrantPurpose, type GrantClaims } from "../proto/gen/secutils/broker/v1/broker.js";
import { isUuid } from "./ids.js";

export type { Purpose };

/** Why a grant was refused: a short fixed text for the audit log and the caller. */
export type RefusalReason =
  | "malformed"
  | "bad signature"
  | "wrong token type"
  | "lifetime too long"
  | "not yet valid"
  | "expired"
  | "wrong purpose"
  | "wrong caller"
  | "wrong user"
  | "reused";

/** The message a refusal answers with: "grant refused: reused". */
export const refusalMessage = (reason: RefusalReason): string => `grant refused: ${reason}`;

export class GrantRefused extends Error {
  override name = "GrantRefused";
  /** The claims, once the signature and their shape have been verified; never before. */
  constructor(
    readonly reason: RefusalReason,
    readonly claims?: GrantClaims,
  ) {
    super(refusalMessage(reason));
  }
}

export interface GrantCheck {
  purpose: Purpose;
  /** The caller's certificate identity. */
  caller: string;
  /** The user the caller says it acts for. */
  userId: string;
  /** Milliseconds since the epoch; the broker's clock by default. */
  now?: number;
}

// Clocks of the gateway and the broker replicas differ a little.
const LEEWAY_SECONDS = 5;
// Bounds what a caller can make the broker parse; a grant listing every
// secret of a large user is a few KiB.
const MAX_TOKEN_CHARS = 64 * 1024;
const MAX_EXECUTION_ID_CHARS = 128;
const MAX_CONSUMER_CHARS = 256;

// Plaintext for scripts goes only to the sandbox, expanded templates only to
// the gateway; a grant stolen from one is useless to the other.
const CALLER: Record<Purpose, string> = { script: "sandbox", template: "gateway" };

export function purposeName(p: GrantPurpose): string {
  if (p === GrantPurpose.GRANT_PURPOSE_SCRIPT) return "script";
  if (p === GrantPurpose.GRANT_PURPOSE_TEMPLATE) return "template";
  return "unspecified";
}

/**
 * Verifies a grant for one RPC: signature (the gateway's Ed25519 key), token
 * type, claim shape, lifetime, expiry, purpose, caller and user. Single use is
 * checked separately against the database (replay.ts). Throws GrantRefused.
 */
export async function verifyGrant(key: KeyObject, token: string, check: GrantCheck): Promise<GrantClaims> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) throw new GrantRefused("malformed");
  let verified;
  try {
    verified = openGrantToken(token, key);
  } catch (err) {
    if (err instanceof GrantTokenError) throw new GrantRefused(err.reason);
    throw err;
  }
  if (verified.header.typ !== GRANT_TYP) throw new GrantRefused("wrong token type");
  let claims: GrantClaims;
  try {
    claims = decodeGrant(verified.payload);
  } catch {
    throw new GrantRefused("malformed");
  }
  if (!wellFormed(claims)) throw new GrantRefused("malformed");
  claims = { ...claims, userId: claims.userId.toLowerCase(), secretIds: claims.secretIds.map((id) => id.toLowerCase()) };

  const now = (check.now ?? Date.now()) / 1000;
  if (claims.expiresAt - claims.issuedAt > GRANT_MAX_LIFETIME_SECONDS) throw new GrantRefused("lifetime too long", claims);
  if (claims.issuedAt > now + LEEWAY_SECONDS) throw new GrantRefused("not yet valid", claims);
  if (now > claims.expiresAt + LEEWAY_SECONDS) throw new GrantRefused("expired", claims);
  if (claims.purpose !== GRANT_PURPOSE[check.purpose]) throw new GrantRefused("wrong purpose", claims);
  if (check.caller !== CALLER[check.purpose]) throw new GrantRefused("wrong caller", claims);
  if (check.userId.toLowerCase() !== claims.userId) throw new GrantRefused("wrong user", claims);
  return claims;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

// Only well-formed claims may reach the audit log (its columns are typed).
function wellFormed(c: GrantClaims): boolean {
  return (
    isUuid(c.userId) &&
    c.executionId.length > 0 &&
    c.executionId.length <= MAX_EXECUTION_ID_CHARS &&
    c.consumer.length <= MAX_CONSUMER_CHARS &&
    // Postgres stores no NUL in text: one would fail the statement that records the release.
    !CONTROL.test(c.executionId) &&
    !CONTROL.test(c.consumer) &&
    c.secretIds.every(isUuid) &&
    // "all" with a list is ambiguous; refuse rather than guess which was meant.
    !(c.all && c.secretIds.length > 0) &&
    Number.isSafeInteger(c.issuedAt) &&
    Number.isSafeInteger(c.expiresAt) &&
    c.issuedAt > 0 &&
    c.expiresAt > c.issuedAt
  );
}
