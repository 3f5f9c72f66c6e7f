import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { open, OpenError, rewrap, seal, type Sealed } from "../../broker/keyring/envelope.js";
import { KeyRingError, parseKeyRing } from "../../broker/keyring/keyring.js";

const b64 = (n: number) => crypto.randomBytes(n).toString("base64");
const ring1 = parseKeyRing(JSON.stringify({ active: "k1", keys: { k1: b64(32) } }));
const ids = { userId: crypto.randomUUID(), secretId: crypto.randomUUID(), version: 1 };

describe("key ring configuration", () => {
  it.each([
    ["", /not valid JSON/],
    ["{}", /has no keys/],
    ['{"active":"k1","keys":{}}', /has no keys/],
    [JSON.stringify({ active: "k1", keys: { k1: b64(31) } }), /must decode to 32 bytes, got 31/],
    [JSON.stringify({ active: "k1", keys: { k1: b64(33) } }), /must decode to 32 bytes, got 33/],
    [JSON.stringify({ active: "k1", keys: { k1: "not base64!" } }), /is not base64/],
    [JSON.stringify({ active: "k2", keys: { k1: b64(32) } }), /active master key k2 is not in the key ring/],
    [JSON.stringify({ keys: { k1: b64(32) } }), /no "active" key id/],
    [JSON.stringify({ active: "bad id", keys: { "bad id": b64(32) } }), /id "bad id" is invalid/],
  ])("refuses %j", (text, message) => {
    expect(() => parseKeyRing(text)).toThrow(KeyRingError);
    expect(() => parseKeyRing(text)).toThrow(message);
  });

  it("never puts key material in its messages", () => {
    const key = b64(31);
    try {
      parseKeyRing(JSON.stringify({ active: "k1", keys: { k1: key } }));
    } catch (err) {
      expect((err as Error).message).not.toContain(key);
    }
  });
});

describe("envelope encryption", () => {
  it.each([32, 1024, 10_240])("round-trips %i bytes, ciphertext as long as the plaintext", (n) => {
    const value = crypto.randomBytes(n);
    const sealed = seal(ring1, ids, value);
    expect(sealed.ciphertext.length).toBe(n);
    expect(sealed.masterKeyId).toBe("k1");
    expect(open(ring1, ids, sealed).equals(value)).toBe(true);
  });

  it("uses a fresh data key and nonce for every seal", () => {
    const a = seal(ring1, ids, Buffer.from("same"));
    const b = seal(ring1, ids, Buffer.from("same"));
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
  });

  const fields = ["ciphertext", "nonce", "tag", "wrappedKey", "keyNonce", "keyTag"] as const;
  it.each(fields)("fails when one bit of %s flips", (field) => {
    const sealed = seal(ring1, ids, Buffer.from("tamper me"));
    const copy: Sealed = { ...sealed, [field]: Buffer.from(sealed[field]) };
    copy[field][0]! ^= 0x01;
    expect(() => open(ring1, ids, copy)).toThrow(OpenError);
  });

  it.each([
    ["another user", { ...ids, userId: crypto.randomUUID() }],
    ["another secret", { ...ids, secretId: crypto.randomUUID() }],
    ["another version", { ...ids, version: 2 }],
  ])("fails when the row is moved to %s", (_what, moved) => {
    const sealed = seal(ring1, ids, Buffer.from("bound"));
    expect(() => open(ring1, moved, sealed)).toThrow(OpenError);
  });

  it("fails under a different key with the same id, and names the missing key id", () => {
    const sealed = seal(ring1, ids, Buffer.from("v"));
    const impostor = parseKeyRing(JSON.stringify({ active: "k1", keys: { k1: b64(32) } }));
    expect(() => open(impostor, ids, sealed)).toThrow(OpenError);
    const other = parseKeyRing(JSON.stringify({ active: "k9", keys: { k9: b64(32) } }));
    expect(() => open(other, ids, sealed)).toThrow(/master key k1 is not in the key ring/);
  });

  it("rewrap moves the data key to the active key and leaves the value ciphertext alone", () => {
    const keys = { k1: b64(32), k2: b64(32) };
    const old = parseKeyRing(JSON.stringify({ active: "k1", keys }));
    const next = parseKeyRing(JSON.stringify({ active: "k2", keys }));
    const sealed = seal(old, ids, Buffer.from("value"));
    const moved = { ...sealed, ...rewrap(next, ids, sealed) };
    expect(moved.masterKeyId).toBe("k2");
    expect(moved.ciphertext.equals(sealed.ciphertext)).toBe(true);
    expect(open(parseKeyRing(JSON.stringify({ active: "k2", keys: { k2: keys.k2 } })), ids, moved).toString()).toBe("value");
    // The wrapped key is bound to its master key id: relabelling it fails.
    expect(() => open(next, ids, { ...moved, masterKeyId: "k1" })).toThrow(OpenError);
  });
});
