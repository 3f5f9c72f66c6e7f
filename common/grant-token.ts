// The execution grant's wire format, shared by the gateway (which signs) and
// the sandbox and the broker (which verify). The gateway signs the grants it
// mints in one turn of its event loop together: a compact JWS (alg EdDSA over
// Ed25519) whose payload is the SHA-256 digest of each grant's claims, and
// each grant is that JWS followed by its own claims (a protobuf GrantClaims):
//
//   <header>.<digests>.<signature>.<claims>     (each part base64url)
//
// A grant is authentic when its claims' digest is among the signed ones.
// One signature serves every grant of a turn (about two at ten connections),
// and a verifier that has checked a batch's signature once accepts the next
// grant of that batch on its digest alone. The digests of the other grants
// tell nothing about them: each covers a random execution id. Each side
// holds only its half of the key pair.
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import { GrantClaims, GrantPurpose } from "../proto/gen/secutils/broker/v1/broker.js";
import { ConfigError } from "./config.js";
import { ed25519 } from "./ed25519.js";

export const GRANT_TYP = "secutils-grant";
export const GRANT_ALG = "EdDSA";
/** The longest lifetime (expires_at - issued_at) the broker accepts. */
export const GRANT_MAX_LIFETIME_SECONDS = 600;
/** Grants one signature covers at most; a turn that mints more signs again. */
export const GRANT_BATCH_MAX = 16;

/** `script`: OpenSecrets for one script execution; `template`: RenderTemplates. */
export type Purpose = "script" | "template";
export const GRANT_PURPOSE: Record<Purpose, GrantPurpose> = {
  script: GrantPurpose.GRANT_PURPOSE_SCRIPT,
  template: GrantPurpose.GRANT_PURPOSE_TEMPLATE,
};

// One fixed JWS profile, signed and checked directly (ed25519.ts): through a
// general JOSE library a grant cost ~0.35 ms to sign and ~0.37 ms to verify,
// against ~0.07 and ~0.17 ms with node:crypto, on every templated or scripted
// request.
const HEADER = Buffer.from(JSON.stringify({ alg: GRANT_ALG, typ: GRANT_TYP })).toString("base64url");
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const DIGEST_BYTES = 32;

// One-shot: ~1 µs less per grant than a Hash object.
const digestOf = (claims: Buffer): Buffer => crypto.hash("sha256", claims, "buffer");

/** Signs up to GRANT_BATCH_MAX grants with one signature; one token per grant, in order. */
export function signGrants(claims: readonly GrantClaims[], privateKey: KeyObject): string[] {
  if (claims.length === 0 || claims.length > GRANT_BATCH_MAX) throw new RangeError(`a grant batch holds 1..${GRANT_BATCH_MAX} grants`);
  const encoded = claims.map((c) => Buffer.from(GrantClaims.encode(c).finish()));
  const signingInput = `${HEADER}.${Buffer.concat(encoded.map(digestOf)).toString("base64url")}`;
  const signed = `${signingInput}.${ed25519.sign(Buffer.from(signingInput), privateKey).toString("base64url")}`;
  return encoded.map((c) => `${signed}.${c.toString("base64url")}`);
}

/** One grant signed on its own (a batch of one). */
export async function signGrant(claims: GrantClaims, privateKey: KeyObject): Promise<string> {
  return signGrants([claims], privateKey)[0]!;
}

export class GrantTokenError extends Error {
  constructor(readonly reason: "malformed" | "bad signature") {
    super(reason);
  }
}

type Header = Record<string, unknown>;

// Batches whose signature this process has checked, per verify key, with
// their protected header: the JWS itself (header, digests and signature,
// exactly as signed) is the key, so no altered part of it is ever taken as
// checked. A batch is looked up at most GRANT_BATCH_MAX times and within
// seconds of its signing; the oldest entries go first.
const CHECKED_BATCHES_MAX = 512;
const checkedBatches = new WeakMap<KeyObject, Map<string, Header>>();

function noteChecked(publicKey: KeyObject, jws: string, header: Header): void {
  let checked = checkedBatches.get(publicKey);
  if (checked === undefined) {
    checked = new Map();
    checkedBatches.set(publicKey, checked);
  }
  if (checked.size >= CHECKED_BATCHES_MAX) checked.delete(checked.keys().next().value!);
  checked.set(jws, header);
}

/**
 * Checks a grant and returns its batch's protected header and its own claims
 * (still encoded). Only what this format uses is accepted: four base64url
 * parts, alg EdDSA, no `crit` and no unencoded payload, 1..GRANT_BATCH_MAX
 * digests, the claims' own among them. Throws GrantTokenError.
 */
export function openGrantToken(token: string, publicKey: KeyObject): { header: Header; payload: Buffer } {
  const parts = token.split(".");
  if (parts.length !== 4 || !parts.every((p) => p.length > 0 && BASE64URL.test(p))) throw new GrantTokenError("malformed");
  const [h, d, sig, c] = parts as [string, string, string, string];
  const jws = token.slice(0, token.length - c.length - 1);
  const checked = checkedBatches.get(publicKey)?.get(jws);
  const header = checked ?? parseHeader(h);
  const digests = Buffer.from(d, "base64url");
  if (digests.length === 0 || digests.length % DIGEST_BYTES !== 0 || digests.length > GRANT_BATCH_MAX * DIGEST_BYTES) {
    throw new GrantTokenError("malformed");
  }
  const payload = Buffer.from(c, "base64url");
  const own = digestOf(payload);
  let listed = false;
  for (let at = 0; at < digests.length && !listed; at += DIGEST_BYTES) listed = own.equals(digests.subarray(at, at + DIGEST_BYTES));
  // Claims the signature does not cover are as good as unsigned.
  if (!listed) throw new GrantTokenError("bad signature");
  if (checked === undefined) {
    let valid: boolean;
    try {
      valid = ed25519.verify(Buffer.from(`${h}.${d}`), publicKey, Buffer.from(sig, "base64url"));
    } catch {
      valid = false;
    }
    if (!valid) throw new GrantTokenError("bad signature");
    noteChecked(publicKey, jws, header);
  }
  return { header, payload };
}

function parseHeader(h: string): Header {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  } catch {
    throw new GrantTokenError("malformed");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new GrantTokenError("malformed");
  const hd = header as Header;
  if (hd.alg !== GRANT_ALG || "crit" in hd || "b64" in hd) throw new GrantTokenError("malformed");
  return hd;
}

/** Decodes the payload of a token whose signature has already been verified. */
export function decodeGrant(payload: Uint8Array): GrantClaims {
  return GrantClaims.decode(payload);
}

/**
 * Reads the gateway's signing key (PKCS#8) or the broker's verify key (SPKI)
 * from a PEM file. Anything else stops start-up: in particular a private key
 * given as the verify key is refused, so the broker never holds what mints grants.
 */
export function readGrantKey(variable: string, file: string, kind: "private" | "public"): KeyObject {
  let pem: string;
  try {
    pem = fs.readFileSync(file, "utf8");
  } catch {
    throw new ConfigError([`${variable}: cannot read ${file}`]);
  }
  const label = kind === "private" ? "PRIVATE KEY" : "PUBLIC KEY";
  const expected = kind === "private" ? "an Ed25519 private key (PKCS#8 PEM)" : "an Ed25519 public key (SPKI PEM)";
  let key: KeyObject | undefined;
  const holdsPrivate = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem);
  if (new RegExp(`^-----BEGIN ${label}-----\\r?$`, "m").test(pem) && (kind === "private" || !holdsPrivate)) {
    try {
      key = kind === "private" ? crypto.createPrivateKey(pem) : crypto.createPublicKey(pem);
    } catch {
      key = undefined;
    }
  }
  if (key?.asymmetricKeyType !== "ed25519") throw new ConfigError([`${variable}: ${file} is not ${expected}`]);
  return key;
}
