// The execution grant's wire format, shared by the gateway (which signs) and
// the broker (which verifies): a compact JWS, alg EdDSA over Ed25519, whose
// payload is a protobuf-encoded GrantClaims. Each side holds only its half of
// the key pair.
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import { CompactSign } from "jose";
import { GrantClaims, GrantPurpose } from "../proto/gen/secutils/broker/v1/broker.js";
import { ConfigError } from "./config.js";

export const GRANT_TYP = "secutils-grant";
export const GRANT_ALG = "EdDSA";
/** The longest lifetime (expires_at - issued_at) the broker accepts. */
export const GRANT_MAX_LIFETIME_SECONDS = 600;

/** `script`: OpenSecrets for one script execution; `template`: RenderTemplates. */
export type Purpose = "script" | "template";
export const GRANT_PURPOSE: Record<Purpose, GrantPurpose> = {
  script: GrantPurpose.GRANT_PURPOSE_SCRIPT,
  template: GrantPurpose.GRANT_PURPOSE_TEMPLATE,
};

export function signGrant(claims: GrantClaims, privateKey: KeyObject): Promise<string> {
  return new CompactSign(GrantClaims.encode(claims).finish())
    .setProtectedHeader({ alg: GRANT_ALG, typ: GRANT_TYP })
    .sign(privateKey);
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
