import { describe, expect, it } from "vitest";
import { GrantPurpose, type GrantClaims } from "../../proto/gen/secutils/broker/v1/broker.js";
import { ReleasedSecretsCache, SpentGrants } from "../../sandbox/broker/released-cache.js";

// The bounds of the sandbox's cache of released secrets, on a clock of our own.
const claims = (over: Partial<GrantClaims> = {}): GrantClaims => ({
  userId: "0b1e6c2e-51f5-4f0e-9d2a-9f3d1c1c1c1c",
  purpose: GrantPurpose.GRANT_PURPOSE_SCRIPT,
  all: false,
  secretIds: ["b", "a"],
  executionId: "e1",
  consumer: "responder:x",
  issuedAt: 1,
  expiresAt: 31,
  secretsGeneration: "inst.0.3",
  ...over,
});

describe("ReleasedSecretsCache", () => {
  it("keys by user, generation and the exact secrets; a grant without a generation is not cacheable", () => {
    const key = ReleasedSecretsCache.keyOf(claims())!;
    expect(ReleasedSecretsCache.keyOf(claims({ secretIds: ["a", "b"] }))).toBe(key);
    expect(ReleasedSecretsCache.keyOf(claims({ secretIds: ["a"] }))).not.toBe(key);
    expect(ReleasedSecretsCache.keyOf(claims({ all: true, secretIds: [] }))).not.toBe(key);
    expect(ReleasedSecretsCache.keyOf(claims({ secretsGeneration: "inst.0.4" }))).not.toBe(key);
    expect(ReleasedSecretsCache.keyOf(claims({ userId: "1b1e6c2e-51f5-4f0e-9d2a-9f3d1c1c1c1c" }))).not.toBe(key);
    expect(ReleasedSecretsCache.keyOf(claims({ secretsGeneration: "" }))).toBeUndefined();
  });

  it("forgets an entry at its age limit", () => {
    let now = 1000;
    const c = new ReleasedSecretsCache({ maxBytes: 1 << 20, ttlMs: 60_000, now: () => now });
    c.set("k", '{"A":"1"}');
    now += 59_999;
    expect(c.get("k")).toBe('{"A":"1"}');
    now += 1;
    expect(c.get("k")).toBeUndefined();
  });

  it("drops entries past their age on the next use, even under keys never asked for again", () => {
    let now = 1000;
    const c = new ReleasedSecretsCache({ maxBytes: 1 << 20, ttlMs: 60_000, now: () => now });
    c.set("u\n1\n*", '{"A":"1"}');
    now += 30_000;
    c.set("u\n2\n*", '{"A":"2"}');
    expect(c.size).toBe(2);
    now += 30_000;
    // The first entry's age is up; its key (an old generation) is never read again.
    c.set("u\n3\n*", '{"A":"3"}');
    expect(c.size).toBe(2);
    now += 30_000;
    expect(c.get("u\n3\n*")).toBe('{"A":"3"}');
    expect(c.size).toBe(1);
  });

  it("keeps within its bytes, oldest out first, and refuses an entry above a quarter of them", () => {
    const c = new ReleasedSecretsCache({ maxBytes: 4096, ttlMs: 60_000 });
    const value = "x".repeat(400); // ~870 bytes with its key and bookkeeping
    for (let i = 0; i < 6; i++) c.set(`k${i}`, value);
    expect(c.size).toBe(4);
    expect(c.get("k0")).toBeUndefined();
    expect(c.get("k1")).toBeUndefined();
    expect(c.get("k5")).toBe(value);
    c.set("big", "y".repeat(1024));
    expect(c.get("big")).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
  });
});

describe("SpentGrants", () => {
  it("accepts an execution id once until it expires, and forgets it after", () => {
    let now = 0;
    const spent = new SpentGrants(() => now);
    expect(spent.spend("e1", 10_000)).toBe(true);
    expect(spent.spend("e1", 10_000)).toBe(false);
    expect(spent.spend("e2", 10_000)).toBe(true);
    now = 10_001;
    expect(spent.spend("e1", 20_000)).toBe(true);
  });
});
