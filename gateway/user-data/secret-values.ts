import crypto from "node:crypto";
import { VALUE_MAX_BYTES } from "../../common/secret-rules.js";
import { DomainError, invalid } from "../../common/errors.js";
import { loadSodium } from "../../common/sodium.js";
import type { KeyDerivations } from "./key-derivations.js";
import type { DocumentItem } from "./schemas.js";

// Secret values in a document exported by the reference with a passphrase:
// each value AES-256-GCM encrypted (base64 of nonce || ciphertext || tag) under
// one key derived from the passphrase with Argon2id (v1.3, 19,456 KiB, two
// passes, one lane, a 16-byte salt in the document). Importing them is a
// write, as a POST of a value is; no export of this system ever carries a
// value. Argon2id comes from libsodium (sodium-native), which Node 20's
// crypto lacks; it runs on libuv's pool, off the event loop.

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
/** The reference's parameters, the only ones its exports use (it derives with these whatever the document says). */
export const KDF = { m: 19_456, t: 2, p: 1 } as const;

interface Sodium {
  crypto_pwhash_ALG_ARGON2ID13: number;
  crypto_pwhash_async(out: Buffer, passwd: Buffer, salt: Buffer, opslimit: number, memlimit: number, alg: number, callback: (err: Error | null) => void): void;
}


/** The 32-byte key of a passphrase and salt, as the reference derives it. */
export function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  const s = loadSodium<Sodium>();
  if (!s) return Promise.reject(new DomainError("unavailable", "this gateway cannot derive keys from passphrases (libsodium did not load)"));
  const key = Buffer.alloc(32);
  return new Promise((resolve, reject) =>
    s.crypto_pwhash_async(key, Buffer.from(passphrase, "utf8"), salt, KDF.t, KDF.m * 1024, s.crypto_pwhash_ALG_ARGON2ID13, (err) => (err ? reject(err) : resolve(key))),
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The salt of a document's `secretsEncryption`, refusing any scheme but the reference's. */
function saltOf(meta: unknown): Buffer {
  if (!isObject(meta) || meta.alg !== "aes-256-gcm" || meta.kdf !== "argon2id" || typeof meta.salt !== "string") {
    throw invalid('secretsEncryption must be {alg: "aes-256-gcm", kdf: "argon2id", kdfParams, salt}, as the reference writes it');
  }
  const params = meta.kdfParams;
  if (params !== undefined && (!isObject(params) || params.m !== KDF.m || params.t !== KDF.t || params.p !== KDF.p)) {
    throw invalid(`secretsEncryption.kdfParams must be {m: ${KDF.m}, t: ${KDF.t}, p: ${KDF.p}}, the reference's`);
  }
  const salt = Buffer.from(meta.salt, "base64");
  if (salt.length !== SALT_BYTES) throw invalid(`secretsEncryption.salt must be ${SALT_BYTES} bytes in base64`);
  return salt;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function open(key: Buffer, encrypted: string, name: string): string {
  const data = Buffer.from(encrypted, "base64");
  const refused = invalid(`secret '${name}': the passphrase does not open its value, or the value was altered; nothing was imported`);
  if (data.length < NONCE_BYTES + TAG_BYTES) throw refused;
  let plain: Buffer;
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, data.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw refused;
  }
  // The value's own rules, checked here so that a bad one stops the import before anything is written.
  if (plain.length === 0 || plain.length > VALUE_MAX_BYTES) throw invalid(`secret '${name}': its value must be 1-${VALUE_MAX_BYTES} bytes`);
  try {
    return utf8.decode(plain);
  } catch {
    throw invalid(`secret '${name}': its value is not UTF-8 text`);
  }
}

/** Whether a document carries encrypted values at all. */
export function carriesValues(encryption: unknown, secrets: readonly DocumentItem[]): boolean {
  return (encryption !== undefined && encryption !== null) || secrets.some((s) => s.encryptedValue !== undefined && s.encryptedValue !== null);
}

/**
 * Every encrypted value of the document's secrets, by position, opened with
 * the passphrase; any that will not open refuses the whole import (400) and
 * none is kept. Errors name the secret, never a value. The derivation runs
 * within `derivations`' bounds for `userId` (busy past them).
 */
export async function openValues(
  derivations: KeyDerivations,
  userId: string,
  encryption: unknown,
  secrets: readonly DocumentItem[],
  passphrase: string | null | undefined,
): Promise<Map<number, string>> {
  const values = new Map<number, string>();
  if (!carriesValues(encryption, secrets)) return values;
  if (encryption === undefined || encryption === null) throw invalid("a secret has an encryptedValue but the document has no secretsEncryption to open it with");
  const salt = saltOf(encryption);
  if (!passphrase) throw invalid("secretsPassphrase is required: the document carries encrypted secret values");
  const key = await derivations.run(userId, () => deriveKey(passphrase, salt));
  secrets.forEach((s, i) => {
    if (s.encryptedValue === undefined || s.encryptedValue === null) return;
    if (typeof s.encryptedValue !== "string") throw invalid(`secret '${String(s.name)}': encryptedValue must be base64 text`);
    values.set(i, open(key, s.encryptedValue, String(s.name)));
  });
  return values;
}
