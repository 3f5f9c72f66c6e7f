import crypto from "node:crypto";

export const API_KEY_PREFIX = "su_ak_";
const API_KEY_RE = /^su_ak_[0-9a-f]{64}$/;

export function newApiKeyToken(): string {
  return API_KEY_PREFIX + crypto.randomBytes(32).toString("hex");
}

export function isApiKeyToken(token: string): boolean {
  return API_KEY_RE.test(token);
}

export function hashToken(token: string): Buffer {
  return crypto.createHash("sha256").update(token, "utf8").digest();
}

/** Constant-time comparison of two secrets of any length (compares their hashes). */
export function sameSecret(a: string, b: string): boolean {
  return crypto.timingSafeEqual(hashToken(a), hashToken(b));
}
