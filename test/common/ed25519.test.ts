import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { ed25519, nodeEd25519, sodiumEd25519 } from "../../common/ed25519.js";

// Grants are signed and verified through libsodium where its addon loads, and
// through node:crypto otherwise (common/ed25519.ts). Both must be the same
// Ed25519: the same signature for the same key and message, and the same
// refusals.

const sodium = sodiumEd25519();
const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
const other = crypto.generateKeyPairSync("ed25519");
const message = Buffer.from("eyJhbGciOiJFZERTQSJ9.CiQ3ZjM5");

describe("Ed25519 for grants", () => {
  it("loads libsodium on this machine, and uses it", () => {
    // CI runs on linux-x64, for which sodium-native ships a prebuilt addon;
    // a fallback here would silently measure the slower path.
    expect(sodium?.backend).toBe("libsodium");
    expect(ed25519.backend).toBe("libsodium");
  });

  it("gives node:crypto's signature, byte for byte", () => {
    for (const m of [message, Buffer.alloc(0), crypto.randomBytes(4096)]) {
      const signature = sodium!.sign(m, privateKey);
      expect(signature).toEqual(nodeEd25519.sign(m, privateKey));
      expect(nodeEd25519.verify(m, publicKey, signature)).toBe(true);
    }
  });

  for (const impl of [nodeEd25519, sodium!]) {
    describe(impl.backend, () => {
      const signature = impl.sign(message, privateKey);

      it("verifies its own signature and the other backend's", () => {
        expect(impl.verify(message, publicKey, signature)).toBe(true);
        const theirs = (impl === nodeEd25519 ? sodium! : nodeEd25519).sign(message, privateKey);
        expect(impl.verify(message, publicKey, theirs)).toBe(true);
      });

      it("refuses another key, another message, a changed or cut signature", () => {
        expect(impl.verify(message, other.publicKey, signature)).toBe(false);
        expect(impl.verify(Buffer.from(`${message.toString()}x`), publicKey, signature)).toBe(false);
        for (const i of [0, 31, 32, 63]) {
          const changed = Buffer.from(signature);
          changed[i]! ^= 1;
          expect(impl.verify(message, publicKey, changed)).toBe(false);
        }
        expect(impl.verify(message, publicKey, signature.subarray(0, 63))).toBe(false);
        expect(impl.verify(message, publicKey, Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
        expect(impl.verify(message, publicKey, Buffer.alloc(0))).toBe(false);
      });

      it("keeps each key's own raw form (two keys, one process)", () => {
        const second = impl.sign(message, other.privateKey);
        expect(impl.verify(message, other.publicKey, second)).toBe(true);
        expect(impl.verify(message, publicKey, second)).toBe(false);
        expect(impl.sign(message, privateKey)).toEqual(signature);
      });

      it("will not sign with a public key", () => {
        expect(() => impl.sign(message, publicKey)).toThrow();
      });
    });
  }
});
