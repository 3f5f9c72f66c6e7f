import crypto from "node:crypto";
import { compactVerify } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ed25519 } from "../../common/ed25519.js";
import { decodeGrant, GRANT_BATCH_MAX, GrantTokenError, openGrantToken, signGrants } from "../../common/grant-token.js";
import { verifyGrant } from "../../common/grant-verify.js";
import { GrantMinter } from "../../gateway/grants/mint.js";
import { GrantClaims, GrantPurpose } from "../../proto/gen/secutils/broker/v1/broker.js";

// Grants minted in one turn share one signature over their claims' digests
// (common/grant-token.ts). Each must still stand alone: its own claims and
// nothing else, whatever this process has already checked.

const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
const other = crypto.generateKeyPairSync("ed25519");

function claims(userId = crypto.randomUUID()): GrantClaims {
  const now = Math.floor(Date.now() / 1000);
  return {
    userId,
    purpose: GrantPurpose.GRANT_PURPOSE_SCRIPT,
    all: true,
    secretIds: [],
    executionId: crypto.randomUUID(),
    consumer: "responder:test",
    issuedAt: now,
    expiresAt: now + 30,
    secretsGeneration: "",
  };
}

const parts = (token: string) => token.split(".") as [string, string, string, string];

function refusal(token: string, key = publicKey): string {
  try {
    openGrantToken(token, key);
  } catch (err) {
    if (err instanceof GrantTokenError) return err.reason;
    throw err;
  }
  return "accepted";
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a batch of grants under one signature", () => {
  it("opens each grant to its own claims, and is a standard JWS over the digests", async () => {
    const batch = [claims(), claims(), claims()];
    const tokens = signGrants(batch, privateKey);
    expect(new Set(tokens.map((t) => parts(t).slice(0, 3).join("."))).size).toBe(1);
    tokens.forEach((token, i) => {
      expect(decodeGrant(openGrantToken(token, publicKey).payload)).toEqual(batch[i]);
    });
    // An independent implementation accepts the signed part as it is.
    const { payload, protectedHeader } = await compactVerify(parts(tokens[0]!).slice(0, 3).join("."), publicKey);
    expect(protectedHeader).toEqual({ alg: "EdDSA", typ: "secutils-grant" });
    const digests = batch.map((c) => crypto.createHash("sha256").update(GrantClaims.encode(c).finish()).digest());
    expect(Buffer.from(payload)).toEqual(Buffer.concat(digests));
  });

  it("checks a batch's signature once, and every grant's own digest each time", () => {
    const tokens = signGrants([claims(), claims(), claims()], privateKey);
    const verify = vi.spyOn(ed25519, "verify");
    for (const token of tokens) openGrantToken(token, publicKey);
    expect(verify).toHaveBeenCalledTimes(1);
    // With the batch checked, a grant whose claims it does not list is still refused.
    const [h, d, s] = parts(tokens[0]!);
    const foreign = Buffer.from(GrantClaims.encode(claims()).finish()).toString("base64url");
    expect(refusal(`${h}.${d}.${s}.${foreign}`)).toBe("bad signature");
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it("refuses claims moved from another batch, or changed by one bit", () => {
    const [a] = signGrants([claims()], privateKey);
    const [b] = signGrants([claims()], privateKey);
    openGrantToken(a!, publicKey);
    const [h, d, s] = parts(a!);
    expect(refusal(`${h}.${d}.${s}.${parts(b!)[3]}`)).toBe("bad signature");
    const bytes = Buffer.from(parts(a!)[3], "base64url");
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    expect(refusal(`${h}.${d}.${s}.${bytes.toString("base64url")}`)).toBe("bad signature");
  });

  it("refuses a checked batch with its digests or its signature altered", () => {
    const batch = [claims(), claims()];
    const tokens = signGrants(batch, privateKey);
    openGrantToken(tokens[0]!, publicKey);
    const [h, d, s, c] = parts(tokens[0]!);
    const digests = Buffer.from(d, "base64url");
    // One grant's digest alone, and one more digest added: neither was signed.
    expect(refusal(`${h}.${digests.subarray(0, 32).toString("base64url")}.${s}.${c}`)).toBe("bad signature");
    const more = Buffer.concat([digests, crypto.randomBytes(32)]).toString("base64url");
    expect(refusal(`${h}.${more}.${s}.${c}`)).toBe("bad signature");
    const sig = Buffer.from(s, "base64url");
    sig[0] = sig[0]! ^ 1;
    expect(refusal(`${h}.${d}.${sig.toString("base64url")}.${c}`)).toBe("bad signature");
    // Nor does a batch checked under one key count under another.
    expect(refusal(tokens[1]!, other.publicKey)).toBe("bad signature");
    expect(refusal(signGrants([claims()], other.privateKey)[0]!)).toBe("bad signature");
  });

  it("refuses what is not one grant of a batch of 1..GRANT_BATCH_MAX", () => {
    const [token] = signGrants([claims()], privateKey);
    const [h, d, s, c] = parts(token!);
    expect(refusal(`${h}.${d}.${s}`)).toBe("malformed");
    expect(refusal(`${h}.${d}.${s}.${c}.${c}`)).toBe("malformed");
    expect(refusal(`${h}.${d}.${s}.`)).toBe("malformed");
    expect(refusal(`${h}.${d}.${s}.${c}=`)).toBe("malformed");
    // Digests of the wrong length, and too many, each properly signed.
    const signed = (digests: Buffer) => {
      const input = `${h}.${digests.toString("base64url")}`;
      return `${input}.${ed25519.sign(Buffer.from(input), privateKey).toString("base64url")}.${c}`;
    };
    const own = Buffer.from(d, "base64url");
    expect(refusal(signed(Buffer.concat([own, Buffer.alloc(1)])))).toBe("malformed");
    expect(refusal(signed(Buffer.concat([own, crypto.randomBytes(32 * GRANT_BATCH_MAX)])))).toBe("malformed");
    expect(refusal(signed(Buffer.concat([own, crypto.randomBytes(32 * (GRANT_BATCH_MAX - 1))])))).toBe("accepted");
    expect(() => signGrants([], privateKey)).toThrow(RangeError);
    expect(() => signGrants(Array.from({ length: GRANT_BATCH_MAX + 1 }, () => claims()), privateKey)).toThrow(RangeError);
  });
});

describe("the gateway's minter", () => {
  const minter = new GrantMinter(privateKey);
  const mint = (userId: string) => minter.mint({ userId, purpose: "script", access: "all", consumer: "responder:test" });
  const signature = (token: string) => parts(token)[2];

  it("signs the grants of one turn together, and each verifies for its own user only", async () => {
    const users = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const minted = await Promise.all(users.map(mint));
    expect(new Set(minted.map((m) => signature(m.token))).size).toBe(1);
    for (const [i, m] of minted.entries()) {
      const c = await verifyGrant(publicKey, m.token, { purpose: "script", caller: "sandbox", userId: users[i]! });
      expect(c.executionId).toBe(m.executionId);
      await expect(verifyGrant(publicKey, m.token, { purpose: "script", caller: "sandbox", userId: users[(i + 1) % 3]! })).rejects.toThrow(
        "grant refused: wrong user",
      );
    }
  });

  it("signs a later turn's grants apart, and a crowded turn GRANT_BATCH_MAX at a time", async () => {
    const userId = crypto.randomUUID();
    const first = await mint(userId);
    const second = await mint(userId);
    expect(signature(first.token)).not.toBe(signature(second.token));
    const crowd = await Promise.all(Array.from({ length: GRANT_BATCH_MAX + 4 }, () => mint(userId)));
    const signatures = crowd.map((m) => signature(m.token));
    expect(new Set(signatures.slice(0, GRANT_BATCH_MAX)).size).toBe(1);
    expect(new Set(signatures.slice(GRANT_BATCH_MAX)).size).toBe(1);
    expect(signatures[0]).not.toBe(signatures[GRANT_BATCH_MAX]);
    for (const m of crowd) expect(decodeGrant(openGrantToken(m.token, publicKey).payload).executionId).toBe(m.executionId);
  });
});
