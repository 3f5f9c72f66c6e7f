import crypto from "node:crypto";
import type { KeyRing } from "./keyring.js";

/** The immutable ids a sealed value is bound to. */
export interface SealIds {
  userId: string;
  secretId: string;
  version: number;
}

export interface WrappedKey {
  masterKeyId: string;
  wrappedKey: Buffer;
  keyNonce: Buffer;
  keyTag: Buffer;
}

export interface Sealed extends WrappedKey {
  ciphertext: Buffer;
  nonce: Buffer;
  tag: Buffer;
}

/** Authentication failed: wrong key, tampered bytes, or a row moved to other ids. */
export class OpenError extends Error {
  override name = "OpenError";
}

const ALG = "aes-256-gcm";

// NUL-separated: none of the parts (uuids, integers, key ids) can contain NUL,
// so two different id tuples never produce the same AAD.
const valueAad = (ids: SealIds) => Buffer.from(`secutils/value/1\0${ids.userId}\0${ids.secretId}\0${ids.version}`);
const keyAad = (ids: SealIds, masterKeyId: string) =>
  Buffer.from(`secutils/data-key/1\0${ids.userId}\0${ids.secretId}\0${ids.version}\0${masterKeyId}`);

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer, nonce: Buffer = crypto.randomBytes(12)) {
  const cipher = crypto.createCipheriv(ALG, key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, nonce, tag: cipher.getAuthTag() };
}

function gcmOpen(key: Buffer, ciphertext: Buffer, nonce: Buffer, tag: Buffer, aad: Buffer): Buffer {
  if (nonce.length !== 12 || tag.length !== 16) throw new OpenError("malformed nonce or tag");
  try {
    const decipher = crypto.createDecipheriv(ALG, key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new OpenError("authentication failed");
  }
}

function masterKey(ring: KeyRing, id: string): Buffer {
  const key = ring.key(id);
  if (!key) throw new OpenError(`master key ${id} is not in the key ring`);
  return key;
}

/** Seals a value under a fresh data key, wrapped under the active master key. */
export function seal(ring: KeyRing, ids: SealIds, plaintext: Buffer): Sealed {
  // One call to the CSPRNG for the data key and both nonces: each call has a
  // fixed cost that dominates sealing small values.
  const random = crypto.randomBytes(32 + 12 + 12);
  const dataKey = random.subarray(0, 32);
  try {
    const value = gcmSeal(dataKey, plaintext, valueAad(ids), Buffer.from(random.subarray(32, 44)));
    return { ...value, ...wrap(ring, ids, dataKey, Buffer.from(random.subarray(44, 56))) };
  } finally {
    random.fill(0);
  }
}

export function open(ring: KeyRing, ids: SealIds, sealed: Sealed): Buffer {
  const dataKey = unwrap(ring, ids, sealed);
  try {
    return gcmOpen(dataKey, sealed.ciphertext, sealed.nonce, sealed.tag, valueAad(ids));
  } finally {
    dataKey.fill(0);
  }
}

/** Moves a data key to the active master key; the value ciphertext is untouched. */
export function rewrap(ring: KeyRing, ids: SealIds, current: WrappedKey): WrappedKey {
  const dataKey = unwrap(ring, ids, current);
  try {
    return wrap(ring, ids, dataKey);
  } finally {
    dataKey.fill(0);
  }
}

function wrap(ring: KeyRing, ids: SealIds, dataKey: Buffer, nonce?: Buffer): WrappedKey {
  const w = gcmSeal(masterKey(ring, ring.activeId), dataKey, keyAad(ids, ring.activeId), nonce);
  return { masterKeyId: ring.activeId, wrappedKey: w.ciphertext, keyNonce: w.nonce, keyTag: w.tag };
}

function unwrap(ring: KeyRing, ids: SealIds, w: WrappedKey): Buffer {
  const key = masterKey(ring, w.masterKeyId);
  const dataKey = gcmOpen(key, w.wrappedKey, w.keyNonce, w.keyTag, keyAad(ids, w.masterKeyId));
  if (dataKey.length !== 32) throw new OpenError("malformed data key");
  return dataKey;
}

const CHECK_TEXT = Buffer.from("secutils master key check");
const checkAad = (keyId: string) => Buffer.from(`secutils/key-check/1\0${keyId}`);

export function sealKeyCheck(key: Buffer, keyId: string) {
  const s = gcmSeal(key, CHECK_TEXT, checkAad(keyId));
  return { nonce: s.nonce, sealed: s.ciphertext, tag: s.tag };
}

export function keyCheckHolds(key: Buffer, keyId: string, c: { nonce: Buffer; sealed: Buffer; tag: Buffer }): boolean {
  try {
    return gcmOpen(key, c.sealed, c.nonce, c.tag, checkAad(keyId)).equals(CHECK_TEXT);
  } catch {
    return false;
  }
}
