// Ed25519 signatures for grants: the gateway signs one and the sandbox or the
// broker verifies it on every templated or scripted request. libsodium
// (sodium-native, prebuilt for each platform in its npm package, loaded
// without an install script) signs in ~16 µs and verifies in ~43 µs here,
// against ~29 and ~74 µs with node:crypto, which sets up an OpenSSL context
// for every call. Where the addon cannot load, node:crypto does the same
// work; Ed25519 is deterministic, so both give the same bytes
// (test/common/ed25519.test.ts).
import crypto, { type KeyObject } from "node:crypto";
import { loadSodium } from "./sodium.js";

interface Sodium {
  crypto_sign_BYTES: number;
  crypto_sign_detached(signature: Buffer, message: Buffer, secretKey: Buffer): void;
  crypto_sign_verify_detached(signature: Buffer, message: Buffer, publicKey: Buffer): boolean;
}

export type Ed25519Backend = "libsodium" | "node:crypto";

export interface Ed25519 {
  readonly backend: Ed25519Backend;
  sign(message: Buffer, privateKey: KeyObject): Buffer;
  verify(message: Buffer, publicKey: KeyObject, signature: Buffer): boolean;
}


function rawKey(key: KeyObject, part: "d" | "x"): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk[part] !== "string") throw new TypeError("not an Ed25519 key");
  return Buffer.from(jwk[part], "base64url");
}

export const nodeEd25519: Ed25519 = {
  backend: "node:crypto",
  sign: (message, privateKey) => crypto.sign(null, message, privateKey),
  verify: (message, publicKey, signature) => crypto.verify(null, message, publicKey, signature),
};

/** libsodium's, or null when the addon does not load on this platform. */
export function sodiumEd25519(): Ed25519 | null {
  const sodium = loadSodium<Sodium>();
  if (sodium === null) return null;
  // libsodium takes raw keys: the 64-byte secret key is the seed followed by
  // the public key. Exported once per key object, not per call.
  const secretKeys = new WeakMap<KeyObject, Buffer>();
  const publicKeys = new WeakMap<KeyObject, Buffer>();
  return {
    backend: "libsodium",
    sign(message, privateKey) {
      let sk = secretKeys.get(privateKey);
      if (sk === undefined) {
        sk = Buffer.concat([rawKey(privateKey, "d"), rawKey(crypto.createPublicKey(privateKey), "x")]);
        secretKeys.set(privateKey, sk);
      }
      const signature = Buffer.allocUnsafe(sodium.crypto_sign_BYTES);
      sodium.crypto_sign_detached(signature, message, sk);
      return signature;
    },
    verify(message, publicKey, signature) {
      let pk = publicKeys.get(publicKey);
      if (pk === undefined) {
        // node:crypto verifies with a private key's public half too.
        pk = rawKey(publicKey.type === "private" ? crypto.createPublicKey(publicKey) : publicKey, "x");
        publicKeys.set(publicKey, pk);
      }
      // libsodium throws on a signature of the wrong length; node:crypto answers false.
      if (signature.length !== sodium.crypto_sign_BYTES) return false;
      return sodium.crypto_sign_verify_detached(signature, message, pk);
    },
  };
}

export const ed25519: Ed25519 = sodiumEd25519() ?? nodeEd25519;
